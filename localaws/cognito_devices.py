"""localaws.cognito_devices: Cognito's remembered devices, with device SRP verified for real.

install() wraps moto's Cognito over localaws.cognito_tokens (order: localaws.server.INSTALLERS); its InitiateAuth
and RespondToAuthChallenge wrappers are the outermost ones, so they bind the tokens the inner layers issue.

What it adds to moto 5.2.1, as AWS does:
- A pool's DeviceConfiguration (CreateUserPool/UpdateUserPool; any value turns tracking on):
  a sign-in that ends in tokens without a known device gets NewDeviceMetadata {DeviceKey
  "<region>_<uuid>", DeviceGroupKey (one per user)} and its refresh token is bound to that device.
- ConfirmDevice (access token, DeviceSecretVerifierConfig {PasswordVerifier, Salt}, as
  amazon-cognito-identity-js's generateHashDevice and pycognito's generate_hash_device make them)
  stores the device's SRP verifier; UserConfirmationNecessary is true when
  DeviceOnlyRememberedOnUserPrompt is, and the device starts not_remembered; otherwise it is
  remembered at once. UpdateDeviceStatus, GetDevice, ListDevices, ForgetDevice and the Admin* variants.
- Sign-in with a remembered device: after PASSWORD_VERIFIER, when the InitiateAuth (or the
  PASSWORD_VERIFIER answer) carried the DEVICE_KEY of a remembered device of this user, the answer is
  DEVICE_SRP_AUTH instead of the MFA challenge (MFA is skipped, as AWS does). DEVICE_SRP_AUTH (SRP_A)
  gets DEVICE_PASSWORD_VERIFIER {SALT, SRP_B, SECRET_BLOCK}; the answer's PASSWORD_CLAIM_SIGNATURE is
  checked with SRP-6a over the device group key, device key and device password (the verifier stored by
  ConfirmDevice), and a wrong one is refused ("Incorrect username or password."). The tokens issued are
  bound to the device.
- A forgotten device's refresh tokens stop working ("Invalid Refresh Token").

Differences from AWS that remain:
- ChallengeRequiredOnNewDevice is stored and reported but changes nothing: there is no adaptive
  authentication, so a new device signs in with whatever the pool's MFA setting asks, as it would anyway.
- A confirmed but not remembered device goes through MFA and gets no device challenge.
- Device attributes are device_status, device_name and dev:device_remembered_status; no last_ip_used.
- The refusal messages for an unknown device key or a bad device session are best guesses.
"""

import base64
import secrets
import threading
import uuid

import localaws.cognito_signin
from localaws import clock, cognito_tokens, srp
from localaws.cognito_clients import EXPIRED_SESSION, check_secret_hash, find_pool_client, session_seconds
from localaws.cognito_records import confirmed, devices, records

PUBLIC = ("ConfirmDevice", "UpdateDeviceStatus", "GetDevice", "ListDevices", "ForgetDevice")
MFA_CHALLENGES = ("SOFTWARE_TOKEN_MFA", "SMS_MFA", "EMAIL_OTP", "SELECT_MFA_TYPE")
lock = threading.RLock()
srp_devices = {}     # SECRET_BLOCK of a PASSWORD_VERIFIER challenge -> DEVICE_KEY the InitiateAuth sent
session_devices = {}  # challenge Session -> DEVICE_KEY, while MFA or DEVICE_SRP_AUTH is pending
device_pending = {}  # SECRET_BLOCK of a DEVICE_PASSWORD_VERIFIER challenge -> what checks the proof


def tracking(pool):
    """The pool's DeviceConfiguration when device tracking is on, else None."""
    config = pool.extended_config.get("DeviceConfiguration")
    return config if config else None


def remembered(pool, device_key, user):
    """Whether device_key is a remembered device of this user: the one case that skips MFA."""
    device = devices(pool).get(device_key or "")
    return bool(tracking(pool) and device and user and device["sub"] == user.id
                and device["verifier"] is not None and device["status"] == "remembered")


def new_device(pool, user):
    """Hand out a new (unconfirmed) device: its NewDeviceMetadata."""
    now = clock.utcnow()
    group = next((d["group_key"] for d in devices(pool).values() if d["sub"] == user.id),
                 "-" + secrets.token_urlsafe(6))
    key = f"{pool.region}_{uuid.uuid4()}"
    devices(pool)[key] = {"key": key, "group_key": group, "sub": user.id, "verifier": None, "salt": None,
                          "status": "not_remembered", "name": None, "created": now, "modified": now,
                          "last_auth": now}
    return {"DeviceKey": key, "DeviceGroupKey": group}


def bind(pool, result, user, device_key):
    """Tokens just issued: bind the refresh token to the device, handing out a new one when needed."""
    tokens = result.get("AuthenticationResult") if isinstance(result, dict) else None
    if not tokens or not tracking(pool) or user is None:
        return result
    with lock:
        if confirmed(pool, device_key, user.username):
            devices(pool)[device_key]["last_auth"] = clock.utcnow()
        else:
            tokens["NewDeviceMetadata"] = new_device(pool, user)
            device_key = tokens["NewDeviceMetadata"]["DeviceKey"]
        record = records(pool).get(tokens.get("RefreshToken"))
        if record is not None:
            record["device_key"] = device_key
    return result


def after_initiate(backend, pool, client, params, result):
    """InitiateAuth's answer: remember the DEVICE_KEY for the SRP challenge, or bind tokens issued at once."""
    if pool is None or not isinstance(result, dict):
        return result
    device_key = params.get("DEVICE_KEY")
    block = (result.get("ChallengeParameters") or {}).get("SECRET_BLOCK")
    with lock:
        if device_key and block:
            srp_devices[block] = device_key
        elif device_key and result.get("Session"):
            session_devices[result["Session"]] = device_key
    return bind(pool, result, pool._get_user(params.get("USERNAME") or ""), device_key)


def device_session(backend, pool, client, user, device_key, result):
    """Replace an MFA challenge (or tokens) after PASSWORD_VERIFIER with DEVICE_SRP_AUTH."""
    tokens = result.get("AuthenticationResult") or {}
    if tokens.get("RefreshToken"):
        pool.refresh_tokens[tokens["RefreshToken"]] = None  # never handed out
    for kind in ("access_tokens", "id_tokens"):
        getattr(pool, kind).pop(tokens.get("AccessToken" if kind == "access_tokens" else "IdToken"), None)
    if result.get("Session"):
        # The inner layers' MFA challenge ends unanswered. (For SMS or email MFA its code is already in
        # the outbox, which AWS, deciding on the device first, would not have sent.)
        localaws.cognito_signin.retire(backend, result["Session"])
    session = str(uuid.uuid4())
    backend.sessions[session] = (user.username, pool)
    session_devices[session] = device_key
    return localaws.cognito_signin.stamp(client, {"ChallengeName": "DEVICE_SRP_AUTH", "Session": session,
                                                  "ChallengeParameters": {}})


def device_srp_auth(backend, pool, client, session, responses):
    """DEVICE_SRP_AUTH: the server's half of SRP for the device, as a DEVICE_PASSWORD_VERIFIER challenge."""
    from moto.cognitoidp.exceptions import InvalidParameterException, NotAuthorizedError

    for name in ("USERNAME", "DEVICE_KEY", "SRP_A"):
        if not responses.get(name):
            raise InvalidParameterException(f"Missing required parameter {name}")
    localaws.cognito_signin.check_deadline(backend, session)
    user = session_user(backend, pool, client, session, responses)
    device_key = responses["DEVICE_KEY"]
    with lock:
        if (session and session_devices.get(session) != device_key) or not remembered(pool, device_key, user):
            raise NotAuthorizedError("Invalid device key given.")
        device = devices(pool)[device_key]
    n = srp.srp_n()
    try:
        a_value = int(responses["SRP_A"], 16)
    except ValueError:
        a_value = 0
    if a_value % n == 0:
        raise InvalidParameterException("SRP_A is invalid.")
    b_secret = srp.srp_server_secret()
    k = srp.hash_hex(srp.pad(n) + srp.pad(srp.SRP_G))
    b_public = (k * device["verifier"] + pow(srp.SRP_G, b_secret, n)) % n
    block = base64.b64encode(secrets.token_bytes(64)).decode()
    validity = session_seconds(client)
    with lock:
        now = clock.now()
        for stale in [b for b, p in device_pending.items() if p["expires"] < now]:
            del device_pending[stale]
        device_pending[block] = {"session": session, "device_key": device_key, "sub": user.id, "a": a_value,
                                 "b_public": b_public, "b_secret": b_secret, "expires": now + validity}
    return {"ChallengeName": "DEVICE_PASSWORD_VERIFIER", "Session": session, "ChallengeParameters": {
        "SALT": device["salt"], "SRP_B": f"{b_public:x}", "SECRET_BLOCK": block,
        "USERNAME": user.username, "DEVICE_KEY": device_key}}


def device_password_verifier(backend, pool, client, session, responses):
    """DEVICE_PASSWORD_VERIFIER: check the device's proof, then issue tokens bound to the device."""
    import binascii
    import hashlib
    import hmac

    from moto.cognitoidp.exceptions import InvalidParameterException, NotAuthorizedError

    for name in ("USERNAME", "PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE", "TIMESTAMP", "DEVICE_KEY"):
        if not responses.get(name):
            raise InvalidParameterException(f"Missing required parameter {name}")
    user = session_user(backend, pool, client, session, responses)
    block = responses["PASSWORD_CLAIM_SECRET_BLOCK"]
    with lock:
        pending = device_pending.pop(block, None)  # single use, whatever the outcome
    if pending is None or (session and pending["session"] != session) or pending["sub"] != user.id \
            or pending["device_key"] != responses["DEVICE_KEY"]:
        raise NotAuthorizedError("Invalid session for the user.")
    if clock.now() > pending["expires"]:
        raise NotAuthorizedError(EXPIRED_SESSION)
    timestamp = srp.canonical_timestamp(responses["TIMESTAMP"])
    with lock:
        device = devices(pool).get(pending["device_key"])
        if device is None:
            raise NotAuthorizedError("Invalid device key given.")
        verifier, group = device["verifier"], device["group_key"]
    key = srp.srp_session_key(pending["a"], pending["b_public"], pending["b_secret"], verifier)
    message = (group + pending["device_key"]).encode() + base64.b64decode(block) + timestamp.encode()
    try:
        claimed = base64.b64decode(responses["PASSWORD_CLAIM_SIGNATURE"], validate=True)
    except (binascii.Error, ValueError):
        claimed = b""
    if key is None or not hmac.compare_digest(hmac.new(key, message, hashlib.sha256).digest(), claimed):
        raise NotAuthorizedError("Incorrect username or password.")
    with lock:
        for held in (session, pending["session"]):
            backend.sessions.pop(held or "", None)
            session_devices.pop(held or "", None)
    return bind(pool, backend._log_user_in(pool, client, user.username), user, pending["device_key"])


def session_user(backend, pool, client, session, responses):
    """The user answering a device challenge; with a Session (optional: pycognito and other SDKs send none,
    and AWS serves them), it must be the one issued, for the same user. SECRET_HASH is checked."""
    from moto.cognitoidp.exceptions import NotAuthorizedError

    user = pool._get_user(responses.get("USERNAME") or "")
    if user is None:
        raise NotAuthorizedError("Incorrect username or password.")
    if session:
        held = backend.sessions.get(session)
        owner = held and pool._get_user(held[0])
        if owner is None or user.id != owner.id:
            raise NotAuthorizedError("Invalid session for the user.")
    check_secret_hash(client, responses, [responses.get("USERNAME"), user.username])
    return user


# ---- device operations (methods of CognitoIdpResponse)

def device_json(device):
    """A device as GetDevice and ListDevices describe it."""
    attributes = {"device_status": "valid", "device_name": device["name"],
                  "dev:device_remembered_status": device["status"]}
    return {"DeviceKey": device["key"],
            "DeviceAttributes": [{"Name": k, "Value": v} for k, v in attributes.items() if v is not None],
            "DeviceCreateDate": device["created"], "DeviceLastModifiedDate": device["modified"],
            "DeviceLastAuthenticatedDate": device["last_auth"]}


def caller(response):
    """(pool, user, params) of a device operation: by AccessToken, or UserPoolId+Username for Admin*."""
    import json

    params = json.loads(response.body or "{}")
    if "AccessToken" in params:
        pool, user = cognito_tokens.user_of_access_token(params["AccessToken"])
    else:
        pool = response.backend.describe_user_pool(params.get("UserPoolId"))
        user = response.backend.admin_get_user(pool.id, params.get("Username"))
    return pool, user, params


def users_device(pool, user, device_key):
    """The user's device of that key; ResourceNotFoundException otherwise."""
    from moto.cognitoidp.exceptions import ResourceNotFoundError

    device = devices(pool).get(device_key or "")
    if device is None or device["sub"] != user.id:
        raise ResourceNotFoundError("Device does not exist.")
    return device


def confirm_device(self):
    """ConfirmDevice: store the device's SRP verifier; remembered at once unless the pool asks the user."""
    from moto.cognitoidp.exceptions import InvalidParameterException
    from moto.core.responses import ActionResult

    pool, user, params = caller(self)
    config = params.get("DeviceSecretVerifierConfig") or {}
    try:
        verifier = int(base64.b64decode(config["PasswordVerifier"], validate=True).hex(), 16)
        salt = base64.b64decode(config["Salt"], validate=True).hex()
    except (KeyError, TypeError, ValueError):
        raise InvalidParameterException("DeviceSecretVerifierConfig needs a base64 PasswordVerifier and Salt")
    if not salt or verifier % srp.srp_n() == 0:
        raise InvalidParameterException("DeviceSecretVerifierConfig needs a base64 PasswordVerifier and Salt")
    ask = bool((tracking(pool) or {}).get("DeviceOnlyRememberedOnUserPrompt"))
    with lock:
        device = users_device(pool, user, params.get("DeviceKey"))
        device.update(verifier=verifier, salt=salt, name=params.get("DeviceName"), modified=clock.utcnow(),
                      status="not_remembered" if ask else "remembered")
    return ActionResult({"UserConfirmationNecessary": ask})


def update_device_status(self):
    """UpdateDeviceStatus / AdminUpdateDeviceStatus: remembered or not_remembered."""
    from moto.cognitoidp.exceptions import InvalidParameterException
    from moto.core.responses import EmptyResult

    pool, user, params = caller(self)
    status = params.get("DeviceRememberedStatus")
    if status not in ("remembered", "not_remembered"):
        raise InvalidParameterException("DeviceRememberedStatus must be remembered or not_remembered")
    with lock:
        users_device(pool, user, params.get("DeviceKey")).update(status=status, modified=clock.utcnow())
    return EmptyResult()


def get_device(self):
    """GetDevice / AdminGetDevice."""
    from moto.core.responses import ActionResult

    pool, user, params = caller(self)
    with lock:
        return ActionResult({"Device": device_json(users_device(pool, user, params.get("DeviceKey")))})


def list_devices(self):
    """ListDevices / AdminListDevices: the user's confirmed devices (no paging)."""
    from moto.core.responses import ActionResult

    pool, user, _ = caller(self)
    with lock:
        found = [device_json(d) for d in devices(pool).values() if d["sub"] == user.id and d["verifier"] is not None]
    return ActionResult({"Devices": found})


def forget_device(self):
    """ForgetDevice / AdminForgetDevice: the device is gone, and its refresh tokens with it."""
    from moto.core.responses import EmptyResult

    pool, user, params = caller(self)
    with lock:
        del devices(pool)[users_device(pool, user, params.get("DeviceKey"))["key"]]
    return EmptyResult()


def install():
    """Wrap InitiateAuth and RespondToAuthChallenge (outermost) and add the device operations."""
    from moto.cognitoidp.models import CognitoIdpBackend
    from moto.cognitoidp.responses import CognitoIdpResponse
    from moto.core.authorization import ActionAuthenticatorMixin

    initiate_auth = CognitoIdpBackend.initiate_auth
    respond = CognitoIdpBackend.respond_to_auth_challenge

    def device_initiate_auth(self, client_id, auth_flow, auth_parameters):
        """A sign-in's answer carries its DEVICE_KEY on, or binds its tokens; a refresh's tokens stay bound."""
        result = initiate_auth(self, client_id, auth_flow, auth_parameters)
        if auth_flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            return result
        pool, client = find_pool_client(self, client_id)
        return after_initiate(self, pool, client, dict(auth_parameters or {}), result)

    def device_respond(self, session, client_id, challenge_name, challenge_responses):
        pool, client = find_pool_client(self, client_id)
        if pool is None:
            return respond(self, session, client_id, challenge_name, challenge_responses)
        responses = dict(challenge_responses or {})
        if challenge_name == "DEVICE_SRP_AUTH":
            return device_srp_auth(self, pool, client, session, responses)
        if challenge_name == "DEVICE_PASSWORD_VERIFIER":
            return device_password_verifier(self, pool, client, session, responses)
        with lock:
            device_key = (responses.get("DEVICE_KEY") or session_devices.pop(session or "", None)
                          or srp_devices.pop(responses.get("PASSWORD_CLAIM_SECRET_BLOCK") or "", None))
        result = respond(self, session, client_id, challenge_name, challenge_responses)
        user = pool._get_user(responses.get("USERNAME") or "")
        if challenge_name == "PASSWORD_VERIFIER" and remembered(pool, device_key, user) and (
                result.get("ChallengeName") in MFA_CHALLENGES or "AuthenticationResult" in result):
            with lock:
                return device_session(self, pool, client, user, device_key, result)
        if device_key and result.get("Session"):
            with lock:
                session_devices[result["Session"]] = device_key  # carried on to the MFA answer
        return bind(pool, result, user, device_key)

    CognitoIdpBackend.initiate_auth = device_initiate_auth
    CognitoIdpBackend.respond_to_auth_challenge = device_respond
    ActionAuthenticatorMixin.PUBLIC_OPERATIONS += [f"AWSCognitoIdentityProviderService.{op}" for op in PUBLIC]
    CognitoIdpResponse.confirm_device = confirm_device
    for name, method in (("update_device_status", update_device_status), ("get_device", get_device),
                         ("list_devices", list_devices), ("forget_device", forget_device)):
        setattr(CognitoIdpResponse, name, method)
        setattr(CognitoIdpResponse, "admin_" + name, method)  # same work, by UserPoolId and Username
