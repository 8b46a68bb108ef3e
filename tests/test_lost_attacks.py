"""Issue 16 and 20 replayed with other values, as a hostile reviewer would: the CLI as a subprocess against
local_aws. A test marked xfail(strict=True) documents a defect that is still there (its reason says which).

Tests that move the clock run on a local_aws of the module's own (clock_aws), never the shared one.
"""

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from helpers import (PAST_THEIR_LIFETIME, TOOL_COMMAND, Faults, RequestLog, advance_clock, cognito_user_session, profile,
                     random_file, session_files, user_env, write_config)


def one_line_error(result):
    """The single stderr line of a failed run (no traceback)."""
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr, result.stderr
    return lines[-1]


def wait_until(condition, proc=None, timeout=60):
    """Bounded polling until condition() is true (or the process ended)."""
    deadline = time.monotonic() + timeout
    while not condition() and (proc is None or proc.poll() is None) and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


# ================================================================ transfers on a clock that jumps

@pytest.fixture(scope="module")
def jump_stack(clock_aws):
    """A stack on the module's own local_aws, whose clock the tests move."""
    return clock_aws["make_stack"]("attack-jumps")


@pytest.fixture
def alice(jump_stack, clock_aws, tmp_path):
    """alice signed in on the jump stack: run(*args, password=True) runs the tool as her."""
    with_pw = write_config(tmp_path / "config.ini", {"default": profile(jump_stack)})
    without = write_config(tmp_path / "nopw.ini", {"default": profile(jump_stack, password=None)})

    def run(*args, password=True, timeout=120):
        config = with_pw if password else without
        return subprocess.run([*TOOL_COMMAND, "--config", str(config), *map(str, args)],
                              env=user_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, start_new_session=True)

    def start(*args, password=True):
        config = with_pw if password else without
        return subprocess.Popen([*TOOL_COMMAND, "--config", str(config), *map(str, args)],
                                env=user_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    assert run("login").returncode == 0
    run.start = start
    run.identity = json.loads(run("creds", "--format", "json").stdout)["IdentityId"]
    return run


def admin_s3(clock_aws):
    return clock_aws["admin_session"].client("s3", endpoint_url=clock_aws["endpoint_url"])


@pytest.mark.parametrize("command", ["get", "rm", "ls", "share", "rm --recursive", "sync down"])
def test_a_command_whose_first_request_meets_dead_credentials_renews_them(clock_aws, alice, tmp_path, command):
    """The cache looks fresh to the tool (its clock did not move) but AWS calls the credentials expired: every
    file command must renew, as `put` does, whichever request meets them first (a HEAD has no error code)."""
    (tmp_path / "o.txt").write_text("object")
    key = f"first/{uuid.uuid4().hex[:6]}.txt"
    assert alice("put", tmp_path / "o.txt", "--key", key).returncode == 0
    advance_clock(clock_aws["endpoint_url"], PAST_THEIR_LIFETIME)
    args = {"get": ["get", key, tmp_path / "copy.txt"], "rm": ["rm", key], "ls": ["ls", "first/"],
            "share": ["share", key], "rm --recursive": ["rm", "--recursive", "first", "--force"],
            "sync down": ["sync", "down", "first", tmp_path / "down"]}[command]
    result = alice(*args)
    assert result.returncode == 0, result.stderr
    if command == "get":
        assert (tmp_path / "copy.txt").read_text() == "object"
    if command == "sync down":
        assert (tmp_path / "down" / key.split("/")[1]).read_text() == "object"


def jump_while(clock_aws, proc, operation, log):
    """Once local_aws has seen operation from proc, move its clock past the credentials' lifetime."""
    assert wait_until(lambda: operation in log.operations("s3"), proc), proc.communicate(timeout=60)
    advance_clock(clock_aws["endpoint_url"], PAST_THEIR_LIFETIME)


def test_get_recursive_of_many_files_outlives_its_credentials(clock_aws, alice, tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(12):
        (tree / f"f{i:02}.txt").write_text(f"file {i}\n" * 100)
    assert alice("put", tree, "--recursive", "--key", "many").returncode == 0
    log, faults = RequestLog(clock_aws["endpoint_url"]), Faults(clock_aws["endpoint_url"])
    log.clear()
    faults.add("GetObject", times=2, action="delay", delay_ms=3000)
    try:
        proc = alice.start("get", "many", tmp_path / "down", "--recursive")
        jump_while(clock_aws, proc, "GetObject", log)
        out, err = proc.communicate(timeout=120)
    finally:
        faults.clear()
    assert proc.returncode == 0, err
    assert sorted(p.name for p in (tmp_path / "down").iterdir()) == sorted(p.name for p in tree.iterdir())
    for path in tree.iterdir():
        assert (tmp_path / "down" / path.name).read_bytes() == path.read_bytes()


def test_put_recursive_of_many_files_outlives_its_credentials(clock_aws, jump_stack, alice, tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(40):
        (tree / f"f{i:02}.txt").write_text(f"file {i}\n" * 100)
    log, faults = RequestLog(clock_aws["endpoint_url"]), Faults(clock_aws["endpoint_url"])
    log.clear()
    faults.add("PutObject", times=3, action="delay", delay_ms=3000)
    try:
        proc = alice.start("put", tree, "--recursive", "--key", "manyup")
        jump_while(clock_aws, proc, "PutObject", log)
        out, err = proc.communicate(timeout=120)
    finally:
        faults.clear()
    assert proc.returncode == 0, err
    assert "TypeError" not in err and "unexpected" not in err
    listed = admin_s3(clock_aws).list_objects_v2(Bucket=jump_stack["bucket"], Prefix=f"{alice.identity}/manyup/")
    assert len(listed.get("Contents", [])) == 40, err


def sign_out_mid_upload(proc, log, clock_aws, stack):
    """Once proc's first part is on its way, sign alice out everywhere and move the clock past her credentials'
    lifetime; then proc's (stdout, stderr)."""
    assert wait_until(lambda: "UploadPart" in log.operations("s3"), proc), proc.communicate(timeout=60)
    idp = clock_aws["admin_session"].client("cognito-idp", endpoint_url=clock_aws["endpoint_url"])
    idp.admin_user_global_sign_out(UserPoolId=stack["user_pool_id"], Username="alice")
    advance_clock(clock_aws["endpoint_url"], PAST_THEIR_LIFETIME)
    return proc.communicate(timeout=120)


@pytest.mark.parametrize("command", ["put", "sync"])
def test_a_session_signed_out_everywhere_mid_upload_ends_in_one_line_exit_3_and_no_open_upload(
        clock_aws, jump_stack, alice, tmp_path, command):
    """No password at hand: the renewal can't succeed. One line, exit 3, the multipart upload aborted."""
    (tmp_path / "t").mkdir()
    source = random_file(tmp_path / "t" / "big.bin", 20 * 1024 * 1024)
    log, faults = RequestLog(clock_aws["endpoint_url"]), Faults(clock_aws["endpoint_url"])
    log.clear()
    faults.add("UploadPart", times=3, action="delay", delay_ms=3000)
    args = ["put", source, "--key", "revoked/big.bin"] if command == "put" else ["sync", "up", tmp_path / "t",
                                                                                 "revoked-sync"]
    try:
        proc = alice.start(*args, password=False)
        out, err = sign_out_mid_upload(proc, log, clock_aws, jump_stack)
    finally:
        faults.clear()
    result = subprocess.CompletedProcess(args, proc.returncode, out, err)
    assert proc.returncode == 3, err
    line = one_line_error(result)
    assert "password" in line, line
    # Refused together, renewed once: not once more for every part in flight.
    assert err.count("Cognito refused the cached session") == 1, err
    uploads = admin_s3(clock_aws).list_multipart_uploads(Bucket=jump_stack["bucket"]).get("Uploads", [])
    # The abort can't be signed with dead credentials; then the user must hear that an upload may be left open.
    assert not [u for u in uploads if "revoked" in u["Key"]] or "may still be open" in err, err


@pytest.mark.parametrize("password", [True, False])
def test_a_multi_file_put_meeting_a_session_signed_out_everywhere_renews_or_says_so_in_one_line(
        clock_aws, jump_stack, alice, tmp_path, password):
    for name in "ab":
        (tmp_path / f"{name}.txt").write_text(name * 10)
    random_file(tmp_path / "c.bin", 9 * 1024 * 1024)
    log, faults = RequestLog(clock_aws["endpoint_url"]), Faults(clock_aws["endpoint_url"])
    log.clear()
    faults.add("UploadPart", times=2, action="delay", delay_ms=3000)
    key = f"multi-{uuid.uuid4().hex[:6]}/"
    try:
        proc = alice.start("put", "a.txt", "b.txt", "c.bin", "--key", key, password=password)
        out, err = sign_out_mid_upload(proc, log, clock_aws, jump_stack)
    finally:
        faults.clear()
    assert "TypeError" not in err and "unexpected" not in err and "Traceback" not in err, err
    if password:
        assert proc.returncode == 0, err
        listed = admin_s3(clock_aws).list_objects_v2(Bucket=jump_stack["bucket"], Prefix=f"{alice.identity}/{key}")
        assert sorted(o["Key"].rsplit("/", 1)[1] for o in listed["Contents"]) == ["a.txt", "b.txt", "c.bin"]
    else:
        assert proc.returncode == 3, err
        assert "password" in err.strip().splitlines()[-1], err


# ================================================================ bounded waits

def hold(path):
    """Hold an exclusive flock on path (created 0600) as another process would: the open fd."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@pytest.mark.parametrize("command", [["login"], ["put", "hello.txt", "--key", "held/hello.txt"], ["run"]])
def test_a_held_session_lock_ends_login_and_put_without_a_password_in_bounded_time_with_exit_3(
        cli, user_config, tmp_path, command):
    config = user_config()
    assert cli("--config", config, "creds").returncode == 0
    cache = session_files(tmp_path)[0]
    entry = json.loads(cache.read_text())
    entry["credentials"]["Expiration"] = "2000-01-01T00:00:00Z"  # the next run must renew, under the lock
    cache.write_text(json.dumps(entry))
    os.chmod(cache, 0o600)
    fd = hold(str(cache) + ".lock")
    try:
        result = cli("--config", user_config(name="nopw.ini", password=None), *command, timeout=60)
    finally:
        os.close(fd)
    assert result.returncode == 3, result.stderr
    assert "another sign-in" in one_line_error(result)


def test_aws_profile_waits_a_bounded_time_for_a_held_config_lock(cli, user_config, tmp_path):
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[profile work]\nregion = us-west-2\n")
    fd = hold(str(aws_config) + ".lock")
    try:
        try:
            result = cli("--config", user_config(), "aws-profile", "me", env_extra={"AWS_CONFIG_FILE": aws_config},
                         timeout=40)
        except subprocess.TimeoutExpired:
            pytest.fail("aws-profile still waiting after 40 s")
    finally:
        os.close(fd)
    assert result.returncode != 0 and "lock" in one_line_error(result)


# ================================================================ rotation

def test_a_renewal_killed_while_cognito_rotates_the_token_does_not_log_the_user_out(local_aws, tmp_path, faults,
                                                                                    request_log):
    from test_provisioning import admin, unique_name

    name = unique_name()
    made = admin(["--json", "setup", "--name", name, "--refresh-token-rotation"], local_aws, tmp_path)
    assert made.returncode == 0, made.stderr
    values = json.loads(made.stdout)["config"]["values"]
    added = admin(["--config", tmp_path / "config.ini", "add-user", "alice"], local_aws, tmp_path,
                  {"COG_AUTH_S3_PASSWORD": "Alice-passw0rd!"})
    assert added.returncode == 0, added.stderr
    settings = {**values, "endpoint_url": local_aws["endpoint_url"], "username": "alice"}
    config = write_config(tmp_path / "alice.ini", {"default": {**settings, "password": "Alice-passw0rd!"}})
    nopw = write_config(tmp_path / "nopw.ini", {"default": settings})
    env = user_env(tmp_path)
    run = [*TOOL_COMMAND, "--config"]
    assert subprocess.run(run + [str(config), "login"], env=env, capture_output=True, timeout=120).returncode == 0
    cache = session_files(tmp_path)[0]
    entry = json.loads(cache.read_text())
    entry["credentials"]["Expiration"] = "2000-01-01T00:00:00Z"  # the next run renews
    cache.write_text(json.dumps(entry))
    os.chmod(cache, 0o600)
    request_log.clear()
    faults.add("GetTokensFromRefreshToken", times=1, action="delay", delay_ms=3000)
    proc = subprocess.Popen(run + [str(nopw), "creds", "--format", "process"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    assert wait_until(lambda: "GetTokensFromRefreshToken" in request_log.cognito_calls(), proc)
    proc.kill()  # kill -9 while Cognito is rotating the token: its answer is never read
    proc.communicate(timeout=30)
    assert wait_until(lambda: all(e["status"] is not None for e in request_log.entries()))  # Cognito did rotate
    again = subprocess.run(run + [str(nopw), "creds", "--format", "process"], env=env, capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL, start_new_session=True)
    assert again.returncode == 0, again.stderr


# ================================================================ sync up and put: files that change, names

@pytest.fixture
def prefix():
    return f"attack-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("change", ["truncated", "deleted", "replaced"])
def test_a_file_truncated_deleted_or_replaced_during_its_sync_up_is_exit_2_and_nothing_mixed_stays(
        cli, user_config, tmp_path, request_log, faults, prefix, change):
    from test_sync import remote

    config = user_config()
    files = lambda *a: cli("--config", config, *a)  # noqa: E731
    tree = tmp_path / "tree"
    tree.mkdir()
    big = random_file(tree / "big.bin", 20 * 1024 * 1024)
    assert cli("--config", config, "creds").returncode == 0
    faults.add("CreateMultipartUpload", times=1, action="delay", delay_ms=2000)
    request_log.clear()
    proc = subprocess.Popen([*TOOL_COMMAND, "--config", str(config), "sync", "up", str(tree), prefix],
                            env=user_env(tmp_path), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    assert wait_until(lambda: "CreateMultipartUpload" in request_log.operations("s3"), proc)
    if change == "truncated":
        os.truncate(big, 5 * 1024 * 1024)
    elif change == "deleted":
        os.unlink(big)
    else:  # a new file of the same size renamed over it, as editors save
        random_file(tree / ".big.tmp", 20 * 1024 * 1024)
        os.replace(tree / ".big.tmp", big)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, out + err
    assert "Traceback" not in err and "unexpected" not in err, err
    assert str(big) in err.strip().splitlines()[-1], err
    stored = remote(files, prefix)
    # Whatever is stored must be the file as it is now, or nothing.
    assert not stored or (change != "deleted" and stored == {"big.bin": big.stat().st_size}), (stored, err)


def test_links_to_twins_and_odd_names_keep_their_remote_copies_under_delete_and_dryrun_agrees(
        cli, user_config, tmp_path, prefix):
    from test_sync import remote

    config = user_config()
    files = lambda *a: cli("--config", config, *a)  # noqa: E731
    tree = tmp_path / "tree"
    (tree / "photos").mkdir(parents=True)
    (tree / "photos" / "a.jpg").write_text("a photo")
    (tree / "notes.txt").write_text("notes")
    (tree / "keep.txt").write_text("keep")
    assert files("sync", "up", tree, prefix).returncode == 0
    # photos becomes a link to a twin folder with the same files; notes.txt a link to a twin file
    (tmp_path / "twin").mkdir()
    os.replace(tree / "photos", tmp_path / "twin" / "photos")
    (tree / "photos").symlink_to(tmp_path / "twin" / "photos")
    os.replace(tree / "notes.txt", tmp_path / "twin" / "notes.txt")
    (tree / "notes.txt").symlink_to(tmp_path / "twin" / "notes.txt")
    odd = os.path.join(os.fsencode(tree), b"sub\xff")
    os.mkdir(odd)
    with open(os.path.join(odd, b"x.txt"), "wb") as handle:
        handle.write(b"x")
    before = remote(files, prefix)
    dry = files("sync", "up", tree, prefix, "--delete", "--dryrun")
    assert "delete:" not in dry.stdout, dry.stdout
    real = files("sync", "up", tree, prefix, "--delete")
    assert real.returncode == dry.returncode == 2, real.stderr
    assert "Traceback" not in real.stderr and "sub\\xff" in real.stderr, real.stderr
    assert remote(files, prefix) == before


def test_rm_of_a_folder_typed_with_its_slash_suggests_recursive(cli, user_config, tmp_path, prefix):
    config = user_config()
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("x")
    assert cli("--config", config, "put", tmp_path / "d", "--recursive", "--key", f"{prefix}/docs").returncode == 0
    result = cli("--config", config, "rm", f"{prefix}/docs/")
    assert result.returncode != 0
    line = one_line_error(result)
    assert f"rm --recursive {prefix}/docs" in line, line


# ================================================================ one cache per user

def test_two_alices_of_two_pools_keep_two_sessions(cli, make_stack, stack, tmp_path, request_log):
    other = make_stack(f"attack-alice-{uuid.uuid4().hex[:6]}")
    first = write_config(tmp_path / "one.ini", {"default": profile(stack)})
    second = write_config(tmp_path / "two.ini", {"default": profile(other)})
    ids = [json.loads(cli("--config", c, "creds", "--format", "json").stdout)["IdentityId"] for c in (first, second)]
    request_log.clear()
    for config, identity_id in zip((first, second), ids):
        nopw = write_config(tmp_path / "nopw.ini", {"default": profile(stack if config == first else other,
                                                                       password=None)})
        again = cli("--config", nopw, "creds", "--format", "json")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["IdentityId"] == identity_id
    assert request_log.entries() == []


def test_the_aws_cli_signs_two_users_in_at_once_through_two_profiles(cli, user_config, tmp_path, stack):
    aws_config = tmp_path / "aws-config"
    env = user_env(tmp_path, AWS_CONFIG_FILE=aws_config, AWS_SHARED_CREDENTIALS_FILE=tmp_path / "none")
    for user in ("alice", "bob"):
        result = cli("--config", user_config(user, name=f"{user}.ini"), "aws-profile", user,
                     env_extra={"AWS_CONFIG_FILE": aws_config})
        assert result.returncode == 0, result.stderr
    aws = os.path.join(os.path.dirname(sys.executable), "aws")
    ids = {user: cognito_user_session(stack, user)[0] for user in ("alice", "bob")}
    for _ in range(2):  # cold caches first, then warm ones
        # Each lists only its own folder: the other's would be refused.
        procs = [(user, subprocess.Popen([aws, "--profile", user, "s3api", "list-objects-v2", "--bucket",
                                          stack["bucket"], "--prefix", f"{ids[user]}/", "--output", "json"],
                                         env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True, stdin=subprocess.DEVNULL, start_new_session=True))
                 for user in ("alice", "bob") for _ in range(3)]
        for user, proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, (user, err)
    assert len(session_files(tmp_path)) == 2


# ================================================================ add-user

def pool_with_policy(admin_client, local_aws, tmp_path, policy=None):
    """A user pool (with this password policy) and a config.ini naming it."""
    idp = admin_client("cognito-idp")
    extra = {"Policies": {"PasswordPolicy": policy}} if policy else {}
    pool = idp.create_user_pool(PoolName=f"attack-{uuid.uuid4().hex[:8]}", **extra)["UserPool"]["Id"]
    write_config(tmp_path / "config.ini", {"default": {"region": "us-east-1", "user_pool_id": pool,
                                                       "endpoint_url": local_aws["endpoint_url"]}})
    return idp, pool


def users_of(idp, pool):
    return {u["Username"]: u["UserStatus"] for u in idp.list_users(UserPoolId=pool)["Users"]}


def test_a_custom_policy_is_the_one_stated(local_aws, admin_client, tmp_path):
    from test_provisioning import admin

    idp, pool = pool_with_policy(admin_client, local_aws, tmp_path, {
        "MinimumLength": 14, "RequireUppercase": False, "RequireLowercase": True, "RequireNumbers": False,
        "RequireSymbols": False})
    result = admin(["add-user", "ivy"], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": "short-but-ok"}, endpoint=False)
    assert result.returncode == 4, result.stderr
    line = one_line_error(result)
    assert "at least 14 characters" in line and "upper-case" not in line and "symbol" not in line, line
    assert users_of(idp, pool) == {}


@pytest.mark.parametrize("password", [" Leading-spac3!", "Trailing-spac3! "])
def test_a_password_with_outer_spaces_leaves_no_user(local_aws, admin_client, tmp_path, password):
    from test_provisioning import admin

    idp, pool = pool_with_policy(admin_client, local_aws, tmp_path)
    result = admin(["add-user", "jo"], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": password}, endpoint=False)
    if result.returncode == 0:  # accepted: then it must work as typed
        assert users_of(idp, pool) == {"jo": "CONFIRMED"}
    else:
        assert password.strip() not in result.stderr
        one_line_error(result)
        assert users_of(idp, pool) == {}, result.stderr


def test_a_server_fault_setting_the_password_leaves_no_half_created_user_or_says_so(local_aws, admin_client,
                                                                                    tmp_path, faults):
    from test_provisioning import admin

    idp, pool = pool_with_policy(admin_client, local_aws, tmp_path)
    faults.add("AdminSetUserPassword", times=10)
    result = admin(["add-user", "kim"], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": "Kim-passw0rd!"},
                   endpoint=False)
    assert result.returncode == 4, result.stderr
    line = one_line_error(result)
    assert users_of(idp, pool) == {} or ("kim" in line and "add-user" in line), line


# ================================================================ issue 20: local_aws's clock

def test_a_shared_link_expires_on_local_aws_clock(tmp_path):
    import urllib.error
    import urllib.request

    import boto3

    from helpers import REGION, stack_maker, start_local_aws, stop_local_aws

    # A local_aws of its own: the module's has been moved hours ahead, and a link is dated by the tool's clock.
    proc, info = start_local_aws()
    try:
        admin = boto3.Session(aws_access_key_id=info["aws_access_key_id"],
                              aws_secret_access_key=info["aws_secret_access_key"], region_name=REGION)
        stack = stack_maker(admin, info)("attack-share-clock")
        config = write_config(tmp_path / "config.ini", {"default": profile(stack)})
        run = [*TOOL_COMMAND, "--config", str(config)]
        env = user_env(tmp_path)
        (tmp_path / "s.txt").write_text("shared")
        assert subprocess.run(run + ["put", tmp_path / "s.txt", "--key", "share/s.txt"], env=env,
                              capture_output=True, timeout=120).returncode == 0
        link = subprocess.run(run + ["share", "share/s.txt", "--expires", "120s"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert link.returncode == 0, link.stderr
        url = link.stdout.strip().splitlines()[-1]
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == b"shared"
        advance_clock(info["endpoint_url"], 180)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 403
    finally:
        stop_local_aws(proc)


def test_the_tools_renewals_keep_the_sign_ins_auth_time(clock_aws, tmp_path):
    from helpers import jwt_claims

    stack = clock_aws["make_stack"](f"attack-rot-{uuid.uuid4().hex[:6]}")
    idp = clock_aws["admin_session"].client("cognito-idp", endpoint_url=clock_aws["endpoint_url"])
    idp.update_user_pool_client(UserPoolId=stack["user_pool_id"], ClientId=stack["client_id"],
                                ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"],
                                RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0})
    config = write_config(tmp_path / "config.ini", {"default": profile(stack, password=None)})
    signed = write_config(tmp_path / "pw.ini", {"default": profile(stack)})
    env = user_env(tmp_path)
    run = [*TOOL_COMMAND, "--config"]
    assert subprocess.run(run + [str(signed), "login"], env=env, capture_output=True, timeout=120).returncode == 0
    cache = session_files(tmp_path)[0]
    first = jwt_claims(json.loads(cache.read_text())["id_token"])
    tokens = {json.loads(cache.read_text())["refresh_token"]}
    for _ in range(2):
        advance_clock(clock_aws["endpoint_url"], 600)
        entry = json.loads(cache.read_text())
        entry["credentials"]["Expiration"] = "2000-01-01T00:00:00Z"
        cache.write_text(json.dumps(entry))
        os.chmod(cache, 0o600)
        renewed = subprocess.run(run + [str(config), "creds"], env=env, capture_output=True, text=True, timeout=120,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        assert renewed.returncode == 0, renewed.stderr
        entry = json.loads(cache.read_text())
        tokens.add(entry["refresh_token"])
        claims = jwt_claims(entry["id_token"])
        assert claims["iat"] > first["iat"] and claims["auth_time"] == first["auth_time"], (first, claims)
    assert len(tokens) == 3  # it did rotate each time


# ================================================================ aws-profile as botocore reads the file

def botocore_profiles(aws_config):
    from botocore.configloader import load_config

    return load_config(str(aws_config))["profiles"]


@pytest.mark.parametrize("layout, name", [
    ("[profile default]\nregion = eu-west-1\n", "default"),
    ("[default]\nregion = eu-west-1\n[profile default]\nregion = eu-west-2\n", "default"),
    ("[profile me]\r\nregion = eu-west-1\r\n", "me"),
    ("[profile\tme]\nregion = eu-west-1\n", "me"),
    ("[profile me]\nregion = eu-west-1\n[profile  me]\nregion = eu-west-2\n", "me"),
    ("[profile \"me\"]\nregion = eu-west-1\n[sso-session x]\nsso_region = us-east-1\n[profile me]\nregion = eu-west-2\n",
     "me"),
])
def test_an_existing_profile_in_any_spelling_botocore_reads_is_refused_then_replaced_with_force(
        cli, user_config, tmp_path, layout, name):
    aws_config = tmp_path / "aws-config"
    aws_config.write_bytes(layout.encode())
    env = {"AWS_CONFIG_FILE": aws_config}
    refused = cli("--config", user_config(), "aws-profile", name, env_extra=env)
    assert refused.returncode == 2 and "--force" in refused.stderr, refused.stderr
    assert aws_config.read_bytes() == layout.encode()
    forced = cli("--config", user_config(), "aws-profile", name, "--force", env_extra=env)
    assert forced.returncode == 0, forced.stderr
    assert "credential_process" in botocore_profiles(aws_config)[name], aws_config.read_text()


# ================================================================ logout

def test_logout_forget_device_with_cognito_unreachable_deletes_every_secret_and_says_what_it_could_not_do(
        cli, plain_device_stack, tmp_path, admin_client, faults):
    from test_devices_rotation import cached, device_files, track_devices

    track_devices(admin_client, plain_device_stack, opt_in=False)
    config = write_config(tmp_path / "config.ini", {"default": profile(plain_device_stack)})
    assert cli("--config", config, "creds").returncode == 0
    device = cached(tmp_path, device=True)
    faults.add("*", times=1000, action="reset")  # the network is gone
    result = cli("--config", config, "logout", "--forget-device", timeout=120)
    faults.clear()
    assert result.returncode == 4, result.stderr
    assert device_files(tmp_path) == [] and session_files(tmp_path) == []
    line = one_line_error(result)
    assert device["device_key"] in line and "revoke" in line, line


def test_a_password_typed_slowly_at_the_prompt_is_not_refused_as_an_expired_sign_in(clock_aws, jump_stack, tmp_path,
                                                                                    on_terminal):
    """Cognito's sign-in session lasts AuthSessionValidity (3 minutes) from InitiateAuth: a prompt shown after it
    gives a slow typist less time than that, and one taking longer is refused."""
    config = write_config(tmp_path / "config.ini", {"default": profile(jump_stack, password=None)})
    log = RequestLog(clock_aws["endpoint_url"])
    log.clear()
    run = on_terminal("--config", config, "--no-cache", "creds")
    run.wait_for("assword")
    advance_clock(clock_aws["endpoint_url"], 4 * 60)  # the user took four minutes to type it
    run.type("Alice-passw0rd!")
    code, _, stderr, terminal = run.finish()
    assert code == 0, (log.cognito_calls(), stderr)


def test_parallel_renewals_of_a_rotating_session_rotate_once_and_all_succeed(make_stack, admin_session, local_aws,
                                                                              tmp_path, request_log):
    stack = make_stack(f"attack-par-{uuid.uuid4().hex[:6]}")
    idp = admin_session.client("cognito-idp", endpoint_url=local_aws["endpoint_url"])
    idp.update_user_pool_client(UserPoolId=stack["user_pool_id"], ClientId=stack["client_id"],
                                ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"],
                                RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0})
    signed = write_config(tmp_path / "pw.ini", {"default": profile(stack)})
    nopw = write_config(tmp_path / "nopw.ini", {"default": profile(stack, password=None)})
    env = user_env(tmp_path)
    run = [*TOOL_COMMAND, "--config"]
    assert subprocess.run(run + [str(signed), "login"], env=env, capture_output=True, timeout=120).returncode == 0
    cache = session_files(tmp_path)[0]
    entry = json.loads(cache.read_text())
    entry["credentials"]["Expiration"] = "2000-01-01T00:00:00Z"
    cache.write_text(json.dumps(entry))
    os.chmod(cache, 0o600)
    request_log.clear()
    procs = [subprocess.Popen(run + [str(nopw), "creds", "--format", "process"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, start_new_session=True)
             for _ in range(6)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert request_log.cognito_calls().count("GetTokensFromRefreshToken") == 1, request_log.cognito_calls()


def test_parallel_forced_writers_of_one_profile_leave_one_section_botocore_reads(user_config, tmp_path):
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[profile work]\r\nregion = us-west-2\r\n")
    env = user_env(tmp_path, AWS_CONFIG_FILE=aws_config)
    configs = [user_config(name=f"c{i}.ini") for i in range(6)]
    procs = [subprocess.Popen([*TOOL_COMMAND, "--config", str(c), "aws-profile", "same", "--force"],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in configs]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    text = aws_config.read_text()
    assert text.count("same]") == 1, text
    profiles = botocore_profiles(aws_config)
    assert profiles["work"] == {"region": "us-west-2"} and "credential_process" in profiles["same"], text


@pytest.mark.parametrize("operation", ["CreateMultipartUpload", "CompleteMultipartUpload"])
def test_a_multipart_put_whose_credentials_die_at_its_first_or_last_step_finishes_byte_exact(
        clock_aws, jump_stack, alice, tmp_path, operation):
    source = random_file(tmp_path / "big.bin", 12 * 1024 * 1024)
    log, faults = RequestLog(clock_aws["endpoint_url"]), Faults(clock_aws["endpoint_url"])
    log.clear()
    faults.add(operation, times=1, action="delay", delay_ms=3000)
    try:
        proc = alice.start("put", source, "--key", f"edge/{operation}.bin")
        jump_while(clock_aws, proc, operation, log)
        out, err = proc.communicate(timeout=120)
    finally:
        faults.clear()
    assert proc.returncode == 0, err
    entries = log.entries()
    assert [e["operation"] for e in entries if e["status"] == 200].count("CreateMultipartUpload") == 1, entries
    stored = admin_s3(clock_aws).get_object(Bucket=jump_stack["bucket"],
                                            Key=f"{alice.identity}/edge/{operation}.bin")["Body"].read()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(source.read_bytes()).digest()


@pytest.mark.parametrize("command", ["sync up", "get"])
def test_a_folder_name_that_is_not_utf8_around_the_files_is_no_unexpected_error_under_a_utf8_locale(
        cli, user_config, tmp_path, prefix, command):
    """The files' own names are UTF-8, so their keys are fine; only the local folder's name is not. Python's stdout
    is strict under a UTF-8 locale such as en_US.UTF-8 (PYTHONIOENCODING says so here: this machine has only C)."""
    config = user_config()
    root = os.path.join(os.fsencode(tmp_path), b"caf\xe9")
    os.mkdir(root)
    with open(os.path.join(root, b"a.txt"), "wb") as handle:
        handle.write(b"a")
    assert cli("--config", config, "put", os.fsdecode(os.path.join(root, b"a.txt")), "--key",
               f"{prefix}/a.txt").returncode == 0
    args = {"sync up": ["sync", "up", root, f"{prefix}-synced".encode()],
            "get": ["get", f"{prefix}/a.txt".encode(), os.path.join(root, b"got.txt")]}[command]
    result = subprocess.run([*TOOL_COMMAND, "--config", str(config), *args], capture_output=True,
                            env=user_env(tmp_path, PYTHONIOENCODING="utf-8:strict"), cwd=tmp_path, timeout=120)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode in (0, 2) and "unexpected" not in stderr, stderr
    assert b"caf\\xe9" in result.stdout + result.stderr  # the path shown as shown_path shows it


def test_share_with_valid_credentials_but_a_revoked_refresh_token_still_gives_a_link(cli, make_stack, admin_client,
                                                                                    tmp_path):
    """share's default is the smaller of 1 hour and what the credentials have left: credentials valid for most
    of an hour are enough for a link, even when they can't be renewed."""
    stack = make_stack(f"attack-share-{uuid.uuid4().hex[:6]}")
    config = write_config(tmp_path / "config.ini", {"default": profile(stack)})
    (tmp_path / "s.txt").write_text("shared")
    assert cli("--config", config, "put", tmp_path / "s.txt", "--key", "s.txt").returncode == 0
    admin_client("cognito-idp").admin_user_global_sign_out(UserPoolId=stack["user_pool_id"], Username="alice")
    nopw = write_config(tmp_path / "nopw.ini", {"default": profile(stack, password=None)})
    assert cli("--config", nopw, "ls").returncode == 0  # the cached credentials still work
    result = cli("--config", nopw, "share", "s.txt")
    assert result.returncode == 0, result.stderr
    within = cli("--config", nopw, "share", "s.txt", "--expires", "30m")  # they last that long: no renewal
    assert within.returncode == 0, within.stderr
    beyond = cli("--config", nopw, "share", "s.txt", "--expires", "2h")  # a renewal is needed, and refused
    assert beyond.returncode == 3 and "password" in one_line_error(beyond), beyond.stderr
