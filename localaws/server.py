"""local_aws's server: moto patched in this process, on 127.0.0.1; `python local_aws.py` runs serve().

Every patch is installed from INSTALLERS, in its order: most of them wrap what an earlier one patched
(InitiateAuth is wrapped four times), so the order is part of the behaviour. Each module's docstring says
what it adds and what still differs from AWS.
"""

import json
import os
import signal
import threading

from localaws import (cognito_auth, cognito_devices, cognito_identity, cognito_signin, cognito_tokens, credentials,
                      iam_enforcement, iam_policy, iam_simulate, identity_pools, managed_login, policy_language, s3)
from localaws import clock  # noqa: F401  (registers /_local_aws/clock)
from localaws.observatory import Observatory

ADMIN_USER = "local-aws-admin"


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
    """werkzeug's request handler, without its line per request on stderr, keeping HTTP/1.1 connections
    open between requests as S3 and Cognito do.

    Tests pipe stderr without reading it; a line per request would fill the pipe and hang the server. The
    request log (localaws.observatory) replaces it; errors are still written.

    werkzeug 3 answers every request with "Connection: close", even under HTTP/1.1: http.server can't tell
    where a request body the app left unread ends and the next request begins. So every request paid a TCP
    connect and a server thread of its own, for every client alike. Here the app reads the body through a
    LimitedStream of its Content-Length, and what it left unread is read after the answer, so the next request
    starts where http.server reads it. A chunked body, whose end only its own framing tells, still closes, and
    so does an HTTP/1.0 request.
    """
    from werkzeug.serving import WSGIRequestHandler
    from werkzeug.wsgi import LimitedStream

    class QuietRequestHandler(WSGIRequestHandler):
        """One connection's requests, in turn, on one thread."""
        protocol_version = "HTTP/1.1"
        body = None  # the request's body while the connection is kept open; None: werkzeug's own close

        def log_request(self, *args, **kwargs):
            """No line per request (see quiet_request_handler)."""

        def handle_expect_100(self):
            """Send no "100 Continue" here: werkzeug's run_wsgi sends its own, and a client would get two."""
            return True

        def run_wsgi(self):
            """Answer one request; keep the connection when its body's end is known and was reached."""
            length = self.headers.get("Content-Length", "0").strip()
            # HTTP/1.0's keep-alive would need its own "Connection: keep-alive" answer: such a client is closed.
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower() or not length.isdigit() \
                    or self.request_version != "HTTP/1.1":
                return super().run_wsgi()
            connection = self.rfile
            # werkzeug's own drain after the answer reads this stream too, so it stops at the body's end.
            self.rfile = self.body = LimitedStream(connection, int(length))
            try:
                super().run_wsgi()
                self.body.exhaust()
            except Exception:  # the client left mid-body: this connection has nothing more to read
                self.close_connection = True
            finally:
                self.rfile, self.body = connection, None

        def send_header(self, keyword, value):
            """Every header but werkzeug's "Connection: close" on a connection kept open."""
            if self.body is not None and not self.close_connection and keyword.lower() == "connection" \
                    and value.lower() == "close":
                return
            super().send_header(keyword, value)

    return QuietRequestHandler


def list_moto_modules_once():
    """moto lists its own package folder on every request, inside a lock all requests share;
    the folder can't change while the server runs, so list it once."""
    from moto import backends

    modules = frozenset(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

# Every patch local_aws makes to moto, in the order installed. A later installer that patches the same method
# wraps the earlier one, so it runs first on a request and sees the inner layers' answer last.
INSTALLERS = [
    (list_moto_modules_once, "speed only; before any request"),
    # S3: checksums, then fidelity over them, the IAM action per request, DeleteObjects per key (localaws.s3).
    (s3.install, "no other installer patches S3's classes"),
    # Cognito user pools: four layers around InitiateAuth and RespondToAuthChallenge, inner to outer.
    (cognito_auth.install, "innermost: real SRP, SECRET_HASH, ExplicitAuthFlows, a session answers for its own user"),
    (cognito_signin.install, "over cognito_auth: USER_AUTH, codes and the MFA decision need the password checked"),
    (cognito_tokens.install, "over the sign-in: refresh tokens are checked before a layer issues anything, and "
                             "its create_jwt (keys, expiry) replaces moto's"),
    (cognito_devices.install, "outermost: binds the tokens the inner layers finally issue to a device, and replaces "
                              "an MFA challenge they ask with DEVICE_SRP_AUTH"),
    (managed_login.install, "after cognito_tokens: wraps its create_jwt with the managed login's claims"),
    # IAM: the signature, then what a signed caller may do.
    (iam_enforcement.install, "wraps moto's signature check: unsigned requests denied, keys with ':' signed right"),
    (iam_policy.install, "replaces moto's policy evaluation (statements and the request's decision)"),
    (policy_language.install, "IAMPolicy, around iam_policy's statements: a policy's Version decides whether "
                              "${...} are variables; also which Versions IAM stores"),
    (iam_simulate.install, "Simulate*Policy on the evaluator iam_policy and policy_language installed"),
    # Cognito identity pools: new operations and answers, no wrapping, so their place is free.
    (cognito_identity.install, "GetId, GetCredentialsForIdentity and the pool's roles"),
    (identity_pools.install, "AllowClassicFlow and principal tags"),
    (credentials.install, "after iam_enforcement, which it wraps: a presigned URL has no Authorization header, "
                          "and an expired session is refused before its signature is checked"),
]


def install_all():
    """Patch moto with every installer, in INSTALLERS' order."""
    for install, _why in INSTALLERS:
        install()


def serve(port, latency_ms=0):
    """Start moto on 127.0.0.1:port, print the interface line and block until stopped."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    # AWS's managed policies (arn:aws:iam::aws:policy/...), as moto ships them, in every account's IAM:
    # attachable, enforced and simulated like any policy. Costs about 0.3 s per account at first use.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    key = create_admin(DEFAULT_ACCOUNT_ID)
    install_all()
    app = DomainDispatcherApplication(create_backend_app)
    app = Observatory(s3.with_request_ids(app), latency_ms / 1000)
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
