"""local_aws's IAM enforcement: every request signed and authorized, as AWS does."""

import json
import os
from urllib.parse import urlparse


def install():
    """Make moto check the signature of every request and deny unsigned ones, as AWS does; what the
    signed caller may do is localaws.iam_policy's evaluation."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.moto_api._internal import urls as moto_api_urls

    # moto reads this once at import; the module attribute is what its checks consult per request.
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    # These are token-authorized in AWS and sent unsigned by the SDKs.
    ActionAuthenticatorMixin.PUBLIC_OPERATIONS += [
        "AWSCognitoIdentityProviderService.RespondToAuthChallenge",
        "AWSCognitoIdentityProviderService.ConfirmForgotPassword",
        "AWSCognitoIdentityProviderService.ResendConfirmationCode",
        "AWSCognitoIdentityProviderService.ChangePassword",
        "AWSCognitoIdentityProviderService.GlobalSignOut",
        "AWSCognitoIdentityProviderService.RevokeToken",
        "AWSCognitoIdentityService.GetCredentialsForIdentity",
    ]
    # Any unsigned client could otherwise switch enforcement off through /moto-api/reset-auth.
    moto_api_urls.url_paths["{0}/moto-api/reset-auth"] = lambda *a, **k: (
        403, {}, json.dumps({"message": "local_aws keeps IAM enforcement on"}))
    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate_and_authorize(self, iam_request_cls, resource="*"):
        """Deny unsigned requests for non-public operations instead of failing on the missing header."""
        if ("Authorization" not in self.headers
                and self.headers.get("X-Amz-Target") not in ActionAuthenticatorMixin.PUBLIC_OPERATIONS):
            raise _anonymous_denied(self, iam_request_cls)
        # moto signs the decoded URL over again, so a key or prefix with ":" (as in every identity id)
        # or "%" never matched its SigV4 signature; check the signature against the URL as sent.
        uri = self.uri
        raw = urlparse(getattr(getattr(self, "request", None), "environ", {}).get("RAW_URI", ""))
        if raw.path or getattr(self, "raw_path", None):
            self.uri = urlparse(uri)._replace(path=raw.path or self.raw_path, query=raw.query or urlparse(uri).query).geturl()
        try:
            return original(self, iam_request_cls, resource)
        finally:
            self.uri = uri

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_and_authorize


def _anonymous_denied(response, iam_request_cls):
    """The error AWS gives an unsigned request: S3 AccessDenied, else a missing-token error."""
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto.iam.access_control import S3IAMRequest
    from moto.s3.exceptions import BucketAccessDeniedError, S3AccessDeniedError

    if iam_request_cls is S3IAMRequest:
        bucket = response.data.get("BucketName")
        return BucketAccessDeniedError(bucket) if bucket else S3AccessDeniedError()
    if response.headers.get("X-Amz-Target"):
        error = JsonRESTError("MissingAuthenticationTokenException", "Missing Authentication Token")
        error.code = 403
        return error
    return AccessDeniedError(user_arn="anonymous", action=str(response._get_action()))
