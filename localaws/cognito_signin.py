"""local_aws's Cognito sign-in beyond SRP: choice-based sign-in (USER_AUTH), one-time codes and MFA.

install() wraps moto's CognitoIdpBackend over localaws.cognito_auth (order: localaws.server.INSTALLERS), reusing
localaws.srp's srp_challenge and localaws.cognito_clients' SECRET_HASH check. What it adds, as AWS does:

- InitiateAuth USER_AUTH, gated on the app client's ALLOW_USER_AUTH and the pool's
  Policies.SignInPolicy.AllowedFirstAuthFactors (AWS's default: PASSWORD only). PREFERRED_CHALLENGE
  PASSWORD (with PASSWORD), PASSWORD_SRP (with SRP_A; then PASSWORD_VERIFIER, verified for real),
  EMAIL_OTP or SMS_OTP starts that factor; without one, or when it can't be used for this user,
  SELECT_CHALLENGE with AvailableChallenges, answered with ANSWER (plus PASSWORD or SRP_A).
  Passwordless factors need a verified email / phone_number attribute.
- One-time codes: random (8 digits by email, 6 by SMS), bound to their session, single-use,
  valid for the app client's AuthSessionValidity (3 minutes by default) on localaws.clock. A wrong
  code is CodeMismatchException and may be retried up to 3 times in all; an expired session is
  NotAuthorizedException "Invalid session for the user, session is expired."; a used or dropped one
  "Invalid session for the user.". Codes go to an outbox, never out: GET /_local_aws/messages lists
  {"user_pool_id", "username", "channel" ("email"|"sms"), "code", "time"}, newest last; DELETE empties it.
- Every challenge must be answered within the app client's AuthSessionValidity (3 minutes by default) on
  localaws.clock, or NotAuthorizedException "Invalid session for the user, session is expired.": this
  module's sessions, SRP's SECRET_BLOCK (localaws.srp), and sessions other layers issue (moto's
  NEW_PASSWORD_REQUIRED, localaws.cognito_devices' DEVICE_SRP_AUTH) through stamp() and check_deadline().
- After the password (USER_SRP_AUTH, USER_PASSWORD_AUTH, ADMIN_*_PASSWORD_AUTH, USER_AUTH PASSWORD
  and PASSWORD_SRP, and NEW_PASSWORD_REQUIRED), one decision in next_after_password(): the pool's
  MfaConfiguration (OFF: tokens), the factors the pool enables (TOTP, SMS, email) and the user has
  (TOTP verified or enabled; SMS / email MFA enabled by preference, or in a pool with MFA ON simply
  a phone number / email address). None in an ON pool: MFA_SETUP with MFAS_CAN_SETUP. One, or a
  preferred one: SOFTWARE_TOKEN_MFA, SMS_MFA (a code by SMS) or EMAIL_OTP (a code by email).
  Several and none preferred: SELECT_MFA_TYPE with MFAS_CAN_CHOOSE. A sign-in by a one-time code
  asks no further factor. Tokens always come from moto's own _log_user_in.
- TOTP: AssociateSoftwareToken gives each user a random secret (by access token, or by the session of
  an MFA_SETUP challenge); VerifySoftwareToken and SOFTWARE_TOKEN_MFA check real RFC 6238 codes of that
  user's secret on localaws.clock, one 30 s step of skew allowed. Verifying in MFA_SETUP enables TOTP and
  returns the session that answers MFA_SETUP.
- UpdateUserPool's MfaConfiguration is applied (moto stored and ignored it), and DescribeUserPool
  reports the pool's one MFA setting.
- SetUserPoolMfaConfig / GetUserPoolMfaConfig store and return EmailMfaConfiguration; Set/AdminSet
  UserMFAPreference honour EmailMfaSettings, and GetUser/AdminGetUser list EMAIL_OTP.
- AdminCreateUser and SignUp refuse usernames outside UsernameType (1 to 128 letters, marks, symbols,
  numbers or punctuation: no spaces) with AWS's validation wording.
- Passwords follow the pool's Policies.PasswordPolicy as Cognito applies it (check_password): AdminCreateUser's
  TemporaryPassword too ("must conform to the password policy"; moto stored any), a missing MinimumLength is
  8 (moto: 5), Cognito's symbol set (a space inside counts), and Cognito's wording, "Password did not conform
  with policy: Password must have uppercase characters" (moto: one fixed sentence).

Differences from AWS that remain (see also localaws/__init__.py's list):
- WEB_AUTHN is never offered. Codes by email (sign-in or MFA) need no SES sending configuration
  (AWS: EmailConfiguration with EmailSendingAccount DEVELOPER), codes by SMS need no working SNS
  role (SmsConfiguration is stored, its role never assumed or checked), and neither needs the
  Essentials feature plan. A pool with MFA ON may still allow passwordless first factors.
- Wordings that are best guesses: "USER_AUTH flow not enabled for this client", a SELECT_CHALLENGE
  or SELECT_MFA_TYPE ANSWER that is not on offer, a challenge name that doesn't match its session.
- The attempt limit (3 codes per session) is a guess; a TOTP code may be used twice within its step.
- AdminInitiateAuth has no USER_AUTH; custom auth and Lambda triggers are absent.
"""

import base64
import hashlib
import hmac
import json
import secrets
import struct
import threading
import unicodedata

from localaws import clock, control
from localaws.cognito_clients import EXPIRED_SESSION, check_secret_hash, find_pool_client, session_seconds
from localaws.srp import srp_challenge

TOTP_STEP = 30
CODE_DIGITS = {"email": 8, "sms": 6}
MAX_CODE_ATTEMPTS = 3
STALE_AFTER = 3600  # seconds an expired session is remembered
FIRST_FACTORS = ("EMAIL_OTP", "SMS_OTP", "PASSWORD", "PASSWORD_SRP")  # AWS's AvailableChallenges order
KNOWN_FIRST_FACTORS = FIRST_FACTORS + ("WEB_AUTHN",)
# The challenges whose sessions this module issues and checks.
OWN_CHALLENGES = ("SELECT_CHALLENGE", "PASSWORD", "PASSWORD_SRP", "EMAIL_OTP", "SMS_OTP", "SMS_MFA",
                  "SOFTWARE_TOKEN_MFA", "SELECT_MFA_TYPE", "MFA_SETUP")
CODE_KEYS = {"EMAIL_OTP": "EMAIL_OTP_CODE", "SMS_OTP": "SMS_OTP_CODE", "SMS_MFA": "SMS_MFA_CODE",
             "SOFTWARE_TOKEN_MFA": "SOFTWARE_TOKEN_MFA_CODE"}
INVALID_SESSION = "Invalid session for the user."
WRONG_PASSWORD = "Incorrect username or password."
USERNAME_CATEGORIES = ("L", "M", "S", "N", "P")

_lock = threading.Lock()
_flows = {}   # session -> what its next answer must be (see new_flow)
_deadlines = {}  # session moto or another layer issued (NEW_PASSWORD_REQUIRED, DEVICE_SRP_AUTH) -> expiry
_outbox = []  # messages "sent", oldest first


# ---- outbox

@control("messages")
def messages_endpoint(method, body):
    """GET: the codes local_aws has "sent", newest last; DELETE: forget them."""
    with _lock:
        if method == "GET":
            return 200, [dict(m) for m in _outbox]
        if method == "DELETE":
            _outbox.clear()
            return 200, None
    return 405, {"error": "GET or DELETE"}


def attribute(user, name):
    """A user's attribute value, or None."""
    return next((a["Value"] for a in user.attributes if a["Name"] == name), None)


def mask(channel, destination):
    """CODE_DELIVERY_DESTINATION as Cognito shows it: a***@e*** or +*******0100."""
    if channel == "email":
        local, _, domain = destination.partition("@")
        return f"{local[:1]}***@{domain[:1]}***"
    return "+" + "*" * max(len(destination) - 5, 0) + destination[-4:]


def deliver(pool, user, channel):
    """Put a fresh code for user into the outbox; return (code, the challenge's delivery parameters)."""
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS[channel]))
    destination = attribute(user, "email" if channel == "email" else "phone_number") or ""
    with _lock:
        _outbox.append({"user_pool_id": pool.id, "username": user.username, "channel": channel, "code": code,
                        "time": clock.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
    return code, {"CODE_DELIVERY_DELIVERY_MEDIUM": channel.upper(),
                  "CODE_DELIVERY_DESTINATION": mask(channel, destination)}


# ---- TOTP

def new_totp_secret():
    """A random base32 secret, as AssociateSoftwareToken returns."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def totp_at(secret, moment):
    """The RFC 6238 code (SHA-1, 6 digits, 30 s steps) of a base32 secret at a moment."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", int(moment // TOTP_STEP)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def check_totp(secret, code):
    """Whether code is the secret's TOTP on local_aws's clock, allowing one step of skew."""
    if not secret or not code:
        return False
    now = clock.now()
    return any(hmac.compare_digest(totp_at(secret, now + skew), str(code)) for skew in (-TOTP_STEP, 0, TOTP_STEP))


# ---- pool and user settings

def sign_in_factors(pool):
    """The pool's AllowedFirstAuthFactors (AWS's default is PASSWORD alone)."""
    policy = (pool.extended_config.get("Policies") or {}).get("SignInPolicy") or {}
    return list(policy.get("AllowedFirstAuthFactors") or ["PASSWORD"])


def verified(user, name):
    """Whether the user has the attribute and it is marked verified."""
    return bool(attribute(user, name)) and attribute(user, f"{name}_verified") == "true"


def first_factors(pool, user):
    """What this user may choose at USER_AUTH, in AWS's order."""
    allowed = sign_in_factors(pool)
    usable = {
        "EMAIL_OTP": "EMAIL_OTP" in allowed and verified(user, "email"),
        "SMS_OTP": "SMS_OTP" in allowed and verified(user, "phone_number"),
        "PASSWORD": "PASSWORD" in allowed and bool(user.password),
        "PASSWORD_SRP": "PASSWORD" in allowed and bool(user.password),
    }
    return [f for f in FIRST_FACTORS if usable[f]]


def pool_mfa_factors(pool):
    """The MFA challenges the pool enables, in MFAS_CAN_SETUP's order."""
    factors = []
    if pool.sms_mfa_config:
        factors.append("SMS_MFA")
    if (pool.token_mfa_config or {}).get("Enabled"):
        factors.append("SOFTWARE_TOKEN_MFA")
    if getattr(pool, "local_aws_email_mfa_config", None) is not None:
        factors.append("EMAIL_OTP")
    return factors


def user_mfa_factors(pool, user):
    """The MFA challenges this user can be sent: enabled by the user, or implied by MFA ON."""
    required = pool.mfa_config == "ON"
    has = {
        "SMS_MFA": bool(attribute(user, "phone_number")) and (user.sms_mfa_enabled or required),
        "SOFTWARE_TOKEN_MFA": bool(getattr(user, "local_aws_totp_secret", None))
        and (user.software_token_mfa_enabled or user.token_verified),
        "EMAIL_OTP": bool(attribute(user, "email")) and (getattr(user, "local_aws_email_mfa", False) or required),
    }
    return [f for f in pool_mfa_factors(pool) if has[f]]


# ---- sessions


def stamp(client, result):
    """Give the session of a challenge another layer issued its AuthSessionValidity on the clock."""
    session = result.get("Session") if isinstance(result, dict) else None
    if not session or not result.get("ChallengeName"):
        return result
    now = clock.now()
    with _lock:
        if session not in _flows:  # this module's own sessions carry their expiry in the flow
            for stale in [s for s, expires in _deadlines.items() if expires + STALE_AFTER < now]:
                del _deadlines[stale]
            _deadlines[session] = now + session_seconds(client)
    return result


def check_deadline(backend, session):
    """Refuse an answer to a stamped session whose AuthSessionValidity has passed on the clock."""
    with _lock:
        expires = _deadlines.get(session or "")
        if expires is None or clock.now() <= expires:
            return
        del _deadlines[session]
    backend.sessions.pop(session, None)
    raise errors().NotAuthorizedError(EXPIRED_SESSION)


def new_flow(backend, pool, client, user, challenge, **state):
    """A fresh session whose next answer must be `challenge`; registered with moto so its lookups find it."""
    session = base64.b64encode(secrets.token_bytes(96)).decode()
    validity = session_seconds(client)
    now = clock.now()
    with _lock:
        # Kept a while past expiry, so a late answer hears "session is expired" rather than "invalid".
        for stale in [s for s, f in _flows.items() if f["expires"] + STALE_AFTER < now]:
            del _flows[stale]
            backend.sessions.pop(stale, None)
        _flows[session] = {"client": client.id, "pool": pool.id, "sub": user.id if user else None,
                           "username": user.username if user else None, "challenge": challenge,
                           "expires": now + validity, "attempts": 0, **state}
    backend.sessions[session] = (user.username if user else "", pool)
    return session


def retire(backend, session):
    """End a session: it answers nothing more."""
    with _lock:
        _flows.pop(session, None)
    backend.sessions.pop(session, None)


def challenge(backend, pool, client, user, name, parameters=None, **state):
    """A challenge response with a new session."""
    session = new_flow(backend, pool, client, user, name, **state)
    return {"ChallengeName": name, "Session": session,
            "ChallengeParameters": {"USERNAME": user.username if user else "", **(parameters or {})}}


def signed_in(backend, pool, client, user, session=None):
    """Tokens, from moto's own token functions (which other local_aws modules patch)."""
    if session:
        retire(backend, session)
    return backend._log_user_in(pool, client, user.username)


def discard_tokens(pool, result):
    """Forget tokens moto issued before an MFA decision overruled them."""
    tokens = (result or {}).get("AuthenticationResult") or {}
    pool.refresh_tokens.pop(tokens.get("RefreshToken"), None)
    pool.access_tokens.pop(tokens.get("AccessToken"), None)
    pool.id_tokens.pop(tokens.get("IdToken"), None)


# ---- what comes after the password

def mfa_challenge(backend, pool, client, user, name):
    """Send (for SMS and email) and ask for one MFA factor."""
    if name == "SOFTWARE_TOKEN_MFA":
        return challenge(backend, pool, client, user, name)
    code, parameters = deliver(pool, user, "sms" if name == "SMS_MFA" else "email")
    return challenge(backend, pool, client, user, name, parameters, code=code)


def next_after_password(backend, pool, client, user):
    """The one decision after a correct password: tokens, MFA_SETUP, an MFA factor or SELECT_MFA_TYPE."""
    if pool.mfa_config not in ("ON", "OPTIONAL"):
        return signed_in(backend, pool, client, user)
    factors = user_mfa_factors(pool, user)
    if not factors:
        if pool.mfa_config == "ON" and pool_mfa_factors(pool):
            return challenge(backend, pool, client, user, "MFA_SETUP",
                             {"MFAS_CAN_SETUP": json.dumps(pool_mfa_factors(pool))})
        return signed_in(backend, pool, client, user)
    if user.preferred_mfa_setting in factors:
        return mfa_challenge(backend, pool, client, user, user.preferred_mfa_setting)
    if len(factors) == 1:
        return mfa_challenge(backend, pool, client, user, factors[0])
    return challenge(backend, pool, client, user, "SELECT_MFA_TYPE", {"MFAS_CAN_CHOOSE": json.dumps(factors)},
                     choices=factors)


def after_password(backend, pool, client, user, result):
    """Replace moto's own post-password step (its MFA choice or tokens) with next_after_password's."""
    if user is None or result.get("ChallengeName") in ("NEW_PASSWORD_REQUIRED", "PASSWORD_VERIFIER"):
        return result
    discard_tokens(pool, result)
    if result.get("Session"):
        retire(backend, result["Session"])
    return next_after_password(backend, pool, client, user)


def new_password_required(backend, pool, user):
    """NEW_PASSWORD_REQUIRED after a correct temporary password, in a session moto answers."""
    session = base64.b64encode(secrets.token_bytes(96)).decode()
    backend.sessions[session] = (user.username, pool)
    attributes = {a["Name"]: a["Value"] for a in user.attributes if a["Name"] != "sub"}
    return {"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": session, "ChallengeParameters": {
        "USERNAME": user.username, "USER_ID_FOR_SRP": user.username, "requiredAttributes": "[]",
        "userAttributes": json.dumps(attributes)}}


# ---- USER_AUTH

def errors():
    """moto's exception classes, imported late as local_aws does."""
    from moto.cognitoidp import exceptions

    return exceptions


def start_factor(backend, pool, client, user, factor, params):
    """Begin a first factor: check a password sent along, start SRP, or send a code."""
    ex = errors()
    if factor == "PASSWORD":
        if not params.get("PASSWORD"):
            return challenge(backend, pool, client, user, "PASSWORD")
        if user is None or not user.password or not hmac.compare_digest(params["PASSWORD"], user.password):
            raise ex.NotAuthorizedError(WRONG_PASSWORD)
        if user.status == "FORCE_CHANGE_PASSWORD":
            return new_password_required(backend, pool, user)
        return next_after_password(backend, pool, client, user)
    if factor == "PASSWORD_SRP":
        if not params.get("SRP_A"):
            return challenge(backend, pool, client, user, "PASSWORD_SRP")

        def start_session(backend_, client_id, auth_flow, srp_params):
            """The session srp_challenge moves under its SECRET_BLOCK (user checks are done already)."""
            session = base64.b64encode(secrets.token_bytes(32)).decode()
            backend.sessions[session] = (user.username, pool)
            return {"Session": session}

        srp_params = {k: params[k] for k in ("USERNAME", "SRP_A", "SECRET_HASH") if params.get(k)}
        result = srp_challenge(backend, pool, client, srp_params, start_session)
        return dict(result, Session=result["ChallengeParameters"]["SECRET_BLOCK"])
    channel = "email" if factor == "EMAIL_OTP" else "sms"
    if user is None:  # an unknown user under PreventUserExistenceErrors: a challenge nothing answers
        return challenge(backend, pool, client, None, factor, {
            "CODE_DELIVERY_DELIVERY_MEDIUM": channel.upper(), "CODE_DELIVERY_DESTINATION": "***"}, code=None)
    code, parameters = deliver(pool, user, channel)
    return challenge(backend, pool, client, user, factor, parameters, code=code, first_factor=True)


def user_auth(backend, pool, client, params):
    """InitiateAuth USER_AUTH: the preferred first factor, else SELECT_CHALLENGE."""
    ex = errors()
    flows = client.extended_config.get("ExplicitAuthFlows") or []
    if "ALLOW_USER_AUTH" not in flows:
        raise ex.InvalidParameterException("USER_AUTH flow not enabled for this client")
    username = params.get("USERNAME")
    if not username:
        raise ex.InvalidParameterException("Missing required parameter USERNAME")
    preferred = params.get("PREFERRED_CHALLENGE")
    if preferred and preferred not in KNOWN_FIRST_FACTORS:
        raise ex.InvalidParameterException(
            f"1 validation error detected: Value '{preferred}' at 'PREFERRED_CHALLENGE' failed to satisfy "
            f"constraint: Member must satisfy enum value set: {list(KNOWN_FIRST_FACTORS)}")
    check_secret_hash(client, params, [username])
    user = pool._get_user(username)
    if user is None:
        if client.extended_config.get("PreventUserExistenceErrors") != "ENABLED":
            raise ex.UserNotFoundError("User does not exist.")
        # A plausible answer for a name that doesn't exist; every later answer is refused.
        allowed = sign_in_factors(pool)
        available = [f for f in FIRST_FACTORS if f in allowed or (f == "PASSWORD_SRP" and "PASSWORD" in allowed)]
        if preferred in available:
            return start_factor(backend, pool, client, None, preferred, params)
        return dict(challenge(backend, pool, client, None, "SELECT_CHALLENGE", available=available),
                    AvailableChallenges=available)
    if not user.enabled:
        raise ex.NotAuthorizedError("User is disabled.")
    if user.status == "UNCONFIRMED":
        raise ex.UserNotConfirmedException("User is not confirmed.")
    available = first_factors(pool, user)
    if preferred in available:
        return start_factor(backend, pool, client, user, preferred, params)
    if not available:
        raise ex.NotAuthorizedError(WRONG_PASSWORD)
    return dict(challenge(backend, pool, client, user, "SELECT_CHALLENGE", available=available),
                AvailableChallenges=available)


# ---- answers to this module's challenges

def take_flow(session, client, name):
    """The flow a session is in, checked for client, expiry and challenge name; errors as AWS words them."""
    ex = errors()
    with _lock:
        flow = _flows.get(session)
        if flow is None or flow["client"] != client.id:
            raise ex.NotAuthorizedError(INVALID_SESSION)
        if clock.now() > flow["expires"]:
            del _flows[session]
            raise ex.NotAuthorizedError(EXPIRED_SESSION)
        if flow["challenge"] != name:
            raise ex.InvalidParameterException(f"The session is for {flow['challenge']}, not {name}.")
        return flow


def check_code(backend, session, flow, user, name, sent):
    """Check a one-time code or TOTP; a wrong one counts against the session's attempts."""
    ex = errors()
    if not sent:
        raise ex.InvalidParameterException(f"Missing required parameter {CODE_KEYS[name]}")
    if name == "SOFTWARE_TOKEN_MFA":
        good = check_totp(getattr(user, "local_aws_totp_secret", None), sent)
    else:
        good = flow.get("code") is not None and hmac.compare_digest(flow["code"], str(sent))
    with _lock:
        if _flows.get(session) is not flow:
            raise ex.NotAuthorizedError(INVALID_SESSION)  # another answer used it meanwhile
        if good:
            del _flows[session]  # single use
            return
        flow["attempts"] += 1
        if flow["attempts"] >= MAX_CODE_ATTEMPTS:
            del _flows[session]
    if flow["attempts"] >= MAX_CODE_ATTEMPTS:
        backend.sessions.pop(session, None)
    raise ex.CodeMismatchException("Invalid code received for user")


def answer_own_challenge(backend, pool, client, session, name, responses):
    """RespondToAuthChallenge for a session this module issued."""
    ex = errors()
    flow = take_flow(session, client, name)
    username = responses.get("USERNAME")
    if not username:
        raise ex.InvalidParameterException("Missing required parameter USERNAME")
    user = pool._get_user(username)
    check_secret_hash(client, responses, [username, user and user.username])
    if flow["sub"] is None:  # the decoy of an unknown user
        retire(backend, session)
        raise ex.NotAuthorizedError(WRONG_PASSWORD)
    if user is None or user.id != flow["sub"]:
        raise ex.NotAuthorizedError(INVALID_SESSION)
    if name == "SELECT_CHALLENGE":
        answer = responses.get("ANSWER")
        if answer not in flow["available"]:
            raise ex.InvalidParameterException(f"The challenge {answer} is not available for this user.")
        retire(backend, session)
        return start_factor(backend, pool, client, user, answer, dict(responses, USERNAME=username))
    if name in ("PASSWORD", "PASSWORD_SRP"):
        retire(backend, session)
        key = "PASSWORD" if name == "PASSWORD" else "SRP_A"
        if not responses.get(key):
            raise ex.InvalidParameterException(f"Missing required parameter {key}")
        return start_factor(backend, pool, client, user, name, dict(responses, USERNAME=username))
    if name in CODE_KEYS:
        check_code(backend, session, flow, user, name, responses.get(CODE_KEYS[name]))
        if name in ("EMAIL_OTP", "SMS_OTP", "SMS_MFA"):
            # Receiving the code proves the address, as on AWS.
            user.update_attributes([{"Name": "email_verified" if name == "EMAIL_OTP" else "phone_number_verified",
                                     "Value": "true"}])
        return signed_in(backend, pool, client, user, session)
    if name == "SELECT_MFA_TYPE":
        answer = responses.get("ANSWER")
        if answer not in flow["choices"]:
            raise ex.InvalidParameterException(f"The MFA type {answer} is not available for this user.")
        retire(backend, session)
        return mfa_challenge(backend, pool, client, user, answer)
    # MFA_SETUP: only the session VerifySoftwareToken returned completes it.
    if not flow.get("verified"):
        raise ex.NotAuthorizedError(INVALID_SESSION)
    return signed_in(backend, pool, client, user, session)


# ---- software tokens

def user_of_access_token(backend, access_token):
    """(pool, user) an access token belongs to, or (None, None)."""
    for pool in backend.user_pools.values():
        if access_token and access_token in pool.access_tokens:
            return pool, pool._get_user(pool.access_tokens[access_token][1])
    return None, None


def setup_flow(backend, session):
    """(flow, pool, user) of an MFA_SETUP session, or NotAuthorizedException."""
    ex = errors()
    with _lock:
        flow = _flows.get(session)
    if flow is None or flow["challenge"] != "MFA_SETUP":
        raise ex.NotAuthorizedError(INVALID_SESSION)
    if clock.now() > flow["expires"]:
        retire(backend, session)
        raise ex.NotAuthorizedError(EXPIRED_SESSION)
    pool = backend.user_pools[flow["pool"]]
    return flow, pool, pool._get_user(flow["username"])


def renewed_setup_session(backend, session, flow, pool, user, verified_now=False):
    """MFA_SETUP goes on in a new session, as each step of AWS's flow returns one."""
    retire(backend, session)
    client = pool.clients[flow["client"]]
    return new_flow(backend, pool, client, user, "MFA_SETUP", verified=verified_now or flow.get("verified", False))


# ---- validation of usernames

def check_username(username):
    """Refuse what UsernameType refuses, in AWS's validation wording (the value is sensitive: not echoed)."""
    ex = errors()
    problems = []
    if username is not None:
        if username and not all(unicodedata.category(c)[0] in USERNAME_CATEGORIES for c in username):
            problems.append("Value at 'username' failed to satisfy constraint: Member must satisfy regular "
                            "expression pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+")
        if len(username) > 128:
            problems.append("Value at 'username' failed to satisfy constraint: Member must have length less "
                            "than or equal to 128")
    if problems:
        count = len(problems)
        raise ex.InvalidParameterException(
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems))


# ---- passwords

# Cognito's special characters; a space counts too, unless it leads or trails.
PASSWORD_SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-")


def password_problem(policy, password):
    """What Cognito says of a password under a pool's PasswordPolicy, or None when it conforms."""
    inner = password[1:-1]
    checks = (
        (len(password) >= policy.get("MinimumLength", 8), "Password not long enough"),
        (not policy.get("RequireLowercase") or any(ch.islower() for ch in password),
         "Password must have lowercase characters"),
        (not policy.get("RequireUppercase") or any(ch.isupper() for ch in password),
         "Password must have uppercase characters"),
        (not policy.get("RequireNumbers") or any(ch.isdigit() for ch in password),
         "Password must have numeric characters"),
        (not policy.get("RequireSymbols") or any(ch in PASSWORD_SYMBOLS for ch in password) or " " in inner,
         "Password must have symbol characters"),
    )
    return next((message for ok, message in checks if not ok), None)


def check_password(backend, user_pool_id, password):
    """Refuse a password the pool's policy refuses, as Cognito does (InvalidPasswordException)."""
    from moto.core.exceptions import JsonRESTError

    pool = backend.describe_user_pool(user_pool_id)
    problem = password_problem(pool.extended_config.get("Policies", {}).get("PasswordPolicy", {}), password)
    if problem:
        raise JsonRESTError("InvalidPasswordException", f"Password did not conform with policy: {problem}")


# ---- install

def install():
    """Wrap moto's Cognito (already wrapped by localaws.cognito_auth) with this module's sign-in."""
    from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUser
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult, EmptyResult

    ex = errors()
    initiate_auth = CognitoIdpBackend.initiate_auth
    admin_initiate_auth = CognitoIdpBackend.admin_initiate_auth
    respond = CognitoIdpBackend.respond_to_auth_challenge
    associate = CognitoIdpBackend.associate_software_token
    verify = CognitoIdpBackend.verify_software_token
    admin_create_user = CognitoIdpBackend.admin_create_user
    sign_up = CognitoIdpBackend.sign_up
    user_to_json = CognitoIdpUser.to_json
    create_user_pool = CognitoIdpBackend.create_user_pool
    update_user_pool = CognitoIdpBackend.update_user_pool
    set_preference = CognitoIdpBackend.admin_set_user_mfa_preference

    def signin_initiate_auth(self, client_id, auth_flow, auth_parameters):
        pool, client = find_pool_client(self, client_id)
        if pool is None:
            return initiate_auth(self, client_id, auth_flow, auth_parameters)
        params = dict(auth_parameters or {})
        if auth_flow == "USER_AUTH":
            return stamp(client, user_auth(self, pool, client, params))
        result = initiate_auth(self, client_id, auth_flow, params)
        if auth_flow == "USER_PASSWORD_AUTH":
            result = after_password(self, pool, client, pool._get_user(params.get("USERNAME") or ""), result)
        return stamp(client, result)

    def signin_admin_initiate_auth(self, user_pool_id, client_id, auth_flow, auth_parameters):
        result = admin_initiate_auth(self, user_pool_id, client_id, auth_flow, auth_parameters)
        pool = self.describe_user_pool(user_pool_id)
        if auth_flow in ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
            user = pool._get_user((auth_parameters or {}).get("USERNAME") or "")
            result = after_password(self, pool, pool.clients[client_id], user, result)
        return stamp(pool.clients[client_id], result)

    def signin_respond(self, session, client_id, challenge_name, challenge_responses):
        pool, client = find_pool_client(self, client_id)
        if pool is None:
            return respond(self, session, client_id, challenge_name, challenge_responses)
        responses = dict(challenge_responses or {})
        with _lock:
            ours = session in _flows
        if ours or challenge_name in OWN_CHALLENGES:
            if not ours:
                raise ex.NotAuthorizedError(INVALID_SESSION)
            result = answer_own_challenge(self, pool, client, session, challenge_name, responses)
            return stamp(client, result)
        check_deadline(self, session)
        result = respond(self, session, client_id, challenge_name, responses)
        if challenge_name in ("PASSWORD_VERIFIER", "NEW_PASSWORD_REQUIRED"):
            result = after_password(self, pool, client, pool._get_user(responses.get("USERNAME") or ""), result)
        return stamp(client, result)

    def signin_associate(self, access_token, session):
        if session:
            flow, pool, user = setup_flow(self, session)
            user.local_aws_totp_pending = new_totp_secret()
            return {"SecretCode": user.local_aws_totp_pending,
                    "Session": renewed_setup_session(self, session, flow, pool, user)}
        associate(self, access_token, session)  # moto's checks of the access token
        _, user = user_of_access_token(self, access_token)
        user.local_aws_totp_pending = new_totp_secret()
        return {"SecretCode": user.local_aws_totp_pending}

    def signin_verify(self, access_token, session, user_code, friendly_device_name):
        if session:
            flow, pool, user = setup_flow(self, session)
        else:
            pool, user = user_of_access_token(self, access_token)
            if user is None:
                return verify(self, access_token, session, user_code, friendly_device_name)  # its refusal
        pending = getattr(user, "local_aws_totp_pending", None)
        if not check_totp(pending, user_code):
            raise JsonRESTError("EnableSoftwareTokenMFAException", "Code mismatch")
        user.local_aws_totp_secret, user.local_aws_totp_pending = pending, None
        user.token_verified = True
        if session:
            user.software_token_mfa_enabled = True
            return {"Status": "SUCCESS",
                    "Session": renewed_setup_session(self, session, flow, pool, user, verified_now=True)}
        return verify(self, access_token, session, user_code, friendly_device_name)

    def pool_with_mfa_setting(self, name, extended_config):
        pool = create_user_pool(self, name, extended_config)
        pool.extended_config.pop("MfaConfiguration", None)  # moto keeps it in pool.mfa_config too
        return pool

    def update_honouring_mfa(self, user_pool_id, extended_config):
        update_user_pool(self, user_pool_id, extended_config)
        pool = self.describe_user_pool(user_pool_id)
        if extended_config.get("MfaConfiguration") in ("ON", "OFF", "OPTIONAL"):
            pool.mfa_config = extended_config["MfaConfiguration"]  # moto stored it and ignored it
        pool.extended_config.pop("MfaConfiguration", None)

    def checked_admin_create_user(self, user_pool_id, username, message_action, temporary_password, attributes):
        check_username(username)
        if temporary_password and message_action != "RESEND":
            check_password(self, user_pool_id, temporary_password)
        return admin_create_user(self, user_pool_id, username, message_action, temporary_password, attributes)

    def checked_sign_up(self, client_id, username, *args, **kwargs):
        check_username(username)
        return sign_up(self, client_id, username, *args, **kwargs)

    def to_json_with_email_mfa(self, extended=False, *args, **kwargs):
        result = user_to_json(self, extended, *args, **kwargs)
        if extended and getattr(self, "local_aws_email_mfa", False):
            result["UserMFASettingList"] = result["UserMFASettingList"] + ["EMAIL_OTP"]
        return result

    def apply_email_preference(backend, user_pool_id, username, settings, email_settings):
        """Set/AdminSetUserMFAPreference: moto's SMS and TOTP handling, plus EmailMfaSettings."""
        user = backend.admin_get_user(user_pool_id, username)
        before = user.preferred_mfa_setting
        set_preference(backend, user_pool_id, username, settings.get("SoftwareTokenMfaSettings"),
                       settings.get("SMSMfaSettings"))
        if before == "EMAIL_OTP" and not user.preferred_mfa_setting:
            user.preferred_mfa_setting = before  # moto clears any preference it doesn't know
        if email_settings:
            user.local_aws_email_mfa = bool(email_settings.get("Enabled"))
            if email_settings.get("PreferredMfa"):
                user.preferred_mfa_setting = "EMAIL_OTP"
            elif user.preferred_mfa_setting == "EMAIL_OTP":
                user.preferred_mfa_setting = ""
        if user.preferred_mfa_setting == "EMAIL_OTP" and not getattr(user, "local_aws_email_mfa", False):
            user.preferred_mfa_setting = ""

    def response_set_user_mfa_preference(self):
        backend = self._get_region_agnostic_backend()._find_backend_by_access_token(self._get_param("AccessToken"))
        pool, user = user_of_access_token(backend, self._get_param("AccessToken"))
        if user is None:
            raise ex.NotAuthorizedError("Invalid Access Token")
        apply_email_preference(backend, pool.id, user.username, self.parameters, self._get_param("EmailMfaSettings"))
        return EmptyResult()

    def response_admin_set_user_mfa_preference(self):
        apply_email_preference(self.backend, self._get_param("UserPoolId"), self._get_param("Username"),
                               self.parameters, self._get_param("EmailMfaSettings"))
        return EmptyResult()

    def response_set_user_pool_mfa_config(self):
        mfa = self._get_param("MfaConfiguration")
        sms, token, email = (self._get_param(k) for k in (
            "SmsMfaConfiguration", "SoftwareTokenMfaConfiguration", "EmailMfaConfiguration"))
        if mfa not in ("ON", "OFF", "OPTIONAL"):
            raise ex.InvalidParameterException("[MfaConfiguration] must be one of 'ON', 'OFF', or 'OPTIONAL'.")
        if sms is not None and "SmsConfiguration" not in sms:
            raise ex.InvalidParameterException("[SmsConfiguration] is a required member of [SmsMfaConfiguration].")
        enabled = bool(sms) or bool((token or {}).get("Enabled")) or email is not None
        if mfa in ("ON", "OPTIONAL") and not enabled:
            raise ex.InvalidParameterException("At least one of [SmsMfaConfiguration], "
                                               "[SoftwareTokenMfaConfiguration] or [EmailMfaConfiguration] "
                                               "must be enabled.")
        pool = self.backend.describe_user_pool(self._get_param("UserPoolId"))
        self.backend.set_user_pool_mfa_config(pool.id, sms, token, mfa)
        pool.local_aws_email_mfa_config = email
        return response_get_user_pool_mfa_config(self)

    def response_get_user_pool_mfa_config(self):
        pool = self.backend.describe_user_pool(self._get_param("UserPoolId"))
        result = self.backend.get_user_pool_mfa_config(pool.id)
        if getattr(pool, "local_aws_email_mfa_config", None) is not None:
            result["EmailMfaConfiguration"] = pool.local_aws_email_mfa_config
        return ActionResult({k: v for k, v in result.items() if v is not None})

    CognitoIdpBackend.initiate_auth = signin_initiate_auth
    CognitoIdpBackend.admin_initiate_auth = signin_admin_initiate_auth
    CognitoIdpBackend.respond_to_auth_challenge = signin_respond
    CognitoIdpBackend.associate_software_token = signin_associate
    CognitoIdpBackend.verify_software_token = signin_verify
    CognitoIdpBackend.create_user_pool = pool_with_mfa_setting
    CognitoIdpBackend.update_user_pool = update_honouring_mfa
    CognitoIdpBackend.admin_create_user = checked_admin_create_user
    CognitoIdpBackend._validate_password = check_password
    CognitoIdpBackend.sign_up = checked_sign_up
    CognitoIdpUser.to_json = to_json_with_email_mfa
    CognitoIdpResponse.set_user_mfa_preference = response_set_user_mfa_preference
    CognitoIdpResponse.admin_set_user_mfa_preference = response_admin_set_user_mfa_preference
    CognitoIdpResponse.set_user_pool_mfa_config = response_set_user_pool_mfa_config
    CognitoIdpResponse.get_user_pool_mfa_config = response_get_user_pool_mfa_config
