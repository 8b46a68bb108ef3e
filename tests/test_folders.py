"""Folder templates and Amplify apps: every command works in the template's folder, and isolation holds there."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

import cog_auth_s3 as tool
from helpers import PASSWORDS, REGION, SUB, write_config

POOL = f"{REGION}:11111111-2222-3333-4444-555555555555"
TEMPLATES = {"plain": "{identity_id}/", "private": "private/{identity_id}/", "photos": "media/{identity_id}/photos/"}


def tool_policy(template):
    """The permissions `policy --folder TEMPLATE` prints (role_policies is what it prints)."""
    return lambda bucket: tool.role_policies(bucket, f"{REGION}:00000000-0000-0000-0000-000000000000", REGION,
                                             template)["PermissionsPolicy"]


def amplify_gen1_policy(bucket):
    """The authenticated role's S3 statements as Amplify Gen 1 (amplify add storage) generates them."""
    arn = f"arn:aws:s3:::{bucket}"
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
         "Resource": [f"{arn}/public/*"]},
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
         "Resource": [f"{arn}/protected/{SUB}/*"]},
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
         "Resource": [f"{arn}/private/{SUB}/*"]},
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": [f"{arn}/uploads/*"]},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{arn}/protected/*"]},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [arn],
         "Condition": {"StringLike": {"s3:prefix": ["public/", "public/*", "protected/", "protected/*",
                                                    f"private/{SUB}/", f"private/{SUB}/*"]}}},
    ]}


@pytest.fixture(scope="module")
def template_stacks(make_stack):
    """One stack per template, its role policy made by the tool for that template."""
    return {name: make_stack(f"folders-{name}", permissions=tool_policy(template))
            for name, template in TEMPLATES.items()}


@pytest.fixture(scope="module")
def gen1_stack(make_stack):
    """A stack whose role carries Amplify Gen 1's storage policy."""
    return make_stack("folders-gen1", permissions=amplify_gen1_policy)


def profile(stack, username, **extra):
    """A profile's values for one user of a stack."""
    values = {k: v for k, v in stack.items() if k not in ("role", "client_secret")}
    return {**values, "username": username, "password": PASSWORDS[username], **extra}


def user_s3(cli, config, prof="default"):
    """(identity id, boto3 S3 client) with the user's own temporary credentials, as `creds` prints them."""
    result = cli("--config", config, "--profile", prof, "creds", "--format", "json")
    assert result.returncode == 0, result.stderr
    creds = json.loads(result.stdout)
    client = boto3.client("s3", region_name=REGION, endpoint_url=config_endpoint(config),
                          aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"])
    return creds["IdentityId"], client


def config_endpoint(config):
    """The endpoint_url written in a config file."""
    for line in open(config):
        if line.startswith("endpoint_url"):
            return line.split("=", 1)[1].strip()
    raise AssertionError("no endpoint_url in " + str(config))


def denied(call, **params):
    """True when S3 refuses the call with AccessDenied."""
    try:
        call(**params)
    except ClientError as err:
        return err.response["Error"]["Code"] in ("AccessDenied", "403")
    return False


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_isolation_holds_in_each_templates_folder(name, template_stacks, cli, tmp_path):
    stack, template = template_stacks[name], TEMPLATES[name]
    config = write_config(tmp_path / "config.ini", {"alice": profile(stack, "alice", folder=template),
                                                    "bob": profile(stack, "bob", folder=template)})
    alice, alice_s3 = user_s3(cli, config, "alice")
    bob, _ = user_s3(cli, config, "bob")
    mine, theirs = tool.user_folder(template, alice), tool.user_folder(template, bob)
    (tmp_path / "note.txt").write_text("mine")

    put = cli("--config", config, "--profile", "alice", "--json", "put", tmp_path / "note.txt", "--key", "a/note.txt")
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["uploaded"][0]["key"] == mine + "a/note.txt"
    listing = cli("--config", config, "--profile", "alice", "--json", "ls")
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout)["folder"] == mine
    assert [o["key"] for o in json.loads(listing.stdout)["objects"]] == ["a/note.txt"]
    got = cli("--config", config, "--profile", "alice", "get", f"s3://{stack['bucket']}/{mine}a/note.txt",
              tmp_path / "back.txt")
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "back.txt").read_text() == "mine"

    # The other identity's folder and the folder's parent, with alice's own credentials, straight to S3.
    bucket = stack["bucket"]
    assert denied(alice_s3.put_object, Bucket=bucket, Key=theirs + "x.txt", Body=b"x")
    assert denied(alice_s3.get_object, Bucket=bucket, Key=theirs + "x.txt")
    assert denied(alice_s3.list_objects_v2, Bucket=bucket, Prefix=theirs)
    assert denied(alice_s3.list_objects_v2, Bucket=bucket, Prefix=template.partition("{identity_id}")[0])
    assert not denied(alice_s3.list_objects_v2, Bucket=bucket, Prefix=mine)

    # The tool itself refuses to name the other folder, and its probe tries it under the same template.
    outside = cli("--config", config, "--profile", "alice", "rm", f"s3://{bucket}/{theirs}x.txt")
    assert outside.returncode == 2 and "outside your folder" in outside.stderr
    probe = cli("--config", config, "--profile", "alice", "--json", "run", "--upload-file", tmp_path / "note.txt",
                "--try-identity", bob)
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout)
    assert report["uri"] == f"s3://{bucket}/{mine}note.txt"
    assert theirs in json.dumps(report["isolation"])


def test_policy_prints_the_templates_least_privilege_policy(cli):
    result = cli("policy", "--bucket", "my-bucket", "--identity-pool-id", POOL, "--folder", "private/{identity_id}/")
    assert result.returncode == 0, result.stderr
    permissions = json.loads(result.stdout)["PermissionsPolicy"]
    assert permissions == tool_policy("private/{identity_id}/")("my-bucket")
    assert f"arn:aws:s3:::my-bucket/private/{SUB}/*" in json.dumps(permissions)


@pytest.mark.parametrize("template", ["{identity_id}", "private/{identity_id}", "public/", "a/{identity_id}x/"])
def test_malformed_templates_are_refused_before_any_request(cli, user_config, template, request_log):
    config = user_config()
    as_key = cli("--config", config, "ls", env_extra={"COG_AUTH_S3_FOLDER": template})
    as_flag = cli("policy", "--bucket", "my-bucket", "--identity-pool-id", POOL,
                  "--folder", template)
    for result in (as_key, as_flag):
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("cog-auth-s3: error: ") and result.stderr.count("\n") == 1
        assert "{identity_id}" in result.stderr
    assert request_log.entries() == []


def test_a_missing_slash_is_explained(cli):
    result = cli("policy", "--bucket", "my-bucket", "--identity-pool-id", POOL,
                 "--folder", "{identity_id}")
    assert "one user's folder would include another's" in result.stderr


def gen1_file(path, stack):
    """amplifyconfiguration.json as Amplify Gen 1 writes it for a JavaScript app (aws-exports keys)."""
    path.write_text(json.dumps({
        "aws_project_region": stack["region"], "aws_cognito_identity_pool_id": stack["identity_pool_id"],
        "aws_cognito_region": stack["region"], "aws_user_pools_id": stack["user_pool_id"],
        "aws_user_pools_web_client_id": stack["client_id"], "oauth": {},
        "aws_cognito_username_attributes": [], "aws_cognito_signup_attributes": ["EMAIL"],
        "aws_user_files_s3_bucket": stack["bucket"], "aws_user_files_s3_bucket_region": stack["region"],
    }, indent=4))
    return path


def gen1_config(tmp_path, stack):
    """Only who signs in and where local_aws is; the Amplify file gives the rest."""
    return write_config(tmp_path / "config.ini", {
        user: {"username": user, "password": PASSWORDS[user], "endpoint_url": stack["endpoint_url"]}
        for user in ("alice", "bob")})


def test_amplify_gen1_levels_reach_private_protected_and_public(cli, gen1_stack, tmp_path):
    amplify = gen1_file(tmp_path / "amplifyconfiguration.json", gen1_stack)
    config = gen1_config(tmp_path, gen1_stack)
    bucket = gen1_stack["bucket"]
    (tmp_path / "f.txt").write_text("bob's protected file")

    def as_user(user, *args):
        return cli("--config", config, "--profile", user, "--amplify-config", amplify, "--json", *args)

    bob_id = json.loads(as_user("bob", "creds").stdout)["IdentityId"]
    private = as_user("alice", "put", tmp_path / "f.txt", "--key", "p.txt")  # default level: private
    assert private.returncode == 0, private.stderr
    assert json.loads(private.stdout)["uploaded"][0]["key"].startswith("private/us-east-1:")
    protected = as_user("bob", "--level", "protected", "put", tmp_path / "f.txt", "--key", "shared.txt")
    assert protected.returncode == 0, protected.stderr
    assert json.loads(protected.stdout)["uploaded"][0]["key"] == f"protected/{bob_id}/shared.txt"

    # Alice reads bob's protected folder, as Amplify allows...
    listing = as_user("alice", "--level", "protected", "ls", "--identity", bob_id)
    assert listing.returncode == 0, listing.stderr
    assert [o["key"] for o in json.loads(listing.stdout)["objects"]] == ["shared.txt"]
    got = as_user("alice", "--level", "protected", "get", "shared.txt", tmp_path / "got.txt", "--identity", bob_id)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "got.txt").read_text() == "bob's protected file"
    # ...but may not write there: the tool won't name it, and S3 refuses alice's own credentials.
    write = as_user("alice", "--level", "protected", "put", tmp_path / "f.txt", "--key",
                    f"s3://{bucket}/protected/{bob_id}/evil.txt")
    assert write.returncode == 2 and "outside your folder" in write.stderr
    creds = json.loads(as_user("alice", "creds").stdout)
    alice_s3 = boto3.client("s3", region_name=REGION, endpoint_url=gen1_stack["endpoint_url"],
                            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"])
    assert denied(alice_s3.put_object, Bucket=bucket, Key=f"protected/{bob_id}/evil.txt", Body=b"x")
    assert denied(alice_s3.get_object, Bucket=bucket, Key=f"private/{bob_id}/p.txt")
    # --identity is for reading only, and only names a per-user folder.
    assert as_user("alice", "--level", "protected", "rm", "x", "--identity", bob_id).returncode == 2
    assert as_user("alice", "--level", "public", "ls", "--identity", bob_id).returncode == 2

    public = as_user("alice", "--level", "public", "put", tmp_path / "f.txt", "--key", "everyone.txt")
    assert public.returncode == 0, public.stderr
    assert json.loads(public.stdout)["uploaded"][0]["key"] == "public/everyone.txt"
    seen = as_user("bob", "--level", "public", "ls")
    assert "everyone.txt" in [o["key"] for o in json.loads(seen.stdout)["objects"]]


def test_a_gen2_amplify_outputs_file_drives_run(cli, make_stack, tmp_path):
    stack = make_stack("folders-gen2", permissions=tool_policy("media/{identity_id}/"))
    outputs = tmp_path / "amplify_outputs.json"
    outputs.write_text(json.dumps({
        "version": "1.4",
        "auth": {"aws_region": stack["region"], "user_pool_id": stack["user_pool_id"],
                 "user_pool_client_id": stack["client_id"], "identity_pool_id": stack["identity_pool_id"],
                 "mfa_configuration": "NONE", "username_attributes": ["email"],
                 "unauthenticated_identities_enabled": True},
        "storage": {"aws_region": stack["region"], "bucket_name": stack["bucket"], "buckets": [{
            "name": "media", "bucket_name": stack["bucket"], "aws_region": stack["region"],
            "paths": {"media/{entity_id}/*": {"entityidentity": ["get", "list", "write", "delete"]},
                      "public/*": {"authenticated": ["get", "list"], "guest": ["get", "list"]}}}]},
    }))
    (tmp_path / "hello.txt").write_text("from a Gen 2 app")
    result = cli("--json", "--amplify-config", outputs, "--endpoint-url", stack["endpoint_url"], "run",
                 "--upload-file", tmp_path / "hello.txt",
                 env_extra={"COG_AUTH_S3_USERNAME": "alice", "COG_AUTH_S3_PASSWORD": PASSWORDS["alice"]})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["uri"] == f"s3://{stack['bucket']}/media/{report['identity_id']}/hello.txt"


def test_the_profile_wins_over_the_amplify_file(cli, stack, tmp_path):
    outputs = tmp_path / "amplify_outputs.json"
    outputs.write_text(json.dumps({"version": "1.4", "auth": {
        "aws_region": "us-east-1", "user_pool_id": stack["user_pool_id"], "user_pool_client_id": stack["client_id"],
        "identity_pool_id": stack["identity_pool_id"]}, "storage": {"aws_region": "us-east-1",
                                                                   "bucket_name": "amplify-bucket-not-used"}}))
    config = write_config(tmp_path / "config.ini", {"default": {
        "username": "alice", "password": PASSWORDS["alice"], "bucket": stack["bucket"],
        "endpoint_url": stack["endpoint_url"]}})
    result = cli("--config", config, "--json", "ls", env_extra={"COG_AUTH_S3_AMPLIFY_CONFIG": outputs})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["bucket"] == stack["bucket"]


@pytest.mark.parametrize("document,needle", [
    ({"version": "1.4", "auth": {"aws_region": "us-east-1", "user_pool_id": "us-east-1_a"}},
     "auth.user_pool_client_id"),
    ({"version": "1.4", "auth": {"aws_region": "us-east-1", "user_pool_id": "us-east-1_a", "user_pool_client_id": "c",
                                 "identity_pool_id": "us-east-1:x"}}, "storage.bucket_name"),
    ({"aws_user_pools_id": "us-east-1_a", "aws_cognito_region": "us-east-1"}, "aws_user_pools_web_client_id"),
    ({"something": "else"}, "unknown shape"),
    ([1, 2], "unknown shape"),
])
def test_an_amplify_file_of_unknown_shape_or_missing_a_key_exits_2_naming_it(cli, tmp_path, document, needle):
    path = tmp_path / "amplify_outputs.json"
    path.write_text(json.dumps(document))
    result = cli("--amplify-config", path, "creds")
    assert result.returncode == 2 and needle in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1


def test_an_amplify_config_that_is_not_a_regular_file_is_refused_unread(cli):
    result = cli("--amplify-config", "/dev/zero", "creds", timeout=20)
    assert result.returncode == 2 and "not a regular file" in result.stderr
