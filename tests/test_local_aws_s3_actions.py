"""local_aws over HTTP: every S3 request is authorized for the IAM action AWS names for it.

For each request, a Cognito user's session (a role assumed through an identity pool) is refused on another
user's object or on the bucket when its role allows everything but that one action (NotAction), and
reaches it when the role allows exactly that action: so the action local_aws checks is that one, and
only that one. Actions per the Service Authorization Reference, "Actions defined by Amazon S3".
"""

import json
import uuid

import pytest

from conftest import REGION, least_privilege
from test_local_aws_iam import World, assert_denied, error_of

OTHER = f"{REGION}:{uuid.UUID(int=7)}"  # another identity's folder


class ActionWorld(World):
    """World plus a role whose policy each test replaces, alice's session of it, and a scratch bucket."""

    def __init__(self, session, endpoint):
        super().__init__(session, endpoint)
        self.probe_pool = self.new_identity_pool()
        self.probe_role = self.new_role({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": self.probe_pool},
                          "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}]})
        self.admin("cognito-identity").set_identity_pool_roles(
            IdentityPoolId=self.probe_pool, Roles={"authenticated": self.probe_role})
        creds = self.credentials("alice", self.probe_pool)["Credentials"]
        import boto3
        self.user = boto3.client("s3", region_name=REGION, endpoint_url=endpoint,
                                 aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretKey"],
                                 aws_session_token=creds["SessionToken"])
        self.scratch = f"scratch-{uuid.uuid4().hex[:12]}"
        self.admin("s3").create_bucket(Bucket=self.scratch)
        self.admin("s3").put_object(Bucket=self.scratch, Key="keep", Body=b"x")  # DeleteBucket: BucketNotEmpty

    def use(self, document):
        """Replace the probe role's policy with this document (a dict, or text sent as is)."""
        self.admin("iam").put_role_policy(RoleName=self.probe_role.split("/")[-1], PolicyName="folder",
                                          PolicyDocument=document if isinstance(document, str) else json.dumps(document))

    def allow(self, *statements):
        """Replace the probe role's policy: the least-privilege folder policy plus these statements."""
        document = least_privilege(self.bucket)
        document["Statement"] += list(statements)
        self.use(document)


@pytest.fixture(scope="module")
def aw(admin_session, local_aws):
    """One ActionWorld for this module."""
    return ActionWorld(admin_session, local_aws["endpoint_url"])


def other_object(aw, key="secret.txt"):
    """A fresh object in another identity's folder (written by the administrator)."""
    key = f"{OTHER}/{uuid.uuid4().hex[:6]}-{key}"
    aw.admin("s3").put_object(Bucket=aw.bucket, Key=key, Body=b"theirs")
    return key


def an_upload(aw, key):
    """An open multipart upload (by the administrator) of key."""
    return aw.admin("s3").create_multipart_upload(Bucket=aw.bucket, Key=key)["UploadId"]


# (request, IAM action, resource kind, the request as a function of (world, object key), the error code
# that means "allowed" where success is not possible, or None for success)
OBJECT_REQUESTS = [
    ("GetObject versionId=null", "s3:GetObjectVersion",
     lambda aw, k: aw.user.get_object(Bucket=aw.bucket, Key=k, VersionId="null"), None),
    ("HeadObject versionId=null", "s3:GetObjectVersion",
     lambda aw, k: aw.user.head_object(Bucket=aw.bucket, Key=k, VersionId="null"), None),
    ("GetObject", "s3:GetObject", lambda aw, k: aw.user.get_object(Bucket=aw.bucket, Key=k), None),
    ("HeadObject", "s3:GetObject", lambda aw, k: aw.user.head_object(Bucket=aw.bucket, Key=k), None),
    ("DeleteObject versionId=null", "s3:DeleteObjectVersion",
     lambda aw, k: aw.user.delete_object(Bucket=aw.bucket, Key=k, VersionId="null"), None),
    ("DeleteObjects with a VersionId", "s3:DeleteObjectVersion",
     lambda aw, k: delete_objects(aw, [{"Key": k, "VersionId": "null"}]), None),
    ("GetObjectTagging", "s3:GetObjectTagging",
     lambda aw, k: aw.user.get_object_tagging(Bucket=aw.bucket, Key=k), None),
    ("GetObjectTagging versionId=null", "s3:GetObjectVersionTagging",
     lambda aw, k: aw.user.get_object_tagging(Bucket=aw.bucket, Key=k, VersionId="null"), None),
    ("PutObjectTagging", "s3:PutObjectTagging",
     lambda aw, k: aw.user.put_object_tagging(Bucket=aw.bucket, Key=k, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}), None),
    ("PutObjectTagging versionId=null", "s3:PutObjectVersionTagging",
     lambda aw, k: aw.user.put_object_tagging(Bucket=aw.bucket, Key=k, VersionId="null",
                                              Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}), None),
    ("DeleteObjectTagging", "s3:DeleteObjectTagging",
     lambda aw, k: aw.user.delete_object_tagging(Bucket=aw.bucket, Key=k), None),
    ("GetObjectAcl", "s3:GetObjectAcl", lambda aw, k: aw.user.get_object_acl(Bucket=aw.bucket, Key=k), None),
    ("GetObjectAcl versionId=null", "s3:GetObjectVersionAcl",
     lambda aw, k: aw.user.get_object_acl(Bucket=aw.bucket, Key=k, VersionId="null"), None),
    ("PutObjectAcl", "s3:PutObjectAcl",
     lambda aw, k: aw.user.put_object_acl(Bucket=aw.bucket, Key=k, ACL="private"), None),
    ("PutObjectAcl versionId=null", "s3:PutObjectVersionAcl",
     lambda aw, k: aw.user.put_object_acl(Bucket=aw.bucket, Key=k, VersionId="null", ACL="private"), None),
    ("GetObjectAttributes", "s3:GetObjectAttributes",
     lambda aw, k: aw.user.get_object_attributes(Bucket=aw.bucket, Key=k, ObjectAttributes=["ETag"]), None),
    ("GetObjectAttributes versionId=null", "s3:GetObjectVersionAttributes",
     lambda aw, k: aw.user.get_object_attributes(Bucket=aw.bucket, Key=k, VersionId="null",
                                                 ObjectAttributes=["ETag"]), None),
    ("AbortMultipartUpload of a made-up upload", "s3:AbortMultipartUpload",
     lambda aw, k: aw.user.abort_multipart_upload(Bucket=aw.bucket, Key=k, UploadId="made-up"), "NoSuchUpload"),
    ("ListParts", "s3:ListMultipartUploadParts",
     lambda aw, k: aw.user.list_parts(Bucket=aw.bucket, Key=k, UploadId=an_upload(aw, k)), None),
]

BUCKET_REQUESTS = [
    ("ListObjectVersions", "s3:ListBucketVersions",
     lambda aw, b: aw.user.list_object_versions(Bucket=b, Prefix=f"{OTHER}/"), None),
    ("ListMultipartUploads", "s3:ListBucketMultipartUploads",
     lambda aw, b: aw.user.list_multipart_uploads(Bucket=b, Prefix=f"{OTHER}/"), None),
    ("ListObjectsV2", "s3:ListBucket", lambda aw, b: aw.user.list_objects_v2(Bucket=b, Prefix=f"{OTHER}/"), None),
    ("GetBucketPolicy", "s3:GetBucketPolicy", lambda aw, b: aw.user.get_bucket_policy(Bucket=b), "NoSuchBucketPolicy"),
    ("PutBucketPolicy", "s3:PutBucketPolicy", lambda aw, b: aw.user.put_bucket_policy(Bucket=b, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                                 "Resource": f"arn:aws:s3:::{b}/nothing-here"}]})), None),
    ("DeleteBucketPolicy", "s3:DeleteBucketPolicy", lambda aw, b: aw.user.delete_bucket_policy(Bucket=b), None),
    ("PutBucketAcl", "s3:PutBucketAcl", lambda aw, b: aw.user.put_bucket_acl(Bucket=b, ACL="private"), None),
    ("GetBucketAcl", "s3:GetBucketAcl", lambda aw, b: aw.user.get_bucket_acl(Bucket=b), None),
    ("PutBucketVersioning", "s3:PutBucketVersioning", lambda aw, b: aw.user.put_bucket_versioning(
        Bucket=b, VersioningConfiguration={"Status": "Suspended"}), None),
    ("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls", lambda aw, b: aw.user.put_bucket_ownership_controls(
        Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}), None),
    ("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls",
     lambda aw, b: aw.user.get_bucket_ownership_controls(Bucket=b), None),
    ("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration",
     lambda aw, b: aw.user.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
         {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}}]}), None),
    ("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration",
     lambda aw, b: aw.user.delete_bucket_lifecycle(Bucket=b), None),
    ("PutBucketReplication", "s3:PutReplicationConfiguration", lambda aw, b: aw.user.put_bucket_replication(
        Bucket=b, ReplicationConfiguration={"Role": "arn:aws:iam::123456789012:role/r", "Rules": [
            {"ID": "r", "Status": "Enabled", "Priority": 1, "Filter": {"Prefix": ""},
             "DeleteMarkerReplication": {"Status": "Disabled"},
             "Destination": {"Bucket": f"arn:aws:s3:::{b}"}}]}), "*"),
    ("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock", lambda aw, b: aw.user.put_public_access_block(
        Bucket=b, PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                                  "BlockPublicPolicy": True, "RestrictPublicBuckets": True}), None),
    ("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock",
     lambda aw, b: aw.user.get_public_access_block(Bucket=b), None),
    ("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock",
     lambda aw, b: aw.user.delete_public_access_block(Bucket=b), None),
    ("PutBucketEncryption", "s3:PutEncryptionConfiguration", lambda aw, b: aw.user.put_bucket_encryption(
        Bucket=b, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}), None),
    ("PutBucketTagging", "s3:PutBucketTagging", lambda aw, b: aw.user.put_bucket_tagging(
        Bucket=b, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}), None),
    ("DeleteBucketTagging", "s3:PutBucketTagging", lambda aw, b: aw.user.delete_bucket_tagging(Bucket=b), None),
    ("DeleteBucket of a bucket with objects", "s3:DeleteBucket",
     lambda aw, b: aw.user.delete_bucket(Bucket=b), "BucketNotEmpty"),
]


def delete_objects(aw, objects):
    """DeleteObjects; its per-key AccessDenied raised as S3 would for a single key."""
    from botocore.exceptions import ClientError

    result = aw.user.delete_objects(Bucket=aw.bucket, Delete={"Objects": objects})
    if result.get("Errors"):
        raise ClientError({"Error": {"Code": result["Errors"][0]["Code"], "Message": ""}}, "DeleteObjects")
    return result


def assert_allowed(call, allowed_error):
    """The request succeeds, or fails only with the error that comes after authorization."""
    if allowed_error is None:
        call()
        return
    code, _ = error_of(call)
    assert code != "AccessDenied"
    assert allowed_error in ("*", code), f"expected {allowed_error}, got {code}"


def check(aw, action, resource, call, allowed_error):
    """Refused under everything-but-action, allowed under exactly action."""
    aw.allow({"Effect": "Allow", "NotAction": action, "Resource": "*"})
    assert_denied(call)
    aw.allow({"Effect": "Allow", "Action": action, "Resource": resource})
    assert_allowed(call, allowed_error)


@pytest.mark.parametrize("name,action,request_of,allowed_error", OBJECT_REQUESTS, ids=[r[0] for r in OBJECT_REQUESTS])
def test_object_request_is_authorized_for_its_own_action(aw, request_log, name, action, request_of, allowed_error):
    key = other_object(aw)
    check(aw, action, f"arn:aws:s3:::{aw.bucket}/{OTHER}/*", lambda: request_of(aw, key), allowed_error)
    assert request_log.operations("s3")[-1] == name.split()[0]  # the request log and faults name it so


@pytest.mark.parametrize("name,action,request_of,allowed_error", BUCKET_REQUESTS, ids=[r[0] for r in BUCKET_REQUESTS])
def test_bucket_request_is_authorized_for_its_own_action(aw, request_log, name, action, request_of, allowed_error):
    check(aw, action, f"arn:aws:s3:::{aw.scratch}", lambda: request_of(aw, aw.scratch), allowed_error)
    assert request_log.operations("s3")[-1] == name.split()[0]


def test_least_privilege_user_cannot_read_another_folder_by_version_tagging_acl_or_attributes(aw):
    aw.allow()
    key = other_object(aw)
    for name, _, request_of, _ in OBJECT_REQUESTS:
        assert_denied(request_of, aw, key)


def test_abort_of_a_made_up_upload_is_no_such_upload_in_own_folder_and_denied_elsewhere(aw):
    aw.allow()
    own = f"{aw.identity_id('alice', aw.probe_pool)}/file.bin"
    assert error_of(aw.user.abort_multipart_upload, Bucket=aw.bucket, Key=own, UploadId="made-up")[0] == "NoSuchUpload"
    assert_denied(aw.user.abort_multipart_upload, Bucket=aw.bucket, Key=f"{OTHER}/file.bin", UploadId="made-up")


def test_put_object_with_an_acl_or_tags_also_needs_those_permissions(aw):
    own = f"{aw.identity_id('alice', aw.probe_pool)}/file.txt"
    aw.allow()
    aw.user.put_object(Bucket=aw.bucket, Key=own, Body=b"x")
    assert_denied(aw.user.put_object, Bucket=aw.bucket, Key=own, Body=b"x", ACL="public-read")
    assert_denied(aw.user.put_object, Bucket=aw.bucket, Key=own, Body=b"x", Tagging="a=b")
    folder = f"arn:aws:s3:::{aw.bucket}/{aw.identity_id('alice', aw.probe_pool)}/*"
    aw.allow({"Effect": "Allow", "Action": ["s3:PutObjectAcl", "s3:PutObjectTagging"], "Resource": folder})
    aw.user.put_object(Bucket=aw.bucket, Key=own, Body=b"x", ACL="private", Tagging="a=b")


def test_copy_of_a_source_version_needs_get_object_version(aw):
    own = f"{aw.identity_id('alice', aw.probe_pool)}/copy.txt"
    source = other_object(aw)
    aw.allow({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{aw.bucket}/{OTHER}/*"})
    assert_denied(aw.user.copy_object, Bucket=aw.bucket, Key=own,
                  CopySource={"Bucket": aw.bucket, "Key": source, "VersionId": "null"})
    aw.allow({"Effect": "Allow", "Action": "s3:GetObjectVersion", "Resource": f"arn:aws:s3:::{aw.bucket}/{OTHER}/*"})
    aw.user.copy_object(Bucket=aw.bucket, Key=own, CopySource={"Bucket": aw.bucket, "Key": source, "VersionId": "null"})


def test_missing_key_is_still_access_denied_without_list_bucket(aw):
    aw.allow({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{aw.bucket}/{OTHER}/*"})
    assert_denied(aw.user.get_object, Bucket=aw.bucket, Key=f"{OTHER}/never-written")
    aw.allow({"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
              "Resource": [f"arn:aws:s3:::{aw.bucket}/{OTHER}/*", f"arn:aws:s3:::{aw.bucket}"]})
    assert error_of(aw.user.get_object, Bucket=aw.bucket, Key=f"{OTHER}/never-written")[0] == "NoSuchKey"


READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


def test_aws_managed_read_only_policy_attached_to_the_role_lets_a_user_read_another_users_object(aw):
    aw.allow()
    key = other_object(aw)
    role = aw.probe_role.split("/")[-1]
    assert_denied(aw.user.get_object, Bucket=aw.bucket, Key=key)
    aw.admin("iam").attach_role_policy(RoleName=role, PolicyArn=READ_ONLY)
    try:
        assert aw.user.get_object(Bucket=aw.bucket, Key=key)["Body"].read() == b"theirs"
        assert [o["Key"] for o in aw.user.list_objects_v2(Bucket=aw.bucket, Prefix=f"{OTHER}/")["Contents"]]
        assert_denied(aw.user.delete_object, Bucket=aw.bucket, Key=key)  # read-only: no s3:DeleteObject
        result = aw.admin("iam").simulate_principal_policy(
            PolicySourceArn=aw.probe_role, ActionNames=["s3:GetObject"],
            ResourceArns=[f"arn:aws:s3:::{aw.bucket}/{key}"])["EvaluationResults"][0]
        assert result["EvalDecision"] == "allowed"
        assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in result["MatchedStatements"]] == [
            ("AmazonS3ReadOnlyAccess", "aws-managed")]
    finally:
        aw.admin("iam").detach_role_policy(RoleName=role, PolicyArn=READ_ONLY)
    assert_denied(aw.user.get_object, Bucket=aw.bucket, Key=key)


def test_aws_managed_policies_are_as_aws_publishes_them(aw):
    iam = aw.admin("iam")
    policy = iam.get_policy(PolicyArn=READ_ONLY)["Policy"]
    document = iam.get_policy_version(PolicyArn=READ_ONLY, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    assert document["Document"]["Statement"][0]["Action"][:3] == ["s3:Get*", "s3:List*", "s3:Describe*"]
    admin = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")["Policy"]
    assert admin["Arn"] == "arn:aws:iam::aws:policy/AdministratorAccess"
    iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")
    code, _ = error_of(iam.get_policy, PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicyByThisName")
    assert code == "NoSuchEntity"


ALL_ACTIONS = sorted({row[1] for row in OBJECT_REQUESTS + BUCKET_REQUESTS} | {"s3:ListAllMyBuckets", "s3:CreateBucket"})


def simulated(aw, actions, resource):
    """SimulatePrincipalPolicy of the probe role: {action: decision} on one resource."""
    results = aw.admin("iam").simulate_principal_policy(
        PolicySourceArn=aw.probe_role, ActionNames=actions, ResourceArns=[resource],
        ContextEntries=[{"ContextKeyName": "cognito-identity.amazonaws.com:sub", "ContextKeyType": "string",
                         "ContextKeyValues": [f"{REGION}:{uuid.UUID(int=1)}"]}])["EvaluationResults"]
    return {r["EvalActionName"]: r["EvalDecision"] for r in results}


@pytest.mark.parametrize("name,action,kind", [(r[0], r[1], "object") for r in OBJECT_REQUESTS]
                         + [(r[0], r[1], "bucket") for r in BUCKET_REQUESTS], ids=lambda v: str(v))
def test_simulation_allows_exactly_the_granted_s3_action_on_its_resource(aw, name, action, kind):
    """SimulatePrincipalPolicy judges any S3 action name with the evaluator that enforces the request."""
    resource = f"arn:aws:s3:::{aw.bucket}/{OTHER}/x.txt" if kind == "object" else f"arn:aws:s3:::{aw.scratch}"
    granted = f"arn:aws:s3:::{aw.bucket}/{OTHER}/*" if kind == "object" else f"arn:aws:s3:::{aw.scratch}"
    aw.allow({"Effect": "Allow", "Action": action, "Resource": granted})
    decisions = simulated(aw, ALL_ACTIONS, resource)
    assert {a for a, d in decisions.items() if d == "allowed"} == {action}
    other_kind = f"arn:aws:s3:::{aw.scratch}" if kind == "object" else f"arn:aws:s3:::{aw.scratch}/k"
    assert simulated(aw, [action], other_kind)[action] == "implicitDeny"


def test_simulation_of_wildcard_and_not_action_grants_matches_the_wire(aw):
    aw.allow({"Effect": "Allow", "Action": "s3:GetObjectV*", "Resource": f"arn:aws:s3:::{aw.bucket}/*"},
             {"Effect": "Allow", "NotAction": ["s3:Delete*", "s3:Put*", "s3:Get*", "s3:List*"],
              "Resource": f"arn:aws:s3:::{aw.scratch}"})
    object_arn = f"arn:aws:s3:::{aw.bucket}/{OTHER}/x.txt"
    assert simulated(aw, ["s3:GetObjectVersion", "s3:GetObjectVersionTagging", "s3:GetObject"], object_arn) == {
        "s3:GetObjectVersion": "allowed", "s3:GetObjectVersionTagging": "allowed", "s3:GetObject": "implicitDeny"}
    key = other_object(aw)
    aw.user.get_object_tagging(Bucket=aw.bucket, Key=key, VersionId="null")
    assert_denied(aw.user.get_object_tagging, Bucket=aw.bucket, Key=key)
    assert simulated(aw, ["s3:PutBucketPolicy", "s3:CreateBucket"], f"arn:aws:s3:::{aw.scratch}") == {
        "s3:PutBucketPolicy": "implicitDeny", "s3:CreateBucket": "allowed"}


def test_bucket_policy_granting_a_version_action_to_the_role_is_enforced(aw):
    aw.allow()
    statement = {"Effect": "Allow", "Principal": {"AWS": aw.probe_role}, "Action": "s3:ListBucketVersions",
                 "Resource": f"arn:aws:s3:::{aw.scratch}"}
    assert_denied(aw.user.list_object_versions, Bucket=aw.scratch)
    aw.admin("s3").put_bucket_policy(Bucket=aw.scratch, Policy=json.dumps({"Version": "2012-10-17",
                                                                           "Statement": [statement]}))
    try:
        assert [v["Key"] for v in aw.user.list_object_versions(Bucket=aw.scratch)["Versions"]] == ["keep"]
        assert_denied(aw.user.list_objects_v2, Bucket=aw.scratch)  # only the granted action
    finally:
        aw.admin("s3").delete_bucket_policy(Bucket=aw.scratch)
