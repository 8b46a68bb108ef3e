"""local_aws.py: a local AWS for cog_auth_s3's demo and tests, built on moto.

Usage:
    python local_aws.py [--port N]

It listens on 127.0.0.1 only. Its first line on stdout is one JSON object,
{"endpoint_url": ..., "aws_access_key_id": ..., "aws_secret_access_key": ...},
naming the administrator's keys; then it serves until stopped (SIGINT/SIGTERM).
"""

import argparse
import json
import os
import signal
import sys
import threading

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


# ---------------------------------------------------------------- server

def serve(port):
    """Start moto on 127.0.0.1:port, print the interface line and block until stopped."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    key = create_admin(DEFAULT_ACCOUNT_ID)
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
