"""local_aws's IAM evaluator on multivalued condition keys, over HTTP and in-process.

AWS IAM User Guide, "Single-valued vs. multivalued context keys": "Multivalued context keys require a
condition set operator" (ForAnyValue: or ForAllValues:). Cognito's documentation calls amr "the multi-value
amr claim" and writes every example with ForAnyValue:StringLike. A plain operator on a multivalued key,
negated or not, therefore matches nothing when the request carries the key; this is how the independent
simulator @cloud-copilot/iam-simulate decides it (issue 21's two examples). The same evaluator serves S3
requests, SimulatePrincipalPolicy and the role trust check of GetCredentialsForIdentity.
"""

import json
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from conftest import REGION, SUB
from test_local_aws_iam import assert_denied, error_of
from test_local_aws_s3_actions import ActionWorld

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import local_aws  # noqa: E402

AMR = "cognito-identity.amazonaws.com:amr"


@pytest.fixture(scope="module")
def aw(admin_session, local_aws):
    """One ActionWorld for this module."""
    return ActionWorld(admin_session, local_aws["endpoint_url"])


def own_folder_read(aw, condition):
    """A policy letting the caller read their own folder under one condition."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{aw.bucket}/{SUB}/*",
        "Condition": condition}]}


def own_object(aw):
    """An object in alice's folder (of the probe pool), written by the administrator; its key."""
    key = f"{aw.identity_id('alice', aw.probe_pool)}/{uuid.uuid4().hex[:6]}.txt"
    aw.admin("s3").put_object(Bucket=aw.bucket, Key=key, Body=b"mine")
    return key


def test_plain_string_like_on_amr_does_not_allow_a_signed_in_user(aw):
    """Issue 21, example 1: alice's amr is ["authenticated", "cognito-idp...", "...:CognitoSignIn:..."]."""
    key = own_object(aw)
    aw.use(own_folder_read(aw, {"StringLike": {AMR: "authenticated"}}))
    assert_denied(aw.user.get_object, Bucket=aw.bucket, Key=key)
    aw.use(own_folder_read(aw, {"StringEquals": {AMR: "authenticated"}}))
    assert_denied(aw.user.get_object, Bucket=aw.bucket, Key=key)
    aw.use(own_folder_read(aw, {"ForAnyValue:StringLike": {AMR: "authenticated"}}))
    assert aw.user.get_object(Bucket=aw.bucket, Key=key)["Body"].read() == b"mine"


def test_plain_negated_operator_on_amr_matches_nothing_when_present(aw):
    """StringNotLike amr "unauthenticated" would read as "not a guest" under ForAllValues; it matches nothing."""
    key = own_object(aw)
    aw.use(own_folder_read(aw, {"StringNotLike": {AMR: "unauthenticated"}}))
    assert_denied(aw.user.get_object, Bucket=aw.bucket, Key=key)
    aw.use(own_folder_read(aw, {"ForAllValues:StringNotLike": {AMR: "unauthenticated"}}))
    assert aw.user.get_object(Bucket=aw.bucket, Key=key)["Body"].read() == b"mine"


def guest_world(aw, deny_operator):
    """A pool open to guests whose role may read shared/* but has a Deny keyed on amr "unauthenticated"."""
    identity = aw.admin("cognito-identity")
    pool = identity.create_identity_pool(IdentityPoolName=f"guests{uuid.uuid4().hex[:8]}",
                                         AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
    role = aw.new_role({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool},
                      "ForAnyValue:StringLike": {AMR: "unauthenticated"}}}]})
    aw.admin("iam").put_role_policy(RoleName=role.split("/")[-1], PolicyName="folder", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{aw.bucket}/shared/*"},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {deny_operator: {AMR: "unauthenticated"}}},
        ]}))
    identity.set_identity_pool_roles(IdentityPoolId=pool, Roles={"unauthenticated": role})
    guest_id = aw.unsigned_identity.get_id(IdentityPoolId=pool)["IdentityId"]
    creds = aw.unsigned_identity.get_credentials_for_identity(IdentityId=guest_id)["Credentials"]
    return boto3.client("s3", region_name=REGION, endpoint_url=aw.endpoint, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretKey"], aws_session_token=creds["SessionToken"])


def test_plain_deny_on_a_guests_one_element_amr_does_not_fire(aw):
    """Issue 21, example 2: a guest's amr is ["unauthenticated"], one value of a multivalued key."""
    aw.admin("s3").put_object(Bucket=aw.bucket, Key="shared/readme.txt", Body=b"hello")
    guest = guest_world(aw, "StringLike")
    assert guest.get_object(Bucket=aw.bucket, Key="shared/readme.txt")["Body"].read() == b"hello"
    fenced = guest_world(aw, "ForAnyValue:StringLike")
    assert_denied(fenced.get_object, Bucket=aw.bucket, Key="shared/readme.txt")


def test_trust_policy_with_plain_string_like_on_amr_gives_no_credentials(aw):
    pool = aw.new_identity_pool()
    role = aw.new_role({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": pool},
                      "StringLike": {AMR: "authenticated"}}}]})
    aw.admin("cognito-identity").set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": role})
    assert error_of(aw.credentials, "alice", pool)[0] == "InvalidIdentityPoolConfigurationException"


def simulate(aw, document, amr):
    """SimulatePrincipalPolicy of s3:GetObject on an own-folder key with the given amr values."""
    aw.use(document)
    identity_id = f"{REGION}:{uuid.UUID(int=1)}"
    entries = [{"ContextKeyName": "cognito-identity.amazonaws.com:sub", "ContextKeyValues": [identity_id],
                "ContextKeyType": "string"}]
    if amr is not None:
        entries.append({"ContextKeyName": AMR, "ContextKeyValues": amr, "ContextKeyType": "stringList"})
    return aw.admin("iam").simulate_principal_policy(
        PolicySourceArn=aw.probe_role, ActionNames=["s3:GetObject"],
        ResourceArns=[f"arn:aws:s3:::{aw.bucket}/{identity_id}/a.txt"], ContextEntries=entries,
    )["EvaluationResults"][0]["EvalDecision"]


SIGNED_IN = ["authenticated", "cognito-idp.us-east-1.amazonaws.com/us-east-1_x",
             "cognito-idp.us-east-1.amazonaws.com/us-east-1_x:CognitoSignIn:abc"]


@pytest.mark.parametrize("operator,amr,decision", [
    ("StringLike", SIGNED_IN, "implicitDeny"),
    ("StringLike", ["authenticated"], "implicitDeny"),  # by key name, not by the number of values
    ("ForAnyValue:StringLike", SIGNED_IN, "allowed"),
    ("StringNotLike", ["unauthenticated"], "implicitDeny"),
    ("StringNotLike", None, "allowed"),  # a missing key: a negated operator matches
    ("StringLikeIfExists", ["authenticated"], "implicitDeny"),
    ("StringLikeIfExists", None, "allowed"),
])
def test_simulation_reads_plain_operators_on_amr_as_enforcement_does(aw, operator, amr, decision):
    assert simulate(aw, own_folder_read(aw, {operator: {AMR: "authenticated"}}), amr) == decision


@pytest.mark.parametrize("operator,key,values,expected", [
    ("StringLike", "aws:TagKeys", ["a"], False),
    ("StringNotEquals", "aws:TagKeys", ["b"], False),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["a", "b"], True),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a", "b"], False),
    ("ForAllValues:StringEquals", "aws:TagKeys", ["a"], True),
    ("StringLike", "s3:prefix", ["a"], True),  # a single-valued key keeps the plain reading
    ("StringNotEquals", "aws:username", ["b"], True),
    ("StringNotEquals", "aws:CalledVia", None, True),  # missing: negated operators match
])
def test_condition_operator_on_single_and_multivalued_keys(operator, key, values, expected):
    context = {key.lower(): values} if values else {}
    assert local_aws._condition_matches(operator, key, ["a"], context, "Allow") is expected


def folder_policy(aw, version):
    """The own-folder read policy under a given Version (None: no Version element)."""
    document = own_folder_read(aw, {"ForAnyValue:StringLike": {AMR: "authenticated"}})
    if version is None:
        del document["Version"]
    else:
        document["Version"] = version
    return document


@pytest.mark.parametrize("version", ["2008-10-17", None])
def test_policy_of_an_older_version_is_stored_and_its_variables_are_literal_text(aw, version):
    """IAM User Guide, "IAM JSON policy elements: Version": under 2008-10-17 (the default) variables
    "aren't recognized as variables and are instead treated as literal strings"."""
    key = own_object(aw)
    aw.use(folder_policy(aw, version))
    stored = aw.admin("iam").get_role_policy(RoleName=aw.probe_role.split("/")[-1], PolicyName="folder")
    assert stored["PolicyDocument"].get("Version") == version
    assert_denied(aw.user.get_object, Bucket=aw.bucket, Key=key)
    literal = "${cognito-identity.amazonaws.com:sub}/a.txt"
    aw.admin("s3").put_object(Bucket=aw.bucket, Key=literal, Body=b"literal")
    assert aw.user.get_object(Bucket=aw.bucket, Key=literal)["Body"].read() == b"literal"
    assert simulate(aw, folder_policy(aw, version), SIGNED_IN) == "implicitDeny"
    aw.use(folder_policy(aw, "2012-10-17"))
    assert aw.user.get_object(Bucket=aw.bucket, Key=key)["Body"].read() == b"mine"


def test_managed_policy_still_needs_the_current_version(aw):
    code, message = error_of(aw.admin("iam").create_policy, PolicyName=f"old{uuid.uuid4().hex[:6]}",
                             PolicyDocument=json.dumps(folder_policy(aw, "2008-10-17")))
    assert (code, message) == ("MalformedPolicyDocument", "Policy document must be version 2012-10-17 or greater.")


def test_trust_policy_of_version_2008_is_accepted(aw):
    document = {"Version": "2008-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = aw.admin("iam").create_role(RoleName=f"old{uuid.uuid4().hex[:6]}",
                                       AssumeRolePolicyDocument=json.dumps(document))["Role"]
    assert role["AssumeRolePolicyDocument"]["Version"] == "2008-10-17"
