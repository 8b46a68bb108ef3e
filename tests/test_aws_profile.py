"""aws-profile: the AWS config profile it writes works with the AWS CLI, and the file is edited with care."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import TOOL_COMMAND, user_env


def aws(tmp_path, *args, aws_config):
    """Run the AWS CLI as the user: no AWS keys, only the written config file."""
    env = user_env(tmp_path, AWS_CONFIG_FILE=aws_config, AWS_SHARED_CREDENTIALS_FILE=tmp_path / "none")
    return subprocess.run([str(Path(sys.executable).with_name("aws")), *map(str, args)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_the_written_profile_lets_the_aws_cli_act_as_the_user(cli, user_config, tmp_path, stack):
    config = user_config()
    aws_config = tmp_path / "dot-aws" / "config"
    made = cli("--config", config, "--json", "aws-profile", "cognito-alice", env_extra={"AWS_CONFIG_FILE": aws_config})
    assert made.returncode == 0, made.stderr
    report = json.loads(made.stdout)
    assert report["status"] == "created" and report["path"] == str(aws_config)
    assert "--quiet creds --format process" in report["values"]["credential_process"]
    assert str(config) in report["values"]["credential_process"]
    assert aws_config.stat().st_mode & 0o777 == 0o600
    identity = json.loads(cli("--config", config, "creds", "--format", "json").stdout)["IdentityId"]
    own = f"s3://{stack['bucket']}/{identity}/"
    upload = aws(tmp_path, "--profile", "cognito-alice", "s3", "cp", tmp_path / "hello.txt", own + "via-profile.txt",
                 aws_config=aws_config)
    assert upload.returncode == 0, upload.stderr
    listing = aws(tmp_path, "--profile", "cognito-alice", "s3", "ls", own, aws_config=aws_config)
    assert listing.returncode == 0 and "via-profile.txt" in listing.stdout, listing.stderr
    others = aws(tmp_path, "--profile", "cognito-alice", "s3", "ls", f"s3://{stack['bucket']}/", aws_config=aws_config)
    assert others.returncode != 0 and "AccessDenied" in others.stderr


def test_other_profiles_and_comments_are_kept_and_a_rerun_changes_nothing(cli, user_config, tmp_path):
    config = user_config()
    aws_config = tmp_path / "aws-config"
    original = "# my settings\n[default]\nregion = eu-west-1\n\n[profile work]\n; keep me\nregion = us-west-2\n"
    aws_config.write_text(original)
    aws_config.chmod(0o640)
    env = {"AWS_CONFIG_FILE": aws_config}
    assert cli("--config", config, "aws-profile", "me", env_extra=env).returncode == 0
    text = aws_config.read_text()
    assert text.startswith(original) and "[profile me]\ncredential_process = " in text
    assert aws_config.stat().st_mode & 0o777 == 0o640
    again = cli("--config", config, "aws-profile", "me", env_extra=env)
    assert again.returncode == 0 and again.stdout.startswith("exists [profile me]")
    assert aws_config.read_text() == text


def test_a_different_existing_profile_is_refused_without_force(cli, user_config, tmp_path):
    config = user_config()
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[profile me]\nregion = eu-west-1\n\n[profile other]\nregion = us-west-2\n")
    env = {"AWS_CONFIG_FILE": aws_config}
    refused = cli("--config", config, "aws-profile", "me", env_extra=env)
    assert refused.returncode == 2 and "--force" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert "credential_process" not in aws_config.read_text()
    forced = cli("--config", config, "aws-profile", "me", "--force", env_extra=env)
    assert forced.returncode == 0, forced.stderr
    text = aws_config.read_text()
    assert "eu-west-1" not in text and "[profile other]\nregion = us-west-2\n" in text
    assert text.count("[profile me]") == 1 and "credential_process" in text


def test_a_profile_that_cannot_sign_in_is_refused_before_writing(cli, tmp_path):
    aws_config = tmp_path / "aws-config"
    result = cli("aws-profile", "me", env_extra={"AWS_CONFIG_FILE": aws_config})
    assert result.returncode == 2 and "missing" in result.stderr
    assert not aws_config.exists()


def test_the_installed_command_writes_its_own_absolute_path(user_config, tmp_path):
    command = Path(sys.executable).with_name("cog-auth-s3")  # `make` installs the project into the venv
    aws_config = tmp_path / "aws-config"
    env = user_env(tmp_path, AWS_CONFIG_FILE=aws_config)
    version = subprocess.run([str(command), "--version"], env=env, capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("cog-auth-s3 "), version.stderr
    made = subprocess.run([str(command), "--config", str(user_config()), "aws-profile", "me"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert f"credential_process = {command} --config " in aws_config.read_text()


def test_an_aws_config_that_is_not_a_regular_file_is_refused_unread(cli, user_config, tmp_path):
    result = cli("--config", user_config(), "aws-profile", "me", env_extra={"AWS_CONFIG_FILE": "/dev/zero"},
                 timeout=30)
    assert result.returncode == 2 and "not a regular file" in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_linked_aws_config_is_updated_where_it_lives_and_stays_a_link(cli, user_config, tmp_path):
    target = tmp_path / "dotfiles" / "aws-config"
    target.parent.mkdir()
    target.write_text("[profile work]\nregion = us-west-2\n")
    link = tmp_path / "aws-config"
    link.symlink_to(target)
    assert cli("--config", user_config(), "aws-profile", "me", env_extra={"AWS_CONFIG_FILE": link}).returncode == 0
    assert link.is_symlink() and "[profile me]" in target.read_text() and "[profile work]" in target.read_text()


def botocore_profiles(aws_config):
    """The profiles botocore reads from an AWS config file (it raises on a file it can't parse)."""
    from botocore.configloader import load_config

    return load_config(str(aws_config))["profiles"]


def test_a_header_with_spaces_or_a_comment_is_the_same_profile_as_botocore_reads_it(cli, user_config, tmp_path):
    config = user_config()
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[default]\nregion = eu-west-1\n\n  [profile   me]   # main\nregion = us-west-2\n")
    env = {"AWS_CONFIG_FILE": aws_config}
    refused = cli("--config", config, "aws-profile", "me", env_extra=env)
    assert refused.returncode == 2 and "--force" in refused.stderr, refused.stderr
    forced = cli("--config", config, "aws-profile", "me", "--force", env_extra=env)
    assert forced.returncode == 0, forced.stderr
    profiles = botocore_profiles(aws_config)  # one [profile me]: botocore parses the file
    assert "credential_process" in profiles["me"] and profiles["default"] == {"region": "eu-west-1"}
    assert aws_config.read_text().count("me]") == 1


@pytest.mark.parametrize("name", ["", " ", "x\n[default", "a b", "a[b", "a]b", "a#b", "a;b", "tab\tname"])
def test_a_profile_name_the_aws_cli_would_not_accept_is_exit_2_and_nothing_is_written(cli, user_config, tmp_path,
                                                                                      name):
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[profile work]\nregion = us-west-2\n")
    result = cli("--config", user_config(), "aws-profile", name, env_extra={"AWS_CONFIG_FILE": aws_config})
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "profile name" in result.stderr, result.stderr
    assert aws_config.read_text() == "[profile work]\nregion = us-west-2\n"


def test_parallel_runs_keep_every_profile(user_config, tmp_path):
    config = user_config()
    aws_config = tmp_path / "aws-config"
    env = user_env(tmp_path, AWS_CONFIG_FILE=aws_config)
    for trial in range(3):
        names = [f"p{trial}-{i}" for i in range(6)]
        procs = [subprocess.Popen([*TOOL_COMMAND, "--config", str(config), "aws-profile", name], env=env,
                                  cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for name in names]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        assert set(names) <= set(botocore_profiles(aws_config)), aws_config.read_text()
