"""local_aws's app-client checks: which pool a client id is in, SECRET_HASH and ExplicitAuthFlows."""

EXPIRED_SESSION = "Invalid session for the user, session is expired."


def secret_hash(client, username):
    """SECRET_HASH = b64(HMAC-SHA256(client secret, username + client id))."""
    import base64
    import hashlib
    import hmac

    return base64.b64encode(hmac.new(client.secret.encode(), (username + client.id).encode(),
                                     hashlib.sha256).digest()).decode()


def check_secret_hash(client, params, usernames):
    """Require and check SECRET_HASH for a client with a secret; any of usernames may be hashed."""
    import hmac

    from moto.cognitoidp.exceptions import NotAuthorizedError

    if not client.generate_secret:
        return
    sent = params.get("SECRET_HASH")
    if not sent:
        raise NotAuthorizedError(f"Client {client.id} is configured with secret but SECRET_HASH was not received")
    if not any(hmac.compare_digest(sent, secret_hash(client, name)) for name in usernames if name):
        raise NotAuthorizedError(f"Unable to verify secret hash for client {client.id}")


def check_flow_enabled(client, auth_flow):
    """Refuse USER_SRP_AUTH / USER_PASSWORD_AUTH when the client's ExplicitAuthFlows exclude it."""
    from moto.cognitoidp.exceptions import InvalidParameterException

    flows = client.extended_config.get("ExplicitAuthFlows") or []
    legacy = not any(flow.startswith("ALLOW_") for flow in flows)
    if auth_flow == "USER_SRP_AUTH":
        # No flows at all means AWS's default set, which includes SRP; legacy flags imply it.
        if not (not flows or "ALLOW_USER_SRP_AUTH" in flows or (legacy and "CUSTOM_AUTH_FLOW_ONLY" not in flows)):
            raise InvalidParameterException("USER_SRP_AUTH is not enabled for the client.")
    elif auth_flow == "USER_PASSWORD_AUTH":
        if not {"ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"} & set(flows):
            raise InvalidParameterException("USER_PASSWORD_AUTH flow not enabled for this client")


def find_pool_client(backend, client_id):
    """(user pool, app client) of a client id in this backend, or (None, None)."""
    for pool in backend.user_pools.values():
        if client_id in pool.clients:
            return pool, pool.clients[client_id]
    return None, None


def session_seconds(client):
    """How long a sign-in step may wait for its answer: the app client's AuthSessionValidity (minutes)."""
    return int(client.extended_config.get("AuthSessionValidity") or 3) * 60
