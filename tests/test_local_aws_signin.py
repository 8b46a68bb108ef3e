"""local_aws's choice-based sign-in, one-time codes and MFA, over HTTP with boto3 (and pycognito for SRP)."""

import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP

from helpers import advance_clock, control_call, local_now, totp

PASSWORD = "Correct-horse-1!"
EMAIL, PHONE = "alice@example.com", "+15555550100"
SMS_CONFIG = {"SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "x"}}
USER_AUTH_FLOWS = ("ALLOW_USER_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")


def make_pool(idp, factors=("PASSWORD",), flows=USER_AUTH_FLOWS):
    """A pool whose sign-in policy allows factors, and an app client with flows: (pool id, client id)."""
    pool = idp.create_user_pool(PoolName=f"signin-{uuid.uuid4().hex[:8]}",
                                Policies={"SignInPolicy": {"AllowedFirstAuthFactors": list(factors)}})["UserPool"]
    client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="tool",
                                         ExplicitAuthFlows=list(flows))["UserPoolClient"]
    return pool["Id"], client["ClientId"]


def make_user(idp, pool, username="alice", password=PASSWORD, verified=True, **attrs):
    """A confirmed user (with email and phone, verified unless told otherwise)."""
    attrs = {"email": EMAIL, "phone_number": PHONE, **attrs}
    if verified:
        attrs.update(email_verified="true", phone_number_verified="true")
    idp.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": k, "Value": v} for k, v in attrs.items() if v is not None])
    if password:
        idp.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)


def error(excinfo):
    """(code, message) of a ClientError."""
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def user_auth(public, client_id, username="alice", **params):
    """InitiateAuth USER_AUTH."""
    return public.initiate_auth(ClientId=client_id, AuthFlow="USER_AUTH",
                                AuthParameters={"USERNAME": username, **params})


def answer(public, client_id, response, name, **responses):
    """RespondToAuthChallenge to a response's session."""
    return public.respond_to_auth_challenge(ClientId=client_id, ChallengeName=name, Session=response["Session"],
                                            ChallengeResponses={"USERNAME": "alice", **responses})


# ---- USER_AUTH gating and choice


def test_user_auth_needs_allow_user_auth_on_the_client(idp, public):
    _, client_id = make_pool(idp, flows=("ALLOW_USER_SRP_AUTH",))
    with pytest.raises(ClientError) as excinfo:
        user_auth(public, client_id)
    assert error(excinfo) == ("InvalidParameterException", "USER_AUTH flow not enabled for this client")


def test_no_preference_offers_only_what_pool_and_user_allow(idp, public):
    pool, client_id = make_pool(idp, factors=("PASSWORD", "EMAIL_OTP", "SMS_OTP"))
    make_user(idp, pool)
    make_user(idp, pool, username="bob", verified=False)
    assert user_auth(public, client_id)["AvailableChallenges"] == ["EMAIL_OTP", "SMS_OTP", "PASSWORD", "PASSWORD_SRP"]
    offered = user_auth(public, client_id, "bob")
    assert offered["ChallengeName"] == "SELECT_CHALLENGE"
    assert offered["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP"]  # unverified email and phone


def test_default_sign_in_policy_is_password_only_and_refuses_a_passwordless_preference(idp, public):
    pool, client_id = make_pool(idp)
    idp.update_user_pool(UserPoolId=pool)  # no Policies: AWS's default sign-in policy
    make_user(idp, pool)
    offered = user_auth(public, client_id, PREFERRED_CHALLENGE="EMAIL_OTP")
    assert offered["ChallengeName"] == "SELECT_CHALLENGE"
    assert offered["AvailableChallenges"] == ["PASSWORD", "PASSWORD_SRP"]


def test_preferred_password_signs_in_and_a_wrong_one_is_refused(idp, public):
    pool, client_id = make_pool(idp)
    make_user(idp, pool)
    tokens = user_auth(public, client_id, PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)
    assert idp.get_user(AccessToken=tokens["AuthenticationResult"]["AccessToken"])["Username"] == "alice"
    with pytest.raises(ClientError) as excinfo:
        user_auth(public, client_id, PREFERRED_CHALLENGE="PASSWORD", PASSWORD="Wrong-horse-1!")
    assert error(excinfo) == ("NotAuthorizedException", "Incorrect username or password.")


def srp_sign_in(public, pool, client_id, first, srp, params):
    """Finish a PASSWORD_VERIFIER challenge with pycognito's proof."""
    return public.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="PASSWORD_VERIFIER", Session=first["Session"],
        ChallengeResponses=srp.process_challenge(first["ChallengeParameters"], params))


@pytest.mark.parametrize("password, works", [(PASSWORD, True), ("Wrong-horse-1!", False)])
def test_preferred_password_srp_is_verified_for_real(idp, public, password, works):
    pool, client_id = make_pool(idp)
    make_user(idp, pool)
    srp = AWSSRP("alice", password, pool, client_id, client=public)
    params = srp.get_auth_params()
    first = user_auth(public, client_id, PREFERRED_CHALLENGE="PASSWORD_SRP", SRP_A=params["SRP_A"])
    assert first["ChallengeName"] == "PASSWORD_VERIFIER"
    if works:
        assert "IdToken" in srp_sign_in(public, pool, client_id, first, srp, params)["AuthenticationResult"]
    else:
        with pytest.raises(ClientError) as excinfo:
            srp_sign_in(public, pool, client_id, first, srp, params)
        assert error(excinfo) == ("NotAuthorizedException", "Incorrect username or password.")


def test_select_challenge_answered_with_password_srp(idp, public):
    pool, client_id = make_pool(idp, factors=("PASSWORD", "EMAIL_OTP"))
    make_user(idp, pool)
    offered = user_auth(public, client_id)
    srp = AWSSRP("alice", PASSWORD, pool, client_id, client=public)
    params = srp.get_auth_params()
    first = answer(public, client_id, offered, "SELECT_CHALLENGE", ANSWER="PASSWORD_SRP", SRP_A=params["SRP_A"])
    assert "IdToken" in srp_sign_in(public, pool, client_id, first, srp, params)["AuthenticationResult"]


def test_select_challenge_refuses_an_answer_not_on_offer(idp, public):
    pool, client_id = make_pool(idp)
    make_user(idp, pool)
    with pytest.raises(ClientError) as excinfo:
        answer(public, client_id, user_auth(public, client_id), "SELECT_CHALLENGE", ANSWER="EMAIL_OTP")
    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterException"


# ---- one-time codes


@pytest.mark.parametrize("factor, channel, digits", [("EMAIL_OTP", "email", 8), ("SMS_OTP", "sms", 6)])
def test_passwordless_code_is_delivered_to_the_outbox_and_signs_in(idp, public, outbox, factor, channel, digits):
    pool, client_id = make_pool(idp, factors=("PASSWORD", factor))
    make_user(idp, pool, password=None)
    sent = user_auth(public, client_id, PREFERRED_CHALLENGE=factor)
    assert sent["ChallengeName"] == factor
    assert sent["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == channel.upper()
    message = [m for m in outbox.all() if m["user_pool_id"] == pool][-1]
    assert message["username"] == "alice" and message["channel"] == channel
    assert len(message["code"]) == digits and message["code"].isdigit() and message["time"].endswith("Z")
    tokens = answer(public, client_id, sent, factor, **{f"{factor}_CODE": message["code"]})
    assert "IdToken" in tokens["AuthenticationResult"]


def test_codes_are_random(idp, public, outbox):
    pool, client_id = make_pool(idp, factors=("PASSWORD", "EMAIL_OTP"))
    make_user(idp, pool)
    codes = set()
    for _ in range(3):
        user_auth(public, client_id, PREFERRED_CHALLENGE="EMAIL_OTP")
        codes.add(outbox("alice", pool))
    assert len(codes) == 3


@pytest.fixture
def email_code(idp, public, outbox):
    """An EMAIL_OTP challenge for alice: (client id, the challenge response, the code sent)."""
    pool, client_id = make_pool(idp, factors=("PASSWORD", "EMAIL_OTP"))
    make_user(idp, pool)
    sent = user_auth(public, client_id, PREFERRED_CHALLENGE="EMAIL_OTP")
    return client_id, sent, outbox("alice", pool)


def wrong(code):
    """A code of the same length that is not code."""
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_a_wrong_code_is_a_mismatch_and_the_right_one_still_works(public, email_code):
    client_id, sent, code = email_code
    with pytest.raises(ClientError) as excinfo:
        answer(public, client_id, sent, "EMAIL_OTP", EMAIL_OTP_CODE=wrong(code))
    assert error(excinfo) == ("CodeMismatchException", "Invalid code received for user")
    assert "IdToken" in answer(public, client_id, sent, "EMAIL_OTP", EMAIL_OTP_CODE=code)["AuthenticationResult"]


def test_a_code_is_single_use(public, email_code):
    client_id, sent, code = email_code
    answer(public, client_id, sent, "EMAIL_OTP", EMAIL_OTP_CODE=code)
    with pytest.raises(ClientError) as excinfo:
        answer(public, client_id, sent, "EMAIL_OTP", EMAIL_OTP_CODE=code)
    assert error(excinfo) == ("NotAuthorizedException", "Invalid session for the user.")


def test_three_wrong_codes_end_the_session(public, email_code):
    client_id, sent, code = email_code
    for _ in range(3):
        with pytest.raises(ClientError):
            answer(public, client_id, sent, "EMAIL_OTP", EMAIL_OTP_CODE=wrong(code))
    with pytest.raises(ClientError) as excinfo:
        answer(public, client_id, sent, "EMAIL_OTP", EMAIL_OTP_CODE=code)
    assert error(excinfo) == ("NotAuthorizedException", "Invalid session for the user.")


def test_a_code_expires_with_the_auth_session(clock_aws):
    # This moves the clock, so it runs on a local_aws of its own.
    idp = clock_aws["admin_session"].client("cognito-idp", endpoint_url=clock_aws["endpoint_url"])
    public = boto3.client("cognito-idp", region_name="us-east-1", endpoint_url=clock_aws["endpoint_url"],
                          config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    pool, client_id = make_pool(idp, factors=("PASSWORD", "EMAIL_OTP"))
    make_user(idp, pool)
    sent = user_auth(public, client_id, PREFERRED_CHALLENGE="EMAIL_OTP")
    code = control_call(clock_aws, "GET", "messages")[-1]["code"]
    advance_clock(clock_aws["endpoint_url"], 3 * 60 + 1)  # the app client's AuthSessionValidity: 3 minutes
    with pytest.raises(ClientError) as excinfo:
        answer(public, client_id, sent, "EMAIL_OTP", EMAIL_OTP_CODE=code)
    assert error(excinfo) == ("NotAuthorizedException", "Invalid session for the user, session is expired.")


def test_a_code_works_only_in_its_own_session(idp, public, outbox):
    pool, client_id = make_pool(idp, factors=("PASSWORD", "EMAIL_OTP"))
    make_user(idp, pool)
    first = user_auth(public, client_id, PREFERRED_CHALLENGE="EMAIL_OTP")
    first_code = outbox("alice", pool)
    second = user_auth(public, client_id, PREFERRED_CHALLENGE="EMAIL_OTP")
    if outbox("alice", pool) == first_code:
        pytest.fail("two sign-ins got the same code")
    with pytest.raises(ClientError) as excinfo:
        answer(public, client_id, second, "EMAIL_OTP", EMAIL_OTP_CODE=first_code)
    assert error(excinfo)[0] == "CodeMismatchException"
    assert "IdToken" in answer(public, client_id, first, "EMAIL_OTP", EMAIL_OTP_CODE=first_code)["AuthenticationResult"]


def test_the_outbox_can_be_emptied(local_aws, email_code):
    assert control_call(local_aws, "GET", "messages")
    control_call(local_aws, "DELETE", "messages")
    assert control_call(local_aws, "GET", "messages") == []


# ---- MFA after the password


def srp_password(public, pool, client_id, username="alice"):
    """USER_SRP_AUTH through PASSWORD_VERIFIER: the response that follows the password."""
    srp = AWSSRP(username, PASSWORD, pool, client_id, client=public)
    params = srp.get_auth_params()
    first = public.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    return public.respond_to_auth_challenge(ClientId=client_id, ChallengeName="PASSWORD_VERIFIER",
                                            ChallengeResponses=srp.process_challenge(first["ChallengeParameters"],
                                                                                     params))


def test_sms_mfa_sends_a_real_code_and_checks_it(idp, public, outbox):
    pool, client_id = make_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OPTIONAL", SmsMfaConfiguration=SMS_CONFIG)
    make_user(idp, pool)
    idp.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice", SMSMfaSettings={"Enabled": True})
    mfa = srp_password(public, pool, client_id)
    assert mfa["ChallengeName"] == "SMS_MFA"
    assert mfa["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"].endswith("0100")
    code = outbox("alice", pool, "sms")
    with pytest.raises(ClientError) as excinfo:
        answer(public, client_id, mfa, "SMS_MFA", SMS_MFA_CODE=wrong(code))
    assert error(excinfo)[0] == "CodeMismatchException"
    assert "IdToken" in answer(public, client_id, mfa, "SMS_MFA", SMS_MFA_CODE=code)["AuthenticationResult"]


def test_mfa_off_pool_asks_no_code(idp, public):
    pool, client_id = make_pool(idp)
    make_user(idp, pool)
    idp.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice", SMSMfaSettings={"Enabled": True})
    assert "IdToken" in srp_password(public, pool, client_id)["AuthenticationResult"]


def test_email_mfa_is_configured_preferred_and_sent_by_email(idp, public, outbox):
    pool, client_id = make_pool(idp)
    config = idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OPTIONAL",
                                          EmailMfaConfiguration={"Subject": "Your code"})
    assert config["EmailMfaConfiguration"] == {"Subject": "Your code"}
    assert idp.get_user_pool_mfa_config(UserPoolId=pool)["EmailMfaConfiguration"] == {"Subject": "Your code"}
    make_user(idp, pool)
    idp.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice",
                                      EmailMfaSettings={"Enabled": True, "PreferredMfa": True})
    user = idp.admin_get_user(UserPoolId=pool, Username="alice")
    assert user["UserMFASettingList"] == ["EMAIL_OTP"] and user["PreferredMfaSetting"] == "EMAIL_OTP"
    mfa = srp_password(public, pool, client_id)
    assert mfa["ChallengeName"] == "EMAIL_OTP"
    tokens = answer(public, client_id, mfa, "EMAIL_OTP", EMAIL_OTP_CODE=outbox("alice", pool, "email"))
    assert "IdToken" in tokens["AuthenticationResult"]


def test_several_factors_and_no_preference_ask_to_select_the_mfa_type(idp, public, outbox):
    pool, client_id = make_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OPTIONAL", SmsMfaConfiguration=SMS_CONFIG,
                                 EmailMfaConfiguration={})
    make_user(idp, pool)
    idp.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice", SMSMfaSettings={"Enabled": True},
                                      EmailMfaSettings={"Enabled": True})
    select = srp_password(public, pool, client_id)
    assert select["ChallengeName"] == "SELECT_MFA_TYPE"
    assert select["ChallengeParameters"]["MFAS_CAN_CHOOSE"] == '["SMS_MFA", "EMAIL_OTP"]'
    mfa = answer(public, client_id, select, "SELECT_MFA_TYPE", ANSWER="EMAIL_OTP")
    assert mfa["ChallengeName"] == "EMAIL_OTP"
    tokens = answer(public, client_id, mfa, "EMAIL_OTP", EMAIL_OTP_CODE=outbox("alice", pool, "email"))
    assert "IdToken" in tokens["AuthenticationResult"]


def test_a_passwordless_sign_in_asks_no_mfa(idp, public, outbox):
    pool, client_id = make_pool(idp, factors=("PASSWORD", "SMS_OTP"))
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OPTIONAL", SmsMfaConfiguration=SMS_CONFIG)
    make_user(idp, pool)
    idp.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice", SMSMfaSettings={"Enabled": True})
    sent = user_auth(public, client_id, PREFERRED_CHALLENGE="SMS_OTP")
    tokens = answer(public, client_id, sent, "SMS_OTP", SMS_OTP_CODE=outbox("alice", pool, "sms"))
    assert "IdToken" in tokens["AuthenticationResult"]


# ---- TOTP and MFA_SETUP


def mfa_required_pool(idp):
    """A pool that requires TOTP MFA, with a user pool client that allows USER_AUTH and SRP."""
    pool, client_id = make_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="ON",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    return pool, client_id


def enrol(public, local_aws, client_id, setup):
    """Complete MFA_SETUP with a software token: (the user's secret, the tokens)."""
    associated = public.associate_software_token(Session=setup["Session"])
    verified = public.verify_software_token(Session=associated["Session"],
                                            UserCode=totp(associated["SecretCode"], at=local_now(local_aws)))
    assert verified["Status"] == "SUCCESS"
    tokens = public.respond_to_auth_challenge(ClientId=client_id, ChallengeName="MFA_SETUP",
                                              Session=verified["Session"], ChallengeResponses={"USERNAME": "alice"})
    return associated["SecretCode"], tokens


def test_mfa_setup_enrols_a_new_user_with_a_secret_of_their_own(idp, public, local_aws):
    pool, client_id = mfa_required_pool(idp)
    make_user(idp, pool, email=None, phone_number=None)
    setup = srp_password(public, pool, client_id)
    assert setup["ChallengeName"] == "MFA_SETUP"
    assert setup["ChallengeParameters"]["MFAS_CAN_SETUP"] == '["SOFTWARE_TOKEN_MFA"]'
    secret, tokens = enrol(public, local_aws, client_id, setup)
    assert secret != "asdfasdfasdf" and len(secret) >= 16
    assert "IdToken" in tokens["AuthenticationResult"]
    mfa = srp_password(public, pool, client_id)
    assert mfa["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    done = answer(public, client_id, mfa, "SOFTWARE_TOKEN_MFA",
                  SOFTWARE_TOKEN_MFA_CODE=totp(secret, at=local_now(local_aws)))
    assert "IdToken" in done["AuthenticationResult"]


def test_each_user_gets_a_different_secret_and_another_users_code_fails(idp, public, local_aws):
    pool, client_id = mfa_required_pool(idp)
    make_user(idp, pool, email=None, phone_number=None)
    first = public.associate_software_token(Session=srp_password(public, pool, client_id)["Session"])
    second = public.associate_software_token(Session=srp_password(public, pool, client_id)["Session"])
    assert first["SecretCode"] != second["SecretCode"]
    with pytest.raises(ClientError) as excinfo:  # the newer association replaced the first
        public.verify_software_token(Session=second["Session"],
                                     UserCode=totp(first["SecretCode"], at=local_now(local_aws)))
    assert error(excinfo) == ("EnableSoftwareTokenMFAException", "Code mismatch")


def test_mfa_setup_is_not_completed_without_a_verified_token(idp, public):
    pool, client_id = mfa_required_pool(idp)
    make_user(idp, pool, email=None, phone_number=None)
    setup = srp_password(public, pool, client_id)
    with pytest.raises(ClientError) as excinfo:
        answer(public, client_id, setup, "MFA_SETUP")
    assert error(excinfo) == ("NotAuthorizedException", "Invalid session for the user.")


def test_a_wrong_or_stale_totp_code_is_a_mismatch(idp, public, local_aws):
    pool, client_id = mfa_required_pool(idp)
    make_user(idp, pool, email=None, phone_number=None)
    secret, _ = enrol(public, local_aws, client_id, srp_password(public, pool, client_id))
    mfa = srp_password(public, pool, client_id)
    with pytest.raises(ClientError) as excinfo:
        answer(public, client_id, mfa, "SOFTWARE_TOKEN_MFA",
               SOFTWARE_TOKEN_MFA_CODE=totp(secret, at=local_now(local_aws) - 3600))
    assert error(excinfo)[0] == "CodeMismatchException"


def test_mfa_required_with_a_phone_sends_sms_without_setup(idp, public, outbox):
    pool, client_id = make_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="ON", SmsMfaConfiguration=SMS_CONFIG,
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    make_user(idp, pool, email=None)
    mfa = srp_password(public, pool, client_id)
    assert mfa["ChallengeName"] == "SMS_MFA"
    assert "IdToken" in answer(public, client_id, mfa, "SMS_MFA",
                               SMS_MFA_CODE=outbox("alice", pool, "sms"))["AuthenticationResult"]


def test_an_unknown_session_cannot_answer_an_mfa_challenge(idp, public):
    _, client_id = make_pool(idp)
    with pytest.raises(ClientError) as excinfo:
        public.respond_to_auth_challenge(ClientId=client_id, ChallengeName="SMS_MFA", Session="x" * 40,
                                         ChallengeResponses={"USERNAME": "alice", "SMS_MFA_CODE": "123456"})
    assert error(excinfo) == ("NotAuthorizedException", "Invalid session for the user.")


# ---- usernames (issue 8, section 6)


@pytest.mark.parametrize("username, problem", [
    ("alice smith", "regular expression pattern"),
    ("a" * 129, "length less than or equal to 128"),
])
def test_usernames_aws_refuses_are_refused_at_create_and_sign_up(idp, public, username, problem):
    pool, client_id = make_pool(idp)
    with pytest.raises(ClientError) as created:
        idp.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
    with pytest.raises(ClientError) as signed_up:
        public.sign_up(ClientId=client_id, Username=username, Password=PASSWORD)
    for excinfo in (created, signed_up):
        code, message = error(excinfo)
        assert code == "InvalidParameterException"
        assert message.startswith("1 validation error detected: Value at 'username' failed to satisfy constraint")
        assert problem in message and username not in message


def test_a_128_character_username_is_accepted(idp):
    pool, _ = make_pool(idp)
    idp.admin_create_user(UserPoolId=pool, Username="a" * 128, MessageAction="SUPPRESS")


def test_update_user_pool_applies_its_mfa_configuration(idp):
    pool, _ = make_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="ON",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    idp.update_user_pool(UserPoolId=pool, MfaConfiguration="OPTIONAL")
    assert idp.get_user_pool_mfa_config(UserPoolId=pool)["MfaConfiguration"] == "OPTIONAL"
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OFF")
    assert idp.describe_user_pool(UserPoolId=pool)["UserPool"]["MfaConfiguration"] == "OFF"


def test_a_temporary_password_at_user_auth_asks_for_a_new_one(idp, public):
    pool, client_id = make_pool(idp)
    make_user(idp, pool, password=None)
    idp.admin_set_user_password(UserPoolId=pool, Username="alice", Password="Temporary-1!", Permanent=False)
    challenge = user_auth(public, client_id, PREFERRED_CHALLENGE="PASSWORD", PASSWORD="Temporary-1!")
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    tokens = answer(public, client_id, challenge, "NEW_PASSWORD_REQUIRED", NEW_PASSWORD=PASSWORD)
    assert "IdToken" in tokens["AuthenticationResult"]
