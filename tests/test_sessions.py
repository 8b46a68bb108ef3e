"""Sessions that nothing loses: a cache per user, rotation under faults, renewal during long transfers,
bounded waits for another sign-in, and a logout that revokes. The CLI against local_aws, as a user runs it.

Tests that move the clock run on a local_aws of the module's own (clock_aws), never the shared one.
"""

import datetime
import fcntl
import hashlib
import json
import os
import stat
import subprocess
import time

import pytest

from helpers import (PAST_THEIR_LIFETIME, TOOL_COMMAND, Faults, RequestLog, advance_clock, profile, random_file, session_files,
                     user_env, write_config)


def the_session_file(tmp_path):
    """The one credential cache file the test's user has."""
    files = session_files(tmp_path)
    assert len(files) == 1, files
    return files[0]


def expire_soon(path, minutes=5):
    """Make a cache file's credentials look as if only `minutes` were left, so the next run renews them."""
    entry = json.loads(path.read_text())
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    entry["credentials"]["Expiration"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps(entry))
    os.chmod(path, 0o600)


def wait_for(log, operation, proc, service="s3"):
    """Wait (bounded) until local_aws has received operation, or the process ended."""
    deadline = time.monotonic() + 60
    while operation not in log.operations(service) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert operation in log.operations(service), proc.communicate(timeout=60)


# ---------------------------------------------------------------- 1. one cache per user


def test_signing_in_as_bob_through_another_default_profile_keeps_alices_session(cli, user_config, request_log):
    alice, bob = user_config("alice"), user_config("bob", name="bob.ini")
    assert cli("--config", alice, "creds").returncode == 0
    assert cli("--config", bob, "creds").returncode == 0
    request_log.clear()
    # No password and no terminal: only alice's own cached session can answer.
    mine = cli("--config", user_config("alice", name="alice-nopw.ini", password=None), "creds", "--format", "json")
    assert mine.returncode == 0, mine.stderr
    assert request_log.entries() == []
    theirs = cli("--config", user_config("bob", name="bob-nopw.ini", password=None), "creds", "--format", "json")
    assert theirs.returncode == 0, theirs.stderr
    assert json.loads(mine.stdout)["IdentityId"] != json.loads(theirs.stdout)["IdentityId"]
    assert request_log.entries() == []


def test_the_cache_file_name_tells_nothing_and_an_old_profile_named_cache_is_ignored(cli, user_config, tmp_path):
    config = user_config()
    assert cli("--config", config, "creds").returncode == 0
    name = the_session_file(tmp_path).name
    assert "alice" not in name and "default" not in name
    old = tmp_path / "cache" / "cog-auth-s3" / "default.json"  # what version 0.2 wrote
    old.write_text("{\"version\": 1}")
    os.chmod(old, 0o600)
    again = cli("--config", config, "creds")
    assert again.returncode == 0 and "default.json" not in again.stderr, again.stderr


# ---------------------------------------------------------------- 2. rotation loses nothing


@pytest.fixture(scope="module")
def rotation_faults_stack(make_stack, admin_session, local_aws):
    """A stack of the shared local_aws whose app client rotates refresh tokens with no grace period."""
    stack = make_stack("rotation-faults")
    idp = admin_session.client("cognito-idp", endpoint_url=local_aws["endpoint_url"])
    idp.update_user_pool_client(UserPoolId=stack["user_pool_id"], ClientId=stack["client_id"],
                                ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"],
                                RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0})
    return stack


def test_a_rotated_refresh_token_is_kept_when_get_credentials_fails_right_after(cli, rotation_faults_stack, tmp_path,
                                                                                 faults, request_log):
    config = write_config(tmp_path / "config.ini", {"default": profile(rotation_faults_stack)})
    assert cli("--config", config, "creds").returncode == 0
    cache = the_session_file(tmp_path)
    old = json.loads(cache.read_text())["refresh_token"]
    expire_soon(cache)
    faults.add("GetCredentialsForIdentity", times=2)  # the tool's one retry too
    no_password = write_config(tmp_path / "nopw.ini", {"default": profile(rotation_faults_stack, password=None)})
    failed = cli("--config", no_password, "creds")
    assert failed.returncode == 4, failed.stderr
    assert "GetTokensFromRefreshToken" in request_log.cognito_calls()
    entry = json.loads(cache.read_text())
    assert entry["refresh_token"] != old and stat.S_IMODE(cache.stat().st_mode) == 0o600
    faults.clear()

    request_log.clear()
    healed = cli("--config", no_password, "creds", "--format", "process")
    assert healed.returncode == 0, healed.stderr
    assert request_log.cognito_calls() == ["GetTokensFromRefreshToken", "GetCredentialsForIdentity"]


# ---------------------------------------------------------------- 2. transfers that outlive their credentials


def while_the_clock_jumps(clock_aws, tmp_path, operation, *args):
    """Run the tool (alice, signed in) with each `operation` request held back 4 s, and move local_aws's clock
    past the credentials' Expiration as soon as the first arrives: (exit code, stdout, stderr, request log)."""
    config, env = tmp_path / "config.ini", user_env(tmp_path)
    log, faults = RequestLog(clock_aws["endpoint_url"]), Faults(clock_aws["endpoint_url"])
    log.clear()
    faults.add(operation, times=3, action="delay", delay_ms=4000)
    try:
        proc = subprocess.Popen([*TOOL_COMMAND, "--config", str(config), *map(str, args)], env=env,
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(log, operation, proc)
        advance_clock(clock_aws["endpoint_url"], PAST_THEIR_LIFETIME)
        out, err = proc.communicate(timeout=120)
    finally:
        faults.clear()
    entries = log.entries()
    assert any(e["operation"] == operation and e["status"] == 400 for e in entries), entries  # it did expire
    return proc.returncode, out, err, entries


@pytest.fixture
def signed_in(clock_stack, tmp_path):
    """alice's config.ini in tmp_path, her session cached; run(*args) runs the tool with it."""
    config = write_config(tmp_path / "config.ini", {"default": profile(clock_stack)})

    def run(*args):
        return subprocess.run([*TOOL_COMMAND, "--config", str(config), *map(str, args)],
                              env=user_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run("login").returncode == 0
    return run


def stored_bytes(clock_aws, bucket, key):
    """An object's bytes, read by the administrator."""
    s3 = clock_aws["admin_session"].client("s3", endpoint_url=clock_aws["endpoint_url"])
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_a_multipart_put_that_outlives_its_credentials_renews_them_in_place(clock_aws, clock_stack, tmp_path,
                                                                            signed_in):
    source = random_file(tmp_path / "big.bin", 20 * 1024 * 1024)  # 3 parts of at most 8 MiB
    code, out, err, entries = while_the_clock_jumps(clock_aws, tmp_path, "UploadPart", "--json", "put", source,
                                                    "--key", "long/big.bin")
    assert code == 0, err
    assert [e["operation"] for e in entries].count("CreateMultipartUpload") == 1, entries
    assert "renewing the session's credentials during the transfer: S3 refused them (ExpiredToken)" in err
    uploaded = json.loads(out)["uploaded"][0]
    assert uploaded["etag"], uploaded  # what S3 answered is still reported
    stored = stored_bytes(clock_aws, clock_stack["bucket"], uploaded["key"])
    assert hashlib.sha256(stored).digest() == hashlib.sha256(source.read_bytes()).digest()


def test_a_sync_up_that_outlives_its_credentials_renews_them_in_place(clock_aws, clock_stack, tmp_path, signed_in):
    (tmp_path / "tree").mkdir()
    source = random_file(tmp_path / "tree" / "big.bin", 20 * 1024 * 1024)
    code, _, err, entries = while_the_clock_jumps(clock_aws, tmp_path, "UploadPart", "sync", "up", "tree", "synced")
    assert code == 0, err
    assert [e["operation"] for e in entries].count("CreateMultipartUpload") == 1, entries
    identity_id = json.loads(signed_in("creds", "--format", "json").stdout)["IdentityId"]
    assert stored_bytes(clock_aws, clock_stack["bucket"], f"{identity_id}/synced/big.bin") == source.read_bytes()


def test_a_sync_up_of_small_and_large_files_that_outlives_its_credentials_renews_them_once_for_both_paths(
        clock_aws, clock_stack, tmp_path, signed_in):
    # Small files go by the direct path, the large one through the boto3 client: both hold the one renewing
    # credentials, so the refusals of both make one renewal, and every file is stored.
    tree = tmp_path / "tree"
    tree.mkdir()
    sources = {"big.bin": random_file(tree / "big.bin", 20 * 1024 * 1024)}
    for index in range(8):
        sources[f"small-{index}.bin"] = random_file(tree / f"small-{index}.bin", 10_000)
    code, _, err, entries = while_the_clock_jumps(clock_aws, tmp_path, "PutObject", "sync", "up", "tree", "mixed")
    assert code == 0, err
    refused = {e["operation"] for e in entries if e["status"] == 400}
    assert "PutObject" in refused, entries
    assert err.count("renewing the session's credentials") == 1, err
    identity_id = json.loads(signed_in("creds", "--format", "json").stdout)["IdentityId"]
    for name, source in sources.items():
        assert stored_bytes(clock_aws, clock_stack["bucket"], f"{identity_id}/mixed/{name}") == source.read_bytes()


def test_a_download_that_outlives_its_credentials_renews_them_in_place(clock_aws, tmp_path, signed_in):
    source = random_file(tmp_path / "big.bin", 20 * 1024 * 1024)
    put = signed_in("put", source, "--key", "long/down.bin")
    assert put.returncode == 0, put.stderr
    code, _, err, _ = while_the_clock_jumps(clock_aws, tmp_path, "GetObject", "get", "long/down.bin", "copy.bin")
    assert code == 0, err
    assert "renewing the session's credentials during the transfer: S3 refused them (ExpiredToken)" in err
    assert "trying again" not in err, err  # the download went on; it did not start over
    assert (tmp_path / "copy.bin").read_bytes() == source.read_bytes()


# ---------------------------------------------------------------- 4. failures during multi-file transfers


def test_credentials_refused_during_a_multi_file_put_are_renewed_not_a_type_error(cli, user_config, tmp_path,
                                                                                  faults, admin_client, stack):
    config = user_config()
    for name in "ab":
        (tmp_path / f"{name}.txt").write_text(name * 10)
    random_file(tmp_path / "c.txt", 9 * 1024 * 1024)  # a multipart upload, held in flight meanwhile
    identity_id = json.loads(cli("--config", config, "creds", "--format", "json").stdout)["IdentityId"]
    faults.add("UploadPart", times=2, action="delay", delay_ms=6000)
    # Three refusals for two small uploads that each retry once renewed: one of them is refused twice, and
    # that failure meets c.txt's upload in flight.
    faults.add("PutObject", skip=1, times=3, status=400, code="ExpiredToken", message="The provided token has expired.")
    result = cli("--config", config, "put", "a.txt", "b.txt", "c.txt", "--key", "multi/")
    assert result.returncode == 0, result.stderr
    assert "TypeError" not in result.stderr and "unexpected" not in result.stderr
    assert "renewing" in result.stderr
    listed = admin_client("s3").list_objects_v2(Bucket=stack["bucket"], Prefix=f"{identity_id}/multi/")
    assert sorted(item["Key"].rsplit("/", 1)[1] for item in listed["Contents"]) == ["a.txt", "b.txt", "c.txt"]


# ---------------------------------------------------------------- 5. bounded waits


def held_lock(tmp_path):
    """Hold the credential cache's lock as a sign-in in another process would: (open fd, lock path)."""
    lock = str(the_session_file(tmp_path)) + ".lock"
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd, lock


def test_creds_waits_a_bounded_time_for_another_sign_in_then_exits_3_naming_the_lock(cli, user_config, tmp_path):
    assert cli("--config", user_config(), "creds").returncode == 0
    expire_soon(the_session_file(tmp_path))
    fd, lock = held_lock(tmp_path)
    try:
        blocked = cli("--config", user_config(name="nopw.ini", password=None), "creds", "--format", "process",
                      timeout=60)
    finally:
        os.close(fd)
    assert blocked.returncode == 3, blocked.stderr
    line = blocked.stderr.strip().splitlines()[-1]
    assert "another sign-in" in line and lock in line, line


def test_with_a_password_at_hand_creds_signs_in_itself_without_touching_the_cache(cli, user_config, tmp_path,
                                                                                  request_log):
    config = user_config()
    assert cli("--config", config, "creds").returncode == 0
    cache = the_session_file(tmp_path)
    expire_soon(cache)
    before = cache.read_bytes()
    fd, _ = held_lock(tmp_path)
    request_log.clear()
    try:
        result = cli("--config", config, "creds", "--format", "process", timeout=60)
    finally:
        os.close(fd)
    assert result.returncode == 0, result.stderr
    assert "InitiateAuth" in request_log.cognito_calls()
    assert cache.read_bytes() == before


# ---------------------------------------------------------------- 7. logout revokes


def test_logout_revokes_the_refresh_token_so_a_copy_of_the_cache_no_longer_renews(cli, user_config, tmp_path,
                                                                                  request_log):
    assert cli("--config", user_config(), "creds").returncode == 0
    cache = the_session_file(tmp_path)
    copy = cache.read_bytes()
    request_log.clear()
    out = cli("--config", user_config(), "logout")
    assert out.returncode == 0, out.stderr
    assert request_log.cognito_calls() == ["RevokeToken"]
    assert session_files(tmp_path) == []

    cache.write_bytes(copy)
    os.chmod(cache, 0o600)
    expire_soon(cache)
    stolen = cli("--config", user_config(name="nopw.ini", password=None), "creds")
    assert stolen.returncode == 3, stolen.stderr
    assert "revoked" in stolen.stderr
