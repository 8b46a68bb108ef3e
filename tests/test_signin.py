"""Sign-in variants through the CLI on pools the tool's own setup made: sign_in, one-time codes, MFA, login."""

import configparser
import json
import re
import uuid

import pytest
from botocore import UNSIGNED
from botocore.config import Config

from helpers import admin_env, advance_clock, control_call, local_now, run_cli, totp, write_config

PASSWORD = "Sign-in-passw0rd!"


class Deployment:
    """A deployment made with `setup`, and users made with `add-user`, as an administrator would."""

    def __init__(self, local_aws, folder, *options):
        self.local_aws, self.folder = local_aws, folder
        self.name = "s" + uuid.uuid4().hex[:10]
        self.config = folder / "admin.ini"
        self.result = self.setup(*options)
        assert self.result.returncode == 0, self.result.stderr
        parser = configparser.ConfigParser()
        parser.read(self.config)
        self.profile = dict(parser["default"])

    def setup(self, *options):
        """Run setup for this deployment with options."""
        return run_cli("--endpoint-url", self.local_aws["endpoint_url"], "--json", "setup", "--name", self.name,
                       "--write-config", self.config, *options, env=admin_env(self.local_aws, self.folder),
                       cwd=self.folder)

    def add_user(self, username, *options, password=PASSWORD):
        """Run add-user for username with options (--email, --phone)."""
        result = run_cli("--config", self.config, "add-user", username, *options,
                         env=admin_env(self.local_aws, self.folder, COG_AUTH_S3_PASSWORD=password), cwd=self.folder)
        assert result.returncode == 0, result.stderr
        return result

    def user_config(self, folder, username, password=None, **values):
        """A user's config.ini for this deployment."""
        return write_config(folder / f"{username}.ini", {"default": dict(
            self.profile, username=username, password=password, **values)})


@pytest.fixture(scope="module")
def choice(local_aws, tmp_path_factory):
    """A deployment with choice-based sign-in and optional MFA by app, SMS or email; its users:
    erin (email and phone), sam (phone only), max (email, phone; SMS and email MFA enabled)."""
    deployment = Deployment(local_aws, tmp_path_factory.mktemp("choice"), "--sign-in", "choice", "--mfa", "optional",
                            "--mfa-factors", "totp,sms,email")
    deployment.add_user("erin", "--email", "erin@example.com", "--phone", "+15555550101")
    deployment.add_user("sam", "--phone", "+15555550102")
    deployment.add_user("max", "--email", "max@example.com", "--phone", "+15555550103")
    return deployment


# ---- setup and add-user


def test_setup_choice_enables_user_auth_passwordless_factors_and_mfa(choice, idp, admin_client):
    statuses = {(r["resource"], r["name"]): r["status"] for r in json.loads(choice.result.stdout)["resources"]}
    assert statuses[("role", f"{choice.name}-cognito-sms")] == "created"
    pool = idp.describe_user_pool(UserPoolId=choice.profile["user_pool_id"])["UserPool"]
    assert pool["Policies"]["SignInPolicy"]["AllowedFirstAuthFactors"] == ["PASSWORD", "EMAIL_OTP", "SMS_OTP"]
    assert pool["SmsConfiguration"]["SnsCallerArn"].endswith(f"role/{choice.name}-cognito-sms")
    mfa = idp.get_user_pool_mfa_config(UserPoolId=choice.profile["user_pool_id"])
    assert mfa["MfaConfiguration"] == "OPTIONAL" and mfa["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
    assert "SmsMfaConfiguration" in mfa and "EmailMfaConfiguration" in mfa
    client = idp.describe_user_pool_client(UserPoolId=choice.profile["user_pool_id"],
                                           ClientId=choice.profile["client_id"])["UserPoolClient"]
    assert "ALLOW_USER_AUTH" in client["ExplicitAuthFlows"]
    assert choice.profile["sign_in"] == "choice"


def test_rerunning_setup_with_other_options_updates_pool_and_client(local_aws, tmp_path, idp):
    deployment = Deployment(local_aws, tmp_path)
    changed = deployment.setup("--sign-in", "choice", "--mfa", "required")
    assert changed.returncode == 0, changed.stderr
    statuses = {r["resource"]: r["status"] for r in json.loads(changed.stdout)["resources"]}
    assert statuses["user pool"] == "updated" and statuses["app client"] == "updated"
    pool_id = deployment.profile["user_pool_id"]
    assert idp.get_user_pool_mfa_config(UserPoolId=pool_id)["MfaConfiguration"] == "ON"
    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True  # kept through UpdateUserPool
    again = deployment.setup("--sign-in", "choice", "--mfa", "required")
    assert {r["resource"]: r["status"] for r in json.loads(again.stdout)["resources"]}["user pool"] == "exists"
    teardown = run_cli("--endpoint-url", local_aws["endpoint_url"], "teardown", "--name", deployment.name,
                       env=admin_env(local_aws, tmp_path), cwd=tmp_path)
    assert teardown.returncode == 0 and f"role {deployment.name}-cognito-sms: deleted" in teardown.stderr


def test_setup_refuses_mfa_factors_without_mfa(local_aws, tmp_path):
    result = run_cli("setup", "--name", "nope", "--mfa-factors", "sms", env=admin_env(local_aws, tmp_path),
                     cwd=tmp_path)
    assert result.returncode == 2 and "--mfa optional" in result.stderr


def test_add_user_sets_email_and_phone_as_verified(choice, idp):
    attributes = {a["Name"]: a["Value"] for a in idp.admin_get_user(
        UserPoolId=choice.profile["user_pool_id"], Username="erin")["UserAttributes"]}
    assert attributes["email"] == "erin@example.com" and attributes["email_verified"] == "true"
    assert attributes["phone_number"] == "+15555550101" and attributes["phone_number_verified"] == "true"


def test_add_user_gives_an_existing_user_a_phone_and_reports_it_updated(choice, idp):
    choice.add_user("una")
    result = choice.add_user("una", "--phone", "+15555550109")
    assert result.stdout.strip().endswith(": updated (password unchanged, phone set as verified)")
    attributes = {a["Name"]: a["Value"] for a in idp.admin_get_user(
        UserPoolId=choice.profile["user_pool_id"], Username="una")["UserAttributes"]}
    assert attributes["phone_number"] == "+15555550109" and attributes["phone_number_verified"] == "true"


def test_add_user_refuses_a_malformed_phone_before_any_request(choice, tmp_path, local_aws):
    result = run_cli("--config", choice.config, "add-user", "zed", "--phone", "555-0100",
                     env=admin_env(local_aws, tmp_path, COG_AUTH_S3_PASSWORD=PASSWORD), cwd=tmp_path)
    assert result.returncode == 2 and "E.164" in result.stderr


# ---- each sign_in value


def test_sign_in_choice_uses_user_auth_with_the_password(cli, choice, tmp_path, request_log):
    config = choice.user_config(tmp_path, "erin", PASSWORD, sign_in="choice")
    result = cli("--config", config, "--no-cache", "creds")
    assert result.returncode == 0, result.stderr
    assert request_log.cognito_calls()[:2] == ["InitiateAuth", "RespondToAuthChallenge"]


def test_sign_in_srp_still_works_on_a_choice_pool(cli, choice, tmp_path):
    result = cli("--config", choice.user_config(tmp_path, "erin", PASSWORD, sign_in="srp"), "--no-cache", "creds")
    assert result.returncode == 0, result.stderr


def test_a_client_without_user_auth_is_named(cli, user_config):
    result = cli("--config", user_config("alice", sign_in="choice"), "--no-cache", "creds")
    assert result.returncode == 3 and "ALLOW_USER_AUTH" in result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("sign_in, channel, prompt", [("email-otp", "email", "Code sent by email to e***@e***"),
                                                      ("sms-otp", "sms", "Code sent by SMS to +*******0101")])
def test_passwordless_sign_in_reads_the_code_on_the_terminal(choice, tmp_path, on_terminal, outbox,
                                                             sign_in, channel, prompt):
    config = choice.user_config(tmp_path, "erin", sign_in=sign_in)  # no password anywhere
    run = on_terminal("--config", config, "login")
    run.wait_for(prompt)
    run.type(outbox("erin", choice.profile["user_pool_id"], channel))
    code, stdout, stderr, terminal = run.finish()
    assert code == 0, stderr + terminal
    assert re.match(r"signed in as erin \(identity us-east-1:[0-9a-f-]+\) until \S+Z \(new sign-in\)$", stdout.strip())
    assert prompt not in stderr  # the prompt went to the terminal, not to stderr or stdout


def test_a_wrong_code_exits_3(choice, tmp_path, on_terminal, outbox):
    run = on_terminal("--config", choice.user_config(tmp_path, "erin", sign_in="email-otp"), "--no-cache", "creds")
    run.wait_for("Code sent by email")
    sent = outbox("erin", choice.profile["user_pool_id"], "email")
    run.type(f"{(int(sent) + 1) % 10 ** len(sent):0{len(sent)}d}")
    code, stdout, stderr, _ = run.finish()
    assert code == 3 and "code was wrong" in stderr and stdout == ""
    assert len(stderr.splitlines()) == 1


def test_an_expired_code_exits_3(clock_aws, tmp_path, on_terminal):
    # This moves the clock, so it runs on a local_aws of its own.
    deployment = Deployment(clock_aws, tmp_path, "--sign-in", "choice")
    deployment.add_user("erin", "--email", "erin@example.com")
    run = on_terminal("--config", deployment.user_config(tmp_path, "erin", sign_in="email-otp"), "--no-cache", "creds")
    run.wait_for("Code sent by email")
    advance_clock(clock_aws["endpoint_url"], 3 * 60 + 1)  # past the app client's AuthSessionValidity
    run.type(control_call(clock_aws, "GET", "messages")[-1]["code"])
    code, _, stderr, _ = run.finish()
    assert code == 3 and "expired" in stderr


def test_a_code_needed_without_a_terminal_fails_at_once_naming_the_way_out(cli, choice, tmp_path):
    result = cli("--config", choice.user_config(tmp_path, "erin", sign_in="email-otp"), "--no-cache", "creds")
    assert result.returncode == 3
    assert "COG_AUTH_S3_MFA_CODE" in result.stderr and "login" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_select_challenge_falls_back_to_the_password_when_email_is_not_possible(cli, choice, tmp_path,
                                                                                request_log):
    # sam has no email, so EMAIL_OTP is not offered; the configured password can be used instead.
    config = choice.user_config(tmp_path, "sam", PASSWORD, sign_in="email-otp")
    result = cli("--config", config, "--no-cache", "creds")
    assert result.returncode == 0, result.stderr
    assert request_log.cognito_calls().count("RespondToAuthChallenge") == 2  # the choice, then SRP's proof


def test_select_challenge_picks_sms_when_that_is_what_can_be_answered(choice, tmp_path, on_terminal, outbox):
    run = on_terminal("--config", choice.user_config(tmp_path, "sam", sign_in="email-otp"), "login")
    run.wait_for("Code sent by SMS")
    run.type(outbox("sam", choice.profile["user_pool_id"], "sms"))
    code, stdout, stderr, _ = run.finish()
    assert code == 0 and "signed in as sam" in stdout, stderr


# ---- MFA after the password


@pytest.fixture
def max_mfa(choice, idp):
    """set_max(**preference) sets max's MFA preferences (SMS, email)."""
    def set_max(**settings):
        idp.admin_set_user_mfa_preference(UserPoolId=choice.profile["user_pool_id"], Username="max", **settings)
    return set_max


@pytest.mark.parametrize("preference, channel, prompt", [
    ({"EmailMfaSettings": {"Enabled": True, "PreferredMfa": True}}, "email", "Code sent by email"),
    ({"SMSMfaSettings": {"Enabled": True, "PreferredMfa": True}}, "sms", "MFA code sent by SMS"),
])
def test_email_and_sms_mfa_codes_are_read_on_the_terminal(choice, tmp_path, on_terminal, outbox, max_mfa,
                                                          preference, channel, prompt):
    max_mfa(SMSMfaSettings={"Enabled": False}, EmailMfaSettings={"Enabled": False})
    max_mfa(**preference)
    run = on_terminal("--config", choice.user_config(tmp_path, "max", PASSWORD, sign_in="choice"), "--no-cache",
                      "creds")
    run.wait_for(prompt)
    run.type(outbox("max", choice.profile["user_pool_id"], channel))
    code, _, stderr, terminal = run.finish()
    assert code == 0, stderr + terminal


def test_select_mfa_type_is_answered_and_said(choice, tmp_path, on_terminal, outbox, max_mfa):
    max_mfa(SMSMfaSettings={"Enabled": True, "PreferredMfa": False},
            EmailMfaSettings={"Enabled": True, "PreferredMfa": False})
    run = on_terminal("--config", choice.user_config(tmp_path, "max", PASSWORD), "--no-cache", "creds")
    run.wait_for("Code sent by email")
    run.type(outbox("max", choice.profile["user_pool_id"], "email"))
    code, _, stderr, _ = run.finish()
    assert code == 0, stderr
    assert "using EMAIL_OTP" in stderr


def test_totp_mfa_after_a_choice_sign_in_takes_mfa_code(cli, choice, tmp_path, local_aws, admin_session, idp):
    public = admin_session.client("cognito-idp", endpoint_url=local_aws["endpoint_url"],
                                  config=Config(signature_version=UNSIGNED))
    choice.add_user("tess")
    access = public.initiate_auth(ClientId=choice.profile["client_id"], AuthFlow="USER_AUTH", AuthParameters={
        "USERNAME": "tess", "PREFERRED_CHALLENGE": "PASSWORD", "PASSWORD": PASSWORD})["AuthenticationResult"]
    secret = public.associate_software_token(AccessToken=access["AccessToken"])["SecretCode"]
    public.verify_software_token(AccessToken=access["AccessToken"], UserCode=totp(secret, at=local_now(local_aws)))
    idp.admin_set_user_mfa_preference(UserPoolId=choice.profile["user_pool_id"], Username="tess",
                                      SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    config = choice.user_config(tmp_path, "tess", PASSWORD, sign_in="choice")
    result = cli("--config", config, "--no-cache", "--mfa-code", totp(secret, at=local_now(local_aws)), "creds")
    assert result.returncode == 0, result.stderr


# ---- MFA enrolment and login


@pytest.fixture(scope="module")
def required(local_aws, tmp_path_factory):
    """A deployment whose pool requires MFA by authenticator app."""
    return Deployment(local_aws, tmp_path_factory.mktemp("required"), "--mfa", "required")


def enrol(run):
    """Answer MFA_SETUP as a person would: read the URI and secret the tool shows on the terminal (and never on
    stderr, which may be a log); return the secret."""
    shown = run.wait_for("Code from your authenticator app")  # the prompt, after the secret
    secret = re.search(r"otpauth://totp/cog-auth-s3%3A\w+\?secret=([A-Z2-7]+)&issuer=cog-auth-s3", shown).group(1)
    assert f"secret: {secret}" in shown
    assert secret not in run.stderr.decode() and "otpauth" not in run.stderr.decode()
    return secret


def test_mfa_enrolment_from_a_new_user_to_a_working_session(required, tmp_path, on_terminal, cli, local_aws):
    required.add_user("nina")
    config = required.user_config(tmp_path, "nina", PASSWORD)
    run = on_terminal("--config", config, "login")
    secret = enrol(run)
    run.type(totp(secret, at=local_now(local_aws)))
    code, stdout, stderr, terminal = run.finish()
    assert code == 0, stderr + terminal
    assert "signed in as nina" in stdout and secret not in stdout + stderr
    cached = cli("--config", config, "login", "--json")
    assert cached.returncode == 0 and json.loads(cached.stdout)["source"] == "cache"
    # Enrolled: a fresh sign-in now asks for the app's code, and takes it.
    again = cli("--config", config, "--no-cache", "--mfa-code", totp(secret, at=local_now(local_aws)), "creds")
    assert again.returncode == 0, again.stderr


def test_mfa_setup_without_a_terminal_is_refused_before_any_secret_is_made(required, tmp_path, cli, request_log):
    required.add_user("pia")
    result = cli("--config", required.user_config(tmp_path, "pia", PASSWORD), "--no-cache", "--mfa-code", "123456",
                 "creds")
    assert result.returncode == 3, result.stderr
    assert "MFA_SETUP" in result.stderr and "login` in a terminal" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "otpauth" not in result.stderr + result.stdout
    assert "AssociateSoftwareToken" not in request_log.cognito_calls()


def test_a_wrong_code_at_enrolment_exits_3(required, tmp_path, on_terminal, local_aws):
    required.add_user("omar")
    run = on_terminal("--config", required.user_config(tmp_path, "omar", PASSWORD), "--no-cache", "creds")
    secret = enrol(run)
    run.type(totp(secret, at=local_now(local_aws) - 3600))
    code, stdout, stderr, _ = run.finish()
    assert code == 3 and "authenticator app's code was wrong" in stderr and secret not in stdout + stderr


def test_login_json_reports_who_and_until_when(cli, choice, tmp_path):
    config = choice.user_config(tmp_path, "erin", PASSWORD)
    result = cli("--config", config, "--json", "login")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["username"] == "erin" and report["source"] == "login"
    assert report["identity_id"].startswith("us-east-1:") and report["expiration"].endswith("Z")
