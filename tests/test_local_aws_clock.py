"""local_aws's clock governs every sign-in step and keeps a sign-in's auth_time, over HTTP with boto3 and pycognito.

These tests move the clock, so they run on a local_aws of the module's own (conftest.clock_aws).
"""

import pathlib
import re
import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP, generate_hash_device, long_to_hex

from helpers import advance_clock, control_call, jwt_claims, local_now, totp

PASSWORD, TEMPORARY = "Correct-horse-1!", "Temporary-pass-1!"
SMS_CONFIG = {"SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "x"}}
FLOWS = ("ALLOW_USER_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
EXPIRED = ("NotAuthorizedException", "Invalid session for the user, session is expired.")
ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def env(clock_aws):
    """The module's local_aws with an admin cognito-idp (idp) and an unsigned one (public), as a dict."""
    public = boto3.client("cognito-idp", region_name="us-east-1", endpoint_url=clock_aws["endpoint_url"],
                          config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    return {**clock_aws, "public": public,
            "idp": clock_aws["admin_session"].client("cognito-idp", endpoint_url=clock_aws["endpoint_url"])}


def error(excinfo):
    """(code, message) of a ClientError."""
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


# ---- a user pool, an app client and alice, set up as each challenge needs


def new_pool(env, validity=None, factors=("PASSWORD", "EMAIL_OTP", "SMS_OTP"), mfa=None, devices=False,
             password=PASSWORD, flows=FLOWS, **client_args):
    """A pool, an app client (AuthSessionValidity minutes when given) and alice: (pool id, client id)."""
    idp = env["idp"]
    pool_args = {"Policies": {"SignInPolicy": {"AllowedFirstAuthFactors": list(factors)}}}
    if devices:
        pool_args["DeviceConfiguration"] = {"ChallengeRequiredOnNewDevice": True,
                                            "DeviceOnlyRememberedOnUserPrompt": False}
    pool = idp.create_user_pool(PoolName=f"clock-{uuid.uuid4().hex[:8]}", **pool_args)["UserPool"]["Id"]
    if validity is not None:
        client_args["AuthSessionValidity"] = validity
    client_id = idp.create_user_pool_client(UserPoolId=pool, ClientName="tool", ExplicitAuthFlows=list(flows),
                                            **client_args)["UserPoolClient"]["ClientId"]
    attrs = {"email": "alice@example.com", "phone_number": "+15555550100", "email_verified": "true",
             "phone_number_verified": "true"}
    idp.admin_create_user(UserPoolId=pool, Username="alice", TemporaryPassword=TEMPORARY, MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": k, "Value": v} for k, v in attrs.items()])
    if password:
        idp.admin_set_user_password(UserPoolId=pool, Username="alice", Password=password, Permanent=True)
    if mfa:
        idp.set_user_pool_mfa_config(UserPoolId=pool, **mfa)
    return pool, client_id


def respond(env, client_id, name, session=None, **responses):
    """RespondToAuthChallenge as alice."""
    return env["public"].respond_to_auth_challenge(
        ClientId=client_id, ChallengeName=name, ChallengeResponses={"USERNAME": "alice", **responses},
        **({"Session": session} if session else {}))


def user_auth(env, client_id, **params):
    """InitiateAuth USER_AUTH as alice."""
    return env["public"].initiate_auth(ClientId=client_id, AuthFlow="USER_AUTH",
                                       AuthParameters={"USERNAME": "alice", **params})


def srp_password(env, pool, client_id, **device):
    """USER_SRP_AUTH through PASSWORD_VERIFIER: (the AWSSRP, the response that follows the password)."""
    srp = AWSSRP("alice", PASSWORD, pool, client_id, client=env["public"], **device)
    params = srp.get_auth_params()
    first = env["public"].initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    return srp, env["public"].respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses=srp.process_challenge(first["ChallengeParameters"], params))


def newest_code(env, pool, channel):
    """The newest code local_aws "sent" alice in this pool by channel."""
    sent = [m for m in control_call(env, "GET", "messages") if m["user_pool_id"] == pool and m["channel"] == channel]
    return sent[-1]["code"]


# ---- each challenge: start(env, validity) does the sign-in up to it and returns (name, answer); answer()
# ---- gives the challenge its correct answer (computed when called, so a TOTP code is current).


def password_verifier(env, validity):
    """USER_SRP_AUTH's PASSWORD_VERIFIER, answered with pycognito's proof."""
    pool, client_id = new_pool(env, validity)
    srp = AWSSRP("alice", PASSWORD, pool, client_id, client=env["public"])
    params = srp.get_auth_params()
    first = env["public"].initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    return first["ChallengeName"], lambda: env["public"].respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses=srp.process_challenge(first["ChallengeParameters"], params))


def new_password_after_user_password_auth(env, validity):
    """NEW_PASSWORD_REQUIRED after a temporary password (a session moto issues)."""
    pool, client_id = new_pool(env, validity, password=None)
    first = env["public"].initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                        AuthParameters={"USERNAME": "alice", "PASSWORD": TEMPORARY})
    return first["ChallengeName"], lambda: respond(env, client_id, "NEW_PASSWORD_REQUIRED", first["Session"],
                                                   NEW_PASSWORD=PASSWORD)


def new_password_after_srp(env, validity):
    """NEW_PASSWORD_REQUIRED after SRP with a temporary password (the SECRET_BLOCK's session)."""
    pool, client_id = new_pool(env, validity, password=None)
    srp = AWSSRP("alice", TEMPORARY, pool, client_id, client=env["public"])
    params = srp.get_auth_params()
    first = env["public"].initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    second = respond(env, client_id, "PASSWORD_VERIFIER",
                     **srp.process_challenge(first["ChallengeParameters"], params))
    return second["ChallengeName"], lambda: respond(env, client_id, "NEW_PASSWORD_REQUIRED", second["Session"],
                                                    NEW_PASSWORD=PASSWORD)


def first_factor_code(channel):
    """The starter of a passwordless sign-in by channel (email or sms)."""
    def start(env, validity):
        """A passwordless sign-in by a code sent to the channel."""
        pool, client_id = new_pool(env, validity)
        factor = "EMAIL_OTP" if channel == "email" else "SMS_OTP"
        first = user_auth(env, client_id, PREFERRED_CHALLENGE=factor)
        code = newest_code(env, pool, channel)
        return first["ChallengeName"], lambda: respond(env, client_id, factor, first["Session"],
                                                       **{f"{factor}_CODE": code})
    return start


def select_challenge(env, validity):
    """USER_AUTH without a preference: SELECT_CHALLENGE, answered PASSWORD."""
    _, client_id = new_pool(env, validity)
    first = user_auth(env, client_id)
    return first["ChallengeName"], lambda: respond(env, client_id, "SELECT_CHALLENGE", first["Session"],
                                                   ANSWER="PASSWORD", PASSWORD=PASSWORD)


def password_challenge(env, validity):
    """USER_AUTH preferring PASSWORD without sending it: the PASSWORD challenge."""
    _, client_id = new_pool(env, validity)
    first = user_auth(env, client_id, PREFERRED_CHALLENGE="PASSWORD")
    return first["ChallengeName"], lambda: respond(env, client_id, "PASSWORD", first["Session"], PASSWORD=PASSWORD)


def password_srp_challenge(env, validity):
    """USER_AUTH preferring PASSWORD_SRP without SRP_A: the PASSWORD_SRP challenge."""
    pool, client_id = new_pool(env, validity)
    srp = AWSSRP("alice", PASSWORD, pool, client_id, client=env["public"])
    first = user_auth(env, client_id, PREFERRED_CHALLENGE="PASSWORD_SRP")
    return first["ChallengeName"], lambda: respond(env, client_id, "PASSWORD_SRP", first["Session"],
                                                   SRP_A=srp.get_auth_params()["SRP_A"])


def password_verifier_of_user_auth(env, validity):
    """USER_AUTH PASSWORD_SRP with SRP_A: its PASSWORD_VERIFIER."""
    pool, client_id = new_pool(env, validity)
    srp = AWSSRP("alice", PASSWORD, pool, client_id, client=env["public"])
    params = srp.get_auth_params()
    first = user_auth(env, client_id, PREFERRED_CHALLENGE="PASSWORD_SRP", SRP_A=params["SRP_A"])
    return first["ChallengeName"], lambda: respond(env, client_id, "PASSWORD_VERIFIER", first["Session"],
                                                   **srp.process_challenge(first["ChallengeParameters"], params))


def mfa_code(name):
    """The starter of an MFA code challenge (SMS_MFA or EMAIL_OTP)."""
    mfa = {"SMS_MFA": {"SmsMfaConfiguration": SMS_CONFIG}, "EMAIL_OTP": {"EmailMfaConfiguration": {}}}[name]
    preference = {"SMS_MFA": {"SMSMfaSettings": {"Enabled": True, "PreferredMfa": True}},
                  "EMAIL_OTP": {"EmailMfaSettings": {"Enabled": True, "PreferredMfa": True}}}[name]

    def start(env, validity):
        """The MFA code challenge after the password."""
        pool, client_id = new_pool(env, validity, mfa=dict(MfaConfiguration="OPTIONAL", **mfa))
        env["idp"].admin_set_user_mfa_preference(UserPoolId=pool, Username="alice", **preference)
        _, second = srp_password(env, pool, client_id)
        code = newest_code(env, pool, "sms" if name == "SMS_MFA" else "email")
        return second["ChallengeName"], lambda: respond(env, client_id, name, second["Session"],
                                                        **{f"{name}_CODE": code})
    return start


def software_token_mfa(env, validity):
    """SOFTWARE_TOKEN_MFA for a verified authenticator, answered with a current code."""
    pool, client_id = new_pool(env, validity, mfa={"MfaConfiguration": "OPTIONAL",
                                                   "SoftwareTokenMfaConfiguration": {"Enabled": True}})
    _, signed_in = srp_password(env, pool, client_id)
    access = signed_in["AuthenticationResult"]["AccessToken"]
    secret = env["public"].associate_software_token(AccessToken=access)["SecretCode"]
    env["public"].verify_software_token(AccessToken=access, UserCode=totp(secret, at=local_now(env)))
    env["idp"].admin_set_user_mfa_preference(UserPoolId=pool, Username="alice",
                                             SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    _, second = srp_password(env, pool, client_id)
    return second["ChallengeName"], lambda: respond(env, client_id, "SOFTWARE_TOKEN_MFA", second["Session"],
                                                    SOFTWARE_TOKEN_MFA_CODE=totp(secret, at=local_now(env)))


def select_mfa_type(env, validity):
    """SELECT_MFA_TYPE for a user with SMS and email MFA."""
    pool, client_id = new_pool(env, validity, mfa={"MfaConfiguration": "OPTIONAL", "EmailMfaConfiguration": {},
                                                   "SmsMfaConfiguration": SMS_CONFIG})
    env["idp"].admin_set_user_mfa_preference(UserPoolId=pool, Username="alice", SMSMfaSettings={"Enabled": True},
                                             EmailMfaSettings={"Enabled": True})
    _, second = srp_password(env, pool, client_id)
    return second["ChallengeName"], lambda: respond(env, client_id, "SELECT_MFA_TYPE", second["Session"],
                                                    ANSWER="EMAIL_OTP")


def mfa_setup(env, validity):
    """MFA_SETUP in a pool requiring TOTP, answered with the session VerifySoftwareToken returned."""
    pool, client_id = new_pool(env, validity, mfa={"MfaConfiguration": "ON",
                                                   "SoftwareTokenMfaConfiguration": {"Enabled": True}})
    env["idp"].admin_delete_user_attributes(UserPoolId=pool, Username="alice",
                                            UserAttributeNames=["email", "phone_number"])
    _, setup = srp_password(env, pool, client_id)
    associated = env["public"].associate_software_token(Session=setup["Session"])
    verified = env["public"].verify_software_token(Session=associated["Session"],
                                                   UserCode=totp(associated["SecretCode"], at=local_now(env)))
    return setup["ChallengeName"], lambda: respond(env, client_id, "MFA_SETUP", verified["Session"])


def remembered_device(env, validity):
    """A pool tracking devices, alice's remembered device, and her sign-in up to DEVICE_SRP_AUTH:
    (client id, the AWSSRP holding her device, the DEVICE_SRP_AUTH challenge)."""
    pool, client_id = new_pool(env, validity, devices=True)
    _, signed_in = srp_password(env, pool, client_id)
    meta = signed_in["AuthenticationResult"]["NewDeviceMetadata"]
    device_password, verifier = generate_hash_device(meta["DeviceGroupKey"], meta["DeviceKey"])
    env["public"].confirm_device(AccessToken=signed_in["AuthenticationResult"]["AccessToken"],
                                 DeviceKey=meta["DeviceKey"], DeviceSecretVerifierConfig=verifier)
    srp, device_challenge = srp_password(env, pool, client_id, device_key=meta["DeviceKey"],
                                         device_group_key=meta["DeviceGroupKey"], device_password=device_password)
    return client_id, srp, device_challenge


def device_srp_auth(env, validity):
    """DEVICE_SRP_AUTH after the password of a remembered device."""
    client_id, srp, challenge = remembered_device(env, validity)
    return challenge["ChallengeName"], lambda: respond(
        env, client_id, "DEVICE_SRP_AUTH", challenge["Session"], DEVICE_KEY=srp.device_key,
        SRP_A=long_to_hex(srp.large_a_value))


def device_password_verifier(env, validity):
    """DEVICE_PASSWORD_VERIFIER, answered with the device's proof."""
    client_id, srp, challenge = remembered_device(env, validity)
    verifier = respond(env, client_id, "DEVICE_SRP_AUTH", challenge["Session"], DEVICE_KEY=srp.device_key,
                       SRP_A=long_to_hex(srp.large_a_value))
    return verifier["ChallengeName"], lambda: respond(env, client_id, "DEVICE_PASSWORD_VERIFIER",
                                                      verifier["Session"],
                                                      **srp.process_device_challenge(verifier["ChallengeParameters"]))


# (the challenge the sign-in must have reached, how to start it)
CHALLENGES = {
    "USER_SRP_AUTH PASSWORD_VERIFIER": ("PASSWORD_VERIFIER", password_verifier),
    "USER_PASSWORD_AUTH NEW_PASSWORD_REQUIRED": ("NEW_PASSWORD_REQUIRED", new_password_after_user_password_auth),
    "USER_SRP_AUTH NEW_PASSWORD_REQUIRED": ("NEW_PASSWORD_REQUIRED", new_password_after_srp),
    "USER_AUTH EMAIL_OTP": ("EMAIL_OTP", first_factor_code("email")),
    "USER_AUTH SMS_OTP": ("SMS_OTP", first_factor_code("sms")),
    "USER_AUTH SELECT_CHALLENGE": ("SELECT_CHALLENGE", select_challenge),
    "USER_AUTH PASSWORD": ("PASSWORD", password_challenge),
    "USER_AUTH PASSWORD_SRP": ("PASSWORD_SRP", password_srp_challenge),
    "USER_AUTH PASSWORD_VERIFIER": ("PASSWORD_VERIFIER", password_verifier_of_user_auth),
    "MFA SMS_MFA": ("SMS_MFA", mfa_code("SMS_MFA")),
    "MFA EMAIL_OTP": ("EMAIL_OTP", mfa_code("EMAIL_OTP")),
    "MFA SOFTWARE_TOKEN_MFA": ("SOFTWARE_TOKEN_MFA", software_token_mfa),
    "MFA SELECT_MFA_TYPE": ("SELECT_MFA_TYPE", select_mfa_type),
    "MFA_SETUP": ("MFA_SETUP", mfa_setup),
    "DEVICE_SRP_AUTH": ("DEVICE_SRP_AUTH", device_srp_auth),
    "DEVICE_PASSWORD_VERIFIER": ("DEVICE_PASSWORD_VERIFIER", device_password_verifier),
}


@pytest.mark.parametrize("case", list(CHALLENGES))
def test_each_sign_in_step_expires_after_the_default_auth_session_validity(env, case):
    name, start = CHALLENGES[case]
    reached, answer = start(env, None)
    assert reached == name
    advance_clock(env["endpoint_url"], 3 * 60 + 1)  # moto and AWS default AuthSessionValidity: 3 minutes
    with pytest.raises(ClientError) as excinfo:
        answer()
    assert error(excinfo) == EXPIRED


@pytest.mark.parametrize("case", list(CHALLENGES))
def test_each_sign_in_step_honours_the_app_clients_auth_session_validity(env, case):
    name, start = CHALLENGES[case]
    reached, answer = start(env, 10)
    assert reached == name
    advance_clock(env["endpoint_url"], 4 * 60)  # past the default, within the client's 10 minutes
    went_on = answer()
    assert went_on.get("AuthenticationResult") or went_on.get("ChallengeName")
    reached, answer = start(env, 10)
    advance_clock(env["endpoint_url"], 10 * 60 + 1)
    with pytest.raises(ClientError) as excinfo:
        answer()
    assert error(excinfo) == EXPIRED


@pytest.mark.parametrize("minutes, bound", [(16, "less than or equal to 15"), (60, "less than or equal to 15")])
def test_auth_session_validity_outside_3_to_15_minutes_is_refused(env, minutes, bound):
    pool, client_id = new_pool(env)
    with pytest.raises(ClientError) as created:
        env["idp"].create_user_pool_client(UserPoolId=pool, ClientName="long", AuthSessionValidity=minutes)
    with pytest.raises(ClientError) as updated:
        env["idp"].update_user_pool_client(UserPoolId=pool, ClientId=client_id, AuthSessionValidity=minutes)
    for excinfo in (created, updated):
        assert error(excinfo)[0] == "InvalidParameterException" and bound in error(excinfo)[1]
    described = env["idp"].describe_user_pool_client(UserPoolId=pool, ClientId=client_id)["UserPoolClient"]
    assert described["AuthSessionValidity"] == 3


# ---- auth_time (OpenID Connect Core 12.2: a refreshed ID token keeps the original authentication's time)


def sign_in(env, pool, client_id):
    """A full SRP sign-in by pycognito: its AuthenticationResult."""
    return AWSSRP("alice", PASSWORD, pool, client_id, client=env["public"]).authenticate_user()[
        "AuthenticationResult"]


def times(tokens):
    """(auth_time, iat) of the ID and of the access token."""
    return [(jwt_claims(tokens[k])["auth_time"], jwt_claims(tokens[k])["iat"]) for k in ("IdToken", "AccessToken")]


def test_refresh_token_auth_keeps_the_sign_ins_auth_time(env):
    pool, client_id = new_pool(env)
    tokens = sign_in(env, pool, client_id)
    (signed_in, issued), _ = times(tokens)
    assert signed_in == issued
    advance_clock(env["endpoint_url"], 600)
    refreshed = env["public"].initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    for auth_time, iat in times(refreshed["AuthenticationResult"]):
        assert auth_time == signed_in and iat >= signed_in + 600
    again = sign_in(env, pool, client_id)  # a new sign-in is a new authentication
    assert times(again)[0][0] >= signed_in + 600


def test_rotation_keeps_the_sign_ins_auth_time_through_each_new_refresh_token(env):
    pool, client_id = new_pool(env, flows=["ALLOW_USER_SRP_AUTH"],
                               RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0})
    tokens = sign_in(env, pool, client_id)
    (signed_in, _), _ = times(tokens)
    refresh_token = tokens["RefreshToken"]
    for _ in range(2):
        advance_clock(env["endpoint_url"], 600)
        rotated = env["public"].get_tokens_from_refresh_token(RefreshToken=refresh_token,
                                                              ClientId=client_id)["AuthenticationResult"]
        assert rotated["RefreshToken"] != refresh_token
        refresh_token = rotated["RefreshToken"]
        for auth_time, iat in times(rotated):
            assert auth_time == signed_in and iat >= signed_in + 600


# ---- policies that end at a date


def test_a_policy_condition_on_aws_current_time_follows_the_clock(env):
    import datetime
    import json

    s3 = env["admin_session"].client("s3", endpoint_url=env["endpoint_url"])
    bucket = f"clock-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    ends = datetime.datetime.fromtimestamp(local_now(env) + 3600, datetime.timezone.utc)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadsEndInAnHour", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": ends.strftime("%Y-%m-%dT%H:%M:%SZ")}}}]}))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    advance_clock(env["endpoint_url"], 2 * 3600)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="k")
    assert error(excinfo)[0] == "AccessDenied"


# ---- the guard: every expiry reads localaws.clock

# Reads of the machine's own time that are allowed in local_aws, each with why. Anything else that reads
# time.time()/time.monotonic() or datetime's now in local_aws.py or localaws/*.py fails the test below.
ALLOWED_REAL_TIME = {
    ("localaws/clock.py", "time.time()"): "the clock itself: real time plus the offset POST /_local_aws/clock adds",
}
REAL_TIME = re.compile(r"\btime\.(?:time|monotonic)\(\)|\bdatetime(?:\.datetime)?\.(?:now|utcnow|today)\(")


def test_no_expiry_in_local_aws_reads_the_machines_own_time():
    found = set()
    for path in [ROOT / "local_aws.py", *sorted((ROOT / "localaws").glob("*.py"))]:
        for match in REAL_TIME.finditer(path.read_text()):
            found.add((str(path.relative_to(ROOT)), match.group(0)))
    assert found - set(ALLOWED_REAL_TIME) == set(), "read localaws.clock instead (or allow-list it with a reason)"
    assert set(ALLOWED_REAL_TIME) <= found, "an allow-list entry no longer applies: remove it"
