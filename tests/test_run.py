"""The seed flow run as a user would: sign in, credentials, upload, isolation check, exit codes."""

import json
import os
import pty
import re
import select
import socket
import sys
import time

import pytest

from helpers import PASSWORDS, TOOL_COMMAND, user_env, write_config

IDENTITY_LINE = re.compile(r"^Identity id:\s+(\S+)$", re.M)


def identity_of(result):
    """The identity id printed by a text-mode run."""
    match = IDENTITY_LINE.search(result.stdout)
    assert match, result.stdout + result.stderr
    return match.group(1)


def test_run_uploads_the_file_into_the_users_identity_folder(cli, user_config, admin_client, stack, tmp_path):
    config = user_config()
    result = cli("--config", config)
    assert result.returncode == 0, result.stderr
    identity_id = identity_of(result)
    for label in ("ID token:", "Identity id:", "Access key id:", "Secret access key:", "Session token:",
                  "Expiration:", "Uploaded:"):
        assert re.search(rf"^{label}\s+\S", result.stdout, re.M), label
    uri = f"s3://{stack['bucket']}/{identity_id}/hello.txt"
    assert uri in result.stdout
    body = admin_client("s3").get_object(Bucket=stack["bucket"], Key=f"{identity_id}/hello.txt")["Body"].read()
    assert body == (tmp_path / "hello.txt").read_bytes()


def test_json_output_holds_every_fact(cli, user_config, stack):
    result = cli("--config", user_config(), "--json", "--no-cache")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["id_token"].count(".") == 2
    assert re.fullmatch(r"us-east-1:[0-9a-f-]{36}", report["identity_id"])
    assert report["access_key_id"] and report["secret_access_key"] and report["session_token"]
    assert report["expiration"].endswith("Z")
    assert report["uri"] == f"s3://{stack['bucket']}/{report['identity_id']}/hello.txt"
    assert report["size"] == len("hello from cog_auth_s3\n")
    assert report["etag"].strip('"')


def test_the_word_run_is_optional(cli, user_config):
    config = user_config()
    with_word = cli("--config", config, "--json", "--no-cache", "run")
    without = cli("--config", config, "--json", "--no-cache")
    assert with_word.returncode == without.returncode == 0, with_word.stderr + without.stderr
    assert json.loads(with_word.stdout)["uri"] == json.loads(without.stdout)["uri"]


def test_identity_id_is_the_same_across_runs(cli, user_config):
    config = user_config()
    first = json.loads(cli("--config", config, "--json", "--no-cache").stdout)
    second = json.loads(cli("--config", config, "--json", "--no-cache").stdout)
    assert first["identity_id"] == second["identity_id"]


def test_password_from_the_environment(cli, user_config):
    config = user_config(password=None)
    result = cli("--config", config, "--no-cache", env_extra={"COG_AUTH_S3_PASSWORD": PASSWORDS["alice"]})
    assert result.returncode == 0, result.stderr


def test_environment_overrides_the_file_and_flags_override_both(cli, user_config, stack):
    config = user_config(bucket="no-such-bucket-in-file", endpoint_url="http://127.0.0.1:9")
    result = cli("--config", config, "--no-cache", "--endpoint-url", stack["endpoint_url"],
                 env_extra={"COG_AUTH_S3_BUCKET": stack["bucket"], "COG_AUTH_S3_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert result.returncode == 0, result.stderr


def test_password_from_a_prompt_on_a_terminal(user_config, tmp_path):
    config = user_config(password=None)
    pid, fd = pty.fork()
    if pid == 0:  # the child: the tool on a real terminal
        os.chdir(tmp_path)
        os.execve(sys.executable, [*TOOL_COMMAND, "--config", str(config), "--no-cache"],
                  user_env(tmp_path))
    transcript = read_until(fd, b"Password for alice:")
    os.write(fd, PASSWORDS["alice"].encode() + b"\n")
    transcript += read_until(fd, None)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, transcript.decode(errors="replace")
    assert b"Uploaded:" in transcript
    assert PASSWORDS["alice"].encode() not in transcript  # getpass does not echo


def read_until(fd, marker, timeout=60):
    """Read a pty until marker appears (or EOF when marker is None)."""
    data, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline and (marker is None or marker not in data):
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            data += chunk
    return data


def test_password_needed_without_a_terminal_exits_2(cli, user_config):
    result = cli("--config", user_config(password=None), "--no-cache")
    assert result.returncode == 2
    assert "COG_AUTH_S3_PASSWORD" in result.stderr and len(result.stderr.splitlines()) == 1


def test_wrong_password_exits_3_without_revealing_it(cli, user_config):
    result = cli("--config", user_config(password="Wrong-passw0rd!"), "--no-cache")
    assert result.returncode == 3, result.stderr
    assert "incorrect username or password" in result.stderr
    assert "Wrong-passw0rd!" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_unknown_user_exits_3(cli, user_config):
    result = cli("--config", user_config(username="mallory", password="Whatever-1"), "--no-cache")
    assert result.returncode == 3, result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_missing_bucket_exits_4(cli, user_config):
    result = cli("--config", user_config(bucket="no-such-bucket-here"), "--no-cache")
    assert result.returncode == 4, result.stderr
    assert "no-such-bucket-here" in result.stderr and "bucket" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_connection_refused_ends_quickly_with_a_clear_message(cli, user_config):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    result = cli("--config", user_config(endpoint_url=f"http://127.0.0.1:{closed_port}"), "--no-cache",
                 timeout=60)
    assert result.returncode == 4
    assert f"127.0.0.1:{closed_port}" in result.stderr and "endpoint_url" in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("drop", ["user_pool_id", "bucket", "username"])
def test_missing_key_exits_2_naming_it(cli, user_config, drop):
    result = cli("--config", user_config(**{drop: None}), "--no-cache")
    assert result.returncode == 2
    assert f"'{drop}'" in result.stderr and f"COG_AUTH_S3_{drop.upper()}" in result.stderr


def test_missing_section_exits_2_listing_the_sections(cli, user_config):
    result = cli("--config", user_config(), "--profile", "nosuch", "--no-cache")
    assert result.returncode == 2
    assert "[nosuch]" in result.stderr and "default" in result.stderr


def test_missing_config_file_exits_2(cli, tmp_path):
    result = cli("--config", tmp_path / "absent.ini")
    assert result.returncode == 2 and "not found" in result.stderr


@pytest.mark.parametrize("value,needle", [
    ("us-east-1", "user_pool_id"),       # no region prefix
    ("eu-west-1_AbC", "make them agree"),  # another region than the profile's
])
def test_malformed_pool_id_exits_2(cli, user_config, value, needle):
    result = cli("--config", user_config(user_pool_id=value), "--no-cache")
    assert result.returncode == 2 and needle in result.stderr


def test_missing_upload_file_exits_2_before_signing_in(cli, user_config, tmp_path):
    result = cli("--config", user_config(upload_file=tmp_path / "nope.txt", endpoint_url="http://127.0.0.1:9"))
    assert result.returncode == 2 and "nope.txt" in result.stderr


def test_upload_file_that_is_a_folder_exits_2(cli, user_config, tmp_path):
    result = cli("--config", user_config(upload_file=tmp_path))
    assert result.returncode == 2 and "folder" in result.stderr


SECRET = "hunter2-Xq9"


@pytest.mark.parametrize("argv", [
    ["--password", SECRET, "ls"], [f"--password={SECRET}", "ls"], ["put", "x.txt", "--pass", SECRET],
    ["--client-secret", SECRET], ["--new-password", SECRET, "creds"],
])
def test_a_password_option_is_refused_without_echoing_its_value(cli, argv):
    result = cli(*argv)
    assert result.returncode == 2 and SECRET not in result.stderr + result.stdout
    assert f"{argv[0].partition('=')[0] if argv[0] != 'put' else '--pass'} is not an option" in result.stderr
    assert "COG_AUTH_S3_PASSWORD" in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("argv", [
    ["--token", SECRET, "ls"], [f"--token={SECRET}"], ["ls", "x", "--session-token", SECRET], ["-p", SECRET],
    ["--mfa-code", SECRET, "--level", SECRET], ["--mfa-code", SECRET, f"--no-cache={SECRET}"],
    ["--otp", f"{SECRET} with spaces", "ls"], ["--mfa-code", f"{SECRET}'\\", "--level", f"{SECRET}'\\"],
])
def test_no_usage_error_echoes_a_value_given_after_a_secret_option(cli, argv):
    result = cli(*argv)
    assert result.returncode == 2 and SECRET not in result.stderr + result.stdout
    assert "<hidden>" in result.stderr and len(result.stderr.splitlines()) == 1


def test_malformed_try_identity_is_a_usage_error(cli, user_config):
    result = cli("--config", user_config(), "--try-identity", "bob")
    assert result.returncode == 2 and "<region>:<uuid>" in result.stderr


def test_try_identity_on_another_users_folder_is_refused(cli, user_config, admin_client, stack):
    bob = json.loads(cli("--config", user_config("bob"), "--json", "--no-cache").stdout)["identity_id"]
    result = cli("--config", user_config("alice"), "--json", "--no-cache", "run", "--try-identity", bob)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["isolation"]["verdict"] == "holds"
    listed = admin_client("s3").list_objects_v2(Bucket=stack["bucket"], Prefix=f"{bob}/")
    assert all(item["Key"] != f"{bob}/hello.txt" or item["Size"] for item in listed.get("Contents", []))


@pytest.fixture(scope="module")
def leaky_stack(make_stack):
    """A stack whose role lets any user write anywhere in the bucket: the mistake --try-identity catches."""
    return make_stack("leaky", permissions=lambda bucket: {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
         "Resource": f"arn:aws:s3:::{bucket}/*"}]})


def leaky_config(tmp_path, leaky_stack, alice_file, bob_file):
    """Profiles alice and bob on the leaky stack, each uploading their own file."""
    values = {k: v for k, v in leaky_stack.items() if k not in ("role", "client_secret")}
    files = {"alice": alice_file, "bob": bob_file}
    return write_config(tmp_path / "leaky.ini", {
        user: dict(values, username=user, password=PASSWORDS[user], upload_file=files[user]) for user in PASSWORDS})


def test_leaky_role_policy_exits_5_and_deletes_the_probe(cli, leaky_stack, tmp_path, admin_client):
    (tmp_path / "probe.txt").write_text("probe\n")
    (tmp_path / "bob.txt").write_text("bob's own\n")
    config = leaky_config(tmp_path, leaky_stack, tmp_path / "probe.txt", tmp_path / "bob.txt")
    bob = json.loads(cli("--config", config, "--profile", "bob", "--json", "--no-cache").stdout)["identity_id"]
    result = cli("--config", config, "--profile", "alice", "--no-cache", "--try-identity", bob)
    assert result.returncode == 5, result.stderr
    assert "does not isolate users" in result.stderr and "probe object was deleted" in result.stdout
    keys = [o["Key"] for o in admin_client("s3").list_objects_v2(Bucket=leaky_stack["bucket"],
                                                                  Prefix=f"{bob}/").get("Contents", [])]
    assert f"{bob}/bob.txt" in keys and not any("cog-auth-s3-probe" in key for key in keys)


def test_leaky_probe_never_overwrites_the_other_users_file(cli, leaky_stack, tmp_path, admin_client):
    (tmp_path / "same.txt").write_text("alice's probe\n")
    bob_dir = tmp_path / "bobs"
    bob_dir.mkdir()
    (bob_dir / "same.txt").write_text("bob's precious data\n")
    config = leaky_config(tmp_path, leaky_stack, tmp_path / "same.txt", bob_dir / "same.txt")
    bob = json.loads(cli("--config", config, "--profile", "bob", "--json", "--no-cache").stdout)["identity_id"]
    result = cli("--config", config, "--profile", "alice", "--no-cache", "--try-identity", bob)
    assert result.returncode == 5, result.stderr
    body = admin_client("s3").get_object(Bucket=leaky_stack["bucket"], Key=f"{bob}/same.txt")["Body"].read()
    assert body == b"bob's precious data\n"


def test_unexpected_failure_exits_1_in_one_line_and_traces_with_debug(monkeypatch, capsys, tmp_path):
    import cog_auth_s3

    def broken(args, out):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(cog_auth_s3.COMMANDS["logout"], "handler", broken)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cog_auth_s3.main(["logout"]) == 1
    err = capsys.readouterr().err
    assert "simulated bug" in err and "--debug" in err and "Traceback" not in err
    with pytest.raises(RuntimeError):
        cog_auth_s3.main(["--debug", "logout"])


def test_a_broken_config_line_is_reported_without_its_text(cli, tmp_path):
    config = tmp_path / "broken.ini"
    config.write_text("password = Sup3r-secret!\n[default]\nregion = us-east-1\n")
    result = cli("--config", config)
    assert result.returncode == 2 and "line 1" in result.stderr
    assert "Sup3r-secret!" not in result.stderr


def test_try_identity_naming_your_own_identity_is_a_usage_error(cli, user_config):
    config = user_config()
    me = json.loads(cli("--config", config, "--json").stdout)["identity_id"]
    result = cli("--config", config, "--try-identity", me)
    assert result.returncode == 2 and "your own identity" in result.stderr


def test_a_missing_aws_profile_is_one_clear_line(cli, user_config):
    result = cli("--config", user_config(), "--no-cache", env_extra={"AWS_PROFILE": "nope"})
    assert result.returncode == 2 and "AWS_PROFILE" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_an_aws_config_file_that_does_not_parse_is_one_clear_line_exit_2(cli, user_config, tmp_path):
    (tmp_path / "aws-config").write_text("[profile broken\nregion = eu-west-1\n  continued\n")
    result = cli("--config", user_config(), "--no-cache", env_extra={"AWS_CONFIG_FILE": str(tmp_path / "aws-config")})
    assert result.returncode == 2 and "AWS_CONFIG_FILE" in result.stderr
    assert len(result.stderr.splitlines()) == 1
