"""local_aws's request log and fault injection: the WSGI middleware in front of moto, and /_local_aws/."""

import json
import threading
import time

import localaws
import localaws.managed_login

HTTP_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


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
    "replication": "BucketReplication", "website": "BucketWebsite", "logging": "BucketLogging",
    "accelerate": "BucketAccelerateConfiguration", "requestPayment": "BucketRequestPayment",
    "object-lock": "ObjectLockConfiguration",
    "tagging": "{kind}Tagging", "acl": "{kind}Acl", "retention": "{kind}Retention", "legal-hold": "{kind}LegalHold",
}
# Where S3's DELETE of a sub-resource has a name of its own.
S3_DELETE_NAMES = {"lifecycle": "DeleteBucketLifecycle"}


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
                return (method == "DELETE" and S3_DELETE_NAMES.get(sub)) or verb + name.format(kind="Bucket")
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
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id),
                   ("x-amz-id-2", uuid.uuid4().hex)]
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

    def __init__(self, app, latency=0.0):
        """Wrap the moto WSGI app; latency (seconds) delays each AWS request like a network round trip."""
        self.app, self.latency = app, latency
        self.lock = threading.Lock()
        self.log = []
        self.faults = []

    def __call__(self, environ, start_response):
        """Answer control requests, else classify, maybe fault, log and pass to moto."""
        # A user pool domain's managed login and the pools' OIDC discovery (localaws/managed_login.py)
        # are AWS endpoints, though the domains live under /_local_aws/.
        managed_login = localaws.managed_login.route(environ.get("PATH_INFO", "")) is not None
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX) and not managed_login:
            return self.control(environ, start_response)
        service, operation = (localaws.managed_login.classify if managed_login else classify)(environ)
        entry = {"service": service, "operation": operation, "status": None}
        with self.lock:
            self.log.append(entry)
            fault = self.take_fault(service, operation)
        if fault and fault["action"] != "delay":
            return self.inject(fault, environ, start_response, entry)
        delay = self.latency + (fault["delay_ms"] / 1000 if fault else 0)
        if delay:
            time.sleep(delay)  # requests on other connections go on meanwhile, as over a real network

        def logging_start_response(status, headers, exc_info=None):
            entry["status"] = int(status.split()[0])
            return start_response(status, headers, exc_info)

        environ["local_aws.service"] = service  # read by localaws.s3.with_request_ids
        app = localaws.managed_login.app if managed_login else self.app
        return app(environ, logging_start_response)

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
        """GET/DELETE /_local_aws/requests; GET/POST/DELETE /_local_aws/faults; paths localaws modules register."""
        path, method = environ["PATH_INFO"][len(CONTROL_PREFIX):], environ["REQUEST_METHOD"]
        status, result = "200 OK", None
        if path in localaws.CONTROL:
            code, result = localaws.CONTROL[path](method, read_body(environ))
            status = f"{code} {HTTP_REASONS.get(code, 'Status')}"
            path = None  # answered by a registered module
        with self.lock:
            if path is None:
                pass
            elif path == "requests" and method == "GET":
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
                        "action": rule.get("action", "error"), "delay_ms": int(rule.get("delay_ms", 0)),
                        **({"service": str(rule["service"])} if "service" in rule else {}),
                    })
                    if self.faults[-1]["action"] not in ("error", "reset", "delay"):
                        raise ValueError(f"action must be error, reset or delay, not {self.faults[-1]['action']!r}")
                    result = self.faults[-1]
                except (ValueError, KeyError, TypeError) as e:
                    status, result = "400 Bad Request", {"error": f"bad fault rule: {e!r}"}
            else:
                status, result = "404 Not Found", {"error": "unknown control path or method"}
        body = json.dumps(result).encode() if result is not None else b""
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
