"""local_aws's identity pool RoleMappings over HTTP: user pool groups' roles in ID tokens, Token and Rules
mappings, AmbiguousRoleResolution, and the tool's run getting the mapped role."""

import json
import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

from helpers import (PASSWORDS, REGION, cognito_user_session, jwt_claims, least_privilege, run_cli, trust,
                     user_env, write_config)


@pytest.fixture(scope="module")
def mapped(make_stack, admin_session, local_aws):
    """A stack whose user pool has groups with roles: alice in "editors" (Precedence 1) and "viewers"
    (Precedence 5), bob in none; set_mapping(mapping) installs the pool's RoleMappings for its client."""
    name = "map" + uuid.uuid4().hex[:6]
    stack = make_stack(name)

    def admin(service):
        return admin_session.client(service, region_name=REGION, endpoint_url=local_aws["endpoint_url"])

    iam, idp, identity = admin("iam"), admin("cognito-idp"), admin("cognito-identity")
    roles = {}
    for role in ("editors", "viewers", "ruled"):
        roles[role] = iam.create_role(RoleName=f"{name}-{role}", AssumeRolePolicyDocument=json.dumps(
            trust(stack["identity_pool_id"])))["Role"]["Arn"]
        iam.put_role_policy(RoleName=f"{name}-{role}", PolicyName="own-folder",
                            PolicyDocument=json.dumps(least_privilege(stack["bucket"])))
    for group, precedence in (("editors", 1), ("viewers", 5)):
        idp.create_group(UserPoolId=stack["user_pool_id"], GroupName=group, RoleArn=roles[group],
                         Precedence=precedence)
        idp.admin_add_user_to_group(UserPoolId=stack["user_pool_id"], Username="alice", GroupName=group)
    authenticated = iam.get_role(RoleName=stack["role"])["Role"]["Arn"]
    provider = f"cognito-idp.{REGION}.amazonaws.com/{stack['user_pool_id']}:{stack['client_id']}"

    def set_mapping(mapping):
        identity.set_identity_pool_roles(IdentityPoolId=stack["identity_pool_id"],
                                         Roles={"authenticated": authenticated}, RoleMappings={provider: mapping})
    return {**stack, "roles": {**roles, "authenticated": authenticated}, "set_mapping": set_mapping,
            "admin": admin}


def caller_role(stack, creds):
    """The role name in the assumed-role ARN STS reports for these credentials."""
    sts = boto3.client("sts", region_name=REGION, endpoint_url=stack["endpoint_url"],
                       aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds.get("SecretKey") or creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])
    arn = sts.get_caller_identity()["Arn"]
    assert arn.endswith("/CognitoIdentityCredentials"), arn
    return arn.split(":assumed-role/")[1].split("/")[0]


def role_of(stack, username):
    """The role name of the credentials the identity pool gives this user now."""
    return caller_role(stack, cognito_user_session(stack, username)[1])


def refusal(stack, username):
    """(code, message) of the identity pool refusing this user credentials."""
    with pytest.raises(ClientError) as raised:
        cognito_user_session(stack, username)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


TOKEN_DENY = {"Type": "Token", "AmbiguousRoleResolution": "Deny"}


def test_id_tokens_carry_the_groups_roles_and_the_lowest_precedence_one_as_preferred(mapped):
    idp = boto3.client("cognito-idp", region_name=REGION, endpoint_url=mapped["endpoint_url"],
                       config=Config(signature_version=UNSIGNED))
    result = AWSSRP("alice", PASSWORDS["alice"], mapped["user_pool_id"], mapped["client_id"],
                    client=idp).authenticate_user()["AuthenticationResult"]
    claims = jwt_claims(result["IdToken"])
    assert sorted(claims["cognito:groups"]) == ["editors", "viewers"]
    assert claims["cognito:roles"] == [mapped["roles"]["editors"], mapped["roles"]["viewers"]]
    assert claims["cognito:preferred_role"] == mapped["roles"]["editors"]
    renewed = idp.initiate_auth(ClientId=mapped["client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
                                AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]})["AuthenticationResult"]
    assert jwt_claims(renewed["IdToken"])["cognito:preferred_role"] == mapped["roles"]["editors"]
    assert "cognito:roles" not in jwt_claims(renewed["AccessToken"])


def test_a_token_mapping_gives_a_group_member_her_preferred_groups_role(mapped):
    mapped["set_mapping"](TOKEN_DENY)
    assert role_of(mapped, "alice") == mapped["roles"]["editors"].split("/")[-1]


def test_a_token_mapping_without_a_preferred_role_and_deny_refuses(mapped):
    mapped["set_mapping"](TOKEN_DENY)
    code, message = refusal(mapped, "bob")
    assert code == "NotAuthorizedException" and "ambiguous role mapping" in message


def test_a_token_mapping_without_a_preferred_role_falls_back_to_the_authenticated_role(mapped):
    mapped["set_mapping"]({"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"})
    assert role_of(mapped, "bob") == mapped["role"]


def test_a_rules_mapping_gives_the_first_matching_rules_role(mapped):
    mapped["set_mapping"]({"Type": "Rules", "AmbiguousRoleResolution": "Deny", "RulesConfiguration": {"Rules": [
        {"Claim": "cognito:username", "MatchType": "StartsWith", "Value": "bo", "RoleARN": mapped["roles"]["ruled"]},
        {"Claim": "cognito:groups", "MatchType": "Contains", "Value": "view", "RoleARN": mapped["roles"]["viewers"]},
        {"Claim": "cognito:username", "MatchType": "NotEqual", "Value": "x", "RoleARN": mapped["roles"]["editors"]},
    ]}})
    assert role_of(mapped, "bob") == mapped["roles"]["ruled"].split("/")[-1]
    assert role_of(mapped, "alice") == mapped["roles"]["viewers"].split("/")[-1]


def test_a_rules_mapping_no_rule_matches_falls_back_or_denies(mapped):
    rules = {"Rules": [{"Claim": "cognito:username", "MatchType": "Equals", "Value": "carol",
                        "RoleARN": mapped["roles"]["ruled"]}]}
    mapped["set_mapping"]({"Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
                           "RulesConfiguration": rules})
    assert role_of(mapped, "alice") == mapped["role"]
    mapped["set_mapping"]({"Type": "Rules", "AmbiguousRoleResolution": "Deny", "RulesConfiguration": rules})
    assert refusal(mapped, "alice")[0] == "NotAuthorizedException"


def test_a_mapped_role_whose_trust_names_another_pool_is_refused(mapped):
    iam = mapped["admin"]("iam")
    name = mapped["roles"]["ruled"].split("/")[-1]
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust(f"{REGION}:{uuid.uuid4()}")))
    try:
        mapped["set_mapping"]({"Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole", "RulesConfiguration": {
            "Rules": [{"Claim": "cognito:username", "MatchType": "Equals", "Value": "bob",
                       "RoleARN": mapped["roles"]["ruled"]}]}})
        assert refusal(mapped, "bob")[0] == "InvalidIdentityPoolConfigurationException"
    finally:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust(mapped["identity_pool_id"])))


def test_the_tools_run_gets_the_mapped_role_and_uploads_with_it(mapped, tmp_path):
    mapped["set_mapping"](TOKEN_DENY)
    upload = tmp_path / "hello.txt"
    upload.write_text("mapped\n")
    settings = {k: v for k, v in mapped.items() if k in ("region", "user_pool_id", "client_id", "identity_pool_id",
                                                         "bucket", "endpoint_url")}
    config = write_config(tmp_path / "config.ini", {"default": {**settings, "username": "alice",
                                                                "password": PASSWORDS["alice"],
                                                                "upload_file": str(upload)}})
    done = run_cli("--config", config, "--json", "--no-cache", "run", env=user_env(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    creds = {"AccessKeyId": report["access_key_id"], "SecretAccessKey": report["secret_access_key"],
             "SessionToken": report["session_token"]}
    assert caller_role(mapped, creds) == mapped["roles"]["editors"].split("/")[-1]
    assert report["uri"] == f"s3://{mapped['bucket']}/{report['identity_id']}/hello.txt"
