"""put, get, ls and rm in the user's own folder, through boto3's transfer manager."""

import hashlib
import json

import pytest

from helpers import identity, open_uploads, random_file


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def test_a_64_mib_put_and_get_keep_the_same_sha256(files, tmp_path, admin_client, stack):
    source = random_file(tmp_path / "big.bin", 64 * 1024 * 1024)
    put = files("--json", "put", source, "--key", "big/big.bin")
    assert put.returncode == 0, put.stderr
    uploaded = json.loads(put.stdout)["uploaded"][0]
    assert uploaded["size"] == 64 * 1024 * 1024 and uploaded["etag"].endswith('-8"')  # multipart: 8 MiB parts
    head = admin_client("s3").head_object(Bucket=stack["bucket"], Key=uploaded["key"], ChecksumMode="ENABLED")
    # The CRC32 of every part was checked by S3 and the composite is stored with the object.
    assert head["ChecksumCRC32"] == uploaded["checksum_crc32"] and head["ChecksumCRC32"].endswith("-8")
    get = files("get", "big/big.bin", tmp_path / "copy.bin")
    assert get.returncode == 0, get.stderr
    assert sha256(tmp_path / "copy.bin") == sha256(source)
    assert open_uploads(admin_client, stack["bucket"]) == []


def test_ls_lists_only_the_users_folder_and_rm_deletes(files, tmp_path):
    (tmp_path / "one.txt").write_text("1")
    assert files("put", tmp_path / "one.txt", "--key", "lsdir/one.txt").returncode == 0
    listing = json.loads(files("ls", "lsdir/", "--json").stdout)  # global options go after the command too
    assert [o["key"] for o in listing["objects"]] == ["lsdir/one.txt"]
    assert files("ls", "lsdir/").stdout.split()[-1] == "lsdir/one.txt"
    removed = json.loads(files("rm", "lsdir/one.txt", "--json").stdout)  # one JSON object, no text lines
    assert [item["outcome"] for item in removed["files"]] == ["deleted"] and len(removed["deleted"]) == 1
    assert json.loads(files("--json", "ls", "lsdir/").stdout)["objects"] == []
    missing = files("get", "lsdir/one.txt", tmp_path / "gone.txt")
    # S3 answers a least-privilege user's GET of a missing key with 403 AccessDenied, not 404 NoSuchKey;
    # a listing of that key's prefix, which the user may make, tells that it is missing.
    assert missing.returncode == 4 and "does not exist" in missing.stderr and len(missing.stderr.splitlines()) == 1
    assert not (tmp_path / "gone.txt").exists()


@pytest.mark.parametrize("size", [1024, 20 * 1024 * 1024], ids=["single-part", "multipart"])
def test_no_clobber_refuses_and_leaves_the_object_unchanged(files, tmp_path, admin_client, stack, size):
    first = random_file(tmp_path / "first.bin", size)
    second = random_file(tmp_path / "second.bin", size)
    key = f"clobber/{size}.bin"
    assert files("put", first, "--key", key).returncode == 0
    refused = files("put", second, "--key", key, "--no-clobber")
    assert refused.returncode == 4 and "already exists" in refused.stderr and "--no-clobber" in refused.stderr
    assert files("get", key, tmp_path / "back.bin").returncode == 0
    assert sha256(tmp_path / "back.bin") == sha256(first)
    assert open_uploads(admin_client, stack["bucket"]) == []
    fresh = files("put", second, "--key", key + ".new", "--no-clobber")
    assert fresh.returncode == 0, fresh.stderr


@pytest.mark.parametrize("args", [
    ["put", "{file}", "--key", "../escape.txt"],
    ["put", "{file}", "--key", "/abs.txt"],
    ["put", "{file}", "--key", "a/../../escape.txt"],
    ["get", "../other/file.txt"],
    ["rm", "a/../../x"],
    ["ls", "../"],
    ["put", "{file}", "--key", "s3://elsewhere/us-east-1:00000000-0000-0000-0000-000000000000/x"],
])
def test_keys_that_leave_the_folder_are_refused_before_any_request(cli, user_config, tmp_path, request_log, args):
    (tmp_path / "f.txt").write_text("x")
    args = [a.replace("{file}", str(tmp_path / "f.txt")) for a in args]
    result = cli("--config", user_config(), "--no-cache", *args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert request_log.entries() == []


def test_an_s3_uri_naming_another_users_folder_is_refused(files, tmp_path, stack, request_log):
    me = identity(files)
    (tmp_path / "f.txt").write_text("x")
    request_log.clear()
    other = f"s3://{stack['bucket']}/us-east-1:00000000-0000-0000-0000-000000000000/x.txt"
    result = files("put", tmp_path / "f.txt", "--key", other)
    assert result.returncode == 2 and "outside your folder" in result.stderr
    assert request_log.operations("s3") == []
    mine = files("put", tmp_path / "f.txt", "--key", f"s3://{stack['bucket']}/{me}/uri.txt")
    assert mine.returncode == 0, mine.stderr


def test_a_failed_multipart_upload_is_aborted_and_a_retry_succeeds(files, tmp_path, faults, admin_client, stack):
    source = random_file(tmp_path / "mp.bin", 48 * 1024 * 1024)
    identity(files)  # sign in first, so the fault only meets the upload
    faults.add("UploadPart", skip=2, times=1000, status=500, code="InternalError")
    failed = files("put", source, "--key", "mp/mp.bin")
    assert failed.returncode == 4, failed.stderr
    assert len(failed.stderr.splitlines()) == 1 and "Traceback" not in failed.stderr
    faults.clear()
    assert json.loads(files("--json", "ls", "mp/").stdout)["objects"] == []
    assert open_uploads(admin_client, stack["bucket"]) == []
    retry = files("put", source, "--key", "mp/mp.bin")
    assert retry.returncode == 0, retry.stderr
    assert files("get", "mp/mp.bin", tmp_path / "mp.back").returncode == 0
    assert sha256(tmp_path / "mp.back") == sha256(source)


def test_a_failed_download_leaves_no_partial_file(files, tmp_path, faults):
    random_file(tmp_path / "dl.bin", 1024 * 1024)
    assert files("put", tmp_path / "dl.bin", "--key", "dl/dl.bin").returncode == 0
    target = tmp_path / "out"
    target.mkdir()
    faults.add("GetObject", times=1000, status=500, code="InternalError")
    failed = files("get", "dl/dl.bin", target)
    assert failed.returncode == 4, failed.stderr
    assert list(target.iterdir()) == []


def test_many_small_files_upload_recursively(files, tmp_path, request_log):
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(60):
        (folder / f"f{index:03}.txt").write_text(f"file {index}\n")
    identity(files)
    request_log.clear()
    result = files("--json", "put", folder, "--recursive", "--key", "many")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["uploaded"]) == 60
    assert request_log.operations("s3").count("PutObject") == 60
    listed = json.loads(files("--json", "ls", "many/").stdout)["objects"]
    assert sorted(o["key"] for o in listed) == [f"many/f{i:03}.txt" for i in range(60)]


def test_no_progress_bar_when_output_is_piped(files, tmp_path):
    random_file(tmp_path / "p.bin", 2 * 1024 * 1024)
    result = files("put", tmp_path / "p.bin", "--key", "p.bin")
    assert result.returncode == 0 and result.stderr == ""


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_an_interrupted_upload_is_aborted(files, user_config, tmp_path, request_log, faults, admin_client, stack,
                                          signame):
    import signal
    import subprocess
    import time

    from helpers import TOOL_COMMAND, user_env

    source = random_file(tmp_path / "slow.bin", 32 * 1024 * 1024)
    identity(files)
    # Parts after the first are held back, so the signal surely lands mid-upload.
    faults.add("UploadPart", skip=1, times=1000, action="delay", delay_ms=3000)
    request_log.clear()
    key = f"slow/{signame}.bin"
    # A shell's background job (CI may be one) inherits SIGINT ignored; a user's terminal doesn't.
    proc = subprocess.Popen([*TOOL_COMMAND, "--config", str(user_config()), "put", str(source),
                             "--key", key], env=user_env(tmp_path), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while "UploadPart" not in request_log.operations("s3") and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=60)
    faults.clear()
    assert proc.returncode == 130, f"the upload was not interrupted: {proc.returncode} {err}"
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert open_uploads(admin_client, stack["bucket"]) == []
    assert key not in [o["key"] for o in json.loads(files("--json", "ls", "slow/").stdout)["objects"]]


def test_parallel_no_clobber_puts_of_one_key_store_exactly_one(files, user_config, tmp_path, admin_client, stack):
    import subprocess

    from helpers import TOOL_COMMAND, user_env

    sources = [random_file(tmp_path / f"racer{i}.bin", 17 * 1024 * 1024) for i in range(4)]  # multipart: 3 parts
    identity(files)  # sign in once; the racers share the cached session
    key = "race/one.bin"
    racers = [subprocess.Popen([*TOOL_COMMAND, "--config", str(user_config()), "put", str(source),
                                "--key", key, "--no-clobber"], env=user_env(tmp_path), cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for source in sources]
    results = [(proc.returncode, err) for proc in racers for _, err in [proc.communicate(timeout=300)]]
    winners = [i for i, (code, _) in enumerate(results) if code == 0]
    assert len(winners) == 1, results
    assert all(code == 4 and "already exists" in err for code, err in results if code != 0), results
    assert files("get", key, tmp_path / "back.bin").returncode == 0
    assert sha256(tmp_path / "back.bin") == sha256(sources[winners[0]])
    assert open_uploads(admin_client, stack["bucket"]) == []
