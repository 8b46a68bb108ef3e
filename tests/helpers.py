"""Plain helpers the tests share: running the tool, configs, policies, local_aws's control endpoints, TOTP and JWTs.

No fixtures here (they live in conftest.py); test files import what they need from this module.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "cog_auth_s3.py"
# The tool run as `python -m cog_auth_s3` runs it (what the installed command does too: import it), so Python
# loads the bytecode compile_sources wrote. `python cog_auth_s3.py` would compile all of it at every run, about
# 0.15 s of CPU each: over the suite's thousands of runs, minutes. sys.argv[0] is the file, as for the script.
TOOL_COMMAND = [sys.executable, "-c", "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
                "runpy.run_module('cog_auth_s3', run_name='__main__', alter_sys=True)", str(ROOT)]
LOCAL_AWS = ROOT / "local_aws.py"
# Headless Debian chromium under Playwright: the managed login's page tests and `login --browser`'s.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def compile_sources():
    """Write the bytecode of the tool and of local_aws once, so each run loads it instead of compiling (even
    where PYTHONDONTWRITEBYTECODE keeps Python itself from writing it)."""
    import compileall
    import py_compile

    py_compile.compile(str(TOOL), doraise=True)
    compileall.compile_dir(str(ROOT / "localaws"), quiet=1)


def start_local_aws():
    """Start local_aws.py on a free port; return (process, its interface line as a dict)."""
    proc = subprocess.Popen(
        [sys.executable, str(LOCAL_AWS), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("local_aws.py exited early: " + proc.stderr.read())
    return proc, json.loads(line)


def stop_local_aws(proc):
    """Stop a local_aws started by start_local_aws."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def user_env(tmp_path, **extra):
    """The environment of a user's shell: no AWS keys, a private HOME and cache, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COG_AUTH_S3_"))}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_cli(*args, env, cwd=None, timeout=120, stdin=subprocess.DEVNULL):
    """Run cog_auth_s3.py as a user would; returns the CompletedProcess (text).

    In a session of its own, so it has no controlling terminal even when pytest runs in one: the tool
    prompts on /dev/tty whenever it can open it, and these runs must fail fast instead of waiting there.
    """
    return subprocess.run([*TOOL_COMMAND, *map(str, args)], env=env, cwd=cwd, text=True,
                          stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          start_new_session=True)


def write_config(path, sections):
    """Write an INI file of profiles: {"default": {"region": ...}, ...}."""
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {v}" for k, v in values.items() if v is not None)
        lines.append("")
    Path(path).write_text("\n".join(lines))
    os.chmod(path, 0o600)  # profiles hold passwords; the tool warns about a config others can read
    return path


REGION = "us-east-1"
PASSWORDS = {"alice": "Alice-passw0rd!", "bob": "Bob-passw0rd!"}
SUB = "${cognito-identity.amazonaws.com:sub}"


def least_privilege(bucket):
    """The permissions the tool's users should have: their own folder, nothing else."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": f"arn:aws:s3:::{bucket}/{SUB}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": [f"{SUB}/", f"{SUB}/*"]}}},
        # Lets the tool cancel a failed upload in its own folder.
        {"Effect": "Allow", "Action": "s3:AbortMultipartUpload", "Resource": f"arn:aws:s3:::{bucket}/{SUB}/*"},
    ]}


def trust(identity_pool_id, action="sts:AssumeRoleWithWebIdentity", federated="cognito-identity.amazonaws.com"):
    """The role trust policy for one identity pool's authenticated users, with knobs to break it."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": federated},
        "Action": action,
        "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": identity_pool_id},
                      "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}]}


def stack_maker(admin_session, local_aws):
    """make_stack's builder, for any local_aws and its administrator's boto3 session."""
    def client(service):
        return admin_session.client(service, region_name=REGION, endpoint_url=local_aws["endpoint_url"])

    def make(name, permissions=least_privilege, client_settings=None):
        idp, identity, iam, s3 = (client(s) for s in ("cognito-idp", "cognito-identity", "iam", "s3"))
        pool = idp.create_user_pool(PoolName=name)["UserPool"]["Id"]
        app = idp.create_user_pool_client(
            UserPoolId=pool, ClientName=name, PreventUserExistenceErrors="ENABLED",
            ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            **(client_settings or {}))["UserPoolClient"]
        for user, password in PASSWORDS.items():
            idp.admin_create_user(UserPoolId=pool, Username=user, MessageAction="SUPPRESS")
            idp.admin_set_user_password(UserPoolId=pool, Username=user, Password=password, Permanent=True)
        identity_pool = identity.create_identity_pool(
            IdentityPoolName=name, AllowUnauthenticatedIdentities=False,
            CognitoIdentityProviders=[{"ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{pool}",
                                       "ClientId": app["ClientId"]}])["IdentityPoolId"]
        bucket = f"{name}-bucket"
        s3.create_bucket(Bucket=bucket)
        role = iam.create_role(RoleName=f"{name}-auth", AssumeRolePolicyDocument=json.dumps(trust(identity_pool)))
        iam.put_role_policy(RoleName=f"{name}-auth", PolicyName="own-folder",
                            PolicyDocument=json.dumps(permissions(bucket)))
        identity.set_identity_pool_roles(IdentityPoolId=identity_pool,
                                         Roles={"authenticated": role["Role"]["Arn"]})
        return {"region": REGION, "user_pool_id": pool, "client_id": app["ClientId"],
                "client_secret": app.get("ClientSecret"), "identity_pool_id": identity_pool,
                "bucket": bucket, "endpoint_url": local_aws["endpoint_url"], "role": f"{name}-auth"}
    return make


def cognito_user_session(stack, username="alice"):
    """(identity id, temporary credentials) of a stack's user, signed in by SRP as the tool does, through
    GetId and GetCredentialsForIdentity sent unsigned as the SDKs send them."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from pycognito.aws_srp import AWSSRP

    def public(service):
        return boto3.client(service, region_name=stack["region"], endpoint_url=stack["endpoint_url"],
                            config=Config(signature_version=UNSIGNED))

    tokens = AWSSRP(username, PASSWORDS[username], stack["user_pool_id"], stack["client_id"],
                    client=public("cognito-idp")).authenticate_user()
    logins = {f"cognito-idp.{stack['region']}.amazonaws.com/{stack['user_pool_id']}":
              tokens["AuthenticationResult"]["IdToken"]}
    identity = public("cognito-identity")
    identity_id = identity.get_id(IdentityPoolId=stack["identity_pool_id"], Logins=logins)["IdentityId"]
    return identity_id, identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]


def advance_clock(endpoint_url, seconds):
    """Move a local_aws's clock forward by seconds (POST /_local_aws/clock)."""
    import urllib.request

    request = urllib.request.Request(endpoint_url + "/_local_aws/clock", method="POST",
                                     data=json.dumps({"advance_seconds": seconds}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class RequestLog:
    """The requests local_aws received, from its /_local_aws/requests endpoint."""

    def __init__(self, endpoint_url):
        self.url = endpoint_url + "/_local_aws/requests"

    def _call(self, method):
        import urllib.request

        with urllib.request.urlopen(urllib.request.Request(self.url, method=method), timeout=10) as response:
            return json.loads(response.read() or b"null")

    def clear(self):
        self._call("DELETE")

    def entries(self):
        return self._call("GET")

    def operations(self, service=None):
        return [e["operation"] for e in self.entries() if service is None or e["service"] == service]

    def cognito_calls(self):
        return [e["operation"] for e in self.entries() if e["service"].startswith("cognito")]


class Faults:
    """add(operation, skip=..., times=..., status=..., code=...) makes a local_aws fail requests; clear() ends it."""

    def __init__(self, endpoint_url):
        self.url = endpoint_url + "/_local_aws/faults"

    def add(self, operation, skip=0, times=1000, status=500, code="InternalError", message="injected",
            action="error", delay_ms=0):
        import urllib.request

        body = json.dumps({"operation": operation, "skip": skip, "times": times, "status": status,
                           "code": code, "message": message, "action": action, "delay_ms": delay_ms}).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()

    def clear(self):
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(self.url, method="DELETE"), timeout=10).close()


def session_files(tmp_path):
    """The credential cache files (one per user signed in) under a user_env's XDG_CACHE_HOME."""
    folder = tmp_path / "cache" / "cog-auth-s3"
    return sorted(p for p in folder.glob("*.json") if not p.name.endswith(".device.json")) if folder.is_dir() else []


def session_file(tmp_path, stack, username="alice"):
    """Where the tool caches username's session of stack, in a user_env of tmp_path (named by a hash of who
    signs in, which only the tool's own cache_path computes)."""
    import cog_auth_s3

    settings = {**stack, "username": username}
    return Path(cog_auth_s3.cache_path(settings, {"XDG_CACHE_HOME": str(tmp_path / "cache")}))


def device_files(tmp_path):
    """The remembered-device files under a user_env's XDG_CACHE_HOME."""
    return sorted((tmp_path / "cache" / "cog-auth-s3").glob("*.device.json"))


def totp(secret, at=None):
    """RFC 6238 code (SHA-1, 6 digits, 30 s) for a base32 secret, as an authenticator app shows it."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", int((at or time.time()) // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def jwt_claims(token):
    """A JWT's claims, read without verification (the test made or received it)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def jwt_sub(token):
    """The user pool's sub claim of an ID token."""
    return jwt_claims(token)["sub"]


def without_root_file_access():
    """preexec_fn: drop root's power to read any file, so a chmod 000 file is unreadable even to root."""
    if os.geteuid() != 0:
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH; gone from the child after exec
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


# ---- deployments made by `setup`, and the mistakes doctor must find in them


def admin_env(local_aws, tmp_path, **extra):
    """A shell environment holding the local administrator's keys (and a user's private HOME and cache)."""
    return user_env(tmp_path, AWS_ACCESS_KEY_ID=local_aws["aws_access_key_id"],
                    AWS_SECRET_ACCESS_KEY=local_aws["aws_secret_access_key"], AWS_DEFAULT_REGION=REGION, **extra)


def _set_trust(admin, dep, **knobs):
    """Replace the authenticated role's trust policy with trust() and knobs applied."""
    document = trust(dep["identity_pool_id"], **{k: v for k, v in knobs.items() if k in ("action", "federated")})
    condition = document["Statement"][0]["Condition"]
    if "aud" in knobs:
        if knobs["aud"] is None:
            del condition["StringEquals"]
        else:
            condition["StringEquals"] = {"cognito-identity.amazonaws.com:aud": knobs["aud"]}
    if knobs.get("no_amr"):
        del condition["ForAnyValue:StringLike"]
    admin("iam").update_assume_role_policy(RoleName=dep["role"], PolicyDocument=json.dumps(document))


def _set_permissions(admin, dep, statements):
    """Replace setup's own-folder policy of the authenticated role with these statements."""
    admin("iam").put_role_policy(RoleName=dep["role"], PolicyName="own-folder-in-bucket", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))


def _objects(bucket, folder, actions=("s3:GetObject", "s3:PutObject", "s3:DeleteObject")):
    """An Allow of object actions on a folder pattern of the bucket."""
    return {"Effect": "Allow", "Action": list(actions), "Resource": f"arn:aws:s3:::{bucket}/{folder}"}


def _listing(bucket, prefixes=None):
    """An Allow of s3:ListBucket on the bucket, limited to prefixes when given."""
    statement = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
    if prefixes is not None:
        statement["Condition"] = {"StringLike": {"s3:prefix": prefixes}}
    return statement


def _own(bucket):
    """setup's own-folder statements, to break one thing at a time."""
    return [_objects(bucket, f"{SUB}/*"), _listing(bucket, [f"{SUB}/", f"{SUB}/*"])]


def _guests_with_bucket_access(admin, dep):
    """Let guests in, mapped to a new role that may read every object of the bucket."""
    iam, identity = admin("iam"), admin("cognito-identity")
    pool = identity.describe_identity_pool(IdentityPoolId=dep["identity_pool_id"])
    identity.update_identity_pool(IdentityPoolId=dep["identity_pool_id"], IdentityPoolName=pool["IdentityPoolName"],
                                  AllowUnauthenticatedIdentities=True,
                                  CognitoIdentityProviders=pool["CognitoIdentityProviders"])
    document = trust(dep["identity_pool_id"])
    document["Statement"][0]["Condition"]["ForAnyValue:StringLike"] = {
        "cognito-identity.amazonaws.com:amr": "unauthenticated"}
    name = f"{dep['name']}-guests-too-open"
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="read-all", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [_objects(dep["bucket"], "*", ["s3:GetObject"])]}))
    roles = identity.get_identity_pool_roles(IdentityPoolId=dep["identity_pool_id"])["Roles"]
    identity.set_identity_pool_roles(IdentityPoolId=dep["identity_pool_id"], Roles={**roles, "unauthenticated": arn})


def _other_provider_client(admin, dep):
    """Point the identity pool's provider at another app client of the user pool."""
    idp, identity = admin("cognito-idp"), admin("cognito-identity")
    other = idp.create_user_pool_client(UserPoolId=dep["user_pool_id"], ClientName="other")["UserPoolClient"]
    pool = identity.describe_identity_pool(IdentityPoolId=dep["identity_pool_id"])
    identity.update_identity_pool(IdentityPoolId=dep["identity_pool_id"], IdentityPoolName=pool["IdentityPoolName"],
                                  AllowUnauthenticatedIdentities=False, CognitoIdentityProviders=[
                                      {"ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{dep['user_pool_id']}",
                                       "ClientId": other["ClientId"]}])


def _public_bucket_policy(admin, dep):
    """Turn Block Public Access off and let Principal * read every object (the TLS deny stays)."""
    s3 = admin("s3")
    s3.delete_public_access_block(Bucket=dep["bucket"])
    policy = json.loads(s3.get_bucket_policy(Bucket=dep["bucket"])["Policy"])
    policy["Statement"].append({"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                "Resource": f"arn:aws:s3:::{dep['bucket']}/*"})
    s3.put_bucket_policy(Bucket=dep["bucket"], Policy=json.dumps(policy))


def set_app_client(admin, dep, **settings):
    """Give setup's app client these settings over its own (UpdateUserPoolClient replaces them all)."""
    base = {"ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "PreventUserExistenceErrors": "ENABLED"}
    admin("cognito-idp").update_user_pool_client(UserPoolId=dep["user_pool_id"], ClientId=dep["client_id"],
                                                 ClientName=dep["name"], **{**base, **settings})


# Each mistake doctor must catch, made with plain admin calls on a `setup` deployment:
# name -> (break(admin_client, deployment), the finding id, doctor's exit code).
DOCTOR_MISTAKES = {
    "trust-wrong-action": (lambda a, d: _set_trust(a, d, action="sts:AssumeRole"), "trust-wrong-action", 4),
    "trust-misspelled-principal": (lambda a, d: _set_trust(a, d, federated="cognito-identity.amazon.com"),
                                   "trust-wrong-principal", 4),
    "trust-no-aud": (lambda a, d: _set_trust(a, d, aud=None), "trust-aud-missing", 5),
    "trust-other-pool": (lambda a, d: _set_trust(a, d, aud="us-east-1:00000000-1111-2222-3333-444444444444"),
                         "trust-other-pool", 5),
    "trust-no-amr": (lambda a, d: _set_trust(a, d, no_amr=True), "trust-amr-missing", 5),
    "perm-misspelled-variable": (lambda a, d: _set_permissions(a, d, [
        _objects(d["bucket"], "${cognito-identity.amazon.com:sub}/*"),
        _listing(d["bucket"], ["${cognito-identity.amazon.com:sub}/", "${cognito-identity.amazon.com:sub}/*"])]),
        "perm-wrong-variable", 4),
    "perm-user-pool-sub": (lambda a, d: _set_permissions(a, d, [
        _objects(d["bucket"], "${cognito-idp.amazonaws.com:sub}/*"), _own(d["bucket"])[1]]),
        "perm-wrong-variable", 4),
    "perm-aws-userid": (lambda a, d: _set_permissions(a, d, [
        _objects(d["bucket"], "${aws:userid}/*"), _own(d["bucket"])[1]]), "perm-shared-variable", 5),
    "perm-missing-slash": (lambda a, d: _set_permissions(a, d, [
        _objects(d["bucket"], f"{SUB}*"), _own(d["bucket"])[1]]), "perm-missing-slash", 5),
    "perm-list-unconditioned": (lambda a, d: _set_permissions(a, d, [
        _own(d["bucket"])[0], _listing(d["bucket"])]), "perm-list-unconditioned", 5),
    "perm-list-too-broad": (lambda a, d: _set_permissions(a, d, [
        _own(d["bucket"])[0], _listing(d["bucket"], ["", "*"])]), "perm-list-too-broad", 5),
    "perm-wildcard": (lambda a, d: _set_permissions(a, d, [
        {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{d['bucket']}/*"},
        _own(d["bucket"])[1]]), "perm-reaches-other-folders", 5),
    "perm-deny-own": (lambda a, d: _set_permissions(a, d, _own(d["bucket"]) + [
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{d['bucket']}/*"}]),
        "perm-deny-own-folder", 4),
    "perm-other-bucket": (lambda a, d: _set_permissions(a, d, _own("some-other-bucket")),
                          "perm-own-folder-unreachable", 4),
    "pool-no-authenticated-role": (lambda a, d: a("cognito-identity").set_identity_pool_roles(
        IdentityPoolId=d["identity_pool_id"], Roles={}), "pool-no-authenticated-role", 4),
    "pool-guests-reach-bucket": (_guests_with_bucket_access, "guest-bucket-access", 5),
    "pool-classic-flow": (lambda a, d: a("cognito-identity").update_identity_pool(
        IdentityPoolId=d["identity_pool_id"], IdentityPoolName=d["name"], AllowUnauthenticatedIdentities=False,
        AllowClassicFlow=True, CognitoIdentityProviders=[
            {"ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{d['user_pool_id']}", "ClientId": d["client_id"],
             "ServerSideTokenCheck": False}]), "pool-classic-flow", 0),
    "pool-provider-mismatch": (_other_provider_client, "pool-provider-mismatch", 4),
    "bucket-public-access": (lambda a, d: a("s3").delete_public_access_block(Bucket=d["bucket"]),
                             "bucket-public-access", 0),
    "bucket-policy-public": (_public_bucket_policy, "bucket-policy-public", 5),
    "bucket-no-tls-deny": (lambda a, d: a("s3").delete_bucket_policy(Bucket=d["bucket"]), "bucket-no-tls-deny", 0),
    "bucket-no-encryption": (lambda a, d: a("s3").delete_bucket_encryption(Bucket=d["bucket"]),
                             "bucket-no-encryption", 0),
    "bucket-no-abort-rule": (lambda a, d: a("s3").delete_bucket_lifecycle(Bucket=d["bucket"]),
                             "bucket-no-abort-lifecycle", 0),
    "client-no-srp": (lambda a, d: set_app_client(a, d, ExplicitAuthFlows=[
        "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]), "client-no-srp", 4),
    "client-no-refresh": (lambda a, d: set_app_client(a, d, ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"]),
                          "client-no-refresh", 0),
    "client-existence-errors": (lambda a, d: set_app_client(a, d, PreventUserExistenceErrors="LEGACY"),
                                "client-user-existence-errors", 0),
}


def control_call(local_aws, method, path, body=None):
    """Call local_aws's /_local_aws/<path> (unsigned); return its decoded JSON, or None."""
    import urllib.request

    request = urllib.request.Request(local_aws["endpoint_url"] + "/_local_aws/" + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text else None


def local_now(local_aws):
    """local_aws's clock (it may have been moved forward), as epoch seconds: TOTP codes must use it."""
    return time.time() + control_call(local_aws, "GET", "clock")["offset_seconds"]


class TerminalRun:
    """The tool run with a pseudo-terminal as its controlling terminal that is neither its stdin nor its stderr
    (both pipes), as under credential_process: a prompt can only reach the user through /dev/tty."""

    def __init__(self, args, env, cwd):
        import pty

        self.master, slave = pty.openpty()
        slave_name = os.ttyname(slave)

        def controlling_terminal():
            os.setsid()  # a new session, without a terminal, which the pty then becomes
            os.close(os.open(slave_name, os.O_RDWR))

        self.proc = subprocess.Popen([*TOOL_COMMAND, *map(str, args)], env=env, cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=controlling_terminal)
        os.close(slave)
        self.terminal, self.stderr = b"", b""

    def _read(self, fd, timeout):
        """Read what fd has within timeout seconds (b"" at EOF or when nothing came)."""
        import select

        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return b""

    def wait_for(self, marker, where="terminal", timeout=60):
        """Read the terminal (or stderr) until marker appears; fail with both transcripts if it doesn't."""
        deadline = time.monotonic() + timeout
        while marker.encode() not in getattr(self, where) and time.monotonic() < deadline:
            if self.proc.poll() is not None and not self._pending():
                break
            self.terminal += self._read(self.master, 0.1)
            self.stderr += self._read(self.proc.stderr.fileno(), 0.1)
        assert marker.encode() in getattr(self, where), \
            f"{marker!r} never appeared on the {where}; terminal: {self.terminal!r}; stderr: {self.stderr!r}"
        return getattr(self, where).decode(errors="replace")

    def _pending(self):
        """Whether the terminal or stderr still holds unread output."""
        import select

        return bool(select.select([self.master, self.proc.stderr.fileno()], [], [], 0)[0])

    def type(self, text):
        """Type a line on the terminal."""
        os.write(self.master, text.encode() + b"\n")

    def finish(self, timeout=120):
        """Wait for the tool to end: (exit code, stdout, stderr, terminal transcript), all text."""
        stdout, stderr = self.proc.communicate(timeout=timeout)
        while True:
            chunk = self._read(self.master, 0.1)
            if not chunk:
                break
            self.terminal += chunk
        os.close(self.master)
        return (self.proc.returncode, stdout.decode(), (self.stderr + stderr).decode(),
                self.terminal.decode(errors="replace"))


def bucket_policy_with(admin, dep, statement):
    """Add statement to the deployment's bucket policy; returns the policy as it was, to put back."""
    s3 = admin("s3")
    before = s3.get_bucket_policy(Bucket=dep["bucket"])["Policy"]
    policy = json.loads(before)
    s3.put_bucket_policy(Bucket=dep["bucket"], Policy=json.dumps(dict(policy, Statement=policy["Statement"] + [
        statement])))
    return before


def rule_mapped_role(admin, dep, name, statements, mapping_type="Rules"):
    """Give signed-in users a role `name` with these statements through the identity pool's RoleMappings (a rule
    on the sub claim, or the ID token's roles); returns the pool's Roles, to put back."""
    iam, identity = admin("iam"), admin("cognito-identity")
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust(dep["identity_pool_id"])))[
            "Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    roles = identity.get_identity_pool_roles(IdentityPoolId=dep["identity_pool_id"])["Roles"]
    rules = {"RulesConfiguration": {"Rules": [{"Claim": "sub", "MatchType": "NotEqual", "Value": "nobody",
                                               "RoleARN": arn}]}} if mapping_type == "Rules" else {}
    identity.set_identity_pool_roles(IdentityPoolId=dep["identity_pool_id"], Roles=roles, RoleMappings={
        f"cognito-idp.{REGION}.amazonaws.com/{dep['user_pool_id']}:{dep['client_id']}": {
            "Type": mapping_type, "AmbiguousRoleResolution": "AuthenticatedRole", **rules}})
    return roles


# ---- managed login (the hosted UI) and federation

CALLBACK = "http://localhost:53682/callback"   # registered, never listened on: tests read the redirect itself
SIGN_OUT = "http://localhost:53682/signed-out"
OIDC_PROVIDER = "TestIdP"
LOGIN_SCOPES = ["openid", "email", "profile"]


def managed_login_app(admin_session, endpoint_url, stack, *, secret=False, provider=None, callbacks=(CALLBACK,)):
    """Give a stack's user pool a domain and an app client for the code grant (a new one when secret=True, or
    the stack's own), with `provider` (a tests/oidc_provider.Provider) as OIDC identity provider when given.

    Returns {"base": managed login base URL, "client_id", "client_secret", "issuer_url", "domain",
    "api_client_id": the stack's own client, **stack}."""
    import uuid

    from oidc_provider import CLIENT_ID, CLIENT_SECRET

    idp = admin_session.client("cognito-idp", region_name=REGION, endpoint_url=endpoint_url)
    pool = stack["user_pool_id"]
    prefix = f"login-{uuid.uuid4().hex[:10]}"
    idp.create_user_pool_domain(UserPoolId=pool, Domain=prefix)
    providers = ["COGNITO"]
    if provider is not None:
        idp.create_identity_provider(
            UserPoolId=pool, ProviderName=OIDC_PROVIDER, ProviderType="OIDC",
            ProviderDetails={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "authorize_scopes": "openid email",
                             "oidc_issuer": provider.issuer, "attributes_request_method": "GET"},
            AttributeMapping={"email": "email", "email_verified": "email_verified", "username": "sub"})
        providers.append(OIDC_PROVIDER)
    oauth = {"AllowedOAuthFlowsUserPoolClient": True, "AllowedOAuthFlows": ["code"],
             "AllowedOAuthScopes": LOGIN_SCOPES, "CallbackURLs": list(callbacks), "LogoutURLs": [SIGN_OUT],
             "SupportedIdentityProviders": providers}
    if secret:
        client = idp.create_user_pool_client(UserPoolId=pool, ClientName="with-secret", GenerateSecret=True,
                                              **oauth)["UserPoolClient"]
        client_id, client_secret = client["ClientId"], client["ClientSecret"]
    else:
        idp.update_user_pool_client(UserPoolId=pool, ClientId=stack["client_id"], **oauth)
        client_id, client_secret = stack["client_id"], None
    return {**stack, "domain": prefix, "base": f"{endpoint_url}/_local_aws/domain/{prefix}",
            "client_id": client_id, "client_secret": client_secret, "api_client_id": stack["client_id"],
            "issuer_url": f"{endpoint_url}/{pool}"}


def identity_pool_with(admin, dep, name, extra=(), guest=None, bucket_statements=(), managed=(), trust_condition=None,
                       groups=None, user_pool=None, rules=None):
    """A new identity pool of its own, with its own bucket and roles, on dep's user pool and app client (or
    user_pool=(id, client id)), so that a case changes nothing another case sees. The signed-in role has setup's
    own-folder policy plus an inline policy "extra" of the statements in extra (and the managed policy ARNs);
    guest=statements lets guests in with a role holding them; bucket_statements are added to a TLS-only bucket
    policy with the signed-in role (or "guest") as Principal; groups={name: statements} makes user pool groups with
    roles and maps roles from the ID token; rules=[rule] maps by rules. Returns {"identity_pool_id", "bucket",
    "role", "guest_role", "group_roles", "args" (doctor's --identity-pool-id and --bucket)}."""
    import cog_auth_s3 as tool

    iam, identity, s3 = admin("iam"), admin("cognito-identity"), admin("s3")
    user_pool_id, client_id = user_pool or (dep["user_pool_id"], dep["client_id"])
    provider = f"cognito-idp.{REGION}.amazonaws.com/{user_pool_id}"
    pool_id = identity.create_identity_pool(
        IdentityPoolName=name, AllowUnauthenticatedIdentities=guest is not None,
        CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": client_id,
                                   "ServerSideTokenCheck": False}])["IdentityPoolId"]
    bucket = f"{name}-bucket"
    s3.create_bucket(Bucket=bucket)
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        key: True for key in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")})
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    tool_policies = tool.role_policies(bucket, pool_id, REGION)

    def role(role_name, trust_document, statements, policy_arns=()):
        arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust_document))["Role"]["Arn"]
        if statements:
            iam.put_role_policy(RoleName=role_name, PolicyName="extra", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": list(statements)}))
        for policy_arn in policy_arns:
            iam.attach_role_policy(RoleName=role_name, PolicyArn=policy_arn)
        return arn

    trust_document = tool_policies["TrustPolicy"]
    if trust_condition is not None:  # "POOL" stands for the new identity pool's id
        trust_document = json.loads(json.dumps(trust_document))
        trust_document["Statement"][0]["Condition"] = json.loads(json.dumps(trust_condition).replace("POOL", pool_id))
    role_arn = role(f"{name}-authenticated", trust_document, extra, managed)
    iam.put_role_policy(RoleName=f"{name}-authenticated", PolicyName=tool.ROLE_POLICY_NAME,
                        PolicyDocument=json.dumps(tool_policies["PermissionsPolicy"]))
    roles = {"authenticated": role_arn}
    if guest is not None:
        roles["unauthenticated"] = role(f"{name}-guest", tool.trust_policy(pool_id, "unauthenticated"), guest)
    group_roles = {}
    for group, statements in (groups or {}).items():
        group_roles[group] = role(f"{name}-{group}", tool.trust_policy(pool_id), statements)
        admin("cognito-idp").create_group(GroupName=f"{name}-{group}", UserPoolId=user_pool_id,
                                          RoleArn=group_roles[group])
    mappings = {}
    if groups:
        mappings = {f"{provider}:{client_id}": {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"}}
    if rules:  # a rule's RoleARN "ROLE" stands for the signed-in role
        mappings = {f"{provider}:{client_id}": {"Type": "Rules", "AmbiguousRoleResolution": "AuthenticatedRole",
                                                "RulesConfiguration": {"Rules": [
                                                    dict(rule, RoleARN=role_arn) if rule["RoleARN"] == "ROLE" else rule
                                                    for rule in rules]}}}
    identity.set_identity_pool_roles(IdentityPoolId=pool_id, Roles=roles, RoleMappings=mappings)
    policy = {"Version": "2012-10-17", "Statement": [tool.tls_statement(bucket, REGION)] + [
        dict(statement, Principal={"AWS": roles["unauthenticated"] if statement.get("Principal") == "guest"
                                   else role_arn}) for statement in bucket_statements]}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "abort", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}}]})
    return {"identity_pool_id": pool_id, "bucket": bucket, "role": f"{name}-authenticated", "guest_role": f"{name}-guest",
            "group_roles": {g: f"{name}-{g}" for g in group_roles},
            "args": ("--identity-pool-id", pool_id, "--bucket", bucket)}


def admin(args, local_aws, tmp_path, extra_env=None, endpoint=True):
    """Run cog_auth_s3.py in tmp_path with the local administrator's keys; stdin is not a terminal."""
    env = user_env(tmp_path, AWS_ACCESS_KEY_ID=local_aws["aws_access_key_id"],
                   AWS_SECRET_ACCESS_KEY=local_aws["aws_secret_access_key"], AWS_DEFAULT_REGION="us-east-1",
                   **(extra_env or {}))
    prefix = ["--endpoint-url", local_aws["endpoint_url"]] if endpoint else []
    return run_cli(*prefix, *args, env=env, cwd=tmp_path)


def unique_name():
    """A deployment name no other test uses, since all share one local_aws."""
    return "t" + uuid.uuid4().hex[:12]


def statuses(result):
    """{resource kind: status} from setup's or teardown's stderr notes."""
    found = {}
    for line in result.stderr.splitlines():
        head, _, status = line.rpartition(": ")
        kind = head.rsplit(" ", 1)[0]
        found[kind] = status.split(" (")[0]
    return found


# More than the credentials' and tokens' hour: every credential issued before is dead on local_aws's clock.
PAST_THEIR_LIFETIME = 3700


def profile(stack, username="alice", **extra):
    """The profile values of a user of stack, password included unless told otherwise."""
    values = {k: v for k, v in stack.items() if k in ("region", "user_pool_id", "client_id", "identity_pool_id",
                                                      "bucket", "endpoint_url")}
    values.update(username=username, password=PASSWORDS[username])
    values.update(extra)
    return values


def random_file(path, size):
    """A file of `size` random bytes, written in 1 MiB blocks."""
    with open(path, "wb") as handle:
        left = size
        while left:
            block = os.urandom(min(left, 1 << 20))
            handle.write(block)
            left -= len(block)
    return path


def identity(files):
    """The identity id of the user a `files` fixture runs as."""
    return json.loads(files("creds", "--format", "json").stdout)["IdentityId"]


def open_uploads(admin_client, bucket):
    """The multipart uploads still open in bucket."""
    return admin_client("s3").list_multipart_uploads(Bucket=bucket).get("Uploads", [])


def wait_for(request_log, operation, proc):
    """Wait until local_aws has received operation (or the process ended)."""
    deadline = time.monotonic() + 60
    while operation not in request_log.operations("s3") and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert operation in request_log.operations("s3"), proc.communicate(timeout=60)


def stack_config(tmp_path, stack, user="alice"):
    """Path of a config.ini of user's profile of stack (named after the user), probe upload file included."""
    values = {k: v for k, v in stack.items() if k not in ("role", "client_secret")}
    upload = tmp_path / "probe.txt"
    upload.write_text("probe\n")
    return write_config(tmp_path / f"{user}.ini", {"default": dict(values, username=user, password=PASSWORDS[user],
                                                                   upload_file=upload)})


def remote(files, prefix):
    """{key below prefix: size} of alice's objects under prefix/."""
    listing = files("--json", "ls", prefix + "/")
    assert listing.returncode == 0, listing.stderr
    return {o["key"][len(prefix) + 1:]: o["size"] for o in json.loads(listing.stdout)["objects"]}


# The password of World's users.
WORLD_PASSWORD = "Correct-Horse-9"


def error_of(call, *args, **kwargs):
    """Run a call that must fail; return (code, message) of its ClientError."""
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"].get("Message", "")


def assert_denied(call, *args, **kwargs):
    """The call fails with S3's AccessDenied."""
    code, _ = error_of(call, *args, **kwargs)
    assert code in ("AccessDenied", "403"), f"expected AccessDenied, got {code}"


class World:
    """A user pool with two users, an identity pool mapped to the tool's role, and a bucket."""

    def __init__(self, session, endpoint):
        self.endpoint = endpoint
        self.admin = lambda service: session.client(service, region_name=REGION, endpoint_url=endpoint)
        self.unsigned_identity = boto3.client("cognito-identity", region_name=REGION, endpoint_url=endpoint,
                                              config=Config(signature_version=UNSIGNED))
        idp, identity, iam, s3 = (self.admin(s) for s in ("cognito-idp", "cognito-identity", "iam", "s3"))
        self.bucket = f"iso-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=self.bucket)
        self.user_pool_id = idp.create_user_pool(PoolName="users")["UserPool"]["Id"]
        self.provider = f"cognito-idp.{REGION}.amazonaws.com/{self.user_pool_id}"
        self.client_id = idp.create_user_pool_client(
            UserPoolId=self.user_pool_id, ClientName="cli",
            ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH",
                               "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        for name in ("alice", "bob"):
            idp.admin_create_user(UserPoolId=self.user_pool_id, Username=name, MessageAction="SUPPRESS")
            idp.admin_set_user_password(UserPoolId=self.user_pool_id, Username=name, Password=WORLD_PASSWORD,
                                        Permanent=True)
        self.pool_id = self.new_identity_pool()
        self.role_arn = self.new_role(trust(self.pool_id))
        identity.set_identity_pool_roles(IdentityPoolId=self.pool_id, Roles={"authenticated": self.role_arn})
        s3.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": [f"arn:aws:s3:::{self.bucket}", f"arn:aws:s3:::{self.bucket}/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
             "Resource": f"arn:aws:s3:::{self.bucket}/*/locked"},
        ]}))
        self.token = {name: self.id_token(name) for name in ("alice", "bob")}
        self.id = {name: self.identity_id(name) for name in ("alice", "bob")}
        self.s3 = {name: self.user_s3(name) for name in ("alice", "bob")}

    def new_identity_pool(self):
        """An identity pool that accepts this user pool's app client."""
        return self.admin("cognito-identity").create_identity_pool(
            IdentityPoolName=f"pool{uuid.uuid4().hex[:8]}", AllowUnauthenticatedIdentities=False,
            CognitoIdentityProviders=[{"ProviderName": self.provider, "ClientId": self.client_id}],
        )["IdentityPoolId"]

    def new_role(self, trust_policy):
        """A role with the tool's permissions and the given trust policy."""
        iam = self.admin("iam")
        name = f"role-{uuid.uuid4().hex[:8]}"
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust_policy))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="folder", PolicyDocument=json.dumps(least_privilege(self.bucket)))
        return arn

    def id_token(self, name):
        """An ID token for a user (admin password auth; SRP is tested elsewhere)."""
        return self.admin("cognito-idp").admin_initiate_auth(
            UserPoolId=self.user_pool_id, ClientId=self.client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": WORLD_PASSWORD})["AuthenticationResult"]["IdToken"]

    def identity_id(self, name, pool_id=None):
        """GetId for a user, unsigned as the SDKs send it."""
        return self.unsigned_identity.get_id(IdentityPoolId=pool_id or self.pool_id,
                                             Logins={self.provider: self.token[name]})["IdentityId"]

    def credentials(self, name, pool_id=None):
        """GetCredentialsForIdentity for a user."""
        return self.unsigned_identity.get_credentials_for_identity(
            IdentityId=self.identity_id(name, pool_id), Logins={self.provider: self.token[name]})

    def user_s3(self, name):
        """An S3 client holding a user's temporary credentials."""
        creds = self.credentials(name)["Credentials"]
        return boto3.client("s3", region_name=REGION, endpoint_url=self.endpoint,
                            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretKey"],
                            aws_session_token=creds["SessionToken"])


class ActionWorld(World):
    """World plus a role whose policy each test replaces, alice's session of it, and a scratch bucket."""

    def __init__(self, session, endpoint):
        super().__init__(session, endpoint)
        self.probe_pool = self.new_identity_pool()
        self.probe_role = self.new_role({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": self.probe_pool},
                          "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}]})
        self.admin("cognito-identity").set_identity_pool_roles(
            IdentityPoolId=self.probe_pool, Roles={"authenticated": self.probe_role})
        creds = self.credentials("alice", self.probe_pool)["Credentials"]
        self.user = boto3.client("s3", region_name=REGION, endpoint_url=endpoint,
                                 aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretKey"],
                                 aws_session_token=creds["SessionToken"])
        self.scratch = f"scratch-{uuid.uuid4().hex[:12]}"
        self.admin("s3").create_bucket(Bucket=self.scratch)
        self.admin("s3").put_object(Bucket=self.scratch, Key="keep", Body=b"x")  # DeleteBucket: BucketNotEmpty

    def use(self, document):
        """Replace the probe role's policy with this document (a dict, or text sent as is)."""
        self.admin("iam").put_role_policy(RoleName=self.probe_role.split("/")[-1], PolicyName="folder",
                                          PolicyDocument=document if isinstance(document, str) else json.dumps(document))

    def allow(self, *statements):
        """Replace the probe role's policy: the least-privilege folder policy plus these statements."""
        document = least_privilege(self.bucket)
        document["Statement"] += list(statements)
        self.use(document)


PASSWORD = "Correct-horse-1!"
TEMPORARY = "Temporary-pass-1!"


def make_pool(idp, *, secret=False, flows=("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"), **pool_args):
    """A fresh user pool and app client: (pool id, client id, client secret or None)."""
    pool = idp.create_user_pool(PoolName=f"pool-{uuid.uuid4().hex[:8]}", **pool_args)["UserPool"]["Id"]
    client_args = {"ClientName": "tool", "GenerateSecret": secret}
    if flows is not None:
        client_args["ExplicitAuthFlows"] = list(flows)
    client = idp.create_user_pool_client(UserPoolId=pool, **client_args)["UserPoolClient"]
    return pool, client["ClientId"], client.get("ClientSecret")


def make_user(idp, pool, username="alice", password=PASSWORD, **attrs):
    """A confirmed user with a permanent password."""
    idp.admin_create_user(UserPoolId=pool, Username=username, TemporaryPassword=TEMPORARY,
                          MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": k, "Value": v} for k, v in attrs.items()])
    if password is not None:
        idp.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)


def error(excinfo):
    """(code, message, HTTP status) of a botocore ClientError."""
    response = excinfo.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def query_of(url):
    """The query parameters of a URL, one value each."""
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def pkce():
    """(verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def redeem(app, code, verifier=None, redirect_uri=CALLBACK, auth=None, **extra):
    """POST /oauth2/token for an authorization code; the response."""
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_id": app["client_id"], **({"code_verifier": verifier} if verifier else {}), **extra}
    return requests.post(app["base"] + "/oauth2/token", data=data, auth=auth, timeout=TIMEOUT)


def identity_of(app, id_token):
    """(identity id, credentials) for an ID token through GetId and GetCredentialsForIdentity."""
    identity = public(app, "cognito-identity")
    logins = {f"cognito-idp.{REGION}.amazonaws.com/{app['user_pool_id']}": id_token}
    identity_id = identity.get_id(IdentityPoolId=app["identity_pool_id"], Logins=logins)["IdentityId"]
    return identity_id, identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]


def enable_totp(idp, public, app, local_aws, prefer=True):
    """Give alice a verified authenticator (through the API, as an app would), preferred unless told; its
    secret."""
    pool, client = app["user_pool_id"], app["api_client_id"]
    idp.set_user_pool_mfa_config(UserPoolId=pool, SoftwareTokenMfaConfiguration={"Enabled": True},
                                 MfaConfiguration="OPTIONAL")
    idp.update_user_pool_client(UserPoolId=pool, ClientId=client,
                                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    tokens = public.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "alice", "PASSWORD": PASSWORDS["alice"]})["AuthenticationResult"]
    secret = public.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
    public.verify_software_token(AccessToken=tokens["AccessToken"], UserCode=totp(secret, local_now(local_aws)))
    if prefer:
        idp.admin_set_user_mfa_preference(UserPoolId=pool, Username="alice",
                                          SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return secret


TIMEOUT = 10


def public(app, service):
    """An unsigned client of local_aws, as an end user's SDK."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    return boto3.client(service, region_name=REGION, endpoint_url=app["endpoint_url"],
                        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))


def allowed(call):
    """True when S3 serves the call, False when it answers AccessDenied."""
    try:
        call()
        return True
    except ClientError as err:
        assert err.response["Error"]["Code"] == "AccessDenied", err
        return False
