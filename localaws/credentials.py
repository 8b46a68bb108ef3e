"""local_aws's temporary credentials: issued on localaws.clock, refused once expired; S3 presigned URLs.

What AWS does and moto 5.2.1 did not (install() patches moto in-process, around local_aws's own
signature and IAM enforcement):
- STS sessions (AssumeRole, AssumeRoleWithWebIdentity, and so Cognito's GetCredentialsForIdentity) get
  their Expiration from localaws.clock. A request signed with a session whose Expiration has passed on that
  clock is refused: S3 answers 400 ExpiredToken "The provided token has expired."; JSON services (Cognito,
  ...) 400 ExpiredTokenException and query services (STS, IAM) 403 ExpiredToken, "The security token
  included in the request is expired".
- S3 presigned URLs (SigV4 in the query string: X-Amz-Algorithm, -Credential, -Date, -Expires,
  -SignedHeaders, -Signature and, for temporary credentials, -Security-Token) are verified (payload
  UNSIGNED-PAYLOAD, as S3 signs them) and then authorized by the same IAM evaluation, with the same request
  context, as a header-signed request by the signer. Refused: a wrong signature (403 SignatureDoesNotMatch),
  a URL past X-Amz-Date + X-Amz-Expires on localaws.clock (403 AccessDenied "Request has expired"), signing
  credentials past their Expiration (400 ExpiredToken), X-Amz-Expires over 604800 or missing parameters
  (400 AuthorizationQueryParametersError).
- Policy conditions on aws:CurrentTime and aws:EpochTime read localaws.clock as well.

Differences from AWS that remain:
- X-Amz-Date is not compared with the clock (no RequestTimeTooSkewed / "Signature expired"): clients sign
  with real time, and a test that moves local_aws's clock forward would otherwise lock every client out.
  For the same reason a presigned URL dated in the future is not refused.
- Presigned URLs are honoured for S3 only. A SigV2 one (?AWSAccessKeyId=&Signature=&Expires=, what boto3
  makes for us-east-1 unless told signature_version="s3v4") gets 400 InvalidRequest "The authorization
  mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.", as S3 answers for buckets
  made since June 2020 (older buckets on AWS still accept it).
- GetSessionToken and GetFederationToken give moto's fixed example credentials, which no request accepts.
"""

import datetime
import hmac
from urllib.parse import unquote, urlparse

from localaws import clock

MAX_PRESIGNED_SECONDS = 604800
PRESIGNED_PARAMETERS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
                        "X-Amz-SignedHeaders", "X-Amz-Expires")
JSON_EXPIRED = ("ExpiredTokenException", "The security token included in the request is expired")
QUERY_EXPIRED = ("ExpiredToken", "The security token included in the request is expired")
S3_EXPIRED = ("ExpiredToken", "The provided token has expired.")


def _raw_url(response):
    """(path, query) of the request exactly as the client sent them (the signature covers these)."""
    environ = getattr(getattr(response, "request", None), "environ", {})
    raw = urlparse(environ.get("RAW_URI", ""))
    return raw.path or getattr(response, "raw_path", None) or urlparse(response.uri).path, \
        raw.query or urlparse(response.uri).query


def _query_pairs(query):
    """A raw query string as decoded (name, value) pairs, in order; "+" stays "+", as SigV4 reads it."""
    pairs = []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def _session(account_id, partition, access_key_id):
    """The STS session an access key id belongs to, or None (an IAM user's key, or unknown)."""
    from moto.sts.models import sts_backends

    try:
        return sts_backends[account_id][partition].get_assumed_role_from_access_key(access_key_id)
    except KeyError:
        return None


def _expired(session):
    """Whether an STS session's Expiration has passed on local_aws's clock."""
    return session is not None and session.expiration <= clock.utcnow()


def _expired_error(iam_request_cls, headers):
    """The error AWS gives a request signed with expired temporary credentials, in its service's protocol."""
    from moto.core.exceptions import JsonRESTError, _RESTError
    from moto.iam.access_control import S3IAMRequest
    from moto.s3.exceptions import S3ClientError

    if iam_request_cls is S3IAMRequest:
        return S3ClientError(*S3_EXPIRED)
    error = JsonRESTError(*JSON_EXPIRED) if headers.get("X-Amz-Target") else _RESTError(*QUERY_EXPIRED)
    error.code = 400 if headers.get("X-Amz-Target") else 403
    return error


def _s3_error(code, message):
    """An S3 error document (moto renders it as XML; the status follows the code, 400 when unmodelled)."""
    from moto.s3.exceptions import S3ClientError

    return S3ClientError(code, message)


def refuse_expired_session(response, iam_request_cls):
    """Refuse a header-signed request whose temporary credentials have expired on local_aws's clock."""
    from moto.utilities.utils import get_partition

    authorization = response.headers.get("Authorization") or ""
    if "X-Amz-Security-Token" not in response.headers or "Credential=" not in authorization:
        return
    scope = authorization.partition("Credential=")[2].split(",")[0].strip().split("/")
    if len(scope) < 3:
        return  # malformed: moto's own check answers it
    if _expired(_session(response.current_account, get_partition(scope[2]), scope[0])):
        raise _expired_error(iam_request_cls, response.headers)


def _presigned_signature(credentials, method, path, pairs, headers, signed_headers, scope, timestamp):
    """The SigV4 query-string signature S3 expects for this request (payload UNSIGNED-PAYLOAD)."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url="http://" + (headers.get("Host") or "") + path,
                         headers={name: headers.get(name) or "" for name in signed_headers})
    request.params = [(name, value) for name, value in pairs if name != "X-Amz-Signature"]
    request.context["timestamp"] = timestamp
    auth = S3SigV4QueryAuth(credentials, scope[3], scope[2])
    return auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)


def authorize_presigned(response, iam_request_cls, resource):
    """Verify an S3 presigned URL and authorize its signer exactly as for a header-signed request."""
    from werkzeug.datastructures import Headers

    path, query = _raw_url(response)
    pairs = _query_pairs(query)
    params = dict(pairs)
    if any(not params.get(name) for name in PRESIGNED_PARAMETERS) or params["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        raise _s3_error("AuthorizationQueryParametersError",
                        "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                        "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
    scope = params["X-Amz-Credential"].split("/")
    try:
        signed_at = datetime.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        raise _s3_error("AuthorizationQueryParametersError",
                        "X-Amz-Date must be in the ISO8601 Long Format and X-Amz-Expires a number of seconds.")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise _s3_error("AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter.")
    if not 0 <= expires <= MAX_PRESIGNED_SECONDS:
        raise _s3_error("AuthorizationQueryParametersError",
                        "X-Amz-Expires must be less than a week (in seconds) that is 604800")
    headers = Headers(response.headers)
    signed_headers = params["X-Amz-SignedHeaders"].split(";")
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={params['X-Amz-Credential']}, "
                                f"SignedHeaders={params['X-Amz-SignedHeaders']}, Signature={params['X-Amz-Signature']}")
    if "X-Amz-Security-Token" in params:
        headers["X-Amz-Security-Token"] = params["X-Amz-Security-Token"]
    headers["X-Amz-Date"] = params["X-Amz-Date"]
    # moto's request object looks the access key up (InvalidAccessKeyId / InvalidToken as for a header).
    request = iam_request_cls(account_id=response.current_account, method=response.method,
                              path=path + "?" + query, data=response.data, body=response.raw_body,
                              headers=headers, action=response._get_action())
    expected = _presigned_signature(request._access_key.create_credentials(), response.method, path, pairs,
                                    headers, signed_headers, scope, params["X-Amz-Date"])
    if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
        request._raise_signature_does_not_match()
    if clock.utcnow() > signed_at + datetime.timedelta(seconds=expires):
        raise _s3_error("AccessDenied", "Request has expired")
    if _expired(_session(response.current_account, request._access_key.partition, scope[0])):
        raise _s3_error(*S3_EXPIRED)
    request.check_action_permitted(resource)


def _is_presigned(response):
    """An unsigned-by-header request whose query carries a SigV4 signature."""
    return "Authorization" not in response.headers and "X-Amz-Signature=" in (_raw_url(response)[1] or "")


def install():
    """Issue STS sessions on local_aws's clock; refuse expired ones; verify and authorize S3 presigned URLs.
    Installed after localaws.iam_enforcement, whose signature and policy checks this wraps."""
    import moto.core.utils
    import moto.sts.models
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import S3IAMRequest

    moto.sts.models.utcnow = clock.utcnow  # AssumedRole's Expiration = issue time (on the clock) + duration
    # aws:CurrentTime and aws:EpochTime: local_aws's policy evaluation imports moto.core.utils.utcnow when it
    # builds a request's context, so Date conditions (a policy that ends at a date) follow the clock too.
    # moto's modules bound their own utcnow at import, so what they stamp (creation dates) is unchanged.
    moto.core.utils.utcnow = clock.utcnow
    authenticate = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate_and_authorize(self, iam_request_cls, resource="*"):
        """Presigned S3 URLs are checked here; other requests first lose an expired session, then go on."""
        if iam_request_cls is S3IAMRequest and _is_presigned(self):
            return authorize_presigned(self, iam_request_cls, resource)
        if iam_request_cls is S3IAMRequest and "Authorization" not in self.headers \
                and "AWSAccessKeyId=" in (_raw_url(self)[1] or ""):
            # A SigV2 presigned URL: S3 serves these only for buckets made before June 2020.
            raise _s3_error("InvalidRequest", "The authorization mechanism you have provided is not supported. "
                                              "Please use AWS4-HMAC-SHA256.")
        refuse_expired_session(self, iam_request_cls)
        return authenticate(self, iam_request_cls, resource)

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_and_authorize
