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


# ---- request log and fault injection

CONTROL_PREFIX = "/_local_aws/"
JSON_TARGET_SERVICES = {
    "AWSCognitoIdentityProviderService": "cognito-idp",
    "AWSCognitoIdentityService": "cognito-identity",
}
# STS calls that are made without a signature, so no credential scope names the service.
UNSIGNED_STS_ACTIONS = {"AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"}
# S3 sub-resources that turn a bucket/object verb into a named operation.
S3_SUBRESOURCES = {
    "policy": "BucketPolicy", "versioning": "BucketVersioning", "cors": "BucketCors",
    "lifecycle": "BucketLifecycleConfiguration", "encryption": "BucketEncryption",
    "notification": "BucketNotificationConfiguration", "location": "BucketLocation",
    "publicAccessBlock": "PublicAccessBlock", "ownershipControls": "BucketOwnershipControls",
    "tagging": "{kind}Tagging", "acl": "{kind}Acl",
}


def s3_operation(method, path, query, headers):
    """Name the S3 operation of a path-style request, or "Unknown"."""
    parts = path.lstrip("/").split("/", 1)
    bucket, key = parts[0], (parts[1] if len(parts) > 1 else "")
    verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete", "HEAD": "Head"}.get(method)
    if not bucket:
        return "ListBuckets" if method == "GET" else "Unknown"
    if not key:
        for sub, name in S3_SUBRESOURCES.items():
            if sub in query and verb and verb != "Head":
                return verb + name.format(kind="Bucket")
        return {
            "GET": "ListMultipartUploads" if "uploads" in query else
                   "ListObjectsV2" if query.get("list-type") == ["2"] else
                   "ListObjectVersions" if "versions" in query else "ListObjects",
            "PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket",
            "POST": "DeleteObjects" if "delete" in query else "Unknown",
        }.get(method, "Unknown")
    copy = "x-amz-copy-source" in headers
    if "uploadId" in query:
        return {
            "PUT": "UploadPartCopy" if copy else "UploadPart", "GET": "ListParts",
            "POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload",
        }.get(method, "Unknown")
    for sub, name in S3_SUBRESOURCES.items():
        if "{kind}" in name and sub in query and verb and verb != "Head":
            return verb + name.format(kind="Object")
    if "attributes" in query and method == "GET":
        return "GetObjectAttributes"
    return {
        "PUT": "CopyObject" if copy else "PutObject", "GET": "GetObject",
        "HEAD": "HeadObject", "DELETE": "DeleteObject",
        "POST": "CreateMultipartUpload" if "uploads" in query else
                "RestoreObject" if "restore" in query else "Unknown",
    }.get(method, "Unknown")


def classify(environ):
    """Return (service, operation) of an AWS request; the body stays readable for moto."""
    from urllib.parse import parse_qs

    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
    target = headers.get("x-amz-target", "")
    credential = environ.get("HTTP_AUTHORIZATION", "").partition("Credential=")[2] \
        or query.get("X-Amz-Credential", [""])[0]
    scope = credential.split(",")[0].split("/")
    service = scope[3] if len(scope) > 3 else JSON_TARGET_SERVICES.get(target.partition(".")[0])
    if target:
        return service or "Unknown", target.rpartition(".")[2]
    action = query.get("Action", [None])[0]
    if action is None and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        body = read_body(environ)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [None])[0]
    if action:
        return service or ("sts" if action in UNSIGNED_STS_ACTIONS else "Unknown"), action
    if service in (None, "s3"):
        return "s3", s3_operation(environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/"), query, headers)
    return service, "Unknown"


def read_body(environ):
    """Read the whole request body and put an equal, re-readable one back for the app."""
    import io

    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        # The raw socket would block past Content-Length, so read exactly that much.
        remaining, chunks = int(environ.get("CONTENT_LENGTH") or 0), []
        while remaining > 0:
            chunk = stream.read(min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        body = b"".join(chunks)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def error_response(service, method, status, code, message):
    """An AWS-shaped error (status, headers, body) in the protocol of the service."""
    import uuid
    from xml.sax.saxutils import escape

    request_id = str(uuid.uuid4())
    if service in JSON_TARGET_SERVICES.values():
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                   ("x-amzn-RequestId", request_id)]
    elif service == "s3":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
                f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>").encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
                f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId>"
                "</ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    if method == "HEAD":
        body = b""  # HEAD answers carry no body, as S3's own errors on HEAD show.
    return status, headers + [("Content-Length", str(len(body)))], body


class Observatory:
    """WSGI middleware: logs every AWS request and injects faults; serves /_local_aws/."""

    def __init__(self, app):
        """Wrap the moto WSGI app."""
        self.app = app
        self.lock = threading.Lock()
        self.log = []
        self.faults = []

    def __call__(self, environ, start_response):
        """Answer control requests, else classify, maybe fault, log and pass to moto."""
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
            return self.control(environ, start_response)
        service, operation = classify(environ)
        entry = {"service": service, "operation": operation, "status": None}
        with self.lock:
            self.log.append(entry)
            fault = self.take_fault(service, operation)
        if fault:
            return self.inject(fault, environ, start_response, entry)

        def logging_start_response(status, headers, exc_info=None):
            entry["status"] = int(status.split()[0])
            return start_response(status, headers, exc_info)

        return self.app(environ, logging_start_response)

    def take_fault(self, service, operation):
        """Consume one match of the first fault rule for this request; caller holds the lock."""
        for fault in self.faults:
            if fault["operation"] not in (operation, "*") or fault.get("service", service) != service:
                continue
            if fault["skip"] > 0:
                fault["skip"] -= 1
                return None
            if fault["times"] > 0:
                fault["times"] -= 1
                return fault
        return None

    def inject(self, fault, environ, start_response, entry):
        """Fail this request as the fault rule says, without reaching moto."""
        import socket

        if fault.get("action") == "reset":
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)  # the client sees the connection drop, no answer
            start_response("500 Internal Server Error", [("Content-Length", "0")])
            return [b""]
        read_body(environ)  # drain it, or the next request on this keep-alive connection breaks
        status, headers, body = error_response(
            entry["service"], environ["REQUEST_METHOD"], fault["status"], fault["code"], fault["message"])
        entry["status"] = status
        start_response(f"{status} {fault['code']}", headers)
        return [body]

    def control(self, environ, start_response):
        """GET/DELETE /_local_aws/requests; GET/POST/DELETE /_local_aws/faults."""
        path, method = environ["PATH_INFO"][len(CONTROL_PREFIX):], environ["REQUEST_METHOD"]
        status, result = "200 OK", None
        with self.lock:
            if path == "requests" and method == "GET":
                result = [dict(e) for e in self.log]
            elif path == "requests" and method == "DELETE":
                self.log.clear()
            elif path == "faults" and method == "GET":
                result = [dict(f) for f in self.faults]
            elif path == "faults" and method == "DELETE":
                self.faults.clear()
            elif path == "faults" and method == "POST":
                try:
                    rule = json.loads(read_body(environ) or b"{}")
                    self.faults.append({
                        "operation": str(rule["operation"]), "skip": int(rule.get("skip", 0)),
                        "times": int(rule.get("times", 1)), "status": int(rule.get("status", 500)),
                        "code": str(rule.get("code", "InternalError")),
                        "message": str(rule.get("message", "We encountered an internal error. Please try again.")),
                        "action": rule.get("action", "error"),
                        **({"service": str(rule["service"])} if "service" in rule else {}),
                    })
                    result = self.faults[-1]
                except (ValueError, KeyError, TypeError) as e:
                    status, result = "400 Bad Request", {"error": f"bad fault rule: {e!r}"}
            else:
                status, result = "404 Not Found", {"error": "unknown control path or method"}
        body = json.dumps(result).encode() if result is not None else b""
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

# ---- S3: checksum verification and HEAD checksum fields

# moto computes CRC32C and CRC64NVME as CRC32 unless optional libraries are installed,
# so only these can be checked against what the client sent.
VERIFIABLE_CHECKSUMS = {"CRC32": 4, "SHA1": 20, "SHA256": 32}


def sent_checksum(response):
    """(algorithm, value) of a verifiable checksum the client sent in a header or trailer, or None."""
    import re

    trailer = response.headers.get("x-amz-trailer", "").strip().lower()
    for algorithm in VERIFIABLE_CHECKSUMS:
        name = f"x-amz-checksum-{algorithm.lower()}"
        if response.headers.get(name):
            return algorithm, response.headers[name]
        if trailer == name:
            found = re.search(rb"(?i)" + name.encode() + rb":\s*(\S+)", response.raw_body or b"")
            return algorithm, found.group(1).decode() if found else ""
    return None


def verify_checksum(response):
    """Refuse a body whose sent checksum is malformed or does not match, as S3 does."""
    import base64
    import binascii

    from moto.s3.exceptions import S3ClientError
    from moto.s3.utils import compute_checksum

    sent = sent_checksum(response)
    if not sent:
        return
    algorithm, value = sent
    try:
        well_formed = len(base64.b64decode(value, validate=True)) == VERIFIABLE_CHECKSUMS[algorithm]
    except (binascii.Error, ValueError):
        well_formed = False
    if not well_formed:
        raise S3ClientError("InvalidRequest", f"Value for x-amz-checksum-{algorithm.lower()} header is invalid.")
    body = response.body or b""
    if compute_checksum(body.encode() if isinstance(body, str) else body, algorithm).decode() != value:
        raise S3ClientError("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")


def patch_s3():
    """Verify sent checksums on PutObject/UploadPart; give HEAD the composite "-N" and checksum type."""
    from moto.s3.responses import S3Response

    put_object, upload_part, head_object = S3Response.put_object, S3Response.upload_part, S3Response.head_object

    def checked_put_object(self):
        verify_checksum(self)
        return put_object(self)

    def checked_upload_part(self):
        verify_checksum(self)  # before moto stores the part, as S3 stores no bad part
        return upload_part(self)

    def head_object_with_checksum_type(self, bucket_name, query, key_name, headers):
        status, response_headers, body = head_object(self, bucket_name, query, key_name, headers)
        if status == 200 and headers.get("x-amz-checksum-mode") == "ENABLED" and "partNumber" not in query:
            key = self.backend.head_object(bucket_name, key_name, version_id=query.get("versionId", [None])[0])
            if key is not None and key.checksum_algorithm and key.checksum_type:
                if key.checksum_type == "COMPOSITE":
                    response_headers[f"x-amz-checksum-{key.checksum_algorithm.lower()}"] = \
                        f"{key.checksum_value}-{key.checksum_parts}"
                response_headers["x-amz-checksum-type"] = key.checksum_type
        return status, response_headers, body

    S3Response.put_object = checked_put_object
    S3Response.upload_part = checked_upload_part
    S3Response.head_object = head_object_with_checksum_type


def quiet_request_handler():
    """werkzeug's request handler minus its line per request on stderr.

    Tests pipe stderr without reading it; a line per request would fill the pipe and hang
    the server. The request log above replaces it; errors are still written.
    """
    from werkzeug.serving import WSGIRequestHandler

    return type("QuietRequestHandler", (WSGIRequestHandler,), {"log_request": lambda self, *a, **k: None})


# ---------------------------------------------------------------- server

def serve(port):
    """Start moto on 127.0.0.1:port, print the interface line and block until stopped."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    key = create_admin(DEFAULT_ACCOUNT_ID)
    patch_s3()
    app = DomainDispatcherApplication(create_backend_app)
    app = Observatory(app)
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


def main(argv=None):
    parser = argparse.ArgumentParser(description="A local AWS on moto, on 127.0.0.1 only.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    args = parser.parse_args(argv)
    serve(args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
