"""local_aws's Cognito USER_SRP_AUTH: the server half of SRP-6a, verified for real."""

import threading

import localaws.clock
from localaws.cognito_clients import EXPIRED_SESSION, check_secret_hash, session_seconds

# ---- Cognito: SRP verified for real, SECRET_HASH, auth flows, TOTP

# The server half of Cognito's SRP-6a as amazon-cognito-identity-js and pycognito speak it.
# Integers travel as hex; pad() is their padHex (even length, a leading 00 when the top bit is set).
SRP_G = 2
SRP_TIMESTAMP_ERROR = "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english."
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
srp_lock = threading.Lock()
srp_salts = {}    # (pool id, sub) -> the user's salt, hex, fixed for the server's life
srp_pending = {}  # SECRET_BLOCK -> what RespondToAuthChallenge needs to check the proof


def srp_n():
    """The 3072-bit group prime shared by every Cognito SRP client."""
    from pycognito.aws_srp import N_HEX

    return int(N_HEX, 16)


def pad(value):
    """Hex of an integer (or hex string) as Cognito hashes it: even length, never negative-looking."""
    text = value if isinstance(value, str) else f"{value:x}"
    if len(text) % 2:
        return "0" + text
    return "00" + text if text[0] in "89abcdefABCDEF" else text


def hash_hex(hex_text):
    """SHA-256 of the bytes a hex string spells, as an integer."""
    import hashlib

    return int(hashlib.sha256(bytes.fromhex(hex_text)).hexdigest(), 16)


def srp_verifier(pool_id, user_id_for_srp, password, salt):
    """v = g^x mod N, x = H(pad(salt) | H(pool suffix + user id + ":" + password))."""
    import hashlib

    inner = hashlib.sha256(f"{pool_id.split('_', 1)[1]}{user_id_for_srp}:{password}".encode()).hexdigest()
    return pow(SRP_G, hash_hex(pad(salt) + inner), srp_n())


def srp_server_secret():
    """The server's secret exponent b of one SRP exchange: 256 random bits, RFC 5054's minimum for b.

    A client can't tell its size (it sees only B = k*v + g^b mod N), and the proof is checked in full either
    way; a b as long as N (3072 bits) made g^b and S = (A*v^u)^b about 0.16 s of local_aws CPU per sign-in,
    the larger part of its CPU in the tests, which sign in hundreds of times. Cognito's clients draw their
    own a as 1024 bits (pycognito, amazon-cognito-identity-js).
    """
    import secrets

    return secrets.randbits(256) | 1  # odd, so never 0


def srp_session_key(a_value, b_public, b_secret, verifier):
    """The 16-byte key both sides derive: HKDF(pad(S), salt=pad(u), "Caldera Derived Key")."""
    import hashlib
    import hmac

    n = srp_n()
    u = hash_hex(pad(a_value) + pad(b_public))
    if u == 0:
        return None
    s = pow(a_value * pow(verifier, u, n), b_secret, n)
    prk = hmac.new(bytes.fromhex(pad(u)), bytes.fromhex(pad(s)), hashlib.sha256).digest()
    return hmac.new(prk, b"Caldera Derived Key\x01", hashlib.sha256).digest()[:16]


def canonical_timestamp(text):
    """Cognito's TIMESTAMP, re-rendered as it is signed ("Mon Nov 2 ..."); bad format is refused.

    A zero-padded day parses but is signed without the zero, so its signature fails, as on AWS.
    """
    import datetime
    import re

    from moto.cognitoidp.exceptions import InvalidParameterException

    m = re.fullmatch(r"(\w{3}) (\w{3}) (\d{1,2}) (\d\d):(\d\d):(\d\d) UTC (\d{4})", text or "")
    if not m or m[1] not in WEEKDAYS or m[2] not in MONTHS:
        raise InvalidParameterException(SRP_TIMESTAMP_ERROR)
    try:
        datetime.datetime(int(m[7]), MONTHS.index(m[2]) + 1, int(m[3]), int(m[4]), int(m[5]), int(m[6]))
    except ValueError:
        raise InvalidParameterException(SRP_TIMESTAMP_ERROR) from None
    return f"{m[1]} {m[2]} {int(m[3])} {m[4]}:{m[5]}:{m[6]} UTC {m[7]}"


def srp_challenge(backend, pool, client, params, initiate_auth):
    """InitiateAuth USER_SRP_AUTH: a PASSWORD_VERIFIER challenge from the user's real verifier."""
    import base64
    import secrets

    from moto.cognitoidp.exceptions import InvalidParameterException, UserNotFoundError

    username, srp_a = params.get("USERNAME"), params.get("SRP_A")
    for name, value in (("USERNAME", username), ("SRP_A", srp_a)):
        if not value:
            raise InvalidParameterException(f"Missing required parameter {name}")
    n = srp_n()
    try:
        a_value = int(srp_a, 16)
    except ValueError:
        a_value = 0
    if a_value % n == 0:
        raise InvalidParameterException("SRP_A is invalid.")
    check_secret_hash(client, params, [username])
    user = pool._get_user(username)
    if user is None and client.extended_config.get("PreventUserExistenceErrors") != "ENABLED":
        raise UserNotFoundError("User does not exist.")
    b_secret = srp_server_secret()
    block = base64.b64encode(secrets.token_bytes(64)).decode()
    if user is None:
        # AWS answers an unknown user with a plausible challenge and refuses the proof later.
        salt, verifier, user_id_for_srp = secrets.token_hex(16), secrets.randbelow(n), username
    else:
        session = initiate_auth(backend, client.id, "USER_SRP_AUTH", params)["Session"]  # moto's checks
        with srp_lock:
            salt = srp_salts.setdefault((pool.id, user.id), pad(secrets.token_hex(16)))
        user_id_for_srp = user.username
        # A user without a password (none set yet) gets a verifier no password matches.
        verifier = srp_verifier(pool.id, user_id_for_srp, user.password, salt) if user.password \
            else secrets.randbelow(n)
        backend.sessions[block] = backend.sessions.pop(session)
    k = hash_hex(pad(n) + pad(SRP_G))
    b_public = (k * verifier + pow(SRP_G, b_secret, n)) % n
    with srp_lock:
        now = localaws.clock.now()  # the step expires on local_aws's clock, which POST /_local_aws/clock moves
        for stale in [b for b, p in srp_pending.items() if p["expires"] < now]:
            del srp_pending[stale]  # challenges nobody answered
        srp_pending[block] = {
            "client_id": client.id, "sub": user.id if user else None, "user_id_for_srp": user_id_for_srp,
            "a": a_value, "b_public": b_public, "b_secret": b_secret, "verifier": verifier,
            "expires": now + session_seconds(client),
        }
    return {"ChallengeName": "PASSWORD_VERIFIER", "ChallengeParameters": {
        "SALT": salt, "SRP_B": f"{b_public:x}", "SECRET_BLOCK": block,
        "USER_ID_FOR_SRP": user_id_for_srp, "USERNAME": user_id_for_srp,
    }}


def srp_verify(backend, pool, client, responses):
    """Check a PASSWORD_VERIFIER answer: the secret block, the TIMESTAMP and the password proof."""
    import base64
    import binascii
    import hashlib
    import hmac

    from moto.cognitoidp.exceptions import InvalidParameterException, NotAuthorizedError

    for name in ("USERNAME", "PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE", "TIMESTAMP"):
        if not responses.get(name):
            raise InvalidParameterException(f"Missing required parameter {name}")
    block = responses["PASSWORD_CLAIM_SECRET_BLOCK"]
    with srp_lock:
        pending = srp_pending.pop(block, None)  # single use, whatever the outcome
    if pending is None or pending["client_id"] != client.id:
        raise NotAuthorizedError("Invalid session for the user.")
    if localaws.clock.now() > pending["expires"]:
        backend.sessions.pop(block, None)
        raise NotAuthorizedError(EXPIRED_SESSION)
    user = pool._get_user(responses["USERNAME"])
    check_secret_hash(client, responses, [responses["USERNAME"], user and user.username])
    timestamp = canonical_timestamp(responses["TIMESTAMP"])
    key = srp_session_key(pending["a"], pending["b_public"], pending["b_secret"], pending["verifier"])
    message = (pool.id.split("_", 1)[1] + pending["user_id_for_srp"]).encode() \
        + base64.b64decode(block) + timestamp.encode()
    try:
        claimed = base64.b64decode(responses["PASSWORD_CLAIM_SIGNATURE"], validate=True)
    except (binascii.Error, ValueError):
        claimed = b""
    if (key is None or user is None or user.id != pending["sub"]
            or not hmac.compare_digest(hmac.new(key, message, hashlib.sha256).digest(), claimed)):
        backend.sessions.pop(block, None)
        raise NotAuthorizedError("Incorrect username or password.")
