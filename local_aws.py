"""local_aws.py: a local AWS for cog_auth_s3's demo and tests, built on moto.

Usage:
    python local_aws.py [--port N] [--latency-ms MS]

--latency-ms delays every AWS request by MS, to emulate a network round trip in
benchmarks; tests and the demo leave it at 0.

It listens on 127.0.0.1 only. Its first line on stdout is one JSON object,
{"endpoint_url": ..., "aws_access_key_id": ..., "aws_secret_access_key": ...},
naming the administrator's keys; then it serves until stopped (SIGINT/SIGTERM).

What it adds to moto 5.2.1 (patched in this process; moto itself is unchanged):
- Request log. GET /_local_aws/requests answers [{"service", "operation", "status"}, ...]
  in arrival order ("status": null when a fault dropped the connection); DELETE clears it.
  The service comes from the SigV4 credential scope, else the X-Amz-Target prefix; the
  operation from X-Amz-Target, the Action parameter, or S3's method, path and query
  (path-style only; "Unknown" when none fits).
- Faults. POST /_local_aws/faults {"operation": "UploadPart" or "*", "service": optional,
  "skip": 0, "times": 1, "status": 500, "code": "InternalError", "message": "...",
  "action": "error", "reset" or "delay", "delay_ms": 0} fails (or with "delay" holds back
  by delay_ms, then serves) the next `times` matching requests after letting
  `skip` through, without reaching moto: an AWS-shaped error (S3 XML, JSON services'
  {"__type", "message"}, query services' ErrorResponse), or with "reset" a connection closed
  with no answer. GET lists the rules with their counters left; DELETE clears them.
  /_local_aws/ needs no signature and is not logged (except a user pool domain's managed login under
  /_local_aws/domain/, which is an AWS endpoint: logged and faultable as cognito-idp ManagedLogin*).
- S3 checksums. A CRC32, SHA1 or SHA256 checksum sent with PutObject or UploadPart (header
  or aws-chunked trailer) is verified: BadDigest (400) on mismatch, InvalidRequest when
  malformed. HEAD with ChecksumMode=ENABLED gives a multipart object its composite
  "<checksum>-<parts>" and x-amz-checksum-type, as GET already did, and so does the
  CompleteMultipartUpload answer, as S3's does.
- S3 fidelity (localaws/s3.py): conditional writes (PutObject with If-None-Match/If-Match,
  CompleteMultipartUpload with If-None-Match) check and store atomically, so of concurrent writers of
  one new key exactly one wins and the others get 412; keys over 1,024 bytes of UTF-8 get 400
  KeyTooLongError on PutObject, CopyObject and CreateMultipartUpload; parts and completions of an
  aborted upload get 404 NoSuchUpload; unsigned requests get an XML AccessDenied; every S3 answer
  carries x-amz-request-id and x-amz-id-2; GetObject/HeadObject of a missing key answer 404 NoSuchKey
  only to a caller allowed s3:ListBucket on the bucket (with no s3:prefix), else 403 AccessDenied; a
  signed request to a bucket that does not exist answers 404 NoSuchBucket before IAM is evaluated.
- S3 authorization (localaws/s3_actions.py): every S3 request is checked for the IAM action AWS names for
  it (s3:GetObjectVersion for a read with versionId, s3:ListBucketVersions, s3:GetObjectAttributes,
  s3:PutBucketOwnershipControls, ...; moto checked several as another action), a copy also for reading its
  source (version), and an object write with ACL or tagging headers also for s3:PutObjectAcl/Tagging.
- AWS managed policies: moto's copy of AWS's managed policies (moto/iam/aws_managed_policies.py, 1,485 of
  them, e.g. arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess) is loaded, so AttachRolePolicy/AttachUserPolicy
  accept them; they are enforced and SimulatePrincipalPolicy reports them as aws-managed.
- Temporary credentials (localaws/credentials.py): STS sessions (AssumeRole*, GetCredentialsForIdentity)
  expire on localaws.clock; a request signed with an expired one is refused (S3: 400 ExpiredToken "The
  provided token has expired."; JSON services ExpiredTokenException, query services ExpiredToken).
  S3 presigned URLs (query-string SigV4) are verified and authorized by the same IAM evaluation as
  header-signed requests, and refused after X-Amz-Date + X-Amz-Expires on the clock (403 AccessDenied
  "Request has expired") or after the signing credentials expire (400 ExpiredToken).
- Speed: moto re-lists its package folder on every request inside a lock all requests
  share; local_aws lists it once.
- Cognito USER_SRP_AUTH is real SRP-6a: PASSWORD_VERIFIER carries a per-user salt kept for
  the server's life, B from a verifier of the user's current password, and a single-use
  SECRET_BLOCK valid for the client's AuthSessionValidity on localaws.clock; RespondToAuthChallenge checks
  TIMESTAMP's format and the PASSWORD_CLAIM_SIGNATURE, refusing a wrong password with
  NotAuthorizedException "Incorrect username or password.". An unknown user gets
  UserNotFoundException, or with PreventUserExistenceErrors=ENABLED a decoy challenge and
  then that same refusal. Then NEW_PASSWORD_REQUIRED (FORCE_CHANGE_PASSWORD users), or
  localaws/cognito_signin.py decides: MFA_SETUP, an MFA factor, SELECT_MFA_TYPE, or tokens.
- Choice-based sign-in (USER_AUTH), one-time codes by email and SMS (delivered to
  GET /_local_aws/messages), real per-user TOTP secrets and codes, SMS and email MFA, MFA_SETUP
  and username validation: see localaws/cognito_signin.py's docstring.
- Managed login (the hosted UI) at a user pool domain PREFIX, served at <endpoint>/_local_aws/domain/PREFIX:
  /oauth2/authorize with PKCE and sign-in/MFA pages, /oauth2/token, /oauth2/revoke, /oauth2/userInfo,
  /logout, OIDC federation through /oauth2/idpresponse, and /<pool id>/.well-known/openid-configuration:
  see localaws/managed_login.py's docstring.
- Cognito checks moto skips: SECRET_HASH is required and checked for clients with a secret
  on InitiateAuth and every RespondToAuthChallenge (REFRESH_TOKEN_AUTH accepts the hash of
  the internal username or the sub); ExplicitAuthFlows gates USER_SRP_AUTH and
  USER_PASSWORD_AUTH; a challenge session answers only for its own user;
  AssociateSoftwareToken, VerifySoftwareToken and SetUserMFAPreference are served unsigned.
- werkzeug's per-request stderr line is off (an unread stderr pipe would fill and hang).

IAM and Cognito identity (what local_aws adds over moto 5.2.1, patched in-process):
- IAM is enforced on every request: SigV4 signature and the caller's policies, with moto's evaluator
  extended to AWS semantics: * and ? wildcards, ${...} policy variables (e.g.
  ${cognito-identity.amazonaws.com:sub}) in Resource and Condition values, Principal/NotPrincipal,
  NotAction/NotResource, and String*, Arn*, Numeric*, Date*, Bool, Null, IpAddress conditions with
  ForAnyValue:/ForAllValues: and ...IfExists; a key the request lacks does not match (except negated
  operators and ...IfExists); a plain (non-set) operator on a multivalued key such as
  cognito-identity.amazonaws.com:amr or aws:TagKeys matches nothing when the request has the key
  (MULTIVALUED_KEYS); an explicit Deny wins. A statement whose condition fails is neutral
  (moto made it a Deny). Request keys: aws:SecureTransport, aws:CurrentTime, aws:EpochTime,
  aws:RequestedRegion, aws:Principal{Arn,Account,Type}, aws:username/aws:userid, the cognito-identity
  keys (sub, aud, amr) of sessions it issued, and s3:prefix/delimiter/max-keys of bucket listings.
- S3: HeadBucket needs s3:ListBucket; CopyObject/UploadPartCopy also need s3:GetObject on the
  source; DeleteObjects checks s3:DeleteObject per key; the bucket policy is evaluated with the
  request's context and caller (its Deny wins, its Allow grants); keys with ":" or "%" sign correctly.
- Unsigned requests are denied, except the operations AWS serves unsigned (Cognito InitiateAuth,
  RespondToAuthChallenge, SignUp..., GetId, GetCredentialsForIdentity). /moto-api/reset-auth is refused.
- cognito-identity GetId: one stable <region>:<uuid> per (identity pool, token issuer, sub); the
  Logins token must be an ID token unexpired on local_aws's clock and signed with its user pool's own
  key (localaws/cognito_tokens.py: per-pool keys, token expiry, rotation, revocation; remembered
  devices in localaws/cognito_devices.py), its iss must match
  the Logins key and its pool+client must be one of the pool's CognitoIdentityProviders.
  GetCredentialsForIdentity: Logins must belong to the identity; the pool's mapped role
  (Set/GetIdentityPoolRoles, missing from moto) must trust sts:AssumeRoleWithWebIdentity by
  Federated cognito-identity.amazonaws.com with aud = pool id and amr as AWS sends it; the answer is
  a one-hour STS session "CognitoIdentityCredentials" of that role (Expiration on localaws.clock).
- IAM SimulatePrincipalPolicy/SimulateCustomPolicy on the evaluator above (localaws/iam_simulate.py), and
  identity pools keep AllowClassicFlow (localaws/identity_pools.py); their docstrings list what differs.

Differences from AWS that remain:
- Disabled (NotAuthorizedException "User is disabled.") and unconfirmed users
  (UserNotConfirmedException) are refused at InitiateAuth, before any password proof.
- TIMESTAMP is not compared with the clock; a zero-padded day is signed without its zero,
  so it fails as a wrong password. Failed passwords never lock a user out.
- Refusal messages for an unknown or expired SECRET_BLOCK ("Invalid session for the
  user[, session is expired].") and for a bad SRP_A are best guesses.
- NEW_PASSWORD_REQUIRED sessions never expire (MFA and code sessions do: cognito_signin).
  AdminInitiateAuth has no USER_SRP_AUTH.
- CRC32C and CRC64NVME checksums are stored unverified (without the optional crc32c and
  awscrt packages moto computes them as CRC32); part checksums named in
  CompleteMultipartUpload are not compared; single-part objects report no checksum type.
- Plain HTTP on loopback: aws:SecureTransport is "true" for every request, so a bucket policy that
  denies requests without TLS lets them through (on AWS a plain-HTTP request would be denied).
- Anonymous access (even if a bucket policy allows it) is denied, as with S3 Block Public Access;
  SigV2 presigned URLs get InvalidRequest (as S3 answers for buckets made since June 2020);
  aws:SourceIp, VPC keys, tags and most service-specific keys are absent from the request context;
  ${aws:username, 'default'} defaults are not supported.
- Session policies, permission boundaries, SCPs and cross-account access are not evaluated.
  Multivalued condition keys are a fixed list by name (MULTIVALUED_KEYS). S3 Control, access points,
  s3:BypassGovernanceRetention and KMS permissions are not part of S3 authorization (localaws/s3_actions.py).
  AWS managed policies are moto's snapshot of them, not live AWS.
- Cognito tokens (expiry, rotation, revocation, devices): see localaws/cognito_tokens.py and
  localaws/cognito_devices.py. A SigV4 X-Amz-Date far from local_aws's clock is accepted (no
  RequestTimeTooSkewed / "Signature expired"): clients sign with real time, and a test that moves the
  clock would lock them all out. GetSessionToken/GetFederationToken return moto's unusable examples.
- The body of an S3 PUT sent with Content-Type application/x-www-form-urlencoded is lost (moto parses
  it as a form: BadDigest, or an empty object); CompleteMultipartUpload's If-Match is not checked.
  A missing key with ?versionId= gets NoSuchVersion without S3's s3:ListBucketVersions check; a bucket
  counts as missing unless it is in the caller's own account.
- Identity pools: RoleMappings are stored but not applied (the default authenticated/unauthenticated
  role is used); unauthenticated identities are not merged into authenticated ones; only this local
  cognito-idp is accepted as a login provider.
"""

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
from urllib.parse import parse_qs, urlparse

import localaws
import localaws.clock  # noqa: F401  (registers /_local_aws/clock)
import localaws.cognito_signin  # registers /_local_aws/messages
import localaws.cognito_tokens
import localaws.credentials
import localaws.s3
import localaws.s3_actions
import localaws.iam_simulate
import localaws.identity_pools
import localaws.managed_login
import localaws.policy_language

ADMIN_USER = "local-aws-admin"
HTTP_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


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

    key_response_post = S3Response._key_response_post

    def complete_with_checksum(self, request, body, bucket_name, query, key_name):
        """CompleteMultipartUpload answers with the object's composite checksum, as S3 does."""
        status, headers, xml = key_response_post(self, request, body, bucket_name, query, key_name)
        if status == 200 and "uploadId" in query and "</CompleteMultipartUploadResponse>" in str(xml):
            key = self.backend.head_object(bucket_name, key_name)
            if key is not None and key.checksum_algorithm and key.checksum_type == "COMPOSITE":
                name = f"Checksum{key.checksum_algorithm.upper()}"
                extra = (f"<{name}>{key.checksum_value}-{key.checksum_parts}</{name}>"
                         f"<ChecksumType>COMPOSITE</ChecksumType>")
                xml = xml.replace("</CompleteMultipartUploadResponse>", extra + "</CompleteMultipartUploadResponse>")
        return status, headers, xml

    S3Response.put_object = checked_put_object
    S3Response.upload_part = checked_upload_part
    S3Response.head_object = head_object_with_checksum_type
    S3Response._key_response_post = complete_with_checksum


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
    b_secret = secrets.randbelow(n - 2) + 1
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
            "expires": now + localaws.cognito_signin.session_seconds(client),
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
        raise NotAuthorizedError(localaws.cognito_signin.EXPIRED_SESSION)
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


def patch_cognito():
    """Wrap moto's InitiateAuth/RespondToAuthChallenge with AWS's checks (MFA: localaws.cognito_signin)."""
    from moto.cognitoidp.exceptions import NotAuthorizedError
    from moto.cognitoidp.models import CognitoIdpBackend
    from moto.core.authorization import ActionAuthenticatorMixin

    initiate_auth = CognitoIdpBackend.initiate_auth
    respond = CognitoIdpBackend.respond_to_auth_challenge

    def checked_initiate_auth(self, client_id, auth_flow, auth_parameters):
        pool, client = find_pool_client(self, client_id)
        if pool is None:
            return initiate_auth(self, client_id, auth_flow, auth_parameters)
        params = dict(auth_parameters or {})
        check_flow_enabled(client, auth_flow)
        if auth_flow == "USER_SRP_AUTH":
            return srp_challenge(self, pool, client, params, initiate_auth)
        if auth_flow == "USER_PASSWORD_AUTH":
            check_secret_hash(client, params, [params.get("USERNAME")])
        elif auth_flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            stored = pool.refresh_tokens.get(params.get("REFRESH_TOKEN"))
            user = stored and stored[1] and pool._get_user(stored[1])
            if user:
                # AWS hashes the internal username (the sub for alias sign-in: pycognito #18/#196).
                check_secret_hash(client, params, [params.get("USERNAME"), user.username, user.id])
                if client.generate_secret:
                    params["SECRET_HASH"] = secret_hash(client, stored[1])  # the name moto re-checks
        return initiate_auth(self, client_id, auth_flow, params)

    def checked_respond(self, session, client_id, challenge_name, challenge_responses):
        pool, client = find_pool_client(self, client_id)
        if pool is None:
            return respond(self, session, client_id, challenge_name, challenge_responses)
        responses = dict(challenge_responses or {})
        if challenge_name == "PASSWORD_VERIFIER":
            srp_verify(self, pool, client, responses)
        else:
            user = pool._get_user(responses.get("USERNAME") or "")
            check_secret_hash(client, responses, [responses.get("USERNAME"), user and user.username])
            # moto would answer for whichever USERNAME is sent; AWS binds the session to its user.
            if session in self.sessions:
                session_user = pool._get_user(self.sessions[session][0])
                if user is None or session_user is None or user.id != session_user.id:
                    raise NotAuthorizedError("Invalid session for the user.")
        if client.generate_secret and responses.get("USERNAME"):
            responses["SECRET_HASH"] = secret_hash(client, responses["USERNAME"])  # the name moto re-checks
        result = respond(self, session, client_id, challenge_name, responses)
        if result.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
            user = pool._get_user(responses["USERNAME"])
            attributes = {a["Name"]: a["Value"] for a in user.attributes if a["Name"] != "sub"}
            result["ChallengeParameters"].update({
                "USER_ID_FOR_SRP": user.username, "requiredAttributes": "[]",
                "userAttributes": json.dumps(attributes),
            })
        return result

    CognitoIdpBackend.initiate_auth = checked_initiate_auth
    CognitoIdpBackend.respond_to_auth_challenge = checked_respond
    # A user sets up TOTP with their access token, unsigned, as SDKs send these; IAM enforcement
    # must let them through like the other token-authorized operations.
    ActionAuthenticatorMixin.PUBLIC_OPERATIONS += [
        f"AWSCognitoIdentityProviderService.{operation}"
        for operation in ("AssociateSoftwareToken", "VerifySoftwareToken", "SetUserMFAPreference")]


def quiet_request_handler():
    """werkzeug's request handler minus its line per request on stderr.

    Tests pipe stderr without reading it; a line per request would fill the pipe and hang
    the server. The request log above replaces it; errors are still written.
    """
    from werkzeug.serving import WSGIRequestHandler

    return type("QuietRequestHandler", (WSGIRequestHandler,), {"log_request": lambda self, *a, **k: None})


# ---- IAM enforcement

def enforce_iam():
    """Make moto check the signature and IAM permissions of every request, as AWS does."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.moto_api._internal import urls as moto_api_urls

    # moto reads this once at import; the module attribute is what its checks consult per request.
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    # These are token-authorized in AWS and sent unsigned by the SDKs.
    ActionAuthenticatorMixin.PUBLIC_OPERATIONS += [
        "AWSCognitoIdentityProviderService.RespondToAuthChallenge",
        "AWSCognitoIdentityProviderService.ConfirmForgotPassword",
        "AWSCognitoIdentityProviderService.ResendConfirmationCode",
        "AWSCognitoIdentityProviderService.ChangePassword",
        "AWSCognitoIdentityProviderService.GlobalSignOut",
        "AWSCognitoIdentityProviderService.RevokeToken",
        "AWSCognitoIdentityService.GetCredentialsForIdentity",
    ]
    # Any unsigned client could otherwise switch enforcement off through /moto-api/reset-auth.
    moto_api_urls.url_paths["{0}/moto-api/reset-auth"] = lambda *a, **k: (
        403, {}, json.dumps({"message": "local_aws keeps IAM enforcement on"}))
    original = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate_and_authorize(self, iam_request_cls, resource="*"):
        """Deny unsigned requests for non-public operations instead of failing on the missing header."""
        if ("Authorization" not in self.headers
                and self.headers.get("X-Amz-Target") not in ActionAuthenticatorMixin.PUBLIC_OPERATIONS):
            raise _anonymous_denied(self, iam_request_cls)
        # moto signs the decoded URL over again, so a key or prefix with ":" (as in every identity id)
        # or "%" never matched its SigV4 signature; check the signature against the URL as sent.
        uri = self.uri
        raw = urlparse(getattr(getattr(self, "request", None), "environ", {}).get("RAW_URI", ""))
        if raw.path or getattr(self, "raw_path", None):
            self.uri = urlparse(uri)._replace(path=raw.path or self.raw_path, query=raw.query or urlparse(uri).query).geturl()
        try:
            return original(self, iam_request_cls, resource)
        finally:
            self.uri = uri

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate_and_authorize
    install_policy_evaluation()
    localaws.policy_language.install()  # Version 2008-10-17 and none: stored, ${...} literal
    install_cognito_identity()
    localaws.iam_simulate.install()  # SimulatePrincipalPolicy/SimulateCustomPolicy on the evaluator above
    localaws.identity_pools.install()  # AllowClassicFlow kept and described


def _anonymous_denied(response, iam_request_cls):
    """The error AWS gives an unsigned request: S3 AccessDenied, else a missing-token error."""
    from moto.core.exceptions import AccessDeniedError, JsonRESTError
    from moto.iam.access_control import S3IAMRequest
    from moto.s3.exceptions import BucketAccessDeniedError, S3AccessDeniedError

    if iam_request_cls is S3IAMRequest:
        bucket = response.data.get("BucketName")
        return BucketAccessDeniedError(bucket) if bucket else S3AccessDeniedError()
    if response.headers.get("X-Amz-Target"):
        error = JsonRESTError("MissingAuthenticationTokenException", "Missing Authentication Token")
        error.code = 403
        return error
    return AccessDeniedError(user_arn="anonymous", action=str(response._get_action()))


# ---- policy evaluation

_REQUEST = threading.local()  # .context (condition keys, lower-cased -> list of str) and .caller of the request
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERAL_VARIABLES = " literal variables"  # context marker (no condition key has a space): see _pattern


def _as_list(value):
    """Policy values as a list of strings (JSON booleans spelled as AWS does)."""
    values = value if isinstance(value, list) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]


def _pattern(value, context, wildcards):
    """Regex for a policy value with ${...} variables substituted literally; None if one is unresolved.
    In a document whose Version is not 2012-10-17 (context[_LITERAL_VARIABLES]), ${...} is plain text."""
    def glob(text):
        text = re.escape(text)
        return text.replace(r"\*", ".*").replace(r"\?", ".") if wildcards else text

    if context.get(_LITERAL_VARIABLES):
        return glob(value)
    parts, pos = [], 0
    for match in _VARIABLE.finditer(value):
        parts.append(glob(value[pos:match.start()]))
        name = match.group(1)
        # IAM User Guide, "Specifying default values": ${key, 'text'} is text when the request lacks key.
        default = re.fullmatch(r"\s*(.+?)\s*,\s*'([^']*)'\s*", name)
        if name in ("*", "?", "$"):
            parts.append(re.escape(name))
        else:
            resolved = context.get((default.group(1) if default else name).lower()) or (
                [default.group(2)] if default else None)
            if not resolved or len(resolved) != 1:
                return None  # AWS: an element whose variable has no value (and no default) matches nothing
            parts.append(re.escape(resolved[0]))
        pos = match.end()
    parts.append(glob(value[pos:]))
    return "".join(parts)


def _value_matches(policy_value, value, context, wildcards=True, ignore_case=False):
    """Does one policy value (with variables and, if asked, * and ? wildcards) match value?"""
    pattern = _pattern(policy_value, context, wildcards)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return pattern is not None and re.fullmatch(pattern, value, flags) is not None


def _compare(convert, compare):
    """A condition test that converts both sides (numbers, dates) before comparing."""
    def test(policy_value, value, context):
        try:
            return compare(convert(value), convert(policy_value))
        except ValueError:
            return False
    return test


def _date(text):
    """An AWS date condition value: epoch seconds or ISO 8601."""
    import datetime

    if text.isdigit():
        return datetime.datetime.fromtimestamp(int(text), datetime.timezone.utc)
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def _ip_in(policy_value, value, context):
    """IpAddress: is the address inside the policy's CIDR block?"""
    import ipaddress

    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(policy_value, strict=False)
    except ValueError:
        return False


def _condition_operators():
    """Condition operator -> (test(policy_value, request_value, context), negated)."""
    import operator

    exact = lambda p, v, c: _value_matches(p, v, c, wildcards=False)
    exact_ci = lambda p, v, c: _value_matches(p, v, c, wildcards=False, ignore_case=True)
    like = lambda p, v, c: _value_matches(p, v, c)
    operators = {
        "StringEquals": (exact, False), "StringNotEquals": (exact, True),
        "StringEqualsIgnoreCase": (exact_ci, False), "StringNotEqualsIgnoreCase": (exact_ci, True),
        "StringLike": (like, False), "StringNotLike": (like, True),
        "ArnEquals": (like, False), "ArnLike": (like, False),
        "ArnNotEquals": (like, True), "ArnNotLike": (like, True),
        "Bool": (lambda p, v, c: p.lower() == v.lower(), False),
        "BinaryEquals": (exact, False),
        "IpAddress": (_ip_in, False), "NotIpAddress": (_ip_in, True),
    }
    for name, compare in {"Equals": operator.eq, "LessThan": operator.lt, "LessThanEquals": operator.le,
                          "GreaterThan": operator.gt, "GreaterThanEquals": operator.ge}.items():
        operators["Numeric" + name] = (_compare(float, compare), False)
        operators["Date" + name] = (_compare(_date, compare), False)
    operators["NumericNotEquals"] = (_compare(float, operator.eq), True)
    operators["DateNotEquals"] = (_compare(_date, operator.eq), True)
    return operators


_OPERATORS = _condition_operators()

# Condition keys whose request-context value is a set: "Multivalued" in the IAM User Guide's AWS global
# condition context keys, ArrayOf... in the Service Authorization Reference, and Cognito's "multi-value amr
# claim". The guide ("Single-valued vs. multivalued context keys") says these "require a condition set
# operator" (ForAnyValue:/ForAllValues:). A plain operator (negated and ...IfExists ones too) never matches
# such a key when the request has it, however many values it holds (a guest's amr is ["unauthenticated"]),
# as @cloud-copilot/iam-simulate evaluates it (its authors confirmed it with AWS, re:Inforce 2025 IAM431).
# Decided by key name, not by how many values a request happens to carry.
MULTIVALUED_KEYS = frozenset(key.lower() for key in (
    "cognito-identity.amazonaws.com:amr",
    "aws:TagKeys", "aws:CalledVia", "aws:PrincipalServiceNamesList",
    "aws:PrincipalOrgPaths", "aws:ResourceOrgPaths", "aws:SourceOrgPaths", "aws:VpceOrgPaths",
    "sts:TransitiveTagKeys",
))


def _condition_matches(operator_name, key, policy_values, context, effect):
    """Evaluate one condition key as AWS does, including ForAnyValue:/ForAllValues: and ...IfExists."""
    qualifier, _, name = operator_name.rpartition(":")
    if_exists = name.endswith("IfExists") and name != "Null"
    name = name[:-len("IfExists")] if if_exists else name
    values = context.get(key.lower())
    if name == "Null":
        return (not values) == (policy_values[0].lower() == "true")
    if name not in _OPERATORS:
        print(f"local_aws: condition operator {operator_name} is not supported; "
              f"treating it as {'matching (Deny)' if effect == 'Deny' else 'not matching (Allow)'}",
              file=sys.stderr)
        return effect == "Deny"
    test, negated = _OPERATORS[name]
    if not values:
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return if_exists or negated  # AWS: a missing key matches only negated operators and ...IfExists
    if not qualifier and key.lower() in MULTIVALUED_KEYS:
        return False  # a multivalued key needs a set operator; without one it matches nothing

    def value_ok(value):
        hit = any(test(p, value, context) for p in policy_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues" or (negated and not qualifier):
        return all(value_ok(v) for v in values)
    return any(value_ok(v) for v in values)


def _caller_of(principal):
    """A principal ARN (as moto passes it) or {type: ids} dict -> {type: [ids it answers to]}."""
    if isinstance(principal, dict):
        return {kind: _as_list(ids) for kind, ids in principal.items()}
    account = principal.split(":")[4]
    ids = [principal, f"arn:aws:iam::{account}:root", account]
    role = re.match(r"arn:aws:sts::(\d+):assumed-role/([^/]+)/", principal)
    if role:
        ids.append(f"arn:aws:iam::{role.group(1)}:role/{role.group(2)}")
    return {"AWS": ids}


def _principal_applies(statement, caller):
    """Does the statement's Principal/NotPrincipal cover the caller? Identity policies have neither."""
    for element, wanted in (("Principal", True), ("NotPrincipal", False)):
        if element in statement:
            spec = statement[element]
            hit = spec == "*" or any(
                (kind == "AWS" and "*" in _as_list(ids)) or set(_as_list(ids)) & set(caller.get(kind, ()))
                for kind, ids in (spec.items() if isinstance(spec, dict) else ()))
            return hit == wanted
    return True


def _element_matches(statement, element, value, context, ignore_case=False):
    """Action/NotAction or Resource/NotResource against value; True if the statement has neither."""
    if element in statement:
        return any(_value_matches(p, value, context, ignore_case=ignore_case) for p in _as_list(statement[element]))
    if "Not" + element in statement:
        return not any(_value_matches(p, value, context, ignore_case=ignore_case)
                       for p in _as_list(statement["Not" + element]))
    return element == "Resource"  # trust policies have no Resource; every statement needs an Action


def statement_is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
    """IAMPolicyStatement.is_action_permitted with AWS semantics: wildcards, variables, principals and
    conditions; a statement whose principal or condition does not match is neutral, not a Deny."""
    from moto.iam.access_control import PermissionResult

    statement = self._statement
    context = dict(getattr(_REQUEST, "context", None) or {})
    context.update({k.lower(): _as_list(v) for k, v in (incoming_condition_values or {}).items()})
    if getattr(self, "literal_variables", False):  # set by localaws.policy_language from the Version
        context[_LITERAL_VARIABLES] = True
    caller = _caller_of(principal) if principal else getattr(_REQUEST, "caller", None)
    if not _element_matches(statement, "Action", action, context, ignore_case=True):
        return PermissionResult.NEUTRAL
    if caller is not None and not _principal_applies(statement, caller):
        return PermissionResult.NEUTRAL
    if not _element_matches(statement, "Resource", resource, context):
        return PermissionResult.NEUTRAL
    effect = statement.get("Effect")
    for operator_name, keys in (statement.get("Condition") or {}).items():
        for key, policy_values in keys.items():
            if not _condition_matches(operator_name, key, _as_list(policy_values), context, effect):
                return PermissionResult.NEUTRAL
    return PermissionResult.PERMITTED if effect == "Allow" else PermissionResult.DENIED


def _session_of(access_key):
    """The STS session behind an AssumedRoleAccessKey, or None for an IAM user's key."""
    from moto.iam.access_control import AssumedRoleAccessKey
    from moto.sts.models import sts_backends

    if not isinstance(access_key, AssumedRoleAccessKey):
        return None
    return sts_backends[access_key.account_id][access_key.partition].get_assumed_role_from_access_key(
        access_key._access_key_id)


def _request_context(request, session):
    """Condition keys of a signed request (lower-cased names -> list of values)."""
    from moto.core.utils import utcnow

    now = utcnow()
    key = request._access_key
    context = {
        # Served on loopback only: treated as TLS so that the usual "deny without TLS" bucket policy passes.
        "aws:securetransport": ["true"],
        "aws:currenttime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:epochtime": [str(int(now.timestamp()))],
        "aws:requestedregion": [request._region],
        "aws:principalaccount": [request.account_id],
    }
    if session is None:
        context.update({"aws:principalarn": [key.arn], "aws:principaltype": ["User"],
                        "aws:username": [key._owner_user_name]})
    else:
        context.update({"aws:principalarn": [session.role_arn], "aws:principaltype": ["AssumedRole"],
                        "aws:userid": [session.user_id]})
        context.update(getattr(session, "local_aws_context", {}))
    if request._service == "s3" and request._action in ("s3:ListBucket", "s3:ListBucketVersions",
                                                        "s3:ListBucketMultipartUploads") \
            and not localaws.s3.checking_missing_key():  # S3 checks that one with no s3:prefix
        query = parse_qs(urlparse(request._path).query, keep_blank_values=True)
        for name in ("prefix", "delimiter", "max-keys"):
            if name in query:
                context["s3:" + name] = query[name]
    return context


def _bucket_policy(request, resource):
    """The bucket policy that applies to an S3 resource ARN, if any."""
    from moto.s3.models import s3_backends

    if request._service != "s3" or not resource.startswith("arn:aws:s3:::"):
        return None
    bucket = s3_backends[request.account_id]["aws"].buckets.get(resource[len("arn:aws:s3:::"):].split("/")[0])
    return bucket.policy.decode() if bucket is not None and bucket.policy else None


def _permitted(request, action, resource):
    """AWS's decision for one action: an explicit Deny anywhere wins, else an Allow in the identity's
    policies or the bucket policy (same account), else denied."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    policies = list(request._access_key.collect_policies())
    bucket_policy = _bucket_policy(request, resource)
    if bucket_policy:
        policies.append(bucket_policy)
    results = [IAMPolicy(policy).is_action_permitted(action, resource) for policy in policies]
    if PermissionResult.DENIED in results:
        return False
    if request._is_assuming_role_operation(resource):
        return PermissionResult.PERMITTED in results and request._check_role_trust_relationship(resource)
    return PermissionResult.PERMITTED in results


def check_action_permitted(self, resource):
    """IAMRequestBase.check_action_permitted with the request's context, the bucket policy and the
    extra permissions AWS requires (HeadBucket is s3:ListBucket; a copy needs s3:GetObject on its source;
    see localaws.s3_actions)."""
    if self._action == "sts:GetCallerIdentity":  # AWS allows it even under an explicit Deny
        return
    localaws.s3.require_bucket(self, resource)  # NoSuchBucket comes before any policy is evaluated
    session = _session_of(self._access_key)
    if self._action == "s3:HeadBucket":
        self._action = "s3:ListBucket"
    checks = [(self._action, resource)]
    if self._service == "s3":
        copy_source = self._headers.get("x-amz-copy-source")
        if copy_source:
            checks.append(localaws.s3_actions.copy_source_check(copy_source))
        checks += localaws.s3_actions.extra_checks(self._action, self._headers, resource)
    _REQUEST.context = _request_context(self, session)
    _REQUEST.caller = _caller_of(session.arn if session else self._access_key.arn)
    try:
        for action, checked_resource in checks:
            if not _permitted(self, action, checked_resource):
                self._action = action
                self._raise_access_denied()
    finally:
        _REQUEST.context = _REQUEST.caller = None


def install_policy_evaluation():
    """Patch moto's IAM evaluator and S3's policy checks to evaluate policies as AWS does."""
    from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase, PermissionResult
    from moto.s3.exceptions import S3ClientError
    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response

    IAMPolicyStatement.is_action_permitted = statement_is_action_permitted
    IAMRequestBase.check_action_permitted = check_action_permitted
    delete_keys = S3Response._bucket_response_delete_keys

    def get_permission(bucket, action, resource):
        """moto's context-free bucket policy pre-check; check_action_permitted evaluates the bucket
        policy with the request's context instead. During DeleteObjects, the full check of each key."""
        deleting = getattr(_REQUEST, "deleting", None)
        if deleting is None:
            return PermissionResult.NEUTRAL
        response, versioned = deleting[0], next(deleting[1], False)  # moto asks once per object, in order
        response.data["Action"] = "DeleteObjectVersion" if versioned else "DeleteObject"
        try:
            response._authenticate_and_authorize_s3_action(bucket_name=bucket.name, key_name=resource.split("/", 1)[1])
        except S3ClientError:
            return PermissionResult.DENIED
        return PermissionResult.NEUTRAL

    def bucket_response_delete_keys(self, bucket_name, authenticated=True):
        """DeleteObjects: AWS checks s3:DeleteObject on each key (s3:DeleteObjectVersion when the
        entry names a version), not on the bucket."""
        import xmltodict

        try:
            objects = xmltodict.parse(self.body)["Delete"].get("Object", [])
        except Exception:  # moto answers MalformedXML itself
            objects = []
        objects = objects if isinstance(objects, list) else [objects]
        _REQUEST.deleting = (self, iter([bool(o.get("VersionId")) for o in objects if isinstance(o, dict)]))
        try:
            return delete_keys(self, bucket_name, authenticated=True)
        finally:
            _REQUEST.deleting = None

    FakeBucket.get_permission = get_permission
    S3Response._bucket_response_delete_keys = bucket_response_delete_keys


# ---- cognito identity

COGNITO_SESSION_NAME = "CognitoIdentityCredentials"
COGNITO_SESSION_SECONDS = 3600


def _cognito_error(error_type, message):
    """A cognito-identity error as AWS returns it (JSON, HTTP 400)."""
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(error_type, message)


def _not_authorized(message):
    """NotAuthorizedException with AWS's wording."""
    return _cognito_error("NotAuthorizedException", message)


def _invalid_pool_configuration():
    """What AWS says when the pool has no usable role for the identity."""
    return _cognito_error("InvalidIdentityPoolConfigurationException",
                          "Invalid identity pool configuration. Check assigned IAM roles for this pool.")


def _identity_backend(account_id, region_prefixed_id):
    """The cognito-identity backend of the region an identity (pool) id starts with, or None."""
    from moto.cognitoidentity.models import cognitoidentity_backends

    region = region_prefixed_id.split(":")[0]
    return cognitoidentity_backends[account_id][region] if region in cognitoidentity_backends[account_id].regions \
        else None


def _identity_pool(account_id, pool_id):
    """The identity pool, or AWS's ResourceNotFoundException."""
    backend = _identity_backend(account_id, pool_id or "")
    pool = backend.identity_pools.get(pool_id) if backend else None
    if pool is None:
        raise _cognito_error("ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.")
    return pool


def _identities(backend):
    """Per-backend identity records: identity id -> {"pool", "logins": {provider: sub}}, and the reverse."""
    if not hasattr(backend, "local_aws_identities"):
        backend.local_aws_identities = {"by_id": {}, "by_login": {}}
    return backend.local_aws_identities


def _verified_login(account_id, pool, provider, token):
    """Check a Logins entry as AWS does and return the token's sub; NotAuthorizedException otherwise."""
    import base64

    from joserfc import jwt
    from joserfc.errors import JoseError
    from moto.cognitoidp.models import cognitoidp_backends

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        issuer = claims["iss"]
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        raise _not_authorized("Invalid login token. Not a valid OpenId Connect identity token.")
    match = re.fullmatch(r"https://cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([\w-]+)", str(issuer))
    backends = cognitoidp_backends[account_id]
    user_pool = match and match.group(1) in backends.regions and \
        backends[match.group(1)].user_pools.get(match.group(2))
    try:
        if not user_pool:
            raise JoseError("unknown issuer")
        claims = jwt.decode(token, user_pool.json_web_key, algorithms=["RS256"]).claims
    except JoseError:
        raise _not_authorized("Invalid login token. Couldn't verify signed token.")
    now = int(localaws.clock.now())  # tokens expire on local_aws's clock (localaws/cognito_tokens.py)
    if now >= int(claims.get("exp", 0)):
        raise _not_authorized(f"Invalid login token. Token expired: {now} >= {claims.get('exp')}")
    if "aud" not in claims:
        raise _not_authorized("Invalid login token. Missing a required claim: aud")
    if issuer[len("https://"):] != provider:
        raise _not_authorized("Invalid login token. Issuer doesn't match providerName")
    if not any(p.get("ProviderName") == provider and p.get("ClientId") == claims["aud"]
               for p in pool.cognito_identity_providers or []):
        raise _not_authorized("Invalid login token. Token is not from a supported provider of this identity pool.")
    return claims["sub"]


def cognito_get_id(self):
    """GetId: one stable identity per (identity pool, token issuer, sub), format <region>:<uuid>."""
    from moto.cognitoidentity.utils import get_random_identity_id

    pool_id = self._get_param("IdentityPoolId")
    pool = _identity_pool(self.current_account, pool_id)
    logins = {provider: _verified_login(self.current_account, pool, provider, token)
              for provider, token in (self._get_param("Logins") or {}).items()}
    if not logins and not pool.allow_unauthenticated_identities:
        raise _not_authorized("Unauthenticated access is not supported for this identity pool.")
    backend = _identity_backend(self.current_account, pool_id)
    records = _identities(backend)
    known = {records["by_login"].get((pool_id, p, sub)) for p, sub in logins.items()} - {None}
    if len(known) > 1:
        raise _not_authorized("Logins don't match. Please include at least one valid login for this identity "
                              "or identity pool.")
    identity_id = known.pop() if known else get_random_identity_id(pool_id.split(":")[0])
    record = records["by_id"].setdefault(identity_id, {"pool": pool_id, "logins": {}})
    if not known:
        backend.pools_identities[pool_id]["Identities"].append({"IdentityId": identity_id})
    for provider, sub in logins.items():
        record["logins"][provider] = sub
        records["by_login"][(pool_id, provider, sub)] = identity_id
    return json.dumps({"IdentityId": identity_id})


def cognito_get_credentials_for_identity(self):
    """GetCredentialsForIdentity: an STS session of the pool's mapped role, granted only if the Logins
    belong to this identity and the role's trust policy allows this pool's identity to assume it."""
    import datetime

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    identity_id = self._get_param("IdentityId") or ""
    backend = _identity_backend(self.current_account, identity_id)
    record = backend and _identities(backend)["by_id"].get(identity_id)
    if not record:
        raise _cognito_error("ResourceNotFoundException", f"Identity '{identity_id}' not found.")
    pool_id = record["pool"]
    pool = _identity_pool(self.current_account, pool_id)
    logins = {provider: _verified_login(self.current_account, pool, provider, token)
              for provider, token in (self._get_param("Logins") or {}).items()}
    if any(record["logins"].get(provider) != sub for provider, sub in logins.items()) \
            or bool(logins) != bool(record["logins"]):
        raise _not_authorized("Logins don't match. Please include at least one valid login for this identity "
                              "or identity pool.")
    if logins:
        kind = "authenticated"
        amr = ["authenticated"] + [x for p, sub in logins.items() for x in (p, f"{p}:CognitoSignIn:{sub}")]
    else:
        kind, amr = "unauthenticated", ["unauthenticated"]
    role_arn = getattr(pool, "local_aws_roles", {}).get("Roles", {}).get(kind)
    iam = iam_backends[self.current_account]["aws"]
    try:
        role = iam.get_role_by_arn(role_arn)
    except Exception:  # no role mapped, or the mapped role does not exist
        raise _invalid_pool_configuration()
    context = {"cognito-identity.amazonaws.com:aud": [pool_id], "cognito-identity.amazonaws.com:amr": amr,
               "cognito-identity.amazonaws.com:sub": [identity_id]}
    trust = IAMPolicy(role.assume_role_policy_document).is_action_permitted(
        "sts:AssumeRoleWithWebIdentity", role_arn, {"Federated": "cognito-identity.amazonaws.com"}, context)
    if trust != PermissionResult.PERMITTED:
        raise _invalid_pool_configuration()
    session = sts_backends[self.current_account]["aws"].assume_role_with_web_identity(
        region_name=pool_id.split(":")[0], role_session_name=COGNITO_SESSION_NAME, role_arn=role_arn,
        policy=None, duration=COGNITO_SESSION_SECONDS, external_id=None)
    # Read back by the policy evaluator: ${cognito-identity.amazonaws.com:sub} etc. in the role's policies.
    session.local_aws_context = context
    return json.dumps({"IdentityId": identity_id, "Credentials": {
        "AccessKeyId": session.access_key_id, "SecretKey": session.secret_access_key,
        "SessionToken": session.session_token,
        # moto's expiration is naive UTC (on localaws.clock, see localaws.credentials)
        "Expiration": session.expiration.replace(tzinfo=datetime.timezone.utc).timestamp()}})


def cognito_set_identity_pool_roles(self):
    """SetIdentityPoolRoles, which moto lacks."""
    pool = _identity_pool(self.current_account, self._get_param("IdentityPoolId"))
    pool.local_aws_roles = {"Roles": self._get_param("Roles") or {},
                            "RoleMappings": self._get_param("RoleMappings") or {}}
    return ""


def cognito_get_identity_pool_roles(self):
    """GetIdentityPoolRoles, which moto lacks."""
    pool_id = self._get_param("IdentityPoolId")
    roles = getattr(_identity_pool(self.current_account, pool_id), "local_aws_roles", {})
    return json.dumps({"IdentityPoolId": pool_id, **{k: v for k, v in roles.items() if v}})


def install_cognito_identity():
    """Replace moto's GetId/GetCredentialsForIdentity and add the role operations it lacks; moto's
    dispatcher calls the CognitoIdentityResponse method named after the X-Amz-Target operation."""
    from moto.cognitoidentity.responses import CognitoIdentityResponse

    CognitoIdentityResponse.get_id = cognito_get_id
    CognitoIdentityResponse.get_credentials_for_identity = cognito_get_credentials_for_identity
    CognitoIdentityResponse.set_identity_pool_roles = cognito_set_identity_pool_roles
    CognitoIdentityResponse.get_identity_pool_roles = cognito_get_identity_pool_roles


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


def main(argv=None):
    parser = argparse.ArgumentParser(description="A local AWS on moto, on 127.0.0.1 only.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--latency-ms", type=int, default=0, metavar="MS",
                        help="delay every AWS request by MS, to emulate a network round trip (benchmarks)")
    args = parser.parse_args(argv)
    serve(args.port, args.latency_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
