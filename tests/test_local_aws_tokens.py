"""local_aws's Cognito tokens over HTTP: per-pool keys, expiry on the clock, devices, rotation, revocation."""

import base64
import gzip
import json
import urllib.request

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from pycognito.aws_srp import AWSSRP, generate_hash_device
from pycognito.exceptions import SoftwareTokenMFAChallengeException

from helpers import PASSWORD, advance_clock, error, make_pool, make_user, totp

ROTATING = {"Feature": "ENABLED", "RetryGracePeriodSeconds": 0}


@pytest.fixture(scope="module")
def clock_clients(clock_aws):
    """(admin cognito-idp, unsigned cognito-idp, admin cognito-identity) of the module's own local_aws, whose
    clock these tests move."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    endpoint, admin = clock_aws["endpoint_url"], clock_aws["admin_session"]
    return (admin.client("cognito-idp", endpoint_url=endpoint),
            boto3.client("cognito-idp", region_name="us-east-1", endpoint_url=endpoint,
                         config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1})),
            admin.client("cognito-identity", endpoint_url=endpoint))


def enable_totp(idp, public, pool, client_id):
    """Give alice a verified authenticator (the secret Cognito hands out) and prefer it; return the secret."""
    tokens = sign_in(public, pool, client_id)
    secret = public.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
    public.verify_software_token(AccessToken=tokens["AccessToken"], UserCode=totp(secret))
    idp.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice",
                                      SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return secret


def sign_in(public, pool, client_id, **device):
    """pycognito's SRP sign-in (with device_key/device_group_key/device_password when given): the result."""
    return AWSSRP("alice", PASSWORD, pool, client_id, client=public, **device).authenticate_user()[
        "AuthenticationResult"]


def refresh(public, client_id, token, device_key=None):
    """REFRESH_TOKEN_AUTH, with DEVICE_KEY when given."""
    params = {"REFRESH_TOKEN": token, **({"DEVICE_KEY": device_key} if device_key else {})}
    return public.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=params)


def confirm(public, tokens, name="laptop"):
    """ConfirmDevice as the JS SDK and pycognito do it: (device kwargs for AWSSRP, ConfirmDevice's answer)."""
    meta = tokens["NewDeviceMetadata"]
    password, verifier = generate_hash_device(meta["DeviceGroupKey"], meta["DeviceKey"])
    answer = public.confirm_device(AccessToken=tokens["AccessToken"], DeviceKey=meta["DeviceKey"],
                                   DeviceSecretVerifierConfig=verifier, DeviceName=name)
    return {"device_key": meta["DeviceKey"], "device_group_key": meta["DeviceGroupKey"],
            "device_password": password}, answer


def tracked_pool(idp, public, remember="always", mfa=False, **client_args):
    """A pool with device tracking (and TOTP MFA for alice if asked): (pool, client id, TOTP secret or None)."""
    config = {"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": remember == "opt-in"}
    pool, client_id, _ = make_pool(idp, DeviceConfiguration=config, **client_args)
    make_user(idp, pool)
    secret = None
    if mfa:
        idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OPTIONAL",
                                     SoftwareTokenMfaConfiguration={"Enabled": True})
        secret = enable_totp(idp, public, pool, client_id)
    return pool, client_id, secret


def test_each_pool_signs_with_its_own_keys_and_serves_them(idp, public, local_aws):
    pools = [make_pool(idp) for _ in range(2)]
    documents = []
    for pool, client_id, _ in pools:
        make_user(idp, pool)
        with urllib.request.urlopen(f"{local_aws['endpoint_url']}/{pool}/.well-known/jwks.json", timeout=10) as page:
            documents.append(json.loads(page.read()))
    assert {k["kid"] for k in documents[0]["keys"]} == {f"{pools[0][0]}-id", f"{pools[0][0]}-access"}
    assert not {k["n"] for k in documents[0]["keys"]} & {k["n"] for k in documents[1]["keys"]}
    assert all("d" not in k for k in documents[0]["keys"]), "the JWKS must not carry private parts"
    tokens = sign_in(public, pools[0][0], pools[0][1])
    keys = KeySet.import_key_set(documents[0])
    for name, use in (("IdToken", "id"), ("AccessToken", "access")):
        token = jwt.decode(tokens[name], keys, algorithms=["RS256"])
        assert token.header["kid"] == f"{pools[0][0]}-{use}" and token.claims["token_use"] == use
    with pytest.raises(Exception):
        jwt.decode(tokens["IdToken"], KeySet.import_key_set(documents[1]), algorithms=["RS256"])


def test_get_id_refuses_a_token_signed_with_motos_packaged_key(idp, public, admin_client):
    import moto.cognitoidp

    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool)
    provider = f"cognito-idp.us-east-1.amazonaws.com/{pool}"
    identity = admin_client("cognito-identity")
    identity_pool = identity.create_identity_pool(
        IdentityPoolName="forged", AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": client_id}])["IdentityPoolId"]
    real = sign_in(public, pool, client_id)["IdToken"]
    payload = real.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    with gzip.open(moto.cognitoidp.__path__[0] + "/resources/jwks-private.json.gz") as packaged:
        moto_key = RSAKey.import_key(json.loads(packaged.read()))
    # The same claims, signed with the key every moto pool used to sign with.
    forged = jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, moto_key)
    assert identity.get_id(IdentityPoolId=identity_pool, Logins={provider: real})["IdentityId"]
    with pytest.raises(Exception) as refused:
        identity.get_id(IdentityPoolId=identity_pool, Logins={provider: forged})
    assert error(refused)[:2] == ("NotAuthorizedException", "Invalid login token. Couldn't verify signed token.")


def test_tokens_expire_on_the_local_clock(clock_aws, clock_clients):
    idp, public, identity = clock_clients
    units = {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "minutes"}
    pool = idp.create_user_pool(PoolName="expiring")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="short", ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        AccessTokenValidity=5, IdTokenValidity=5, RefreshTokenValidity=60, TokenValidityUnits=units,
    )["UserPoolClient"]["ClientId"]
    make_user(idp, pool)
    tokens = sign_in(public, pool, client_id)
    assert tokens["ExpiresIn"] == 300
    assert public.get_user(AccessToken=tokens["AccessToken"])["Username"] == "alice"
    advance_clock(clock_aws["endpoint_url"], 301)
    with pytest.raises(Exception) as expired:
        public.get_user(AccessToken=tokens["AccessToken"])
    assert error(expired)[:2] == ("NotAuthorizedException", "Access Token has expired")
    provider = f"cognito-idp.us-east-1.amazonaws.com/{pool}"
    identity_pool = identity.create_identity_pool(
        IdentityPoolName="expiring", AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": client_id}])["IdentityPoolId"]
    with pytest.raises(Exception) as stale:
        identity.get_id(IdentityPoolId=identity_pool, Logins={provider: tokens["IdToken"]})
    assert "Token expired" in error(stale)[1]
    renewed = refresh(public, client_id, tokens["RefreshToken"])["AuthenticationResult"]
    assert public.get_user(AccessToken=renewed["AccessToken"])["Username"] == "alice"
    advance_clock(clock_aws["endpoint_url"], 3600)
    with pytest.raises(Exception) as gone:
        refresh(public, client_id, tokens["RefreshToken"])
    assert error(gone)[:2] == ("NotAuthorizedException", "Refresh Token has expired")


def test_a_tracked_device_binds_the_refresh_token_once_confirmed(idp, public):
    pool, client_id, _ = tracked_pool(idp, public)
    tokens = sign_in(public, pool, client_id)
    meta = tokens["NewDeviceMetadata"]
    assert meta["DeviceKey"].startswith("us-east-1_") and meta["DeviceGroupKey"]
    with pytest.raises(Exception) as unconfirmed:
        refresh(public, client_id, tokens["RefreshToken"], meta["DeviceKey"])
    assert error(unconfirmed)[:2] == ("NotAuthorizedException", "Invalid Refresh Token.")
    device, answer = confirm(public, tokens)
    assert answer["UserConfirmationNecessary"] is False
    assert refresh(public, client_id, tokens["RefreshToken"], meta["DeviceKey"])["AuthenticationResult"]["IdToken"]
    with pytest.raises(Exception) as without_key:
        refresh(public, client_id, tokens["RefreshToken"])
    assert error(without_key)[:2] == ("NotAuthorizedException", "Invalid Refresh Token.")
    # Signing in again through the device (no MFA here): device SRP, tokens bound to the same device.
    again = sign_in(public, pool, client_id, **device)
    assert "NewDeviceMetadata" not in again
    assert refresh(public, client_id, again["RefreshToken"], meta["DeviceKey"])["AuthenticationResult"]
    listed = public.list_devices(AccessToken=tokens["AccessToken"])["Devices"]
    assert [d["DeviceKey"] for d in listed] == [meta["DeviceKey"]]
    attributes = {a["Name"]: a["Value"] for a in listed[0]["DeviceAttributes"]}
    assert attributes["dev:device_remembered_status"] == "remembered" and attributes["device_name"] == "laptop"
    idp.admin_forget_device(UserPoolId=pool, Username="alice", DeviceKey=meta["DeviceKey"])
    with pytest.raises(Exception) as forgotten:
        refresh(public, client_id, tokens["RefreshToken"], meta["DeviceKey"])
    assert error(forgotten)[:2] == ("NotAuthorizedException", "Invalid Refresh Token.")
    assert idp.admin_list_devices(UserPoolId=pool, Username="alice")["Devices"] == []


def test_a_remembered_device_skips_mfa_through_device_srp(idp, public, request_log):
    pool, client_id, secret = tracked_pool(idp, public, mfa=True)
    with pytest.raises(SoftwareTokenMFAChallengeException) as challenge:
        sign_in(public, pool, client_id)
    session = challenge.value.get_tokens()["Session"]
    tokens = public.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=session,
        ChallengeResponses={"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": totp(secret)})["AuthenticationResult"]
    device, _ = confirm(public, tokens)
    request_log.clear()
    again = sign_in(public, pool, client_id, **device)
    assert "NewDeviceMetadata" not in again
    operations = [e["operation"] for e in request_log.entries()]
    assert operations == ["InitiateAuth"] + ["RespondToAuthChallenge"] * 3  # password, device SRP, device proof
    assert refresh(public, client_id, again["RefreshToken"], device["device_key"])["AuthenticationResult"]
    with pytest.raises(Exception) as wrong:
        sign_in(public, pool, client_id, **dict(device, device_password="not-the-device-password"))
    assert error(wrong)[:2] == ("NotAuthorizedException", "Incorrect username or password.")


def test_an_opt_in_pool_asks_mfa_until_the_device_is_remembered(idp, public):
    pool, client_id, secret = tracked_pool(idp, public, remember="opt-in", mfa=True)
    with pytest.raises(SoftwareTokenMFAChallengeException) as challenge:
        sign_in(public, pool, client_id)
    tokens = public.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=challenge.value.get_tokens()["Session"],
        ChallengeResponses={"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": totp(secret)})["AuthenticationResult"]
    device, answer = confirm(public, tokens)
    assert answer["UserConfirmationNecessary"] is True
    with pytest.raises(SoftwareTokenMFAChallengeException):
        sign_in(public, pool, client_id, **device)
    public.update_device_status(AccessToken=tokens["AccessToken"], DeviceKey=device["device_key"],
                                DeviceRememberedStatus="remembered")
    assert sign_in(public, pool, client_id, **device)["IdToken"]


def rotating_client(idp, secret=False, grace=0):
    """A pool with alice and a client that rotates refresh tokens: (pool, client id, client secret or None)."""
    pool = idp.create_user_pool(PoolName="rotating")["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="rotating", GenerateSecret=secret, ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"],
        RefreshTokenRotation=dict(ROTATING, RetryGracePeriodSeconds=grace))["UserPoolClient"]
    make_user(idp, pool)
    return pool, client["ClientId"], client.get("ClientSecret")


def test_a_rotating_client_refuses_refresh_token_auth_and_the_flow_itself(idp, public):
    pool, client_id, _ = rotating_client(idp)
    tokens = sign_in(public, pool, client_id)
    with pytest.raises(Exception) as refused:
        refresh(public, client_id, tokens["RefreshToken"])
    assert error(refused)[0] == "InvalidParameterException" and "GetTokensFromRefreshToken" in error(refused)[1]
    with pytest.raises(Exception) as both:
        idp.create_user_pool_client(UserPoolId=pool, ClientName="both", RefreshTokenRotation=ROTATING,
                                    ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    assert error(both)[0] == "InvalidParameterException"


def test_rotation_replaces_the_refresh_token_and_retires_the_old_one(idp, public):
    pool, client_id, secret = rotating_client(idp, secret=True)
    first = AWSSRP("alice", PASSWORD, pool, client_id, client=public, client_secret=secret).authenticate_user()[
        "AuthenticationResult"]["RefreshToken"]
    with pytest.raises(Exception) as no_secret:
        public.get_tokens_from_refresh_token(RefreshToken=first, ClientId=client_id)
    assert error(no_secret)[0] == "NotAuthorizedException"
    renewed = public.get_tokens_from_refresh_token(RefreshToken=first, ClientId=client_id,
                                                   ClientSecret=secret)["AuthenticationResult"]
    assert renewed["RefreshToken"] != first and public.get_user(AccessToken=renewed["AccessToken"])
    with pytest.raises(Exception) as retired:
        public.get_tokens_from_refresh_token(RefreshToken=first, ClientId=client_id, ClientSecret=secret)
    assert error(retired)[:2] == ("NotAuthorizedException", "Invalid Refresh Token.")
    again = public.get_tokens_from_refresh_token(RefreshToken=renewed["RefreshToken"], ClientId=client_id,
                                                 ClientSecret=secret)["AuthenticationResult"]
    assert again["RefreshToken"] not in (first, renewed["RefreshToken"])


def test_the_grace_period_keeps_the_old_refresh_token_until_the_clock_passes_it(clock_aws, clock_clients):
    idp, public, _ = clock_clients
    pool, client_id, _ = rotating_client(idp, grace=30)
    first = sign_in(public, pool, client_id)["RefreshToken"]
    public.get_tokens_from_refresh_token(RefreshToken=first, ClientId=client_id)
    assert public.get_tokens_from_refresh_token(RefreshToken=first, ClientId=client_id)["AuthenticationResult"]
    advance_clock(clock_aws["endpoint_url"], 31)
    with pytest.raises(Exception) as retired:
        public.get_tokens_from_refresh_token(RefreshToken=first, ClientId=client_id)
    assert error(retired)[:2] == ("NotAuthorizedException", "Invalid Refresh Token.")


def test_a_rotating_tracked_client_needs_the_device_key(idp, public):
    config = {"ChallengeRequiredOnNewDevice": False, "DeviceOnlyRememberedOnUserPrompt": False}
    pool = idp.create_user_pool(PoolName="rotating-tracked", DeviceConfiguration=config)["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool, ClientName="c", RefreshTokenRotation=ROTATING,
                                            ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"])["UserPoolClient"]["ClientId"]
    make_user(idp, pool)
    tokens = sign_in(public, pool, client_id)
    device, _ = confirm(public, tokens)
    with pytest.raises(Exception) as without:
        public.get_tokens_from_refresh_token(RefreshToken=tokens["RefreshToken"], ClientId=client_id)
    assert error(without)[:2] == ("NotAuthorizedException", "Invalid Refresh Token.")
    renewed = public.get_tokens_from_refresh_token(RefreshToken=tokens["RefreshToken"], ClientId=client_id,
                                                   DeviceKey=device["device_key"])["AuthenticationResult"]
    assert public.get_tokens_from_refresh_token(RefreshToken=renewed["RefreshToken"], ClientId=client_id,
                                                DeviceKey=device["device_key"])


@pytest.mark.parametrize("how", ["GlobalSignOut", "AdminUserGlobalSignOut"])
def test_sign_out_everywhere_ends_refresh_and_access_tokens(idp, public, how):
    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool)
    sessions = [sign_in(public, pool, client_id) for _ in range(2)]
    if how == "GlobalSignOut":
        public.global_sign_out(AccessToken=sessions[0]["AccessToken"])
    else:
        idp.admin_user_global_sign_out(UserPoolId=pool, Username="alice")
    for tokens in sessions:
        with pytest.raises(Exception) as revoked:
            refresh(public, client_id, tokens["RefreshToken"])
        assert error(revoked)[:2] == ("NotAuthorizedException", "Refresh Token has been revoked")
        with pytest.raises(Exception) as dead:
            public.get_user(AccessToken=tokens["AccessToken"])
        assert error(dead)[:2] == ("NotAuthorizedException", "Access Token has been revoked")


def test_revoke_token_ends_one_session_and_leaves_the_others(idp, public):
    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool)
    ended, kept = sign_in(public, pool, client_id), sign_in(public, pool, client_id)
    public.revoke_token(Token=ended["RefreshToken"], ClientId=client_id)
    with pytest.raises(Exception) as revoked:
        refresh(public, client_id, ended["RefreshToken"])
    assert error(revoked)[:2] == ("NotAuthorizedException", "Refresh Token has been revoked")
    with pytest.raises(Exception) as dead:
        public.get_user(AccessToken=ended["AccessToken"])
    assert error(dead)[0] == "NotAuthorizedException"
    assert refresh(public, client_id, kept["RefreshToken"])["AuthenticationResult"]["IdToken"]
    assert public.get_user(AccessToken=kept["AccessToken"])["Username"] == "alice"
    with pytest.raises(Exception) as not_refresh:
        public.revoke_token(Token=kept["AccessToken"], ClientId=client_id)
    assert error(not_refresh)[0] == "UnsupportedTokenTypeException"
