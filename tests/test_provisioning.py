"""The administrator's commands, run as a subprocess against local_aws: policy, setup, add-user, teardown."""

import configparser
import contextlib
import json
import os
import subprocess

import pytest

import cog_auth_s3 as tool
from helpers import SUB, TOOL_COMMAND, admin, run_cli, statuses, unique_name, user_env

POOL_ID = "us-east-1:0e3c1234-5678-4bfd-956f-2acfa1efd61f"
PASSWORD = "Corr3ct-Horse-Battery!"


def setup(name, local_aws, tmp_path, *extra):
    """Run setup for name, writing config.ini in tmp_path; fail the test if it fails."""
    result = admin(["setup", "--name", name, *extra], local_aws, tmp_path)
    assert result.returncode == 0, result.stderr
    return result


def profile(tmp_path, section="default"):
    """The [section] of tmp_path/config.ini as a dict."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(tmp_path / "config.ini")
    return dict(parser[section])


def test_policy_prints_exactly_the_least_privilege_documents(local_aws, tmp_path):
    result = admin(["policy", "--bucket", "my-bucket", "--identity-pool-id", POOL_ID], local_aws, tmp_path)
    assert result.returncode == 0, result.stderr
    documents = json.loads(result.stdout)
    assert set(documents) == {"TrustPolicy", "PermissionsPolicy"}
    [trust] = documents["TrustPolicy"]["Statement"]
    assert trust == {
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": POOL_ID},
                      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}},
    }
    objects, listing, abort = documents["PermissionsPolicy"]["Statement"]
    assert objects["Effect"] == "Allow" and "Condition" not in objects
    assert sorted(objects["Action"]) == ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
    assert objects["Resource"] == f"arn:aws:s3:::my-bucket/{SUB}/*"
    assert listing["Effect"] == "Allow" and listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == "arn:aws:s3:::my-bucket"
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{SUB}/", f"{SUB}/*"]}}
    assert abort == {"Sid": "AbortOwnUploads", "Effect": "Allow", "Action": "s3:AbortMultipartUpload",
                     "Resource": f"arn:aws:s3:::my-bucket/{SUB}/*"}


def test_policy_uses_the_partition_of_the_identity_pools_region(local_aws, tmp_path):
    result = admin(["policy", "--bucket", "b-cn", "--identity-pool-id", POOL_ID.replace("us-east-1", "cn-north-1")],
                     local_aws, tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"arn:aws-cn:s3:::b-cn"' in result.stdout


@pytest.mark.parametrize("args", [
    ["--bucket", "Not_A_Bucket", "--identity-pool-id", POOL_ID],
    ["--bucket", "my-bucket", "--identity-pool-id", "not-a-pool"],
    ["--bucket", "my-bucket", "--identity-pool-id", POOL_ID, "--region", "eu-west-1"],
])
def test_policy_refuses_malformed_arguments_with_one_line_and_exit_2(local_aws, tmp_path, args):
    result = admin(["policy", *args], local_aws, tmp_path)
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1


def test_setup_refuses_a_name_that_cannot_name_a_bucket(local_aws, tmp_path):
    result = admin(["setup", "--name", "Bad_Name"], local_aws, tmp_path)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "config.ini").exists()


def snapshot(admin_client, values, role):
    """Everything setup configures, as AWS describes it."""
    idp, identity, iam, s3 = (admin_client(s) for s in ("cognito-idp", "cognito-identity", "iam", "s3"))
    bucket, pool_id = values["bucket"], values["identity_pool_id"]
    clean = lambda response: {k: v for k, v in response.items() if k != "ResponseMetadata"}  # noqa: E731
    return {
        "user_pool": clean(idp.describe_user_pool(UserPoolId=values["user_pool_id"])),
        "client": clean(idp.describe_user_pool_client(UserPoolId=values["user_pool_id"],
                                                      ClientId=values["client_id"])),
        "identity_pool": clean(identity.describe_identity_pool(IdentityPoolId=pool_id)),
        "roles": clean(identity.get_identity_pool_roles(IdentityPoolId=pool_id)),
        "role": clean(iam.get_role(RoleName=role)),
        "role_policies": clean(iam.list_role_policies(RoleName=role)),
        "public_access": clean(s3.get_public_access_block(Bucket=bucket)),
        "encryption": clean(s3.get_bucket_encryption(Bucket=bucket)),
        "policy": clean(s3.get_bucket_policy(Bucket=bucket)),
        "lifecycle": clean(s3.get_bucket_lifecycle_configuration(Bucket=bucket)),
    }


def test_setup_twice_changes_nothing_the_second_time(local_aws, admin_client, tmp_path):
    name = unique_name()
    first = setup(name, local_aws, tmp_path)
    kinds = ["bucket", "user pool", "app client", "identity pool", "role", "role mapping"]
    assert statuses(first) == dict.fromkeys(kinds, "created")
    values = profile(tmp_path)
    before = snapshot(admin_client, values, f"{name}-authenticated")
    second = setup(name, local_aws, tmp_path)
    assert statuses(second) == dict.fromkeys(kinds, "exists")
    assert profile(tmp_path) == values
    assert snapshot(admin_client, values, f"{name}-authenticated") == before


def test_setup_attaches_exactly_what_policy_prints(local_aws, admin_client, tmp_path):
    name = unique_name()
    setup(name, local_aws, tmp_path)
    values = profile(tmp_path)
    printed = json.loads(admin(["policy", "--bucket", values["bucket"], "--identity-pool-id",
                                  values["identity_pool_id"]], local_aws, tmp_path).stdout)
    iam = admin_client("iam")
    role = f"{name}-authenticated"
    assert iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"] == printed["TrustPolicy"]
    [policy_name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    assert iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"] == \
        printed["PermissionsPolicy"]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    roles = admin_client("cognito-identity").get_identity_pool_roles(IdentityPoolId=values["identity_pool_id"])
    assert roles["Roles"] == {"authenticated": iam.get_role(RoleName=role)["Role"]["Arn"]}


def test_setup_repairs_a_drifted_role_and_says_updated(local_aws, admin_client, tmp_path):
    name = unique_name()
    setup(name, local_aws, tmp_path)
    iam, role = admin_client("iam"), f"{name}-authenticated"
    [policy_name] = iam.list_role_policies(RoleName=role)["PolicyNames"]
    leaky = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(leaky))
    again = setup(name, local_aws, tmp_path)
    assert statuses(again)["role"] == "updated"
    assert iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"] != leaky


def test_setup_makes_the_bucket_private_encrypted_tls_only_with_upload_cleanup(local_aws, admin_client, tmp_path):
    setup(unique_name(), local_aws, tmp_path)
    s3, bucket = admin_client("s3"), profile(tmp_path)["bucket"]
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True)
    [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    [deny] = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert sorted(deny["Resource"]) == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    [lifecycle] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle["Status"] == "Enabled"
    assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}


def test_setup_writes_the_profile_and_keeps_the_rest_of_the_config(local_aws, tmp_path):
    (tmp_path / "config.ini").write_text("[alice]\nusername = alice\nupload_file = a.txt\nclient_secret = old\n"
                                         "[other]\nregion = eu-west-1\n")
    result = setup(unique_name(), local_aws, tmp_path, "--profile", "alice")
    written = profile(tmp_path, "alice")
    assert {"region", "user_pool_id", "client_id", "identity_pool_id", "bucket", "endpoint_url"} <= set(written)
    assert written["username"] == "alice" and written["upload_file"] == "a.txt"
    assert "client_secret" not in written and "password" not in written
    assert written["endpoint_url"] == local_aws["endpoint_url"]
    assert profile(tmp_path, "other") == {"region": "eu-west-1"}
    assert written["identity_pool_id"] in result.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_setup_json_summarises_resources_and_config_on_stdout(local_aws, tmp_path):
    name = unique_name()
    result = admin(["--json", "setup", "--name", name, "--write-config", "out.ini"], local_aws, tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [item["status"] for item in summary["resources"]] == ["created"] * 6
    assert summary["config"]["path"] == "out.ini" and (tmp_path / "out.ini").exists()


def remaining(admin_client, name, bucket):
    """What of deployment name still exists."""
    # Paged: the shared local_aws holds more pools (and more than ListRoles' 100 roles a page) than one page once
    # the files before this one on the worker have run.
    pools = [p for page in admin_client("cognito-idp").get_paginator("list_user_pools").paginate(MaxResults=60)
             for p in page["UserPools"]]
    identity_pools = [p for page in admin_client("cognito-identity").get_paginator("list_identity_pools").paginate(
        MaxResults=60) for p in page["IdentityPools"]]
    roles = [r for page in admin_client("iam").get_paginator("list_roles").paginate() for r in page["Roles"]]
    buckets = admin_client("s3").list_buckets()["Buckets"]
    return ([p["Name"] for p in pools if p["Name"] == name]
            + [p["IdentityPoolName"] for p in identity_pools if p["IdentityPoolName"] == name]
            + [r["RoleName"] for r in roles if r["RoleName"] == f"{name}-authenticated"]
            + [b["Name"] for b in buckets if b["Name"] == bucket])


def test_teardown_refuses_a_non_empty_bucket_and_force_leaves_nothing(local_aws, admin_client, tmp_path):
    name = unique_name()
    setup(name, local_aws, tmp_path)
    bucket = profile(tmp_path)["bucket"]
    s3 = admin_client("s3")
    s3.put_object(Bucket=bucket, Key="someone/file.txt", Body=b"x")
    s3.create_multipart_upload(Bucket=bucket, Key="someone/big.bin")
    refused = admin(["teardown", "--name", name], local_aws, tmp_path)
    assert refused.returncode == 4
    assert len(refused.stderr.splitlines()) == 1 and "--force" in refused.stderr
    assert len(remaining(admin_client, name, bucket)) == 4  # nothing was deleted
    forced = admin(["teardown", "--name", name, "--force"], local_aws, tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert set(statuses(forced).values()) == {"deleted"}
    assert remaining(admin_client, name, bucket) == []
    again = admin(["teardown", "--name", name], local_aws, tmp_path)
    assert again.returncode == 4, again.stderr  # a name that matches nothing (issue 16)
    assert {v for k, v in statuses(again).items() if not k.startswith("cog-auth-s3")} == {"absent"}


def test_teardown_of_an_empty_deployment_needs_no_force(local_aws, admin_client, tmp_path):
    name = unique_name()
    setup(name, local_aws, tmp_path)
    bucket = profile(tmp_path)["bucket"]
    result = admin(["teardown", "--name", name], local_aws, tmp_path)
    assert result.returncode == 0, result.stderr
    assert remaining(admin_client, name, bucket) == []


def test_add_user_creates_a_confirmed_user_with_the_password_from_env(local_aws, admin_client, tmp_path, user_pool):
    result = admin(["add-user", "alice"], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": PASSWORD},
                     endpoint=False)
    assert result.returncode == 0, result.stderr
    user = admin_client("cognito-idp").admin_get_user(UserPoolId=user_pool, Username="alice")
    assert user["UserStatus"] == "CONFIRMED"
    assert PASSWORD not in result.stdout + result.stderr


def test_add_user_leaves_an_existing_user_unchanged(local_aws, admin_client, tmp_path, user_pool):
    env = {"COG_AUTH_S3_PASSWORD": PASSWORD}
    assert admin(["add-user", "bob"], local_aws, tmp_path, env).returncode == 0
    again = admin(["--json", "add-user", "bob"], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": "Other-Pass-1234!"})
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "exists"


def test_add_user_without_terminal_or_password_exits_2_with_one_line(local_aws, admin_client, tmp_path, user_pool):
    result = admin(["add-user", "carol"], local_aws, tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and "COG_AUTH_S3_PASSWORD" in result.stderr
    with pytest.raises(admin_client("cognito-idp").exceptions.UserNotFoundException):
        admin_client("cognito-idp").admin_get_user(UserPoolId=user_pool, Username="carol")


def test_add_user_with_a_password_the_pool_refuses_exits_4_and_a_rerun_fixes_it(local_aws, admin_client, tmp_path,
                                                                               user_pool):
    idp = admin_client("cognito-idp")
    result = admin(["add-user", "dave"], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": "short"})
    assert result.returncode == 4
    assert len(result.stderr.splitlines()) == 1 and "password policy" in result.stderr
    # AWS refuses the temporary password, so no user exists; moto creates the user unconfirmed.
    # Either way a rerun with an acceptable password ends with a confirmed user.
    with contextlib.suppress(idp.exceptions.UserNotFoundException):
        assert idp.admin_get_user(UserPoolId=user_pool, Username="dave")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    rerun = admin(["add-user", "dave"], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": PASSWORD})
    assert rerun.returncode == 0, rerun.stderr
    assert idp.admin_get_user(UserPoolId=user_pool, Username="dave")["UserStatus"] == "CONFIRMED"


def test_add_user_without_a_configured_user_pool_exits_2(local_aws, tmp_path):
    result = admin(["add-user", "erin"], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": PASSWORD})
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1 and "missing" in result.stderr


def test_users_added_to_a_setup_deployment_reach_only_their_own_folder(local_aws, tmp_path):
    setup(unique_name(), local_aws, tmp_path)
    (tmp_path / "hello.txt").write_text("hello\n")
    for user in ("alice", "bob"):
        assert admin(["add-user", user], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": PASSWORD}).returncode == 0
    as_user = {"COG_AUTH_S3_PASSWORD": PASSWORD, "COG_AUTH_S3_UPLOAD_FILE": "hello.txt"}
    bob = run_cli("--profile", "default", "--json", "run", cwd=tmp_path,
                  env=user_env(tmp_path, COG_AUTH_S3_USERNAME="bob", **as_user))
    assert bob.returncode == 0, bob.stderr
    bob_id = json.loads(bob.stdout)["identity_id"]
    alice = run_cli("--json", "--no-cache", "run", "--try-identity", bob_id, cwd=tmp_path,
                    env=user_env(tmp_path, COG_AUTH_S3_USERNAME="alice", **as_user))
    assert alice.returncode == 0, alice.stderr
    report = json.loads(alice.stdout)
    assert report["uri"].endswith(f"{report['identity_id']}/hello.txt")
    assert report["isolation"]["verdict"] == "holds"


def test_setup_restores_a_bucket_whose_protections_were_removed(local_aws, admin_client, tmp_path):
    name = unique_name()
    setup(name, local_aws, tmp_path)
    s3, bucket = admin_client("s3"), profile(tmp_path)["bucket"]
    s3.delete_public_access_block(Bucket=bucket)
    s3.delete_bucket_lifecycle(Bucket=bucket)
    again = setup(name, local_aws, tmp_path)
    assert statuses(again)["bucket"] == "updated"
    assert "public access block" in again.stderr and "lifecycle rule" in again.stderr
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"] == tool.LIFECYCLE_ID


class FakeClientError(Exception):
    """Shaped like botocore's ClientError."""

    __module__ = "botocore.exceptions"

    def __init__(self, code, message=""):
        super().__init__(message)
        self.response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}


def refusing(codes):
    """A call that fails with each code in turn, then succeeds; it counts its attempts."""
    attempts = []

    def call():
        attempts.append(1)
        if len(attempts) <= len(codes):
            with tool.aws_step("map the role to", "pool", "admin"):
                raise FakeClientError(codes[len(attempts) - 1])
        return "mapped"
    return call, attempts


def test_a_just_changed_role_is_retried_with_bounded_backoff(monkeypatch):
    sleeps = []
    monkeypatch.setattr("time.sleep", sleeps.append)
    call, attempts = refusing(["InvalidParameterException", "AccessDeniedException"])
    assert tool.retry_while_propagating(call, "role mapping", tool.Output(quiet=True), True) == "mapped"
    assert len(attempts) == 3 and sleeps == [1, 2]
    call, attempts = refusing(["InvalidParameterException"] * 10)
    with pytest.raises(tool.AwsStepError):
        tool.retry_while_propagating(call, "role mapping", tool.Output(quiet=True), True)
    assert len(attempts) == len(tool.PROPAGATION_DELAYS) + 1 and sum(sleeps) <= 20


@pytest.mark.parametrize("codes,role_changed", [(["InvalidParameterException"], False),
                                                (["LimitExceededException"], True)])
def test_refusals_unrelated_to_a_new_role_are_not_retried(monkeypatch, codes, role_changed):
    monkeypatch.setattr("time.sleep", lambda seconds: pytest.fail("slept"))
    call, attempts = refusing(codes)
    with pytest.raises(tool.AwsStepError):
        tool.retry_while_propagating(call, "role mapping", tool.Output(quiet=True), role_changed)
    assert len(attempts) == 1


def test_an_html_error_page_still_makes_one_line():
    page = "<!doctype html>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>"
    error = tool.explain_aws_error(tool.AwsStepError(FakeClientError("500", page), "read", "x", "admin"))
    assert "\n" not in str(error) and "Internal Server Error" in str(error)


def test_the_config_keeps_its_mode_and_a_new_one_is_private(tmp_path):
    shared = tmp_path / "shared.ini"
    shared.write_text("[other]\nregion = eu-west-1\n")
    os.chmod(shared, 0o644)
    tool.write_profile(str(shared), tool.load_ini(str(shared)), "default", {"region": "us-east-1"})
    assert os.stat(shared).st_mode & 0o777 == 0o644
    fresh = tmp_path / "new.ini"
    tool.write_profile(str(fresh), tool.load_ini(str(fresh)), "default", {"region": "us-east-1"})
    assert os.stat(fresh).st_mode & 0o777 == 0o600


def test_setup_with_a_folder_template_writes_it_and_its_policy_and_files_land_there(local_aws, admin_client,
                                                                                    tmp_path):
    name = unique_name()
    setup(name, local_aws, tmp_path, "--folder", "private/{identity_id}/")
    values = profile(tmp_path)
    assert values["folder"] == "private/{identity_id}/"
    iam = admin_client("iam")
    [policy_name] = iam.list_role_policies(RoleName=f"{name}-authenticated")["PolicyNames"]
    document = iam.get_role_policy(RoleName=f"{name}-authenticated", PolicyName=policy_name)["PolicyDocument"]
    assert document == tool.role_policies(values["bucket"], values["identity_pool_id"], "us-east-1",
                                          "private/{identity_id}/")["PermissionsPolicy"]
    assert admin(["add-user", "alice"], local_aws, tmp_path, {"COG_AUTH_S3_PASSWORD": PASSWORD}).returncode == 0
    with open(tmp_path / "config.ini", "a") as handle:
        handle.write("username = alice\n")
    (tmp_path / "a.txt").write_text("a")
    put = run_cli("--json", "put", tmp_path / "a.txt", env=user_env(tmp_path, COG_AUTH_S3_PASSWORD=PASSWORD),
                  cwd=tmp_path)
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["uploaded"][0]["key"].startswith("private/us-east-1:")


def test_setup_and_teardown_use_the_profiles_endpoint_when_no_flag_names_one(local_aws, tmp_path):
    config = tmp_path / "local.ini"
    config.write_text(f"[default]\nendpoint_url = {local_aws['endpoint_url']}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COG_AUTH_S3_"))}
    env.update(AWS_ACCESS_KEY_ID=local_aws["aws_access_key_id"], HOME=str(tmp_path), AWS_DEFAULT_REGION="us-east-1",
               AWS_SECRET_ACCESS_KEY=local_aws["aws_secret_access_key"])
    made = subprocess.run([*TOOL_COMMAND, "--config", str(config), "setup", "--name", "profile-endpoint"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    gone = subprocess.run([*TOOL_COMMAND, "--config", str(config), "teardown", "--name",
                           "profile-endpoint", "--force"], env=env, capture_output=True, text=True, timeout=300)
    assert gone.returncode == 0 and "amazonaws.com" not in gone.stderr, gone.stderr
