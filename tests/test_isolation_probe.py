"""`run --try-identity`: the isolation probe tries every verb of the role policy on another user's folder."""

import json

import pytest

from conftest import PASSWORDS, SUB, least_privilege, write_config


def with_leak(*statements):
    """least_privilege plus the given mistaken statements (built per bucket)."""
    def permissions(bucket):
        policy = least_privilege(bucket)
        policy["Statement"] = policy["Statement"] + [statement(bucket) for statement in statements]
        return policy
    return permissions


def leak_get(bucket):
    return {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}


def leak_list(bucket):
    return {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}


def leak_delete(bucket):
    return {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/*"}


def users(cli, tmp_path, stack):
    """A config with profiles alice and bob on stack; bob has uploaded bob.txt. Returns (config, bob's id)."""
    (tmp_path / "bob.txt").write_text("bob's private notes\n")
    (tmp_path / "alice.txt").write_text("alice's file\n")
    values = {k: v for k, v in stack.items() if k not in ("role", "client_secret")}
    config = write_config(tmp_path / "probe.ini", {
        user: dict(values, username=user, password=PASSWORDS[user], upload_file=tmp_path / f"{user}.txt")
        for user in PASSWORDS})
    bob = cli("--config", config, "--profile", "bob", "--json")
    assert bob.returncode == 0, bob.stderr
    return config, json.loads(bob.stdout)["identity_id"]


def probe(cli, config, bob, *extra):
    """alice's `--json run --try-identity bob`: (exit code, the isolation report)."""
    result = cli("--config", config, "--profile", "alice", "--json", "run", "--try-identity", bob, *extra)
    assert result.returncode in (0, 5), result.stderr
    return result.returncode, json.loads(result.stdout)["isolation"]


def results(isolation):
    return {verb: item["result"] for verb, item in isolation["verbs"].items()}


def test_a_policy_leaking_read_and_list_is_caught_on_read(cli, make_stack, tmp_path, admin_client):
    # The case: PutObject only in the own folder, but GetObject and ListBucket on the whole bucket.
    stack = make_stack("leakread", permissions=lambda bucket: {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/{SUB}/*"},
        leak_get(bucket), leak_list(bucket)]})
    config, bob = users(cli, tmp_path, stack)
    text = cli("--config", config, "--profile", "alice", "run", "--try-identity", bob)
    assert text.returncode == 5, text.stderr
    assert f"read:            ALLOWED: s3://{stack['bucket']}/{bob}/bob.txt" in text.stdout
    assert "does not isolate users" in text.stderr
    code, isolation = probe(cli, config, bob)
    assert code == 5 and isolation["verdict"] == "broken"
    assert results(isolation) == {"write": "refused", "delete": "refused", "list": "allowed", "read": "allowed"}
    assert isolation["verbs"]["read"]["uri"] == f"s3://{stack['bucket']}/{bob}/bob.txt"
    # bob's data is untouched and no probe object was left behind
    keys = [o["Key"] for o in admin_client("s3").list_objects_v2(Bucket=stack["bucket"], Prefix=f"{bob}/")["Contents"]]
    assert keys == [f"{bob}/bob.txt"]


@pytest.mark.parametrize("name,leak,verb", [("leakdelete", leak_delete, "delete"), ("leaklist", leak_list, "list")])
def test_a_policy_leaking_one_verb_is_caught_on_that_verb(cli, make_stack, tmp_path, name, leak, verb):
    config, bob = users(cli, tmp_path, make_stack(name, permissions=with_leak(leak)))
    code, isolation = probe(cli, config, bob)
    assert code == 5 and isolation["verdict"] == "broken"
    assert [v for v, result in results(isolation).items() if result == "allowed"] == [verb]


def test_a_read_leak_without_list_needs_try_key_and_is_then_caught(cli, make_stack, tmp_path):
    config, bob = users(cli, tmp_path, make_stack("leakgetonly", permissions=with_leak(leak_get)))
    code, isolation = probe(cli, config, bob)
    assert results(isolation)["read"] == "not tested" and "--try-key" in isolation["verbs"]["read"]["detail"]
    assert code == 0 and "read not tested" in isolation["message"]
    code, isolation = probe(cli, config, bob, "--try-key", "bob.txt")
    assert code == 5 and results(isolation)["read"] == "allowed"


def test_least_privilege_holds_for_every_verb_tested(cli, stack, tmp_path):
    config, bob = users(cli, tmp_path, stack)
    code, isolation = probe(cli, config, bob)
    assert code == 0 and isolation["verdict"] == "holds"
    assert results(isolation) == {"write": "refused", "delete": "refused", "list": "refused", "read": "not tested"}
    assert "read not tested" in isolation["message"]
    code, isolation = probe(cli, config, bob, "--try-key", "bob.txt")
    assert code == 0 and set(results(isolation).values()) == {"refused"}
    assert "every verb refused" in isolation["message"]


def test_try_key_without_try_identity_is_a_usage_error(cli, user_config):
    result = cli("--config", user_config(), "run", "--try-key", "x.txt")
    assert result.returncode == 2 and "--try-identity" in result.stderr
