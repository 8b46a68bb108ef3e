"""local_aws's server: moto patched in this process, on 127.0.0.1."""

import json
import os
import signal
import sys
import threading

import localaws
import localaws.clock  # noqa: F401  (registers /_local_aws/clock)
import localaws.cognito_signin  # registers /_local_aws/messages
import localaws.cognito_tokens
import localaws.credentials
import localaws.s3
import localaws.s3_actions
import localaws.managed_login
from localaws.cognito_auth import patch_cognito
from localaws.cognito_clients import check_secret_hash, find_pool_client, secret_hash  # noqa: F401
from localaws.iam_enforcement import enforce_iam
from localaws.observatory import Observatory
from localaws.s3 import patch_s3
from localaws.srp import (SRP_G, canonical_timestamp, hash_hex, pad, srp_challenge,  # noqa: F401
                          srp_n, srp_session_key)

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


def quiet_request_handler():
    """werkzeug's request handler minus its line per request on stderr.

    Tests pipe stderr without reading it; a line per request would fill the pipe and hang
    the server. The request log above replaces it; errors are still written.
    """
    from werkzeug.serving import WSGIRequestHandler

    return type("QuietRequestHandler", (WSGIRequestHandler,), {"log_request": lambda self, *a, **k: None})


# ---- dispatch speed

def list_moto_modules_once():
    """moto lists its own package folder on every request, inside a lock all requests share;
    the folder can't change while the server runs, so list it once."""
    from moto import backends

    modules = frozenset(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


# ---------------------------------------------------------------- server

def serve(port, latency_ms=0):
    """Start moto on 127.0.0.1:port, print the interface line and block until stopped."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    # AWS's managed policies (arn:aws:iam::aws:policy/...), as moto ships them, in every account's IAM:
    # attachable, enforced and simulated like any policy. Costs about 0.3 s per account at first use.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    key = create_admin(DEFAULT_ACCOUNT_ID)
    list_moto_modules_once()
    patch_s3()
    patch_cognito()
    localaws.cognito_signin.install(sys.modules[__name__])  # USER_AUTH, one-time codes, MFA
    # Outermost Cognito layer: keys, token expiry, rotation, revocation, remembered devices.
    localaws.cognito_tokens.install(sys.modules[__name__])
    localaws.managed_login.install(sys.modules[__name__])  # managed login at user pool domains, OIDC federation
    enforce_iam()
    localaws.s3.install()  # after patch_s3 and enforce_iam: wraps what they patched
    localaws.s3_actions.install()  # AWS's IAM action for every S3 request
    localaws.credentials.install()
    app = DomainDispatcherApplication(create_backend_app)
    app = Observatory(localaws.s3.with_request_ids(app), latency_ms / 1000)
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=quiet_request_handler())
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
