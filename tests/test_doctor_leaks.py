"""doctor's proof over every S3 action, through the CLI on local_aws: each leak class of issue 15 (other object
actions, bucket-level writes, key patterns that miss a sample key, wildcard trust conditions, token-mapped group
roles, AWS managed policies, the bucket policy, guests) exits 5 with a finding naming the action, a witness and the
statement; a Deny-fenced deployment is clean. Each case builds an identity pool, roles and bucket of its own
(helpers.identity_pool_with) on one module deployment's user pool, so no case sees another's changes."""

import json
import re
import uuid

import pytest

import cog_auth_s3 as tool
from helpers import REGION, SUB, identity_pool_with

OWN_ID, OTHER_ID = tool.probe_ids(REGION)


@pytest.fixture(scope="module")
def base(setup_deployment):
    """The module's one `setup` deployment: its user pool and app client serve every case's identity pool."""
    return setup_deployment("lk" + uuid.uuid4().hex[:8])


@pytest.fixture
def pool(base, admin_client):
    """pool(options(bucket) -> identity_pool_with options): a fresh identity pool, bucket and roles for this case."""
    def make(options=lambda bucket: {}):
        name = "lk" + uuid.uuid4().hex[:10]
        return identity_pool_with(admin_client, base, name, **options(f"{name}-bucket"))
    return make


def doctor(base, made, *args):
    """doctor --json on the case's identity pool: (exit code, report)."""
    result = base["admin"]("--json", "doctor", *made["args"], *args)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout)


def serious(report):
    """The findings other than info (advice about the shared user pool)."""
    return [item for item in report["findings"] if item["severity"] != "info"]


def leak(report, action, finding_id=None):
    """The finding that names action (first or among its actions), asserting it carries a witness and statement."""
    found = [item for item in report["findings"] if action in item.get("actions", [])
             and finding_id in (None, item["id"])]
    assert found, (action, [(i["id"], i.get("actions")) for i in report["findings"]])
    item = found[0]
    assert item["witness"] and item["statement"]["policy"] and item["action"] in item["actions"]
    return item


def obj(bucket, key="*"):
    """An object ARN of the bucket."""
    return f"arn:aws:s3:::{bucket}/{key}"


def allow(actions, resources, **extra):
    """An Allow statement."""
    return {"Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def outside_own_folder(witness, bucket):
    """Is the witness in the bucket and outside identity A's folder?"""
    return witness.startswith(f"arn:aws:s3:::{bucket}") and not witness.startswith(obj(bucket, OWN_ID + "/"))


VERSION_ACTIONS = ["s3:ListBucketVersions", "s3:GetObjectVersion", "s3:DeleteObjectVersion"]


@pytest.mark.parametrize("case, options, expected", [
    ("version actions on the bucket",
     lambda b: {"extra": [allow(VERSION_ACTIONS, [f"arn:aws:s3:::{b}", obj(b)])]},
     [("s3:GetObjectVersion", "perm-reaches-other-folders"), ("s3:DeleteObjectVersion", "perm-reaches-other-folders"),
      ("s3:ListBucketVersions", "perm-list-unconditioned")]),
    ("a wildcard action", lambda b: {"extra": [allow("s3:GetObjectV*", obj(b))]},
     [("s3:GetObjectVersion", "perm-reaches-other-folders"), ("s3:GetObjectVersionTagging", None)]),
    ("multipart listing", lambda b: {"extra": [allow("s3:ListBucketMultipartUploads", f"arn:aws:s3:::{b}")]},
     [("s3:ListBucketMultipartUploads", "perm-list-unconditioned")]),
    ("the bucket policy", lambda b: {"bucket_statements": [allow(VERSION_ACTIONS, [f"arn:aws:s3:::{b}", obj(b)])]},
     [("s3:GetObjectVersion", "bucket-policy-reaches-other-folders"),
      ("s3:ListBucketVersions", "bucket-policy-reaches-other-folders")]),
    ("the guests' role", lambda b: {"guest": [allow(VERSION_ACTIONS, [f"arn:aws:s3:::{b}", obj(b)])]},
     [("s3:GetObjectVersion", "guest-bucket-access"), ("s3:ListBucketVersions", "guest-bucket-access")]),
    ("the bucket policy for guests",
     lambda b: {"guest": [], "bucket_statements": [allow("s3:GetObject", obj(b), Principal="guest")]},
     [("s3:GetObject", "guest-bucket-access")]),
    ("a bucket policy write", lambda b: {"extra": [allow("s3:PutBucketPolicy", f"arn:aws:s3:::{b}")]},
     [("s3:PutBucketPolicy", "perm-bucket-control")]),
    ("other bucket-level writes", lambda b: {"extra": [allow(
        ["s3:PutBucketAcl", "s3:PutLifecycleConfiguration", "s3:DeleteBucket", "s3:PutBucketOwnershipControls"],
        f"arn:aws:s3:::{b}")]}, [(a, "perm-bucket-control") for a in (
            "s3:PutBucketAcl", "s3:PutLifecycleConfiguration", "s3:DeleteBucket", "s3:PutBucketOwnershipControls")]),
    ("a pattern three levels deep", lambda b: {"extra": [allow("s3:GetObject", obj(b, "*/*/*"))]},
     [("s3:GetObject", "perm-reaches-other-folders")]),
    ("an extension pattern", lambda b: {"extra": [allow("s3:GetObject", obj(b, "*.jpg"))]},
     [("s3:GetObject", "perm-reaches-other-folders")]),
    ("NotResource", lambda b: {"extra": [{"Effect": "Allow", "Action": "s3:GetObject",
                                          "NotResource": obj(b, "private/*")}]},
     [("s3:GetObject", "perm-reaches-other-folders")]),
    ("NotAction", lambda b: {"extra": [{"Effect": "Allow", "NotAction": ["s3:GetObject", "s3:PutObject"],
                                        "Resource": obj(b)}]},
     [("s3:DeleteObject", "perm-reaches-other-folders")]),
    ("a listing condition with IfExists", lambda b: {"extra": [allow("s3:ListBucket", f"arn:aws:s3:::{b}", Condition={
        "StringLikeIfExists": {"s3:prefix": [f"{SUB}/", f"{SUB}/*"]}})]},
     [("s3:ListBucket", "perm-list-too-broad")]),
    ("a listing of another prefix of the identity id", lambda b: {"extra": [
        allow("s3:GetObject", obj(b, f"*/{SUB}/*"))]}, [("s3:GetObject", "perm-reaches-other-folders")]),
    ("an AWS managed policy", lambda b: {"managed": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]},
     [("s3:GetObject", "perm-reaches-other-folders"), ("s3:ListBucket", "perm-list-unconditioned")]),
])
def test_each_leak_class_exits_5_naming_the_action_a_witness_and_the_statement(case, options, expected, base, pool):
    made = pool(options)
    code, report = doctor(base, made)
    assert code == 5, (case, serious(report))
    for action, finding_id in expected:
        item = leak(report, action, finding_id)
        assert item["severity"] == "critical" and outside_own_folder(item["witness"], made["bucket"]), item
        assert item["role"] in (made["role"], made["guest_role"])


def test_witnesses_lie_where_the_pattern_reaches_outside_the_own_folder(base, pool):
    made = pool(lambda b: {"extra": [allow("s3:GetObject", obj(b, "*/*/*")),
                                     allow("s3:PutObject", obj(b, "*.jpg"))]})
    _, report = doctor(base, made)
    deep, jpg = leak(report, "s3:GetObject"), leak(report, "s3:PutObject")
    assert re.fullmatch(re.escape(obj(made["bucket"], OTHER_ID + "/")) + r"[^/]+/[^/]+", deep["witness"]), deep
    assert jpg["witness"].startswith(obj(made["bucket"], OTHER_ID + "/")) and jpg["witness"].endswith(".jpg")
    assert deep["statement"] == {"policy": "extra", "index": 0} and jpg["statement"] == {"policy": "extra", "index": 1}
    text = base["admin"]("doctor", *made["args"])  # the text names them too, printed from the same facts
    assert text.returncode == 5 and f"witness: s3:GetObject on {deep['witness']} (statement #0 of extra)" in text.stdout


def test_a_broad_read_fenced_by_an_explicit_deny_outside_the_own_folder_is_clean(base, pool):
    made = pool(lambda b: {"extra": [
        allow(["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"], [obj(b), f"arn:aws:s3:::{b}"]),
        {"Effect": "Deny", "Action": "s3:*", "NotResource": [obj(b, f"{SUB}/*"), f"arn:aws:s3:::{b}"]},
        {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{b}",
         "Condition": {"StringNotLike": {"s3:prefix": [f"{SUB}/", f"{SUB}/*"]}}}]})
    code, report = doctor(base, made)
    assert (code, serious(report)) == (0, [])
    assert {(row["folder"], row["allowed"]) for row in report["matrix"] if row["action"] == "get"} == {
        ("own", True), ("other", False), ("root", False)}


def test_a_pattern_that_can_match_only_the_own_folder_yields_no_finding(base, pool):
    made = pool(lambda b: {"extra": [allow(["s3:GetObjectVersion", "s3:PutObjectTagging"], obj(b, f"{SUB}/*.jpg")),
                                     allow("s3:ListBucketVersions", f"arn:aws:s3:::{b}", Condition={
                                         "StringLike": {"s3:prefix": [f"{SUB}/*"]}})]})
    code, report = doctor(base, made)
    assert (code, serious(report)) == (0, [])


@pytest.mark.parametrize("amr", ["*", "*authenticated", ["authenticated", "unauthenticated"]])
def test_a_trust_whose_amr_pattern_a_guest_meets_is_critical(amr, base, pool):
    made = pool(lambda b: {"trust_condition": {
        "StringEquals": {"cognito-identity.amazonaws.com:aud": "POOL"},
        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr}}})
    code, report = doctor(base, made)
    ids = {item["id"] for item in report["findings"]}
    assert code == 5 and "trust-amr-admits-guests" in ids and "trust-amr-mismatch" not in ids, report["findings"]


def test_a_plain_operator_on_amr_is_reported_as_aws_reads_it(base, pool):
    made = pool(lambda b: {"extra": [allow("s3:GetObject", obj(b, f"{SUB}/*"), Condition={
        "StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}})]})
    _, report = doctor(base, made)
    plain = [item for item in report["findings"] if item["id"] == "condition-plain-operator-multivalued"]
    assert plain and plain[0]["statement"] == {"policy": "extra", "index": 0} and "ForAnyValue" in plain[0]["fix"]


def test_a_group_role_reaching_other_folders_through_a_token_mapping_is_caught(base, pool, admin_client):
    idp = admin_client("cognito-idp")
    user_pool = idp.create_user_pool(PoolName="lk" + uuid.uuid4().hex[:8],
                                     AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=user_pool, ClientName="app",
                                         PreventUserExistenceErrors="ENABLED")["UserPoolClient"]["ClientId"]
    made = pool(lambda b: {"user_pool": (user_pool, client), "groups": {
        "admins": [allow("s3:GetObject", obj(b))], "viewers": []}})
    code, report = doctor(base, made)
    item = leak(report, "s3:GetObject", "perm-reaches-other-folders")
    assert code == 5 and item["role"] == made["group_roles"]["admins"] and item["statement"]["policy"] == "extra"
    assert not any("ID token" in line for line in report["proof"]["not_simulated"])


def test_a_role_policy_whose_variables_are_literal_text_is_named_and_its_shared_folder_is_a_leak(base, pool,
                                                                                                admin_client):
    made = pool()
    document = dict(tool.role_policies(made["bucket"], made["identity_pool_id"], REGION)["PermissionsPolicy"],
                    Version="2008-10-17")
    admin_client("iam").put_role_policy(RoleName=made["role"], PolicyName=tool.ROLE_POLICY_NAME,
                                        PolicyDocument=json.dumps(document))
    code, report = doctor(base, made)
    ids = {item["id"] for item in report["findings"]}
    assert code == 5 and {"perm-literal-variables", "perm-own-folder-unreachable"} <= ids, report["findings"]
    # Every user of the role reaches the one folder literally named after the variable: a folder they all share.
    shared = leak(report, "s3:GetObject", "perm-reaches-other-folders")
    assert shared["witness"].startswith(obj(made["bucket"], SUB + "/")), shared


def test_fix_rewrites_only_its_own_policy_and_names_what_it_leaves(base, pool):
    made = pool(lambda b: {"managed": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]})
    result = base["admin"]("--json", "doctor", *made["args"], "--fix", "--yes")
    assert result.returncode == 5
    assert "not fixed by doctor: perm-reaches-other-folders" in result.stderr
    assert "detach arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess" in result.stderr


def test_self_registration_writable_claims_and_client_settings_are_named(base, pool, admin_client):
    idp = admin_client("cognito-idp")
    user_pool = idp.create_user_pool(PoolName="lk" + uuid.uuid4().hex[:8], Schema=[
        {"Name": "team", "AttributeDataType": "String", "Mutable": True}])["UserPool"]["Id"]
    client = idp.create_user_pool_client(UserPoolId=user_pool, ClientName="app", EnableTokenRevocation=False,
                                         PreventUserExistenceErrors="LEGACY")["UserPoolClient"]["ClientId"]
    made = pool(lambda b: {"user_pool": (user_pool, client), "rules": [
        {"Claim": "custom:team", "MatchType": "Equals", "Value": "ops", "RoleARN": "ROLE"}]})
    code, report = doctor(base, made)
    by_id = {item["id"]: item for item in report["findings"]}
    assert code == 5 and by_id["rule-writable-claim"]["claim"] == "custom:team"
    assert by_id["user-pool-self-registration"]["roles"] == [made["role"]]
    assert by_id["client-token-revocation-off"]["severity"] == "warning"
    assert by_id["client-user-existence-errors"]["severity"] == "warning"
    assert {by_id[i]["severity"] for i in ("user-pool-mfa-off", "user-pool-deletion-protection-off",
                                           "user-pool-short-passwords")} == {"info"}


def test_a_writable_attribute_mapped_to_a_principal_tag_the_policy_tests_is_critical(base, pool, admin_client):
    made = pool(lambda b: {"extra": [allow("s3:GetObject", obj(b, "${aws:PrincipalTag/team}/*"))]})
    provider = f"cognito-idp.{REGION}.amazonaws.com/{base['user_pool_id']}"
    admin_client("cognito-identity").set_principal_tag_attribute_map(
        IdentityPoolId=made["identity_pool_id"], IdentityProviderName=provider, UseDefaults=False,
        PrincipalTags={"team": "email"})
    code, report = doctor(base, made)
    tagged = [item for item in report["findings"] if item["id"] == "principal-tag-writable"]
    assert code == 5 and tagged and tagged[0]["severity"] == "critical" and tagged[0]["claim"] == "email"


# ---- pure logic: the actions table and the witness builder

# botocore operations authorized by an IAM action of another name (the Service Authorization Reference's
# "Actions" table names the operations each action covers).
OPERATION_ACTIONS = {
    "CompleteMultipartUpload": "PutObject", "CopyObject": "PutObject", "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject", "UploadPartCopy": "PutObject", "DeleteObjects": "DeleteObject",
    "HeadObject": "GetObject", "SelectObjectContent": "GetObject", "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket", "ListObjectsV2": "ListBucket", "ListObjectVersions": "ListBucketVersions",
    "ListMultipartUploads": "ListBucketMultipartUploads", "ListParts": "ListMultipartUploadParts",
    "ListBuckets": "ListAllMyBuckets", "GetBucketCors": "GetBucketCORS", "PutBucketCors": "PutBucketCORS",
    "DeleteBucketCors": "PutBucketCORS", "GetBucketEncryption": "GetEncryptionConfiguration",
    "PutBucketEncryption": "PutEncryptionConfiguration", "DeleteBucketEncryption": "PutEncryptionConfiguration",
    "GetBucketLifecycle": "GetLifecycleConfiguration", "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
    "PutBucketLifecycle": "PutLifecycleConfiguration", "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "PutLifecycleConfiguration", "GetBucketReplication": "GetReplicationConfiguration",
    "PutBucketReplication": "PutReplicationConfiguration", "DeleteBucketReplication": "PutReplicationConfiguration",
    "DeleteBucketTagging": "PutBucketTagging", "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
    "PutBucketAccelerateConfiguration": "PutAccelerateConfiguration",
    "GetBucketAnalyticsConfiguration": "GetAnalyticsConfiguration",
    "PutBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "DeleteBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
    "ListBucketAnalyticsConfigurations": "GetAnalyticsConfiguration",
    "GetBucketInventoryConfiguration": "GetInventoryConfiguration",
    "PutBucketInventoryConfiguration": "PutInventoryConfiguration",
    "DeleteBucketInventoryConfiguration": "PutInventoryConfiguration",
    "ListBucketInventoryConfigurations": "GetInventoryConfiguration",
    "GetBucketMetricsConfiguration": "GetMetricsConfiguration",
    "PutBucketMetricsConfiguration": "PutMetricsConfiguration",
    "DeleteBucketMetricsConfiguration": "PutMetricsConfiguration",
    "ListBucketMetricsConfigurations": "GetMetricsConfiguration",
    "GetBucketIntelligentTieringConfiguration": "GetIntelligentTieringConfiguration",
    "PutBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
    "DeleteBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
    "ListBucketIntelligentTieringConfigurations": "GetIntelligentTieringConfiguration",
    "GetBucketNotificationConfiguration": "GetBucketNotification",
    "PutBucketNotificationConfiguration": "PutBucketNotification",
    "GetObjectLockConfiguration": "GetBucketObjectLockConfiguration",
    "PutObjectLockConfiguration": "PutBucketObjectLockConfiguration",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock", "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
    "CreateBucketMetadataConfiguration": "CreateBucketMetadataTableConfiguration",
    "GetBucketMetadataConfiguration": "GetBucketMetadataTableConfiguration",
    "DeleteBucketMetadataConfiguration": "DeleteBucketMetadataTableConfiguration",
}
# Operations of botocore's S3 API that no s3: action authorizes: S3 Express (directory buckets) and Object Lambda
# have their own services.
NOT_S3_ACTIONS = {"CreateSession": "s3express:CreateSession",
                  "ListDirectoryBuckets": "s3express:ListAllMyDirectoryBuckets",
                  "RenameObject": "s3express:RenameObject",
                  "WriteGetObjectResponse": "s3-object-lambda:WriteGetObjectResponse"}


def test_every_botocore_s3_operation_maps_to_an_action_of_the_table():
    import botocore.session

    operations = botocore.session.get_session().get_service_model("s3").operation_names
    unmapped = [op for op in operations if op not in NOT_S3_ACTIONS
                and f"s3:{OPERATION_ACTIONS.get(op, op)}" not in tool.S3_ACTIONS]
    assert unmapped == []
    assert set(tool.S3_ACTIONS.values()) == {"object", "bucket", "none"} and tool.S3_ACTIONS_DATE
    assert set(tool.BUCKET_CONTROL_ACTIONS) <= {a for a, kind in tool.S3_ACTIONS.items() if kind == "bucket"}
    assert tool.S3_ACTIONS["s3:GetObjectVersion"] == "object" and tool.S3_ACTIONS["s3:ListBucketVersions"] == "bucket"


@pytest.mark.parametrize("pattern, expected", [
    ("arn:aws:s3:::b/*/*/*", [f"arn:aws:s3:::b/{OTHER_ID}/x/x", "arn:aws:s3:::b/x/x/x"]),
    ("arn:aws:s3:::b/*.jpg", [f"arn:aws:s3:::b/{OTHER_ID}/x.jpg", "arn:aws:s3:::b/x.jpg",
                              f"arn:aws:s3:::b/{OWN_ID}.jpg"]),
    (f"arn:aws:s3:::b/{SUB}*", [f"arn:aws:s3:::b/{OWN_ID}"]),
    (f"arn:aws:s3:::b/{SUB}/*", []),
    ("arn:aws:s3:::b", []),  # the bucket ARN itself is always simulated
    ("arn:aws:s3:::*", [f"arn:aws:s3:::b/{OTHER_ID}/x", "arn:aws:s3:::b/x", f"arn:aws:s3:::b/{OWN_ID}"]),
    ("arn:aws:s3:::other-bucket/*", []),
])
def test_witnesses_are_the_places_outside_the_own_folder_a_pattern_matches(pattern, expected):
    statements = [({"policy": "p", "index": 0}, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": pattern})]
    keys, _ = tool.proof_witnesses(statements, "arn:aws:s3:::b", tool.DEFAULT_FOLDER, OWN_ID, OTHER_ID,
                                   {tool.SUB_KEY: OWN_ID})
    fixed = [f"arn:aws:s3:::b/{OTHER_ID}/{tool.PROBE_KEY}", f"arn:aws:s3:::b/{tool.PROBE_KEY}"]
    assert keys == fixed + expected
    assert all(tool.policy_value_matches(pattern, key, {tool.SUB_KEY: OWN_ID}) for key in expected)


def test_listing_prefixes_come_from_the_s3_prefix_patterns():
    statement = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
                 "Condition": {"StringLike": {"s3:prefix": [f"{SUB}*", "public/*"]}}}
    _, prefixes = tool.proof_witnesses([({"policy": "p", "index": 0}, statement)], "arn:aws:s3:::b",
                                       tool.DEFAULT_FOLDER, OWN_ID, OTHER_ID, {tool.SUB_KEY: OWN_ID})
    assert prefixes[:2] == [None, f"{OTHER_ID}/"] and OWN_ID in prefixes
    assert any(p and p.startswith("public/") for p in prefixes)


def test_the_witness_of_a_version_leak_is_real_for_a_signed_in_user(base, pool, admin_client, tmp_path):
    import boto3

    from helpers import PASSWORDS, run_cli, user_env, write_config

    made = pool(lambda b: {"extra": [allow(VERSION_ACTIONS, [f"arn:aws:s3:::{b}", obj(b)])]})
    _, report = doctor(base, made)
    item = leak(report, "s3:GetObjectVersion", "perm-reaches-other-folders")
    key = item["witness"].split(":::", 1)[1].split("/", 1)[1]
    admin_client("s3").put_object(Bucket=made["bucket"], Key=key, Body=b"not alice's")
    profile = {k: base[k] for k in ("region", "user_pool_id", "client_id", "endpoint_url")}
    config = write_config(tmp_path / "alice.ini", {"default": dict(
        profile, identity_pool_id=made["identity_pool_id"], bucket=made["bucket"], username="alice",
        password=PASSWORDS["alice"])})
    result = run_cli("--config", config, "--no-cache", "creds", "--format", "json", env=user_env(tmp_path),
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    creds = json.loads(result.stdout)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=base["endpoint_url"],
                      aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                      aws_session_token=creds["SessionToken"])
    # An unversioned bucket serves VersionId=null: the action doctor named reads another identity's file.
    assert s3.get_object(Bucket=made["bucket"], Key=key, VersionId="null")["Body"].read() == b"not alice's"
