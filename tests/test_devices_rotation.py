"""Remembered devices, refresh-token rotation and sessions that die early, through the CLI against local_aws.

Tests that move the clock run on a local_aws of the module's own (clock_aws), never the shared one.
"""

import json
import stat

import pytest

from helpers import (PASSWORDS, PAST_THEIR_LIFETIME, REGION, RequestLog, advance_clock, device_files, profile,
                     session_files, totp, write_config)


def only_file(tmp_path, device=False):
    """The user's one credential cache file (or remembered-device file)."""
    files = device_files(tmp_path) if device else session_files(tmp_path)
    assert len(files) == 1, files
    return files[0]


def cached(tmp_path, device=False):
    """The user's cache file (or device file) as a dict."""
    return json.loads(only_file(tmp_path, device).read_text())


def kill_the_session(clock_aws, stack, username="alice"):
    """What an administrator's sign-out plus an hour does: refresh tokens revoked, credentials expired
    (S3 answers ExpiredToken), while the tool's own clock still finds its cache fresh."""
    idp = clock_aws["admin_session"].client("cognito-idp", endpoint_url=clock_aws["endpoint_url"])
    idp.admin_user_global_sign_out(UserPoolId=stack["user_pool_id"], Username=username)
    advance_clock(clock_aws["endpoint_url"], PAST_THEIR_LIFETIME)


@pytest.fixture
def clock_log(clock_aws):
    """A cleared view of the requests the module's own local_aws receives."""
    log = RequestLog(clock_aws["endpoint_url"])
    log.clear()
    return log


@pytest.fixture(scope="module")
def device_stack(make_stack, admin_session, local_aws):
    """A stack whose pool requires MFA and always remembers devices; alice has an authenticator."""
    from pycognito.aws_srp import AWSSRP

    stack = make_stack("devices")
    idp = admin_session.client("cognito-idp", region_name=REGION, endpoint_url=local_aws["endpoint_url"])
    pool = stack["user_pool_id"]
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="OPTIONAL",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    tokens = AWSSRP("alice", PASSWORDS["alice"], pool, stack["client_id"], client=idp).authenticate_user()
    access = tokens["AuthenticationResult"]["AccessToken"]
    secret = idp.associate_software_token(AccessToken=access)["SecretCode"]
    idp.verify_software_token(AccessToken=access, UserCode=totp(secret))
    idp.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice",
                                      SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    idp.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="ON",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    idp.update_user_pool(UserPoolId=pool, DeviceConfiguration={"ChallengeRequiredOnNewDevice": True,
                                                               "DeviceOnlyRememberedOnUserPrompt": False})
    return dict(stack, totp_secret=secret)


def test_a_remembered_device_skips_mfa_until_it_is_forgotten(cli, device_stack, tmp_path, admin_client,
                                                             request_log):
    config = write_config(tmp_path / "config.ini", {"default": profile(device_stack)})

    no_code = cli("--config", config, "creds")
    assert no_code.returncode == 3 and "--mfa-code" in no_code.stderr
    first = cli("--config", config, "--mfa-code", totp(device_stack["totp_secret"]), "creds")
    assert first.returncode == 0, first.stderr
    assert "this device is remembered" in first.stderr
    device_file = only_file(tmp_path, device=True)
    assert stat.S_IMODE(device_file.stat().st_mode) == 0o600
    device = cached(tmp_path, device=True)
    listed = admin_client("cognito-idp").admin_list_devices(UserPoolId=device_stack["user_pool_id"],
                                                            Username="alice")["Devices"]
    assert [d["DeviceKey"] for d in listed] == [device["device_key"]]

    assert cli("--config", config, "logout").returncode == 0
    assert device_file.exists(), "logout must keep the device: it belongs to this computer"
    remembered = cli("--config", config, "creds")  # no code, stdin not a terminal
    assert remembered.returncode == 0, remembered.stderr

    # A refresh of a device's tokens works only with its DEVICE_KEY (local_aws refuses it otherwise).
    entry = cached(tmp_path)
    entry["credentials"]["Expiration"] = "2000-01-01T00:00:00Z"
    only_file(tmp_path).write_text(json.dumps(entry))
    request_log.clear()
    renewed = cli("--config", config, "--json", "creds")
    assert renewed.returncode == 0, renewed.stderr
    assert request_log.cognito_calls() == ["InitiateAuth", "GetCredentialsForIdentity"]

    forgot = cli("--config", config, "logout", "--forget-device")
    assert forgot.returncode == 0, forgot.stderr
    assert not device_file.exists() and session_files(tmp_path) == []
    assert admin_client("cognito-idp").admin_list_devices(UserPoolId=device_stack["user_pool_id"],
                                                          Username="alice")["Devices"] == []
    again = cli("--config", config, "creds")
    assert again.returncode == 3 and "--mfa-code" in again.stderr


def test_a_dead_session_renews_through_get_tokens_from_refresh_token(cli, rotating_stack, tmp_path, clock_aws,
                                                                     clock_log):
    config = write_config(tmp_path / "config.ini", {"default": profile(rotating_stack)})
    (tmp_path / "a.txt").write_text("a\n")
    assert cli("--config", config, "put", "a.txt").returncode == 0
    old = cached(tmp_path)["refresh_token"]

    advance_clock(clock_aws["endpoint_url"], PAST_THEIR_LIFETIME)  # the credentials die; the tool's cache looks fresh
    clock_log.clear()
    healed = cli("--config", config, "put", "a.txt")
    assert healed.returncode == 0, healed.stderr
    assert "ExpiredToken" in healed.stderr and "renewing" in healed.stderr
    assert clock_log.cognito_calls() == ["InitiateAuth", "GetTokensFromRefreshToken", "GetCredentialsForIdentity"]
    assert clock_log.operations("s3").count("PutObject") == 2
    entry = cached(tmp_path)
    assert entry["refresh_token"] != old and entry["rotation"] is True
    idp = clock_aws["admin_session"].client("cognito-idp", endpoint_url=clock_aws["endpoint_url"])
    with pytest.raises(Exception) as retired:
        idp.get_tokens_from_refresh_token(RefreshToken=old, ClientId=rotating_stack["client_id"])
    assert retired.value.response["Error"]["Message"] == "Invalid Refresh Token."

    # The cache remembers the client rotates: the next renewal goes straight to GetTokensFromRefreshToken.
    advance_clock(clock_aws["endpoint_url"], PAST_THEIR_LIFETIME)
    clock_log.clear()
    assert cli("--config", config, "put", "a.txt").returncode == 0
    assert clock_log.cognito_calls() == ["GetTokensFromRefreshToken", "GetCredentialsForIdentity"]


@pytest.fixture(scope="module")
def revoked_stack(clock_aws):
    """A stack of its own, since its users are signed out everywhere."""
    return clock_aws["make_stack"]("revoked")


def test_a_session_signed_out_by_an_administrator_heals_itself(cli, revoked_stack, tmp_path, clock_aws):
    bob = write_config(tmp_path / "bob.ini", {"default": profile(revoked_stack, "bob")})
    bob_id = json.loads(cli("--config", bob, "--no-cache", "--json", "creds").stdout)["IdentityId"]
    config = write_config(tmp_path / "config.ini", {"default": profile(revoked_stack)})
    (tmp_path / "a.txt").write_text("a\n")
    assert cli("--config", config, "put", "a.txt").returncode == 0

    kill_the_session(clock_aws, revoked_stack)
    healed = cli("--config", config, "put", "a.txt")
    assert healed.returncode == 0, healed.stderr
    assert "Refresh Token has been revoked" in healed.stderr

    kill_the_session(clock_aws, revoked_stack)
    probe = cli("--config", config, "--json", "run", "--upload-file", "a.txt", "--try-identity", bob_id)
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout)["isolation"]["refused"] is True

    kill_the_session(clock_aws, revoked_stack)
    no_password = write_config(tmp_path / "config.ini", {"default": profile(revoked_stack, password=None)})
    failed = cli("--config", no_password, "put", "a.txt")
    assert failed.returncode == 3
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith("cog-auth-s3: error: ") and "Refresh Token has been revoked" in line
    assert "COG_AUTH_S3_PASSWORD" in line


def test_setup_turns_device_tracking_and_rotation_on_and_off(local_aws, tmp_path, admin_client):
    from test_provisioning import admin, statuses, unique_name

    name = unique_name()
    first = admin(["setup", "--name", name, "--device-tracking", "always", "--refresh-token-rotation"],
                  local_aws, tmp_path)
    assert first.returncode == 0, first.stderr
    idp = admin_client("cognito-idp")
    config = json.loads(admin(["--json", "setup", "--name", name], local_aws, tmp_path).stdout)["config"]["values"]
    pool = idp.describe_user_pool(UserPoolId=config["user_pool_id"])["UserPool"]
    client = idp.describe_user_pool_client(UserPoolId=config["user_pool_id"],
                                           ClientId=config["client_id"])["UserPoolClient"]
    assert pool["DeviceConfiguration"]["DeviceOnlyRememberedOnUserPrompt"] is False
    assert client["RefreshTokenRotation"] == {"Feature": "ENABLED", "RetryGracePeriodSeconds": 60}
    assert "ALLOW_REFRESH_TOKEN_AUTH" not in client["ExplicitAuthFlows"]

    # An older setup's rotating client without a grace period gets one (a lost answer must not log users out).
    idp.update_user_pool_client(UserPoolId=config["user_pool_id"], ClientId=config["client_id"],
                                ExplicitAuthFlows=client["ExplicitAuthFlows"],
                                RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0})
    graced = admin(["setup", "--name", name, "--device-tracking", "always", "--refresh-token-rotation"],
                   local_aws, tmp_path)
    assert graced.returncode == 0 and statuses(graced)["app client"] == "updated", graced.stderr
    assert idp.describe_user_pool_client(UserPoolId=config["user_pool_id"], ClientId=config["client_id"])[
        "UserPoolClient"]["RefreshTokenRotation"]["RetryGracePeriodSeconds"] == 60

    changed = admin(["setup", "--name", name, "--device-tracking", "opt-in", "--no-refresh-token-rotation"],
                    local_aws, tmp_path)
    assert changed.returncode == 0, changed.stderr
    assert statuses(changed)["user pool"] == "updated" and statuses(changed)["app client"] == "updated"
    pool = idp.describe_user_pool(UserPoolId=config["user_pool_id"])["UserPool"]
    client = idp.describe_user_pool_client(UserPoolId=config["user_pool_id"],
                                           ClientId=config["client_id"])["UserPoolClient"]
    assert pool["DeviceConfiguration"]["DeviceOnlyRememberedOnUserPrompt"] is True
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True, "the update must keep other settings"
    assert client["RefreshTokenRotation"]["Feature"] == "DISABLED"
    assert "ALLOW_REFRESH_TOKEN_AUTH" in client["ExplicitAuthFlows"]

    off = admin(["setup", "--name", name, "--device-tracking", "off"], local_aws, tmp_path)
    assert statuses(off)["user pool"] == "updated" and statuses(off)["app client"] == "exists"
    assert "DeviceConfiguration" not in idp.describe_user_pool(UserPoolId=config["user_pool_id"])["UserPool"]


def track_devices(admin_client, stack, opt_in):
    """Set the pool's device tracking: opt-in (the user chooses) or always."""
    admin_client("cognito-idp").update_user_pool(UserPoolId=stack["user_pool_id"], DeviceConfiguration={
        "ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": opt_in})


def remembered_status(admin_client, stack, device_key):
    """dev:device_remembered_status of one of alice's devices, as Cognito lists it."""
    for device in admin_client("cognito-idp").admin_list_devices(UserPoolId=stack["user_pool_id"],
                                                                 Username="alice")["Devices"]:
        if device["DeviceKey"] == device_key:
            return {a["Name"]: a["Value"] for a in device["DeviceAttributes"]}["dev:device_remembered_status"]
    return None


def test_a_failed_confirm_device_costs_only_the_device(cli, plain_device_stack, tmp_path, faults, admin_client):
    track_devices(admin_client, plain_device_stack, opt_in=False)
    config = write_config(tmp_path / "config.ini", {"default": profile(plain_device_stack)})
    faults.add("ConfirmDevice", times=1, status=400, code="InvalidParameterException")  # not retried
    result = cli("--config", config, "creds")
    assert result.returncode == 0, result.stderr
    assert "couldn't confirm this device" in result.stderr
    assert device_files(tmp_path) == []
    assert cli("--config", config, "logout").returncode == 0
    again = cli("--config", config, "creds")
    assert again.returncode == 0 and "this device is remembered" in again.stderr
    device = cached(tmp_path, device=True)
    assert remembered_status(admin_client, plain_device_stack, device["device_key"]) == "remembered"


def test_an_opt_in_pool_remembers_the_device_only_when_asked(cli, plain_device_stack, tmp_path, admin_client):
    track_devices(admin_client, plain_device_stack, opt_in=True)
    config = write_config(tmp_path / "config.ini", {"default": profile(plain_device_stack)})
    tracked = cli("--config", config, "creds")
    assert tracked.returncode == 0 and "--remember-device" in tracked.stderr
    first = cached(tmp_path, device=True)["device_key"]
    assert remembered_status(admin_client, plain_device_stack, first) == "not_remembered"
    assert cli("--config", config, "logout", "--forget-device").returncode == 0
    asked = cli("--config", config, "--remember-device", "creds")
    assert asked.returncode == 0 and "this device is remembered" in asked.stderr
    second = cached(tmp_path, device=True)["device_key"]
    assert second != first and remembered_status(admin_client, plain_device_stack, second) == "remembered"
    assert remembered_status(admin_client, plain_device_stack, first) is None


def test_logout_forget_device_deletes_the_secrets_even_when_cognito_cant_be_told(cli, plain_device_stack, tmp_path,
                                                                                 admin_client):
    track_devices(admin_client, plain_device_stack, opt_in=False)
    config = write_config(tmp_path / "config.ini", {"default": profile(plain_device_stack)})
    assert cli("--config", config, "creds").returncode == 0
    device = cached(tmp_path, device=True)
    assert cli("--config", config, "logout").returncode == 0  # no renewable session left

    # No session, no password, no terminal: nothing can get Cognito a token to forget the device with.
    no_password = write_config(tmp_path / "nopw.ini", {"default": profile(plain_device_stack, password=None)})
    forgot = cli("--config", no_password, "logout", "--forget-device")
    assert forgot.returncode == 2, forgot.stderr
    assert device_files(tmp_path) == [] and session_files(tmp_path) == []
    line = forgot.stderr.strip().splitlines()[-1]
    assert device["device_key"] in line and "AdminForgetDevice" in line and "password" in line, line
    # What it says is so: Cognito still remembers the device.
    assert remembered_status(admin_client, plain_device_stack, device["device_key"]) == "remembered"
