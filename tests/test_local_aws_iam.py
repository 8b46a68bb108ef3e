"""local_aws over HTTP: Cognito identities, role mapping and IAM isolation of users' S3 folders."""

import time
import uuid

import boto3
import pytest
import requests

from helpers import REGION, assert_denied, error_of, trust


def test_user_can_put_get_list_and_delete_in_own_folder(world):
    s3, key = world.s3["alice"], f"{world.id['alice']}/notes/a.txt"
    s3.put_object(Bucket=world.bucket, Key=key, Body=b"mine")
    assert s3.get_object(Bucket=world.bucket, Key=key)["Body"].read() == b"mine"
    listed = s3.list_objects_v2(Bucket=world.bucket, Prefix=f"{world.id['alice']}/")
    assert [o["Key"] for o in listed["Contents"]] == [key]
    s3.delete_object(Bucket=world.bucket, Key=key)
    assert "Contents" not in s3.list_objects_v2(Bucket=world.bucket, Prefix=f"{world.id['alice']}/")


def test_user_cannot_touch_another_users_folder(world):
    bob_key = f"{world.id['bob']}/secret.txt"
    world.s3["bob"].put_object(Bucket=world.bucket, Key=bob_key, Body=b"bob's")
    alice = world.s3["alice"]
    assert_denied(alice.get_object, Bucket=world.bucket, Key=bob_key)
    assert_denied(alice.put_object, Bucket=world.bucket, Key=bob_key, Body=b"overwrite")
    assert_denied(alice.delete_object, Bucket=world.bucket, Key=bob_key)
    assert_denied(alice.list_objects_v2, Bucket=world.bucket, Prefix=f"{world.id['bob']}/")
    assert_denied(alice.list_objects, Bucket=world.bucket, Prefix=f"{world.id['bob']}/")
    body = world.admin("s3").get_object(Bucket=world.bucket, Key=bob_key)["Body"].read()
    assert body == b"bob's", "a denied put or delete still changed the object"


def test_user_cannot_put_at_bucket_root(world):
    assert_denied(world.s3["alice"].put_object, Bucket=world.bucket, Key="root.txt", Body=b"x")


def test_user_cannot_put_in_folder_that_merely_starts_with_own_id(world):
    assert_denied(world.s3["alice"].put_object, Bucket=world.bucket, Key=f"{world.id['alice']}x/a.txt", Body=b"x")


def test_user_cannot_list_whole_bucket(world):
    assert_denied(world.s3["alice"].list_objects_v2, Bucket=world.bucket)
    assert_denied(world.s3["alice"].list_objects_v2, Bucket=world.bucket, Prefix="")
    assert_denied(world.s3["alice"].list_objects_v2, Bucket=world.bucket, Prefix=world.id["alice"])


def test_copy_from_another_users_folder_is_denied(world):
    bob_key = f"{world.id['bob']}/copy-me.txt"
    world.s3["bob"].put_object(Bucket=world.bucket, Key=bob_key, Body=b"bob's")
    assert_denied(world.s3["alice"].copy_object, Bucket=world.bucket, Key=f"{world.id['alice']}/stolen.txt",
                  CopySource={"Bucket": world.bucket, "Key": bob_key})


def test_delete_objects_checks_each_key(world):
    alice, own, bobs = world.s3["alice"], f"{world.id['alice']}/d.txt", f"{world.id['bob']}/d.txt"
    alice.put_object(Bucket=world.bucket, Key=own, Body=b"x")
    world.s3["bob"].put_object(Bucket=world.bucket, Key=bobs, Body=b"x")
    result = alice.delete_objects(Bucket=world.bucket, Delete={"Objects": [{"Key": own}, {"Key": bobs}]})
    assert [d["Key"] for d in result.get("Deleted", [])] == [own]
    assert [(e["Key"], e["Code"]) for e in result.get("Errors", [])] == [(bobs, "AccessDenied")]


def test_bucket_policy_deny_is_enforced_and_tls_deny_is_not_triggered(world):
    alice, key = world.s3["alice"], f"{world.id['alice']}/locked"
    alice.put_object(Bucket=world.bucket, Key=key, Body=b"x")  # passes the aws:SecureTransport Deny
    assert_denied(alice.delete_object, Bucket=world.bucket, Key=key)
    assert_denied(world.admin("s3").delete_object, Bucket=world.bucket, Key=key)


def test_identity_id_is_stable_and_per_user(world):
    first, again = world.identity_id("alice"), world.identity_id("alice")
    assert first == again == world.id["alice"]
    assert world.id["bob"] != first
    region, _, rest = first.partition(":")
    assert region == REGION and uuid.UUID(rest)
    fresh_token = world.id_token("alice")
    assert world.unsigned_identity.get_id(IdentityPoolId=world.pool_id,
                                          Logins={world.provider: fresh_token})["IdentityId"] == first


def test_credentials_are_a_one_hour_session_of_the_mapped_role(world):
    result = world.credentials("alice")
    assert result["IdentityId"] == world.id["alice"]
    creds = result["Credentials"]
    remaining = creds["Expiration"].timestamp() - time.time()
    assert 3500 < remaining <= 3600
    sts = boto3.client("sts", region_name=REGION, endpoint_url=world.endpoint, aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretKey"], aws_session_token=creds["SessionToken"])
    role_name = world.role_arn.split("/")[-1]
    assert sts.get_caller_identity()["Arn"].endswith(f":assumed-role/{role_name}/CognitoIdentityCredentials")


def test_token_cannot_get_credentials_of_another_identity(world):
    code, message = error_of(world.unsigned_identity.get_credentials_for_identity,
                             IdentityId=world.id["bob"], Logins={world.provider: world.token["alice"]})
    assert code == "NotAuthorizedException"
    assert message.startswith("Logins don't match.")


def test_credentials_need_logins_for_an_authenticated_identity(world):
    code, _ = error_of(world.unsigned_identity.get_credentials_for_identity, IdentityId=world.id["alice"])
    assert code == "NotAuthorizedException"


def test_get_id_rejects_a_tampered_token(world):
    header, payload, signature = world.token["alice"].split(".")
    forged = ".".join([header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    code, message = error_of(world.unsigned_identity.get_id, IdentityPoolId=world.pool_id,
                             Logins={world.provider: forged})
    assert (code, message) == ("NotAuthorizedException", "Invalid login token. Couldn't verify signed token.")


def test_get_id_rejects_a_token_under_another_providers_name(world):
    other = world.admin("cognito-idp").create_user_pool(PoolName="other")["UserPool"]["Id"]
    code, message = error_of(world.unsigned_identity.get_id, IdentityPoolId=world.pool_id,
                             Logins={f"cognito-idp.{REGION}.amazonaws.com/{other}": world.token["alice"]})
    assert (code, message) == ("NotAuthorizedException", "Invalid login token. Issuer doesn't match providerName")


def test_get_id_rejects_a_client_the_identity_pool_does_not_list(world):
    pool_id = world.admin("cognito-identity").create_identity_pool(
        IdentityPoolName="otherclient", AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": world.provider, "ClientId": "someotherclient"}])["IdentityPoolId"]
    code, message = error_of(world.unsigned_identity.get_id, IdentityPoolId=pool_id,
                             Logins={world.provider: world.token["alice"]})
    assert code == "NotAuthorizedException"
    assert message == "Invalid login token. Token is not from a supported provider of this identity pool."


def test_get_id_without_logins_is_refused_when_unauthenticated_access_is_off(world):
    code, _ = error_of(world.unsigned_identity.get_id, IdentityPoolId=world.pool_id)
    assert code == "NotAuthorizedException"


def test_unknown_identity_pool_is_resource_not_found(world):
    missing = f"{REGION}:{uuid.uuid4()}"
    code, message = error_of(world.unsigned_identity.get_id, IdentityPoolId=missing,
                             Logins={world.provider: world.token["alice"]})
    assert (code, message) == ("ResourceNotFoundException", f"IdentityPool '{missing}' not found.")


def test_identity_pool_roles_can_be_read_back(world):
    roles = world.admin("cognito-identity").get_identity_pool_roles(IdentityPoolId=world.pool_id)
    assert roles["IdentityPoolId"] == world.pool_id
    assert roles["Roles"] == {"authenticated": world.role_arn}


def test_pool_without_role_mapping_is_invalid_configuration(world):
    code, message = error_of(world.credentials, "alice", world.new_identity_pool())
    assert code == "InvalidIdentityPoolConfigurationException"
    assert message == "Invalid identity pool configuration. Check assigned IAM roles for this pool."


@pytest.mark.parametrize("broken", [
    {"pool": "another"}, {"action": "sts:AssumeRole"}, {"federated": "cognito-identity.amazon.com"}])
def test_trust_policy_refuses_what_it_does_not_name(world, broken):
    pool_id = world.new_identity_pool()
    trusted_pool = world.pool_id if broken.get("pool") else pool_id
    role = world.new_role(trust(trusted_pool, broken.get("action", "sts:AssumeRoleWithWebIdentity"),
                                broken.get("federated", "cognito-identity.amazonaws.com")))
    world.admin("cognito-identity").set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": role})
    code, _ = error_of(world.credentials, "alice", pool_id)
    assert code == "InvalidIdentityPoolConfigurationException"


def test_trust_policy_naming_the_pool_is_accepted(world):
    pool_id = world.new_identity_pool()
    role = world.new_role(trust(pool_id))
    world.admin("cognito-identity").set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": role})
    assert world.credentials("alice", pool_id)["Credentials"]["AccessKeyId"]


def test_unsigned_s3_request_is_denied(world):
    key = f"{world.id['alice']}/public.txt"
    world.admin("s3").put_object(Bucket=world.bucket, Key=key, Body=b"x")
    assert requests.get(f"{world.endpoint}/{world.bucket}/{key}", timeout=10).status_code == 403
    assert requests.put(f"{world.endpoint}/{world.bucket}/anon.txt", data=b"x", timeout=10).status_code == 403


def test_unknown_access_key_is_denied(world):
    stranger = boto3.client("s3", region_name=REGION, endpoint_url=world.endpoint,
                            aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x" * 40)
    code, _ = error_of(stranger.list_objects_v2, Bucket=world.bucket)
    assert code == "InvalidAccessKeyId"


def test_wrong_secret_is_denied(world):
    creds = world.credentials("alice")["Credentials"]
    forger = boto3.client("s3", region_name=REGION, endpoint_url=world.endpoint,
                          aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key="x" * 40,
                          aws_session_token=creds["SessionToken"])
    code, _ = error_of(forger.list_objects_v2, Bucket=world.bucket, Prefix=f"{world.id['alice']}/")
    assert code == "SignatureDoesNotMatch"


def test_moto_api_cannot_switch_enforcement_off(world):
    assert requests.post(f"{world.endpoint}/moto-api/reset-auth", data=b"inf", timeout=10).status_code == 403
    assert_denied(world.s3["alice"].put_object, Bucket=world.bucket, Key="root.txt", Body=b"x")


def test_admin_has_full_access(world):
    s3 = world.admin("s3")
    s3.put_object(Bucket=world.bucket, Key="admin/x.txt", Body=b"x")
    assert any(o["Key"] == "admin/x.txt" for o in s3.list_objects_v2(Bucket=world.bucket)["Contents"])
    s3.head_bucket(Bucket=world.bucket)
    assert world.admin("iam").get_role(RoleName=world.role_arn.split("/")[-1])["Role"]["Arn"] == world.role_arn
