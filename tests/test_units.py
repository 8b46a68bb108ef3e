"""Pure logic, tested in-process: key confinement, config precedence, cache safety, error mapping."""

import datetime
import json
import os
from pathlib import Path

import pytest

import cog_auth_s3 as tool

ME = "us-east-1:11111111-2222-3333-4444-555555555555"
OTHER = "us-east-1:99999999-2222-3333-4444-555555555555"


@pytest.mark.parametrize("key,expected", [
    ("a.txt", f"{ME}/a.txt"),
    ("docs/2026/a.txt", f"{ME}/docs/2026/a.txt"),
    ("name with spaces.txt", f"{ME}/name with spaces.txt"),
    (f"s3://b/{ME}/docs/a.txt", f"{ME}/docs/a.txt"),
    ("..a.txt", f"{ME}/..a.txt"),
])
def test_keys_inside_the_folder_are_accepted(key, expected):
    assert tool.user_key(ME + "/", key, "b") == expected


@pytest.mark.parametrize("key", [
    "../x", "a/../../x", "a/../x", "/etc/passwd", "", ".", "..", "a//b", "./a", "a/./b",
    f"s3://b/{OTHER}/a.txt", f"s3://other-bucket/{ME}/a.txt", "a\\..\\b", "a\x00b", "a\nb",
    f"S3://b/{OTHER}/a.txt", "s3://b", f"s3://b/{ME}", "evil\u202etxt.exe", "a\u200bb", "a\x85b",
])
def test_keys_that_could_leave_the_folder_are_refused(key):
    with pytest.raises(tool.ToolError) as info:
        tool.user_key(ME + "/", key, "b")
    assert info.value.exit_code == tool.EXIT_USAGE


def test_ls_prefix_keeps_a_trailing_slash_and_defaults_to_the_folder():
    assert tool.user_prefix(ME + "/", "") == f"{ME}/"
    assert tool.user_prefix(ME + "/", "docs/") == f"{ME}/docs/"
    assert tool.user_prefix(ME + "/", "do") == f"{ME}/do"
    assert tool.user_prefix(ME + "/", f"s3://b/{ME}/", "b") == f"{ME}/"
    assert tool.user_prefix(ME + "/", f"s3://b/{ME}/docs/", "b") == f"{ME}/docs/"
    with pytest.raises(tool.ToolError):
        tool.user_prefix(ME + "/", "../")


def test_upload_plan_maps_folders_files_and_key_prefixes(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.txt").write_text("a")
    (tmp_path / "d" / "sub" / "b.txt").write_text("b")
    (tmp_path / "f.txt").write_text("f")
    notes = []
    plan = tool.upload_plan([str(tmp_path / "d"), str(tmp_path / "f.txt")], None, True, notes.append)
    assert [key for _, key in plan] == ["d/a.txt", "d/sub/b.txt", "f.txt"]
    assert tool.upload_plan([str(tmp_path / "f.txt")], "x/y.txt", False, notes.append)[0][1] == "x/y.txt"
    assert tool.upload_plan([str(tmp_path / "f.txt")], "x/", False, notes.append)[0][1] == "x/f.txt"
    with pytest.raises(tool.ToolError, match="--recursive"):
        tool.upload_plan([str(tmp_path / "d")], None, False, notes.append)
    with pytest.raises(tool.ToolError, match="not found"):
        tool.upload_plan([str(tmp_path / "nope")], None, False, notes.append)
    assert notes == []


def test_recursive_upload_skips_symbolic_links_and_says_so(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "real.txt").write_text("r")
    secret = tmp_path / "credentials"
    secret.write_text("secret")
    (tmp_path / "d" / "link.txt").symlink_to(secret)
    (tmp_path / "d" / "linked-dir").symlink_to(tmp_path)
    notes = []
    plan = tool.upload_plan([str(tmp_path / "d")], None, True, notes.append)
    assert [key for _, key in plan] == ["d/real.txt"]
    assert len(notes) == 2 and all("symbolic link" in note for note in notes)


def test_two_files_that_would_share_a_key_are_refused(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.txt").write_text(folder)
    with pytest.raises(tool.ToolError, match="would both become dup/x.txt"):
        tool.upload_plan([str(tmp_path / "a" / "x.txt"), str(tmp_path / "b" / "x.txt")], "dup/", False, print)


def test_flags_override_environment_which_overrides_the_file(tmp_path):
    config = tmp_path / "c.ini"
    config.write_text("[default]\nregion = us-east-1\nbucket = from-file\nusername = file-user\n")
    env = {"COG_AUTH_S3_BUCKET": "from-env", "COG_AUTH_S3_USERNAME": "env-user"}
    settings = tool.read_profile(str(config), "default", {"username": "flag-user"}, env)
    assert (settings["region"], settings["bucket"], settings["username"]) == ("us-east-1", "from-env", "flag-user")


def test_unknown_keys_in_the_file_are_not_settings(tmp_path):
    config = tmp_path / "c.ini"
    config.write_text("[default]\nregion = us-east-1\nfavourite_colour = blue\n")
    assert "favourite_colour" not in tool.read_profile(str(config), "default", environ={})


def entry(expires_in):
    moment = datetime.datetime.now(datetime.timezone.utc) + expires_in
    return {"version": 1, "fingerprint": "f", "identity_id": ME, "refresh_token": "r",
            "credentials": {"AccessKeyId": "A", "SecretAccessKey": "S", "SessionToken": "T",
                            "Expiration": tool.iso8601(moment)}}


def test_cached_credentials_are_fresh_only_with_more_than_15_minutes_left():
    assert tool.fresh(entry(datetime.timedelta(minutes=16)))
    assert not tool.fresh(entry(datetime.timedelta(minutes=14)))


def test_cache_is_written_0600_in_a_0700_folder_and_read_back(tmp_path):
    path = str(tmp_path / "cache" / "default.json")
    tool.save_cache(path, entry(datetime.timedelta(hours=1)))
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    assert tool.load_cache(path, "f", pytest.fail)["identity_id"] == ME
    assert tool.load_cache(path, "another-profile-setup", pytest.fail) is None
    assert [name for name in os.listdir(os.path.dirname(path))] == ["default.json"]  # no temp left behind


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong-layout", "readable-by-others"])
def test_an_unsafe_or_corrupt_cache_is_ignored_with_a_warning(tmp_path, damage):
    path = str(tmp_path / "default.json")
    tool.save_cache(path, entry(datetime.timedelta(hours=1)))
    text = Path(path).read_text()
    if damage == "garbage":
        Path(path).write_bytes(b"\x00\xffnot json")
    elif damage == "truncated":
        Path(path).write_text(text[: len(text) // 2])
    elif damage == "wrong-layout":
        Path(path).write_text(json.dumps({"version": 1, "credentials": "oops"}))
    else:
        os.chmod(path, 0o644)
    warnings = []
    assert tool.load_cache(path, "f", warnings.append) is None
    assert len(warnings) == 1 and "rewritten" in warnings[0]


class FakeClientError(Exception):
    """Shaped like botocore's ClientError, for the mapping table alone."""

    __module__ = "botocore.exceptions"

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.response = {"Error": {"Code": code, "Message": message},
                         "ResponseMetadata": {"HTTPStatusCode": status}}


@pytest.mark.parametrize("stage,code,message,exit_code,needle", [
    ("login", "NotAuthorizedException", "Incorrect username or password.", 3, "incorrect username or password"),
    ("login", "NotAuthorizedException", "User is disabled.", 3, "disabled"),
    ("login", "UserNotConfirmedException", "User is not confirmed.", 3, "not confirmed"),
    ("login", "InvalidParameterException", "USER_SRP_AUTH is not enabled for the client.", 3, "ALLOW_USER_SRP_AUTH"),
    # Exit 3 only when Cognito refuses this user: a missing pool or client, or throttling, is 4.
    ("login", "ResourceNotFoundException", "User pool client x does not exist.", 4, "client_id"),
    ("login", "TooManyRequestsException", "Too many requests", 4, "throttling"),
    ("login", "UserLambdaValidationException", "PreAuthentication failed with error nope.", 3, "Lambda trigger"),
    ("login", "SomeNewException", "odd", 4, "couldn't put s3://b/k: SomeNewException: odd"),
    ("identity", "InvalidIdentityPoolConfigurationException", "Invalid identity pool configuration.", 4, "role"),
    ("identity", "NotAuthorizedException", "Invalid login token.", 4, "authentication provider"),
    ("s3", "AccessDenied", "Access Denied", 4, "own folder"),
    ("s3", "NoSuchBucket", "The specified bucket does not exist", 4, "bucket"),
    ("s3", "403", "", 4, "access denied"),
    ("s3", "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 4, "no-clobber"),
    ("s3", "WeirdNewCode", "Something odd", 4, "couldn't put s3://b/k: WeirdNewCode: Something odd"),
])
def test_aws_error_codes_map_to_one_line_with_a_remedy(stage, code, message, exit_code, needle):
    error = tool.explain_aws_error(tool.AwsStepError(FakeClientError(code, message), "put", "s3://b/k", stage))
    assert error.exit_code == exit_code
    assert needle in str(error) and "\n" not in str(error)


def test_upload_errors_wrapped_by_s3transfer_keep_their_code():
    class S3UploadFailedError(Exception):
        __module__ = "boto3.exceptions"
    wrapped = S3UploadFailedError("Failed to upload x to b/k: An error occurred (AccessDenied) when calling "
                                  "the PutObject operation: Access Denied")
    error = tool.explain_aws_error(tool.AwsStepError(wrapped, "put", "s3://b/k", "s3"))
    assert error.exit_code == 4 and "own folder" in str(error)


def test_jwt_claims_reads_the_payload_without_verifying():
    import base64
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "abc", "exp": 1}).encode()).decode().rstrip("=")
    assert tool.jwt_claims(f"h.{payload}.s") == {"sub": "abc", "exp": 1}
    assert tool.jwt_claims("not-a-jwt") == {}


@pytest.mark.parametrize("stage", ["login", "identity"])
def test_a_cognito_server_fault_is_exit_4_naming_the_endpoint(stage):
    fault = FakeClientError("InternalErrorException", "boom", status=500)
    error = tool.explain_aws_error(tool.AwsStepError(fault, "sign in", "alice", stage, "https://idp.example"))
    assert error.exit_code == 4 and "https://idp.example answered HTTP 500 InternalErrorException" in str(error)


def test_endpoint_url_must_be_scheme_host_and_port():
    for good in ("http://127.0.0.1:4566", "https://cognito-idp.us-east-1.amazonaws.com", "http://[::1]:5000/",
                 "http://localhost:8080/proxy/aws"):
        tool.validate_settings({"endpoint_url": good})
    for bad in ("http://[::1", "ftp://host", "http://host:99999", "http://host:0", "http://host:", "http://h?x",
                "http://h#f", "http://u:p@h", "http://", "127.0.0.1:4566"):
        with pytest.raises(tool.ToolError) as caught:
            tool.validate_settings({"endpoint_url": bad})
        assert caught.value.exit_code == 2 and "endpoint_url" in str(caught.value)


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert tool.cache_dir({"XDG_CACHE_HOME": "relative/cache"}) == str(tmp_path / ".cache" / "cog-auth-s3")
    assert tool.cache_dir({"XDG_CACHE_HOME": ""}) == str(tmp_path / ".cache" / "cog-auth-s3")
    assert tool.cache_dir({"XDG_CACHE_HOME": "/abs/c"}) == "/abs/c/cog-auth-s3"


def test_the_same_warning_prints_once(capsys):
    out = tool.Output()
    for _ in range(2):
        out.warn("ignoring corrupt credential cache x")
    out.warn("another")
    assert capsys.readouterr().err.splitlines() == ["warning: ignoring corrupt credential cache x", "warning: another"]


def dead_session_step(code):
    """An AwsStepError as S3 raises it for credentials it refuses with code."""
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": code, "Message": "refused"}}, "PutObject")
    return tool.AwsStepError(error, "upload", "s3://b/k", "s3")


@pytest.mark.parametrize("code", ["ExpiredToken", "InvalidToken", "InvalidAccessKeyId"])
def test_a_dead_session_is_renewed_once_and_the_operation_retried(monkeypatch, code):
    asked = []
    monkeypatch.setattr(tool, "session_for", lambda args, settings, out, dead=None, renew_now=False: asked.append(dead) or
                        f"session{len(asked)}")
    attempts = []

    def operation(session):
        attempts.append(session)
        if len(attempts) == 1:
            raise dead_session_step(code)
        return "done"
    assert tool.with_live_session(None, {}, tool.Output(quiet=True), operation) == "done"
    assert attempts == ["session1", "session2"] and asked == [None, "session1"]


def test_a_second_refusal_or_any_other_error_is_not_retried(monkeypatch):
    monkeypatch.setattr(tool, "session_for", lambda args, settings, out, dead=None, renew_now=False: "session")
    calls = []

    def always_dead(session):
        calls.append(session)
        raise dead_session_step("ExpiredToken")
    with pytest.raises(tool.AwsStepError):
        tool.with_live_session(None, {}, tool.Output(quiet=True), always_dead)
    assert len(calls) == 2

    def denied(session):
        calls.append(session)
        raise dead_session_step("AccessDenied")
    calls.clear()
    with pytest.raises(tool.AwsStepError):
        tool.with_live_session(None, {}, tool.Output(quiet=True), denied)
    assert len(calls) == 1


@pytest.mark.parametrize("code,message,rotating", [
    ("InvalidParameterException", "Refresh token rotation is enabled for this app client; use "
                                  "GetTokensFromRefreshToken", True),
    ("NotAuthorizedException", "Refresh token rotation is enabled", True),
    ("NotAuthorizedException", "Refresh Token has been revoked", False),
    ("NotAuthorizedException", "Invalid Refresh Token", False),
])
def test_the_rotation_refusal_is_told_apart_from_a_dead_refresh_token(code, message, rotating):
    from botocore.exceptions import ClientError

    step = tool.AwsStepError(ClientError({"Error": {"Code": code, "Message": message}}, "InitiateAuth"),
                             "refresh the session of", "alice", "login")
    assert tool.rotation_refusal(step) is rotating


def test_a_device_file_is_used_only_when_private_complete_and_for_these_settings(tmp_path):
    path = str(tmp_path / "default.device.json")
    device = {"device_key": "us-east-1_k", "device_group_key": "-g", "device_password": "p"}
    tool.save_cache(path, {"version": 1, "fingerprint": "fp", **device})
    warnings = []
    assert tool.load_device(path, "fp", warnings.append) == device
    assert tool.load_device(path, "other", warnings.append) is None
    os.chmod(path, 0o644)
    assert tool.load_device(path, "fp", warnings.append) is None and "readable by others" in warnings[-1]
    tool.save_cache(path, {"version": 1, "fingerprint": "fp", "device_key": "k"})
    assert tool.load_device(path, "fp", warnings.append) is None


# ---- sign-in choices and setup options


def test_mfa_factors_default_to_totp_and_refuse_what_cannot_apply():
    assert tool.mfa_factors("required", None) == ["totp"]
    assert tool.mfa_factors("optional", "sms, email,sms") == ["sms", "email"]
    assert tool.mfa_factors(None, None) == [] and tool.mfa_factors("off", "") == []
    for mfa, listed in (("optional", "totp,fax"), (None, "sms"), ("off", "totp")):
        with pytest.raises(tool.ToolError) as info:
            tool.mfa_factors(mfa, listed)
        assert info.value.exit_code == tool.EXIT_USAGE


def test_contact_attributes_are_verified_and_checked():
    assert tool.contact_attributes("a@example.com", "+15555550100") == [
        {"Name": "email", "Value": "a@example.com"}, {"Name": "email_verified", "Value": "true"},
        {"Name": "phone_number", "Value": "+15555550100"}, {"Name": "phone_number_verified", "Value": "true"}]
    for email, phone in (("not-an-address", None), (None, "0155 555"), (None, "+0123456")):
        with pytest.raises(tool.ToolError):
            tool.contact_attributes(email, phone)


def test_user_pool_drift_names_only_what_changes():
    pool = {"Policies": {"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD"]}}}
    assert tool.user_pool_drift(pool, ("off", []), "srp", None, []) == []
    assert tool.user_pool_drift(pool, ("off", []), None, "off", []) == []
    assert tool.user_pool_drift({}, ("optional", ["totp"]), "choice", "required", ["totp"]) == [
        "sign-in choice", "MFA required with totp"]


def conversation(sign_in, password):
    """A SignIn that never reaches the network (for its choices only)."""
    return tool.SignIn(None, "erin", password, "us-east-1_x", "client", None, None, sign_in, lambda m: None)


def test_select_challenge_skips_the_password_a_passwordless_sign_in_does_not_have():
    offered = {"AvailableChallenges": ["PASSWORD", "PASSWORD_SRP", "SMS_OTP"], "Session": "s"}
    assert conversation("email-otp", lambda: "asked").select_challenge("SELECT_CHALLENGE", offered) == (
        {"ANSWER": "SMS_OTP"}, "s")
    with pytest.raises(tool.ToolError) as info:
        conversation("email-otp", lambda: "asked").select_challenge(
            "SELECT_CHALLENGE", {"AvailableChallenges": ["PASSWORD"]})
    assert info.value.exit_code == tool.EXIT_LOGIN and "PASSWORD" in str(info.value)


def test_select_mfa_type_prefers_the_authenticator_app():
    offered = {"ChallengeParameters": {"MFAS_CAN_CHOOSE": '["SMS_MFA", "EMAIL_OTP", "SOFTWARE_TOKEN_MFA"]'},
               "Session": "s"}
    assert conversation("srp", "pw").select_mfa_type("SELECT_MFA_TYPE", offered) == (
        {"ANSWER": "SOFTWARE_TOKEN_MFA"}, "s")
TEMPLATES = ["{identity_id}/", "private/{identity_id}/", "media/{identity_id}/photos/"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_keys_stay_in_the_folder_of_each_template(template):
    mine, theirs = tool.user_folder(template, ME), tool.user_folder(template, OTHER)
    assert tool.user_key(mine, "a/b.txt", "b") == mine + "a/b.txt"
    assert tool.user_key(mine, f"s3://b/{mine}a.txt", "b") == mine + "a.txt"
    assert tool.user_prefix(mine, f"s3://b/{mine}", "b") == mine
    for outside in (f"s3://b/{theirs}a.txt", f"s3://b/{mine[:-1]}x/a.txt", "../a.txt", f"s3://b/{ME}a.txt"):
        with pytest.raises(tool.ToolError, match="outside your folder|segment"):
            tool.user_key(mine, outside, "b")
    # Before sign-in the template itself checks s3:// URIs: any identity's folder passes, nothing else.
    assert tool.confine(template, f"s3://b/{theirs}x.txt", "b") == "x.txt"
    with pytest.raises(tool.ToolError, match="outside your folder"):
        tool.confine(template, "s3://b/elsewhere", "b")


@pytest.mark.parametrize("template,reason", [
    ("{identity_id}", "/ right after"),
    ("private/{identity_id}", "/ right after"),
    ("photos/{identity_id}-x/", "/ right after"),
    ("media/{identity_id}/photos", "/ right after"),
    ("private/", "exactly once"),
    ("{identity_id}/{identity_id}/", "exactly once"),
    ("{entity_id}/", "exactly once"),
    ("x{identity_id}/", "whole path segment"),
    ("/{identity_id}/", "segment"),
    ("a//{identity_id}/", "segment"),
    ("../{identity_id}/", "segment"),
    ("p*/{identity_id}/", r"\*"),
    ("${aws:username}/{identity_id}/", r"\$"),
])
def test_malformed_folder_templates_are_refused_with_the_reason(template, reason):
    with pytest.raises(tool.ToolError, match=reason) as info:
        tool.validate_settings({"folder": template})
    assert info.value.exit_code == tool.EXIT_USAGE


def test_the_role_policy_follows_the_folder_template():
    policy = tool.role_policies("b", "us-east-1:" + ME.split(":")[1], "us-east-1",
                                "media/{identity_id}/photos/")["PermissionsPolicy"]
    own = "media/${cognito-identity.amazonaws.com:sub}/photos/"
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["OwnFolderObjects"]["Resource"] == f"arn:aws:s3:::b/{own}*"
    assert statements["AbortOwnUploads"]["Resource"] == f"arn:aws:s3:::b/{own}*"
    assert statements["ListOwnFolder"]["Condition"] == {"StringLike": {"s3:prefix": [own, own + "*"]}}


def test_walk_files_yields_s3_key_order_so_sync_can_merge_with_a_listing(tmp_path):
    for name in ("a/b.txt", "a-b.txt", "a.txt", "a/c/d.txt", "b.txt", "a0"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    keys = [relative for _, relative in tool.walk_files(str(tmp_path), print)]
    assert keys == sorted(keys, key=lambda k: k.encode()) == ["a-b.txt", "a.txt", "a/b.txt", "a/c/d.txt", "a0",
                                                              "b.txt"]


def test_sync_pairs_matches_names_across_two_ordered_streams():
    local = iter([("a", 1), ("c", 3)])
    remote = iter([("b", 2), ("c", 4)])
    assert list(tool.sync_pairs(local, remote)) == [(("a", 1), None), (None, ("b", 2)), (("c", 3), ("c", 4))]


def sync_sides(local, remote):
    """sync_plan's two key-ordered streams from (name, size, mtime) rows."""
    files = iter([(name, f"/d/{name}", size, mtime) for name, size, mtime in sorted(local)])
    objects = iter([(name, {"Key": f"me/{name}", "Size": size, "ETag": '"x"',
                            "LastModified": datetime.datetime.fromtimestamp(mtime, datetime.timezone.utc)})
                    for name, size, mtime in sorted(remote)])
    return files, objects


@pytest.mark.parametrize("direction,delete,local,remote,skipped,expected", [
    # Size first, then which side is newer, in whole seconds (S3's LastModified has none finer).
    ("up", False, [("a", 5, 100.7)], [("a", 5, 100)], (), [("unchanged", "a")]),
    ("up", False, [("a", 5, 200)], [("a", 5, 100)], (), [("upload", "a")]),
    ("up", False, [("a", 5, 100)], [("a", 5, 200)], (), [("unchanged", "a")]),
    ("up", False, [("a", 6, 100)], [("a", 5, 200)], (), [("upload", "a")]),
    ("down", False, [("a", 5, 100)], [("a", 5, 200)], (), [("download", "a")]),
    ("down", False, [("a", 5, 200)], [("a", 5, 100)], (), [("unchanged", "a")]),
    ("down", False, [("a", 5, 200)], [("a", 4, 100)], (), [("download", "a")]),
    # One side only: the source's is copied; the destination's is deleted with --delete, else kept.
    ("up", False, [("a", 1, 1)], [("b", 1, 1)], (), [("upload", "a"), ("keep", "b")]),
    ("up", True, [("a", 1, 1)], [("b", 1, 1)], (), [("upload", "a"), ("delete remote", "b")]),
    ("down", False, [("a", 1, 1)], [("b", 1, 1)], (), [("keep", "a"), ("download", "b")]),
    ("down", True, [("a", 1, 1)], [("b", 1, 1)], (), [("delete local", "a"), ("download", "b")]),
    # Below a path the walk skipped (a link): never deleted, never written through.
    ("up", True, [], [("link/x", 1, 1)], ("link",), [("skip", "link/x")]),
    ("down", True, [], [("link/x", 1, 1), ("y", 1, 1)], ("link",), [("skip", "link/x"), ("download", "y")]),
    # Key order: a-b before a/b, as S3 lists them.
    ("up", True, [("a/b", 1, 1), ("a-b", 1, 1)], [("a/b", 1, 1)], (),
     [("upload", "a-b"), ("unchanged", "a/b")]),
])
def test_sync_plan_decides_each_name_as_aws_s3_sync(direction, delete, local, remote, skipped, expected):
    files, objects = sync_sides(local, remote)
    plan = tool.sync_plan(files, objects, direction == "up", delete, False, lambda name: name.split("/")[0] in skipped)
    assert [(action, (mine or theirs)[0]) for action, mine, theirs in plan] == expected


def test_sync_plan_with_checksum_compares_content_not_time(tmp_path):
    import hashlib

    (tmp_path / "same").write_bytes(b"hello")
    (tmp_path / "changed").write_bytes(b"HELLO")
    files = iter([(name, str(tmp_path / name), 5, 999) for name in ("changed", "same")])
    objects = iter([(name, {"Key": name, "Size": 5, "ETag": f'"{hashlib.md5(b"hello").hexdigest()}"',
                            "LastModified": datetime.datetime.fromtimestamp(1, datetime.timezone.utc)})
                    for name in ("changed", "same")])
    plan = [(action, mine[0]) for action, mine, _ in tool.sync_plan(files, objects, True, False, True)]
    assert plan == [("upload", "changed"), ("unchanged", "same")]


@pytest.mark.parametrize("size,suffix", [(0, ""), (5, ""), (8 * 1024 * 1024, "-1"), (8 * 1024 * 1024 + 1, "-2")])
def test_local_etag_follows_the_upload_part_size(tmp_path, size, suffix):
    import hashlib

    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * size)
    etag = tool.local_etag(str(path))
    assert etag.endswith(suffix) and (suffix or etag == hashlib.md5(b"x" * size).hexdigest())


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("10m", 600), ("12h", 43200), ("7d", 604800)])
def test_durations(text, seconds):
    assert tool.parse_duration(text) == seconds


def test_amplify_gen2_folder_comes_from_the_entity_identity_path(tmp_path):
    path = tmp_path / "amplify_outputs.json"
    path.write_text(json.dumps({"version": "1.4", "auth": {
        "aws_region": "eu-west-1", "user_pool_id": "eu-west-1_abc", "user_pool_client_id": "client",
        "identity_pool_id": "eu-west-1:" + ME.split(":")[1]}, "storage": {
        "aws_region": "eu-west-1", "bucket_name": "b1", "buckets": [
            {"name": "other", "bucket_name": "b2", "aws_region": "eu-west-1",
             "paths": {"x/{entity_id}/*": {"entityidentity": ["get"]}}},
            {"name": "main", "bucket_name": "b1", "aws_region": "eu-west-1",
             "paths": {"public/*": {"guest": ["get"]}, "media/{entity_id}/*": {"entityidentity": ["get", "write"]}}},
        ]}}))
    settings = tool.read_amplify_config(str(path))
    assert settings == {"region": "eu-west-1", "user_pool_id": "eu-west-1_abc", "client_id": "client",
                        "identity_pool_id": "eu-west-1:" + ME.split(":")[1], "bucket": "b1",
                        "folder": "media/{identity_id}/"}


def test_confine_without_a_folder_checks_against_the_default_template():
    assert tool.confine(None, f"s3://b/{OTHER}/a.txt", "b") == "a.txt"
    with pytest.raises(tool.ToolError, match="outside your folder <identity id>/"):
        tool.confine(None, "s3://b/a.txt", "b")


# ---- the isolation probe's verdicts and the command line's secrets


def test_a_probe_answer_is_judged_by_what_s3_can_only_say_after_granting():
    assert tool.probe_verdict(None)[0] == "allowed"
    assert all(tool.probe_verdict(code)[0] == "allowed" for code in ("NoSuchKey", "NotFound", "NoSuchVersion",
                                                                      "NoSuchUpload"))
    assert tool.probe_verdict("AccessDenied") == ("refused", "AccessDenied")
    assert tool.probe_verdict("AccessDenied", seen=False)[0] == "unproven"
    assert tool.probe_verdict("400")[0] == "undecided"


def probe_entries(*results):
    return [tool.probe_entry("read", f"Action{i}", f"s3:Action{i % 2}", f"s3://b/{OTHER}/k", result, "d")
            for i, result in enumerate(results)]


def test_the_probe_headline_counts_only_what_held_and_names_the_rest():
    not_tested = [{"action": "PutObjectAcl", "permission": "s3:PutObjectAcl", "why": tool.THEIR_OBJECTS}]
    message = tool.probe_message(probe_entries("refused", "refused", "unproven"), not_tested, OTHER + "/")
    assert message.startswith("isolation holds for the 2 actions tried (2 requests, each refused)")
    assert "unproven: Action2" in message and "PutObjectAcl" in message and "`doctor`" in message
    assert "every" not in message.split("`doctor`")[0]
    broken = tool.probe_message(probe_entries("refused", "allowed"), not_tested, OTHER + "/")
    assert broken.startswith("isolation is BROKEN: Action1 ALLOWED")


@pytest.mark.parametrize("argv,secret", [
    (["--mfa-code", "123456", "ls"], "123456"), (["--token=abc", "ls"], "abc"), (["-p", "x y", "ls"], "x y"),
    (["ls", "--refresh-token-rotation"], None), (["--mfa-code"], None), (["--", "--password", "v"], None),
])
def test_the_values_after_secret_options_are_found(argv, secret):
    assert tool.secret_values(argv) == ([secret] if secret else [])


def test_a_secret_is_hidden_as_argparse_echoes_it_and_nowhere_else():
    assert tool.redacted("invalid choice: 'hunter2' (choose from 'run')", ["hunter2"]) == \
        "invalid choice: '<hidden>' (choose from 'run')"
    assert tool.redacted("unrecognized arguments: --token=hunter2 x; see", ["hunter2"]) == \
        "unrecognized arguments: --token=<hidden> x; see"
    assert tool.redacted("invalid choice: \"it's\\\\\"", ["it's\\"]) == "invalid choice: '<hidden>'"
    assert tool.redacted("argument COMMAND: invalid choice: 'runner'", ["run"]) == \
        "argument COMMAND: invalid choice: 'runner'"


def test_the_first_boto3_session_is_made_once_when_threads_ask_for_it_at_once():
    """A transfer's renewal and the lazily made S3 client may want the first client together."""
    import subprocess
    import sys

    script = """
import sys, threading
sys.path.insert(0, sys.argv[1])
import cog_auth_s3
barrier, found, failed = threading.Barrier(8), [], []
def ask():
    barrier.wait()
    try:
        found.append(cog_auth_s3.shared_boto())
    except Exception as err:
        failed.append(repr(err))
threads = [threading.Thread(target=ask) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
print(len(failed), len(found), len({id(session) for session in found}), failed[:1])
"""
    # A fresh interpreter: boto3 not yet imported, so the first session takes long enough for the others to ask.
    result = subprocess.run([sys.executable, "-c", script, str(Path(tool.__file__).parent)], capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.split()[:3] == ["0", "8", "1"], result.stdout + result.stderr
