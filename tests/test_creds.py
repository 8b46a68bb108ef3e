"""Credentials the way people use them: the cache, refresh, creds formats, the AWS CLI, challenges."""

import datetime
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from helpers import PASSWORDS, TOOL, TOOL_COMMAND, session_files, user_env


def cache_file(tmp_path):
    """The user's one credential cache file (a path that does not exist when there is none)."""
    files = session_files(tmp_path)
    assert len(files) <= 1, files
    return files[0] if files else tmp_path / "cache" / "cog-auth-s3" / "no-session.json"


def expire_cache_soon(tmp_path, minutes=10):
    """Make the cached credentials look as if only `minutes` were left."""
    path = cache_file(tmp_path)
    entry = json.loads(path.read_text())
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    entry["credentials"]["Expiration"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps(entry))
    os.chmod(path, 0o600)


def test_a_second_run_within_the_lifetime_makes_no_cognito_call(cli, user_config, request_log):
    config = user_config()
    assert cli("--config", config, "creds").returncode == 0
    assert request_log.cognito_calls() == ["InitiateAuth", "RespondToAuthChallenge", "GetId",
                                           "GetCredentialsForIdentity"]
    request_log.clear()
    second = cli("--config", config, "creds", "--format", "process")
    assert second.returncode == 0, second.stderr
    assert request_log.entries() == []
    request_log.clear()
    warm_run = cli("--config", config, "--json")
    assert warm_run.returncode == 0, warm_run.stderr
    assert request_log.operations() == ["PutObject"]  # the warm seed flow is just the upload
    assert json.loads(warm_run.stdout)["credentials_source"] == "cache"


def test_cache_files_are_0600_in_a_0700_folder_without_the_password(cli, user_config, tmp_path):
    assert cli("--config", user_config(), "creds").returncode == 0
    path = cache_file(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert PASSWORDS["alice"] not in text
    entry = json.loads(text)
    assert entry["refresh_token"] and entry["identity_id"] and entry["credentials"]["Expiration"]


def test_expiring_credentials_are_renewed_with_the_refresh_token(cli, user_config, tmp_path, request_log):
    assert cli("--config", user_config(), "creds").returncode == 0
    expire_cache_soon(tmp_path)
    request_log.clear()
    # No password anywhere and no terminal: only the refresh token can succeed.
    result = cli("--config", user_config(password=None), "creds", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert request_log.cognito_calls() == ["InitiateAuth", "GetCredentialsForIdentity"]
    renewed = json.loads(cache_file(tmp_path).read_text())["credentials"]["Expiration"]
    assert renewed == json.loads(result.stdout)["Expiration"]
    assert datetime.datetime.fromisoformat(renewed.replace("Z", "+00:00")) > \
        datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=30)


def test_a_refused_refresh_token_falls_back_to_a_password_sign_in(cli, user_config, tmp_path, request_log):
    assert cli("--config", user_config(), "creds").returncode == 0
    expire_cache_soon(tmp_path)
    entry = json.loads(cache_file(tmp_path).read_text())
    entry["refresh_token"] = "revoked-or-expired"
    cache_file(tmp_path).write_text(json.dumps(entry))
    request_log.clear()
    result = cli("--config", user_config(), "creds")
    assert result.returncode == 0, result.stderr
    assert "RespondToAuthChallenge" in request_log.cognito_calls()


def test_a_corrupt_cache_is_ignored_with_a_warning_and_rewritten(cli, user_config, tmp_path):
    config = user_config()
    assert cli("--config", config, "creds").returncode == 0
    cache_file(tmp_path).write_bytes(b"{\"version\": 1, \"credentials\": tru")
    result = cli("--config", config, "creds", "--format", "process")
    assert result.returncode == 0, result.stderr
    assert "corrupt" in result.stderr
    assert json.loads(cache_file(tmp_path).read_text())["credentials"]["AccessKeyId"]


def test_a_cache_readable_by_others_is_not_trusted(cli, user_config, tmp_path, request_log):
    config = user_config()
    assert cli("--config", config, "creds").returncode == 0
    os.chmod(cache_file(tmp_path), 0o644)
    request_log.clear()
    result = cli("--config", config, "creds")
    assert result.returncode == 0 and "readable by others" in result.stderr
    assert "RespondToAuthChallenge" in request_log.cognito_calls()
    assert stat.S_IMODE(cache_file(tmp_path).stat().st_mode) == 0o600


def test_parallel_refreshes_leave_a_valid_cache_and_sign_in_once(user_config, tmp_path, request_log):

    config = user_config()
    env = user_env(tmp_path)
    procs = [subprocess.Popen([*TOOL_COMMAND, "--config", str(config), "creds", "--format", "process"],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outputs]
    keys = {json.loads(out)["AccessKeyId"] for out, _ in outputs}
    assert len(keys) == 1  # one sign-in served all four
    assert request_log.cognito_calls().count("InitiateAuth") == 1
    assert json.loads(cache_file(tmp_path).read_text())["credentials"]["AccessKeyId"] in keys
    name = cache_file(tmp_path).name
    assert sorted(p.name for p in cache_file(tmp_path).parent.iterdir()) == [name, name + ".lock"]


def test_logout_deletes_the_cache_and_no_cache_bypasses_it(cli, user_config, tmp_path):
    config = user_config()
    assert cli("--config", config, "creds").returncode == 0
    assert cache_file(tmp_path).exists()
    assert cli("--config", config, "logout").returncode == 0
    assert not cache_file(tmp_path).exists()
    assert cli("--config", config, "--no-cache", "creds").returncode == 0
    assert not cache_file(tmp_path).exists()


def test_creds_formats_for_shells_and_credential_process(cli, user_config):
    config = user_config()
    process = json.loads(cli("--config", config, "creds", "--format", "process").stdout)
    assert process["Version"] == 1
    assert set(process) == {"Version", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    datetime.datetime.fromisoformat(process["Expiration"].replace("Z", "+00:00"))
    env_lines = cli("--config", config, "creds", "--format", "env").stdout.splitlines()
    exported = dict(line[len("export "):].split("=", 1) for line in env_lines)
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"} <= set(exported)
    assert exported["AWS_ACCESS_KEY_ID"] == process["AccessKeyId"]


def test_warm_creds_imports_neither_boto3_nor_pycognito(cli, user_config, tmp_path):
    config = user_config()
    assert cli("--config", config, "creds").returncode == 0

    result = subprocess.run([sys.executable, "-X", "importtime", str(TOOL), "--config", str(config), "creds",
                             "--format", "process"], env=user_env(tmp_path), cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in ("boto3", "botocore", "pycognito", "s3transfer")}
    assert "threading" not in imported  # the module's own locks are _thread's, made at import
    assert "json" in imported  # the import log really was read


CLIENT_MODULES = ("boto3", "s3transfer", "botocore.session", "botocore.client")  # what making an S3 client imports


def imports_of(config, tmp_path, *args):
    """Run the tool with -X importtime as the installed command runs it; (the run, the modules it imported)."""
    result = subprocess.run([sys.executable, "-X", "importtime", *TOOL_COMMAND[1:], "--config", str(config), *args],
                            env=user_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    return result, {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}


def test_warm_small_file_commands_import_no_boto3_and_make_no_client(cli, user_config, tmp_path, request_log):
    config = user_config()
    assert cli("--config", config, "creds").returncode == 0
    (tmp_path / "small.txt").write_text("a small file\n")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "a.txt").write_text("a\n")
    request_log.clear()
    commands = [("put", str(tmp_path / "small.txt"), "--key", "lean/small.txt"),
                ("put", "--recursive", str(tmp_path / "tree"), "--key", "lean/tree"),
                ("get", "--recursive", "lean", str(tmp_path / "back")),
                ("sync", "up", str(tmp_path / "tree"), "lean/synced"),
                ("sync", "down", "lean/synced", str(tmp_path / "down"))]
    for command in commands:
        result, imported = imports_of(config, tmp_path, *command)
        assert result.returncode == 0, result.stderr
        assert "botocore.auth" in imported  # the import log really was read, and the direct path ran
        assert not {m for m in imported if m in CLIENT_MODULES or m.split(".")[0] == "boto3"}, command
    assert (tmp_path / "back" / "small.txt").read_text() == "a small file\n"
    assert (tmp_path / "down" / "a.txt").read_text() == "a\n"
    assert sorted(set(request_log.operations("s3"))) == ["GetObject", "ListObjectsV2", "PutObject"]


def aws_cli(tmp_path, config, *args):
    """Run the AWS CLI with a credential_process profile that calls this tool."""
    wrapper = tmp_path / "cog-creds"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {TOOL} --config {config} creds --format process\n")
    wrapper.chmod(0o700)
    aws_config = tmp_path / "aws-config"
    aws_config.write_text(f"[profile cognito]\ncredential_process = {wrapper}\nregion = us-east-1\n")

    env = user_env(tmp_path, AWS_CONFIG_FILE=aws_config, AWS_SHARED_CREDENTIALS_FILE=tmp_path / "none",
                   AWS_PROFILE="cognito")
    aws = Path(sys.executable).with_name("aws")
    return subprocess.run([str(aws), *map(str, args)], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)


def test_the_aws_cli_acts_as_the_user_through_credential_process(cli, user_config, tmp_path, stack):
    config = user_config()
    identity = json.loads(cli("--config", config, "creds", "--format", "json").stdout)["IdentityId"]
    bob = json.loads(cli("--config", user_config("bob", name="bob.ini"), "--no-cache", "creds",
                         "--format", "json").stdout)["IdentityId"]
    endpoint = ["--endpoint-url", stack["endpoint_url"]]
    own = f"s3://{stack['bucket']}/{identity}/"
    upload = aws_cli(tmp_path, config, *endpoint, "s3", "cp", tmp_path / "hello.txt", own + "via-cli.txt")
    assert upload.returncode == 0, upload.stderr
    listing = aws_cli(tmp_path, config, *endpoint, "s3", "ls", own)
    assert listing.returncode == 0 and "via-cli.txt" in listing.stdout, listing.stderr
    refused = aws_cli(tmp_path, config, *endpoint, "s3", "cp", tmp_path / "hello.txt",
                      f"s3://{stack['bucket']}/{bob}/via-cli.txt")
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr
    refused_list = aws_cli(tmp_path, config, *endpoint, "s3", "ls", f"s3://{stack['bucket']}/{bob}/")
    assert refused_list.returncode != 0 and "AccessDenied" in refused_list.stderr


def test_a_cache_with_wrongly_typed_fields_is_ignored_not_fatal(cli, user_config, tmp_path):
    config = user_config()
    assert cli("--config", config, "creds").returncode == 0
    entry = json.loads(cache_file(tmp_path).read_text())
    entry.update(id_token="x.WzFd.y", refresh_token=12345)  # a JWT whose payload is [1], a number
    cache_file(tmp_path).write_text(json.dumps(entry))
    result = cli("--config", config, "creds", "--format", "process")
    assert result.returncode == 0, result.stderr
    assert "corrupt" in result.stderr and "12345" not in result.stderr


def test_an_unusable_cache_folder_means_a_warning_not_a_failure(cli, user_config, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = cli("--config", user_config(), "creds", env_extra={"XDG_CACHE_HOME": blocker})
    assert result.returncode == 0, result.stderr
    assert "continuing without it" in result.stderr
