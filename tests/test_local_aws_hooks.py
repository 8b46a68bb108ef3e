"""The moto internals local_aws patches still exist with the shapes it relies on (guards moto upgrades)."""

import inspect

import pytest


def params(function):
    """Parameter names of a function."""
    return list(inspect.signature(function).parameters)


def source_has(function, *needles):
    """Assert the function's source still contains each needle."""
    source = inspect.getsource(function)
    missing = [n for n in needles if n not in source]
    assert not missing, f"moto internal {function.__qualname__} no longer contains {missing}; local_aws relies on it"


def test_moto_is_the_pinned_version():
    import moto

    assert moto.__version__ == "5.2.1", f"local_aws patches moto 5.2.1 internals; found {moto.__version__}: rerun these tests"


def test_settings_and_authorization_hooks():
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    assert hasattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT"), "moto.settings.INITIAL_NO_AUTH_ACTION_COUNT is gone"
    assert isinstance(ActionAuthenticatorMixin.PUBLIC_OPERATIONS, list), "ActionAuthenticatorMixin.PUBLIC_OPERATIONS changed"
    assert params(ActionAuthenticatorMixin._authenticate_and_authorize_action) == ["self", "iam_request_cls", "resource"], \
        "ActionAuthenticatorMixin._authenticate_and_authorize_action signature changed"
    source_has(ActionAuthenticatorMixin._authenticate_and_authorize_action,
               "settings.INITIAL_NO_AUTH_ACTION_COUNT", "PUBLIC_OPERATIONS", "urlparse(self.uri)",
               "check_signature()", "check_action_permitted(resource)")


def test_moto_api_reset_auth_route():
    from moto.moto_api._internal import urls

    assert "{0}/moto-api/reset-auth" in urls.url_paths, "moto.moto_api._internal.urls.url_paths lost reset-auth"


def test_response_request_attributes():
    from moto.core.responses import BaseResponse

    source_has(BaseResponse.setup_class, "self.uri = full_url", "self.raw_path", "RAW_URI")


def test_iam_request_hooks():
    from moto.iam.access_control import IAMRequestBase, IAMRequest, S3IAMRequest

    source_has(IAMRequestBase.__init__, "self._access_key =", "self._action =", "self._path =", "self._headers =",
               "self._region =", "self._service =", "self.account_id =")
    assert params(IAMRequestBase.check_action_permitted) == ["self", "resource"], \
        "IAMRequestBase.check_action_permitted signature changed"
    for name in ("_is_assuming_role_operation", "_check_role_trust_relationship"):
        assert params(getattr(IAMRequestBase, name)) in (["self", "resource_arn"], ["self", "role_arn"]), \
            f"IAMRequestBase.{name} signature changed"
    for cls in (IAMRequest, S3IAMRequest):
        assert params(cls._raise_access_denied) == ["self"], f"{cls.__name__}._raise_access_denied signature changed"


def test_access_key_hooks():
    from moto.iam.access_control import AssumedRoleAccessKey, IAMUserAccessKey

    source_has(IAMUserAccessKey.__init__, "self._owner_user_name =", "self.account_id =", "self.partition =")
    source_has(AssumedRoleAccessKey.__init__, "self._access_key_id =", "self.account_id =", "self.partition =")
    for cls in (IAMUserAccessKey, AssumedRoleAccessKey):
        assert isinstance(cls.arn, property) and callable(cls.collect_policies), f"{cls.__name__}.arn/collect_policies changed"


def test_policy_evaluator_hooks():
    from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult

    assert {"PERMITTED", "DENIED", "NEUTRAL"} <= set(PermissionResult.__members__), "PermissionResult members changed"
    expected = ["self", "action", "resource", "principal", "incoming_condition_values"]
    assert params(IAMPolicy.is_action_permitted) == expected, "IAMPolicy.is_action_permitted signature changed"
    assert params(IAMPolicyStatement.is_action_permitted) == expected, \
        "IAMPolicyStatement.is_action_permitted signature changed"
    source_has(IAMPolicyStatement.__init__, "self._statement = statement")
    source_has(IAMPolicy.is_action_permitted, "IAMPolicyStatement(")


def test_sts_hooks():
    from moto.sts.models import AssumedRole, STSBackend

    assert params(STSBackend.assume_role) == ["self", "region_name", "role_session_name", "role_arn", "policy",
                                               "duration", "external_id"], "STSBackend.assume_role signature changed"
    assert params(STSBackend.get_assumed_role_from_access_key) == ["self", "access_key_id"], \
        "STSBackend.get_assumed_role_from_access_key signature changed"
    source_has(STSBackend.assume_role_with_web_identity, "self.assume_role(**kwargs)")
    source_has(AssumedRole.__init__, "self.access_key_id =", "self.secret_access_key =", "self.session_token =",
               "self.expiration =", "self.role_arn =")
    assert isinstance(AssumedRole.user_id, property) and isinstance(AssumedRole.arn, property), \
        "AssumedRole.user_id/arn changed"


def test_s3_hooks():
    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response

    assert params(FakeBucket.get_permission) == ["self", "action", "resource"], "FakeBucket.get_permission signature changed"
    assert params(S3Response._bucket_response_delete_keys) == ["self", "bucket_name", "authenticated"], \
        "S3Response._bucket_response_delete_keys signature changed"
    source_has(S3Response._bucket_response_delete_keys, "bucket.get_permission(")
    source_has(S3Response._key_response, "bucket.get_permission(action, resource)")
    assert params(S3Response._authenticate_and_authorize_s3_action) == ["self", "bucket_name", "key_name"], \
        "_authenticate_and_authorize_s3_action signature changed"


def test_cognito_hooks():
    from moto.cognitoidentity.models import CognitoIdentityBackend, CognitoIdentityPool
    from moto.cognitoidentity.responses import CognitoIdentityResponse
    from moto.cognitoidentity.utils import get_random_identity_id
    from moto.cognitoidp.models import CognitoIdpUserPool

    for name in ("get_id", "get_credentials_for_identity"):
        assert callable(getattr(CognitoIdentityResponse, name, None)), f"CognitoIdentityResponse.{name} is gone"
    for name in ("set_identity_pool_roles", "get_identity_pool_roles"):
        assert not hasattr(CognitoIdentityResponse, name) or getattr(CognitoIdentityResponse, name).__module__ == "localaws.cognito_identity", \
            f"moto now implements CognitoIdentityResponse.{name}: reconsider localaws.cognito_identity's version"
    source_has(CognitoIdentityBackend.__init__, "self.identity_pools", "self.pools_identities")
    source_has(CognitoIdentityPool.__init__, "self.cognito_identity_providers", "self.allow_unauthenticated_identities")
    source_has(CognitoIdpUserPool.__init__, "self.json_web_key")
    source_has(CognitoIdpUserPool.create_jwt, '"iss": f"https://cognito-idp.{self.region}.amazonaws.com/{self.id}"')
    assert params(get_random_identity_id) == ["region"], "get_random_identity_id signature changed"


@pytest.mark.parametrize("module", ["moto.moto_server.werkzeug_app"])
def test_server_hooks(module):
    import importlib

    app = importlib.import_module(module)
    assert hasattr(app, "DomainDispatcherApplication") and hasattr(app, "create_backend_app"), f"{module} changed"
    assert app.UNSIGNED_REQUESTS.get("AWSCognitoIdentityService", (None,))[0] == "cognito-identity", \
        "unsigned cognito-identity requests are no longer routed by X-Amz-Target"


def test_s3_complete_multipart_hook():
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    assert params(S3Response._key_response_post) == ["self", "request", "body", "bucket_name", "query", "key_name"], \
        "S3Response._key_response_post signature changed"
    source_has(S3Response._key_response_post, "CompleteMultipartUpload", "complete_multipart_upload")
    for attribute in ("checksum_algorithm", "checksum_type", "checksum_value", "checksum_parts"):
        assert attribute in inspect.getsource(FakeKey), f"moto FakeKey lost {attribute}"


def test_dispatch_lists_moto_modules_through_the_backends_module():
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    assert callable(backends.list_of_moto_modules), "moto.backends.list_of_moto_modules is gone"
    source_has(DomainDispatcherApplication.get_backend_for_host, "backends.list_of_moto_modules()")


def test_s3_fidelity_hooks():
    """localaws.s3: conditional writes, key length, missing uploads, unsigned requests."""
    from moto.s3.exceptions import NoSuchUpload, S3ClientError
    from moto.s3.models import FakeBucket, S3Backend
    from moto.s3.responses import S3Response

    assert params(S3Response.put_object) == ["self"] and params(S3Response.copy_object) == ["self"], \
        "S3Response.put_object/copy_object signature changed"
    source_has(S3Response.put_object, 'if_none_match == "*"', "self.backend.put_object(")
    source_has(S3Response._key_response_post, 'self.headers.get("If-None-Match") == "*"',
               "self.backend.complete_multipart_upload(")
    assert params(S3Response._key_response) == ["self", "request", "full_url"], "S3Response._key_response changed"
    source_has(S3Response._key_response, "authorized_request and not signed_url", "return 403, {}, \"\"")
    source_has(S3Response._key_response_put, "self.copy_object()", "self.put_object()", "self.upload_part()")
    for name in ("parse_key_name", "parse_bucket_name_from_url"):
        assert callable(getattr(S3Response, name, None)), f"S3Response.{name} is gone"
    assert params(S3Backend.create_multipart_upload)[:3] == ["self", "bucket_name", "key_name"]
    assert params(S3Backend.upload_part)[:3] == ["self", "bucket_name", "multipart_id"]
    assert params(S3Backend.upload_part_copy)[:3] == ["self", "dest_bucket_name", "multipart_id"]
    assert params(S3Backend.complete_multipart_upload) == ["self", "bucket_name", "multipart_id", "body"]
    source_has(FakeBucket.__init__, "self.multiparts")
    assert params(NoSuchUpload.__init__) == ["self", "upload_id"], "NoSuchUpload's constructor changed"
    assert S3ClientError("KeyTooLongError", "Your key is too long").code == "KeyTooLongError"


def test_credential_hooks():
    """localaws.credentials: STS expiry on the clock, expired-session and presigned-URL checks."""
    import moto.sts.models
    from botocore.auth import S3SigV4QueryAuth
    from moto.core.exceptions import JsonRESTError, _RESTError
    from moto.iam.access_control import IAMRequestBase, create_access_key

    assert callable(moto.sts.models.utcnow), "moto.sts.models no longer imports utcnow"
    source_has(moto.sts.models.AssumedRole.__init__, "now = utcnow()", "self.expiration = now +")
    source_has(IAMRequestBase.__init__, '"Credential=", ",", self._headers["Authorization"]', "create_access_key(")
    source_has(create_access_key, '"X-Amz-Security-Token" not in headers')
    for name in ("_raise_signature_does_not_match", "check_action_permitted"):
        assert callable(getattr(IAMRequestBase, name, None)), f"IAMRequestBase.{name} is gone"
    assert issubclass(JsonRESTError, _RESTError) and params(_RESTError.__init__)[:3] == ["self", "error_type", "message"]
    for name in ("canonical_request", "string_to_sign", "signature"):
        assert callable(getattr(S3SigV4QueryAuth, name, None)), f"botocore S3SigV4QueryAuth.{name} is gone"


def test_iam_simulate_hooks():
    from moto.iam.access_control import IAMPolicyStatement
    from moto.iam.models import AWSManagedPolicy, IAMBackend, ManagedPolicy, Role, User
    from moto.iam.responses import IamResponse

    for name in ("simulate_principal_policy", "simulate_custom_policy"):
        assert not hasattr(IamResponse, name) or getattr(IamResponse, name).__module__ == "localaws.iam_simulate", \
            f"moto now implements IamResponse.{name}: reconsider localaws.iam_simulate's version"
    assert params(IAMPolicyStatement.is_action_permitted) == [
        "self", "action", "resource", "principal", "incoming_condition_values"], \
        "IAMPolicyStatement.is_action_permitted signature changed"
    source_has(Role.__init__, "self.policies", "self.managed_policies")
    source_has(User.__init__, "self.policies", "self.managed_policies")
    source_has(ManagedPolicy.__init__, "self.versions")
    assert issubclass(AWSManagedPolicy, ManagedPolicy), "AWSManagedPolicy no longer a ManagedPolicy"
    for name in ("get_role", "get_user", "get_groups_for_user"):
        assert callable(getattr(IAMBackend, name, None)), f"IAMBackend.{name} is gone"


def test_identity_pool_classic_flow_hooks():
    from moto.cognitoidentity.models import CognitoIdentityPool
    from moto.cognitoidentity.responses import CognitoIdentityResponse

    for name in ("create_identity_pool", "update_identity_pool", "describe_identity_pool"):
        assert callable(getattr(CognitoIdentityResponse, name, None)), f"CognitoIdentityResponse.{name} is gone"
    assert "AllowClassicFlow" not in inspect.getsource(CognitoIdentityPool.to_json), \
        "moto now returns AllowClassicFlow: reconsider localaws.identity_pools"


def test_cognito_token_and_device_hooks():
    """localaws/cognito_tokens.py and cognito_devices.py replace or wrap these."""
    from moto.cognitoidp import urls
    from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpGroup, CognitoIdpUser, CognitoIdpUserPool
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.responses import BaseResponse

    source_has(CognitoIdpUserPool.__init__, "self.json_web_key", "self.refresh_tokens", "self.access_tokens",
               "self.clients")
    # cognito_tokens imports moto's built-in key once, through the jwk name this import goes through.
    source_has(CognitoIdpUserPool.__init__, 'load_resource(__name__, "resources/jwks-private.json")',
               "jwk.RSAKey.import_key(jwks_file)")
    assert params(CognitoIdpUserPool.create_jwt) == ["self", "client_id", "username", "token_use", "expires_in",
                                                      "extra_data"], "CognitoIdpUserPool.create_jwt signature changed"
    source_has(CognitoIdpUserPool.create_jwt, "jwt.encode(headers, payload, self.json_web_key)")
    assert params(CognitoIdpUserPool.create_refresh_token) == ["self", "client_id", "username"]
    source_has(CognitoIdpUserPool.create_refresh_token, "self.refresh_tokens[refresh_token] = (client_id, username, origin_jti)")
    source_has(CognitoIdpUserPool.create_tokens_from_refresh_token, "self.refresh_tokens[refresh_token]")
    source_has(CognitoIdpUserPool.sign_out, "self.refresh_tokens[token] = None", "self.access_tokens.pop(access_token)")
    source_has(CognitoIdpBackend._log_user_in, "create_refresh_token", '"RefreshToken": refresh_token')
    # cognito_tokens.group_roles reads each group's role and precedence; moto itself adds cognito:groups.
    source_has(CognitoIdpGroup.__init__, "self.role_arn = role_arn", "self.precedence = precedence")
    source_has(CognitoIdpUser.__init__, "self.groups: set[CognitoIdpGroup] = set()")
    source_has(CognitoIdpUserPool.create_id_token, 'extra_data["cognito:groups"]', "self.create_jwt(")
    assert params(CognitoIdpBackend._log_user_in) == ["self", "user_pool", "client", "username"]
    assert params(CognitoIdpBackend.create_user_pool_client) == ["self", "user_pool_id", "generate_secret",
                                                                 "extended_config"]
    assert params(CognitoIdpBackend.update_user_pool_client) == ["self", "user_pool_id", "client_id", "extended_config"]
    source_has(CognitoIdpBackend.update_user_pool, "update_extended_config")
    for missing in ("get_tokens_from_refresh_token", "revoke_token", "confirm_device", "list_devices",
                    "forget_device", "update_device_status", "get_device", "admin_list_devices"):
        assert getattr(getattr(CognitoIdpResponse, missing, None), "__module__", "localaws").startswith("localaws"), \
            f"moto now implements {missing}: review localaws/cognito_tokens.py / cognito_devices.py"
    source_has(BaseResponse.call_action, "method_names_from_class(self.__class__)", "method = getattr(self, action)")
    assert "{0}/(?P<user_pool_id>[^/]+)/.well-known/jwks.json$" in urls.url_paths, "moto's JWKS route moved"


def test_cognito_signin_hooks():
    """localaws/cognito_signin.py wraps these backend calls, responses and attributes."""
    from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUser, CognitoIdpUserPool, RegionAgnosticBackend
    from moto.cognitoidp.responses import CognitoIdpResponse

    expected = {
        "initiate_auth": ["self", "client_id", "auth_flow", "auth_parameters"],
        "admin_initiate_auth": ["self", "user_pool_id", "client_id", "auth_flow", "auth_parameters"],
        "respond_to_auth_challenge": ["self", "session", "client_id", "challenge_name", "challenge_responses"],
        "associate_software_token": ["self", "access_token", "session"],
        "verify_software_token": ["self", "access_token", "session", "user_code", "friendly_device_name"],
        "admin_create_user": ["self", "user_pool_id", "username", "message_action", "temporary_password",
                              "attributes"],
        "sign_up": ["self", "client_id", "username", "password", "attributes"],
        "_log_user_in": ["self", "user_pool", "client", "username"],
        "admin_set_user_mfa_preference": ["self", "user_pool_id", "username", "software_token_mfa_settings",
                                          "sms_mfa_settings"],
        "set_user_pool_mfa_config": ["self", "user_pool_id", "sms_config", "token_config", "mfa_config"],
        "get_user_pool_mfa_config": ["self", "user_pool_id"],
        "create_user_pool": ["self", "name", "extended_config"],
        "update_user_pool": ["self", "user_pool_id", "extended_config"],
    }
    for name, names in expected.items():
        assert params(getattr(CognitoIdpBackend, name)) == names, f"CognitoIdpBackend.{name} signature changed"
    source_has(CognitoIdpBackend.__init__, "self.sessions")
    source_has(RegionAgnosticBackend._find_backend_by_access_token_or_session, "session in backend.sessions")
    assert callable(RegionAgnosticBackend._find_backend_by_access_token), "_find_backend_by_access_token is gone"
    for name in ("set_user_mfa_preference", "admin_set_user_mfa_preference", "set_user_pool_mfa_config",
                 "get_user_pool_mfa_config", "_get_region_agnostic_backend"):
        assert callable(getattr(CognitoIdpResponse, name, None)), f"CognitoIdpResponse.{name} is gone"
    assert params(CognitoIdpUser.to_json) == ["self", "extended", "attributes_key", "attributes_to_get"], \
        "CognitoIdpUser.to_json signature changed"
    source_has(CognitoIdpUser.to_json, '"UserMFASettingList"', '"PreferredMfaSetting"')
    source_has(CognitoIdpUser.__init__, "self.sms_mfa_enabled", "self.software_token_mfa_enabled",
               "self.token_verified", "self.preferred_mfa_setting", "self.password", "self.status")
    source_has(CognitoIdpUserPool.__init__, "self.mfa_config", "self.sms_mfa_config", "self.token_mfa_config",
               "self.refresh_tokens", "self.access_tokens", "self.id_tokens", "self.clients")
    source_has(CognitoIdpUserPool.update_extended_config, "self.extended_config")


def test_s3_missing_key_hooks():
    """localaws.s3: GetObject/HeadObject of a missing key check s3:ListBucket before answering 404."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequestBase
    from moto.s3.exceptions import MissingKey
    from moto.s3.responses import S3Response

    assert params(S3Response._key_response_get) == ["self", "query", "key_name"], \
        "S3Response._key_response_get signature changed"
    source_has(S3Response._key_response_get, "self._authenticate_and_authorize_s3_action(", "self.get_object()")
    source_has(S3Response._get_key, "raise MissingKey(key=key_name)")
    assert params(S3Response.head_object) == ["self", "bucket_name", "query", "key_name", "headers"], \
        "S3Response.head_object signature changed"
    source_has(S3Response.head_object, "self._authenticate_and_authorize_s3_action(", 'return 404, response_headers, ""')
    assert MissingKey(key="k").code == "NoSuchKey"
    # The ListBucket check swaps the response's data["Action"]; moto's IAM request reads its action from there.
    source_has(ActionAuthenticatorMixin._authenticate_and_authorize_action, "data=self.data",
               "action=self._get_action()")
    source_has(IAMRequestBase.__init__, 'self._action = (', 'f"{self._service}:{action[0] if isinstance(action, list) else action}"')


def test_s3_missing_bucket_hooks():
    """localaws.s3.require_bucket runs inside check_action_permitted, after moto has checked the signature."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import S3Backend

    source_has(ActionAuthenticatorMixin._authenticate_and_authorize_action,
               "iam_request.check_signature()\n            iam_request.check_action_permitted(resource)")
    source_has(S3Backend.__init__, "self.buckets")
    error = MissingBucket(bucket="b")
    assert error.code == "NoSuchBucket" and error.bucket_name == "b", "MissingBucket changed"


def test_s3_action_and_policy_version_hooks():
    """localaws/s3_actions.py replaces S3Response._set_action; localaws/policy_language.py replaces
    IAMPolicy.is_action_permitted, the inline put_*_policy methods and the trust validator's version check;
    localaws.server.serve turns on moto's AWS managed policies; localaws/s3.py works around HEAD's versionId 400."""
    from moto import settings
    from moto.iam.access_control import IAMPolicy
    from moto.iam.models import IAMBackend
    from moto.iam.policy_validation import BaseIAMPolicyValidator, IAMTrustPolicyDocumentValidator
    from moto.s3.responses import S3Response

    assert params(S3Response._set_action) == ["self", "action_resource_type", "method", "querystring"]
    for handler, kind in ((S3Response._key_response_get, '"KEY", "GET"'), (S3Response._key_response_put, '"KEY", "PUT"'),
                          (S3Response.head_object, '"KEY", "HEAD"'), (S3Response._key_response_delete, '"KEY", "DELETE"'),
                          (S3Response._bucket_response_put, '"BUCKET", "PUT"'),
                          (S3Response._bucket_response_delete, '"BUCKET", "DELETE"')):
        source_has(handler, f"self._set_action({kind}", "self._authenticate_and_authorize_s3_action(")
    source_has(S3Response.head_object, "is_versioned", "return 400")
    source_has(S3Response._bucket_response_delete_keys, "for obj in objects", "bucket.get_permission(")
    source_has(IAMPolicy.__init__, "self._policy_json = json.loads(policy_document)")
    source_has(BaseIAMPolicyValidator.validate, "self._validate_version()")
    assert "_validate_version" in vars(BaseIAMPolicyValidator) and issubclass(
        IAMTrustPolicyDocumentValidator, BaseIAMPolicyValidator)
    for name in ("put_role_policy", "put_user_policy", "put_group_policy"):
        source_has(getattr(IAMBackend, name), "IAMPolicyDocumentValidator(policy_json)", ".put_policy(policy_name, policy_json)")
    source_has(settings.load_iam_aws_managed_policies, "MOTO_IAM_LOAD_MANAGED_POLICIES")
