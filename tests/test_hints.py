"""Messages that point the right way: refusals outside the own folder, share's default, rm of a folder,
teardown of a name that matches nothing, typos in the config and environment, a missing config.ini."""

import json
import uuid

import pytest

from helpers import admin, cognito_user_session, run_cli, user_env, write_config


@pytest.fixture(scope="module")
def bob_id(stack):
    """The identity id of the shared stack's bob."""
    return cognito_user_session(stack, "bob")[0]


# ---------------------------------------------------------------- refusals outside the own folder


@pytest.mark.parametrize("command", [["ls"], ["get", "notes.txt", "got.txt"]])
def test_a_refusal_in_another_users_folder_says_the_policy_allows_only_the_own_folder(files, bob_id, command):
    result = files(command[0], "--identity", bob_id, *command[1:])
    assert result.returncode == 4, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "only your own folder" in result.stderr and bob_id in result.stderr, result.stderr
    assert "not open to you" not in result.stderr and "typo" not in result.stderr


def test_a_refusal_at_an_amplify_access_level_says_the_policy_allows_only_the_own_folder(files):
    result = files("--level", "public", "ls")
    assert result.returncode == 4, result.stderr
    assert "only your own folder" in result.stderr and "public/" in result.stderr, result.stderr
    assert "not open to you" not in result.stderr


def test_a_wrong_bucket_is_still_called_not_open_to_you(cli, user_config, admin_client):
    other = f"other-{uuid.uuid4().hex[:8]}"
    admin_client("s3").create_bucket(Bucket=other)
    result = cli("--config", user_config(bucket=other), "ls")
    assert result.returncode == 4 and "not open to you" in result.stderr, result.stderr


# ---------------------------------------------------------------- share's default expiry


def test_share_at_its_default_warns_nothing_and_asking_for_more_than_the_credentials_warns(files, tmp_path):
    (tmp_path / "s.txt").write_text("shared")
    assert files("put", tmp_path / "s.txt", "--key", "hints/s.txt").returncode == 0
    default = files("--json", "share", "hints/s.txt")
    assert default.returncode == 0, default.stderr
    assert "warning" not in default.stderr, default.stderr
    assert 0 < json.loads(default.stdout)["expires_in"] <= 3600
    longer = files("share", "hints/s.txt", "--expires", "12h")
    assert longer.returncode == 0 and "warning: the link works for" in longer.stderr, longer.stderr


# ---------------------------------------------------------------- rm of a folder


def test_rm_of_a_key_that_is_a_folder_suggests_recursive(files, tmp_path):
    (tmp_path / "p.txt").write_text("photo")
    assert files("put", tmp_path / "p.txt", "--key", "hintfolder/p.txt").returncode == 0
    result = files("rm", "hintfolder")
    assert result.returncode == 4, result.stderr
    assert "rm --recursive hintfolder" in result.stderr, result.stderr
    assert "p.txt" in files("ls", "hintfolder/").stdout  # nothing was deleted
    plain = files("rm", "no-such-hint-key")
    assert plain.returncode == 4 and "--recursive" not in plain.stderr, plain.stderr


# ---------------------------------------------------------------- teardown of a name that matches nothing


def test_teardown_of_a_name_that_matches_nothing_exits_4(local_aws, tmp_path):
    result = admin(["teardown", "--name", "nomatch" + uuid.uuid4().hex[:8]], local_aws, tmp_path)
    assert result.returncode == 4, result.stderr
    assert "nothing" in result.stderr.splitlines()[-1] and "--name" in result.stderr, result.stderr


# ---------------------------------------------------------------- typos in the config and the environment


def test_an_unknown_profile_key_warns_once_with_the_closest_known_name(cli, user_config, tmp_path):
    config = user_config(usernmae="alice")
    result = cli("--config", config, "--no-cache", "creds")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "usernmae" in line]
    assert len(warnings) == 1 and "did you mean username?" in warnings[0], result.stderr


def test_an_unknown_environment_variable_warns_with_the_closest_known_name(cli, user_config):
    result = cli("--config", user_config(), "--no-cache", "creds", env_extra={"COG_AUTH_S3_USERNMAE": "bob"})
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "COG_AUTH_S3_USERNMAE" in line]
    assert len(warnings) == 1 and "did you mean COG_AUTH_S3_USERNAME?" in warnings[0], result.stderr
    quiet = cli("--config", user_config(), "creds", env_extra={"COG_AUTH_S3_MFA_CODE": "123456"})
    assert "warning" not in quiet.stderr, quiet.stderr


def test_a_missing_default_config_is_named_first(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("ls", env=user_env(tmp_path), cwd=elsewhere)
    assert result.returncode == 2
    assert result.stderr.startswith("cog-auth-s3: error: config file config.ini not found"), result.stderr
    assert str(elsewhere) in result.stderr
    written = write_config(elsewhere / "config.ini", {"default": {"username": "x"}})
    missing_key = run_cli("ls", env=user_env(tmp_path), cwd=elsewhere)
    assert missing_key.returncode == 2 and "missing 'region'" in missing_key.stderr and written.exists()
