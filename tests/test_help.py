"""The command line as declared: every command's --help, global options after the command, one tool name."""

import json
import re

import pytest

from helpers import write_config

import cog_auth_s3 as tool  # noqa: E402

POOL = "us-east-1:0e3c1111-2222-3333-4444-555555555555"
OTHER_POOL = "us-east-1:9f001111-2222-3333-4444-555555555555"


def words(text):
    """text with its whitespace collapsed, as argparse wraps it."""
    return " ".join(text.split())


@pytest.mark.parametrize("name", list(tool.COMMANDS))
def test_every_declared_command_has_a_description_and_an_example_in_its_help(cli, name):
    command = tool.COMMANDS[name]
    assert command.description and command.example.count("cog-auth-s3 " + name) == 1
    result = cli(name, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: cog-auth-s3 {name} ")
    assert words(command.description) in words(result.stdout)
    assert f"example:\n  {command.example}\n" in result.stdout
    usage = re.sub(r"\{[^}]*\}", "", result.stdout.split("\n\n")[0])  # choices are spelled as typed
    placeholders = [word for word in re.split(r"[\s\[\]]+", usage)[3:] if word and word[0] not in "-|."]
    assert placeholders and all(word.isupper() for word in placeholders), placeholders


def test_the_top_level_help_lists_every_declared_command(cli):
    result = cli("--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: cog-auth-s3 ")
    for name, command in tool.COMMANDS.items():
        assert re.search(rf"^    {re.escape(name)} +{re.escape(command.summary.split()[0])}", result.stdout, re.M), name


def test_global_options_are_accepted_after_the_command(cli):
    result = cli("ls", "--json", "--config", "elsewhere.ini", "--profile", "alice")
    assert result.returncode == 2
    assert result.stderr.startswith("cog-auth-s3: error: config file elsewhere.ini not found"), result.stderr
    setup = cli("setup", "--name", "demo", "--endpoint-url", "http://[::1")
    assert setup.returncode == 2 and "endpoint_url 'http://[::1' is not an http(s) URL" in setup.stderr, setup.stderr


def test_a_global_option_before_the_command_is_kept_when_the_command_does_not_repeat_it(cli, tmp_path):
    write_config(tmp_path / "mine.ini", {"default": {"bucket": "b-1", "identity_pool_id": POOL}})
    result = cli("--config", "mine.ini", "policy", "--json")
    assert result.returncode == 0, result.stderr
    assert POOL in result.stdout


def test_policy_reads_the_bucket_identity_pool_and_folder_from_the_profile(cli, tmp_path):
    write_config(tmp_path / "config.ini", {"default": {"bucket": "photos-1", "identity_pool_id": POOL,
                                                       "folder": "private/{identity_id}/"}})
    policies = json.loads(cli("policy").stdout)
    trust = json.dumps(policies["TrustPolicy"])
    permissions = json.dumps(policies["PermissionsPolicy"])
    assert POOL in trust
    assert "arn:aws:s3:::photos-1/private/${cognito-identity.amazonaws.com:sub}/*" in permissions
    flags = json.loads(cli("policy", "--bucket", "other-2", "--folder", "{identity_id}/").stdout)
    assert "arn:aws:s3:::other-2/${cognito-identity.amazonaws.com:sub}/*" in json.dumps(flags["PermissionsPolicy"])


def test_policy_ignores_the_profile_of_another_identity_pool(cli, tmp_path):
    write_config(tmp_path / "config.ini", {"default": {"bucket": "photos-1", "identity_pool_id": POOL}})
    result = cli("policy", "--identity-pool-id", OTHER_POOL)
    assert result.returncode == 2 and "policy needs the bucket and the identity pool" in result.stderr
    assert "photos-1" not in result.stdout


def test_policy_with_both_flags_needs_no_config(cli):
    result = cli("policy", "--bucket", "photos-1", "--identity-pool-id", POOL)
    assert result.returncode == 0, result.stderr
    assert "arn:aws:s3:::photos-1/${cognito-identity.amazonaws.com:sub}/*" in result.stdout


def test_a_usage_error_names_the_tool_as_installed_and_its_help(cli):
    result = cli("ls", "--no-such-option")
    assert result.returncode == 2
    assert result.stderr == "cog-auth-s3: error: unrecognized arguments: --no-such-option; see cog-auth-s3 --help\n"
