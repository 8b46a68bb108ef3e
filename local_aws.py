"""local_aws.py: a local AWS for cog_auth_s3's demo and tests, built on moto.

Usage:
    python local_aws.py [--port N]

It listens on 127.0.0.1 only. Its first line on stdout is one JSON object,
{"endpoint_url": ..., "aws_access_key_id": ..., "aws_secret_access_key": ...},
naming the administrator's keys; then it serves until stopped (SIGINT/SIGTERM).

IAM and Cognito identity (what local_aws adds over moto 5.2.1, patched in-process):
- IAM is enforced on every request: SigV4 signature and the caller's policies, with moto's evaluator
  extended to AWS semantics: * and ? wildcards, ${...} policy variables (e.g.
  ${cognito-identity.amazonaws.com:sub}) in Resource and Condition values, Principal/NotPrincipal,
  NotAction/NotResource, and String*, Arn*, Numeric*, Date*, Bool, Null, IpAddress conditions with
  ForAnyValue:/ForAllValues: and ...IfExists; a key the request lacks does not match (except negated
  operators and ...IfExists); an explicit Deny wins. A statement whose condition fails is neutral
  (moto made it a Deny). Request keys: aws:SecureTransport, aws:CurrentTime, aws:EpochTime,
  aws:RequestedRegion, aws:Principal{Arn,Account,Type}, aws:username/aws:userid, the cognito-identity
  keys (sub, aud, amr) of sessions it issued, and s3:prefix/delimiter/max-keys of bucket listings.
- S3: HeadBucket needs s3:ListBucket; CopyObject/UploadPartCopy also need s3:GetObject on the
  source; DeleteObjects checks s3:DeleteObject per key; the bucket policy is evaluated with the
  request's context and caller (its Deny wins, its Allow grants); keys with ":" or "%" sign correctly.
- Unsigned requests are denied, except the operations AWS serves unsigned (Cognito InitiateAuth,
  RespondToAuthChallenge, SignUp..., GetId, GetCredentialsForIdentity). /moto-api/reset-auth is refused.
- cognito-identity GetId: one stable <region>:<uuid> per (identity pool, token issuer, sub); the
  Logins token must be an unexpired ID token signed by this local cognito-idp, its iss must match
  the Logins key and its pool+client must be one of the pool's CognitoIdentityProviders.
  GetCredentialsForIdentity: Logins must belong to the identity; the pool's mapped role
  (Set/GetIdentityPoolRoles, missing from moto) must trust sts:AssumeRoleWithWebIdentity by
  Federated cognito-identity.amazonaws.com with aud = pool id and amr as AWS sends it; the answer is
  a one-hour STS session "CognitoIdentityCredentials" of that role.

Differences from AWS that remain:
- Plain HTTP on loopback: aws:SecureTransport is "true" for every request, so a bucket policy that
  denies requests without TLS lets them through (on AWS a plain-HTTP request would be denied).
- Presigned URLs and anonymous access (even if a bucket policy allows it) are denied, as with S3
  Block Public Access; aws:SourceIp, VPC keys, tags and most service-specific keys are absent
  from the request context; ${aws:username, 'default'} defaults are not supported.
- Session policies, permission boundaries, SCPs and cross-account access are not evaluated;
  policy Version "2008-10-17" is still given variable substitution.
- Temporary credentials are not refused after their Expiration; tokens stay valid after sign-out.
- Identity pools: RoleMappings are stored but not applied (the default authenticated/unauthenticated
  role is used); unauthenticated identities are not merged into authenticated ones; only this local
  cognito-idp is accepted as a login provider.
"""

import argparse
import json
import os
import re
import signal
import sys
import threading
from urllib.parse import parse_qs, unquote, urlparse

ADMIN_USER = "local-aws-admin"


# ---------------------------------------------------------------- administrator

def create_admin(account_id):
    """Create the administrator IAM user with full rights and return its access key."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account_id]["global"]
    iam.create_user("us-east-1", ADMIN_USER)
    iam.put_user_policy(ADMIN_USER, "AdministratorAccess", json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }))
    return iam.create_access_key(ADMIN_USER)


# ---- IAM enforcement

def enforce_iam():
    """Make moto check the signature and IAM permissions of every request, as AWS does."""
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
    install_policy_evaluation()
    install_cognito_identity()


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


# ---- policy evaluation

_REQUEST = threading.local()  # .context (condition keys, lower-cased -> list of str) and .caller of the request
_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _as_list(value):
    """Policy values as a list of strings (JSON booleans spelled as AWS does)."""
    values = value if isinstance(value, list) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]


def _pattern(value, context, wildcards):
    """Regex for a policy value with ${...} variables substituted literally; None if one is unresolved."""
    def glob(text):
        text = re.escape(text)
        return text.replace(r"\*", ".*").replace(r"\?", ".") if wildcards else text

    parts, pos = [], 0
    for match in _VARIABLE.finditer(value):
        parts.append(glob(value[pos:match.start()]))
        name = match.group(1)
        if name in ("*", "?", "$"):
            parts.append(re.escape(name))
        else:
            resolved = context.get(name.lower())
            if not resolved or len(resolved) != 1:
                return None  # AWS: an element whose variable has no value matches nothing
            parts.append(re.escape(resolved[0]))
        pos = match.end()
    parts.append(glob(value[pos:]))
    return "".join(parts)


def _value_matches(policy_value, value, context, wildcards=True, ignore_case=False):
    """Does one policy value (with variables and, if asked, * and ? wildcards) match value?"""
    pattern = _pattern(policy_value, context, wildcards)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return pattern is not None and re.fullmatch(pattern, value, flags) is not None


def _compare(convert, compare):
    """A condition test that converts both sides (numbers, dates) before comparing."""
    def test(policy_value, value, context):
        try:
            return compare(convert(value), convert(policy_value))
        except ValueError:
            return False
    return test


def _date(text):
    """An AWS date condition value: epoch seconds or ISO 8601."""
    import datetime

    if text.isdigit():
        return datetime.datetime.fromtimestamp(int(text), datetime.timezone.utc)
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def _ip_in(policy_value, value, context):
    """IpAddress: is the address inside the policy's CIDR block?"""
    import ipaddress

    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(policy_value, strict=False)
    except ValueError:
        return False


def _condition_operators():
    """Condition operator -> (test(policy_value, request_value, context), negated)."""
    import operator

    exact = lambda p, v, c: _value_matches(p, v, c, wildcards=False)
    exact_ci = lambda p, v, c: _value_matches(p, v, c, wildcards=False, ignore_case=True)
    like = lambda p, v, c: _value_matches(p, v, c)
    operators = {
        "StringEquals": (exact, False), "StringNotEquals": (exact, True),
        "StringEqualsIgnoreCase": (exact_ci, False), "StringNotEqualsIgnoreCase": (exact_ci, True),
        "StringLike": (like, False), "StringNotLike": (like, True),
        "ArnEquals": (like, False), "ArnLike": (like, False),
        "ArnNotEquals": (like, True), "ArnNotLike": (like, True),
        "Bool": (lambda p, v, c: p.lower() == v.lower(), False),
        "BinaryEquals": (exact, False),
        "IpAddress": (_ip_in, False), "NotIpAddress": (_ip_in, True),
    }
    for name, compare in {"Equals": operator.eq, "LessThan": operator.lt, "LessThanEquals": operator.le,
                          "GreaterThan": operator.gt, "GreaterThanEquals": operator.ge}.items():
        operators["Numeric" + name] = (_compare(float, compare), False)
        operators["Date" + name] = (_compare(_date, compare), False)
    operators["NumericNotEquals"] = (_compare(float, operator.eq), True)
    operators["DateNotEquals"] = (_compare(_date, operator.eq), True)
    return operators


_OPERATORS = _condition_operators()


def _condition_matches(operator_name, key, policy_values, context, effect):
    """Evaluate one condition key as AWS does, including ForAnyValue:/ForAllValues: and ...IfExists."""
    qualifier, _, name = operator_name.rpartition(":")
    if_exists = name.endswith("IfExists") and name != "Null"
    name = name[:-len("IfExists")] if if_exists else name
    values = context.get(key.lower())
    if name == "Null":
        return (not values) == (policy_values[0].lower() == "true")
    if name not in _OPERATORS:
        print(f"local_aws: condition operator {operator_name} is not supported; "
              f"treating it as {'matching (Deny)' if effect == 'Deny' else 'not matching (Allow)'}",
              file=sys.stderr)
        return effect == "Deny"
    test, negated = _OPERATORS[name]
    if not values:
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return if_exists or negated  # AWS: a missing key matches only negated operators and ...IfExists

    def value_ok(value):
        hit = any(test(p, value, context) for p in policy_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues" or (negated and not qualifier):
        return all(value_ok(v) for v in values)
    return any(value_ok(v) for v in values)


def _caller_of(principal):
    """A principal ARN (as moto passes it) or {type: ids} dict -> {type: [ids it answers to]}."""
    if isinstance(principal, dict):
        return {kind: _as_list(ids) for kind, ids in principal.items()}
    account = principal.split(":")[4]
    ids = [principal, f"arn:aws:iam::{account}:root", account]
    role = re.match(r"arn:aws:sts::(\d+):assumed-role/([^/]+)/", principal)
    if role:
        ids.append(f"arn:aws:iam::{role.group(1)}:role/{role.group(2)}")
    return {"AWS": ids}


def _principal_applies(statement, caller):
    """Does the statement's Principal/NotPrincipal cover the caller? Identity policies have neither."""
    for element, wanted in (("Principal", True), ("NotPrincipal", False)):
        if element in statement:
            spec = statement[element]
            hit = spec == "*" or any(
                (kind == "AWS" and "*" in _as_list(ids)) or set(_as_list(ids)) & set(caller.get(kind, ()))
                for kind, ids in (spec.items() if isinstance(spec, dict) else ()))
            return hit == wanted
    return True


def _element_matches(statement, element, value, context, ignore_case=False):
    """Action/NotAction or Resource/NotResource against value; True if the statement has neither."""
    if element in statement:
        return any(_value_matches(p, value, context, ignore_case=ignore_case) for p in _as_list(statement[element]))
    if "Not" + element in statement:
        return not any(_value_matches(p, value, context, ignore_case=ignore_case)
                       for p in _as_list(statement["Not" + element]))
    return element == "Resource"  # trust policies have no Resource; every statement needs an Action


def statement_is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
    """IAMPolicyStatement.is_action_permitted with AWS semantics: wildcards, variables, principals and
    conditions; a statement whose principal or condition does not match is neutral, not a Deny."""
    from moto.iam.access_control import PermissionResult

    statement = self._statement
    context = dict(getattr(_REQUEST, "context", None) or {})
    context.update({k.lower(): _as_list(v) for k, v in (incoming_condition_values or {}).items()})
    caller = _caller_of(principal) if principal else getattr(_REQUEST, "caller", None)
    if not _element_matches(statement, "Action", action, context, ignore_case=True):
        return PermissionResult.NEUTRAL
    if caller is not None and not _principal_applies(statement, caller):
        return PermissionResult.NEUTRAL
    if not _element_matches(statement, "Resource", resource, context):
        return PermissionResult.NEUTRAL
    effect = statement.get("Effect")
    for operator_name, keys in (statement.get("Condition") or {}).items():
        for key, policy_values in keys.items():
            if not _condition_matches(operator_name, key, _as_list(policy_values), context, effect):
                return PermissionResult.NEUTRAL
    return PermissionResult.PERMITTED if effect == "Allow" else PermissionResult.DENIED


def _session_of(access_key):
    """The STS session behind an AssumedRoleAccessKey, or None for an IAM user's key."""
    from moto.iam.access_control import AssumedRoleAccessKey
    from moto.sts.models import sts_backends

    if not isinstance(access_key, AssumedRoleAccessKey):
        return None
    return sts_backends[access_key.account_id][access_key.partition].get_assumed_role_from_access_key(
        access_key._access_key_id)


def _request_context(request, session):
    """Condition keys of a signed request (lower-cased names -> list of values)."""
    from moto.core.utils import utcnow

    now = utcnow()
    key = request._access_key
    context = {
        # Served on loopback only: treated as TLS so that the usual "deny without TLS" bucket policy passes.
        "aws:securetransport": ["true"],
        "aws:currenttime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:epochtime": [str(int(now.timestamp()))],
        "aws:requestedregion": [request._region],
        "aws:principalaccount": [request.account_id],
    }
    if session is None:
        context.update({"aws:principalarn": [key.arn], "aws:principaltype": ["User"],
                        "aws:username": [key._owner_user_name]})
    else:
        context.update({"aws:principalarn": [session.role_arn], "aws:principaltype": ["AssumedRole"],
                        "aws:userid": [session.user_id]})
        context.update(getattr(session, "local_aws_context", {}))
    if request._service == "s3" and request._action in ("s3:ListBucket", "s3:ListBucketVersions",
                                                        "s3:ListBucketMultipartUploads"):
        query = parse_qs(urlparse(request._path).query, keep_blank_values=True)
        for name in ("prefix", "delimiter", "max-keys"):
            if name in query:
                context["s3:" + name] = query[name]
    return context


def _bucket_policy(request, resource):
    """The bucket policy that applies to an S3 resource ARN, if any."""
    from moto.s3.models import s3_backends

    if request._service != "s3" or not resource.startswith("arn:aws:s3:::"):
        return None
    bucket = s3_backends[request.account_id]["aws"].buckets.get(resource[len("arn:aws:s3:::"):].split("/")[0])
    return bucket.policy.decode() if bucket is not None and bucket.policy else None


def _permitted(request, action, resource):
    """AWS's decision for one action: an explicit Deny anywhere wins, else an Allow in the identity's
    policies or the bucket policy (same account), else denied."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    policies = list(request._access_key.collect_policies())
    bucket_policy = _bucket_policy(request, resource)
    if bucket_policy:
        policies.append(bucket_policy)
    results = [IAMPolicy(policy).is_action_permitted(action, resource) for policy in policies]
    if PermissionResult.DENIED in results:
        return False
    if request._is_assuming_role_operation(resource):
        return PermissionResult.PERMITTED in results and request._check_role_trust_relationship(resource)
    return PermissionResult.PERMITTED in results


def check_action_permitted(self, resource):
    """IAMRequestBase.check_action_permitted with the request's context, the bucket policy and the
    extra permissions AWS requires (HeadBucket is s3:ListBucket; a copy needs s3:GetObject on its source)."""
    if self._action == "sts:GetCallerIdentity":  # AWS allows it even under an explicit Deny
        return
    session = _session_of(self._access_key)
    if self._action == "s3:HeadBucket":
        self._action = "s3:ListBucket"
    checks = [(self._action, resource)]
    copy_source = self._headers.get("x-amz-copy-source")
    if self._service == "s3" and copy_source:
        source = unquote(copy_source.split("?")[0]).lstrip("/")
        checks.append(("s3:GetObject", f"arn:aws:s3:::{source}"))
    _REQUEST.context = _request_context(self, session)
    _REQUEST.caller = _caller_of(session.arn if session else self._access_key.arn)
    try:
        for action, checked_resource in checks:
            if not _permitted(self, action, checked_resource):
                self._action = action
                self._raise_access_denied()
    finally:
        _REQUEST.context = _REQUEST.caller = None


def install_policy_evaluation():
    """Patch moto's IAM evaluator and S3's policy checks to evaluate policies as AWS does."""
    from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase, PermissionResult
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response

    IAMPolicyStatement.is_action_permitted = statement_is_action_permitted
    IAMRequestBase.check_action_permitted = check_action_permitted
    delete_keys = S3Response._bucket_response_delete_keys

    def get_permission(bucket, action, resource):
        """moto's context-free bucket policy pre-check; check_action_permitted evaluates the bucket
        policy with the request's context instead. During DeleteObjects, the full check of each key."""
        response = getattr(_REQUEST, "deleting", None)
        if response is None:
            return PermissionResult.NEUTRAL
        response.data["Action"] = "DeleteObject"
        try:
            response._authenticate_and_authorize_s3_action(bucket_name=bucket.name, key_name=resource.split("/", 1)[1])
        except S3ClientError:
            return PermissionResult.DENIED
        return PermissionResult.NEUTRAL

    def bucket_response_delete_keys(self, bucket_name, authenticated=True):
        """DeleteObjects: AWS checks s3:DeleteObject on each key, not on the bucket."""
        _REQUEST.deleting = self
        try:
            return delete_keys(self, bucket_name, authenticated=True)
        finally:
            _REQUEST.deleting = None

    FakeBucket.get_permission = get_permission
    S3Response._bucket_response_delete_keys = bucket_response_delete_keys


# ---- cognito identity

COGNITO_SESSION_NAME = "CognitoIdentityCredentials"
COGNITO_SESSION_SECONDS = 3600


def _cognito_error(error_type, message):
    """A cognito-identity error as AWS returns it (JSON, HTTP 400)."""
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(error_type, message)


def _not_authorized(message):
    """NotAuthorizedException with AWS's wording."""
    return _cognito_error("NotAuthorizedException", message)


def _invalid_pool_configuration():
    """What AWS says when the pool has no usable role for the identity."""
    return _cognito_error("InvalidIdentityPoolConfigurationException",
                          "Invalid identity pool configuration. Check assigned IAM roles for this pool.")


def _identity_backend(account_id, region_prefixed_id):
    """The cognito-identity backend of the region an identity (pool) id starts with, or None."""
    from moto.cognitoidentity.models import cognitoidentity_backends

    region = region_prefixed_id.split(":")[0]
    return cognitoidentity_backends[account_id][region] if region in cognitoidentity_backends[account_id].regions \
        else None


def _identity_pool(account_id, pool_id):
    """The identity pool, or AWS's ResourceNotFoundException."""
    backend = _identity_backend(account_id, pool_id or "")
    pool = backend.identity_pools.get(pool_id) if backend else None
    if pool is None:
        raise _cognito_error("ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.")
    return pool


def _identities(backend):
    """Per-backend identity records: identity id -> {"pool", "logins": {provider: sub}}, and the reverse."""
    if not hasattr(backend, "local_aws_identities"):
        backend.local_aws_identities = {"by_id": {}, "by_login": {}}
    return backend.local_aws_identities


def _verified_login(account_id, pool, provider, token):
    """Check a Logins entry as AWS does and return the token's sub; NotAuthorizedException otherwise."""
    import base64
    import time

    from joserfc import jwt
    from joserfc.errors import JoseError
    from moto.cognitoidp.models import cognitoidp_backends

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        issuer = claims["iss"]
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        raise _not_authorized("Invalid login token. Not a valid OpenId Connect identity token.")
    match = re.fullmatch(r"https://cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([\w-]+)", str(issuer))
    backends = cognitoidp_backends[account_id]
    user_pool = match and match.group(1) in backends.regions and \
        backends[match.group(1)].user_pools.get(match.group(2))
    try:
        if not user_pool:
            raise JoseError("unknown issuer")
        claims = jwt.decode(token, user_pool.json_web_key, algorithms=["RS256"]).claims
    except JoseError:
        raise _not_authorized("Invalid login token. Couldn't verify signed token.")
    now = int(time.time())
    if now >= int(claims.get("exp", 0)):
        raise _not_authorized(f"Invalid login token. Token expired: {now} >= {claims.get('exp')}")
    if "aud" not in claims:
        raise _not_authorized("Invalid login token. Missing a required claim: aud")
    if issuer[len("https://"):] != provider:
        raise _not_authorized("Invalid login token. Issuer doesn't match providerName")
    if not any(p.get("ProviderName") == provider and p.get("ClientId") == claims["aud"]
               for p in pool.cognito_identity_providers or []):
        raise _not_authorized("Invalid login token. Token is not from a supported provider of this identity pool.")
    return claims["sub"]


def cognito_get_id(self):
    """GetId: one stable identity per (identity pool, token issuer, sub), format <region>:<uuid>."""
    from moto.cognitoidentity.utils import get_random_identity_id

    pool_id = self._get_param("IdentityPoolId")
    pool = _identity_pool(self.current_account, pool_id)
    logins = {provider: _verified_login(self.current_account, pool, provider, token)
              for provider, token in (self._get_param("Logins") or {}).items()}
    if not logins and not pool.allow_unauthenticated_identities:
        raise _not_authorized("Unauthenticated access is not supported for this identity pool.")
    backend = _identity_backend(self.current_account, pool_id)
    records = _identities(backend)
    known = {records["by_login"].get((pool_id, p, sub)) for p, sub in logins.items()} - {None}
    if len(known) > 1:
        raise _not_authorized("Logins don't match. Please include at least one valid login for this identity "
                              "or identity pool.")
    identity_id = known.pop() if known else get_random_identity_id(pool_id.split(":")[0])
    record = records["by_id"].setdefault(identity_id, {"pool": pool_id, "logins": {}})
    if not known:
        backend.pools_identities[pool_id]["Identities"].append({"IdentityId": identity_id})
    for provider, sub in logins.items():
        record["logins"][provider] = sub
        records["by_login"][(pool_id, provider, sub)] = identity_id
    return json.dumps({"IdentityId": identity_id})


def cognito_get_credentials_for_identity(self):
    """GetCredentialsForIdentity: an STS session of the pool's mapped role, granted only if the Logins
    belong to this identity and the role's trust policy allows this pool's identity to assume it."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    identity_id = self._get_param("IdentityId") or ""
    backend = _identity_backend(self.current_account, identity_id)
    record = backend and _identities(backend)["by_id"].get(identity_id)
    if not record:
        raise _cognito_error("ResourceNotFoundException", f"Identity '{identity_id}' not found.")
    pool_id = record["pool"]
    pool = _identity_pool(self.current_account, pool_id)
    logins = {provider: _verified_login(self.current_account, pool, provider, token)
              for provider, token in (self._get_param("Logins") or {}).items()}
    if any(record["logins"].get(provider) != sub for provider, sub in logins.items()) \
            or bool(logins) != bool(record["logins"]):
        raise _not_authorized("Logins don't match. Please include at least one valid login for this identity "
                              "or identity pool.")
    if logins:
        kind = "authenticated"
        amr = ["authenticated"] + [x for p, sub in logins.items() for x in (p, f"{p}:CognitoSignIn:{sub}")]
    else:
        kind, amr = "unauthenticated", ["unauthenticated"]
    role_arn = getattr(pool, "local_aws_roles", {}).get("Roles", {}).get(kind)
    iam = iam_backends[self.current_account]["aws"]
    try:
        role = iam.get_role_by_arn(role_arn)
    except Exception:  # no role mapped, or the mapped role does not exist
        raise _invalid_pool_configuration()
    context = {"cognito-identity.amazonaws.com:aud": [pool_id], "cognito-identity.amazonaws.com:amr": amr,
               "cognito-identity.amazonaws.com:sub": [identity_id]}
    trust = IAMPolicy(role.assume_role_policy_document).is_action_permitted(
        "sts:AssumeRoleWithWebIdentity", role_arn, {"Federated": "cognito-identity.amazonaws.com"}, context)
    if trust != PermissionResult.PERMITTED:
        raise _invalid_pool_configuration()
    session = sts_backends[self.current_account]["aws"].assume_role_with_web_identity(
        region_name=pool_id.split(":")[0], role_session_name=COGNITO_SESSION_NAME, role_arn=role_arn,
        policy=None, duration=COGNITO_SESSION_SECONDS, external_id=None)
    # Read back by the policy evaluator: ${cognito-identity.amazonaws.com:sub} etc. in the role's policies.
    session.local_aws_context = context
    return json.dumps({"IdentityId": identity_id, "Credentials": {
        "AccessKeyId": session.access_key_id, "SecretKey": session.secret_access_key,
        "SessionToken": session.session_token, "Expiration": session.expiration.timestamp()}})


def cognito_set_identity_pool_roles(self):
    """SetIdentityPoolRoles, which moto lacks."""
    pool = _identity_pool(self.current_account, self._get_param("IdentityPoolId"))
    pool.local_aws_roles = {"Roles": self._get_param("Roles") or {},
                            "RoleMappings": self._get_param("RoleMappings") or {}}
    return ""


def cognito_get_identity_pool_roles(self):
    """GetIdentityPoolRoles, which moto lacks."""
    pool_id = self._get_param("IdentityPoolId")
    roles = getattr(_identity_pool(self.current_account, pool_id), "local_aws_roles", {})
    return json.dumps({"IdentityPoolId": pool_id, **{k: v for k, v in roles.items() if v}})


def install_cognito_identity():
    """Replace moto's GetId/GetCredentialsForIdentity and add the role operations it lacks; moto's
    dispatcher calls the CognitoIdentityResponse method named after the X-Amz-Target operation."""
    from moto.cognitoidentity.responses import CognitoIdentityResponse

    CognitoIdentityResponse.get_id = cognito_get_id
    CognitoIdentityResponse.get_credentials_for_identity = cognito_get_credentials_for_identity
    CognitoIdentityResponse.set_identity_pool_roles = cognito_set_identity_pool_roles
    CognitoIdentityResponse.get_identity_pool_roles = cognito_get_identity_pool_roles


# ---------------------------------------------------------------- server

def serve(port):
    """Start moto on 127.0.0.1:port, print the interface line and block until stopped."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    key = create_admin(DEFAULT_ACCOUNT_ID)
    enforce_iam()
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", port, app, threaded=True)
    host, bound_port = server.server_address[:2]
    print(json.dumps({
        "endpoint_url": f"http://{host}:{bound_port}",
        "aws_access_key_id": key.access_key_id,
        "aws_secret_access_key": key.secret_access_key,
    }), flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()


def main(argv=None):
    parser = argparse.ArgumentParser(description="A local AWS on moto, on 127.0.0.1 only.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    args = parser.parse_args(argv)
    serve(args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
