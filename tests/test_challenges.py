"""Sign-in challenges through the CLI: a new password, TOTP MFA, and an app client with a secret."""

import datetime
import json
import os

import pytest
from botocore import UNSIGNED
from botocore.config import Config

from conftest import PASSWORDS, local_now, session_file, totp, write_config

TEMPORARY = "Temporary-passw0rd!"
NEW = "Brand-new-passw0rd!"


def profile(stack, username, **extra):
    values = {k: v for k, v in stack.items() if k not in ("role", "client_secret")}
    values.update(username=username, **extra)
    return values


def test_new_password_required_is_answered_from_the_environment(cli, stack, admin_client, tmp_path):
    admin_client("cognito-idp").admin_create_user(UserPoolId=stack["user_pool_id"], Username="carol",
                                                  TemporaryPassword=TEMPORARY, MessageAction="SUPPRESS")
    config = write_config(tmp_path / "c.ini", {"default": profile(stack, "carol")})
    stuck = cli("--config", config, "--no-cache", "creds", env_extra={"COG_AUTH_S3_PASSWORD": TEMPORARY})
    assert stuck.returncode == 3 and "COG_AUTH_S3_NEW_PASSWORD" in stuck.stderr
    changed = cli("--config", config, "--no-cache", "creds",
                  env_extra={"COG_AUTH_S3_PASSWORD": TEMPORARY, "COG_AUTH_S3_NEW_PASSWORD": NEW})
    assert changed.returncode == 0, changed.stderr
    again = cli("--config", config, "--no-cache", "creds", env_extra={"COG_AUTH_S3_PASSWORD": NEW})
    assert again.returncode == 0, again.stderr
    user = admin_client("cognito-idp").admin_get_user(UserPoolId=stack["user_pool_id"], Username="carol")
    assert user["UserStatus"] == "CONFIRMED"


@pytest.fixture(scope="module")
def totp_stack(make_stack, admin_session, local_aws):
    """A stack whose user alice has a verified authenticator app and prefers it."""
    stack = make_stack("mfa")
    idp = admin_session.client("cognito-idp", region_name="us-east-1", endpoint_url=local_aws["endpoint_url"])
    idp.set_user_pool_mfa_config(UserPoolId=stack["user_pool_id"], MfaConfiguration="OPTIONAL",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    public = admin_session.client("cognito-idp", region_name="us-east-1", endpoint_url=local_aws["endpoint_url"],
                                  config=Config(signature_version=UNSIGNED))
    from pycognito.aws_srp import AWSSRP

    tokens = AWSSRP("alice", PASSWORDS["alice"], stack["user_pool_id"], stack["client_id"],
                    client=public).authenticate_user()
    access = tokens["AuthenticationResult"]["AccessToken"]
    secret = public.associate_software_token(AccessToken=access)["SecretCode"]
    public.verify_software_token(AccessToken=access, UserCode=totp(secret, at=local_now(local_aws)))
    idp.admin_set_user_mfa_preference(UserPoolId=stack["user_pool_id"], Username="alice",
                                      SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return dict(stack, totp_secret=secret)


def test_totp_mfa_is_answered_with_mfa_code(cli, totp_stack, tmp_path, local_aws):
    values = profile(totp_stack, "alice", password=PASSWORDS["alice"])
    values.pop("totp_secret")
    config = write_config(tmp_path / "c.ini", {"default": values})
    code = totp(totp_stack["totp_secret"], at=local_now(local_aws))
    result = cli("--config", config, "--no-cache", "--mfa-code", code, "creds")
    assert result.returncode == 0, result.stderr


def test_totp_mfa_without_a_code_or_terminal_exits_3_naming_the_flag(cli, totp_stack, tmp_path):
    values = profile(totp_stack, "alice", password=PASSWORDS["alice"])
    values.pop("totp_secret")
    result = cli("--config", write_config(tmp_path / "c.ini", {"default": values}), "--no-cache", "creds")
    assert result.returncode == 3 and "--mfa-code" in result.stderr and "COG_AUTH_S3_MFA_CODE" in result.stderr


def test_a_wrong_mfa_code_exits_3(cli, totp_stack, tmp_path, local_aws):
    values = profile(totp_stack, "alice", password=PASSWORDS["alice"])
    values.pop("totp_secret")
    wrong = f"{(int(totp(totp_stack['totp_secret'], at=local_now(local_aws))) + 1) % 1_000_000:06d}"
    result = cli("--config", write_config(tmp_path / "c.ini", {"default": values}), "--no-cache",
                 "--mfa-code", wrong, "creds")
    assert result.returncode == 3 and "code was wrong" in result.stderr


@pytest.fixture(scope="module")
def secret_stack(make_stack):
    """A stack whose app client has a secret."""
    return make_stack("secret", client_settings={"GenerateSecret": True})


def test_an_app_client_with_a_secret_signs_in_and_refreshes(cli, secret_stack, tmp_path):
    assert secret_stack["client_secret"]
    values = profile(secret_stack, "alice", client_secret=secret_stack["client_secret"])
    config = write_config(tmp_path / "c.ini", {"default": values})
    first = cli("--config", config, "creds", env_extra={"COG_AUTH_S3_PASSWORD": PASSWORDS["alice"]})
    assert first.returncode == 0, first.stderr
    cache = session_file(tmp_path, secret_stack)
    entry = json.loads(cache.read_text())
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
    entry["credentials"]["Expiration"] = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    cache.write_text(json.dumps(entry))
    os.chmod(cache, 0o600)
    # No password now: only REFRESH_TOKEN_AUTH with a SECRET_HASH over the user's sub can succeed.
    refreshed = cli("--config", config, "creds", "--format", "process")
    assert refreshed.returncode == 0, refreshed.stderr
    assert json.loads(refreshed.stdout)["Expiration"] != entry["credentials"]["Expiration"]


def test_a_missing_client_secret_exits_3_naming_the_key(cli, secret_stack, tmp_path):
    config = write_config(tmp_path / "c.ini", {"default": profile(secret_stack, "alice")})
    result = cli("--config", config, "--no-cache", "creds", env_extra={"COG_AUTH_S3_PASSWORD": PASSWORDS["alice"]})
    assert result.returncode == 3 and "client_secret" in result.stderr
