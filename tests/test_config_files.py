"""The user's files: a config that is no config, unreadable or exposed; a cache in the wrong shape;
duplicate pools named by setup and teardown. Each ends in one clear line, or a warning and a run that goes on."""

import json
import os
import stat
import subprocess
import uuid

import pytest

import cog_auth_s3 as tool
from helpers import (PASSWORDS, TOOL_COMMAND, run_cli, session_file, user_env, without_root_file_access,
                     write_config)

CACHE = os.path.join("cache", "cog-auth-s3")


# ---------------------------------------------------------------- a config that is not a config


@pytest.mark.parametrize("kind", ["device", "fifo", "huge"])
def test_a_config_that_is_not_a_small_regular_file_is_refused_before_reading(cli, tmp_path, kind):
    if kind == "device":
        path = "/dev/zero"  # read as text it grew the tool to gigabytes
    elif kind == "fifo":
        path = tmp_path / "config.fifo"
        os.mkfifo(path)  # opening it for reading would wait for a writer forever
    else:
        path = tmp_path / "huge.ini"
        path.write_text("[default]\nregion = us-east-1\n" + "# padding\n" * 200_000)
    result = cli("--config", path, "creds", timeout=30)
    assert result.returncode == 2, result.stderr
    assert str(path) in result.stderr and ("not a regular file" in result.stderr or "too large" in result.stderr)
    assert len(result.stderr.splitlines()) == 1


def test_an_unreadable_config_says_permission_denied(user_config, tmp_path):
    config = user_config()
    os.chmod(config, 0)
    result = subprocess.run([*TOOL_COMMAND, "--config", str(config), "creds"], env=user_env(tmp_path),
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            preexec_fn=without_root_file_access)
    assert result.returncode == 2, result.stderr
    assert f"permission denied: {config}" in result.stderr and "sections" not in result.stderr


def test_a_config_starting_with_a_utf8_bom_is_read(cli, user_config):
    config = user_config()
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())  # as Notepad saves "UTF-8"
    result = cli("--config", config, "--no-cache", "creds", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["IdentityId"]


# ---------------------------------------------------------------- a password others can read


def test_a_config_with_a_password_readable_by_others_is_warned_about_once(cli, user_config, tmp_path):
    config = user_config()
    os.chmod(config, 0o644)
    exposed = cli("--config", config, "creds")
    assert exposed.returncode == 0, exposed.stderr
    warnings = [line for line in exposed.stderr.splitlines() if "readable by others" in line]
    assert warnings == [f"warning: config {config} holds a password and is readable by others; "
                        f"run chmod 600 {config}"]
    os.chmod(config, 0o600)
    private = cli("--config", config, "creds")
    assert private.returncode == 0 and "readable by others" not in private.stderr
    shared = write_config(tmp_path / "shared.ini", {"default": {"region": "us-east-1"}})
    os.chmod(shared, 0o644)  # pool ids alone are no secret: a team may share them
    assert "readable by others" not in cli("--config", shared, "creds").stderr


def test_setup_tightens_a_config_that_holds_a_password_to_0600(tmp_path):
    config = tmp_path / "config.ini"
    config.write_text(f"[alice]\nusername = alice\npassword = {PASSWORDS['alice']}\n")
    os.chmod(config, 0o644)
    tool.write_profile(str(config), tool.load_ini(str(config)), "default", {"region": "us-east-1"})
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert PASSWORDS["alice"] in config.read_text()  # the other profile is kept


# ---------------------------------------------------------------- the cache in the wrong shape


def test_a_folder_where_the_cache_file_should_be_is_warned_about_once(cli, user_config, tmp_path, stack):
    folder = session_file(tmp_path, stack)
    folder.mkdir(parents=True)
    result = cli("--config", user_config(), "creds", "--format", "process")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["AccessKeyId"]
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1 and f"{folder.name} in it is a folder" in warnings[0], warnings
    assert "continuing without it" in warnings[0]
    logout = cli("logout")
    assert logout.returncode == 0 and "no cached session" in logout.stderr, logout.stderr


def test_a_corrupt_cache_is_warned_about_once_not_twice(cli, user_config, tmp_path, stack):
    config = user_config()
    assert cli("--config", config, "creds").returncode == 0
    session_file(tmp_path, stack).write_text("{\"version\": 1, \"credentials\": tru")
    result = cli("--config", config, "creds")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("ignoring corrupt credential cache") == 1, result.stderr


def test_a_cache_folder_that_is_a_link_is_refused_and_its_target_left_alone(cli, user_config, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o755)
    os.chmod(target, 0o755)
    (tmp_path / "cache").mkdir()
    os.symlink(target, tmp_path / CACHE)
    config = user_config()
    for _ in range(2):  # the second run must not read through the link either
        result = cli("--config", config, "creds", "--format", "process")
        assert result.returncode == 0, result.stderr
        assert result.stderr.count("symbolic link") == 1 and "continuing without it" in result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o755 and list(target.iterdir()) == []


def test_a_relative_xdg_cache_home_is_ignored_for_the_home_cache(cli, user_config, tmp_path, stack):
    result = cli("--config", user_config(), "creds", env_extra={"XDG_CACHE_HOME": "relative-cache"})
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "relative-cache").exists()
    assert (tmp_path / "home" / ".cache" / "cog-auth-s3" / session_file(tmp_path, stack).name).is_file()


# ---------------------------------------------------------------- provisioning names


def admin(args, local_aws, tmp_path, extra_env=None):
    """Run the tool in tmp_path with the local administrator's keys and endpoint."""
    env = user_env(tmp_path, AWS_ACCESS_KEY_ID=local_aws["aws_access_key_id"],
                   AWS_SECRET_ACCESS_KEY=local_aws["aws_secret_access_key"], AWS_DEFAULT_REGION="us-east-1",
                   **(extra_env or {}))
    return run_cli("--endpoint-url", local_aws["endpoint_url"], *args, env=env, cwd=tmp_path)


def test_duplicate_identity_pools_are_named_with_the_one_the_profile_uses(local_aws, admin_client, tmp_path):
    # Two setups run at once can each create the pool (Cognito names are not unique), as seen on AWS.
    name = "t" + uuid.uuid4().hex[:12]
    identity = admin_client("cognito-identity")
    ids = [identity.create_identity_pool(IdentityPoolName=name, AllowUnauthenticatedIdentities=False)
           ["IdentityPoolId"] for _ in range(2)]
    write_config(tmp_path / "config.ini", {"default": {"region": "us-east-1", "identity_pool_id": ids[1]}})
    for command in (["teardown", "--name", name], ["setup", "--name", name]):
        result = admin(command, local_aws, tmp_path)
        assert result.returncode == 4, result.stderr
        error = result.stderr.splitlines()[-1]
        assert f"2 identity pools are named {name}: {ids[0]}, {ids[1]}" in error
        assert f"[default] of config.ini uses {ids[1]}" in error
    assert len([p for page in identity.get_paginator("list_identity_pools").paginate(MaxResults=60)
                for p in page["IdentityPools"] if p["IdentityPoolName"] == name]) == 2  # neither command deleted one


def test_add_user_with_an_empty_name_says_so(local_aws, tmp_path):
    write_config(tmp_path / "config.ini", {"default": {"region": "us-east-1", "user_pool_id": "us-east-1_Abc"}})
    result = admin(["add-user", ""], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": "Whatever-1234!"})
    assert result.returncode == 2, result.stderr
    assert "username is empty" in result.stderr and len(result.stderr.splitlines()) == 1
