"""put and get tried hard: files that aren't files, files that change, interrupts, per-file outcomes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import PASSWORDS, SUB, TOOL, least_privilege, user_env, write_config
from test_files import identity, open_uploads, random_file
from test_policy_mistakes import user_config as stack_config


@pytest.fixture
def files(cli, user_config):
    """files(*args) runs a file command as alice, with her session cached after the first call."""
    config = user_config()

    def run(*args, **kwargs):
        return cli("--config", config, *args, **kwargs)
    run.config = config
    return run


@pytest.fixture
def start(files, tmp_path):
    """start(*args): alice's tool as a background process, as a user's terminal runs it (SIGINT not
    ignored); killed at the end of the test if it is still running."""
    started = []

    def launch(*args):
        started.append(subprocess.Popen(
            [sys.executable, str(TOOL), "--config", str(files.config), *map(str, args)], env=user_env(tmp_path),
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)))
        return started[-1]
    yield launch
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def wait_for(request_log, operation, proc):
    """Wait until local_aws has received operation (or the process ended)."""
    deadline = time.monotonic() + 60
    while operation not in request_log.operations("s3") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert operation in request_log.operations("s3"), proc.communicate(timeout=60)


# ---------------------------------------------------------------- things that are not regular files

def test_put_refuses_a_fifo_without_reading_it(files, tmp_path, request_log):
    os.mkfifo(tmp_path / "pipe")
    result = files("--no-cache", "put", tmp_path / "pipe", timeout=60)
    assert result.returncode == 2, result.stderr
    assert "pipe is a FIFO (named pipe), not a regular file" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and request_log.entries() == []


def test_put_refuses_a_device(files, request_log):
    result = files("--no-cache", "put", "/dev/zero", timeout=60)
    assert result.returncode == 2 and "/dev/zero is a character device" in result.stderr, result.stderr
    assert request_log.entries() == []


def test_put_recursive_refuses_a_tree_holding_a_fifo_or_a_socket_before_any_upload(files, tmp_path, request_log):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    os.mkfifo(tree / "sub" / "pipe")
    result = files("--no-cache", "put", tree, "--recursive", timeout=60)
    assert result.returncode == 2 and f"{tree / 'sub' / 'pipe'} is a FIFO" in result.stderr, result.stderr
    os.unlink(tree / "sub" / "pipe")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tree / "sock"))
        result = files("--no-cache", "put", tree, "--recursive", timeout=60)
    assert result.returncode == 2 and f"{tree / 'sock'} is a socket" in result.stderr, result.stderr
    assert request_log.entries() == []


def test_run_refuses_an_upload_file_that_is_a_fifo_before_signing_in(files, tmp_path, request_log):
    os.mkfifo(tmp_path / "pipe")
    result = files("--no-cache", "run", "--upload-file", tmp_path / "pipe", timeout=60)
    assert result.returncode == 2 and "FIFO" in result.stderr, result.stderr
    assert request_log.entries() == []


# ---------------------------------------------------------------- interrupts

@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_an_interrupt_during_a_stalled_put_object_ends_at_once_and_says_it_may_be_stored(
        start, files, tmp_path, request_log, faults, signame):
    source = tmp_path / "small.txt"
    source.write_text("small\n")
    identity(files)
    # The server holds the request far longer than this test waits for the tool to end.
    faults.add("PutObject", times=1, action="delay", delay_ms=90_000)
    request_log.clear()
    proc = start("put", source, "--key", f"stall/{signame}.txt")
    wait_for(request_log, "PutObject", proc)
    proc.send_signal(getattr(signal, signame))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"/stall/{signame}.txt may or may not have been stored" in err


# On a loaded machine (two copies of the suite on two cores) the abort once took longer than the tool's
# old 3 s grace and the upload stayed open; the server holds the abort 4 s on purpose in the second case.
@pytest.mark.parametrize("abort_delay_ms", [0, 4_000])
def test_an_interrupt_during_a_stalled_multipart_upload_aborts_it_at_once(start, files, tmp_path, request_log, faults,
                                                                        admin_client, stack, abort_delay_ms):
    source = random_file(tmp_path / "big.bin", 20 * 1024 * 1024)
    identity(files)
    faults.add("UploadPart", times=1000, action="delay", delay_ms=90_000)
    if abort_delay_ms:
        faults.add("AbortMultipartUpload", times=1, action="delay", delay_ms=abort_delay_ms)
    request_log.clear()
    proc = start("put", source, "--key", "stall/big.bin")
    wait_for(request_log, "UploadPart", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    faults.clear()
    assert proc.returncode == 130, err
    assert "0 of 1 file stored" in err and "1 multipart upload aborted" in err, err
    assert open_uploads(admin_client, stack["bucket"]) == []


# ---------------------------------------------------------------- files that change while they are read

def test_a_file_that_grows_during_put_exits_2_and_says_the_old_size_was_stored(start, files, tmp_path, request_log, faults,
                                                                              admin_client, stack):
    source = tmp_path / "grows.log"
    source.write_bytes(b"x" * 1000)
    me = identity(files)
    faults.add("PutObject", times=1, action="delay", delay_ms=2000)
    request_log.clear()
    proc = start("put", source, "--key", "change/grows.log")
    wait_for(request_log, "PutObject", proc)
    with open(source, "ab") as handle:
        handle.write(b"y" * 500)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "changed while it was being uploaded (1000 bytes then, 1500 now)" in err
    assert "was stored with the 1000 bytes it had when the upload began" in err
    head = admin_client("s3").head_object(Bucket=stack["bucket"], Key=f"{me}/change/grows.log")
    assert head["ContentLength"] == 1000


def test_a_file_that_shrinks_during_a_multipart_put_fails_fast_as_a_local_change(start, files, tmp_path, request_log,
                                                                                 faults, admin_client, stack):
    source = random_file(tmp_path / "shrinks.bin", 20 * 1024 * 1024)
    identity(files)
    faults.add("CreateMultipartUpload", times=1, action="delay", delay_ms=2000)
    request_log.clear()
    proc = start("put", source, "--key", "change/shrinks.bin")
    wait_for(request_log, "CreateMultipartUpload", proc)
    os.truncate(source, 1024 * 1024)
    # before the fix each part waited out the read timeout and its retries, then blamed the network
    _, err = proc.communicate(timeout=50)
    assert proc.returncode == 2, err
    assert "changed while it was being uploaded" in err and "nothing was stored" in err
    assert "network" not in err and len(err.strip().splitlines()) == 1
    assert open_uploads(admin_client, stack["bucket"]) == []
    assert "change/shrinks.bin" not in [o["key"] for o in json.loads(files("--json", "ls", "change/").stdout)["objects"]]


# ---------------------------------------------------------------- several files: one outcome each

def test_put_recursive_no_clobber_reports_each_file_and_skips_the_existing_one(files, tmp_path):
    tree = tmp_path / "batch"
    tree.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (tree / name).write_text(name)
    assert files("put", tree / "b.txt", "--key", "batch/b.txt").returncode == 0
    result = files("put", tree, "--recursive", "--no-clobber")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["stored", "skipped", "stored"]
    assert lines[1].split()[1].endswith("/batch/b.txt")
    assert lines[-1] == "2 stored, 1 skipped, 0 failed"
    again = json.loads(files("--json", "put", tree, "--recursive", "--no-clobber").stdout)
    assert [item["outcome"] for item in again["files"]] == ["skipped"] * 3
    assert again["summary"] == {"stored": 0, "skipped": 3, "failed": 0}


def test_put_of_several_files_exits_4_only_for_a_real_failure_and_counts_it(files, tmp_path, faults):
    tree = tmp_path / "flaky"
    tree.mkdir()
    for name in ("a.txt", "b.txt"):
        (tree / name).write_text(name)
    identity(files)
    faults.add("PutObject", times=1, status=403, code="AccessDenied")
    result = files("put", tree, "--recursive")
    assert result.returncode == 4, result.stderr
    assert sorted(line.split()[0] for line in result.stdout.splitlines()[:2]) == ["failed", "stored"]
    assert result.stdout.splitlines()[-1] == "1 stored, 0 skipped, 1 failed"
    assert len(result.stderr.splitlines()) == 1 and "1 of 2 files failed" in result.stderr


# ---------------------------------------------------------------- get

def test_get_replaces_a_file_but_not_with_no_clobber(files, tmp_path, request_log):
    (tmp_path / "up.txt").write_text("from S3\n")
    assert files("put", tmp_path / "up.txt", "--key", "nc/up.txt").returncode == 0
    (tmp_path / "mine.txt").write_text("precious local file\n")
    request_log.clear()
    refused = files("get", "nc/up.txt", tmp_path / "mine.txt", "--no-clobber")
    assert refused.returncode == 2 and "mine.txt exists; --no-clobber left it unchanged" in refused.stderr
    assert (tmp_path / "mine.txt").read_text() == "precious local file\n"
    assert "GetObject" not in request_log.operations("s3")
    replaced = files("get", "nc/up.txt", tmp_path / "mine.txt")
    assert replaced.returncode == 0, replaced.stderr
    assert (tmp_path / "mine.txt").read_text() == "from S3\n"
    fresh = files("get", "nc/up.txt", tmp_path / "new.txt", "--no-clobber")
    assert fresh.returncode == 0 and (tmp_path / "new.txt").read_text() == "from S3\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_object_replaced_during_get_is_downloaded_again(start, files, tmp_path, request_log, faults, admin_client,
                                                           stack):
    me = identity(files)
    random_file(tmp_path / "v1.bin", 20 * 1024 * 1024)
    assert files("put", tmp_path / "v1.bin", "--key", "moving/obj.bin").returncode == 0
    # The ranged GETs of the first attempt are held back while the object is replaced.
    faults.add("GetObject", times=3, action="delay", delay_ms=2000)
    request_log.clear()
    proc = start("get", "moving/obj.bin", tmp_path / "out.bin")
    wait_for(request_log, "GetObject", proc)
    replacement = os.urandom(20 * 1024 * 1024)
    admin_client("s3").put_object(Bucket=stack["bucket"], Key=f"{me}/moving/obj.bin", Body=replacement)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "changed while it was being downloaded; downloading it again" in err
    assert (tmp_path / "out.bin").read_bytes() == replacement


def test_an_object_that_keeps_changing_during_get_exits_4_saying_so(files, tmp_path, faults):
    (tmp_path / "x.txt").write_text("x")
    assert files("put", tmp_path / "x.txt", "--key", "moving/x.txt").returncode == 0
    faults.add("GetObject", times=1000, status=412, code="PreconditionFailed")
    result = files("get", "moving/x.txt", tmp_path / "x.out")
    assert result.returncode == 4, result.stderr
    assert "changed while it was being downloaded" in result.stderr and "--no-clobber" not in result.stderr
    assert not (tmp_path / "x.out").exists()


def test_get_of_a_parent_folder_is_refused_as_leaving_the_folder(files):
    result = files("--no-cache", "get", "../")
    assert result.returncode == 2 and "ls ../" not in result.stderr and "can't leave your folder" in result.stderr


def test_an_interrupt_during_a_stalled_get_ends_at_once_and_leaves_nothing(start, files, tmp_path, request_log, faults):
    (tmp_path / "g.txt").write_text("g")
    assert files("put", tmp_path / "g.txt", "--key", "stall/g.txt").returncode == 0
    (tmp_path / "dest.txt").write_text("old local content\n")
    faults.add("GetObject", times=1, action="delay", delay_ms=90_000)
    request_log.clear()
    proc = start("get", "stall/g.txt", tmp_path / "dest.txt")
    wait_for(request_log, "GetObject", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "dest.txt was left as it was" in err
    assert (tmp_path / "dest.txt").read_text() == "old local content\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


# ---------------------------------------------------------------- rm, and refusals that name their cause

def without(statement_action):
    """least_privilege without the statement granting statement_action."""
    def permissions(bucket):
        policy = least_privilege(bucket)
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a != statement_action] or ["s3:GetObjectTagging"]
        return policy
    return permissions


def with_bucket_listing(bucket):
    """least_privilege plus s3:ListBucket on the whole bucket: S3 then tells a missing key (404) from a forbidden one."""
    policy = least_privilege(bucket)
    policy["Statement"].append({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"})
    return policy


def test_rm_says_whether_the_key_existed_when_s3_can_tell(cli, make_stack, tmp_path):
    config = stack_config(tmp_path, make_stack("rmlister", permissions=with_bucket_listing))
    (tmp_path / "r.txt").write_text("r")
    assert cli("--config", config, "put", tmp_path / "r.txt", "--key", "rmdir/r.txt").returncode == 0
    result = cli("--config", config, "rm", "rmdir/r.txt", "rmdir/never.txt")
    assert result.returncode == 4, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("deleted s3://") and lines[0].endswith("/rmdir/r.txt")
    assert lines[1].startswith("absent  s3://") and "did not exist" in lines[1]
    assert "rmdir/never.txt did not exist" in result.stderr and len(result.stderr.splitlines()) == 1


def test_rm_tells_a_missing_key_by_listing_its_prefix_when_head_is_refused(files):
    # S3 (and local_aws) answers a missing key with 403, not 404, to a caller whose s3:ListBucket is only
    # granted under an s3:prefix condition, as least_privilege's is; listing the key's own prefix tells.
    result = files("rm", "whatever.txt")
    assert result.returncode == 4 and "did not exist" in result.stderr, result.stderr


def test_rm_says_deleted_if_it_existed_when_s3_cant_tell(cli, make_stack, tmp_path):
    def no_listing(bucket):
        """Get, put and delete in the user's own folder; no ListBucket at all."""
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
             "Resource": f"arn:aws:s3:::{bucket}/{SUB}/*"}]}
    stack = make_stack("rm-unlisted", permissions=no_listing)
    values = {k: v for k, v in stack.items() if k not in ("role", "client_secret")}
    config = write_config(tmp_path / "unlisted.ini", {"default": {**values, "username": "alice",
                                                                  "password": PASSWORDS["alice"]}})
    result = cli("--config", config, "rm", "whatever.txt")
    assert result.returncode == 0, result.stderr
    assert "(if it existed" in result.stdout


def test_rm_exact_removes_keys_with_dot_dot_and_double_slash_inside_the_folder_only(files, admin_client, stack,
                                                                                    tmp_path):
    me = identity(files)
    s3 = admin_client("s3")
    other = "us-east-1:00000000-0000-0000-0000-0000000000bb"
    for key in (f"{me}/odd/../x", f"{me}/odd//y", f"{other}/z"):
        s3.put_object(Bucket=stack["bucket"], Key=key, Body=b"made by another client")
    listed = [o["key"] for o in json.loads(files("--json", "ls", "odd/").stdout)["objects"]]
    assert listed == ["odd/../x", "odd//y"]
    refused = files("rm", "odd/../x")  # not taken verbatim without --exact
    assert refused.returncode == 2 and "rm --exact" in refused.stderr
    escape = files("rm", "--exact", f"../{other}/z")  # stays a key under <me>/: nothing of the other user's
    # That literal key does not exist, and the listing of its prefix (inside <me>/) says so.
    assert escape.returncode == 4 and f"{me}/../{other}/z did not exist" in escape.stderr, escape.stderr
    result = files("rm", "--exact", *listed)
    assert result.returncode == 0, result.stderr
    assert json.loads(files("--json", "ls", "odd/").stdout)["objects"] == []
    assert s3.get_object(Bucket=stack["bucket"], Key=f"{other}/z")["Body"].read() == b"made by another client"


def test_a_bucket_that_is_not_yours_is_named_as_such(files, admin_client, tmp_path, request_log):
    admin_client("s3").create_bucket(Bucket="someone-elses-bucket")
    (tmp_path / "f.txt").write_text("f")
    result = files("put", tmp_path / "f.txt",
                   env_extra={"COG_AUTH_S3_BUCKET": "someone-elses-bucket"})
    assert result.returncode == 4, result.stderr
    assert "bucket someone-elses-bucket is not open to you" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_missing_bucket_is_named_as_missing(files, tmp_path, faults, stack):
    identity(files)
    faults.add("PutObject", times=1, status=404, code="NoSuchBucket")
    (tmp_path / "f.txt").write_text("f")
    result = files("put", tmp_path / "f.txt")
    assert result.returncode == 4 and f"bucket {stack['bucket']} does not exist" in result.stderr, result.stderr


def test_a_refusal_in_your_own_folder_blames_the_missing_permission(cli, make_stack, tmp_path):
    config = stack_config(tmp_path, make_stack("nowrite", permissions=without("s3:PutObject")))
    (tmp_path / "f.txt").write_text("f")
    result = cli("--config", config, "put", tmp_path / "f.txt")
    assert result.returncode == 4, result.stderr
    assert "although it is in your own folder" in result.stderr and "lacks that permission" in result.stderr
