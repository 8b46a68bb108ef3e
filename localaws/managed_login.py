"""localaws.managed_login: Cognito's managed login (the hosted UI) at a user pool domain, and OIDC federation.

moto stores user pool domains (CreateUserPoolDomain) and identity providers (CreateIdentityProvider) but
serves none of their endpoints. AWS serves a domain PREFIX at https://PREFIX.auth.<region>.amazoncognito.com;
a loopback server can't answer other host names, so local_aws serves it under a path of its own endpoint:

    base URL = <endpoint_url>/_local_aws/domain/<PREFIX>     e.g. http://127.0.0.1:4566/_local_aws/domain/myapp

and every path AWS serves below its base URL is served below this one: /oauth2/authorize, /oauth2/token,
/oauth2/revoke, /oauth2/userInfo, /logout, /oauth2/idpresponse (plus /login, where the sign-in forms post).
These requests are logged and can be failed by /_local_aws/faults as service "cognito-idp", operations
"ManagedLogin<Name>" (ManagedLoginAuthorize, ManagedLoginToken, ...; see OPERATIONS).
GET <endpoint_url>/<pool id>/.well-known/openid-configuration is the pool's OIDC discovery document.

What it does, as AWS does:
- /oauth2/authorize checks client_id, redirect_uri (exactly one of the client's CallbackURLs), the client's
  AllowedOAuthFlowsUserPoolClient and AllowedOAuthFlows (code), response_type=code, scope (within
  AllowedOAuthScopes; none asked: all of them), PKCE (code_challenge_method S256 only). A bad client_id or
  redirect_uri gets an error page (400); every later error a 302 to the redirect URI with error= and
  error_description= (and state). Then a sign-in page (a form with `username` and `password`, and a button
  per external provider of the client's SupportedIdentityProviders), or with identity_provider=NAME straight
  to that provider. The password is checked by the user pool's own sign-in (AdminInitiateAuth's password
  check, localaws.cognito_signin's MFA decision), so NEW_PASSWORD_REQUIRED (a new-password page), TOTP on
  the user's own secret, SMS and email codes (to GET /_local_aws/messages) and SELECT_MFA_TYPE appear as
  pages. Success: a 302 to the redirect URI with code and state, and a browser session cookie (1 hour) with
  which a later /oauth2/authorize signs in without the form.
- /oauth2/token: authorization_code (the code is single-use, bound to client, redirect_uri and the PKCE
  verifier, and expires 5 minutes after issue on localaws.clock) and refresh_token; a client with a secret
  authenticates by HTTP Basic or client_secret in the body. Errors are {"error": "invalid_grant"} etc. with
  HTTP 400. Tokens are the pool's own (localaws.cognito_tokens: per-pool keys, expiry, revocation): the
  access token's scope is the granted scopes, auth_time is the sign-in's, the ID token carries nonce (when
  sent) and, for federated users, identities. Refresh tokens from here also work with InitiateAuth
  REFRESH_TOKEN_AUTH and GetTokensFromRefreshToken, and the tokens those issue keep scope and auth_time.
- /oauth2/revoke ends a refresh token and its access tokens; /oauth2/userInfo answers only access tokens
  with the openid scope (InitiateAuth's carry aws.cognito.signin.user.admin only, so they are refused);
  /logout (client_id + logout_uri among LogoutURLs, or client_id + redirect_uri + response_type to sign in
  again) ends the browser session.
- Federation (ProviderType OIDC; ProviderDetails oidc_issuer, client_id, client_secret, authorize_scopes):
  the provider's endpoints come from discovery at its issuer; /oauth2/idpresponse exchanges its code (client
  secret in the body) and verifies its ID token against its JWKS (signature RS256, iss, aud, exp on
  localaws.clock, the nonce local_aws sent). The user NAME_<sub> is created (status EXTERNAL_PROVIDER) or
  updated, with the attributes of the provider's AttributeMapping and an `identities` attribute.

Differences from AWS:
- The base URL is a path of local_aws's endpoint, not a host of its own, and plain HTTP.
- An http:// issuer (e.g. http://127.0.0.1:PORT) is accepted for an OIDC provider; AWS requires https.
  Only OIDC providers (not SAML, Google, Apple...) are served; attributes_request_method is ignored (the
  ID token's claims are used, userinfo is never called).
- PKCE is optional, as on AWS; implicit grant (response_type=token) and client_credentials are not served.
- MFA_SETUP (a user of an MFA ON pool with no factor) ends in an error page, not a setup page; passkeys and
  email/SMS first factors are not offered; no custom UI, no branding, no language selection.
- Error descriptions are best guesses; revoking a token of another client answers invalid_request.
- AdminLinkProviderForUser is not served: a federated user is always NAME_<sub>, never linked to a native one.
"""

import base64
import contextvars
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import uuid
from urllib.parse import urlencode, urlparse

from localaws import clock, cognito_signin, cognito_tokens
from localaws.cognito_clients import secret_hash
from localaws.cognito_records import records

PREFIX = "/_local_aws/domain/"
DISCOVERY = re.compile(r"/([a-z]{2}(?:-[a-z]+)+-\d_\w+)/\.well-known/openid-configuration")
OPERATIONS = {"/oauth2/authorize": "Authorize", "/login": "Login", "/oauth2/token": "Token",
              "/oauth2/revoke": "Revoke", "/oauth2/userInfo": "UserInfo", "/logout": "Logout",
              "/oauth2/idpresponse": "IdpResponse"}
CODE_SECONDS = 300       # authorization codes, as AWS documents
FLOW_SECONDS = 3600      # how long a sign-in page stays answerable
SESSION_SECONDS = 3600   # the browser session cookie, as AWS's
COOKIE = "local_aws_managed_login"
HTTP_TIMEOUT = 10        # seconds for each call to an external provider
MFA_FIELDS = {"SOFTWARE_TOKEN_MFA": "SOFTWARE_TOKEN_MFA_CODE", "SMS_MFA": "SMS_MFA_CODE",
              "EMAIL_OTP": "EMAIL_OTP_CODE"}
MFA_PROMPTS = {"SOFTWARE_TOKEN_MFA": "Enter the code from your authenticator app",
               "SMS_MFA": "Enter the code we sent by SMS", "EMAIL_OTP": "Enter the code we sent by email"}
# Which user attributes /oauth2/userInfo returns for each scope.
SCOPE_ATTRIBUTES = {"email": ("email", "email_verified"), "phone": ("phone_number", "phone_number_verified")}

_lock = threading.Lock()
_flows = {}      # flow id (a hidden form field) -> the authorize request and the sign-in's progress
_codes = {}      # authorization code -> what /oauth2/token needs to honour it
_sessions = {}   # browser session cookie -> {pool, username, auth_time, expires}
_federation = {}  # state sent to an external provider -> {flow, nonce, provider, redirect}
_claims = contextvars.ContextVar("managed_login_claims", default=None)


# ---- routing

def route(path):
    """(domain prefix, path below the base URL) of a managed-login request, (None, pool id) of a discovery
    document request, or None when this module does not serve the path."""
    discovery = DISCOVERY.fullmatch(path)
    if discovery:
        return None, discovery.group(1)
    if not path.startswith(PREFIX):
        return None
    prefix, _, rest = path[len(PREFIX):].partition("/")
    return prefix, "/" + rest


def classify(environ):
    """(service, operation) for local_aws's request log and fault rules."""
    prefix, rest = route(environ.get("PATH_INFO", ""))
    return "cognito-idp", "ManagedLogin" + (OPERATIONS.get(rest, "Unknown") if prefix else "OpenIdConfiguration")


def find_domain(prefix):
    """(backend, user pool) of a user pool domain in any account and region, or (None, None)."""
    from moto.cognitoidp.models import cognitoidp_backends

    for account in list(cognitoidp_backends):
        for region, backend in cognitoidp_backends[account].items():
            domain = backend.user_pool_domains.get(prefix)
            if domain is not None and domain.user_pool_id in backend.user_pools:
                return backend, backend.user_pools[domain.user_pool_id]
    return None, None


def base_url(request, prefix):
    """The managed login's base URL as this request reached it."""
    return request.host_url.rstrip("/") + PREFIX + prefix


# ---- responses

class OAuthError(Exception):
    """An OAuth error: JSON at the token endpoint, a redirect or page at authorize."""

    def __init__(self, error, description="", status=400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


def json_response(body, status=200, headers=None):
    """A JSON answer that no cache keeps."""
    from werkzeug.wrappers import Response

    return Response(json.dumps(body), status=status, mimetype="application/json",
                    headers={"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})})


def oauth_error_response(err):
    """{"error": ..., "error_description": ...} as the token, revoke and userInfo endpoints answer."""
    body = {"error": err.error, **({"error_description": err.description} if err.description else {})}
    headers = {"WWW-Authenticate": f'Bearer error="{err.error}"'} if err.status == 401 else None
    return json_response(body, err.status, headers)


def with_query(uri, params):
    """uri with params added to its query string."""
    params = {k: v for k, v in params.items() if v is not None}
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def redirect(location):
    """A 302, as Cognito answers."""
    from werkzeug.wrappers import Response

    return Response("", status=302, headers={"Location": location, "Cache-Control": "no-store"})


def page(title, body, status=200):
    """An HTML page in the plain style of the classic hosted UI."""
    from werkzeug.wrappers import Response

    document = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: Helvetica, Arial, sans-serif; background: #fafafa; margin: 0; }}
.box {{ max-width: 340px; margin: 48px auto; background: #fff; padding: 24px 32px; border: 1px solid #ddd;
        border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.1); }}
h1 {{ font-size: 20px; font-weight: normal; }}
label {{ display: block; margin: 12px 0 4px; font-size: 14px; }}
input[type=text], input[type=password] {{ width: 100%; box-sizing: border-box; padding: 8px; font-size: 14px; }}
button {{ width: 100%; margin-top: 16px; padding: 10px; font-size: 14px; color: #fff; background: #337ab7;
          border: 0; border-radius: 3px; cursor: pointer; }}
button.provider {{ background: #555; }}
.error {{ color: #a94442; background: #f2dede; padding: 8px; font-size: 14px; }}
.note {{ color: #777; font-size: 12px; margin-top: 16px; }}
</style></head><body><div class="box">{body}
<p class="note">local_aws managed login (Amazon Cognito's hosted UI, served locally)</p></div></body></html>"""
    return Response(document, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"})


def error_page(description, status=400):
    """What Cognito shows when it can't redirect back to the app."""
    return page("Error", f'<h1>An error was encountered with the requested page.</h1>'
                         f'<p class="error" id="error">{html.escape(description)}</p>', status)


def form(base, flow_id, fields, button, message=None):
    """A form posting to <base>/login with the flow id hidden."""
    error = f'<p class="error" id="error">{html.escape(message)}</p>' if message else ""
    inputs = "".join(f'<label for="{name}">{html.escape(label)}</label>'
                     f'<input id="{name}" name="{name}" type="{kind}" autocomplete="off" required>'
                     for name, label, kind in fields)
    return (f'{error}<form method="post" action="{html.escape(base)}/login">'
            f'<input type="hidden" name="flow" value="{html.escape(flow_id)}">{inputs}'
            f'<button type="submit" name="signin" value="1">{html.escape(button)}</button></form>')


# ---- app clients

def client_of(pool, client_id):
    """The pool's app client with this id, or None."""
    return pool.clients.get(client_id or "")


def client_setting(client, name):
    """A list setting of an app client ([] when unset)."""
    return list(client.extended_config.get(name) or [])


def external_providers(pool, client):
    """The client's supported identity providers that exist in the pool, COGNITO aside."""
    return [name for name in client_setting(client, "SupportedIdentityProviders")
            if name != "COGNITO" and name in pool.identity_providers]


def authenticate_client(pool, request):
    """The app client a token or revoke request authenticates as (HTTP Basic or the body)."""
    from urllib.parse import unquote

    client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Client authentication failed") from None
        basic_id, _, basic_secret = decoded.partition(":")
        client_id, secret = unquote(basic_id), unquote(basic_secret)
    client = client_of(pool, client_id)
    if client is None:
        raise OAuthError("invalid_client", "Client authentication failed")
    if client.generate_secret and not (secret and hmac.compare_digest(secret, client.secret)):
        raise OAuthError("invalid_client", "Client authentication failed")
    return client


# ---- /oauth2/authorize

def check_authorize(pool, args):
    """Validate an authorize request; (client, flow dict) or an error page / OAuthError with a redirect URI."""
    client = client_of(pool, args.get("client_id"))
    if client is None:
        return None, error_page("invalid_request: client_id is missing or unknown")
    redirect_uri = args.get("redirect_uri")
    if not redirect_uri or redirect_uri not in client_setting(client, "CallbackURLs"):
        return None, error_page("redirect_mismatch: redirect_uri is not one of the app client's callback URLs")
    flow = {"pool": pool.id, "client": client.id, "redirect_uri": redirect_uri, "state": args.get("state"),
            "nonce": args.get("nonce"), "code_challenge": args.get("code_challenge"),
            "expires": clock.now() + FLOW_SECONDS}
    flows = client_setting(client, "AllowedOAuthFlows")
    if not client.extended_config.get("AllowedOAuthFlowsUserPoolClient") or "code" not in flows:
        raise_redirect(flow, "unauthorized_client", "Client is not enabled for the authorization code grant")
    if args.get("response_type") != "code":
        raise_redirect(flow, "unsupported_response_type", "response_type must be code")
    allowed = client_setting(client, "AllowedOAuthScopes")
    scopes = (args.get("scope") or "").split() or allowed
    if not scopes or not set(scopes) <= set(allowed):
        raise_redirect(flow, "invalid_scope", "Scope is not allowed for this client")
    method = args.get("code_challenge_method")
    if (method or flow["code_challenge"]) and (method != "S256" or not flow["code_challenge"]):
        raise_redirect(flow, "invalid_request", "code_challenge_method must be S256, with a code_challenge")
    flow["scopes"] = scopes
    return client, flow


class RedirectError(Exception):
    """An authorize error that goes back to the app's (valid) redirect URI."""

    def __init__(self, flow, error, description):
        super().__init__(description)
        self.location = with_query(flow["redirect_uri"], {"error": error, "error_description": description,
                                                          "state": flow.get("state")})


def raise_redirect(flow, error, description):
    """Send the browser back to the app with an error."""
    raise RedirectError(flow, error, description)


def new_flow(flow):
    """Remember a sign-in in progress; its id."""
    flow_id = secrets.token_urlsafe(24)
    now = clock.now()
    with _lock:
        for stale in [k for k, v in _flows.items() if v["expires"] < now]:
            del _flows[stale]
        _flows[flow_id] = flow
    return flow_id


def sign_in_page(pool, client, base, flow_id, message=None, status=200):
    """The sign-in page: the user pool's form (when COGNITO is supported) and a button per provider."""
    parts = ["<h1>Sign in with your username and password</h1>"]
    if "COGNITO" in client_setting(client, "SupportedIdentityProviders"):
        parts.append(form(base, flow_id, [("username", "Username", "text"), ("password", "Password", "password")],
                          "Sign in", message))
    for name in external_providers(pool, client):
        parts.append(f'<form method="post" action="{html.escape(base)}/login">'
                     f'<input type="hidden" name="flow" value="{html.escape(flow_id)}">'
                     f'<button class="provider" type="submit" name="provider" value="{html.escape(name)}">'
                     f'Continue with {html.escape(name)}</button></form>')
    return page("Signin", "".join(parts), status)


def authorize(backend, pool, request, base):
    """GET /oauth2/authorize."""
    try:
        client, flow = check_authorize(pool, request.args)
        if client is None:
            return flow  # the error page
        flow["cookie_path"] = urlparse(base).path
        provider = request.args.get("identity_provider")
        supported = client_setting(client, "SupportedIdentityProviders")
        if provider and provider not in supported:
            raise_redirect(flow, "invalid_request", f"Identity provider {provider} is not enabled for this client")
        if not supported:
            raise_redirect(flow, "invalid_request", "No identity provider is enabled for this client")
        if provider and provider != "COGNITO":
            return to_provider(pool, base, flow, provider)
        session = browser_session(request, pool)
        if session is not None:
            return finish(backend, pool, flow, session["username"], session["auth_time"], session_id=None)
        return sign_in_page(pool, client, base, new_flow(flow))
    except RedirectError as err:
        return redirect(err.location)


def browser_session(request, pool):
    """The live browser session of this pool the request's cookie names, or None."""
    with _lock:
        session = _sessions.get(request.cookies.get(COOKIE, ""))
    if session is None or session["pool"] != pool.id or clock.now() >= session["expires"]:
        return None
    user = pool._get_user(session["username"])
    return session if user is not None and user.enabled else None


# ---- /login: the forms

def take_flow(form_data):
    """The sign-in in progress a form names, or None."""
    with _lock:
        flow = _flows.get(form_data.get("flow", ""))
    return flow if flow is not None and clock.now() < flow["expires"] else None


def cognito_error_message(err):
    """The message of a Cognito error, as the hosted UI shows it."""
    message = getattr(err, "message", None) or str(err)
    code = getattr(err, "error_type", "")
    if code in ("UserNotFoundException",) or (code == "NotAuthorizedException" and "disabled" not in message
                                              and "session" not in message):
        return cognito_signin.WRONG_PASSWORD
    return message


def login(backend, pool, request, base):
    """POST /login: a sign-in form, a new password, an MFA code or choice, or a provider button."""
    from moto.core.exceptions import JsonRESTError

    data = request.form
    flow_id = data.get("flow", "")
    flow = take_flow(data)
    if flow is None or flow["pool"] != pool.id:
        return error_page("This sign-in page has expired; start again from the application.")
    client = pool.clients[flow["client"]]
    if data.get("provider"):
        if data["provider"] not in external_providers(pool, client):
            return error_page("invalid_request: that identity provider is not enabled for this client")
        try:
            return to_provider(pool, base, flow, data["provider"])
        except RedirectError as err:
            return redirect(err.location)
    step = flow.get("challenge")
    try:
        if step is None:
            result = start_password(backend, pool, client, data.get("username", ""), data.get("password", ""))
        else:
            result = answer(backend, pool, client, flow, step, data)
    except JsonRESTError as err:
        message = cognito_error_message(err)
        # The same page again while its session lives: a mistyped code, a password the policy refuses.
        if getattr(err, "error_type", "") in ("CodeMismatchException", "InvalidPasswordException") and step:
            return challenge_page(base, flow_id, flow, message)
        flow.pop("challenge", None)
        return sign_in_page(pool, client, base, flow_id, message, status=400)
    return after_step(backend, pool, base, flow_id, flow, result)


def start_password(backend, pool, client, username, password):
    """The pool's own password check (and its MFA decision), as AdminInitiateAuth makes it."""
    params = {"USERNAME": username, "PASSWORD": password}
    return backend.admin_initiate_auth(pool.id, client.id, "ADMIN_USER_PASSWORD_AUTH", params)


def answer(backend, pool, client, flow, step, data):
    """Answer the challenge the flow is at with what the page's form sent."""
    username = flow["username"]
    responses = {"USERNAME": username}
    if client.generate_secret:
        responses["SECRET_HASH"] = secret_hash(client, username)
    if step == "NEW_PASSWORD_REQUIRED":
        responses["NEW_PASSWORD"] = data.get("new_password", "")
    elif step == "SELECT_MFA_TYPE":
        responses["ANSWER"] = data.get("mfa_type", "")
    else:
        responses[MFA_FIELDS[step]] = data.get("code", "").strip()
    return backend.respond_to_auth_challenge(flow["session"], client.id, step, responses)


def challenge_page(base, flow_id, flow, message=None):
    """The page of the challenge a flow is at."""
    step = flow["challenge"]
    if step == "NEW_PASSWORD_REQUIRED":
        body = "<h1>Change your password</h1>" + form(
            base, flow_id, [("new_password", "New password", "password")], "Send", message)
    elif step == "SELECT_MFA_TYPE":
        buttons = "".join(f'<button type="submit" name="mfa_type" value="{html.escape(c)}">{html.escape(c)}'
                          f"</button>" for c in flow["choices"])
        body = (f'<h1>Choose how to verify</h1><form method="post" action="{html.escape(base)}/login">'
                f'<input type="hidden" name="flow" value="{html.escape(flow_id)}">{buttons}</form>')
    else:
        body = f"<h1>{html.escape(MFA_PROMPTS[step])}</h1>" + form(
            base, flow_id, [("code", "Code", "text")], "Sign in", message)
    return page("Verify", body)


def after_step(backend, pool, base, flow_id, flow, result):
    """Tokens mean signed in (a code for the app); a challenge means the next page."""
    if "AuthenticationResult" in result:
        username = pool.refresh_tokens[result["AuthenticationResult"]["RefreshToken"]][1]
        cognito_signin.discard_tokens(pool, result)  # the app gets its tokens from /oauth2/token
        with _lock:
            _flows.pop(flow_id, None)
        return finish(backend, pool, flow, username, int(clock.now()), session_id=secrets.token_urlsafe(32))
    step = result.get("ChallengeName")
    if step == "MFA_SETUP":
        return error_page("This user must set up MFA, which local_aws's managed login does not offer; "
                          "set it up with AssociateSoftwareToken first.")
    if step not in ("NEW_PASSWORD_REQUIRED", "SELECT_MFA_TYPE") and step not in MFA_FIELDS:
        return error_page(f"Unsupported sign-in step {step}")
    parameters = result.get("ChallengeParameters") or {}
    flow.update(challenge=step, session=result["Session"],
                username=parameters.get("USERNAME") or flow.get("username"),
                choices=json.loads(parameters.get("MFAS_CAN_CHOOSE") or "[]"))
    if not flow["username"]:
        flow["username"] = backend.sessions.get(result["Session"], ("",))[0]
    return challenge_page(base, flow_id, flow)


def finish(backend, pool, flow, username, auth_time, session_id, identities=None):
    """Issue an authorization code and send the browser back to the app (with a session cookie when new)."""
    code = str(uuid.uuid4())
    with _lock:
        now = clock.now()
        for stale in [c for c, v in _codes.items() if v["expires"] < now]:
            del _codes[stale]
        _codes[code] = {"pool": pool.id, "client": flow["client"], "redirect_uri": flow["redirect_uri"],
                        "code_challenge": flow["code_challenge"], "scopes": flow["scopes"],
                        "nonce": flow["nonce"], "username": username, "auth_time": auth_time,
                        "expires": now + CODE_SECONDS}
        if session_id:
            _sessions[session_id] = {"pool": pool.id, "username": username, "auth_time": auth_time,
                                     "expires": now + SESSION_SECONDS}
    response = redirect(with_query(flow["redirect_uri"], {"code": code, "state": flow["state"]}))
    if session_id:
        # The cookie belongs to this domain's base path, as AWS's belongs to the domain's host.
        response.set_cookie(COOKIE, session_id, httponly=True, samesite="Lax", path=flow["cookie_path"])
    return response


# ---- /oauth2/token

def token(backend, pool, request):
    """POST /oauth2/token: authorization_code or refresh_token."""
    client = authenticate_client(pool, request)
    if not client.extended_config.get("AllowedOAuthFlowsUserPoolClient"):
        raise OAuthError("unauthorized_client", "Client is not enabled for OAuth flows")
    grant = request.form.get("grant_type")
    if grant == "authorization_code":
        return json_response(redeem_code(pool, client, request.form))
    if grant == "refresh_token":
        from moto.cognitoidp.exceptions import NotAuthorizedError

        try:
            result = cognito_tokens.renew(pool, client, request.form.get("refresh_token"), None)
        except NotAuthorizedError as err:
            raise OAuthError("invalid_grant", err.message) from None
        return json_response(token_answer(result))
    raise OAuthError("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")


def pkce_matches(challenge, verifier):
    """S256: BASE64URL(SHA256(verifier)) without padding equals the challenge."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return hmac.compare_digest(digest, challenge)


def redeem_code(pool, client, data):
    """Tokens for an authorization code: single use, this client, this redirect_uri, this verifier, in time."""
    with _lock:
        grant = _codes.pop(data.get("code", ""), None)  # single use, whatever happens next
    if grant is None or grant["pool"] != pool.id or grant["client"] != client.id \
            or clock.now() >= grant["expires"] or data.get("redirect_uri") != grant["redirect_uri"]:
        raise OAuthError("invalid_grant")
    if grant["code_challenge"] and not pkce_matches(grant["code_challenge"], data.get("code_verifier") or ""):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    if pool._get_user(grant["username"]) is None:
        raise OAuthError("invalid_grant")
    with cognito_tokens.lock:
        refresh, _ = pool.create_refresh_token(client.id, grant["username"])
        family = records(pool)[refresh]["family"]
        login_claims(pool)[family] = {"scopes": grant["scopes"], "auth_time": grant["auth_time"]}
        marker = _claims.set({"nonce": grant["nonce"]})
        try:
            access, id_token, expires_in = pool.create_tokens_from_refresh_token(refresh)
        finally:
            _claims.reset(marker)
    return {"id_token": id_token, "access_token": access, "refresh_token": refresh, "expires_in": expires_in,
            "token_type": "Bearer"}


def token_answer(result):
    """GetTokensFromRefreshToken's result in the token endpoint's words."""
    names = {"IdToken": "id_token", "AccessToken": "access_token", "RefreshToken": "refresh_token",
             "ExpiresIn": "expires_in", "TokenType": "token_type"}
    return {names[k]: v for k, v in result.items() if k in names}


def login_claims(pool):
    """Per refresh-token family: the scopes and auth_time of the managed-login sign-in it came from."""
    if not hasattr(pool, "local_aws_login_claims"):
        pool.local_aws_login_claims = {}
    return pool.local_aws_login_claims


def extra_claims(pool, client_id, username, token_use):
    """What a token of a managed-login session carries beyond moto's: scope, auth_time, nonce, identities."""
    current = _claims.get()
    if current is None or "session" not in current:
        return {}
    session, user = current["session"], pool._get_user(username)
    claims = {"auth_time": session["auth_time"]}
    if token_use == "access":
        claims["scope"] = " ".join(session["scopes"])
        return claims
    if current.get("nonce"):
        claims["nonce"] = current["nonce"]
    attributes = {a["Name"]: a["Value"] for a in (user.attributes if user else [])}
    for scope, names in SCOPE_ATTRIBUTES.items():
        if scope in session["scopes"]:
            claims.update({n: as_claim(n, attributes[n]) for n in names if n in attributes})
    if "identities" in attributes:
        claims["identities"] = json.loads(attributes["identities"])
    return claims


def as_claim(name, value):
    """Cognito's tokens carry *_verified as booleans."""
    return value == "true" if name.endswith("_verified") else value


# ---- /oauth2/revoke, /oauth2/userInfo, /logout

def revoke(pool, request):
    """POST /oauth2/revoke: end a refresh token and what was issued from it."""
    client = authenticate_client(pool, request)
    if not client.extended_config.get("EnableTokenRevocation", True):
        raise OAuthError("unauthorized_client", "Token revocation is not enabled for this app client")
    value = request.form.get("token")
    if not value:
        raise OAuthError("invalid_request", "token is required")
    if cognito_tokens.claims_of(value):
        raise OAuthError("unsupported_token_type", "Only refresh tokens can be revoked")
    with cognito_tokens.lock:
        stored = pool.refresh_tokens.get(value)
        if value in records(pool):
            if stored is not None and stored[0] != client.id:
                raise OAuthError("invalid_request", "Token was not issued to this client")
            cognito_tokens.revoke_family(pool, value)
    return json_response({})  # an unknown token is not an error (RFC 7009)


def user_info(pool, request):
    """GET or POST /oauth2/userInfo: the attributes an openid-scoped access token may read."""
    header = request.headers.get("Authorization", "")
    access = header[7:].strip() if header.startswith("Bearer ") else ""
    refusal = cognito_tokens.access_token_refusal(access) if access else "Access token is missing"
    owner = cognito_tokens.pool_of_token(access) if access else None
    if refusal or owner is None or owner.id != pool.id or access not in pool.access_tokens:
        raise OAuthError("invalid_token", refusal or "Invalid access token", 401)
    scopes = str(cognito_tokens.claims_of(access).get("scope", "")).split()
    if "openid" not in scopes:
        raise OAuthError("invalid_token", "Access token does not contain openid scope", 401)
    user = pool._get_user(pool.access_tokens[access][1])
    attributes = {a["Name"]: a["Value"] for a in user.attributes}
    if "profile" in scopes or not set(scopes) & {"email", "phone"}:
        shown = dict(attributes)  # openid alone (or with profile): every attribute, as AWS documents
    else:
        shown = {"sub": user.id}
        for scope, names in SCOPE_ATTRIBUTES.items():
            if scope in scopes:
                shown.update({n: attributes[n] for n in names if n in attributes})
    if "identities" in shown:
        shown["identities"] = json.loads(shown["identities"])
    return json_response({**shown, "sub": user.id, "username": user.username})


def logout(pool, request, base):
    """GET /logout: end the browser session, then go to logout_uri (or sign in again)."""
    client = client_of(pool, request.args.get("client_id"))
    if client is None:
        return error_page("invalid_request: client_id is missing or unknown")
    logout_uri = request.args.get("logout_uri")
    if logout_uri:
        if logout_uri not in client_setting(client, "LogoutURLs"):
            return error_page("invalid_request: logout_uri is not one of the app client's sign-out URLs")
        target = logout_uri
    elif request.args.get("redirect_uri") and request.args.get("response_type"):
        target = with_query(base + "/oauth2/authorize", {k: request.args.get(k) for k in (
            "client_id", "redirect_uri", "response_type", "state", "scope", "code_challenge",
            "code_challenge_method", "nonce")})
    else:
        return error_page("invalid_request: logout_uri, or redirect_uri and response_type, is required")
    with _lock:
        _sessions.pop(request.cookies.get(COOKIE, ""), None)
    response = redirect(target)
    response.delete_cookie(COOKIE, path=urlparse(base).path)
    return response


# ---- federation (OIDC)

def fetch_json(url, data=None, headers=None):
    """GET (or POST form data to) an external provider; its JSON answer. Bounded in time."""
    import urllib.request

    body = urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Accept": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
        return json.loads(response.read())


def provider_details(pool, name):
    """(ProviderDetails, its discovery document) of an OIDC identity provider."""
    provider = pool.identity_providers[name]
    details = provider.extended_config.get("ProviderDetails") or {}
    if provider.extended_config.get("ProviderType") != "OIDC":
        raise OSError(f"identity provider {name} is not OIDC; local_aws serves only OIDC providers")
    issuer = details.get("oidc_issuer", "").rstrip("/")
    return details, fetch_json(issuer + "/.well-known/openid-configuration")


def to_provider(pool, base, flow, name):
    """Send the browser to an external provider's authorize endpoint (found by discovery at its issuer)."""
    try:
        details, discovery = provider_details(pool, name)
    except (OSError, ValueError) as err:
        raise_redirect(flow, "invalid_request", f"Identity provider {name} can't be reached: {err}")
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    now = clock.now()
    with _lock:
        for stale in [k for k, v in _federation.items() if v["expires"] < now]:
            del _federation[stale]
        _federation[state] = {"flow": dict(flow), "nonce": nonce, "provider": name, "expires": now + FLOW_SECONDS}
    return redirect(with_query(discovery["authorization_endpoint"], {
        "response_type": "code", "client_id": details.get("client_id"),
        "redirect_uri": base + "/oauth2/idpresponse", "scope": details.get("authorize_scopes", "openid"),
        "state": state, "nonce": nonce}))


def verified_provider_token(details, discovery, id_token, nonce):
    """The claims of a provider's ID token, checked against its JWKS, issuer, audience, expiry and nonce."""
    from joserfc import jwt
    from joserfc.jwk import KeySet

    keys = KeySet.import_key_set(fetch_json(discovery["jwks_uri"]))
    claims = jwt.decode(id_token, keys, algorithms=["RS256"]).claims
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if claims.get("iss", "").rstrip("/") != details.get("oidc_issuer", "").rstrip("/"):
        raise ValueError("the ID token's issuer is not the provider's")
    if details.get("client_id") not in audiences:
        raise ValueError("the ID token's audience is not the provider's client_id")
    if clock.now() >= int(claims.get("exp", 0)):
        raise ValueError("the ID token has expired")
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise ValueError("the ID token's nonce is not the one sent")
    if not claims.get("sub"):
        raise ValueError("the ID token has no sub")
    return claims


def federated_user(backend, pool, name, claims):
    """Create or update the user NAME_<sub> from a provider's verified claims; its username."""
    provider = pool.identity_providers[name]
    username = f"{name}_{claims['sub']}"
    mapping = provider.extended_config.get("AttributeMapping") or {}
    attributes = [{"Name": attr, "Value": str(claims[claim]).lower() if isinstance(claims[claim], bool)
                   else str(claims[claim])}
                  for attr, claim in mapping.items() if attr != "username" and claim in claims]
    identities = [{"userId": claims["sub"], "providerName": name, "providerType": "OIDC", "issuer": None,
                   "primary": "true", "dateCreated": str(int(clock.now() * 1000))}]
    user = pool._get_user(username)
    if user is None:
        user = backend.admin_create_user(pool.id, username, "SUPPRESS", None, attributes)
        user.password, user.status = None, "EXTERNAL_PROVIDER"
        user.update_attributes([{"Name": "identities", "Value": json.dumps(identities)}])
    else:
        user.update_attributes(attributes)
    if not user.enabled:
        raise ValueError("User is disabled.")
    return username


def idp_response(backend, pool, request, base):
    """GET /oauth2/idpresponse: the provider's code, exchanged and verified; then the app's redirect."""
    with _lock:
        pending = _federation.pop(request.args.get("state", ""), None)
    if pending is None or clock.now() >= pending["expires"] or pending["flow"]["pool"] != pool.id:
        return error_page("invalid_request: unknown or expired state from the identity provider")
    flow = pending["flow"]
    if request.args.get("error") or not request.args.get("code"):
        return redirect(with_query(flow["redirect_uri"], {
            "error": "access_denied" if request.args.get("error") == "access_denied" else "invalid_request",
            "error_description": request.args.get("error_description") or request.args.get("error")
            or "no code from the identity provider", "state": flow["state"]}))
    from joserfc.errors import JoseError

    try:
        details, discovery = provider_details(pool, pending["provider"])
        tokens = fetch_json(discovery["token_endpoint"], {
            "grant_type": "authorization_code", "code": request.args["code"],
            "redirect_uri": base + "/oauth2/idpresponse", "client_id": details.get("client_id"),
            **({"client_secret": details["client_secret"]} if details.get("client_secret") else {})})
        claims = verified_provider_token(details, discovery, tokens.get("id_token", ""), pending["nonce"])
        username = federated_user(backend, pool, pending["provider"], claims)
    except (OSError, ValueError, KeyError, JoseError) as err:
        return redirect(with_query(flow["redirect_uri"], {
            "error": "invalid_request", "error_description": f"Error from the identity provider: {err}",
            "state": flow["state"]}))
    return finish(backend, pool, flow, username, int(clock.now()), session_id=secrets.token_urlsafe(32))


# ---- OpenID discovery beside the JWKS

def openid_configuration(request, pool_id):
    """GET /<pool id>/.well-known/openid-configuration, beside the pool's JWKS."""
    pool = cognito_tokens.pool_by_id(pool_id)
    if pool is None:
        return json_response({"message": "User pool not found"}, 404)
    host = request.host_url.rstrip("/")
    region = pool.id.split("_", 1)[0]
    document = {
        "issuer": f"https://cognito-idp.{region}.amazonaws.com/{pool.id}",
        "jwks_uri": f"{host}/{pool.id}/.well-known/jwks.json",
        "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }
    if pool.domain is not None:
        base = host + PREFIX + pool.domain.domain
        document.update(authorization_endpoint=base + "/oauth2/authorize", token_endpoint=base + "/oauth2/token",
                        userinfo_endpoint=base + "/oauth2/userInfo", revocation_endpoint=base + "/oauth2/revoke",
                        end_session_endpoint=base + "/logout")
    return json_response(document)


# ---- the WSGI app

def app(environ, start_response):
    """Serve one managed-login request (local_aws's Observatory routes PREFIX here)."""
    from werkzeug.wrappers import Request

    request = Request(environ)
    prefix, rest = route(request.path)
    if prefix is None:
        return openid_configuration(request, rest)(environ, start_response)
    backend, pool = find_domain(prefix)
    if pool is None:
        response = error_page("This domain does not exist: create it with CreateUserPoolDomain.", 404)
        return response(environ, start_response)
    base = base_url(request, prefix)
    get, post = request.method in ("GET", "HEAD"), request.method == "POST"
    try:
        if rest == "/oauth2/authorize" and get:
            response = authorize(backend, pool, request, base)
        elif rest == "/login" and post:
            response = login(backend, pool, request, base)
        elif rest == "/oauth2/token" and post:
            response = token(backend, pool, request)
        elif rest == "/oauth2/revoke" and post:
            response = revoke(pool, request)
        elif rest.lower() == "/oauth2/userinfo" and (get or post):
            response = user_info(pool, request)
        elif rest == "/logout" and get:
            response = logout(pool, request, base)
        elif rest == "/oauth2/idpresponse" and get:
            response = idp_response(backend, pool, request, base)
        else:
            response = error_page(f"No such page: {request.method} {rest}", 404)
    except OAuthError as err:
        response = oauth_error_response(err)
    return response(environ, start_response)


# ---- install

def install():
    """Patch moto: managed-login claims in tokens issued from its refresh tokens."""
    from moto.cognitoidp.models import CognitoIdpUserPool

    create_jwt = CognitoIdpUserPool.create_jwt
    from_refresh = CognitoIdpUserPool.create_tokens_from_refresh_token

    def jwt_with_login_claims(self, client_id, username, token_use, expires_in=60 * 60, extra_data=None):
        extra = {**(extra_data or {}), **extra_claims(self, client_id, username, token_use)}
        return create_jwt(self, client_id, username, token_use, expires_in, extra)

    def tokens_with_login_claims(self, refresh_token):
        family = (records(self).get(refresh_token) or {}).get("family")
        session = login_claims(self).get(family)
        if session is None:
            return from_refresh(self, refresh_token)
        marker = _claims.set({**(_claims.get() or {}), "session": session})
        try:
            return from_refresh(self, refresh_token)
        finally:
            _claims.reset(marker)

    CognitoIdpUserPool.create_jwt = jwt_with_login_claims
    CognitoIdpUserPool.create_tokens_from_refresh_token = tokens_with_login_claims
