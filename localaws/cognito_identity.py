"""local_aws's cognito-identity: GetId, GetCredentialsForIdentity and the pool's roles."""

import json
import re

import localaws.clock

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
    now = int(localaws.clock.now())  # tokens expire on local_aws's clock (localaws/cognito_tokens.py)
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
    import datetime

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
        "SessionToken": session.session_token,
        # moto's expiration is naive UTC (on localaws.clock, see localaws.credentials)
        "Expiration": session.expiration.replace(tzinfo=datetime.timezone.utc).timestamp()}})


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


def install():
    """Replace moto's GetId/GetCredentialsForIdentity and add the role operations it lacks; moto's
    dispatcher calls the CognitoIdentityResponse method named after the X-Amz-Target operation."""
    from moto.cognitoidentity.responses import CognitoIdentityResponse

    CognitoIdentityResponse.get_id = cognito_get_id
    CognitoIdentityResponse.get_credentials_for_identity = cognito_get_credentials_for_identity
    CognitoIdentityResponse.set_identity_pool_roles = cognito_set_identity_pool_roles
    CognitoIdentityResponse.get_identity_pool_roles = cognito_get_identity_pool_roles
