"""local_aws's Cognito: USER_SRP_AUTH checked for real, over HTTP, with pycognito as the client."""

import base64

import pytest
from botocore.exceptions import ClientError
from pycognito.aws_srp import AWSSRP
from pycognito.exceptions import (
    ForceChangePasswordException,
    SMSMFAChallengeException,
    SoftwareTokenMFAChallengeException,
)

from helpers import PASSWORD, TEMPORARY, error, local_now, make_pool, make_user, totp


def start(public, pool, client_id, username="alice", password=PASSWORD, secret=None):
    """InitiateAuth USER_SRP_AUTH by pycognito: (AWSSRP, its auth params, the challenge)."""
    srp = AWSSRP(username, password, pool, client_id, client=public, client_secret=secret)
    params = srp.get_auth_params()
    challenge = public.initiate_auth(ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    return srp, params, challenge


def test_correct_password_gets_tokens_for_that_user(idp, public):
    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool)
    tokens = AWSSRP("alice", PASSWORD, pool, client_id, client=public).authenticate_user()
    access = tokens["AuthenticationResult"]["AccessToken"]
    assert idp.get_user(AccessToken=access)["Username"] == "alice"


def test_challenge_names_the_internal_username_and_carries_hex_salt_and_b(idp, public):
    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool)
    _, _, challenge = start(public, pool, client_id)
    params = challenge["ChallengeParameters"]
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    assert params["USER_ID_FOR_SRP"] == params["USERNAME"] == "alice"
    assert int(params["SALT"], 16) and int(params["SRP_B"], 16) > 1
    assert base64.b64decode(params["SECRET_BLOCK"], validate=True)
    # The salt is the user's own and stays put; B is fresh each time.
    _, _, again = start(public, pool, client_id)
    assert again["ChallengeParameters"]["SALT"] == params["SALT"]
    assert again["ChallengeParameters"]["SRP_B"] != params["SRP_B"]


def test_wrong_password_is_refused_with_awss_message(idp, public):
    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool)
    with pytest.raises(ClientError) as excinfo:
        AWSSRP("alice", "Wrong-horse-1!", pool, client_id, client=public).authenticate_user()
    assert error(excinfo) == ("NotAuthorizedException", "Incorrect username or password.", 400)


def test_secret_block_is_single_use(idp, public):
    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool)
    srp, params, challenge = start(public, pool, client_id)
    answer = srp.process_challenge(challenge["ChallengeParameters"], params)
    public.respond_to_auth_challenge(ClientId=client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer)
    with pytest.raises(ClientError) as excinfo:
        public.respond_to_auth_challenge(ClientId=client_id, ChallengeName="PASSWORD_VERIFIER",
                                         ChallengeResponses=answer)
    assert error(excinfo)[0] == "NotAuthorizedException"


def test_secret_block_not_issued_by_the_server_is_refused(idp, public):
    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool)
    srp, params, challenge = start(public, pool, client_id)
    forged = dict(challenge["ChallengeParameters"], SECRET_BLOCK=base64.b64encode(b"forged" * 10).decode())
    with pytest.raises(ClientError) as excinfo:
        public.respond_to_auth_challenge(ClientId=client_id, ChallengeName="PASSWORD_VERIFIER",
                                         ChallengeResponses=srp.process_challenge(forged, params))
    assert error(excinfo)[0] == "NotAuthorizedException"


@pytest.mark.parametrize("timestamp, accepted", [
    ("Mon Nov 2 10:35:59 UTC 2026", True),    # the day unpadded, as pycognito sends it
    ("Mon Nov 02 10:35:59 UTC 2026", False),  # signed with the zero that AWS drops
])
def test_timestamp_day_must_not_be_zero_padded(idp, public, monkeypatch, timestamp, accepted):
    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool)
    monkeypatch.setattr(AWSSRP, "get_cognito_formatted_timestamp", staticmethod(lambda now: timestamp))
    srp, params, challenge = start(public, pool, client_id)
    answer = srp.process_challenge(challenge["ChallengeParameters"], params)
    call = lambda: public.respond_to_auth_challenge(  # noqa: E731
        ClientId=client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer)
    if accepted:
        assert "AccessToken" in call()["AuthenticationResult"]
    else:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error(excinfo)[:2] == ("NotAuthorizedException", "Incorrect username or password.")


def test_timestamp_not_in_english_format_is_invalid(idp, public, monkeypatch):
    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool)
    monkeypatch.setattr(AWSSRP, "get_cognito_formatted_timestamp", staticmethod(lambda now: "2026-11-30T10:35:59Z"))
    srp, params, challenge = start(public, pool, client_id)
    with pytest.raises(ClientError) as excinfo:
        public.respond_to_auth_challenge(ClientId=client_id, ChallengeName="PASSWORD_VERIFIER",
                                         ChallengeResponses=srp.process_challenge(challenge["ChallengeParameters"],
                                                                                  params))
    assert error(excinfo)[:2] == ("InvalidParameterException",
                                  "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.")


def test_unknown_user_is_user_not_found_without_prevent_user_existence_errors(idp, public):
    pool, client_id, _ = make_pool(idp)
    with pytest.raises(ClientError) as excinfo:
        start(public, pool, client_id, username="nobody")
    assert error(excinfo)[:2] == ("UserNotFoundException", "User does not exist.")


def test_unknown_user_looks_like_a_wrong_password_with_prevent_user_existence_errors(idp, public):
    pool, client_id, _ = make_pool(idp)
    client_id = idp.update_user_pool_client(
        UserPoolId=pool, ClientId=client_id, ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"],
        PreventUserExistenceErrors="ENABLED")["UserPoolClient"]["ClientId"]
    with pytest.raises(ClientError) as excinfo:
        AWSSRP("nobody", PASSWORD, pool, client_id, client=public).authenticate_user()
    assert error(excinfo) == ("NotAuthorizedException", "Incorrect username or password.", 400)
    assert excinfo.value.operation_name == "RespondToAuthChallenge"


def test_new_password_required_for_a_new_user_then_the_new_password_works(idp, public):
    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool, password=None)
    with pytest.raises(ForceChangePasswordException):
        AWSSRP("alice", TEMPORARY, pool, client_id, client=public).authenticate_user()
    tokens = AWSSRP("alice", TEMPORARY, pool, client_id, client=public).set_new_password_challenge("Brand-new-pass-1!")
    assert "AccessToken" in tokens["AuthenticationResult"]
    assert "AccessToken" in AWSSRP("alice", "Brand-new-pass-1!", pool, client_id,
                                   client=public).authenticate_user()["AuthenticationResult"]
    with pytest.raises(ClientError) as excinfo:
        AWSSRP("alice", TEMPORARY, pool, client_id, client=public).authenticate_user()
    assert error(excinfo)[1] == "Incorrect username or password."


def test_new_password_required_names_the_users_attributes(idp, public):
    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool, password=None, email="alice@example.com")
    srp, params, challenge = start(public, pool, client_id, password=TEMPORARY)
    answer = public.respond_to_auth_challenge(ClientId=client_id, ChallengeName="PASSWORD_VERIFIER",
                                              ChallengeResponses=srp.process_challenge(
                                                  challenge["ChallengeParameters"], params))
    assert answer["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert '"email": "alice@example.com"' in answer["ChallengeParameters"]["userAttributes"]


def enable_totp(idp, public, pool, client_id, now):
    """Give alice a verified authenticator and prefer it, as a user would; return its secret."""
    tokens = AWSSRP("alice", PASSWORD, pool, client_id, client=public).authenticate_user()
    access = tokens["AuthenticationResult"]["AccessToken"]
    secret = public.associate_software_token(AccessToken=access)["SecretCode"]
    public.verify_software_token(AccessToken=access, UserCode=totp(secret, at=now))
    idp.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice",
                                      SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return secret


def totp_challenge(idp, public, local_aws):
    """Alice with a preferred authenticator signs in: (client id, her TOTP secret, the challenge's Session)."""
    pool, client_id, _ = make_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OPTIONAL",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    make_user(idp, pool)
    secret = enable_totp(idp, public, pool, client_id, local_now(local_aws))
    with pytest.raises(SoftwareTokenMFAChallengeException) as challenge:
        AWSSRP("alice", PASSWORD, pool, client_id, client=public).authenticate_user()
    return client_id, secret, challenge.value.get_tokens()["Session"]


def test_totp_user_gets_software_token_mfa_and_a_current_code_completes(idp, public, local_aws):
    client_id, secret, session = totp_challenge(idp, public, local_aws)
    tokens = public.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=session,
        ChallengeResponses={"USERNAME": "alice",
                            "SOFTWARE_TOKEN_MFA_CODE": totp(secret, at=local_now(local_aws))})
    assert "AccessToken" in tokens["AuthenticationResult"]


def test_wrong_totp_code_is_a_code_mismatch(idp, public, local_aws):
    client_id, secret, session = totp_challenge(idp, public, local_aws)
    wrong = totp(secret, at=local_now(local_aws) - 3600)
    with pytest.raises(ClientError) as excinfo:
        public.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=session,
            ChallengeResponses={"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": wrong})
    assert error(excinfo)[0] == "CodeMismatchException"


SMS_MFA_CONFIG = {"SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "x"}}


def test_sms_mfa_user_gets_sms_mfa_challenge(idp, public, outbox):
    pool, client_id, _ = make_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OPTIONAL", SmsMfaConfiguration=SMS_MFA_CONFIG)
    make_user(idp, pool, phone_number="+15555550100")
    idp.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice",
                                      SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    with pytest.raises(SMSMFAChallengeException) as challenge:
        AWSSRP("alice", PASSWORD, pool, client_id, client=public).authenticate_user()
    tokens = public.respond_to_auth_challenge(
        ClientId=client_id, ChallengeName="SMS_MFA", Session=challenge.value.get_tokens()["Session"],
        ChallengeResponses={"USERNAME": "alice", "SMS_MFA_CODE": outbox("alice", pool, "sms")})
    assert "AccessToken" in tokens["AuthenticationResult"]


def test_client_with_secret_requires_secret_hash(idp, public):
    pool, client_id, secret = make_pool(idp, secret=True)
    make_user(idp, pool)
    with pytest.raises(ClientError) as excinfo:
        AWSSRP("alice", PASSWORD, pool, client_id, client=public).authenticate_user()
    assert error(excinfo)[:2] == (
        "NotAuthorizedException", f"Client {client_id} is configured with secret but SECRET_HASH was not received")


def test_client_with_secret_refuses_a_wrong_secret_hash(idp, public):
    pool, client_id, secret = make_pool(idp, secret=True)
    make_user(idp, pool)
    with pytest.raises(ClientError) as excinfo:
        AWSSRP("alice", PASSWORD, pool, client_id, client=public, client_secret="not-the-secret").authenticate_user()
    assert error(excinfo)[:2] == ("NotAuthorizedException", f"Unable to verify secret hash for client {client_id}")


def test_client_with_secret_and_right_secret_hash_gets_tokens_and_refreshes(idp, public):
    pool, client_id, secret = make_pool(idp, secret=True, UsernameAttributes=["email"])
    make_user(idp, pool, username="alice@example.com")
    user = idp.admin_get_user(UserPoolId=pool, Username="alice@example.com")
    sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
    tokens = AWSSRP("alice@example.com", PASSWORD, pool, client_id, client=public,
                    client_secret=secret).authenticate_user()["AuthenticationResult"]
    for name in (sub, user["Username"]):
        refreshed = public.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={
            "REFRESH_TOKEN": tokens["RefreshToken"], "SECRET_HASH": AWSSRP.get_secret_hash(name, client_id, secret)})
        assert "AccessToken" in refreshed["AuthenticationResult"]
    with pytest.raises(ClientError) as excinfo:
        public.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={
            "REFRESH_TOKEN": tokens["RefreshToken"], "SECRET_HASH": AWSSRP.get_secret_hash("x", client_id, secret)})
    assert error(excinfo)[:2] == ("NotAuthorizedException", f"Unable to verify secret hash for client {client_id}")


def test_client_without_srp_in_explicit_auth_flows_refuses_srp(idp, public):
    pool, client_id, _ = make_pool(idp, flows=("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"))
    make_user(idp, pool)
    with pytest.raises(ClientError) as excinfo:
        start(public, pool, client_id)
    assert error(excinfo)[:2] == ("InvalidParameterException", "USER_SRP_AUTH is not enabled for the client.")


def test_client_without_explicit_auth_flows_allows_srp_as_aws_defaults(idp, public):
    pool, client_id, _ = make_pool(idp, flows=None)
    make_user(idp, pool)
    assert "AccessToken" in AWSSRP("alice", PASSWORD, pool, client_id,
                                   client=public).authenticate_user()["AuthenticationResult"]


def test_unconfirmed_user_is_refused(idp, public):
    pool, client_id, _ = make_pool(idp)
    public.sign_up(ClientId=client_id, Username="alice", Password=PASSWORD)
    with pytest.raises(ClientError) as excinfo:
        AWSSRP("alice", PASSWORD, pool, client_id, client=public).authenticate_user()
    assert error(excinfo)[0] == "UserNotConfirmedException"


def test_disabled_user_is_refused(idp, public):
    pool, client_id, _ = make_pool(idp)
    make_user(idp, pool)
    idp.admin_disable_user(UserPoolId=pool, Username="alice")
    with pytest.raises(ClientError) as excinfo:
        AWSSRP("alice", PASSWORD, pool, client_id, client=public).authenticate_user()
    assert error(excinfo)[:2] == ("NotAuthorizedException", "User is disabled.")


def test_mfa_session_answers_only_for_the_user_it_was_issued_to(idp, public):
    pool, client_id, _ = make_pool(idp)
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OPTIONAL", SmsMfaConfiguration=SMS_MFA_CONFIG)
    make_user(idp, pool, phone_number="+15555550100")
    make_user(idp, pool, username="bob")
    idp.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice",
                                      SMSMfaSettings={"Enabled": True, "PreferredMfa": True})
    with pytest.raises(SMSMFAChallengeException) as challenge:
        AWSSRP("alice", PASSWORD, pool, client_id, client=public).authenticate_user()
    with pytest.raises(ClientError) as excinfo:
        public.respond_to_auth_challenge(
            ClientId=client_id, ChallengeName="SMS_MFA", Session=challenge.value.get_tokens()["Session"],
            ChallengeResponses={"USERNAME": "bob", "SMS_MFA_CODE": "123456"})
    assert error(excinfo)[0] == "NotAuthorizedException"
