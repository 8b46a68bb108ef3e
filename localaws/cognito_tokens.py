"""localaws.cognito_tokens: Cognito tokens that expire, rotate, die on sign-out and carry each pool's own keys.

install() patches moto 5.2.1 in-process, over the sign-in layers (localaws.cognito_auth, localaws.cognito_signin)
and under the device layer (localaws.cognito_devices); the order is localaws.server.INSTALLERS.

What it adds, as AWS does:
- Keys: each user pool signs with its own RSA-2048 key pairs, made when the pool is created: one for ID
  tokens (kid "<pool id>-id"), one for access tokens (kid "<pool id>-access"). GET
  /<pool id>/.well-known/jwks.json serves the pool's two public keys. moto's packaged test key signs
  nothing any more, so GetId refuses a token signed with it.
- Time: ID and access tokens carry iat/auth_time/exp from localaws.clock and the app client's
  IdTokenValidity/AccessTokenValidity (TokenValidityUnits; default 1 hour); refresh tokens expire after
  RefreshTokenValidity (default 30 days). auth_time is the sign-in's: tokens from REFRESH_TOKEN_AUTH and
  GetTokensFromRefreshToken (rotated or not) keep it, as OpenID Connect Core 12.2 asks. Every cognito-idp
  operation that takes an AccessToken refuses an expired one (NotAuthorizedException "Access Token has
  expired") or a revoked one ("Access Token has been revoked"); an expired refresh token gets "Refresh
  Token has expired".
- Refresh tokens answer only the app client that issued them; one issued to a tracked device (see
  localaws.cognito_devices) only with that device's DEVICE_KEY, and only while the device is confirmed and
  not forgotten; otherwise "Invalid Refresh Token".
- Rotation: an app client's RefreshTokenRotation {Feature, RetryGracePeriodSeconds} (CreateUserPoolClient,
  UpdateUserPoolClient). GetTokensFromRefreshToken (unsigned, ClientSecret and DeviceKey checked) returns
  new ID and access tokens, and on a rotating client a new refresh token; the one it replaces is refused
  once RetryGracePeriodSeconds (0-60, default 0) have passed on the clock. A rotating client refuses
  REFRESH_TOKEN_AUTH, and refuses to be created or updated with ALLOW_REFRESH_TOKEN_AUTH.
- Revocation: GlobalSignOut and AdminUserGlobalSignOut end every refresh and access token of the user
  (moto's own sign-out); RevokeToken ends one refresh token, the tokens it was rotated into, and the
  access tokens issued from them. Credentials already issued by cognito-identity live until they expire.
- Groups: ID tokens (of every flow: InitiateAuth, refresh, managed login) carry, besides moto's
  cognito:groups, cognito:roles (the RoleArn of each of the user's groups, lowest Precedence first) and
  cognito:preferred_role: the role of the group with the lowest Precedence (null counts last); groups tied
  there with different roles leave it unset, as CreateGroup documents. localaws.cognito_identity maps them.

Differences from AWS that remain:
- Refresh tokens are opaque UUIDs, not AWS's encrypted JWTs. A rotated refresh token gets a fresh
  RefreshTokenValidity from the moment of rotation.
- The message refusing REFRESH_TOKEN_AUTH on a rotating client, and RevokeToken's and
  GetTokensFromRefreshToken's messages for a wrong client secret or token, are best guesses.
- ID tokens are not revoked by sign-out for cognito-identity (GetId/GetCredentialsForIdentity check only
  their signature, issuer, audience and expiry), as a JWT library would; AWS documents revocation for
  Cognito's own APIs only.
- UpdateUserPoolClient merges into the stored settings (moto) where AWS resets the ones left out.
"""

import json
import threading

from localaws import clock
from localaws.cognito_clients import find_pool_client
from localaws.cognito_records import confirmed, records

UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
# (setting, unit key in TokenValidityUnits, default value, default unit) per token use.
VALIDITY = {
    "id": ("IdTokenValidity", "IdToken", 1, "hours"),
    "access": ("AccessTokenValidity", "AccessToken", 1, "hours"),
    "refresh": ("RefreshTokenValidity", "RefreshToken", 30, "days"),
}
INVALID_REFRESH = "Invalid Refresh Token."  # as SDK bug reports quote AWS (aws-sdk-js-v3 7162, aws-sdk-java 2253)
ROTATION_REFUSAL = "Refresh token rotation is enabled for this app client; use GetTokensFromRefreshToken"
PUBLIC = ("GetTokensFromRefreshToken", "RevokeToken", "GetUser")
lock = threading.RLock()


# ---- keys

def generate_keys(pool):
    """Give a new pool its own ID-token and access-token key pairs; json_web_key stays the ID-token key."""
    from joserfc.jwk import RSAKey

    pool.local_aws_keys = {use: RSAKey.generate_key(2048, parameters={"kid": f"{pool.id}-{use}", "use": "sig",
                                                                        "alg": "RS256"}, private=True)
                           for use in ("id", "access")}
    # GetId (localaws.cognito_identity._verified_login) verifies Logins tokens with json_web_key: ID tokens only.
    pool.json_web_key = pool.local_aws_keys["id"]


def public_jwks(pool):
    """The pool's JWKS document, public halves only."""
    return {"keys": [key.as_dict(private=False) for key in pool.local_aws_keys.values()]}


def pool_by_id(user_pool_id):
    """The user pool of any account and region with this id, or None."""
    from moto.cognitoidp.models import cognitoidp_backends

    region = user_pool_id.split("_", 1)[0]
    for backends in cognitoidp_backends.values():
        if region in backends.regions and user_pool_id in backends[region].user_pools:
            return backends[region].user_pools[user_pool_id]
    return None


def serve_jwks(request, full_url, headers):
    """GET /<pool id>/.well-known/jwks.json: the pool's own public keys, or 404 as AWS answers."""
    from urllib.parse import urlparse

    pool = pool_by_id(urlparse(full_url).path.strip("/").split("/")[0])
    if pool is None:
        return 404, {"Content-Type": "application/json"}, json.dumps({"message": "User pool not found"})
    return 200, {"Content-Type": "application/json"}, json.dumps(public_jwks(pool))


# ---- time

def auth_times(pool):
    """origin_jti of each refresh token -> when the user signed in for it (epoch seconds on the clock)."""
    if not hasattr(pool, "local_aws_auth_times"):
        pool.local_aws_auth_times = {}
    return pool.local_aws_auth_times


def lifetime(client, use):
    """Seconds a token of this use (id, access, refresh) lives, from the app client's settings."""
    setting, unit_key, default, default_unit = VALIDITY[use]
    config = client.extended_config if client is not None else {}
    value = config.get(setting) or default
    unit = (config.get("TokenValidityUnits") or {}).get(unit_key) or default_unit
    return int(value) * UNIT_SECONDS.get(unit, 3600)


def group_roles(user):
    """cognito:roles and cognito:preferred_role of a user's groups ({} without a group role)."""
    ranked = sorted((g for g in user.groups if g.role_arn),
                    key=lambda g: (g.precedence is None, g.precedence or 0))
    if not ranked:
        return {}
    claims = {"cognito:roles": list(dict.fromkeys(g.role_arn for g in ranked))}
    top = {g.role_arn for g in ranked if g.precedence == ranked[0].precedence}
    if len(top) == 1:
        claims["cognito:preferred_role"] = top.pop()
    return claims


def create_jwt(self, client_id, username, token_use, expires_in=60 * 60, extra_data=None):
    """moto's create_jwt with iat/exp from local_aws's clock, the client's validity and the pool's own key."""
    from joserfc import jwt
    from moto.moto_api._internal import mock_random as random

    now = int(clock.now())
    expires_in = lifetime(self.clients.get(client_id), token_use)
    user = self._get_user(username)
    # A refreshed token keeps the sign-in's auth_time (OpenID Connect Core 12.2); origin_jti names the sign-in.
    auth_time = auth_times(self).get((extra_data or {}).get("origin_jti"), now)
    payload = {
        "iss": f"https://cognito-idp.{self.region}.amazonaws.com/{self.id}",
        "sub": user.id,
        "client_id" if token_use == "access" else "aud": client_id,
        "token_use": token_use, "iat": now, "auth_time": auth_time, "exp": now + expires_in,
        "jti": str(random.uuid4()),
    }
    username_is_email = "email" in self.extended_config.get("UsernameAttributes", [])
    if token_use == "access":
        payload["username"] = payload["sub"] if username_is_email else username
    else:
        payload["cognito:username"] = payload["sub"] if username_is_email else username
        if username_is_email:
            payload["email"] = username
        payload.update(group_roles(user))
    payload.update(extra_data or {})
    key = self.local_aws_keys[token_use]
    return jwt.encode({"kid": key.kid, "alg": "RS256"}, payload, key), expires_in


def claims_of(token):
    """A JWT's claims, unverified, or {}."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (AttributeError, IndexError, TypeError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def pool_of_token(token):
    """The user pool whose iss a token names, or None."""
    import re

    match = re.fullmatch(r"https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/([\w-]+)", str(claims_of(token).get("iss")))
    return match and pool_by_id(match.group(1))


def access_token_refusal(token):
    """Why Cognito refuses an access token this pool signed (expired, revoked), or None to let moto judge it."""
    from joserfc import jwt
    from joserfc.errors import JoseError

    pool = pool_of_token(token)
    if pool is None or not hasattr(pool, "local_aws_keys"):
        return None
    try:
        claims = jwt.decode(token, pool.local_aws_keys["access"], algorithms=["RS256"]).claims
    except (JoseError, ValueError):
        return None  # not one of this pool's access tokens: moto answers "Invalid token"
    if claims.get("token_use") != "access":
        return None
    if clock.now() >= int(claims.get("exp", 0)):
        return "Access Token has expired"
    if token not in pool.access_tokens:
        return "Access Token has been revoked"
    return None


def user_of_access_token(token):
    """(pool, moto user) of a valid access token; NotAuthorizedException otherwise."""
    from moto.cognitoidp.exceptions import NotAuthorizedError

    refusal = access_token_refusal(token)
    pool = pool_of_token(token)
    if refusal or pool is None or token not in pool.access_tokens:
        raise NotAuthorizedError(refusal or "Invalid Access Token")
    return pool, pool._get_user(pool.access_tokens[token][1])


# ---- refresh tokens


def rotation(client):
    """(rotating?, grace seconds) of an app client."""
    config = client.extended_config.get("RefreshTokenRotation") or {}
    return config.get("Feature") == "ENABLED", int(config.get("RetryGracePeriodSeconds") or 0)


def check_refresh(pool, client, token, device_key):
    """The user name a refresh token was issued to, if it may renew now for this client and device."""
    from moto.cognitoidp.exceptions import NotAuthorizedError

    stored, record = pool.refresh_tokens.get(token), records(pool).get(token)
    if not token or token not in pool.refresh_tokens or record is None:
        raise NotAuthorizedError(INVALID_REFRESH)
    if stored is None:
        raise NotAuthorizedError("Refresh Token has been revoked")
    now = clock.now()
    if stored[0] != client.id:
        raise NotAuthorizedError(INVALID_REFRESH)
    if record["retired_at"] is not None and now > record["retired_at"] + rotation(client)[1]:
        raise NotAuthorizedError(INVALID_REFRESH)
    if now >= record["expires"]:
        raise NotAuthorizedError("Refresh Token has expired")
    if record["device_key"] and (device_key != record["device_key"]
                                 or not confirmed(pool, device_key, stored[1])):
        raise NotAuthorizedError(INVALID_REFRESH)
    return stored[1]


def revoke_family(pool, token):
    """End a refresh token, the tokens it was rotated into or from, and the access tokens issued from them."""
    family = records(pool)[token]["family"]
    origins = set()
    for other, record in records(pool).items():
        if record["family"] == family and pool.refresh_tokens.get(other):
            origins.add(pool.refresh_tokens[other][2])
            pool.refresh_tokens[other] = None
    for access in [t for t in pool.access_tokens if claims_of(t).get("origin_jti") in origins]:
        del pool.access_tokens[access]


def find_client(account_id, client_id):
    """(backend, pool, app client) of a client id in any region of the account; ResourceNotFound otherwise."""
    from moto.cognitoidp.exceptions import ResourceNotFoundError
    from moto.cognitoidp.models import cognitoidp_backends

    for region, backend in cognitoidp_backends[account_id].items():
        for pool in backend.user_pools.values():
            if client_id in pool.clients:
                return backend, pool, pool.clients[client_id]
    raise ResourceNotFoundError(client_id)


def check_client_secret(client, sent):
    """GetTokensFromRefreshToken and RevokeToken send the client secret itself."""
    import hmac

    from moto.cognitoidp.exceptions import NotAuthorizedError

    if not client.generate_secret:
        return
    if not sent:
        raise NotAuthorizedError(f"Client {client.id} is configured with secret but ClientSecret was not received")
    if not hmac.compare_digest(sent, client.secret):
        raise NotAuthorizedError(f"Unable to verify secret hash for client {client.id}")


def check_rotation_flows(config):
    """A rotating client may not also allow REFRESH_TOKEN_AUTH, as AWS refuses the combination."""
    from moto.cognitoidp.exceptions import InvalidParameterException

    if (config.get("RefreshTokenRotation") or {}).get("Feature") == "ENABLED" \
            and "ALLOW_REFRESH_TOKEN_AUTH" in (config.get("ExplicitAuthFlows") or []):
        raise InvalidParameterException("ALLOW_REFRESH_TOKEN_AUTH can't be enabled when refresh token rotation "
                                        "is enabled; remove it from ExplicitAuthFlows")


def check_session_validity(config):
    """AuthSessionValidity is 3 to 15 minutes, as AWS's API model constrains it."""
    from moto.cognitoidp.exceptions import InvalidParameterException

    value = config.get("AuthSessionValidity")
    if value is not None and not 3 <= int(value) <= 15:
        bound = "greater than or equal to 3" if int(value) < 3 else "less than or equal to 15"
        raise InvalidParameterException(f"1 validation error detected: Value '{value}' at 'authSessionValidity' "
                                        f"failed to satisfy constraint: Member must have value {bound}")


# ---- operations moto lacks (methods of CognitoIdpResponse)

def get_tokens_from_refresh_token(self):
    """GetTokensFromRefreshToken: new ID and access tokens, and on a rotating client a new refresh token."""
    from moto.core.responses import ActionResult

    params = json.loads(self.body or "{}")
    _, pool, client = find_client(self.current_account, params.get("ClientId"))
    check_client_secret(client, params.get("ClientSecret"))
    return ActionResult({"AuthenticationResult": renew(pool, client, params.get("RefreshToken"),
                                                       params.get("DeviceKey"))})


def renew(pool, client, token, device_key):
    """New ID and access tokens for a refresh token, and on a rotating client a new refresh token.

    GetTokensFromRefreshToken and the managed login's /oauth2/token (localaws.managed_login) both renew here.
    """
    with lock:
        username = check_refresh(pool, client, token, device_key)
        access, id_token, expires_in = pool.create_tokens_from_refresh_token(token)
        result = {"AccessToken": access, "IdToken": id_token, "ExpiresIn": expires_in, "TokenType": "Bearer"}
        rotating, _ = rotation(client)
        if rotating:
            old = records(pool)[token]
            new, new_origin = pool.create_refresh_token(client.id, username)
            records(pool)[new].update(device_key=old["device_key"], family=old["family"])
            auth_times(pool)[new_origin] = auth_times(pool)[pool.refresh_tokens[token][2]]  # same sign-in
            if old["retired_at"] is None:
                old["retired_at"] = clock.now()
            result["RefreshToken"] = new
    return result


def revoke_token(self):
    """RevokeToken: end a refresh token and what was issued from it; revoking twice is not an error."""
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import EmptyResult

    params = json.loads(self.body or "{}")
    _, pool, client = find_client(self.current_account, params.get("ClientId"))
    if not client.extended_config.get("EnableTokenRevocation", True):
        raise JsonRESTError("UnsupportedOperationException", "Token revocation is not enabled for this app client")
    check_client_secret(client, params.get("ClientSecret"))
    token = params.get("Token")
    with lock:
        if token not in records(pool):
            raise JsonRESTError("UnsupportedTokenTypeException", "Unsupported token type: only refresh tokens "
                                                                 "can be revoked")
        stored = pool.refresh_tokens.get(token)
        if stored is not None and stored[0] != client.id:
            raise JsonRESTError("UnauthorizedException", "Token was not issued to this client")
        revoke_family(pool, token)
    return EmptyResult()


# ---- install

def install():
    """Patch moto: pool keys, clock-based expiry, refresh checks, rotation, revocation."""
    import types

    from moto.cognitoidp import models, urls
    from moto.cognitoidp.exceptions import InvalidParameterException
    from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.authorization import ActionAuthenticatorMixin

    # moto's pool __init__ imports its one built-in key from a JWK without primes, recovering them in pure Python
    # (about 0.15 s of CPU per pool), only for generate_keys to replace it: that import is done once.
    moto_jwks, rsa_key, imported = models.load_resource(models.__name__, "resources/jwks-private.json"), \
        models.jwk.RSAKey, {}

    def import_key_once(data, *args):
        """moto's jwk.RSAKey.import_key, which imports moto's built-in key only the first time."""
        if data != moto_jwks or args:
            return rsa_key.import_key(data, *args)
        with lock:
            if "moto" not in imported:
                imported["moto"] = rsa_key.import_key(data)
        return imported["moto"]

    models.jwk = types.SimpleNamespace(RSAKey=types.SimpleNamespace(import_key=import_key_once))
    pool_init = CognitoIdpUserPool.__init__
    create_refresh_token = CognitoIdpUserPool.create_refresh_token
    initiate_auth = CognitoIdpBackend.initiate_auth
    create_client, update_client = CognitoIdpBackend.create_user_pool_client, CognitoIdpBackend.update_user_pool_client
    call_action = CognitoIdpResponse.call_action

    def keyed_pool_init(self, *args, **kwargs):
        pool_init(self, *args, **kwargs)
        generate_keys(self)

    def recorded_refresh_token(self, client_id, username):
        token, origin = create_refresh_token(self, client_id, username)
        with lock:
            records(self)[token] = {"expires": clock.now() + lifetime(self.clients.get(client_id), "refresh"),
                                    "device_key": None, "family": origin, "retired_at": None}
            auth_times(self)[origin] = int(clock.now())  # a new refresh token is a new sign-in
        return token, origin

    def checked_initiate_auth(self, client_id, auth_flow, auth_parameters):
        pool, client = find_pool_client(self, client_id)
        params = dict(auth_parameters or {})
        if pool is not None and auth_flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            if rotation(client)[0]:
                raise InvalidParameterException(ROTATION_REFUSAL)
            with lock:
                check_refresh(pool, client, params.get("REFRESH_TOKEN"), params.get("DEVICE_KEY"))
        return initiate_auth(self, client_id, auth_flow, auth_parameters)

    def checked_create_client(self, user_pool_id, generate_secret, extended_config):
        check_rotation_flows(extended_config or {})
        check_session_validity(extended_config or {})
        return create_client(self, user_pool_id, generate_secret, extended_config)

    def checked_update_client(self, user_pool_id, client_id, extended_config):
        current = self.describe_user_pool_client(user_pool_id, client_id).extended_config
        check_rotation_flows({**current, **(extended_config or {})})
        check_session_validity(extended_config or {})
        return update_client(self, user_pool_id, client_id, extended_config)

    def checked_call_action(self):
        """Refuse an expired or revoked access token before any operation that takes one."""
        try:
            token = json.loads(self.body or "{}").get("AccessToken")
        except (ValueError, AttributeError):
            token = None
        refusal = token and access_token_refusal(token)
        if refusal:
            return 400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(
                {"__type": "NotAuthorizedException", "message": refusal})
        return call_action(self)

    CognitoIdpUserPool.__init__ = keyed_pool_init
    CognitoIdpUserPool.create_jwt = create_jwt
    CognitoIdpUserPool.create_refresh_token = recorded_refresh_token
    CognitoIdpBackend.initiate_auth = checked_initiate_auth
    CognitoIdpBackend.create_user_pool_client = checked_create_client
    CognitoIdpBackend.update_user_pool_client = checked_update_client
    CognitoIdpResponse.call_action = checked_call_action
    CognitoIdpResponse.get_tokens_from_refresh_token = get_tokens_from_refresh_token
    CognitoIdpResponse.revoke_token = revoke_token
    urls.url_paths["{0}/(?P<user_pool_id>[^/]+)/.well-known/jwks.json$"] = serve_jwks
    ActionAuthenticatorMixin.PUBLIC_OPERATIONS += [f"AWSCognitoIdentityProviderService.{op}" for op in PUBLIC]
