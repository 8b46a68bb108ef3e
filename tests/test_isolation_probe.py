"""`run --try-identity`: the isolation probe tries, on another user's folder and the bucket root, every request
that leaves that user's data as it was, and names what it can't try."""

import json

import boto3
import pytest

from helpers import PASSWORDS, SUB, cognito_user_session, least_privilege, write_config


def with_leak(*statements):
    """least_privilege plus the given mistaken statements (built per bucket)."""
    def permissions(bucket):
        policy = least_privilege(bucket)
        policy["Statement"] = policy["Statement"] + [statement(bucket) for statement in statements]
        return policy
    return permissions


def on_objects(*actions):
    """A mistaken statement: actions on every object of the bucket."""
    return lambda bucket: {"Effect": "Allow", "Action": list(actions), "Resource": f"arn:aws:s3:::{bucket}/*"}


def on_bucket(*actions):
    """A mistaken statement: actions on the bucket itself."""
    return lambda bucket: {"Effect": "Allow", "Action": list(actions), "Resource": f"arn:aws:s3:::{bucket}"}


leak_get, leak_list, leak_delete = on_objects("s3:GetObject"), on_bucket("s3:ListBucket"), on_objects("s3:DeleteObject")


def users(cli, tmp_path, stack):
    """A config with profiles alice and bob on stack; bob has put bob.txt in his folder with his own session
    (signed in by SRP in the test: the tool's run is what alice's probe tests). Returns (config, bob's id)."""
    (tmp_path / "bob.txt").write_text("bob's private notes\n")
    (tmp_path / "alice.txt").write_text("alice's file\n")
    values = {k: v for k, v in stack.items() if k not in ("role", "client_secret")}
    config = write_config(tmp_path / "probe.ini", {
        user: dict(values, username=user, password=PASSWORDS[user], upload_file=tmp_path / f"{user}.txt")
        for user in PASSWORDS})
    bob, credentials = cognito_user_session(stack, "bob")
    boto3.client("s3", region_name=stack["region"], endpoint_url=stack["endpoint_url"],
                 aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretKey"],
                 aws_session_token=credentials["SessionToken"]).put_object(
        Bucket=stack["bucket"], Key=f"{bob}/bob.txt", Body=(tmp_path / "bob.txt").read_bytes())
    return config, bob


def probe(cli, config, bob, *extra):
    """alice's `--json run --try-identity bob`: (exit code, the isolation report)."""
    result = cli("--config", config, "--profile", "alice", "--json", "run", "--try-identity", bob, *extra)
    assert result.returncode in (0, 5), result.stderr
    return result.returncode, json.loads(result.stdout)["isolation"]


def results(isolation):
    return {verb: item["result"] for verb, item in isolation["verbs"].items()}


def allowed(isolation):
    """The (action, permission) pairs S3 allowed."""
    return {(e["action"], e["permission"]) for e in isolation["actions"] if e["result"] == "allowed"}


def bobs_objects(admin_client, bucket, bob):
    """Every version of every object in bob's folder, with its bytes: what the probe must leave as it was."""
    s3 = admin_client("s3")
    versions = s3.list_object_versions(Bucket=bucket, Prefix=f"{bob}/").get("Versions", [])
    return {(v["Key"], v["VersionId"]): s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])[
        "Body"].read() for v in versions}


def test_a_policy_leaking_read_and_list_is_caught_on_read(cli, make_stack, tmp_path, admin_client):
    # The case: PutObject only in the own folder, but GetObject and ListBucket on the whole bucket.
    stack = make_stack("leakread", permissions=lambda bucket: {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/{SUB}/*"},
        leak_get(bucket), leak_list(bucket)]})
    config, bob = users(cli, tmp_path, stack)
    text = cli("--config", config, "--profile", "alice", "run", "--try-identity", bob)
    assert text.returncode == 5, text.stderr
    assert f"ALLOWED   GetObject            s3://{stack['bucket']}/{bob}/bob.txt (S3 answered it)" in text.stdout
    assert "isolation is BROKEN: ListObjectsV2, GetObject, HeadObject ALLOWED" in text.stdout
    assert "does not isolate users" in text.stderr
    code, isolation = probe(cli, config, bob)
    assert code == 5 and isolation["verdict"] == "broken" and not isolation["refused"]
    assert results(isolation) == {"write": "refused", "delete": "refused", "list": "allowed", "read": "allowed"}
    assert allowed(isolation) == {("ListObjectsV2", "s3:ListBucket"), ("GetObject", "s3:GetObject"),
                                  ("HeadObject", "s3:GetObject")}
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
    assert code == 0 and "reads of their objects not tried" in isolation["message"]
    assert "GetObject" in [item["action"] for item in isolation["not_tested"]]
    code, isolation = probe(cli, config, bob, "--try-key", "bob.txt")
    assert code == 5 and results(isolation)["read"] == "allowed"


def test_least_privilege_holds_for_the_actions_tried_and_names_the_rest(cli, stack, tmp_path, admin_client):
    config, bob = users(cli, tmp_path, stack)
    before = bobs_objects(admin_client, stack["bucket"], bob)
    code, isolation = probe(cli, config, bob)
    assert code == 0 and isolation["verdict"] == "holds" and isolation["refused"]
    assert results(isolation) == {"write": "refused", "delete": "refused", "list": "refused", "read": "not tested"}
    assert {e["result"] for e in isolation["actions"]} == {"refused"}
    tried = {e["permission"] for e in isolation["actions"]}
    assert {"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads", "s3:PutObject",
            "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:AbortMultipartUpload"} <= tried
    # their folder and the bucket root (no prefix, and an empty one), each listed all three ways, with and
    # without a delimiter
    listed = {(e["action"], e["uri"]) for e in isolation["actions"] if e["verb"] == "list"}
    assert listed == {(action, f"s3://{stack['bucket']}/{where}{query}")
                      for where, queries in ((f"{bob}/", ("", "?delimiter=/")),
                                             ("", ("", "?delimiter=/", "?prefix=", "?prefix=&delimiter=/")))
                      for query in queries
                      for action in ("ListObjectsV2", "ListObjectVersions", "ListMultipartUploads")}
    assert isolation["message"].startswith(f"isolation holds for the {len(tried)} actions tried")
    assert "`doctor`" in isolation["message"] and "PutObjectAcl" in isolation["message"]
    never = {item["action"] for item in isolation["not_tested"]}
    assert {"PutObjectAcl", "PutObjectTagging", "PutBucketPolicy"} <= never
    assert bobs_objects(admin_client, stack["bucket"], bob) == before


def test_a_read_of_a_key_no_listing_showed_is_unproven(cli, stack, tmp_path):
    config, bob = users(cli, tmp_path, stack)
    code, isolation = probe(cli, config, bob, "--try-key", "bob.txt")
    assert code == 0 and isolation["verdict"] == "holds"
    reads = [e for e in isolation["actions"] if e["verb"] == "read"]
    assert len(reads) == 10 and {e["result"] for e in reads} == {"unproven"}
    assert "unproven: GetObject" in isolation["message"] and "bob.txt" in isolation["message"]
    # the reads are not counted among the actions isolation holds for
    held = {e["permission"] for e in isolation["actions"] if e["result"] == "refused"}
    assert isolation["message"].startswith(f"isolation holds for the {len(held)} actions tried")
    assert "s3:GetObject" not in held
    text = cli("--config", config, "--profile", "alice", "run", "--try-identity", bob, "--try-key", "bob.txt")
    assert text.returncode == 0 and "unproven  GetObject" in text.stdout


# Each class of read-side leak the issue names, in the role's policy: the probe must catch it on the
# request S3 checks that permission for. (action, permission) pairs below must all be allowed.
READ_LEAKS = {
    "versions": (with_leak(on_bucket("s3:ListBucketVersions"),
                           on_objects("s3:GetObjectVersion", "s3:DeleteObjectVersion")), (),
                 {("ListObjectVersions", "s3:ListBucketVersions"), ("GetObject", "s3:GetObjectVersion"),
                  ("HeadObject", "s3:GetObjectVersion"), ("DeleteObject", "s3:DeleteObjectVersion")}),
    "getobjectv-star": (with_leak(on_objects("s3:GetObjectV*")), ("--try-key", "bob.txt"),
                        {("GetObject", "s3:GetObjectVersion"), ("HeadObject", "s3:GetObjectVersion"),
                         ("GetObjectTagging", "s3:GetObjectVersionTagging"),
                         ("GetObjectAcl", "s3:GetObjectVersionAcl")}),
    "multipart-uploads": (with_leak(on_bucket("s3:ListBucketMultipartUploads")), (),
                          {("ListMultipartUploads", "s3:ListBucketMultipartUploads")}),
    "tagging": (with_leak(on_objects("s3:GetObjectTagging")), ("--try-key", "bob.txt"),
                {("GetObjectTagging", "s3:GetObjectTagging")}),
    "acl": (with_leak(on_objects("s3:GetObjectAcl")), ("--try-key", "bob.txt"),
            {("GetObjectAcl", "s3:GetObjectAcl")}),
    "attributes": (with_leak(on_objects("s3:GetObject", "s3:GetObjectAttributes")), ("--try-key", "bob.txt"),
                   {("GetObjectAttributes", "s3:GetObjectAttributes")}),
    "abort-uploads": (with_leak(on_objects("s3:AbortMultipartUpload")), (),
                      {("AbortMultipartUpload", "s3:AbortMultipartUpload")}),
}


@pytest.mark.parametrize("leak", list(READ_LEAKS))
def test_each_read_side_leak_is_caught_on_its_own_request(leak, cli, make_stack, tmp_path, admin_client):
    permissions, extra, expected = READ_LEAKS[leak]
    stack = make_stack(f"probe-{leak}", permissions=permissions)
    config, bob = users(cli, tmp_path, stack)
    admin_client("s3").create_multipart_upload(Bucket=stack["bucket"], Key=f"{bob}/big.bin")
    before = bobs_objects(admin_client, stack["bucket"], bob)
    code, isolation = probe(cli, config, bob, *extra)
    assert code == 5 and isolation["verdict"] == "broken", isolation["message"]
    assert expected <= allowed(isolation), isolation["actions"]
    assert all(action in isolation["message"] for action, _ in expected)
    assert bobs_objects(admin_client, stack["bucket"], bob) == before


def test_a_listing_condition_with_if_exists_leaks_the_root_listing(cli, make_stack, tmp_path, admin_client):
    # StringLikeIfExists lets a listing without any prefix through: every user's keys, at the bucket root.
    stack = make_stack("probe-ifexists", permissions=lambda bucket: dict(least_privilege(bucket), Statement=[
        s for s in least_privilege(bucket)["Statement"] if s["Action"] != "s3:ListBucket"] + [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLikeIfExists": {"s3:prefix": [f"{SUB}/", f"{SUB}/*"]}}}]))
    config, bob = users(cli, tmp_path, stack)
    code, isolation = probe(cli, config, bob)
    assert code == 5 and isolation["verdict"] == "broken"
    root = [e for e in isolation["actions"] if e["action"] == "ListObjectsV2" and e["uri"] == f"s3://{stack['bucket']}/"]
    assert root[0]["result"] == "allowed" and f"{bob}/bob.txt" in root[0]["detail"]
    theirs = [e for e in isolation["actions"] if e["action"] == "ListObjectsV2" and e["uri"].endswith(f"{bob}/")]
    assert theirs[0]["result"] == "refused"  # their prefix is refused: only the root listing leaks
    # the key the root listing showed is read, and the reads' refusals are proven
    reads = [e for e in isolation["actions"] if e["verb"] == "read"]
    assert reads and {e["result"] for e in reads} == {"refused"}


@pytest.mark.parametrize("name,condition", [
    ("probe-delimiter", {"StringEquals": {"s3:delimiter": "/"}}),  # any prefix, when listed by folders
    ("probe-emptyprefix", {"StringLike": {"s3:prefix": ["", f"{SUB}/*"]}}),  # the root, with prefix=
])
def test_a_listing_let_through_by_another_condition_is_caught(name, condition, cli, make_stack, tmp_path):
    stack = make_stack(name, permissions=with_leak(lambda bucket: {
        "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}", "Condition": condition}))
    config, bob = users(cli, tmp_path, stack)
    code, isolation = probe(cli, config, bob)
    assert code == 5 and ("ListObjectsV2", "s3:ListBucket") in allowed(isolation)
    assert any(bob in e["detail"] for e in isolation["actions"] if e["result"] == "allowed")


def test_a_bucket_policy_granting_the_role_versions_is_caught(cli, make_stack, tmp_path, admin_client):
    stack = make_stack("probe-bucketpolicy")
    role = admin_client("iam").get_role(RoleName=stack["role"])["Role"]["Arn"]
    admin_client("s3").put_bucket_policy(Bucket=stack["bucket"], Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": role},
                                                "Action": "s3:GetObjectVersion",
                                                "Resource": f"arn:aws:s3:::{stack['bucket']}/*"}]}))
    config, bob = users(cli, tmp_path, stack)
    code, isolation = probe(cli, config, bob, "--try-key", "bob.txt")
    assert code == 5 and ("GetObject", "s3:GetObjectVersion") in allowed(isolation)


def test_in_a_versioned_bucket_a_leaky_probe_leaves_no_version_or_delete_marker(cli, make_stack, tmp_path,
                                                                                 admin_client):
    stack = make_stack("probe-versioned", permissions=with_leak(
        on_objects("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion")))
    s3 = admin_client("s3")
    s3.put_bucket_versioning(Bucket=stack["bucket"], VersioningConfiguration={"Status": "Enabled"})
    config, bob = users(cli, tmp_path, stack)
    before = bobs_objects(admin_client, stack["bucket"], bob)
    code, isolation = probe(cli, config, bob)
    assert code == 5 and {("PutObject", "s3:PutObject"), ("DeleteObject", "s3:DeleteObject"),
                          ("DeleteObject", "s3:DeleteObjectVersion")} <= allowed(isolation)
    listing = s3.list_object_versions(Bucket=stack["bucket"], Prefix=f"{bob}/")
    assert not listing.get("DeleteMarkers") and bobs_objects(admin_client, stack["bucket"], bob) == before


def test_try_key_without_try_identity_is_a_usage_error(cli, user_config):
    result = cli("--config", user_config(), "run", "--try-key", "x.txt")
    assert result.returncode == 2 and "--try-identity" in result.stderr
