#!/usr/bin/env python3
"""cog-auth-s3: sign a Cognito user in and use their own folder of a private S3 bucket.

An app's users sign in to an Amazon Cognito user pool (SRP). A Cognito identity
pool trades the user's ID token for temporary AWS credentials, and an IAM role
policy using ${cognito-identity.amazonaws.com:sub} lets those credentials get,
put and delete objects only under <identity id>/ in one bucket. This tool proves
that chain for a real user, then makes it practical to use.

Usage:
    cog-auth-s3 [GLOBAL OPTIONS] [run] [--upload-file PATH] [--try-identity IDENTITY_ID [--try-key KEY]]
    cog-auth-s3 [GLOBAL OPTIONS] creds [--format text|json|env|process]
    cog-auth-s3 [GLOBAL OPTIONS] put PATH... [--key KEY] [--recursive] [--no-clobber]
    cog-auth-s3 [GLOBAL OPTIONS] get KEY [DEST] [--no-clobber] | ls [PREFIX] | rm [--exact] KEY...
    cog-auth-s3 [GLOBAL OPTIONS] login [--browser [--idp NAME] [--no-browser] [--timeout SECONDS]]
    cog-auth-s3 [GLOBAL OPTIONS] logout [--forget-device] | aws-profile NAME [--force]
    cog-auth-s3 [GLOBAL OPTIONS] get --recursive PREFIX [DIR] | rm --recursive PREFIX [--force]
    cog-auth-s3 [GLOBAL OPTIONS] sync up DIR [PREFIX] | sync down [PREFIX] DIR [--delete] [--dryrun] [--checksum]
    cog-auth-s3 [GLOBAL OPTIONS] share KEY [--expires 90s|10m|12h]
    cog-auth-s3 [GLOBAL OPTIONS] policy [--bucket BUCKET] [--identity-pool-id ID] [--region REGION]
    cog-auth-s3 [GLOBAL OPTIONS] setup --name NAME [--region REGION] [--write-config PATH] [--profile PROFILE]
                [--guests] [--mfa off|optional|required] [--mfa-factors totp,sms,email] [--sign-in srp|choice]
                [--device-tracking off|opt-in|always] [--[no-]refresh-token-rotation] [--domain PREFIX]
                [--oidc-provider NAME --oidc-issuer URL --oidc-client-id ID]
    cog-auth-s3 [GLOBAL OPTIONS] add-user USERNAME [--email ADDRESS] [--phone NUMBER]
    cog-auth-s3 [GLOBAL OPTIONS] teardown --name NAME [--region REGION] [--force]
    cog-auth-s3 [GLOBAL OPTIONS] doctor [--identity-pool-id ID] [--bucket BUCKET] [--fix [--yes]]

    Global options are accepted before or after the command; `COMMAND --help` shows
    what each does, its options and an example.

    With no command, `run` signs in, prints the ID token, the identity id and the
    temporary credentials, and uploads upload_file to s3://bucket/<identity id>/.
    Keys are relative to the user's folder, `folder` (default {identity_id}/).

Configuration: an INI file (--config, default ./config.ini) whose sections are
profiles (--profile, default "default"). Keys: region, user_pool_id, client_id,
client_secret, identity_pool_id, username, password, bucket, upload_file,
endpoint_url, sign_in, folder (a template such as private/{identity_id}/), and for browser
sign-in domain (the managed login's base URL), scopes (default: openid email profile),
redirect_uris (loopback callbacks; default http://localhost:53682-53684/callback) and
identity_provider. An Amplify app's amplify_outputs.json or amplifyconfiguration.json
(--amplify-config) can supply the pools, region, bucket, folder and its oauth domain, scopes
and loopback redirects. Precedence: flags > environment > file > Amplify file.

sign_in: srp (the default: USER_SRP_AUTH), choice (USER_AUTH preferring PASSWORD_SRP),
email-otp or sms-otp (USER_AUTH with a one-time code by email or SMS, no password), or
browser (the managed login in a browser: code grant with PKCE; `login --browser`; federated
users too; the default for a profile with a domain and no username). Only `login` starts a
browser sign-in without a terminal: credential_process then exits 3 naming `login --browser`,
as `aws sso login` does.
Codes (one-time codes, MFA, enrolling an authenticator app) come from --mfa-code,
COG_AUTH_S3_MFA_CODE, or a prompt on the terminal (/dev/tty, even when stdin and
stderr are redirected, as under credential_process); with no terminal the tool
fails at once (exit 3): run `login` in a terminal first.

Environment:
    COG_AUTH_S3_<KEY>         any config key, e.g. COG_AUTH_S3_PASSWORD
    COG_AUTH_S3_NEW_PASSWORD  answers a NEW_PASSWORD_REQUIRED challenge
    COG_AUTH_S3_MFA_CODE      answers a code challenge: MFA or one-time code (like --mfa-code)
    COG_AUTH_S3_AMPLIFY_CONFIG  the Amplify config file (like --amplify-config)
    COG_AUTH_S3_OIDC_CLIENT_SECRET  the OIDC provider's client secret for setup --oidc-provider
    BROWSER                   the browser login --browser opens (Python's webbrowser)
    XDG_CACHE_HOME            the credential cache lives in $XDG_CACHE_HOME/cog-auth-s3, one file per
                              user signed in (user pool, app client, username, identity pool, endpoint)
    AWS_ENDPOINT_URL          honoured by boto3 when no endpoint_url is configured
    AWS_* / AWS_PROFILE       the administrator's credentials, for setup/add-user/teardown

Exit codes: 0 ok; 1 unexpected; 2 usage or config; 3 Cognito refused this user's sign-in;
4 AWS refused an operation, a resource is missing, or a server or network fault;
5 user isolation is broken; 130 interrupted (Ctrl-C or SIGTERM; the message says what may
have been stored).

Caveats:
    The password never comes from the command line: environment, config file or
    a prompt. Cached credentials and the refresh token are kept 0600 in a 0700
    folder; `logout` revokes the refresh token at Cognito, then deletes them. A
    remembered device's secrets (pools with device tracking) stay there until
    `logout --forget-device`. Transfers renew their credentials in place as they
    near their Expiration, or when S3 refuses them (one retry per request); a
    session AWS refuses otherwise (signed out everywhere, revoked) is renewed once
    and the operation retried. A run waits at most 10 s for another process's
    sign-in of the same user. The warm `creds` path imports neither boto3
    nor pycognito, so it stays fast enough for credential_process. Progress bars
    need tqdm, which is optional. `setup` rewrites the config file with
    configparser, which drops its comments.
"""

import argparse
import collections
import configparser
import contextlib
import datetime
import json
import os
import re
import sys
# Locks made at import: _thread is loaded with the interpreter, threading (about 2 ms) only where used.
import _thread

__version__ = "0.2.0"
TOOL = "cog-auth-s3"  # the one name of the tool, in help and messages, however it was started

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, EXIT_LOGIN, EXIT_AWS, EXIT_ISOLATION = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130
# Every config key can also come from the environment as COG_AUTH_S3_<KEY>; messages name these variables.
ENV_PREFIX = "COG_AUTH_S3_"


# ====================================================================== errors and output

class ToolError(Exception):
    """A failure the user can act on: one line for stderr and the exit code to end with."""

    def __init__(self, message, exit_code=EXIT_UNEXPECTED):
        super().__init__(message)
        self.exit_code = exit_code


class Interrupted(Exception):
    """Ctrl-C or SIGTERM, with what the interrupted work had and had not done."""


class AwsStepError(Exception):
    """An AWS or network error, with what the tool was doing when it happened."""

    def __init__(self, error, verb, obj, stage, endpoint=None):
        super().__init__(f"{verb} {obj}")
        self.error, self.verb, self.obj, self.stage, self.endpoint = error, verb, obj, stage, endpoint


def is_aws_error(err):
    """True for errors that come from botocore, s3transfer or the network."""
    module = type(err).__module__ or ""
    return module.startswith(("botocore", "s3transfer", "boto3", "urllib3")) or isinstance(err, ConnectionError)


@contextlib.contextmanager
def aws_step(verb, obj, stage, endpoint=None):
    """Tag any botocore/s3transfer error raised inside with what was being done (and where), for explain_aws_error."""
    try:
        yield
    except ToolError:
        raise
    except Exception as err:  # narrowed below: only AWS/network errors are wrapped
        if is_aws_error(err):
            raise AwsStepError(err, verb, obj, stage, endpoint) from err
        raise


def error_code(err):
    """The AWS error code and message of an error, else ("", "").

    Besides ClientError this reads the errors boto3's transfer wrappers flatten into
    a string (S3UploadFailedError), and the ClientError they were raised from.
    """
    response = getattr(err, "response", None)
    if not response:
        cause = err.__cause__ or err.__context__
        if cause is not None and getattr(cause, "response", None):
            return error_code(cause)
        match = re.search(r"An error occurred \((\w+)\)[^:]*: (.*)", str(err))
        return (match.group(1), match.group(2)) if match else ("", "")
    info = response.get("Error", {})
    code = str(info.get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code == "403" or (not code and status == 403):
        code = "AccessDenied"
    elif code == "404":
        code = "NotFound"
    elif code == "412":
        code = "PreconditionFailed"
    return code, str(info.get("Message", "") or "")


# What to tell the user for known codes, by stage. {obj} is the object acted on,
# {message} AWS's own text (never holds a secret for these codes). LOGIN_MESSAGES are
# Cognito refusing this user (exit 3); LOGIN_FAULT_MESSAGES the rest of sign-in (exit 4).
LOGIN_MESSAGES = {
    "UserNotFoundException": "user {obj} does not exist in the user pool; check username or run add-user",
    "UserNotConfirmedException": "user {obj} is not confirmed; confirm the sign-up (admin-confirm-sign-up)",
    "PasswordResetRequiredException": "user {obj} must reset the password; reset it, then sign in again",
    "CodeMismatchException": "the code was wrong; run again with a fresh one (--mfa-code, "
                             "COG_AUTH_S3_MFA_CODE or the prompt)",
    "ExpiredCodeException": "the code has expired; run again with a fresh one (--mfa-code, "
                            "COG_AUTH_S3_MFA_CODE or the prompt)",
    "EnableSoftwareTokenMFAException": "the authenticator app's code was wrong, so MFA was not set up; "
                                       "run again and enter its current code",
    "InvalidPasswordException": "the new password was refused: {message}; pick one that meets the pool's policy",
    "UserLambdaValidationException": "a Lambda trigger of the user pool refused the sign-in of {obj}: {message}",
}
LOGIN_FAULT_MESSAGES = {
    "ResourceNotFoundException": "the user pool or app client was not found: {message}; "
                                 "check user_pool_id, client_id and region",
    "TooManyRequestsException": "Cognito is throttling sign-ins; wait a little and run again",
    "LimitExceededException": "Cognito is throttling sign-ins; wait a little and run again",
}
IDENTITY_MESSAGES = {
    "NotAuthorizedException": "the identity pool refused the login: {message}; check that the identity pool's "
                              "authentication provider is this user pool and app client",
    "ResourceNotFoundException": "identity pool or identity not found: {message}; check identity_pool_id and region",
    "InvalidIdentityPoolConfigurationException": "the identity pool has no usable authenticated role: {message}; "
                                                 "map a role whose trust policy allows this pool (see `policy`)",
    "TooManyRequestsException": "Cognito is throttling; wait a little and run again",
}
S3_MESSAGES = {
    "AccessDenied": "access denied: can't {verb} {obj}; check 'bucket' in the profile, and that the role policy "
                    "grants this in your own folder (see `policy`)",
    "NoSuchBucket": "the bucket of {obj} does not exist; check 'bucket' and 'region' in the profile",
    "NoSuchKey": "{obj} does not exist; see `ls`",
    "NotFound": "{obj} does not exist; see `ls`",
    "PreconditionFailed": "{obj} already exists; --no-clobber left it unchanged",
    # The tool renews a session AWS calls dead and retries once; these answer the retry.
    "ExpiredToken": "AWS still calls the temporary credentials expired after renewing them; check this "
                    "computer's clock, then run again",
    "InvalidAccessKeyId": "AWS still does not recognise the temporary credentials after renewing them; check "
                          "endpoint_url and region",
    "InvalidToken": "AWS still does not recognise the temporary credentials after renewing them; check "
                    "endpoint_url and region",
    "BadDigest": "S3 rejected {obj}: the checksum didn't match what was sent; the file may have changed, run again",
    "SlowDown": "S3 is throttling; wait a little and run again",
}
# Downloads read an object in ranged GETs that each carry If-Match, so a 412 means it was replaced meanwhile.
DOWNLOAD_MESSAGES = {
    **S3_MESSAGES,
    "PreconditionFailed": "{obj} changed while it was being downloaded, twice; run again when it has stopped changing",
}
# After AccessDenied in the user's own folder, bucket_diagnosis lists that folder to tell why.
BUCKET_MESSAGES = {
    "NoSuchBucket": "bucket {obj} does not exist; check 'bucket' and 'region' in the profile",
    "AccessDenied": "bucket {obj} is not open to you: your role may not even list your own folder in it, so it is "
                    "not the bucket the role policy names (another account's, or a typo), or that policy lacks "
                    "ListBucket on your folder; check 'bucket' in the profile (and see `policy`)",
}
# A refusal outside the user's own folder (another identity's, an Amplify access level) while the own
# folder may be listed: the bucket is right, the role policy reaches only that folder.
OTHER_FOLDER_MESSAGES = {
    "AccessDenied": "access denied: can't {verb} {obj}: it is not in your own folder, and the role policy allows "
                    "only your own folder (see `policy`)",
}
OWN_FOLDER_MESSAGES = {
    "AccessDenied": "access denied: can't {verb} {obj}, although it is in your own folder of a bucket you may list; "
                    "the role policy lacks that permission (compare it with `policy`)",
}
ADMIN_MESSAGES = {
    "AccessDenied": "the administrator's credentials may not {verb} {obj}: {message}",
    "AccessDeniedException": "the administrator's credentials may not {verb} {obj}: {message}",
    "BucketAlreadyExists": "bucket name {obj} is taken by another account; choose another --name",
    "UsernameExistsException": "user {obj} already exists in the pool",
    "InvalidPasswordException": "the password for {obj} was refused: {message}; "
                                "pick one that meets the user pool's password policy",
    "ResourceNotFoundException": "{obj} was not found: {message}; check the region and the ids in the profile "
                                 "(or run setup)",
    "InvalidClientTokenId": "AWS did not recognise the administrator's credentials; "
                            "check AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
    "UnrecognizedClientException": "AWS did not recognise the administrator's credentials; "
                                   "check AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
    "SignatureDoesNotMatch": "AWS rejected the administrator's secret access key; "
                             "check AWS_PROFILE or AWS_SECRET_ACCESS_KEY",
}


def server_fault(step, where, message):
    """A ToolError when a Cognito call was answered by a server fault (5xx) or by something that is not AWS.

    Cognito's JSON answers always name their error; botocore puts the bare HTTP status in the
    code of one that doesn't (an HTML page from a proxy, or from a wrong path).
    """
    response = getattr(step.error, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    code = str(response.get("Error", {}).get("Code", ""))
    if step.stage not in ("login", "identity") or not (status >= 500 or code.isdigit()):
        return None
    text = " ".join(re.sub(r"<[^>]*>", " ", message).split())[:100]
    answer = f"HTTP {status}" + (f" {code}" if not code.isdigit() else "") + (f" ({text})" if text else "")
    if not code.isdigit():
        return ToolError(f"{where} answered {answer} to {step.verb} {step.obj}: a server fault, not a refusal; "
                         f"try again later", EXIT_AWS)
    path = re.sub(r"^\w+://[^/]*", "", where).strip("/") if where.startswith("http") else ""
    hint = f" (AWS endpoints have no path; this one has /{path})" if path else ""
    return ToolError(f"{where} answered {answer} to {step.verb} {step.obj}, which is not an AWS answer; "
                     f"check endpoint_url{hint} and any proxy", EXIT_AWS)


def login_refusal(message, username):
    """Name the remedy for each way Cognito says NotAuthorized at sign-in."""
    lowered = message.lower()
    if "incorrect username or password" in lowered:
        # The SRP proof binds the pool's name, so a wrong user_pool_id fails exactly like a wrong password.
        return (f"Cognito refused the sign-in: incorrect username or password for {username}; "
                f"check 'username' and the password ({ENV_PREFIX}PASSWORD, the profile, or the prompt); "
                f"if the password is right, check that user_pool_id is the pool of client_id")
    if "disabled" in lowered:
        return f"user {username} is disabled; an administrator must enable it"
    if "secret_hash was not received" in lowered or "configured with secret" in lowered:
        return "the app client has a secret; set 'client_secret' in the profile"
    if "secret hash" in lowered:
        return "the app client rejected the secret hash; check 'client_secret' (and 'client_id')"
    if "session is expired" in lowered:
        return ("the sign-in took longer than Cognito allows (the sign-in and its code expired); "
                "run again and enter the code sooner")
    if "invalid session" in lowered:
        return "Cognito ended this sign-in (a code was used already, or wrong too often); run again"
    if "refresh token" in lowered:
        return "the refresh token was refused; run `logout` and sign in again"
    if "not enabled" in lowered or "auth flow" in lowered:
        return f"the app client does not allow this sign-in flow: {message}; enable ALLOW_USER_SRP_AUTH"
    return f"Cognito refused the sign-in: {message}"


def one_line(err):
    """An exception's text on one line."""
    return " ".join(str(err).split()) or type(err).__name__


def shown_path(path):
    """A path for messages: a name that is not UTF-8 (Latin-1 bytes, say) with its bytes escaped, caf\\xe9.txt."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def escape_unencodable(err):
    """Codec error handler "cog_auth_s3_paths": what stdout or stderr can't encode, escaped as shown_path does (a
    byte of a name that is not UTF-8, which Python holds as a surrogate, becomes \\xe9), never an exception."""
    if not isinstance(err, UnicodeEncodeError):
        raise err
    bad = err.object[err.start:err.end]
    return "".join(f"\\x{ord(ch) - 0xdc00:02x}" if 0xdc80 <= ord(ch) <= 0xdcff else ch.encode(
        "ascii", "backslashreplace").decode() for ch in bad), err.end


def escape_paths_in_output():
    """Under a UTF-8 locale stdout and stderr are strict: printing a local path that is not UTF-8 would end the run
    (UnicodeEncodeError) after its work was done. Every line printed escapes such bytes instead."""
    import codecs

    codecs.register_error("cog_auth_s3_paths", escape_unencodable)
    # stderr's own backslashreplace would show that byte as \\udce9; a C locale's stdout writes it raw (kept).
    for stream, errors in ((sys.stdout, ("strict",)), (sys.stderr, ("strict", "backslashreplace"))):
        if getattr(stream, "errors", None) in errors and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="cog_auth_s3_paths")


def explain_aws_error(step):
    """Turn an AwsStepError into a ToolError: the single place AWS error codes become messages."""
    err, verb, obj = step.error, step.verb, step.obj
    name = type(err).__name__
    where = getattr(err, "kwargs", {}).get("endpoint_url", "") or step.endpoint or "the endpoint"
    if name == "ReadTimeoutError":
        return ToolError(f"{where} did not answer in time to {verb} {obj}; check endpoint_url and your network",
                         EXIT_AWS)
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError",
                "ProxyConnectionError", "HTTPClientError") or isinstance(err, ConnectionError):
        return ToolError(f"can't reach {where} to {verb} {obj}; check endpoint_url and your network "
                         f"(is local_aws running?)", EXIT_AWS)
    if name == "ProfileNotFound":
        return ToolError(f"{one_line(err)}; fix or unset AWS_PROFILE", EXIT_USAGE)
    if name == "ConfigParseError":  # botocore reads the AWS config file for every client and the direct path
        return ToolError(f"{one_line(err)}; fix that file or point AWS_CONFIG_FILE elsewhere", EXIT_USAGE)
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return ToolError(f"no usable AWS credentials to {verb} {obj}: {one_line(err)}; "
                         f"set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", EXIT_USAGE)
    if name == "ParamValidationError":
        # Its text quotes the rejected values, which may be tokens; they stay out of the message.
        return ToolError(f"couldn't {verb} {obj}: a value was rejected before sending; "
                         f"check the profile (--debug shows which)", EXIT_USAGE)
    code, message = error_code(err)
    message = " ".join(message.split())  # an endpoint's HTML error page must still make one line
    fields = {"verb": verb, "obj": obj, "message": message.rstrip(".")}
    fault = server_fault(step, where, message)
    if fault:
        return fault
    if step.stage == "login":
        if code == "NotAuthorizedException":
            return ToolError(login_refusal(message, obj), EXIT_LOGIN)
        if code == "InvalidParameterException" and "USER_AUTH flow not enabled" in message:
            return ToolError("the app client does not allow choice-based sign-in (USER_AUTH); enable "
                             "ALLOW_USER_AUTH on it (setup --sign-in choice), or set sign_in = srp", EXIT_LOGIN)
        if code == "InvalidParameterException" and "USER_SRP_AUTH" in message:
            return ToolError("the app client does not allow SRP sign-in; enable ALLOW_USER_SRP_AUTH on it",
                             EXIT_LOGIN)
        if code in LOGIN_MESSAGES:
            return ToolError(LOGIN_MESSAGES[code].format(**fields), EXIT_LOGIN)
    table = {"login": LOGIN_FAULT_MESSAGES, "identity": IDENTITY_MESSAGES, "s3": S3_MESSAGES,
             "download": DOWNLOAD_MESSAGES, "bucket": BUCKET_MESSAGES, "own-folder": OWN_FOLDER_MESSAGES,
             "other-folder": OTHER_FOLDER_MESSAGES,
             "admin": ADMIN_MESSAGES}.get(step.stage, {})
    if code in table:
        return ToolError(table[code].format(**fields), EXIT_AWS)
    return ToolError(f"couldn't {verb} {obj}: {code or name}: {message or one_line(err)}", EXIT_AWS)


class Output:
    """Where notes, warnings and progress go: stderr, quiet or not; stdout carries results only."""

    def __init__(self, quiet=False, debug=False, as_json=False):
        self.quiet, self.debug, self.as_json = quiet, debug, as_json
        self.warned = set()

    def note(self, message):
        """Say what happened, unless --quiet."""
        if not self.quiet:
            print(message, file=sys.stderr)

    def warn(self, message):
        """Say what went wrong but was worked around, once per run; even with --quiet."""
        # The cache is read before and again under its lock: one problem, one warning.
        if message not in self.warned:
            self.warned.add(message)
            print(f"warning: {message}", file=sys.stderr)

    def trace(self, message):
        """Say what a --debug run wants to know (never a secret)."""
        if self.debug:
            print(f"debug: {message}", file=sys.stderr)

    def progress_wanted(self):
        """A progress bar only for a person watching a terminal."""
        return not self.quiet and not self.as_json and sys.stderr.isatty()

    def result(self, data, lines, as_json=None):
        """Print a command's result on stdout: data as one JSON object with --json (as_json decides when given),
        else the text lines. data may be a function that makes it, called only for JSON, so text can stream."""
        if self.as_json if as_json is None else as_json:
            print(json.dumps(data() if callable(data) else data, indent=2))
        else:
            for line in lines:
                print(line)

    def line(self, text):
        """One text line of a result as soon as it is known (a file done, an object deleted); with --json the
        result is printed once, at the end, by result()."""
        if not self.as_json:
            print(text, flush=True)


def labelled(pairs):
    """Text lines "Label:      value", aligned, for results read by people."""
    return [f"{label + ':':<19}{value}" for label, value in pairs]


def open_terminal():
    """A file descriptor of the controlling terminal, else None.

    Prompts go there even when stdin and stderr are pipes: the AWS CLI runs credential_process
    with its stderr swallowed, where a prompt on stderr would look like a hang.
    """
    try:
        return os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None


def tell_person(message):
    """Show a line a person must see even when stderr is swallowed (credential_process): on the terminal if
    there is one, else on stderr."""
    terminal = open_terminal()
    if terminal is None:
        print(message, file=sys.stderr, flush=True)
        return
    try:
        os.write(terminal, (message + "\n").encode())
    finally:
        os.close(terminal)


def prompt_secret(prompt, no_tty_message, exit_code=EXIT_USAGE, twice=False):
    """Read a secret with getpass (which prompts and reads on /dev/tty), or fail at once without a terminal."""
    terminal = open_terminal()
    if terminal is None:
        raise ToolError(no_tty_message, exit_code)
    os.close(terminal)
    import getpass

    try:
        value = getpass.getpass(prompt)
        if twice and getpass.getpass("Again: ") != value:
            raise ToolError("the two entries differ; run again", exit_code)
    except EOFError:
        raise ToolError("input ended before a value was entered; run again", exit_code) from None
    if not value:
        raise ToolError("nothing was entered; run again", exit_code)
    return value


# ====================================================================== config

CONFIG_KEYS = (
    "region", "user_pool_id", "client_id", "client_secret", "identity_pool_id",
    "username", "password", "bucket", "upload_file", "endpoint_url", "sign_in", "folder",
    "domain", "scopes", "redirect_uris", "identity_provider",
)
SIGN_IN_MODES = ("srp", "choice", "email-otp", "sms-otp", "browser")
# Browser sign-in (the managed login): what is asked for unless the profile's scopes say otherwise, and the
# loopback callback URLs `setup --domain` registers, tried in order until one's port is free (fixed ports,
# since Cognito matches a callback URL exactly, port included).
DEFAULT_SCOPES = "openid email profile"
DEFAULT_REDIRECT_URIS = ("http://localhost:53682/callback", "http://localhost:53683/callback",
                         "http://localhost:53684/callback")
LOOPBACK_URI_RE = re.compile(r"^http://(localhost|127\.0\.0\.1):(\d{1,5})(/[^\s?#]*)?$")
DEFAULT_CONFIG = "config.ini"
# Keys without which a user's session can't be made; run and files add bucket.
SESSION_KEYS = ("region", "user_pool_id", "client_id", "identity_pool_id", "username")
REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
REGION_RE = re.compile(f"^{REGION}$")
# Identity ids and identity pool ids share one form: <region>:<uuid>.
REGION_UUID_RE = re.compile(f"^({REGION}):{UUID}$")
USER_POOL_ID_RE = re.compile(f"^({REGION})_[0-9A-Za-z]+$")
CLIENT_ID_RE = re.compile(r"^[\w+]{1,128}$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# scheme://host[:port][/path], an IPv6 host in brackets; parsed by hand because the warm
# `creds` path imports nothing it can do without (urllib.parse).
ENDPOINT_RE = re.compile(r"^https?://(\[[0-9A-Fa-f:.]+\]|[^\s/?#@\[\]:]+)(?::(\d+))?(/[^\s?#]*)?$")
# Real configs are a few hundred bytes; anything near this is not one (--config /dev/zero).
CONFIG_MAX_BYTES = 1024 * 1024
# The user's folder: a template in which {identity_id} stands for the Cognito identity id.
IDENTITY_PLACEHOLDER = "{identity_id}"
DEFAULT_FOLDER = IDENTITY_PLACEHOLDER + "/"
# Amplify Gen 1's access levels; public/ is shared by every user of the app, by design.
LEVEL_FOLDERS = {"private": "private/{identity_id}/", "protected": "protected/{identity_id}/", "public": "public/"}
AMPLIFY_ENV = ENV_PREFIX + "AMPLIFY_CONFIG"
# amplify_outputs.json carries the data model too, so it can be large; but not unboundedly so.
AMPLIFY_MAX_BYTES = 16 * 1024 * 1024


def read_config_text(path, what="config", remedy="pick another with --config", limit=CONFIG_MAX_BYTES):
    """The text of a config file (a leading UTF-8 BOM dropped), or None when absent.

    configparser.read would skip a file it can't open (an unreadable config looked empty) and
    read /dev/zero until memory ran out: a config must be a small regular file, checked before reading.
    what names the file in messages ("config", "AWS config"); remedy says what else to do; limit is the
    largest size accepted.
    """
    import stat

    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below, unread.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise ToolError(f"can't read {what}: permission denied: {path}; fix its permissions "
                        f"(chmod 600) or {remedy}", EXIT_USAGE) from None
    except OSError as err:
        raise ToolError(f"can't read {what} {path}: {err.strerror}; {remedy}", EXIT_USAGE) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ToolError(f"{what} {path} is not a regular file; {remedy}", EXIT_USAGE)
        data = b"" if info.st_size > limit else handle.read(limit + 1)
    if info.st_size > limit or len(data) > limit:  # also a file that grew meanwhile
        raise ToolError(f"{what} {path} is larger than {limit // 1024 // 1024} MiB, too large "
                        f"to be a config; {remedy}", EXIT_USAGE)
    try:
        return data.decode("utf-8-sig")  # Windows editors start UTF-8 files with a BOM
    except UnicodeDecodeError:
        raise ToolError(f"can't read {what} {path}: it is not UTF-8 text; {remedy}", EXIT_USAGE) from None


def load_ini(path):
    """Parse the INI file at path (empty when absent), or fail with a usage error."""
    parser = configparser.ConfigParser(interpolation=None)
    text = read_config_text(path)
    try:
        if text is not None:
            parser.read_string(text, source=path)
    except configparser.Error as err:
        # The parser's own text quotes the offending line, which may hold the password.
        line = getattr(err, "lineno", None) or next(iter(getattr(err, "errors", [])), (None,))[0]
        where = f" at line {line}" if line else ""
        raise ToolError(f"can't read config {path}: {type(err).__name__}{where}; fix the INI syntax",
                        EXIT_USAGE)
    return parser


def holds_password(parser):
    """True when any profile of the parsed config has a password."""
    return any(parser.get(section, "password", fallback="").strip() for section in parser.sections())


# COG_AUTH_S3_* variables that are not config keys; any other name with the prefix is a typo worth a warning.
ENV_ONLY_NAMES = ("NEW_PASSWORD", "MFA_CODE", "AMPLIFY_CONFIG", "OIDC_CLIENT_SECRET")


def unknown_name_warning(name, known, label):
    """A warning for a name that is not one of known (label names it where it was found), with the closest
    known name when there is one."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(known)}"
    return f"{label} is not a setting this tool reads, so it is ignored{hint}"


def warn_unknown_names(parser, profile, path, environ, warn):
    """Warn about keys of the profile and COG_AUTH_S3_* variables that no setting has: a typo is never silent."""
    if parser is not None:
        for key in parser.options(profile):
            if key not in CONFIG_KEYS:
                warn(unknown_name_warning(key, CONFIG_KEYS, f"key {key} in [{profile}] of {path}"))
    known = [ENV_PREFIX + key.upper() for key in CONFIG_KEYS + ENV_ONLY_NAMES]
    for name in sorted(environ):
        if name.startswith(ENV_PREFIX) and name not in known:
            warn(unknown_name_warning(name, known, f"environment variable {name}"))


# How a browser sign-in runs (login's flags, not config keys): print the URL and read the pasted redirect instead
# of opening a browser, how long to wait for it, and whether this command may start one without a terminal
# (only `login` may: credential_process can't show a browser to anyone).
BrowserRun = collections.namedtuple("BrowserRun", "no_browser timeout interactive", defaults=(False, None, False))


class Settings(dict):
    """A profile's settings by config key, and where they came from: the profile's name, its config file, and
    the per-user paths an Amplify config offered when it named several (the profile's folder must pick one);
    browser says how a browser sign-in runs (BrowserRun)."""

    def __init__(self, values=(), profile="default", path=DEFAULT_CONFIG, amplify_folders=(), browser=BrowserRun()):
        """values by config key; profile, path and amplify_folders say where they came from."""
        super().__init__(values)
        self.profile, self.path, self.amplify_folders = profile, path, tuple(amplify_folders)
        self.browser = browser


def read_profile(path, profile, overrides=None, environ=None, explicit_path=False, warn=None, base=None):
    """Return the profile's Settings: flags > COG_AUTH_S3_* environment > file > base (Amplify)."""
    environ = os.environ if environ is None else environ
    values = Settings(base or {}, profile, path, getattr(base, "amplify_folders", ()))
    if os.path.isdir(path):
        raise ToolError(f"config {path} is a folder; pass the INI file with --config", EXIT_USAGE)
    if os.path.exists(path):
        parser = load_ini(path)
        if warn and holds_password(parser) and os.stat(path).st_mode & 0o044:
            # As ssh does for a private key: say so, every run, until it is fixed.
            warn(f"config {path} holds a password and is readable by others; run chmod 600 {path}")
        if parser.has_section(profile):
            values.update((k, v.strip()) for k, v in parser.items(profile) if k in CONFIG_KEYS and v.strip())
            if warn:
                warn_unknown_names(parser, profile, path, {}, warn)
        else:
            found = ", ".join(parser.sections()) or "none"
            raise ToolError(f"no [{profile}] section in {path} (sections: {found}); "
                            f"add it or pick one with --profile", EXIT_USAGE)
    elif explicit_path:
        raise ToolError(f"config file {path} not found; copy config.example.ini there "
                        f"or run `setup --write-config {path}`", EXIT_USAGE)
    for key in CONFIG_KEYS:
        value = environ.get(ENV_PREFIX + key.upper(), "").strip()
        if value:
            values[key] = value
    if warn:
        warn_unknown_names(None, profile, path, environ, warn)
    values.update((k, v) for k, v in (overrides or {}).items() if v)
    return values


def check_folder_template(template, what="folder"):
    """Refuse a folder template that would not give each identity a folder of its own; return it."""
    if template.count(IDENTITY_PLACEHOLDER) != 1:
        raise ToolError(f"{what} {template!r} must contain {IDENTITY_PLACEHOLDER} exactly once: it is what makes "
                        f"the folder each user's own (e.g. private/{IDENTITY_PLACEHOLDER}/)", EXIT_USAGE)
    before, _, after = template.partition(IDENTITY_PLACEHOLDER)
    if not after.startswith("/") or not after.endswith("/"):
        raise ToolError(f"{what} {template!r} must have a / right after {IDENTITY_PLACEHOLDER} and at its end: "
                        f"without it one user's folder would include another's (us-east-1:ab... is a prefix "
                        f"of us-east-1:abc...)", EXIT_USAGE)
    if before and not before.endswith("/"):
        raise ToolError(f"{what} {template!r} must have {IDENTITY_PLACEHOLDER} as a whole path segment "
                        f"(after a / or at the start)", EXIT_USAGE)
    fixed = before + after
    # These would be wildcards or variables in the IAM policy made from the template.
    if re.search(r"[*?${}\\]", fixed) or any(ord(ch) < 32 for ch in fixed):
        raise ToolError(f"{what} {template!r} may not hold * ? $ {{ }} \\ or control characters besides "
                        f"{IDENTITY_PLACEHOLDER}", EXIT_USAGE)
    if any(part in ("", ".", "..") for part in (before + "x" + after[:-1]).split("/")):
        raise ToolError(f"{what} {template!r} has an empty, '.' or '..' segment, or starts with /", EXIT_USAGE)
    return template


def validate_settings(settings):
    """Reject malformed values before any request is sent."""
    region = settings.get("region")
    if region and not REGION_RE.match(region):
        raise ToolError(f"region '{region}' is not an AWS region such as us-east-1", EXIT_USAGE)
    pool = settings.get("user_pool_id")
    if pool:
        match = USER_POOL_ID_RE.match(pool)
        if not match:
            raise ToolError(f"user_pool_id '{pool}' is malformed; expected <region>_<id> such as us-east-1_AbC123",
                            EXIT_USAGE)
        if region and match.group(1) != region:
            raise ToolError(f"user_pool_id '{pool}' is in {match.group(1)} but region is {region}; "
                            f"make them agree", EXIT_USAGE)
    identity_pool = settings.get("identity_pool_id")
    if identity_pool and not REGION_UUID_RE.match(identity_pool):
        raise ToolError(f"identity_pool_id '{identity_pool}' is malformed; expected <region>:<uuid>", EXIT_USAGE)
    client_id = settings.get("client_id")
    if client_id and not CLIENT_ID_RE.match(client_id):
        raise ToolError(f"client_id '{client_id}' is malformed; copy the app client id from the user pool",
                        EXIT_USAGE)
    bucket = settings.get("bucket")
    if bucket and not BUCKET_RE.match(bucket):
        raise ToolError(f"bucket '{bucket}' is not a valid S3 bucket name", EXIT_USAGE)
    endpoint = settings.get("endpoint_url")
    match = ENDPOINT_RE.match(endpoint) if endpoint else None
    if endpoint and "@" in endpoint.split("//", 1)[-1].split("/", 1)[0]:
        raise ToolError("endpoint_url holds a user name or password; give the endpoint alone", EXIT_USAGE)
    if endpoint and not match:
        raise ToolError(f"endpoint_url '{endpoint}' is not an http(s) URL such as https://host or "
                        f"http://127.0.0.1:4566 (no query or fragment)", EXIT_USAGE)
    if match and match.group(2) is not None and not 0 < int(match.group(2)) < 65536:
        raise ToolError(f"endpoint_url '{endpoint}' has port {match.group(2)}; a port is 1 to 65535", EXIT_USAGE)
    mode = settings.get("sign_in")
    if mode and mode not in SIGN_IN_MODES:
        raise ToolError(f"sign_in '{mode}' is not one of {', '.join(SIGN_IN_MODES)}", EXIT_USAGE)
    domain = settings.get("domain")
    if domain and not ENDPOINT_RE.match(domain):
        raise ToolError(f"domain '{domain}' is not the managed login's base URL, such as "
                        f"https://PREFIX.auth.REGION.amazoncognito.com", EXIT_USAGE)
    for uri in split_list(settings.get("redirect_uris")):
        if not LOOPBACK_URI_RE.match(uri):
            raise ToolError(f"redirect_uris: {uri!r} is not a loopback callback URL such as "
                            f"http://localhost:53682/callback", EXIT_USAGE)
    if settings.get("folder"):
        check_folder_template(settings["folder"])


def split_list(value):
    """A list setting (scopes, redirect_uris) as a list: its items are separated by commas or spaces."""
    return [item for item in re.split(r"[,\s]+", value or "") if item]


def user_label(settings):
    """Who the profile signs in, for messages: its username, or (a browser profile has none) its browser user."""
    return settings.get("username") or "the user of the browser sign-in"


def require(settings, keys):
    """Check that settings has every key and that each value is well formed."""
    for key in keys:
        if not settings.get(key):
            where = settings.path
            if not os.path.exists(where):
                # Run from another folder, the missing file is the news; the missing key follows from it.
                raise ToolError(f"config file {where} not found (looked for {os.path.abspath(where)}), so "
                                f"'{key}' is missing; run from the folder that holds it, pass --config PATH, "
                                f"or set {ENV_PREFIX}{key.upper()}", EXIT_USAGE)
            raise ToolError(f"missing '{key}' in [{settings.profile}] of {where}; "
                            f"add it or set {ENV_PREFIX}{key.upper()}", EXIT_USAGE)
    validate_settings(settings)


def amplify_value(document, dotted, path):
    """The string at a dotted path of an Amplify config, or exit 2 naming the missing key."""
    value = document
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"Amplify config {path} lacks {dotted}; regenerate it, or set that value in the profile",
                        EXIT_USAGE)
    return value.strip()


def amplify_oauth(oauth, domain_key, scopes_key, redirects_key):
    """The managed login's settings from an Amplify config's oauth block: domain (a bare host there, so
    https:// is added), scopes, and its loopback redirect URIs (an app's http://localhost:3000/ counts)."""
    if not isinstance(oauth, dict) or not isinstance(oauth.get(domain_key), str) or not oauth[domain_key].strip():
        return {}
    host = oauth[domain_key].strip()
    settings = {"domain": host if host.startswith(("https://", "http://")) else f"https://{host}"}
    scopes, redirects = oauth.get(scopes_key), oauth.get(redirects_key)
    if isinstance(scopes, list) and all(isinstance(scope, str) for scope in scopes) and scopes:
        settings["scopes"] = " ".join(scopes)
    # Gen 2 lists the redirect URIs; Gen 1 joins them with commas in one string.
    redirects = split_list(",".join(redirects) if isinstance(redirects, list) else redirects
                           if isinstance(redirects, str) else "")
    loopback = [uri for uri in redirects if LOOPBACK_URI_RE.match(uri)]
    if loopback:
        settings["redirect_uris"] = " ".join(loopback)
    return settings


def amplify_gen2_settings(document, path):
    """amplify_outputs.json: auth.* and storage.bucket_name; the folder from the path with an entityidentity rule."""
    settings = {"region": amplify_value(document, "auth.aws_region", path),
                "user_pool_id": amplify_value(document, "auth.user_pool_id", path),
                "client_id": amplify_value(document, "auth.user_pool_client_id", path),
                "identity_pool_id": amplify_value(document, "auth.identity_pool_id", path),
                "bucket": amplify_value(document, "storage.bucket_name", path),
                **amplify_oauth(document["auth"].get("oauth"), "domain", "scopes", "redirect_sign_in_uri")}
    buckets = document["storage"].get("buckets") or []
    if not isinstance(buckets, list):
        raise ToolError(f"Amplify config {path}: storage.buckets is not a list", EXIT_USAGE)
    folders = [name for entry in buckets if isinstance(entry, dict) and entry.get("bucket_name") == settings["bucket"]
               for name, rules in (entry.get("paths") or {}).items()
               if isinstance(rules, dict) and "entityidentity" in rules]
    if len(folders) > 1:  # the profile's folder must pick one (see folder_template)
        return Settings(settings, amplify_folders=sorted(folders))
    if folders:
        template = folders[0].replace("{entity_id}", IDENTITY_PLACEHOLDER)
        settings["folder"] = check_folder_template(template[:-1] if template.endswith("*") else template,
                                                   what=f"storage path {folders[0]!r} of {path} as a folder")
    return settings


def amplify_gen1_settings(document, path):
    """amplifyconfiguration.json (aws-exports): the flat aws_* keys; the folder is private/{identity_id}/."""
    region_key = "aws_cognito_region" if "aws_cognito_region" in document else "aws_project_region"
    return {"region": amplify_value(document, region_key, path),
            "user_pool_id": amplify_value(document, "aws_user_pools_id", path),
            "client_id": amplify_value(document, "aws_user_pools_web_client_id", path),
            "identity_pool_id": amplify_value(document, "aws_cognito_identity_pool_id", path),
            "bucket": amplify_value(document, "aws_user_files_s3_bucket", path),
            "folder": LEVEL_FOLDERS["private"],
            **amplify_oauth(document.get("oauth"), "domain", "scope", "redirectSignIn")}


def read_amplify_config(path):
    """Settings from an Amplify app's amplify_outputs.json (Gen 2) or amplifyconfiguration.json (Gen 1)."""
    hint = "name the app's amplify_outputs.json or amplifyconfiguration.json"
    text = read_config_text(path, "Amplify config", hint, AMPLIFY_MAX_BYTES)
    if text is None:
        raise ToolError(f"Amplify config {path} not found; {hint}", EXIT_USAGE)
    try:
        document = json.loads(text)
    except ValueError:
        raise ToolError(f"Amplify config {path} is not JSON; {hint}", EXIT_USAGE) from None
    if isinstance(document, dict) and isinstance(document.get("auth"), dict) and "version" in document:
        return amplify_gen2_settings(document, path)
    if isinstance(document, dict) and "aws_user_pools_id" in document:
        return amplify_gen1_settings(document, path)
    raise ToolError(f"Amplify config {path} has an unknown shape: neither amplify_outputs.json (auth, version) "
                    f"nor amplifyconfiguration.json (aws_user_pools_id)", EXIT_USAGE)


def password_for(settings):
    """The password from environment or file, else a prompt; never from argv."""
    if settings.get("password"):
        return settings["password"]
    return prompt_secret(f"Password for {settings['username']}: ",
                         f"a password is needed but there is no terminal to ask on; "
                         f"set {ENV_PREFIX}PASSWORD or 'password' in the profile")


def admin_region(region=None):
    """The administrator's region: region (--region), else AWS_REGION or AWS_DEFAULT_REGION, else us-east-1."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    validate_settings({"region": region})
    return region


def pool_region(identity_pool_id, region=None):
    """The region of identity_pool_id, refusing a --region that names another one."""
    match = REGION_UUID_RE.match(identity_pool_id or "")
    validate_settings({"region": region or (match.group(1) if match else None), "identity_pool_id": identity_pool_id})
    if region and region != match.group(1):
        raise ToolError(f"identity pool {identity_pool_id} is in {match.group(1)} but --region is {region}; "
                        f"make them agree", EXIT_USAGE)
    return match.group(1)


def write_private_file(path, data, mode=0o600):
    """Write data to path atomically, mode 0600 unless told otherwise: temporary file, fsync, rename."""
    import tempfile

    folder = os.path.dirname(path) or "."
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_profile(path, parser, profile, values):
    """Set values in [profile] of the parsed INI file and write it atomically, keeping its mode unless exposed."""
    import io
    import stat

    if not parser.has_section(profile):
        parser.add_section(profile)
    # setup's app client has no secret; a stale client_secret would make every sign-in fail.
    parser.remove_option(profile, "client_secret")
    for key, value in values.items():
        parser.set(profile, key, value)
    text = io.StringIO()
    parser.write(text)
    # A new file gets 0600 because profiles may later hold a password. An existing one keeps its
    # mode (a team may share a file of pool ids), unless it holds a password: then only its owner reads it.
    mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.exists(path) else 0o600
    if holds_password(parser):
        mode &= 0o700
    write_private_file(path, text.getvalue().encode(), mode)


def aws_config_path(environ=None):
    """The AWS CLI's and SDKs' config file: AWS_CONFIG_FILE, else ~/.aws/config."""
    environ = os.environ if environ is None else environ
    return os.path.expanduser(environ.get("AWS_CONFIG_FILE") or os.path.join("~", ".aws", "config"))


# What the AWS CLI accepts as a profile name in its config: botocore reads `[profile NAME]` with
# configparser (a ] ends the header, # and ; start comments) and then shlex (whitespace splits, quotes
# and backslashes are consumed).
AWS_PROFILE_NAME_FORBIDDEN = re.compile(r"[\s\[\]#;'\"\\]")


def check_aws_profile_name(name):
    """Refuse an AWS profile name that botocore would misread or that would inject a section; return it."""
    if not name or AWS_PROFILE_NAME_FORBIDDEN.search(name) or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ToolError(f"AWS profile name {name!r} is not one the AWS CLI accepts: it must be non-empty, with no "
                        f"whitespace, brackets, quotes, backslash, '#' or ';'", EXIT_USAGE)
    return name


def aws_config_section(line):
    """The section a line of an AWS config file opens, as botocore names it, else None:
    "default", ("profile", NAME) for a profile, or ("other", HEADER) for any other section."""
    import shlex

    # configparser: the stripped line starting with [ up to its last ]; what follows (a comment) is ignored.
    match = re.match(r"\[(.+)\]", line.strip())
    if not match:
        return None
    header = match.group(1)
    if header == "default":
        return "default"
    if header.startswith("profile"):  # botocore's test, which also takes [profile   NAME] and [profile "NAME"]
        try:
            parts = shlex.split(header)
        except ValueError:
            parts = []
        if len(parts) == 2:
            return ("profile", parts[1])
    return ("other", header)


# How long a writer of the AWS config waits for another's lock: a writer holds it for milliseconds, so a lock held
# longer belongs to a process that is stuck, or is a stale lock another tool keeps open.
FILE_LOCK_WAIT = 10.0


def flock_within(fd, wait, poll=0.05):
    """Take an exclusive flock on fd, polling for at most `wait` seconds: True once held, False if not in time."""
    import fcntl
    import time

    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)


@contextlib.contextmanager
def file_lock(path, wait=FILE_LOCK_WAIT):
    """Hold an exclusive lock on path + ".lock" (made 0600): read-modify-writes of one file take turns; a lock
    held past `wait` seconds ends the run with exit 2, naming the lock."""
    lock = path + ".lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not flock_within(fd, wait):
            raise ToolError(f"another process has held the lock {shown_path(lock)} for {wait:g} s; let it finish or "
                            f"end it (`fuser {shown_path(lock)}` names it), then run again", EXIT_USAGE)
        yield
    finally:
        os.close(fd)


def replace_aws_profile(path, name, values, force):
    """write_aws_profile's read-modify-write, for a caller that holds the file's lock."""
    header = "[default]" if name == "default" else f"[profile {name}]"
    # botocore reads [profile default] as the default profile too.
    sections = ("default", ("profile", name)) if name == "default" else (("profile", name),)
    text = read_config_text(path, "AWS config", "point AWS_CONFIG_FILE at another file")
    lines = (text or "").splitlines(keepends=True)
    # Of sections naming one profile botocore keeps only the last ([profile me], then [profile  me]): that one is
    # the profile, compared and replaced; the ones before it are dead already.
    start = next((i for i in reversed(range(len(lines))) if aws_config_section(lines[i]) in sections), None)
    block = [header + "\n"] + [f"{key} = {value}\n" for key, value in values.items()]
    if start is None:
        status = "created"
        if lines and lines[-1].strip():
            lines[-1] = lines[-1].rstrip("\n") + "\n"
            block.insert(0, "\n")
        lines.extend(block)
    else:
        end = next((i for i in range(start + 1, len(lines)) if aws_config_section(lines[i])), len(lines))
        current = dict(line.split("=", 1) for line in lines[start + 1:end] if "=" in line
                       and not line.lstrip().startswith(("#", ";")))
        if {key.strip(): value.strip() for key, value in current.items()} == values:
            return "exists"
        if not force:
            raise ToolError(f"{path} already has a different {header}; rerun with --force to replace it, "
                            f"or choose another name", EXIT_USAGE)
        status = "updated"
        trailing = [line for line in lines[start + 1:end] if not line.strip()][:1]  # keep the blank separator
        # Its section name as configparser reads it (unindented, no comment): another spelling could repeat a
        # section before it ([profile me] then [profile  me]), which configparser refuses.
        spelt = re.match(r"\[(.+)\]", lines[start].strip()).group(1)
        lines[start:end] = [f"[{spelt}]\n"] + block[1:] + trailing
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o600
    write_private_file(path, "".join(lines).encode(), mode)
    return status


def write_aws_profile(path, name, values, force=False):
    """Set the section of AWS profile NAME in the AWS config file, keeping every other line; atomic, and
    under a lock beside the file, so parallel writers keep one another's profiles.

    Returns "created", "exists" (already exactly so) or "updated" (a different one replaced, only with force).
    """
    check_aws_profile_name(name)
    # A dotfiles setup links ~/.aws/config elsewhere: replace the file it names, not the link.
    path = os.path.realpath(path)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o700, exist_ok=True)
    with file_lock(path):
        return replace_aws_profile(path, name, values, force)


# ====================================================================== login: aws clients

CLIENT_TUNING = {
    "connect_timeout": 5,
    "read_timeout": 60,
    # standard mode retries throttling and 5xx with backoff, but gives up on a
    # refused connection within seconds instead of hanging.
    "retries": {"mode": "standard", "max_attempts": 3},
    "max_pool_connections": 32,  # MAX_CONCURRENCY uploads at once, each on its own connection
}
# Cognito and STS requests are small and answered in well under a second (Cognito allows each
# Lambda trigger 5 s). A server that accepts and never answers must fail within seconds, not
# botocore's 60 s x attempts: under credential_process the AWS CLI waits on us. S3 keeps CLIENT_TUNING.
SMALL_CALL_TUNING = {**CLIENT_TUNING, "connect_timeout": 3, "read_timeout": 6,
                     # one retry; botocore's max_attempts would count retries, not attempts
                     "retries": {"mode": "standard", "total_max_attempts": 2}}
# IAM too: doctor makes dozens of small IAM reads and simulations, and setup a few writes.
SMALL_CALL_SERVICES = ("cognito-idp", "cognito-identity", "sts", "iam")
_BOTO = {}
_BOTO_MAKING = _thread.allocate_lock()


def shared_boto():
    """One boto3 session per process over a botocore session we hold, so service models are loaded once.

    Made under a lock: the first client may be wanted by two threads at once (a transfer's renewal of the
    credentials in one, the S3 client made lazily for a large file in another)."""
    with _BOTO_MAKING:
        if not _BOTO:
            import boto3
            import botocore.session

            core = botocore.session.get_session()
            _BOTO.update(botocore=core, boto3=boto3.session.Session(botocore_session=core))
    return _BOTO["boto3"]


def prefetch_models(services):
    """Load the next clients' service models in the background while SRP waits on the network.

    A sign-in spends a few hundred milliseconds waiting for Cognito; parsing the models
    of the clients that follow (about 40 ms of CPU) fits in that wait. Only public botocore
    calls are used; tests/test_library_hooks.py fails if they move.
    """
    import threading

    shared_boto()
    loader = _BOTO["botocore"].get_component("data_loader")  # the loader the clients will read from

    def load():
        for service in services:
            for kind in ("service-2", "endpoint-rule-set-1"):
                loader.load_service_model(service, kind)

    threading.Thread(target=load, name="prefetch-models", daemon=True).start()


def boto_with(credentials):
    """A boto3 session whose one credential provider answers these botocore credentials (a
    RefreshableCredentials renews in place), over the process's loaded service models."""
    import boto3
    import botocore.credentials
    import botocore.session

    class Given(botocore.credentials.CredentialProvider):
        """The credentials this session was made for, ahead of the environment and files."""
        METHOD = "cog-auth-s3"

        def load(self):
            """The given credentials."""
            return credentials

    core = botocore.session.get_session()
    shared_boto()
    core.register_component("data_loader", _BOTO["botocore"].get_component("data_loader"))
    core.get_component("credential_provider").insert_before("env", Given())
    return boto3.session.Session(botocore_session=core)


def make_client(service, region, endpoint_url=None, credentials=None, unsigned=False, signature_version=None):
    """A boto3 client; unsigned for Cognito's public calls, so no credential lookup happens.

    credentials: a dict (AccessKeyId, SecretAccessKey, SessionToken), or botocore credentials such as
    RefreshableCredentials, which the client then renews as it goes.
    """
    from botocore.config import Config

    options = dict(SMALL_CALL_TUNING if service in SMALL_CALL_SERVICES else CLIENT_TUNING,
                   **({"signature_version": signature_version} if signature_version else {}))
    if unsigned:
        from botocore import UNSIGNED

        options["signature_version"] = UNSIGNED
    kwargs = {"region_name": region, "endpoint_url": endpoint_url or None, "config": Config(**options)}
    if isinstance(credentials, dict):
        kwargs.update(aws_access_key_id=credentials["AccessKeyId"],
                      aws_secret_access_key=credentials["SecretAccessKey"],
                      aws_session_token=credentials.get("SessionToken"))
    # Inside the step: a boto3 session reads AWS_PROFILE, and a missing AWS profile is the user's to fix.
    with aws_step("set up a client for", service, "config"):
        boto = shared_boto() if credentials is None or isinstance(credentials, dict) else boto_with(credentials)
        return boto.client(service, **kwargs)


# ====================================================================== login

def cognito_provider(region, user_pool_id):
    """The Logins key an identity pool expects for a user pool."""
    return f"cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def secret_hash(username, client_id, client_secret):
    """SECRET_HASH for an app client with a secret: Base64(HMAC-SHA256(secret, username + client_id))."""
    import base64
    import hashlib
    import hmac

    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def load_awssrp():
    """pycognito's AWSSRP class, loaded without running the package's __init__.

    That __init__ imports PyJWT and cryptography for token verification this tool
    doesn't use: about 50 ms of every cold sign-in (see bench/run.py). It relies on
    pycognito.aws_srp importing nothing from its own package; tests/test_library_hooks.py
    fails loudly if an upgrade changes that.
    """
    import importlib.util

    if "pycognito" in sys.modules:
        from pycognito.aws_srp import AWSSRP
        return AWSSRP
    spec = importlib.util.find_spec("pycognito")
    if spec is None:
        raise ToolError("pycognito is not installed; run pip install -r requirements.txt", EXIT_UNEXPECTED)
    sys.modules["pycognito"] = importlib.util.module_from_spec(spec)  # the package, not yet executed
    try:
        from pycognito.aws_srp import AWSSRP
    finally:
        del sys.modules["pycognito"]  # a later `import pycognito` still runs the real package
    return AWSSRP


CHALLENGE_ANSWER_KEYS = {
    "NEW_PASSWORD_REQUIRED": "NEW_PASSWORD",
    "SOFTWARE_TOKEN_MFA": "SOFTWARE_TOKEN_MFA_CODE",
    "SMS_MFA": "SMS_MFA_CODE",
    "EMAIL_OTP": "EMAIL_OTP_CODE",
    "SMS_OTP": "SMS_OTP_CODE",
}
# sign_in -> (AuthFlow, PREFERRED_CHALLENGE): what the first InitiateAuth asks for.
SIGN_IN_FLOWS = {
    "srp": ("USER_SRP_AUTH", None), "choice": ("USER_AUTH", "PASSWORD_SRP"),
    "email-otp": ("USER_AUTH", "EMAIL_OTP"), "sms-otp": ("USER_AUTH", "SMS_OTP"),
}
SELECTABLE_CHALLENGES = ("PASSWORD_SRP", "EMAIL_OTP", "SMS_OTP")  # SELECT_CHALLENGE's answer: the first offered
# SELECT_MFA_TYPE's answer: an authenticator app first, as it needs no message to arrive.
SELECTABLE_MFA = ("SOFTWARE_TOKEN_MFA", "EMAIL_OTP", "SMS_MFA")
# A sign-in needs at most: choice, SRP verifier, new password, MFA type, MFA (or MFA set-up).
MAX_CHALLENGES = 8
TOTP_ISSUER = TOOL


class SignIn:
    """One sign-in conversation with Cognito: its SRP state, and how each challenge is answered."""

    def __init__(self, client, username, password, user_pool_id, client_id, client_secret, answer_challenge,
                 sign_in_mode, note, device=None):
        """password is the password, or a function that gets it (a prompt) only if SRP needs it;
        device ({"device_key", "device_group_key", "device_password"}) is the remembered device, if any."""
        self.client, self.username, self.user_pool_id, self.note = client, username, user_pool_id, note
        self.client_id, self.client_secret, self.device = client_id, client_secret, device
        self.sign_in_mode = sign_in_mode
        self.password = password if callable(password) else (lambda: password)
        self.password_known = not callable(password) or sign_in_mode in ("srp", "choice")
        self.answer_challenge = answer_challenge
        self.srp = self.auth_params = None

    def hashed(self, params, username):
        """params plus SECRET_HASH over username when the app client has a secret."""
        if self.client_secret and "SECRET_HASH" not in params:
            params["SECRET_HASH"] = secret_hash(username, self.client_id, self.client_secret)
        return params

    def start_srp(self):
        """SRP's first step: the auth parameters carrying SRP_A (and SECRET_HASH)."""
        AWSSRP = load_awssrp()
        self.srp = AWSSRP(username=self.username, password=self.password(), pool_id=self.user_pool_id,
                          client_id=self.client_id, client=self.client, client_secret=self.client_secret,
                          **(self.device or {}))
        self.auth_params = self.srp.get_auth_params()
        return dict(self.auth_params)

    def start(self):
        """The first InitiateAuth of the configured sign_in."""
        flow, preferred = SIGN_IN_FLOWS[self.sign_in_mode]
        params = self.start_srp() if preferred in (None, "PASSWORD_SRP") else {"USERNAME": self.username}
        if preferred:
            params["PREFERRED_CHALLENGE"] = preferred
        return self.client.initiate_auth(AuthFlow=flow, AuthParameters=self.hashed(params, self.username),
                                         ClientId=self.client_id)

    def code(self, name, response):
        """A typed answer: a new password or a code, from the flag, the environment or the terminal."""
        if self.answer_challenge is None:
            raise ToolError(f"sign-in needs a {name} answer; pass it with --mfa-code or "
                            f"{ENV_PREFIX}NEW_PASSWORD", EXIT_LOGIN)
        destination = response.get("ChallengeParameters", {}).get("CODE_DELIVERY_DESTINATION")
        return {CHALLENGE_ANSWER_KEYS[name]: self.answer_challenge(name, destination)}, response.get("Session")

    def password_verifier(self, name, response):
        """SRP's proof of the password."""
        if self.srp is None:
            raise ToolError("Cognito sent PASSWORD_VERIFIER to a sign-in that did not start SRP", EXIT_LOGIN)
        return self.srp.process_challenge(response["ChallengeParameters"], self.auth_params), response.get("Session")

    def device_srp(self, name, response):
        """DEVICE_SRP_AUTH: a remembered device (Cognito skips MFA for it) starts its own SRP."""
        if not self.device or self.srp is None:
            raise ToolError(f"Cognito sent {name} to a sign-in without a remembered device", EXIT_LOGIN)
        return ({"DEVICE_KEY": self.device["device_key"], "SRP_A": f"{self.srp.large_a_value:x}"},
                response.get("Session"))

    def device_password_verifier(self, name, response):
        """DEVICE_PASSWORD_VERIFIER: the device's proof of its own secret."""
        if not self.device or self.srp is None:
            raise ToolError(f"Cognito sent {name} to a sign-in without a remembered device", EXIT_LOGIN)
        return self.srp.process_device_challenge(response["ChallengeParameters"]), response.get("Session")

    def select_challenge(self, name, response):
        """Choose the first of PASSWORD_SRP, EMAIL_OTP and SMS_OTP that is offered and can be answered."""
        offered = response.get("AvailableChallenges") or []
        usable = [c for c in SELECTABLE_CHALLENGES if c in offered and (c != "PASSWORD_SRP" or self.password_known)]
        if not usable:
            raise ToolError(f"Cognito offers {self.username} only {', '.join(offered) or 'nothing'} at sign-in, "
                            f"none of which this tool can use with sign_in = {self.sign_in_mode}; allow the factor in "
                            f"the user pool's sign-in policy (and give the user a verified email or phone), or "
                            f"set a password and sign_in = choice", EXIT_LOGIN)
        answers = {"ANSWER": usable[0]}
        if usable[0] == "PASSWORD_SRP":
            answers["SRP_A"] = self.start_srp()["SRP_A"]
        return answers, response.get("Session")

    def select_mfa_type(self, name, response):
        """Choose the MFA factor: an authenticator app if offered, else email, else SMS."""
        offered = json.loads(response.get("ChallengeParameters", {}).get("MFAS_CAN_CHOOSE") or "[]")
        usable = [factor for factor in SELECTABLE_MFA if factor in offered]
        if not usable:
            raise ToolError(f"Cognito offers MFA by {', '.join(offered) or 'nothing'}, which this tool can't "
                            f"answer", EXIT_LOGIN)
        self.note(f"Cognito lets {self.username} choose an MFA factor; using {usable[0]}")
        return {"ANSWER": usable[0]}, response.get("Session")

    def mfa_setup(self, name, response):
        """Enrol an authenticator app: show its secret, check a code from it, and go on with the new challenge
        session."""
        can_setup = json.loads(response.get("ChallengeParameters", {}).get("MFAS_CAN_SETUP") or "[]")
        if "SOFTWARE_TOKEN_MFA" not in can_setup:
            raise ToolError(f"the user pool requires MFA and {self.username} has none; it offers to set up only "
                            f"{', '.join(can_setup) or 'nothing'}: give the user a phone number or email address "
                            f"(add-user --phone/--email), then sign in again", EXIT_LOGIN)
        # The secret is shown only on the terminal: stderr may be a log or a CI transcript. Without
        # one, nothing is asked of Cognito, so no secret is made that no one can see.
        terminal = open_terminal()
        if terminal is None:
            raise ToolError(f"Cognito asks {self.username} to set up an authenticator app (MFA_SETUP) and there "
                            f"is no terminal to show its secret on; run `{os.path.basename(sys.argv[0])} login` "
                            f"in a terminal once", EXIT_LOGIN)
        from urllib.parse import quote

        try:
            associated = self.client.associate_software_token(Session=response["Session"])
            secret = associated["SecretCode"]
            label = quote(f"{TOTP_ISSUER}:{self.username}")
            # Shown even with --quiet: without the secret the user can't enrol.
            os.write(terminal, (f"MFA is required: add this account to an authenticator app, then enter its "
                                f"code.\n  otpauth://totp/{label}?secret={secret}&issuer={TOTP_ISSUER}\n"
                                f"  secret: {secret}\n").encode())
        finally:
            os.close(terminal)
        code, _ = self.code("SOFTWARE_TOKEN_MFA", {})
        verified = self.client.verify_software_token(Session=associated["Session"], FriendlyDeviceName=TOTP_ISSUER,
                                                     UserCode=code["SOFTWARE_TOKEN_MFA_CODE"])
        if verified.get("Status") != "SUCCESS":
            raise ToolError("Cognito did not accept the authenticator app; sign in again to retry", EXIT_LOGIN)
        return {}, verified["Session"]


# ChallengeName -> how SignIn answers it; sign-in ends when Cognito sends tokens instead.
CHALLENGE_HANDLERS = {
    "PASSWORD_VERIFIER": SignIn.password_verifier,
    "DEVICE_SRP_AUTH": SignIn.device_srp,
    "DEVICE_PASSWORD_VERIFIER": SignIn.device_password_verifier,
    "SELECT_CHALLENGE": SignIn.select_challenge,
    "SELECT_MFA_TYPE": SignIn.select_mfa_type,
    "MFA_SETUP": SignIn.mfa_setup,
    **{name: SignIn.code for name in CHALLENGE_ANSWER_KEYS},
}


def authenticate_user(username, password, user_pool_id, client_id, region, client_secret=None,
                      endpoint_url=None, answer_challenge=None, client=None, sign_in_mode="srp", note=None,
                      device=None):
    """Sign in as sign_in_mode says (SRP, or USER_AUTH) and return Cognito's AuthenticationResult.

    password is the password, or a function that returns it, called only if SRP needs it;
    note(message) tells the user what was chosen for them (default: a line on stderr). With a
    remembered device Cognito asks DEVICE_SRP_AUTH instead of MFA, and the device proves itself.
    """
    client = client or make_client("cognito-idp", region, endpoint_url, unsigned=True)
    conversation = SignIn(client, username, password, user_pool_id, client_id, client_secret, answer_challenge,
                          sign_in_mode, note or (lambda message: print(message, file=sys.stderr)), device)
    with aws_step("sign in", username, "login", client.meta.endpoint_url):
        response = conversation.start()
        for _ in range(MAX_CHALLENGES):
            if "AuthenticationResult" in response:
                return response["AuthenticationResult"]
            name, params = response.get("ChallengeName"), response.get("ChallengeParameters", {})
            handler = CHALLENGE_HANDLERS.get(name)
            if handler is None:
                raise ToolError(f"Cognito asked for a {name} challenge, which this tool can't answer; "
                                f"sign in once with the hosted UI or an SDK to complete it", EXIT_LOGIN)
            answers, challenge_session = handler(conversation, name, response)
            answers.setdefault("USERNAME", params.get("USERNAME") or params.get("USER_ID_FOR_SRP") or username)
            conversation.hashed(answers, answers["USERNAME"])
            # USER_SRP_AUTH's PASSWORD_VERIFIER comes without a Session; later challenges carry one.
            response = client.respond_to_auth_challenge(ClientId=client_id, ChallengeName=name,
                                                        ChallengeResponses=answers,
                                                        **({"Session": challenge_session} if challenge_session else {}))
    raise ToolError("Cognito kept asking for challenges; sign-in gave up", EXIT_LOGIN)


def refresh_id_token(refresh_token, client_id, region, client_secret=None, secret_username=None,
                     endpoint_url=None, client=None, device_key=None, rotation=False):
    """Renew the tokens and return the AuthenticationResult: REFRESH_TOKEN_AUTH, or for a client that
    rotates refresh tokens GetTokensFromRefreshToken, whose result carries the new refresh token.

    A refresh token issued to a remembered device works only with that DEVICE_KEY.
    """
    client = client or make_client("cognito-idp", region, endpoint_url, unsigned=True)
    with aws_step("refresh the session of", secret_username or "the user", "login", client.meta.endpoint_url):
        if rotation:
            extra = {"ClientSecret": client_secret} if client_secret else {}
            if device_key:
                extra["DeviceKey"] = device_key
            return client.get_tokens_from_refresh_token(RefreshToken=refresh_token, ClientId=client_id,
                                                        **extra)["AuthenticationResult"]
        params = {"REFRESH_TOKEN": refresh_token}
        if client_secret:
            # Cognito hashes the internal username (cognito:username, the sub in pools that sign in
            # by email or alias), not what was typed (pycognito issues 18 and 196).
            params["SECRET_HASH"] = secret_hash(secret_username, client_id, client_secret)
        if device_key:
            params["DEVICE_KEY"] = device_key
        response = client.initiate_auth(AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=params, ClientId=client_id)
    return response["AuthenticationResult"]


def revoke_refresh_token(refresh_token, client_id, region, client_secret=None, endpoint_url=None):
    """RevokeToken: Cognito ends the refresh token and the access tokens issued from it."""
    client = make_client("cognito-idp", region, endpoint_url, unsigned=True)
    extra = {"ClientSecret": client_secret} if client_secret else {}
    with aws_step("revoke the refresh token of", "the user", "login", client.meta.endpoint_url):
        client.revoke_token(Token=refresh_token, ClientId=client_id, **extra)


def rotation_refusal(step):
    """True when Cognito refused REFRESH_TOKEN_AUTH because the app client rotates refresh tokens."""
    code, message = error_code(step.error)
    return code in ("InvalidParameterException", "NotAuthorizedException") and (
        "rotation" in message.lower() or "GetTokensFromRefreshToken" in message)


def confirm_device(client, tokens, remember, out):
    """Confirm the device Cognito just handed out, with an SRP verifier of a random device password.

    Returns {"device_key", "device_group_key", "device_password"}. A pool that remembers devices
    always does so at once; an opt-in pool remembers it only when the user asked (--remember-device).
    """
    import platform

    # The module load_awssrp loaded without running pycognito's slow package __init__.
    generate_hash_device = sys.modules[load_awssrp().__module__].generate_hash_device
    meta = tokens["NewDeviceMetadata"]
    password, verifier = generate_hash_device(meta["DeviceGroupKey"], meta["DeviceKey"])
    with aws_step("confirm this device for", "the user", "login", client.meta.endpoint_url):
        answer = client.confirm_device(AccessToken=tokens["AccessToken"], DeviceKey=meta["DeviceKey"],
                                       DeviceSecretVerifierConfig=verifier,
                                       DeviceName=f"{TOOL} on {platform.node() or 'this computer'}")
        if answer.get("UserConfirmationNecessary") and remember:
            client.update_device_status(AccessToken=tokens["AccessToken"], DeviceKey=meta["DeviceKey"],
                                        DeviceRememberedStatus="remembered")
    remembered = remember or not answer.get("UserConfirmationNecessary")
    out.note("this device is remembered: later sign-ins skip MFA" if remembered else
             "this device is tracked but not remembered (the pool asks first); sign in with --remember-device "
             "to skip MFA next time")
    return {"device_key": meta["DeviceKey"], "device_group_key": meta["DeviceGroupKey"], "device_password": password}


def jwt_claims(token):
    """The claims of a JWT, unverified: only read to learn the username and expiry of our own token."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


CODE_PROMPTS = {
    "SOFTWARE_TOKEN_MFA": "Code from your authenticator app", "SMS_MFA": "MFA code sent by SMS",
    "EMAIL_OTP": "Code sent by email", "SMS_OTP": "Code sent by SMS",
}


def challenge_answerer(mfa_code, no_prompt=None):
    """Answer sign-in challenges from --mfa-code, the environment, or a prompt on the terminal (/dev/tty);
    with no_prompt (a message), a challenge that would need the prompt fails with it instead (exit 3)."""
    def answer(name, destination=None):
        if name == "NEW_PASSWORD_REQUIRED":
            value = os.environ.get(ENV_PREFIX + "NEW_PASSWORD")
            if not value and no_prompt:
                raise ToolError(no_prompt, EXIT_LOGIN)
            return value or prompt_secret("New password: ", "Cognito requires a new password and there is no "
                                          f"terminal; set {ENV_PREFIX}NEW_PASSWORD", EXIT_LOGIN, twice=True)
        value = mfa_code or os.environ.get(ENV_PREFIX + "MFA_CODE")
        if not value and no_prompt:
            raise ToolError(no_prompt, EXIT_LOGIN)
        where = f" to {destination}" if destination else ""
        # getpass prompts on the terminal, so `eval "$(cog-auth-s3 creds --format env)"` stays clean.
        return value or prompt_secret(
            f"{CODE_PROMPTS.get(name, 'Code')}{where}: ",
            f"Cognito asks for a code ({name}) and there is no terminal to ask on; pass --mfa-code or set "
            f"{ENV_PREFIX}MFA_CODE, or run `{os.path.basename(sys.argv[0])} login` in a terminal first", EXIT_LOGIN)
    return answer


# ====================================================================== login: browser (managed login)

BROWSER_TIMEOUT = 300  # a page nobody completes ends the wait after 5 minutes (--timeout)
MANAGED_LOGIN_TIMEOUT = 10  # each request to the managed login's endpoints (token, revoke)
# The managed login's OAuth errors (RFC 6749 codes, on the redirect or from /oauth2/token) -> what to do.
OAUTH_REMEDIES = {
    "access_denied": "the sign-in was refused or cancelled in the browser; run `login --browser` again",
    "unauthorized_client": "the app client is not enabled for the authorization code grant; run "
                           "`setup --domain PREFIX` (or enable the code grant and these callback URLs on it)",
    "unsupported_response_type": "the app client does not allow the code grant; run `setup --domain PREFIX`",
    "invalid_scope": "the app client does not allow these scopes; set 'scopes' in the profile to ones it allows",
    "invalid_client": "the managed login does not accept this app client; check client_id and client_secret",
    "invalid_grant": "the sign-in's code was refused (used, expired, or for another redirect); run "
                     "`login --browser` again",
    "invalid_request": "check the profile's identity_provider (--idp) and the app client's identity providers",
    "server_error": "the managed login failed; try again later",
    "temporarily_unavailable": "the managed login is busy; try again later",
}
CALLBACK_PAGE = ("<!doctype html><title>" + TOOL + "</title><p>{message}</p>"
                 "<p>You can close this tab and return to the terminal.</p>")


def pkce_pair():
    """A PKCE code verifier and its S256 challenge (RFC 7636)."""
    import base64
    import hashlib
    import secrets

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def redirect_candidates(settings):
    """The loopback callback URLs to try, in order: the profile's redirect_uris, else setup's fixed ones."""
    return split_list(settings.get("redirect_uris")) or list(DEFAULT_REDIRECT_URIS)


def oauth_refusal(where, error, description):
    """A ToolError for an OAuth error the managed login answered: one line, exit 3 (2 for a wrong client)."""
    detail = " ".join(f"{error}: {description}".split()) if description else error
    remedy = OAUTH_REMEDIES.get(error, "run `login --browser` again")
    return ToolError(f"the managed login refused the sign-in at {where} ({detail[:200]}); {remedy}",
                     EXIT_USAGE if error == "invalid_client" else EXIT_LOGIN)


class CallbackListener:
    """The loopback HTTP server the browser is redirected to: it keeps the first answer that carries this
    sign-in's state, and shows the browser a page saying what happened."""

    def __init__(self, candidates, state, out):
        """Listen on the first candidate URL whose port is free; ToolError (exit 2) when none is."""
        import http.server
        import threading

        self.state, self.query, self.done, self.out = state, None, threading.Event(), out
        self.lock = threading.Lock()  # connections are answered on threads of their own
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            """Answers the callback path; anything else (favicon) is 404."""

            timeout = MANAGED_LOGIN_TIMEOUT  # an idle connection (a browser's preconnect) is dropped

            def do_GET(self):
                """The browser's redirect from the managed login."""
                listener.answer(self)

            def log_message(self, *args):
                """No access log on stderr."""

        busy = []
        for uri in candidates:
            _, port, path = LOOPBACK_URI_RE.match(uri).groups()
            try:
                # One thread per connection: a browser's idle speculative connection must not hold up the
                # request that carries the code.
                self.server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
            except OSError as err:
                busy.append(f"{port} ({err.strerror})")
                continue
            self.uri, self.path = uri, path or "/"
            threading.Thread(target=self.server.serve_forever, name="callback", daemon=True).start()
            return
        raise ToolError(f"no callback port is free for the browser sign-in (tried {', '.join(busy)}); end what "
                        f"uses them, or set 'redirect_uris' to loopback URLs registered on the app client",
                        EXIT_USAGE)

    def answer(self, handler):
        """Keep the callback's query when its state is this sign-in's; answer the browser."""
        import html
        from urllib.parse import parse_qs, urlsplit

        url = urlsplit(handler.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        with self.lock:
            if url.path != self.path or self.query is not None:
                status, message = 404, "Nothing here."
            elif query.get("state") != self.state:
                # Not this sign-in's redirect (an old tab, or a forged one): refused, and the wait goes on.
                self.out.trace(f"ignored a callback with another state at {self.path}")
                status, message = 400, "This page is not from the sign-in this tool started; use the newest tab."
            else:
                self.query = query
                status, message = 200, ("Sign-in failed: " + query.get("error", "") if "error" in query
                                        else f"Signed in to {TOOL}.")
        body = CALLBACK_PAGE.format(message=html.escape(message)).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        if status == 200:
            self.done.set()

    def wait(self, timeout):
        """The callback's query, or None when timeout seconds pass first."""
        import time

        deadline = time.monotonic() + timeout
        # Short waits, so Ctrl-C and SIGTERM end the wait at once.
        while not self.done.wait(min(0.5, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return None
        return self.query

    def close(self):
        """Stop listening."""
        self.server.shutdown()
        self.server.server_close()


def authorize_url(settings, redirect_uri, state, nonce, challenge):
    """The managed login's /oauth2/authorize URL for a code grant with PKCE."""
    from urllib.parse import urlencode

    query = {"client_id": settings["client_id"], "response_type": "code", "redirect_uri": redirect_uri,
             "scope": " ".join(split_list(settings.get("scopes") or DEFAULT_SCOPES)), "state": state,
             "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256"}
    if settings.get("identity_provider"):
        query["identity_provider"] = settings["identity_provider"]
    return settings["domain"].rstrip("/") + "/oauth2/authorize?" + urlencode(query)


def managed_login_post(settings, endpoint, form, what):
    """POST a form to the managed login's /oauth2/<endpoint> (client secret by HTTP Basic); its JSON answer.

    An OAuth error becomes oauth_refusal's line; anything else that is not a JSON answer is a fault (exit 4).
    """
    import base64
    import urllib.error
    import urllib.request
    from urllib.parse import urlencode

    url = settings["domain"].rstrip("/") + "/oauth2/" + endpoint
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if settings.get("client_secret"):
        pair = f"{settings['client_id']}:{settings['client_secret']}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    request = urllib.request.Request(url, data=urlencode(form).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=MANAGED_LOGIN_TIMEOUT) as response:
            status, text = response.status, response.read(1024 * 1024)
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read(1024 * 1024)
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        if "timed out" in str(reason):
            raise ToolError(f"{url} did not answer in time to {what}; check 'domain' and your network",
                            EXIT_AWS) from None
        raise ToolError(f"can't reach {url} to {what}: {one_line(reason)}; check 'domain' and your network",
                        EXIT_AWS) from None
    try:
        answer = json.loads(text or b"{}")
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("error"), str) and status < 500:
        raise oauth_refusal(url, answer["error"], str(answer.get("error_description") or ""))
    if status != 200 or not isinstance(answer, dict):
        snippet = " ".join(re.sub(r"<[^>]*>", " ", text.decode("utf-8", "replace")).split())[:100]
        raise ToolError(f"{url} answered HTTP {status} to {what}" + (f" ({snippet})" if snippet else "") +
                        ": a server fault or not a managed login; check 'domain', or try again later", EXIT_AWS)
    return answer


def redeem_code(settings, code, redirect_uri, verifier, nonce):
    """Trade the authorization code for tokens at /oauth2/token; an AuthenticationResult-shaped dict.

    The ID token came straight from the token endpoint, so its signature need not be checked (OIDC Core
    3.1.3.7); its audience and the nonce this sign-in sent are.
    """
    tokens = managed_login_post(settings, "token", {
        "grant_type": "authorization_code", "client_id": settings["client_id"], "code": code,
        "redirect_uri": redirect_uri, "code_verifier": verifier}, "redeem the sign-in's code")
    if not isinstance(tokens.get("id_token"), str):
        raise ToolError("the managed login's token endpoint sent no ID token; add 'openid' to the profile's "
                        "scopes (and to the app client's allowed scopes)", EXIT_LOGIN)
    claims = jwt_claims(tokens["id_token"])
    audience = claims.get("aud")
    if claims.get("nonce") != nonce or settings["client_id"] not in (audience if isinstance(audience, list)
                                                                     else [audience]):
        raise ToolError("the ID token from the managed login is not for this sign-in (nonce or audience "
                        "differ); run `login --browser` again", EXIT_LOGIN)
    return {"IdToken": tokens["id_token"], "AccessToken": tokens.get("access_token"),
            "RefreshToken": tokens.get("refresh_token"), "ExpiresIn": tokens.get("expires_in")}


def pasted_callback(text, state):
    """The callback query from a pasted URL (the redirect, or the address bar after it); ToolError when not."""
    from urllib.parse import parse_qs, urlsplit

    query = {key: values[0] for key, values in parse_qs(urlsplit(text.strip()).query).items()}
    if "code" not in query and "error" not in query:
        raise ToolError("the pasted text is not the URL the browser was sent back to (it has no code=); "
                        "run `login --browser --no-browser` again and paste the whole URL", EXIT_LOGIN)
    if query.get("state") != state:
        raise ToolError("the pasted URL is from another sign-in (its state differs); paste the URL of the "
                        "page this run printed", EXIT_LOGIN)
    return query


def browser_callback(settings, url, redirect_uri, listener, state, out):
    """Open url in a browser (or print it) and wait for the callback; the callback's query."""
    import threading
    import webbrowser

    timeout = settings.browser.timeout or BROWSER_TIMEOUT
    if listener is None:
        text = prompt_secret(f"Open this URL in a browser and sign in:\n\n  {url}\n\nThe browser then goes to "
                             f"{redirect_uri}?code=... (the page may not load); paste that URL here: ",
                             "login --no-browser needs a terminal to paste the URL on", EXIT_LOGIN)
        return pasted_callback(text, state)
    # Shown even with --quiet: on a host without a browser it is the only way in.
    tell_person(f"Signing in through the browser; if it does not open, visit:\n  {url}")

    def launch():
        """Start the browser; webbrowser waits for a BROWSER command to end, which must not stop the timeout."""
        if not webbrowser.open(url):
            tell_person("no browser could be started here; open the URL above, or use --no-browser")

    threading.Thread(target=launch, name="browser", daemon=True).start()
    query = listener.wait(timeout)
    if query is None:
        raise ToolError(f"the browser sign-in was not completed within {timeout:g}s; run `login --browser` "
                        f"again (--timeout to wait longer; if the page showed an error such as "
                        f"redirect_mismatch, register {redirect_uri} as a callback URL of the app client)",
                        EXIT_LOGIN)
    return query


def browser_tokens(settings, out):
    """Sign in through the managed login in a browser: authorization code with PKCE (S256), state and nonce.

    The browser comes back to a loopback listener (the first free of the callback URLs), or with
    settings.browser.no_browser the person pastes the URL it came back to. Returns an
    AuthenticationResult-shaped dict.
    """
    import secrets

    terminal = None if settings.browser.interactive else open_terminal()
    if terminal is not None:
        os.close(terminal)
    elif not settings.browser.interactive:
        # As `aws sso login`: credential_process can't show a browser to anyone.
        raise ToolError(f"a browser sign-in is needed and there is no terminal; run `{os.path.basename(sys.argv[0])}"
                        f" --profile {settings.profile} login --browser` first", EXIT_LOGIN)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier, challenge = pkce_pair()
    listener = None if settings.browser.no_browser else CallbackListener(redirect_candidates(settings), state, out)
    redirect_uri = listener.uri if listener else redirect_candidates(settings)[0]
    try:
        url = authorize_url(settings, redirect_uri, state, nonce, challenge)
        query = browser_callback(settings, url, redirect_uri, listener, state, out)
    finally:
        if listener:
            listener.close()
    if "error" in query:
        raise oauth_refusal(settings["domain"].rstrip("/") + "/oauth2/authorize", query["error"],
                            query.get("error_description", ""))
    return redeem_code(settings, query["code"], redirect_uri, verifier, nonce)


def revoke_at_managed_login(settings, refresh_token):
    """End a refresh token (and the tokens issued from it) at the managed login's /oauth2/revoke."""
    managed_login_post(settings, "revoke", {"token": refresh_token, "client_id": settings["client_id"]},
                       "revoke the session's refresh token")


# ====================================================================== identity

def get_id(identity_pool_id, provider, id_token, region, endpoint_url=None, client=None):
    """Return the user's identity id in the identity pool."""
    client = client or make_client("cognito-identity", region, endpoint_url, unsigned=True)
    with aws_step("get an identity id from", identity_pool_id, "identity", client.meta.endpoint_url):
        return client.get_id(IdentityPoolId=identity_pool_id, Logins={provider: id_token})["IdentityId"]


def iso8601(moment):
    """A UTC timestamp as 2026-01-02T03:04:05Z."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def get_credentials_for_identity(identity_id, provider, id_token, region, endpoint_url=None, client=None):
    """Return the identity's temporary credentials: AccessKeyId, SecretAccessKey, SessionToken, Expiration."""
    client = client or make_client("cognito-identity", region, endpoint_url, unsigned=True)
    with aws_step("get credentials for", identity_id, "identity", client.meta.endpoint_url):
        creds = client.get_credentials_for_identity(IdentityId=identity_id,
                                                    Logins={provider: id_token})["Credentials"]
    expiration = creds["Expiration"]
    if isinstance(expiration, datetime.datetime):
        expiration = iso8601(expiration)
    return {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretKey"],
            "SessionToken": creds["SessionToken"], "Expiration": expiration}


def parse_time(text):
    """Parse an ISO 8601 timestamp; naive ones are UTC."""
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


# ====================================================================== identity: credential cache

# botocore refreshes credential_process credentials with less than 15 minutes
# left; handing out shorter-lived ones would make every AWS CLI call run us.
REFRESH_WINDOW = datetime.timedelta(minutes=15)
CACHE_VERSION = 1


def cache_dir(environ=None):
    """The folder holding one cache file per user signed in."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: a relative path is invalid and ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cog-auth-s3")


def user_fingerprint(settings):
    """Who signs in: the user pool, app client and username, at one endpoint.

    Refresh tokens and remembered devices belong to exactly this, whatever profile or config file names it.
    """
    parts = [settings.get(k) or "" for k in ("region", "user_pool_id", "client_id", "username")]
    # Credentials from local_aws must never be handed out for AWS, nor the reverse.
    parts.append(settings.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL", ""))
    return "|".join(parts)


def cache_fingerprint(settings):
    """Ties a cache entry to the user who signed in and the identity pool that gave the credentials."""
    return user_fingerprint(settings) + "|" + (settings.get("identity_pool_id") or "")


def fingerprint_file(fingerprint, suffix, environ=None):
    """The file in the cache folder named by a hash of fingerprint: no username or pool id in a file name, and
    two config files (or profiles) naming the same user share it, while two users never do."""
    import hashlib

    return os.path.join(cache_dir(environ), hashlib.sha256(fingerprint.encode()).hexdigest()[:32] + suffix)


def cache_path(settings, environ=None):
    """The cache file of the user these settings sign in (the profile's name plays no part)."""
    return fingerprint_file(cache_fingerprint(settings), ".json", environ)


def read_private_json(path, warn, what="credential cache"):
    """The JSON object in a 0600 regular file of ours at path, or None when absent, foreign, unsafe or not JSON.

    A file that can't be rewritten (its folder a link, a folder in the file's place) is left for
    cache_lock, which follows every miss, to report once.
    """
    import stat  # already loaded by os: no cost on the warm path

    if os.path.islink(os.path.dirname(path)):
        return None
    try:
        # O_NONBLOCK: a FIFO in the file's place must not hang the run.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return None
    except OSError as err:
        warn(f"ignoring {what} {path}: {err.strerror}; it will be rewritten")
        return None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # checked before fdopen, which refuses a folder with a traceback
        os.close(fd)
        if not stat.S_ISDIR(info.st_mode):
            warn(f"ignoring {what} {path}: not a regular file; it will be rewritten")
        return None
    with os.fdopen(fd, "rb") as handle:
        if info.st_uid != os.geteuid():
            warn(f"ignoring {what} {path}: owned by another user; it will be rewritten")
            return None
        if info.st_mode & 0o077:
            warn(f"ignoring {what} {path}: readable by others; it will be rewritten")
            return None
        try:
            entry = json.loads(handle.read().decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            entry = None
    if not isinstance(entry, dict):
        warn(f"ignoring corrupt {what} {path}; it will be rewritten")
        return None
    return entry


def load_cache(path, fingerprint, warn):
    """Return the cache entry at path, or None when absent, foreign, unsafe or corrupt."""
    entry = read_private_json(path, warn)
    if entry is None:
        return None
    try:
        creds = entry["credentials"]
        strings = [creds.get(k) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")]
        optional = [entry.get(k) for k in ("id_token", "refresh_token", "internal_username")]
        if (entry.get("version") != CACHE_VERSION or not all(isinstance(v, str) for v in strings)
                or not all(v is None or isinstance(v, str) for v in optional)):
            raise ValueError("unexpected layout")
        parse_time(creds["Expiration"])
        if not REGION_UUID_RE.match(entry["identity_id"]):
            raise ValueError("bad identity id")
    except (ValueError, KeyError, TypeError, AttributeError):
        warn(f"ignoring corrupt credential cache {path}; it will be rewritten")
        return None
    return entry if entry.get("fingerprint") == fingerprint else None


def device_path(settings, environ=None):
    """The file holding the user's remembered device: it outlives `logout`, as the device does."""
    return fingerprint_file(user_fingerprint(settings), ".device.json", environ)


def load_device(path, fingerprint, warn):
    """The remembered device {"device_key", "device_group_key", "device_password"} for these settings, or None."""
    entry = read_private_json(path, warn, "device file")
    names = ("device_key", "device_group_key", "device_password")
    if not entry or entry.get("fingerprint") != fingerprint or not all(isinstance(entry.get(k), str) for k in names):
        return None
    return {k: entry[k] for k in names}


def ensure_private_dir(folder):
    """Create folder 0700, or tighten it; refuse (PermissionError) a link, or one that belongs to someone else."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    if os.path.islink(folder):
        # Following it would chmod, and store tokens in, whatever it points to.
        raise PermissionError(0, "it is a symbolic link; replace it with a folder")
    info = os.stat(folder)
    if info.st_uid != os.geteuid():
        raise PermissionError(0, "it belongs to another user")
    if info.st_mode & 0o077:
        os.chmod(folder, 0o700)


def save_cache(path, entry):
    """Store a cache entry: 0600 in a 0700 folder, written atomically."""
    ensure_private_dir(os.path.dirname(path))
    write_private_file(path, json.dumps(entry, indent=1, sort_keys=True).encode())


def cache_unusable(path, err, warn):
    """Warn that the cache can't be used this time; the run goes on without it."""
    warn(f"can't use the credential cache in {os.path.dirname(path)}: {err.strerror or err}; "
         f"continuing without it (set XDG_CACHE_HOME, or --no-cache)")


# How long a run waits for another process's sign-in of the same user, which may sit at a password prompt
# for ever: the AWS CLI waits on credential_process with no time limit of its own.
LOCK_WAIT_SECONDS = 10.0
LOCK_POLL_SECONDS = 0.05


class CacheLock(collections.namedtuple("CacheLock", "held busy")):
    """What cache_lock got: held, the cache is ours to read and write; else busy says who holds the lock
    (another sign-in), or is "" when the cache folder can't be used at all."""


def lock_holder(fd, lock):
    """Who holds the lock file (its holder writes its pid there), for the message of a run that gave up waiting."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(os.pread(fd, 32, 0).decode().strip())
        os.kill(pid, 0)  # OSError when no such process: the number is stale, not the holder
        return f"process {pid}, lock {lock}"
    return f"lock {lock}"


@contextlib.contextmanager
def cache_lock(path, warn, wait=LOCK_WAIT_SECONDS):
    """Serialise sign-ins per user, so parallel AWS CLI calls make one login, not many: a CacheLock.

    A folder that can't be used means a warning, not a crash; another process holding the lock
    longer than `wait` seconds means a CacheLock that is not held and says who is busy.
    """
    lock = path + ".lock"
    try:
        ensure_private_dir(os.path.dirname(path))
        if os.path.isdir(path) and not os.path.islink(path):
            raise IsADirectoryError(0, f"{os.path.basename(path)} in it is a folder, not a file")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as err:
        cache_unusable(path, err, warn)
        yield CacheLock(False, "")
        return
    try:
        if not flock_within(fd, wait, LOCK_POLL_SECONDS):
            yield CacheLock(False, lock_holder(fd, lock))
            return
        with contextlib.suppress(OSError):  # only for the message of whoever waits on us
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield CacheLock(True, "")
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # still held: the next waiter never reads our pid as its holder's
    finally:
        os.close(fd)


def fresh(entry, now=None, life=None):
    """True when the entry's credentials have more than REFRESH_WINDOW left (and more than life, when given)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return parse_time(entry["credentials"]["Expiration"]) - now > max(REFRESH_WINDOW, life or REFRESH_WINDOW)


# ====================================================================== identity: session

class Session(collections.namedtuple("Session", "identity_id credentials id_token refresh_token "
                                                "internal_username source rotation", defaults=(False,))):
    """The signed-in user: identity id, temporary credentials, and the tokens that renew them.

    credentials holds AccessKeyId, SecretAccessKey, SessionToken and Expiration; id_token is None once
    it has expired; source says where the session came from: "cache", "refresh" or "login"; rotation
    whether the app client rotates refresh tokens (learnt when it refused REFRESH_TOKEN_AUTH).
    """

    CACHED = ("identity_id", "credentials", "id_token", "refresh_token", "internal_username", "rotation")

    @classmethod
    def from_cache(cls, entry):
        """The session a cache entry holds; its ID token only while it is still valid."""
        token = entry.get("id_token")
        expires = jwt_claims(token).get("exp") if token else None
        if not isinstance(expires, (int, float)) or expires <= datetime.datetime.now().timestamp():
            token = None
        return cls(entry["identity_id"], entry["credentials"], token, entry.get("refresh_token"),
                   entry.get("internal_username"), "cache", entry.get("rotation") is True)

    def cache_entry(self, fingerprint):
        """The cache entry that stores this session for the user and identity pool with this fingerprint."""
        return {"version": CACHE_VERSION, "fingerprint": fingerprint,
                **{field: getattr(self, field) for field in self.CACHED}}


def same_credentials(entry, session):
    """Whether a cache entry still holds the credentials of session (None: no session)."""
    return bool(session) and entry["credentials"]["AccessKeyId"] == session.credentials["AccessKeyId"]


def refresh_tokens(settings, entry, device, rotation):
    """Cognito's AuthenticationResult for the cached refresh token (with the device's key, if any)."""
    return refresh_id_token(entry["refresh_token"], settings["client_id"], settings["region"],
                            settings.get("client_secret"), entry.get("internal_username") or settings["username"],
                            settings.get("endpoint_url"), device_key=device and device["device_key"],
                            rotation=rotation)


def internal_username(id_token):
    """The name Cognito knows the user by: cognito:username, which is the sub when users sign in by alias."""
    claims = jwt_claims(id_token)
    return claims.get("cognito:username") or claims.get("sub")


def session_from_token(settings, id_token, refresh_token, identity_id, source):
    """Trade an ID token for the identity id (unless known) and the temporary credentials: a Session."""
    region, endpoint = settings["region"], settings.get("endpoint_url")
    provider = cognito_provider(region, settings["user_pool_id"])
    client = make_client("cognito-identity", region, endpoint, unsigned=True)
    if not identity_id:
        identity_id = get_id(settings["identity_pool_id"], provider, id_token, region, endpoint, client)
    credentials = get_credentials_for_identity(identity_id, provider, id_token, region, endpoint, client)
    return Session(identity_id, credentials, id_token, refresh_token, internal_username(id_token), source)


def renew(settings, entry, out, device=None, keep=None):
    """Renew with the cached refresh token: (Session, None), or (None, Cognito's reason) when it is refused,
    so a password sign-in follows.

    A client that rotates refresh tokens refuses REFRESH_TOKEN_AUTH; then GetTokensFromRefreshToken
    is used, now and (remembered in the cache) from then on. Its new refresh token goes to
    keep(entry) the moment it arrives: the old one is dead, and a failure of the calls that follow must
    not lose the session.
    """
    rotation = entry.get("rotation") is True
    result = None
    for _ in range(2):
        try:
            result = refresh_tokens(settings, entry, device, rotation)
            break
        except AwsStepError as step:
            if not rotation and rotation_refusal(step):
                out.trace("the app client rotates refresh tokens; renewing with GetTokensFromRefreshToken")
                rotation = True
                continue
            code, message = error_code(step.error)
            if code != "NotAuthorizedException":
                raise
            out.note(f"Cognito refused the cached session ({message.rstrip('.') or code}); signing in again")
            return None, message.rstrip(".") or code
    out.trace("renewed the session with the refresh token")
    refresh_token = result.get("RefreshToken") or entry["refresh_token"]
    if keep and (refresh_token != entry["refresh_token"] or rotation != (entry.get("rotation") is True)):
        keep({**entry, "refresh_token": refresh_token, "id_token": result["IdToken"], "rotation": rotation})
    session = session_from_token(settings, result["IdToken"], refresh_token, entry["identity_id"], "refresh")
    return session._replace(rotation=rotation), None


def sign_in_tokens(settings, out, mfa_code, device=None, no_prompt=None):
    """Cognito's AuthenticationResult of a sign-in as the profile's sign_in says (SRP by default), through
    the remembered device, if any; no_prompt: see challenge_answerer. sign_in = browser goes through the
    managed login instead."""
    if settings.get("sign_in") == "browser":
        prefetch_models(("cognito-identity", "s3"))  # parsed while the person signs in
        return browser_tokens(settings, out)
    region, endpoint = settings["region"], settings.get("endpoint_url")
    client = make_client("cognito-idp", region, endpoint, unsigned=True)
    load_awssrp()  # imported now, so the prefetch below overlaps only the wait on Cognito
    prefetch_models(("cognito-identity", "s3"))
    # The password is asked for only if the sign-in needs it: one-time-code sign-ins don't.
    password = settings.get("password") or (lambda: password_for(settings))
    return authenticate_user(settings["username"], password, settings["user_pool_id"],
                             settings["client_id"], region, settings.get("client_secret"), endpoint,
                             answer_challenge=challenge_answerer(mfa_code, no_prompt), client=client,
                             sign_in_mode=settings.get("sign_in") or "srp", note=out.note, device=device)


def sign_in(settings, out, entry, mfa_code, device=None, keep_device=None, no_prompt=None):
    """Sign in as the profile's sign_in says, then the identity id and credentials.

    A new device Cognito hands out goes to keep_device(AuthenticationResult), to be confirmed and kept.
    """
    result = sign_in_tokens(settings, out, mfa_code, device, no_prompt)
    if keep_device and "NewDeviceMetadata" in result:
        keep_device(result)
    known_id = entry["identity_id"] if entry else None
    return session_from_token(settings, result["IdToken"], result.get("RefreshToken"), known_id, "login")


def save_device(path, fingerprint, settings, tokens, remember, out):
    """Confirm the device a sign-in was handed and keep its secrets, 0600; a failure costs only the device."""
    client = make_client("cognito-idp", settings["region"], settings.get("endpoint_url"), unsigned=True)
    try:
        device = confirm_device(client, tokens, remember, out)
        save_cache(path, {"version": CACHE_VERSION, "fingerprint": fingerprint, **device})
    except AwsStepError as step:
        out.warn(f"couldn't confirm this device with Cognito: {explain_aws_error(step)}; the next sign-in "
                 f"tries again")
    except OSError as err:
        cache_unusable(path, err, out.warn)


def store_session(path, entry, out):
    """Write a cache entry (atomically, 0600); a cache that can't be written costs a warning, not the run."""
    try:
        save_cache(path, entry)
        out.trace(f"cached the session in {path}")
    except OSError as err:
        cache_unusable(path, err, out.warn)


def renew_or_sign_in(settings, out, path, mfa_code, usable, dead=None, remember_device=False, renew_now=False):
    """Under the user's lock: reuse what another process cached, else renew or sign in, and cache it.

    A device Cognito hands out at sign-in is confirmed and kept beside the cache (device_path).
    """
    fingerprint, who = cache_fingerprint(settings), user_fingerprint(settings)
    # Another process may have renewed the session while we waited for the lock.
    entry = load_cache(path, fingerprint, out.warn) if usable else None
    if entry and fresh(entry, life=renew_now) and not same_credentials(entry, dead):
        return Session.from_cache(entry)
    device_file = device_path(settings)
    device = load_device(device_file, who, out.warn) if usable else None
    keep = (lambda renewed: store_session(path, renewed, out)) if usable else None
    session, refused = renew(settings, entry, out, device, keep) if entry and entry.get("refresh_token") \
        else (None, None)
    if session is None:
        def keep_device(tokens):
            """Confirm the new device and keep its secrets."""
            save_device(device_file, who, settings, tokens, remember_device, out)
        try:
            session = sign_in(settings, out, entry, mfa_code, device, keep_device if usable else None)
        except ToolError as err:
            if not refused or err.exit_code != EXIT_USAGE:
                raise
            # The cause is Cognito ending this user's session; the missing password only stops the cure.
            raise ToolError(f"Cognito refused the session's refresh token ({refused}), and {err}",
                            EXIT_LOGIN) from None
        session = session._replace(rotation=bool(entry and entry.get("rotation") is True))
    if usable:
        store_session(path, session.cache_entry(fingerprint), out)
    return session


def sign_in_beside_busy_lock(settings, out, mfa_code, busy, uncached_ok=True):
    """Another process's sign-in of this user held the lock past LOCK_WAIT_SECONDS: sign in without the cache
    when nothing needs a prompt (a password at hand) and uncached_ok, else exit 3 saying who is busy."""
    message = (f"another sign-in of {user_label(settings)} is in progress ({busy}) and did not end within "
               f"{LOCK_WAIT_SECONDS:g} s; finish it (it may be waiting at a prompt) or end it, then run again")
    if not settings.get("password") or not uncached_ok:
        raise ToolError(message, EXIT_LOGIN)
    out.note(f"another sign-in of {user_label(settings)} is in progress ({busy}); signing in without the cache")
    device = load_device(device_path(settings), user_fingerprint(settings), out.warn)
    return sign_in(settings, out, None, mfa_code, device, no_prompt=message)


def user_session(settings, out, use_cache=True, mfa_code=None, dead=None, remember_device=False, renew_now=False,
                 uncached_ok=True):
    """The user's Session: from the cache, a token refresh, or a password sign-in.

    settings must have passed require(settings, SESSION_KEYS). dead is a Session AWS refused: its
    credentials are not reused, whatever their Expiration says. renew_now (a timedelta) renews cached
    credentials with less than that left, for whoever needs them to last (`share --expires`). uncached_ok: when another sign-in
    holds the lock too long, sign in without the cache (if no prompt is needed) rather than exit 3.
    """
    path = cache_path(settings)
    if not use_cache:
        return sign_in(settings, out, None, mfa_code)
    entry = load_cache(path, cache_fingerprint(settings), out.warn)
    if entry and fresh(entry, life=renew_now) and not same_credentials(entry, dead):
        out.trace(f"using cached credentials from {path}")
        return Session.from_cache(entry)
    with cache_lock(path, out.warn) as lock:
        if lock.busy:
            return sign_in_beside_busy_lock(settings, out, mfa_code, lock.busy, uncached_ok)
        return renew_or_sign_in(settings, out, path, mfa_code, lock.held, dead, remember_device, renew_now)


# ====================================================================== s3

MiB = 1024 * 1024
# 8 parts of 8 MiB in flight bound memory (peak RSS is the same for 64 MiB and 512 MiB
# files) while keeping a loopback or LAN link busy; see bench/run.py.
TRANSFER_SETTINGS = {
    "multipart_threshold": 8 * MiB,
    "multipart_chunksize": 8 * MiB,
    "max_concurrency": 8,
}
# Small files hold little memory per request, so more of them may be in flight: over a
# real network it is the round trips, not the bytes, that a batch of small files waits on.
IN_FLIGHT_BUDGET = 64 * MiB
MAX_CONCURRENCY = 32
# botocore computes CRC32 over every PutObject and UploadPart as it streams the body,
# and S3 rejects a part or object whose bytes don't match (BadDigest). Asked for
# explicitly, so an AWS config with request_checksum_calculation=when_required can't drop it.
UPLOAD_ARGS = {"ChecksumAlgorithm": "CRC32"}
# Transfers of a tree wait for the oldest once this many are queued: memory stays flat however many files.
TREE_IN_FLIGHT = 64
# SigV4 presigned URLs live at most 7 days.
PRESIGN_MAX_SECONDS = 7 * 24 * 3600
# How long Ctrl-C waits for the aborts of open multipart uploads before the tool ends anyway. The wait
# ends as soon as they are answered (a second Ctrl-C ends it too); 3 s was too short for a loaded machine
# or a slow link, where a new connection and the abort can take seconds, and the upload stayed open.
ABORT_GRACE = 10
# What a multipart upload nobody could abort costs, and what ends it.
LEFT_OPEN = "(parts are not objects; setup's lifecycle rule aborts them after 3 days)"


def user_folder(template, identity_id):
    """The folder of one identity under a folder template, e.g. private/us-east-1:.../."""
    return template.replace(IDENTITY_PLACEHOLDER, identity_id)


def folder_match(folder, text):
    """The length of folder at the start of text (a template matches any identity id there), else None."""
    before, placeholder, after = folder.partition(IDENTITY_PLACEHOLDER)
    pattern = re.escape(before) + ("[^/]+" + re.escape(after) if placeholder else "")
    match = re.match(pattern, text)
    return match.end() if match else None


def confine(folder, key, bucket=None, folder_ok=False):
    """Check a key (or with folder_ok a prefix) relative to the user's folder and return it relative.

    folder is the user's folder (e.g. us-east-1:.../ or private/us-east-1:.../), or before sign-in its
    template (None: the default one). s3://BUCKET/<folder>... is accepted for the user's own folder.
    """
    original, relative, folder = key, key, folder or DEFAULT_FOLDER
    if key[:5].lower() == "s3://":
        named_bucket, _, rest = key[5:].partition("/")
        if bucket and named_bucket != bucket:
            raise ToolError(f"{original} is not in bucket {bucket}; keys are relative to your folder", EXIT_USAGE)
        end = folder_match(folder, rest)
        if end is None:
            shown = folder.replace(IDENTITY_PLACEHOLDER, "<identity id>")
            raise ToolError(f"{original} is outside your folder {shown}; keys can't leave it", EXIT_USAGE)
        relative = rest[end:]
    if folder_ok and relative in ("", "/"):
        return ""
    body = relative[:-1] if folder_ok and relative.endswith("/") else relative
    if not body or body.startswith("/") or "\\" in body:
        raise ToolError(f"key {original!r} must be a relative path inside your folder, such as notes/a.txt",
                        EXIT_USAGE)
    if any(part in ("", ".", "..") for part in body.split("/")):
        raise ToolError(f"key {original!r} has an empty, '.' or '..' segment; keys can't leave your folder",
                        EXIT_USAGE)
    import unicodedata

    # Control and invisible format characters (e.g. U+202E) would let a key spoof another in listings.
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in body):
        raise ToolError(f"key {original!r} holds control or invisible formatting characters", EXIT_USAGE)
    return relative


def user_key(folder, key, bucket=None):
    """The full S3 key for a key relative to folder; refuses anything that would leave that folder."""
    return folder + confine(folder, key, bucket)


def user_prefix(folder, prefix, bucket=None):
    """The full S3 prefix for ls; '' lists the whole folder."""
    return folder + confine(folder, prefix, bucket, folder_ok=True)


class S3Writes:
    """What S3 answered to each write, and what an interrupt must account for: writes sent but not yet
    answered, multipart uploads still open; with no_clobber, If-None-Match on every write. The direct path
    records its writes here itself; the boto3 client's requests through hooks on its events (register)."""

    OPERATIONS = ("PutObject", "CompleteMultipartUpload")
    TRACKED = OPERATIONS + ("CreateMultipartUpload", "AbortMultipartUpload")

    def __init__(self):
        self.no_clobber, self.results = False, {}
        self.in_flight, self.open_uploads = {}, {}

    def register(self, events):
        """Hook the boto3 client's events (its meta.events) for the writes it sends."""
        for operation in self.TRACKED:
            events.register(f"before-parameter-build.s3.{operation}", self._before)
            events.register(f"before-call.s3.{operation}", self._sent)
            events.register(f"after-call.s3.{operation}", self._after)
            events.register(f"after-call-error.s3.{operation}", self._lost)

    def _before(self, params, context, model, **_):
        context["cog_auth_s3_key"] = params.get("Key")
        if self.no_clobber and model.name in self.OPERATIONS:
            params["IfNoneMatch"] = "*"

    def _sent(self, model, context, **_):
        """A write request is about to go out."""
        self.in_flight[id(context)] = (model.name, context.get("cog_auth_s3_key"))

    def _lost(self, context, **_):
        """A write request failed without an answer (connection error, timeout)."""
        self.in_flight.pop(id(context), None)

    def _after(self, http_response, parsed, model, context, **_):
        """S3 answered a write: note the stored ETag, or the multipart upload opened or closed."""
        self.in_flight.pop(id(context), None)
        key = context.get("cog_auth_s3_key")
        if not key or http_response.status_code >= 300:
            return
        if model.name == "CreateMultipartUpload":
            self.open_uploads[key] = parsed["UploadId"]
        elif model.name == "AbortMultipartUpload":
            self.open_uploads.pop(key, None)
        elif parsed.get("ETag"):
            self.open_uploads.pop(key, None)
            self.results[key] = {"etag": parsed["ETag"], "checksum_crc32": parsed.get("ChecksumCRC32", "")}

    def unanswered(self, operations):
        """Keys whose request of one of operations was sent and not yet answered."""
        return sorted({key for name, key in list(self.in_flight.values()) if name in operations and key})


# What AWS answers for credentials that died before their Expiration (a sign-out everywhere, a
# revoked session, a clock that is wrong) or that it no longer knows.
DEAD_SESSION_CODES = ("ExpiredToken", "InvalidToken", "InvalidAccessKeyId")
# S3 answers a HEAD (HeadObject, HeadBucket) it refuses with no body, so expired credentials read as a bare
# 400 there: it may be a dead session, renewed and retried once like the codes above.
BODILESS_REFUSAL = "400"
SIGNED_KEY_RE = re.compile(r"Credential=([^/,\s]+)/")


def renewing_credentials(credentials, renew_credentials):
    """botocore RefreshableCredentials over the session's credentials, renewed in place by
    renew_credentials(why) -> new credentials (the dict a Session holds): by botocore when their Expiration
    nears (15 minutes before it, blocking from 10), and at once when S3 has called them dead (renewal_retry).
    """
    from botocore.credentials import RefreshableCredentials

    class Renewing(RefreshableCredentials):
        """RefreshableCredentials that also renew when the access key in use was refused."""
        current, refused, refusal, failed = credentials["AccessKeyId"], None, "", None

        def refresh_needed(self, refresh_in=None):
            """Refused by S3, or as botocore judges by the Expiration."""
            return self.refused == self.current or super().refresh_needed(refresh_in)

    def metadata(creds):
        return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"], "expiry_time": creds["Expiration"]}

    def refresh():
        if live.failed and live.failed[0] == live.current:
            # The parts in flight were refused together: they share the one renewal that failed.
            raise live.failed[1]
        why = f"S3 refused them ({live.refusal})" if live.refused == live.current else \
            f"they expire at {live.expiration}"
        try:
            renewed = renew_credentials(why)
        except Exception as err:
            live.failed = (live.current, err)
            raise
        live.current, live.expiration = renewed["AccessKeyId"], renewed["Expiration"]
        return metadata(renewed)

    live = Renewing.create_from_metadata(metadata(credentials), refresh, "cog-auth-s3")
    live.expiration = credentials["Expiration"]
    return live


def renewal_retry(credentials, code, head, context):
    """0 (a retry at once) for the first refusal of a request as signed with dead credentials (DEAD_SESSION_CODES,
    or a bare 400 to a HEAD), noting the refused key so credentials renew before the retry is signed; else None.
    context is the request's own (context["cog_auth_s3_signed_by"]: the access key that signed it)."""
    if (code not in DEAD_SESSION_CODES and not (head and code == BODILESS_REFUSAL)) \
            or context.get("cog_auth_s3_renewed"):
        return None
    context["cog_auth_s3_renewed"] = True
    # Only the key in use is renewed: parts refused together make one renewal, not one each.
    credentials.refused, credentials.refusal = context.get("cog_auth_s3_signed_by"), \
        code if code != BODILESS_REFUSAL else "400 Bad Request without a body, as for expired credentials"
    return 0


def renew_when_refused(client, credentials):
    """Make a request S3 refuses as signed with dead credentials (renewal_retry) be renewed and sent once more,
    signed anew: a transfer keeps its parts and its multipart upload instead of starting over."""
    def note_signer(request, **kwargs):
        """Which access key signed the request (registered after the signer)."""
        found = SIGNED_KEY_RE.search(str(request.headers.get("Authorization", "")))
        request.context["cog_auth_s3_signed_by"] = found.group(1) if found else None

    def retry_renewed(response, request_dict, operation=None, **kwargs):
        """renewal_retry's answer; None leaves it to botocore."""
        code = response[1].get("Error", {}).get("Code") if response else None
        head = operation is not None and operation.http.get("method") == "HEAD"
        return renewal_retry(credentials, code, head, request_dict["context"])

    client.meta.events.register_last("request-created", note_signer)
    client.meta.events.register_first("needs-retry.s3", retry_renewed)


class S3Client:
    """The user's S3 client: the boto3 client is made only when something first asks for one of its attributes
    (s3transfer for a large object, HeadObject, an error's exception class, share...), while the direct
    small-object path (DirectS3) works from the same credentials, region and endpoint without it.

    Making a boto3 client costs about 0.35 s of CPU (import boto3, the S3 model, the endpoint rules), more
    than the whole upload of a small file; see bench/README.md, "Start-up".
    """

    def __init__(self, credentials, region, endpoint_url=None, renewing=False):
        import threading

        self.credentials, self.region, self.endpoint_url, self.renewing = credentials, region, endpoint_url, renewing
        self.writes = S3Writes()  # the record of every write, direct or through the boto3 client
        self.direct = {}  # the direct path to each bucket (direct_s3), sharing one connection pool
        self.made, self.making = None, threading.Lock()  # the direct path's threads may ask at once

    def boto(self):
        """The boto3 client, made at the first call: renewing credentials renew when S3 refuses them, and
        the writes it sends are recorded in writes."""
        with self.making:
            if self.made is None:
                # SigV4 said outright: botocore would presign `share` links with the legacy SigV2 in us-east-1.
                client = make_client("s3", self.region, self.endpoint_url, credentials=self.credentials,
                                     signature_version="s3v4")
                if self.renewing:
                    renew_when_refused(client, self.credentials)
                self.writes.register(client.meta.events)
                self.made = client
        return self.made

    def __getattr__(self, name):
        """Any other attribute is the boto3 client's (made now)."""
        if name in ("made", "making", "direct"):  # not set yet: no client to ask
            raise AttributeError(name)
        return getattr(self.boto(), name)


def s3_client(credentials, region, endpoint_url=None, renew_credentials=None):
    """An S3 client signed with the user's temporary credentials; with renew_credentials (see
    renewing_credentials) they renew in place, so transfers outlive them. Made lazily (S3Client)."""
    if renew_credentials:
        live = renewing_credentials(credentials, renew_credentials)
    else:
        from botocore.credentials import Credentials

        live = Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials.get("SessionToken"))
    return S3Client(live, region, endpoint_url or None, renewing=bool(renew_credentials))


def strict_reads():
    """s3transfer's OSUtils whose part readers stop at once when the file ends before the size announced.

    s3transfer sizes every request from one stat taken when the upload starts; a file that
    shrinks afterwards would send fewer bytes than its Content-Length, and the request would
    wait out the read timeout and its retries (minutes), then blame the network.
    """
    from s3transfer.utils import OSUtils, ReadFileChunk

    class StrictReadFileChunk(ReadFileChunk):
        """A part reader that fails on a short read instead of sending less than it announced."""

        def read(self, amount=None):
            """Read like ReadFileChunk; ToolError (exit 2) if the file ended early."""
            wanted = max(self._size - self._amount_read, 0) if amount is None else \
                min(max(self._size - self._amount_read, 0), amount)
            data = super().read(amount)
            if len(data) < wanted:
                raise ToolError("the file ended before the size it had when the upload began", EXIT_USAGE)
            return data

    class StrictOSUtils(OSUtils):
        """OSUtils handing out StrictReadFileChunk readers."""

        def open_file_chunk_reader_from_fileobj(self, fileobj, chunk_size, full_file_size, callbacks,
                                                close_callbacks=None):
            """The reader s3transfer uses for PutObject and UploadPart bodies."""
            return StrictReadFileChunk(fileobj, chunk_size, full_file_size, callbacks=callbacks,
                                       enable_callbacks=False, close_callbacks=close_callbacks)

    return StrictOSUtils()


def transfer_manager(client, largest=None):
    """boto3's transfer manager over the S3Client's boto3 client (made now): multipart, concurrent and streaming;
    more requests at once for small files."""
    from boto3.s3.transfer import TransferConfig, create_transfer_manager

    settings = dict(TRANSFER_SETTINGS)
    if largest is not None:
        per_request = max(1, min(largest, settings["multipart_chunksize"]))
        settings["max_concurrency"] = max(settings["max_concurrency"],
                                          min(MAX_CONCURRENCY, IN_FLIGHT_BUDGET // per_request))
    return create_transfer_manager(client.boto(), TransferConfig(**settings), osutil=strict_reads())


class Progress:
    """A tqdm bar on stderr when it is a terminal and tqdm is installed; otherwise nothing."""

    def __init__(self, out, total, label):
        self.bar = None
        if not out.progress_wanted():
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=total, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
                        file=sys.stderr, leave=False, dynamic_ncols=True)

    @property
    def listeners(self):
        """s3transfer subscribers that move the bar (s3transfer imported only when a transfer of its needs them)."""
        if self.bar is None:
            return []
        from s3transfer.subscribers import BaseSubscriber

        bar = self.bar

        class OnProgress(BaseSubscriber):
            def on_progress(self, future, bytes_transferred, **kwargs):
                if bar.total is None and future.meta.size is not None:
                    bar.total = future.meta.size  # a download learns its size from S3
                bar.update(bytes_transferred)

        return [OnProgress()]

    def close(self):
        """Remove the bar from the terminal."""
        if self.bar is not None:
            self.bar.close()


@contextlib.contextmanager
def local_file_errors(action, path):
    """A local file that can't be read or written is the user's to fix: exit 2, not a traceback."""
    try:
        yield
    except OSError as err:
        if is_aws_error(err):
            raise
        raise ToolError(f"can't {action} {path}: {err.strerror or one_line(err)}", EXIT_USAGE) from err


@contextlib.contextmanager
def interruptible(manager, on_interrupt):
    """Use a transfer manager; on Ctrl-C raise Interrupted(on_interrupt()) at once.

    The manager's own `with` would wait for every request in flight, up to the read timeout
    and its retries; on_interrupt cancels what it can and says what may have happened.
    """
    try:
        yield manager
    except KeyboardInterrupt:
        raise Interrupted(on_interrupt()) from None
    except BaseException as err:
        # The manager's own exit cancels the rest, with err's text. Not shutdown(cancel=True, cancel_msg=...):
        # s3transfer 0.17.1 passes cancel_msg on as the exception type ("'str' object is not callable").
        manager.__exit__(type(err), err, err.__traceback__)
        raise
    else:
        manager.shutdown()


def file_change(path, info):
    """How the file at path differs from its stat info taken before the upload; "" if it does not."""
    try:
        now = os.stat(path)
    except OSError as err:
        return f"it can no longer be read: {err.strerror}"
    if now.st_size != info.st_size:
        return f"{info.st_size} bytes then, {now.st_size} now"
    if (now.st_mtime_ns, now.st_ino) != (info.st_mtime_ns, info.st_ino):
        return "it was modified"
    return ""


def with_open_upload(error, writes, key, uri):
    """error, saying that key's multipart upload may still be open when its abort failed too (a renewal that
    can't succeed signs nothing, not even the abort): the user must hear of it."""
    if not isinstance(error, ToolError) or key not in writes.open_uploads:
        return error
    return ToolError(f"{error}; the multipart upload of {uri} may still be open {LEFT_OPEN}", error.exit_code)


# What of the AWS config (environment, else the profile in the AWS config file) botocore's S3 client reads
# for addressing and HTTP, by botocore's names: (environment variable, config file key, s3 sub-key). The direct
# path reads the same ones (aws_settings), so a setting changes both alike.
S3_SETTINGS = {
    "ca_bundle": ("AWS_CA_BUNDLE", "ca_bundle", None),
    "tcp_keepalive": ("BOTOCORE_TCP_KEEPALIVE", "tcp_keepalive", None),
    "use_fips_endpoint": ("AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint", None),
    "use_dualstack_endpoint": ("AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint", "use_dualstack_endpoint"),
    "addressing_style": (None, None, "addressing_style"),
    "use_accelerate_endpoint": (None, None, "use_accelerate_endpoint"),
    "us_east_1_regional_endpoint": ("AWS_S3_US_EAST_1_REGIONAL_ENDPOINT", None, "us_east_1_regional_endpoint"),
    "data_path": ("AWS_DATA_PATH", "data_path", None),
}


def aws_settings(environ=None):
    """S3_SETTINGS's values as botocore's config store finds them: the environment first, then the profile
    (AWS_DEFAULT_PROFILE, AWS_PROFILE, else default) of the AWS config file, via botocore's own config loader.
    A profile named but in neither the config nor the credentials file is botocore's ProfileNotFound, as for
    the client."""
    from botocore.configloader import load_config, raw_config_parse
    from botocore.exceptions import ProfileNotFound

    environ = os.environ if environ is None else environ
    path = aws_config_path(environ)
    profiles = load_config(path)["profiles"] if os.path.isfile(path) else {}
    named = environ.get("AWS_DEFAULT_PROFILE") or environ.get("AWS_PROFILE")
    if named and named not in profiles:
        shared = os.path.expanduser(environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join("~", ".aws",
                                                                                                "credentials"))
        if named not in (raw_config_parse(shared) if os.path.isfile(shared) else {}):
            raise ProfileNotFound(profile=named)
    profile = profiles.get(named or "default", {})
    found, s3_section = {}, profile.get("s3") if isinstance(profile.get("s3"), dict) else {}
    for name, (variable, key, s3_key) in S3_SETTINGS.items():
        value = environ.get(variable) if variable else None
        if value is None and key:
            value = profile.get(key)
        if value is None and s3_key:
            value = s3_section.get(s3_key)
        if value is not None:
            found[name] = value
    return found


def is_true(value):
    """A config value as botocore's ensure_boolean reads it."""
    return value is True or str(value).lower() == "true"


def s3_endpoint(loader, bucket, region, endpoint_url=None, settings=None):
    """(base URL of the bucket's objects, the bucket's own URL, signing name, signing region) from botocore's S3
    endpoint rules, with the parameters botocore's client gives them for an object request (ClientArgsCreator's
    compute_endpoint_resolver_builtin_defaults, then handlers.customize_endpoint_resolver_builtins)."""
    from urllib.parse import urlsplit

    from botocore.endpoint_provider import EndpointProvider

    settings = settings or {}
    accelerate = is_true(settings.get("use_accelerate_endpoint"))
    if accelerate:
        path_style = False
    elif endpoint_url is not None and ".s3-accelerate." not in endpoint_url:
        path_style = settings.get("addressing_style") != "virtual"
    else:
        path_style = settings.get("addressing_style") == "path"
    regional = settings.get("us_east_1_regional_endpoint", "legacy")
    params = {"Bucket": bucket, "Region": region, "Accelerate": accelerate, "ForcePathStyle": path_style,
              "UseGlobalEndpoint": regional == "legacy" and region == "us-east-1",
              # Neither combines with a custom endpoint: botocore passes False then.
              "UseFIPS": endpoint_url is None and is_true(settings.get("use_fips_endpoint")),
              "UseDualStack": endpoint_url is None and is_true(settings.get("use_dualstack_endpoint")),
              "UseArnRegion": True, "DisableMultiRegionAccessPoints": False}
    if endpoint_url is not None:
        params["Endpoint"] = endpoint_url
    provider = EndpointProvider(loader.load_service_model("s3", "endpoint-rule-set-1"), loader.load_data("partitions"))
    endpoint = provider.resolve_endpoint(**params)
    scheme = (endpoint.properties.get("authSchemes") or [{}])[0]
    # As botocore's _urljoin: a key goes after one /; a listing's "/" keeps the URL's own path, or is the path.
    bucket_url = endpoint.url if urlsplit(endpoint.url).path else endpoint.url + "/"
    return (endpoint.url.rstrip("/") + "/", bucket_url, scheme.get("signingName", "s3"),
            scheme.get("signingRegion", region))


def s3_http_session(url, settings):
    """botocore's URLLib3Session as botocore's EndpointCreator.create_endpoint makes it for the S3 client:
    CLIENT_TUNING's timeouts and pool, proxies from the environment (botocore.utils.get_environ_proxies),
    the CA bundle (EndpointCreator._get_verify_value: ca_bundle, else REQUESTS_CA_BUNDLE, else the default),
    and ClientArgsCreator._compute_socket_options's TCP_NODELAY (and keep-alive when tcp_keepalive says so)."""
    import socket

    from botocore.httpsession import URLLib3Session
    from botocore.utils import get_environ_proxies

    verify = settings.get("ca_bundle") or os.environ.get("REQUESTS_CA_BUNDLE", True)
    options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    if is_true(settings.get("tcp_keepalive")):
        options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
    return URLLib3Session(verify=verify, proxies=get_environ_proxies(url), socket_options=options,
                          timeout=(CLIENT_TUNING["connect_timeout"], CLIENT_TUNING["read_timeout"]),
                          max_pool_connections=CLIENT_TUNING["max_pool_connections"])


def total_attempts(retries):
    """Attempts in all from a retries config, as botocore's ClientArgsCreator counts them: max_attempts counts
    retries, total_max_attempts attempts."""
    return retries.get("total_max_attempts") or retries["max_attempts"] + 1


def s3_retry_handler(attempts):
    """botocore's standard retry handler, built as botocore.retries.standard.register_retry_handler builds it
    for the S3 client (throttling detection, retry quota, exponential backoff with jitter), for attempts in all."""
    from botocore.retries import quota, standard

    adapter = standard.RetryEventAdapter()
    throttling = standard.ThrottlingErrorDetector(adapter)
    return standard.RetryHandler(
        retry_policy=standard.RetryPolicy(
            retry_checker=standard.StandardRetryConditions(max_attempts=attempts),
            retry_backoff=standard.ExponentialBackoff(service_name="s3", throttling_detector=throttling)),
        retry_event_adapter=adapter, retry_quota=standard.RetryQuotaChecker(quota.RetryQuota(), throttling),
        service_name="s3")


class DirectOperation(collections.namedtuple("DirectOperation", "name http service_model error_shapes",
                                             defaults=((),))):
    """What botocore's retry handler reads of an operation model: its name, HTTP method, service name (its
    special checkers ask), and the errors S3's model marks retryable (none: tests/test_library_hooks.py fails if a
    botocore upgrade adds one, or if the handler reads more of the model than this)."""


_UMASK, _UMASK_READING = [], _thread.allocate_lock()


def new_file_mode():
    """The mode a plain open() gives a new file (0o666 less the umask), for a download made under a temporary name.

    The umask is read once per process: reading it means setting it, and a thread creating a file or folder in
    between would get the value set meanwhile. Set to 0o077 for that instant, so such a file is private, never open.
    """
    with _UMASK_READING:
        if not _UMASK:
            mask = os.umask(0o077)
            os.umask(mask)
            _UMASK.append(mask)
    return 0o666 & ~_UMASK[0]


class DirectS3:
    """PutObject, GetObject and ListObjectsV2 of small objects, signed by botocore's own SigV4 signer and sent
    over botocore's own HTTP session, without a boto3 client or the rest of botocore's per-request machinery.

    botocore spends about 3.3 ms of CPU on a 16 KiB PutObject, this about 1.4 ms, and no client is made
    (bench/README.md, "Many small files"). It keeps what the client does, from botocore's own pieces configured
    from the client's settings: its credentials, read at each signature (credentials that renew themselves
    renew here too, and a refusal as dead renews them once: renewal_retry), its addressing (botocore's S3
    endpoint rules: s3_endpoint), its timeouts, proxies and TLS settings (s3_http_session), its retry policy
    (s3_retry_handler), and its errors (S3's XML parsed by botocore's parser into the client's own exception
    classes, the client made then), so aws_step and explain_aws_error read them as ever.
    tests/test_library_hooks.py fails if the botocore pieces used here move.
    """

    # What botocore's signer reads to choose the payload hash, as botocore sets it for PutObject: the body is
    # hashed over http, and sent as UNSIGNED-PAYLOAD over https, where TLS and the CRC32 guard it.
    PAYLOAD_CONTEXT = {"has_streaming_input": True,
                       "checksum": {"request_algorithm": {"in": "header", "name": "x-amz-checksum-crc32"}}}

    def __init__(self, client, bucket):
        from botocore.loaders import create_loader

        self.client, self.bucket = client, bucket
        with aws_step("set up a client for", "s3", "config"):  # as make_client reads the AWS config
            settings = aws_settings()
        self.loader, self.settings = create_loader(settings.get("data_path")), settings
        with aws_step("address", f"s3://{bucket}/", "s3"):
            self.address = self.addressed(client.region)
        self.http = s3_http_session(self.address[0], settings)
        new_file_mode()  # read now, before this path's threads write files
        self.retries = s3_retry_handler(total_attempts(CLIENT_TUNING["retries"]))
        self.list_shape = None

    def addressed(self, region):
        """s3_endpoint's answer for the bucket in region; one tuple, so threads never sign for one region and
        send to another's URL."""
        return s3_endpoint(self.loader, self.bucket, region, self.client.endpoint_url, self.settings)

    @staticmethod
    def bucket_region(http_response, parsed):
        """The region S3 says the bucket is in when a request went to the wrong one, as botocore's
        S3RegionRedirectorv2 reads it (a redirect's x-amz-bucket-region, AuthorizationHeaderMalformed's
        <Region>), else None."""
        error = parsed.get("Error", {})
        if error.get("Code") == "AuthorizationHeaderMalformed" and error.get("Region"):
            return error["Region"]
        if http_response.status_code in (301, 302, 307) or error.get("Code") in (
                "PermanentRedirect", "IllegalLocationConstraintException"):
            return http_response.headers.get("x-amz-bucket-region")
        return None

    def send(self, operation, method, key, body=b"", headers=None, query="", output_shape=None):
        """One request, retried as the client's retry policy says; (the AWSResponse of a 2xx, its parse by
        output_shape if given), else what botocore would raise (a ClientError subclass, or a connection error)."""
        import time
        from urllib.parse import quote

        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.parsers import create_parser

        import types

        model = DirectOperation(operation, {"method": method}, types.SimpleNamespace(service_name="s3"))
        context, redirected = {}, False
        for attempt in range(1, 100):
            base, root, signing_name, signing_region = self.address
            url = (base + quote(key, safe="/~") if key else root) + query  # a listing names the bucket alone
            request = AWSRequest(method, url, data=body, headers=dict(headers or {}))
            request.context.update(self.PAYLOAD_CONTEXT)
            frozen = self.client.credentials.get_frozen_credentials()
            S3SigV4Auth(frozen, signing_name, signing_region).add_auth(request)
            context["cog_auth_s3_signed_by"] = frozen.access_key  # as renew_when_refused notes it
            response, caught = None, None
            try:
                http_response = self.http.send(request.prepare())
            except Exception as err:  # only botocore's connection errors are retried; the rest raise below
                caught = err
            else:
                if http_response.status_code < 300 and output_shape is None:
                    return http_response, None
                # A parser per answer, as botocore's endpoint makes one per response: threads share no state.
                parsed = create_parser("rest-xml").parse(
                    {"status_code": http_response.status_code, "body": http_response.content,
                     "headers": http_response.headers}, output_shape)
                if http_response.status_code < 300:
                    return http_response, parsed
                response = (http_response, parsed)
                region = None if redirected else self.bucket_region(http_response, parsed)
                if region and region != signing_region:
                    # The bucket is in another region than the profile's: readdressed once, for every later
                    # request too, as botocore's client redirects and remembers.
                    redirected, self.address = True, self.addressed(region)
                    continue
            code = response[1].get("Error", {}).get("Code") if response else None
            delay = renewal_retry(self.client.credentials, code, method == "HEAD", context) \
                if self.client.renewing else None
            if delay is None:
                delay = self.retries.needs_retry(response=response, attempts=attempt, caught_exception=caught,
                                                 operation=model, request_dict={"context": context})
            if delay is None or delay is False:
                break
            time.sleep(delay)
        if caught is not None:
            raise caught
        code = response[1].get("Error", {}).get("Code", "")
        # The client's own exception class (the client is made now: errors are rare), as the client raises it.
        raise self.client.exceptions.from_code(code)(response[1], operation)

    def put(self, path, key, size, writes, no_clobber):
        """Upload one file of size bytes (its size when the upload began) with a CRC32 S3 checks; its bytes."""
        import base64
        import zlib

        with open(path, "rb") as handle:
            body = handle.read(size)
        if len(body) < size:
            raise ToolError("the file ended before the size it had when the upload began", EXIT_USAGE)
        # The algorithm named as botocore names it: S3 then stores the checksum and reports it back.
        headers = {"Content-Length": str(size), "x-amz-sdk-checksum-algorithm": "CRC32",
                   "x-amz-checksum-crc32": base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()}
        if no_clobber:
            headers["If-None-Match"] = "*"
        token = object()
        writes.in_flight[id(token)] = ("PutObject", key)
        try:
            answer, _ = self.send("PutObject", "PUT", key, body, headers)
        finally:
            writes.in_flight.pop(id(token), None)
        writes.results[key] = {"etag": answer.headers.get("ETag", ""),
                               "checksum_crc32": answer.headers.get("x-amz-checksum-crc32", "")}
        return size

    def get(self, key, path):
        """Download one object into path, written beside it and renamed into place; its CRC32 checked if S3
        has one (as botocore's ChecksumMode=ENABLED does); its bytes."""
        import base64
        import tempfile
        import zlib

        from botocore.exceptions import FlexibleChecksumError

        answer, _ = self.send("GetObject", "GET", key, headers={"x-amz-checksum-mode": "ENABLED"})
        body, expected = answer.content, answer.headers.get("x-amz-checksum-crc32", "")
        if expected and "-" not in expected:  # a multipart object's checksum covers its parts, not its bytes
            actual = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
            if actual != expected:
                raise FlexibleChecksumError(error_msg=f"expected checksum {expected} did not match calculated "
                                                      f"checksum {actual}")
        fd, temp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".cog_auth_s3-",
                                    suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), new_file_mode())
                handle.write(body)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return len(body)

    def list_page(self, prefix, token=None):
        """One page (up to 1,000) of ListObjectsV2 under prefix, parsed as the client parses it: keys asked
        URL-encoded and decoded again (botocore's set_list_objects_encoding_type_url / decode_list_object_v2),
        times as datetimes. The output shape comes from S3's model, loaded by botocore's loader (no client)."""
        from urllib.parse import quote, unquote_plus

        if self.list_shape is None:
            from botocore.model import ServiceModel

            model = ServiceModel(self.loader.load_service_model("s3", "service-2"), "s3")
            self.list_shape = model.operation_model("ListObjectsV2").output_shape
        query = "?list-type=2&encoding-type=url&prefix=" + quote(prefix, safe="~") + \
            ("&continuation-token=" + quote(token, safe="~") if token else "")
        _, page = self.send("ListObjectsV2", "GET", "", query=query, output_shape=self.list_shape)
        if page.get("EncodingType") == "url":
            for item in page.get("Contents", []):
                item["Key"] = unquote_plus(item["Key"])
        return page

    def objects(self, prefix):
        """Every object under prefix, in key order, a page at a time."""
        token = None
        while True:
            page = self.list_page(prefix, token)
            yield from page.get("Contents", [])
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return


def direct_s3(client, bucket):
    """The S3Client's direct path to bucket, made once: its addressing, connection pool and retry quota are shared
    by the listings and transfers of one command."""
    with client.making:
        if bucket not in client.direct:
            client.direct[bucket] = DirectS3(client, bucket)
    return client.direct[bucket]


class Transfers:
    """Small objects through DirectS3 on a pool of threads, the rest through s3transfer's manager (made when
    first needed): futures of either kind answer result() and cancel() alike."""

    def __init__(self, client, bucket, writes, progress=None, largest=None, no_clobber=False):
        import concurrent.futures

        self.client, self.bucket, self.writes, self.no_clobber = client, bucket, writes, no_clobber
        self.progress, self.largest, self.manager = progress, largest, None
        self.direct = direct_s3(client, bucket)
        self.pool = concurrent.futures.ThreadPoolExecutor(MAX_CONCURRENCY, thread_name_prefix="direct-s3")

    def small(self, size):
        """Whether an object of size bytes goes by the direct path, body in memory: up to 2 MiB, so
        MAX_CONCURRENCY of them in flight hold at most IN_FLIGHT_BUDGET, as the transfer manager would."""
        return size is not None and size <= IN_FLIGHT_BUDGET // MAX_CONCURRENCY

    def managed(self):
        """s3transfer's manager, for objects of several parts."""
        if self.manager is None:
            self.manager = transfer_manager(self.client, self.largest)
        return self.manager

    def counted(self, call, *args):
        """call(*args) returning its bytes, which then count on the progress bar."""
        done = call(*args)
        if self.progress is not None and self.progress.bar is not None:
            self.progress.bar.update(done)
        return done

    def upload(self, path, key, size):
        """A future of uploading path (size bytes when the upload began) to key, with a CRC32 S3 checks."""
        if self.small(size):
            return self.pool.submit(self.counted, self.direct.put, path, key, size, self.writes, self.no_clobber)
        listeners = self.progress.listeners if self.progress else []
        return self.managed().upload(path, self.bucket, key, extra_args=dict(UPLOAD_ARGS), subscribers=listeners)

    def download(self, key, path, size=None, etag=None):
        """A future of downloading key (of size bytes and this ETag, as listed) to path."""
        if self.small(size):
            return self.pool.submit(self.counted, self.direct.get, key, path)
        manager = self.managed()  # s3transfer is imported only now
        from s3transfer.subscribers import BaseSubscriber

        class Listed(BaseSubscriber):
            """The listing gave size and ETag, so s3transfer needs no HeadObject per download (as the AWS CLI
            does). The ETag also makes each part of a large download ask for exactly the listed object (If-Match)."""

            def on_queued(self, future, **kwargs):
                future.meta.provide_transfer_size(size)
                future.meta.provide_object_etag(etag)

        return manager.download(self.bucket, key, path, extra_args={"ChecksumMode": "ENABLED"},
                                subscribers=[Listed()] if etag else [])

    def shutdown(self):
        """Wait for everything queued, as TransferManager.shutdown does."""
        self.pool.shutdown()
        if self.manager is not None:
            self.manager.shutdown()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, traceback):
        """Wait for the rest, or after an error drop what is queued and cancel the manager's with it."""
        if exc_type is None:
            self.shutdown()
            return
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.manager is not None:
            self.manager.__exit__(exc_type, exc, traceback)


def upload_outcome(path, key, bucket, future, info, writes):
    """Wait for one upload; its outcome dict, with "exception" (the ToolError or AwsStepError) unless stored."""
    uri = f"s3://{bucket}/{key}"
    outcome = {"path": path, "uri": uri, "key": key, "size": info.st_size}
    try:
        with aws_step("put", uri, "s3"), local_file_errors("read", path):
            future.result()
        error = None
    except (ToolError, AwsStepError) as err:
        error = err
    change = file_change(path, info)
    if change:
        stored = error is None
        error = ToolError(f"{path} changed while it was being uploaded ({change}); " + (
            f"{uri} was stored with the {info.st_size} bytes it had when the upload began, or a mix of "
            f"old and new bytes; upload it again" if stored else "nothing was stored; upload it again"), EXIT_USAGE)
    elif isinstance(error, AwsStepError) and writes.no_clobber and error_code(error.error)[0] == "PreconditionFailed":
        return {**outcome, "outcome": "skipped", "exception": error}
    if error is None:
        return {**outcome, "outcome": "stored", **writes.results.get(key, {"etag": ""})}
    error = with_open_upload(error, writes, key, uri)
    explained = explain_aws_error(error) if isinstance(error, AwsStepError) else error
    return {**outcome, "outcome": "failed", "error": str(explained), "exit_code": explained.exit_code,
            "exception": error}


def stop_uploads(client, bucket, pairs, futures, writes):
    """After Ctrl-C: cancel every upload, abort the open multipart ones (bounded), and say what may be stored."""
    import threading

    for future in futures:
        future.cancel()
    in_doubt = writes.unanswered(("PutObject", "CompleteMultipartUpload"))
    opening = writes.unanswered(("CreateMultipartUpload",))
    uploads, aborted = dict(writes.open_uploads), []

    def abort():
        for key, upload_id in uploads.items():
            try:
                with aws_step("abort the upload of", key, "s3"):
                    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            except AwsStepError as step:
                # s3transfer's own clean-up of the cancelled upload may abort it first: then it is gone all
                # the same (had it completed, its key would be stored or in doubt, said above).
                if error_code(step.error)[0] != "NoSuchUpload":
                    continue
            aborted.append(key)

    if uploads:
        worker = threading.Thread(target=abort, name="abort-uploads", daemon=True)
        worker.start()
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C only stops the waiting
            worker.join(ABORT_GRACE)
    stored = [key for _, key in pairs if key in writes.results]
    parts = [f"{len(stored)} of {len(pairs)} file{'s' if len(pairs) > 1 else ''} stored"]
    if in_doubt:
        parts.append(", ".join(f"s3://{bucket}/{key}" for key in in_doubt[:3]) + (" ..." if len(in_doubt) > 3 else "")
                     + " may or may not have been stored (the request was in flight; check with `ls`)")
    if aborted:
        parts.append(f"{len(aborted)} multipart upload{'s' if len(aborted) > 1 else ''} aborted")
    left_open = [key for key in uploads if key not in aborted] + opening
    if left_open:
        parts.append(f"{len(left_open)} multipart upload{'s' if len(left_open) > 1 else ''} may still be open "
                     f"{LEFT_OPEN}")
    parts.append("nothing else was stored")
    return "; ".join(parts)


def upload_files(client, bucket, pairs, out=None, no_clobber=False, on_outcome=None):
    """Upload [(path, key)] concurrently; return one outcome per pair, in order:
    {"path", "uri", "key", "size", "outcome": "stored"|"skipped"|"failed", "etag", "checksum_crc32"[, "error"]}.

    Without on_outcome the first failure raises; with it every file gets an outcome, passed to
    on_outcome(outcome, its exception or None) as soon as it and the files before it are done, and
    on_outcome may raise to stop the rest ("skipped": --no-clobber met an
    existing object; "failed" carries the error's exit code and text). Every request carries a
    CRC32 that S3 checks before storing; a failed multipart upload is aborted by the transfer
    manager. A file that changes while it is read fails with exit 2, saying what was stored.
    """
    out = out or Output(quiet=True)
    writes = client.writes
    writes.no_clobber = no_clobber
    before = []
    for path, key in pairs:
        with local_file_errors("read", path):
            before.append(os.stat(path))
        writes.results.pop(key, None)
    progress = Progress(out, sum(info.st_size for info in before), "upload")
    futures, outcomes = [], []
    transfers = Transfers(client, bucket, writes, progress, largest=max(info.st_size for info in before),
                          no_clobber=no_clobber)
    try:
        with interruptible(transfers, lambda: stop_uploads(client, bucket, pairs, futures, writes)):
            for (path, key), info in zip(pairs, before):
                futures.append(transfers.upload(path, key, info.st_size))
            for (path, key), future, info in zip(pairs, futures, before):
                outcome = upload_outcome(path, key, bucket, future, info, writes)
                outcomes.append(outcome)
                exception = outcome.pop("exception", None)
                if on_outcome is None and exception is not None:
                    raise exception
                if on_outcome is not None:
                    on_outcome(outcome, exception)
    finally:
        progress.close()
    return outcomes


def put_file(access_key, secret_key, region, session_token, identity_id, bucket, upload_path,
             endpoint_url=None, *, key=None, out=None, template=DEFAULT_FOLDER):
    """Upload one file to s3://bucket/<template's folder of identity_id>/<key or its basename>; return {"uri",
    "size", ...}."""
    credentials = {"AccessKeyId": access_key, "SecretAccessKey": secret_key, "SessionToken": session_token}
    full_key = user_key(user_folder(template, identity_id), key or os.path.basename(upload_path), bucket)
    return upload_files(s3_client(credentials, region, endpoint_url), bucket, [(upload_path, full_key)], out)[0]


def fetch_object(client, bucket, key, handle, dest, out):
    """Write one object into the open file handle with the transfer manager (ranged GETs in parallel)."""
    uri = f"s3://{bucket}/{key}"
    progress = Progress(out, None, "download")
    future = None

    def stop():
        if future is not None:
            future.cancel()
        return f"the download of {uri} was stopped; {dest} was left as it was"

    try:
        with interruptible(transfer_manager(client), stop) as manager:
            future = manager.download(bucket, key, handle, extra_args={"ChecksumMode": "ENABLED"},
                                      subscribers=progress.listeners)
            with aws_step("get", uri, "download"):
                future.result()
    finally:
        progress.close()


def place_download(temp, dest, no_clobber):
    """Move the finished download to dest; with no_clobber only if nothing is there (a hard link can't replace)."""
    if not no_clobber:
        os.replace(temp, dest)
        return
    try:
        os.link(temp, dest)
    except FileExistsError:
        raise ToolError(f"{dest} exists; --no-clobber left it unchanged", EXIT_USAGE) from None
    except OSError:  # a file system without hard links: check, then rename
        if os.path.lexists(dest):
            raise ToolError(f"{dest} exists; --no-clobber left it unchanged", EXIT_USAGE) from None
        os.replace(temp, dest)
        return
    os.unlink(temp)


def download_file(client, bucket, key, dest, out, no_clobber=False):
    """Download into a temporary file beside dest and move it into place only when complete.

    An object replaced while its parts are read (S3 answers 412 to the If-Match of a ranged GET)
    is downloaded once more. With no_clobber an existing dest is never replaced, even one that
    appeared during the download.
    """
    import tempfile

    uri = f"s3://{bucket}/{key}"
    with local_file_errors("write", dest):
        fd, temp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(dest)), prefix=".cog_auth_s3-",
                                    suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle, local_file_errors("write", dest):
            os.fchmod(handle.fileno(), new_file_mode())
            for attempt in (1, 2):
                try:
                    fetch_object(client, bucket, key, handle, dest, out)
                    break
                except AwsStepError as step:
                    if attempt == 2 or error_code(step.error)[0] != "PreconditionFailed":
                        raise
                    out.note(f"{uri} changed while it was being downloaded; downloading it again")
                    handle.seek(0)
                    handle.truncate()
            handle.flush()
            size = os.fstat(handle.fileno()).st_size
        place_download(temp, dest, no_clobber)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return {"uri": uri, "path": dest, "size": size}


def iter_objects(client, bucket, prefix):
    """Every object under prefix, in key order, one page of 1,000 at a time: memory stays flat."""
    with aws_step("list", f"s3://{bucket}/{prefix}", "s3"):
        yield from direct_s3(client, bucket).objects(prefix)


class Transfer(collections.namedtuple("Transfer", "upload path key size etag mtime", defaults=(None,) * 3)):
    """One file of a tree transfer: upload path to key, or download key to path (size, ETag, time as listed)."""


def delete_object(client, bucket, key):
    """Delete one object."""
    with aws_step("delete", f"s3://{bucket}/{key}", "s3"):
        client.delete_object(Bucket=bucket, Key=key)


def changed_upload(client, bucket, transfer, before, stored):
    """The error for a tree upload whose file changed while it was read (exit 2). What was stored may mix old
    and new bytes yet look newer than the file, so it is deleted again: the next sync uploads the file."""
    uri = f"s3://{bucket}/{transfer.key}"
    change = file_change(transfer.path, before)
    if not stored:
        outcome = f"nothing was stored at {uri}"
    else:
        try:
            delete_object(client, bucket, transfer.key)
            outcome = f"what was stored at {uri} may mix old and new bytes, so it was deleted again"
        except AwsStepError as step:
            outcome = (f"{uri} was stored and may mix old and new bytes, and deleting it failed "
                       f"({error_code(step.error)[0] or one_line(step.error)}); upload the file with put")
    return ToolError(f"{shown_path(transfer.path)} changed while it was being uploaded ({change}); {outcome}; run "
                     f"again when it has stopped changing", EXIT_USAGE)


def transfer_tree(client, bucket, transfers, on_done):
    """Run Transfers through one transfer manager, a bounded number in flight, so memory stays flat.

    Each object is stored whole or not at all, and each file is written beside its place and renamed
    there when complete, so an interrupted run leaves everything old or new; on_done(transfer) follows
    each success.
    """
    pending, writes = collections.deque(), client.writes

    def finish(transfer, future, before):
        verb = "put" if transfer.upload else "get"
        try:
            with aws_step(verb, f"s3://{bucket}/{transfer.key}", "s3"), \
                    local_file_errors("read" if transfer.upload else "write", transfer.path):
                future.result()
        except (ToolError, AwsStepError) as err:
            if not transfer.upload or not file_change(transfer.path, before):
                opened = with_open_upload(err, writes, transfer.key, f"s3://{bucket}/{transfer.key}")
                if opened is not err:
                    raise opened from err
                raise
            raise changed_upload(client, bucket, transfer, before, stored=False) from err
        if transfer.upload and file_change(transfer.path, before):
            raise changed_upload(client, bucket, transfer, before, stored=True)
        on_done(transfer)

    with Transfers(client, bucket, client.writes) as moving:
        for transfer in transfers:
            before = None
            if transfer.upload:
                # put's check, file by file: a file rewritten while its parts are read may be stored mixed.
                with local_file_errors("read", transfer.path):
                    before = os.stat(transfer.path)
                future = moving.upload(transfer.path, transfer.key, before.st_size)
            else:
                with local_file_errors("write", transfer.path):
                    os.makedirs(os.path.dirname(transfer.path) or ".", exist_ok=True)
                future = moving.download(transfer.key, transfer.path, transfer.size, transfer.etag)
            pending.append((transfer, future, before))
            if len(pending) >= TREE_IN_FLIGHT:
                finish(*pending.popleft())
        while pending:
            finish(*pending.popleft())


def delete_objects(client, bucket, keys):
    """Delete up to 1,000 keys in one request; return the keys S3 refused, with its reasons."""
    if not keys:
        return []
    with aws_step("delete", f"{len(keys)} objects in s3://{bucket}/", "s3"):
        answer = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
    return [(e.get("Key", ""), e.get("Code", "")) for e in answer.get("Errors", [])]


def local_etag(path):
    """The ETag S3 gives a file uploaded with TRANSFER_SETTINGS: its MD5, or the MD5 of its 8 MiB parts' MD5s."""
    import hashlib

    digests = []
    with local_file_errors("read", path), open(path, "rb") as handle:
        while block := handle.read(TRANSFER_SETTINGS["multipart_chunksize"]):
            digests.append(hashlib.md5(block).digest())
    if os.path.getsize(path) < TRANSFER_SETTINGS["multipart_threshold"]:
        return (digests[0] if digests else hashlib.md5(b"").digest()).hex()
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def presigned_get(client, bucket, key, seconds):
    """A URL that lets anyone GET one object for `seconds`, signed with the client's credentials (no request)."""
    with aws_step("sign a link to", f"s3://{bucket}/{key}", "s3"):
        return client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds)


def head_object(client, bucket, key):
    """The object's metadata; fails (NotFound) when it does not exist."""
    with aws_step("look up", f"s3://{bucket}/{key}", "s3"):
        return client.head_object(Bucket=bucket, Key=key)


def key_listed(client, bucket, key):
    """Whether a listing of the key as a prefix shows the key itself; None when that listing is refused too.

    S3 answers a missing key with 403, as a forbidden one, to a caller whose ListBucket is limited by
    an s3:prefix condition; such a caller may still list a prefix inside their own folder.
    """
    try:
        with aws_step("list", f"s3://{bucket}/{key}", "s3"):
            page = client.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    except AwsStepError as step:
        if error_code(step.error)[0] == "AccessDenied":
            return None
        raise
    return any(item["Key"] == key for item in page.get("Contents", []))  # the key sorts first under itself


def holds_objects(client, bucket, prefix):
    """Whether any object lies under prefix; False when that listing is refused too."""
    try:
        with aws_step("list", f"s3://{bucket}/{prefix}", "s3"):
            return bool(client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("Contents"))
    except AwsStepError as step:
        if error_code(step.error)[0] == "AccessDenied":
            return False
        raise


def object_exists(client, bucket, key):
    """True or False; None when S3 can't say (HeadObject and the listing both refused)."""
    try:
        with aws_step("look up", f"s3://{bucket}/{key}", "s3"):
            client.head_object(Bucket=bucket, Key=key)
        return True
    except AwsStepError as step:
        code = error_code(step.error)[0]
        if code in ("NotFound", "NoSuchKey"):
            return False
        if code == "AccessDenied":
            return key_listed(client, bucket, key)
        raise


@contextlib.contextmanager
def bucket_diagnosis(client_of, bucket, folder, own=None):
    """Say why a request in folder was refused: list the user's own folder (own, else folder) once, which
    tells a missing bucket (NoSuchBucket) from one the role may not use (AccessDenied) from a policy that
    lacks just the permission refused, or reaches only the own folder when folder is another (the listing
    works). Only on failure: no extra request (and no client, which client_of() makes) otherwise."""
    own = own or folder
    try:
        yield
    except AwsStepError as step:
        code = error_code(step.error)[0]
        if step.stage not in ("s3", "download") or code not in ("AccessDenied", "NoSuchBucket"):
            raise
        if code == "NoSuchBucket":
            raise AwsStepError(step.error, "use", bucket, "bucket") from step
        try:
            with aws_step("list your folder in", bucket, "bucket"):
                client_of().list_objects_v2(Bucket=bucket, Prefix=own, MaxKeys=1)
        except AwsStepError as check:
            if error_code(check.error)[0] not in ("AccessDenied", "NoSuchBucket"):
                raise step from None
            raise AwsStepError(check.error, "use", bucket, "bucket") from step
        if folder != own:
            raise AwsStepError(step.error, step.verb, step.obj, "other-folder") from step
        # A read refused in your own folder may be S3's answer for a key that is not there.
        key = step.obj[len(f"s3://{bucket}/"):] if step.obj.startswith(f"s3://{bucket}/") else ""
        if step.verb in ("get", "look up") and key.startswith(folder) \
                and key_listed(client_of(), bucket, key) is False:
            raise ToolError(S3_MESSAGES["NoSuchKey"].format(obj=step.obj), EXIT_AWS) from step
        raise AwsStepError(step.error, step.verb, step.obj, "own-folder") from step


# The isolation probe (`run --try-identity`) asks S3 itself, with the user's credentials, for what
# another identity has. It sends only requests that leave that identity's data as it was. Each
# answer is one entry: {"verb", "action" (the S3 API), "permission" (the IAM action S3 checks),
# "uri", "result", "detail"}; result is "allowed", "refused", "unproven" (refused, but for a key no
# listing showed, which S3 refuses as it refuses a forbidden one when the caller may not list), or
# "undecided" (S3 found the request itself wrong, 400, which says nothing about the permission).
PROBE_REFUSED = ("AccessDenied",)
# S3 authorizes an object request before it looks the object up: one of these proves the permission.
# So do the answers about the object's state that S3 gives only to a request it authorized: an archived object
# (InvalidObjectState, a 403 that is no refusal), a failed or met precondition (412, 304), a range past its end
# (416), a delete marker read as a version (405 MethodNotAllowed).
PROBE_GRANTED = ("NoSuchKey", "NotFound", "NoSuchVersion", "NoSuchUpload", "InvalidObjectState", "PreconditionFailed",
                 "NotModified", "304", "InvalidRange", "416", "MethodNotAllowed")
# Listings of another folder and of the bucket: (action, permission, client method, its page-size
# parameter, the parameter that starts a prefix-less listing after a key).
PROBE_LISTINGS = (
    ("ListObjectsV2", "s3:ListBucket", "list_objects_v2", "MaxKeys", "StartAfter"),
    ("ListObjectVersions", "s3:ListBucketVersions", "list_object_versions", "MaxKeys", "KeyMarker"),
    ("ListMultipartUploads", "s3:ListBucketMultipartUploads", "list_multipart_uploads", "MaxUploads", "KeyMarker"),
)
# Reads of one existing object: (action, permission, client method, extra parameters); each is
# tried on the object itself and on a version of it (VersionId=null where no version was listed,
# which names the object of a bucket that was never versioned), whose permission is named in
# PROBE_VERSION_PERMISSIONS.
PROBE_READS = (
    ("GetObject", "s3:GetObject", "get_object", {}),
    ("HeadObject", "s3:GetObject", "head_object", {}),
    ("GetObjectTagging", "s3:GetObjectTagging", "get_object_tagging", {}),
    ("GetObjectAcl", "s3:GetObjectAcl", "get_object_acl", {}),
    ("GetObjectAttributes", "s3:GetObjectAttributes", "get_object_attributes",
     {"ObjectAttributes": ["ETag", "ObjectSize"]}),
)
PROBE_VERSION_PERMISSIONS = {
    "s3:GetObject": "s3:GetObjectVersion", "s3:GetObjectTagging": "s3:GetObjectVersionTagging",
    "s3:GetObjectAcl": "s3:GetObjectVersionAcl", "s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
}
# What the probe never sends, because an allowed request would change the other identity's objects
# or the bucket every user shares: (action, permission, why). `doctor` decides them (and every
# other S3 action) from the policies, without a request.
THEIR_OBJECTS = "it would change an object of theirs"
THE_BUCKET = "it would change the bucket every user shares"
PROBE_NOT_TRIED = (
    ("PutObjectAcl", "s3:PutObjectAcl", THEIR_OBJECTS),
    ("PutObjectTagging", "s3:PutObjectTagging", THEIR_OBJECTS),
    ("DeleteObjectTagging", "s3:DeleteObjectTagging", THEIR_OBJECTS),
    ("PutObjectRetention", "s3:PutObjectRetention", THEIR_OBJECTS),
    ("PutObjectLegalHold", "s3:PutObjectLegalHold", THEIR_OBJECTS),
    ("RestoreObject", "s3:RestoreObject", THEIR_OBJECTS),
    ("DeleteObject of an existing version", "s3:DeleteObjectVersion", THEIR_OBJECTS),
    ("PutBucketPolicy", "s3:PutBucketPolicy", THE_BUCKET),
    ("DeleteBucketPolicy", "s3:DeleteBucketPolicy", THE_BUCKET),
    ("PutBucketAcl", "s3:PutBucketAcl", THE_BUCKET),
    ("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls", THE_BUCKET),
    ("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock", THE_BUCKET),
    ("PutBucketVersioning", "s3:PutBucketVersioning", THE_BUCKET),
    ("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration", THE_BUCKET),
    ("PutBucketReplication", "s3:PutReplicationConfiguration", THE_BUCKET),
    ("PutBucketCors", "s3:PutBucketCORS", THE_BUCKET),
    ("DeleteBucket", "s3:DeleteBucket", THE_BUCKET),
)
NO_KEY_KNOWN = ("no object of theirs is known: no listing showed one, and S3 refuses a missing key as it "
                "refuses a forbidden one; name one with --try-key KEY")


def probe_entry(verb, action, permission, uri, result, detail):
    """One request of the isolation probe and S3's answer to it."""
    return {"verb": verb, "action": action, "permission": permission, "uri": uri, "result": result,
            "detail": detail}


def probe_call(verb, uri, call, **params):
    """One isolation probe request: (its response, None), or (None, the error code) when S3 refused it,
    said what it acted on is missing, or found the request itself wrong (400)."""
    try:
        with aws_step(verb, uri, "s3"):
            return call(**params), None
    except AwsStepError as step:
        code = error_code(step.error)[0]
        status = getattr(step.error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code not in PROBE_REFUSED + PROBE_GRANTED and status != 400:
            raise
        return None, code or "400"


def probe_verdict(code, seen=True):
    """(result, detail) of one probe request from its error code (None: it worked); a refusal of an object
    no listing showed is unproven, as S3 refuses a missing object alike to a caller who may not list."""
    if code is None:
        return "allowed", "S3 answered it"
    if code in PROBE_GRANTED:
        return "allowed", f"S3 answered {code}, which it does only after granting the permission"
    if code not in PROBE_REFUSED:
        return "undecided", f"S3 answered {code}, which tells nothing about the permission"
    return ("refused", code) if seen else \
        ("unproven", f"{code}, but no listing showed this key: S3 refuses a missing one alike")


def probe_key(folder):
    """A random key in folder that no one has written."""
    import secrets

    return f"{folder}cog-auth-s3-probe-{secrets.token_hex(8)}"


def probe_write(client, bucket, folder):
    """Try to write a new random key into folder; what got through is deleted again (in a versioned bucket,
    its version, else a delete marker would hide it and keep it)."""
    key = probe_key(folder)
    uri = f"s3://{bucket}/{key}"
    try:
        # If-None-Match: a probe never replaces anything; AWS checks permission before the precondition.
        response, code = probe_call("write", uri, client.put_object, Bucket=bucket, Key=key, IfNoneMatch="*",
                                    Body=f"{TOOL} isolation probe; delete me\n".encode())
    except AwsStepError as step:
        if error_code(step.error)[0] != "PreconditionFailed":
            raise
        return probe_entry("write", "PutObject", "s3:PutObject", uri, "allowed",
                           "the write reached the precondition check: an object of that name already existed "
                           "and was left as it was")
    if code:
        return probe_entry("write", "PutObject", "s3:PutObject", uri, *probe_verdict(code))
    version = {"VersionId": response["VersionId"]} if response.get("VersionId") else {}
    try:
        with aws_step("delete", uri, "s3"):
            client.delete_object(Bucket=bucket, Key=key, **version)
        outcome = "the probe object was deleted again"
    except AwsStepError:
        outcome = f"the probe object could not be deleted; remove it by hand{' (its version)' if version else ''}"
    return probe_entry("write", "PutObject", "s3:PutObject", uri, "allowed", outcome)


def probe_harmless(client, bucket, folder):
    """Requests that change nothing even when allowed: delete the null version of a random key that does not
    exist, then the key (in a versioned bucket that makes a delete marker, which is removed again), and
    abort a made-up multipart upload of it."""
    key = probe_key(folder)
    uri = f"s3://{bucket}/{key}"
    tries = (
        ("delete", "DeleteObject", "s3:DeleteObjectVersion", f"{uri}?versionId=null", client.delete_object,
         {"VersionId": "null"}),
        ("delete", "DeleteObject", "s3:DeleteObject", uri, client.delete_object, {}),
        ("write", "AbortMultipartUpload", "s3:AbortMultipartUpload", f"{uri}?uploadId=cog-auth-s3-probe",
         client.abort_multipart_upload, {"UploadId": "cog-auth-s3-probe"}),
    )
    entries = []
    for verb, action, permission, where, call, extra in tries:
        response, code = probe_call(verb, where, call, Bucket=bucket, Key=key, **extra)
        result, detail = probe_verdict(code)
        if response and response.get("DeleteMarker") and response.get("VersionId"):
            try:
                with aws_step("delete", uri, "s3"):
                    client.delete_object(Bucket=bucket, Key=key, VersionId=response["VersionId"])
                detail += "; the delete marker it made was removed again"
            except AwsStepError:
                detail += "; the delete marker it made could not be removed: remove it by hand"
        entries.append(probe_entry(verb, action, permission, where, result, detail))
    return entries


def probe_listings(client, bucket, folder, parent):
    """List their folder, the folders' parent and the bucket root (with no prefix and with an empty one)
    every way S3 can, with and without a delimiter, one item and a full page, as a policy's condition may
    let one of them through. A wider listing starts after folder, so what it shows first is theirs if they have any.

    Returns (the entries, {key: version id or None} of the objects of folder that were seen).
    """
    scopes = [(folder, {"Prefix": folder})] + ([(parent, {"Prefix": parent})] if parent else []) + \
        [("", {}), ("", {"Prefix": ""})]
    entries, seen = [], {}
    for where, scope in scopes:
        for delimiter in ({}, {"Delimiter": "/"}):
            shown_query = [f"{name.lower()}={value}" for name, value in {**scope, **delimiter}.items()
                           if name == "Delimiter" or not value]  # what the path does not already say
            uri = f"s3://{bucket}/{where}" + (f"?{'&'.join(shown_query)}" if shown_query else "")
            for action, permission, method, page, after in PROBE_LISTINGS:
                # One item, then S3's largest page, sent (a condition on s3:max-keys may let either through, and
                # one on a key the request lacks fails).
                for size in ({page: 1}, {page: 1000}):
                    response, code = probe_call("list", uri, getattr(client, method), Bucket=bucket, **size, **scope,
                                                **delimiter, **({after: folder} if where != folder else {}))
                    if code not in PROBE_REFUSED:
                        break
                if code:
                    entries.append(probe_entry("list", action, permission, uri, *probe_verdict(code)))
                    continue
                items = response.get("Contents") or response.get("Versions") or response.get("Uploads") or []
                shown = [item["Key"] for item in items] + [item["Prefix"] for item in response.get("CommonPrefixes")
                                                           or []]
                entries.append(probe_entry("list", action, permission, uri, "allowed",
                                           f"the listing showed {shown[0]}" if shown else "the listing was allowed"))
                if action != "ListMultipartUploads":  # an upload's key is not an object yet
                    seen.update((item["Key"], item.get("VersionId")) for item in items
                                if item["Key"].startswith(folder) and item["Key"] not in seen)
    return entries, seen


def probe_reads(client, bucket, key, version_id, listed):
    """Every read of one object, of itself and of a version of it; a refusal proves isolation only when
    the object was listed (exists)."""
    uri = f"s3://{bucket}/{key}"
    entries = []
    for action, permission, method, extra in PROBE_READS:
        for version in (None, version_id or "null"):
            where = f"{uri}?versionId={version}" if version else uri
            response, code = probe_call("read", where, getattr(client, method), Bucket=bucket, Key=key, **extra,
                                        **({"VersionId": version} if version else {}))
            if response and "Body" in response:
                response["Body"].close()  # permission is proven; the other user's bytes are not wanted
            entries.append(probe_entry("read", action, PROBE_VERSION_PERMISSIONS[permission] if version
                                       else permission, where, *probe_verdict(code, listed)))
    return entries


# ====================================================================== provisioning

# NAME names every resource of one deployment, so it must suit the strictest
# of them: S3 bucket names (lowercase, digits, hyphens).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}[a-z0-9]$")
COGNITO_IDENTITY = "cognito-identity.amazonaws.com"
SUB_VARIABLE = f"${{{COGNITO_IDENTITY}:sub}}"
ROLE_POLICY_NAME = "own-folder-in-bucket"
TLS_SID = "DenyInsecureTransport"
LIFECYCLE_ID = "abort-incomplete-multipart-uploads"
PUBLIC_ACCESS_BLOCK = {key: True for key in
                       ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
# Codes with which Cognito refuses a role that IAM has not yet propagated (about
# ten seconds on AWS after a create or update); retried only right after one.
PROPAGATION_CODES = ("InvalidParameterException", "AccessDenied", "AccessDeniedException",
                     "ConcurrentModificationException")
PROPAGATION_DELAYS = (1, 2, 4, 8)
MFA_CONFIGURATIONS = {"off": "OFF", "optional": "OPTIONAL", "required": "ON"}
MFA_FACTORS = ("totp", "sms", "email")
# setup --sign-in: the user pool's AllowedFirstAuthFactors and the app client's flows.
SIGN_IN_FACTORS = {"srp": ["PASSWORD"], "choice": ["PASSWORD", "EMAIL_OTP", "SMS_OTP"]}
SIGN_IN_CLIENT_FLOWS = {"srp": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                        "choice": ["ALLOW_USER_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}
SMS_ROLE_POLICY_NAME = "publish-sms"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+[1-9]\d{4,14}$")


def arn_partition(region):
    """The ARN partition a region belongs to."""
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def trust_policy(identity_pool_id, amr="authenticated"):
    """The trust policy letting the identity pool give a role to its users of amr, and to no one else.

    amr is "authenticated" for signed-in users, "unauthenticated" for guests."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": COGNITO_IDENTITY},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {f"{COGNITO_IDENTITY}:aud": identity_pool_id},
                "ForAnyValue:StringLike": {f"{COGNITO_IDENTITY}:amr": amr},
            },
        }],
    }


def role_policies(bucket, identity_pool_id, region, template=DEFAULT_FOLDER):
    """The authenticated role's trust and permissions policies; `policy` prints them and `setup` attaches them.

    template is the users' folder template; each user's folder is it with their identity id (the sub).
    """
    bucket_arn = f"arn:{arn_partition(region)}:s3:::{bucket}"
    own = user_folder(template, SUB_VARIABLE)
    trust = trust_policy(identity_pool_id)
    permissions = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "OwnFolderObjects", "Effect": "Allow",
             "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
             "Resource": f"{bucket_arn}/{own}*"},
            # Listing is allowed only with a prefix inside the folder: never its parent, which holds the others'.
            {"Sid": "ListOwnFolder", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn,
             "Condition": {"StringLike": {"s3:prefix": [own, f"{own}*"]}}},
            # Without it a failed or interrupted multipart upload can't be cancelled by the
            # user who started it, and its parts stay billed until the lifecycle rule runs.
            {"Sid": "AbortOwnUploads", "Effect": "Allow", "Action": "s3:AbortMultipartUpload",
             "Resource": f"{bucket_arn}/{own}*"},
        ],
    }
    return {"TrustPolicy": trust, "PermissionsPolicy": permissions}


def deployment_names(name, account_id):
    """Every resource name of deployment NAME; the bucket carries the account id because S3 names are global."""
    return {"bucket": f"{name}-{account_id}", "user_pool": name, "client": name, "identity_pool": name,
            "role": f"{name}-authenticated", "guest_role": f"{name}-guest", "sms_role": f"{name}-cognito-sms"}


def check_name(name):
    """Refuse a NAME that would make an invalid or reserved resource name."""
    if not NAME_RE.match(name) or name.startswith(("xn--", "sthree-")):
        raise ToolError(f"--name {name!r} must be 2-32 lowercase letters, digits or hyphens, starting and ending "
                        f"with a letter or digit (it becomes part of the bucket name)", EXIT_USAGE)
    return name


def check_username(username):
    """Refuse an empty USERNAME before any request (botocore's own refusal can't name the cause)."""
    if not username.strip():
        raise ToolError("the username is empty; name the user to create, e.g. add-user alice", EXIT_USAGE)
    return username


def admin_call(verb, obj, call, missing=(), **params):
    """One request with the administrator's credentials; None when AWS answers with a code in missing."""
    try:
        with aws_step(verb, obj, "admin"):
            return call(**params)
    except AwsStepError as step:
        if error_code(step.error)[0] in missing:
            return None
        raise


def caller_identity(sts):
    """The administrator's (account id, ARN)."""
    found = admin_call("identify", "the administrator", sts.get_caller_identity)
    return found["Account"], found["Arn"]


# How each kind of resource that is found by name is listed: operation, result key, name field, id field.
LISTINGS = {
    "user pool": ("list_user_pools", "UserPools", "Name", "Id"),
    "app client": ("list_user_pool_clients", "UserPoolClients", "ClientName", "ClientId"),
    "identity pool": ("list_identity_pools", "IdentityPools", "IdentityPoolName", "IdentityPoolId"),
}


def find_by_name(client, kind, name, used=None, **params):
    """The id of the one resource of this kind called name, or None; several would make the choice a guess.

    used maps ids to the profile that names them ({id: "[default] of config.ini"}), to say which one is in use.
    """
    operation, result_key, name_key, id_key = LISTINGS[kind]
    with aws_step("list", f"{kind}s", "admin"):
        found = [item[id_key] for page in client.get_paginator(operation).paginate(MaxResults=60, **params)
                 for item in page[result_key] if item[name_key] == name]
    if len(found) > 1:
        users = "".join(f"; {used[i]} uses {i}" for i in found if i in (used or {}))
        raise ToolError(f"{len(found)} {kind}s are named {name}: {', '.join(found)}{users}; delete the extra ones "
                        f"so it is clear which to use", EXIT_AWS)
    return found[0] if found else None


def profile_uses(parser, profile, path):
    """{id: "[profile] of path"} for the pool and client ids the parsed config's profile names."""
    values = dict(parser.items(profile)) if parser.has_section(profile) else {}
    return {values[key]: f"[{profile}] of {path}" for key in ("user_pool_id", "client_id", "identity_pool_id")
            if values.get(key)}


class Changes:
    """What a provisioning command did, resource by resource: one note each, and the list for --json."""

    def __init__(self, out):
        self.out, self.items = out, []

    def record(self, resource, name, status, detail=""):
        """Note one resource's outcome as it happens."""
        item = {"resource": resource, "name": name, "status": status}
        self.items.append({**item, "detail": detail} if detail else item)
        self.out.note(f"{resource} {name}: {status}" + (f" ({detail})" if detail else ""))

    def summary(self, what):
        """One line for stdout: how many resources ended in each status."""
        counts = collections.Counter(item["status"] for item in self.items)
        return f"{what}: " + ", ".join(f"{count} {status}" for status, count in counts.items())


def policy_list(value):
    """A policy element that may be one value or a list, as a list."""
    return value if isinstance(value, list) else [] if value is None else [value]


def statements_of(document):
    """A policy document's statements (IAM lets a single statement stand without a list)."""
    return policy_list((document or {}).get("Statement"))


PUBLIC_PRINCIPALS = ("*", {"AWS": "*"}, {"AWS": ["*"]})


def is_public_grant(statement):
    """Does a bucket policy statement allow something to Principal * (anyone, in any account)?"""
    return statement.get("Effect") == "Allow" and statement.get("Principal") in PUBLIC_PRINCIPALS


def denies_insecure_transport(statement, bucket_arn):
    """Does a bucket policy statement deny everyone every S3 action on the bucket and its objects without TLS?"""
    condition = (statement.get("Condition") or {}).get("Bool") or {}
    resources = set(map(str, policy_list(statement.get("Resource"))))
    return statement.get("Effect") == "Deny" and statement.get("Principal") in PUBLIC_PRINCIPALS \
        and "false" in [str(value).lower() for value in policy_list(condition.get("aws:SecureTransport"))] \
        and bool({"*", "s3:*"} & set(map(str, policy_list(statement.get("Action"))))) \
        and ("*" in resources or {bucket_arn, f"{bucket_arn}/*"} <= resources)


def has_default_encryption(rules):
    """Does a bucket's encryption configuration set a default (SSE-S3 or a KMS one an administrator chose)?"""
    return any(rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for rule in rules or [])


def aborts_incomplete_uploads(rule):
    """Is a lifecycle rule an enabled one, over the whole bucket, that aborts incomplete multipart uploads?"""
    # AWS may echo an empty filter as {} or {"Prefix": ""}; both cover the whole bucket.
    return rule.get("Status") == "Enabled" and bool(rule.get("AbortIncompleteMultipartUpload")) \
        and not any((rule.get("Filter") or {}).values()) and not rule.get("Prefix")


def bucket_exists(s3, bucket):
    """True when the bucket exists and is ours; another account's bucket answers AccessDenied."""
    return admin_call("look up", f"bucket {bucket}", s3.head_bucket, missing=("NotFound", "NoSuchBucket"),
                      Bucket=bucket) is not None


def ensure_public_access_block(s3, bucket):
    """Turn every Block Public Access setting on; True if it changed anything."""
    current = admin_call("read the public access block of", bucket, s3.get_public_access_block,
                         missing=("NoSuchPublicAccessBlockConfiguration",), Bucket=bucket)
    if current and current["PublicAccessBlockConfiguration"] == PUBLIC_ACCESS_BLOCK:
        return False
    admin_call("block public access to", bucket, s3.put_public_access_block, Bucket=bucket,
               PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
    return True


def ensure_encryption(s3, bucket):
    """Default encryption with SSE-S3 unless some default is set; True if it changed anything."""
    current = admin_call("read the encryption of", bucket, s3.get_bucket_encryption,
                         missing=("ServerSideEncryptionConfigurationNotFoundError",), Bucket=bucket)
    # A KMS default an administrator chose is no weaker than SSE-S3, so it stays.
    if has_default_encryption((current or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules")):
        return False
    admin_call("set the default encryption of", bucket, s3.put_bucket_encryption, Bucket=bucket,
               ServerSideEncryptionConfiguration={"Rules": [
                   {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    return True


def tls_statement(bucket, region):
    """The bucket policy statement that refuses every request not made over TLS."""
    bucket_arn = f"arn:{arn_partition(region)}:s3:::{bucket}"
    return {"Sid": TLS_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}


def ensure_tls_policy(s3, bucket, region, drop_public=False):
    """Make the bucket policy deny requests without TLS (drop_public: and grant Principal * nothing); True if changed.

    Its other statements stay; one read and at most one write."""
    wanted = tls_statement(bucket, region)
    current = admin_call("read the policy of", bucket, s3.get_bucket_policy, missing=("NoSuchBucketPolicy",),
                         Bucket=bucket)
    policy = json.loads(current["Policy"]) if current else {"Version": "2012-10-17", "Statement": []}
    statements = statements_of(policy)
    kept = [item for item in statements if not (drop_public and is_public_grant(item))]
    if not any(denies_insecure_transport(item, wanted["Resource"][0]) for item in kept):
        kept = [item for item in kept if item.get("Sid") != TLS_SID] + [wanted]
    if kept == statements:
        return False
    admin_call("set the policy of", bucket, s3.put_bucket_policy, Bucket=bucket,
               Policy=json.dumps(dict(policy, Statement=kept)))
    return True


def ensure_lifecycle(s3, bucket):
    """A rule aborting multipart uploads left open for 3 days unless one does, keeping other rules; True if changed."""
    wanted = {"ID": LIFECYCLE_ID, "Status": "Enabled", "Filter": {"Prefix": ""},
              "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}}
    current = admin_call("read the lifecycle rules of", bucket, s3.get_bucket_lifecycle_configuration,
                         missing=("NoSuchLifecycleConfiguration",), Bucket=bucket)
    rules = current["Rules"] if current else []
    if any(aborts_incomplete_uploads(rule) for rule in rules):  # an administrator's own rule does as well
        return False
    admin_call("set the lifecycle rules of", bucket, s3.put_bucket_lifecycle_configuration, Bucket=bucket,
               LifecycleConfiguration={"Rules": [rule for rule in rules if rule.get("ID") != LIFECYCLE_ID]
                                       + [wanted]})
    return True


def ensure_bucket(s3, bucket, region, changes):
    """The private bucket: created when absent, its protections restored when they have drifted."""
    created = not bucket_exists(s3, bucket)
    if created:
        params = {"Bucket": bucket}
        if region != "us-east-1":  # us-east-1 is the one region that refuses a LocationConstraint
            params["CreateBucketConfiguration"] = {"LocationConstraint": region}
        admin_call("create", f"bucket {bucket}", s3.create_bucket, **params)
    else:
        location = admin_call("locate", f"bucket {bucket}", s3.get_bucket_location,
                              Bucket=bucket).get("LocationConstraint") or "us-east-1"
        if location != region:
            raise ToolError(f"bucket {bucket} is in {location}, not {region}; run with --region {location} "
                            f"or another --name", EXIT_USAGE)
    fixed = [label for label, changed in (
        ("public access block", ensure_public_access_block(s3, bucket)),
        ("encryption", ensure_encryption(s3, bucket)),
        ("TLS-only policy", ensure_tls_policy(s3, bucket, region)),
        ("lifecycle rule", ensure_lifecycle(s3, bucket)),
    ) if changed]
    status = "created" if created else "updated" if fixed else "exists"
    changes.record("bucket", bucket, status, "" if created or not fixed else "restored " + ", ".join(fixed))


# --device-tracking -> the pool's DeviceConfiguration (None: tracking off; any value turns it on).
DEVICE_TRACKING = {
    "off": None,
    "opt-in": {"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": True},
    "always": {"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False},
}


def update_keeping(idp, operation, described, **changes):
    """Call UpdateUserPool/UpdateUserPoolClient/UpdateIdentityPool with what Describe* said plus changes.

    AWS resets every setting an update leaves out, so the others are sent back as they were; a change
    of None leaves that setting out (reset to its default).
    """
    from botocore import xform_name

    members = idp.meta.service_model.operation_model(operation).input_shape.members
    params = {k: v for k, v in {**described, **changes}.items() if k in members and v is not None}
    return admin_call("update", params.get("ClientId") or params.get("UserPoolId") or params["IdentityPoolId"],
                      getattr(idp, xform_name(operation)), **params)


def retry_while_propagating(call, what, out, role_changed):
    """Run call; right after a role changed, retry Cognito's refusals with backoff while IAM catches up."""
    import time

    for delay in PROPAGATION_DELAYS + (None,):
        try:
            return call()
        except AwsStepError as step:
            if not role_changed or delay is None or error_code(step.error)[0] not in PROPAGATION_CODES:
                raise
            out.note(f"{what}: IAM is still propagating the role; trying again in {delay}s")
            time.sleep(delay)


def mfa_factors(mfa, listed):
    """setup's --mfa-factors as a list, checked against --mfa; totp when MFA is on and none are named."""
    factors = [f.strip() for f in (listed or "").split(",") if f.strip()]
    unknown = [f for f in factors if f not in MFA_FACTORS]
    if unknown:
        raise ToolError(f"--mfa-factors: unknown {', '.join(unknown)}; choose from {', '.join(MFA_FACTORS)}",
                        EXIT_USAGE)
    if factors and mfa in (None, "off"):
        raise ToolError("--mfa-factors needs --mfa optional or --mfa required", EXIT_USAGE)
    return list(dict.fromkeys(factors)) or (["totp"] if mfa in ("optional", "required") else [])


def sms_role_policies(external_id):
    """Trust and permissions of the role through which the user pool sends SMS (codes, MFA) with SNS."""
    return {
        "TrustPolicy": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "cognito-idp.amazonaws.com"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}]},
        "PermissionsPolicy": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]},
    }


def mfa_request(mfa, factors, sms_configuration):
    """SetUserPoolMfaConfig's parameters for --mfa and --mfa-factors."""
    request = {"MfaConfiguration": MFA_CONFIGURATIONS[mfa],
               "SoftwareTokenMfaConfiguration": {"Enabled": "totp" in factors}}
    if "sms" in factors:
        request["SmsMfaConfiguration"] = {"SmsConfiguration": sms_configuration}
    if "email" in factors:
        request["EmailMfaConfiguration"] = {"Subject": "Your sign-in code"}
    return request


def current_mfa(idp, user_pool_id):
    """(mfa setting as setup names it, [factors]) of an existing user pool."""
    config = admin_call("read the MFA settings of", f"user pool {user_pool_id}", idp.get_user_pool_mfa_config,
                        UserPoolId=user_pool_id)
    factors = [factor for factor, on in (
        ("totp", (config.get("SoftwareTokenMfaConfiguration") or {}).get("Enabled")),
        ("sms", config.get("SmsMfaConfiguration")), ("email", "EmailMfaConfiguration" in config)) if on]
    mfa = {v: k for k, v in MFA_CONFIGURATIONS.items()}.get(config.get("MfaConfiguration"), "off")
    return mfa, factors


def user_pool_drift(pool, mfa_now, sign_in_mode, mfa, factors):
    """What differs between an existing pool and the requested sign-in and MFA settings (None: unchanged)."""
    drift = []
    allowed = ((pool.get("Policies") or {}).get("SignInPolicy") or {}).get("AllowedFirstAuthFactors") or ["PASSWORD"]
    if sign_in_mode and sorted(allowed) != sorted(SIGN_IN_FACTORS[sign_in_mode]):
        drift.append(f"sign-in {sign_in_mode}")
    if mfa and (mfa, sorted(factors)) != (mfa_now[0], sorted(mfa_now[1]) if mfa_now[0] != "off" else []):
        drift.append(f"MFA {mfa}" + (f" with {', '.join(factors)}" if factors else ""))
    return drift


def ensure_user_pool(idp, name, changes, used=None, sign_in_mode=None, mfa=None, factors=(), sms_configuration=None,
                     role_changed=False, device_tracking=None):
    """The user pool called name, where only an administrator adds users, with the requested settings.

    sign_in_mode, mfa and device_tracking (off, opt-in, always) of None leave an existing pool's settings as
    they are; a new pool gets srp, no MFA and no device tracking.
    """
    factors = list(factors)
    devices = DEVICE_TRACKING.get(device_tracking)
    found = find_by_name(idp, "user pool", name, used)
    if found:
        pool = admin_call("read", f"user pool {found}", idp.describe_user_pool, UserPoolId=found)["UserPool"]
        mfa_now = current_mfa(idp, found)
        drift = user_pool_drift(pool, mfa_now, sign_in_mode, mfa, factors)
        if device_tracking is not None and (pool.get("DeviceConfiguration") or None) != devices:
            drift.append(f"device tracking {device_tracking}")
        if not drift:
            changes.record("user pool", found, "exists")
            return found
        update = {"UserPoolId": found, "MfaConfiguration": MFA_CONFIGURATIONS[mfa_now[0]]}  # MFA: set below
        if "TemporaryPasswordValidityDays" in ((pool.get("Policies") or {}).get("PasswordPolicy") or {}):
            # AWS refuses both settings in one request; the password policy's is the one that counts.
            update["AdminCreateUserConfig"] = {k: v for k, v in (pool.get("AdminCreateUserConfig") or {}).items()
                                               if k != "UnusedAccountValidityDays"}
        if sign_in_mode:
            update["Policies"] = dict(pool.get("Policies") or {},
                                      SignInPolicy={"AllowedFirstAuthFactors": SIGN_IN_FACTORS[sign_in_mode]})
        if sms_configuration:
            update["SmsConfiguration"] = sms_configuration
        if device_tracking is not None:
            update["DeviceConfiguration"] = devices
        retry_while_propagating(lambda: update_keeping(idp, "UpdateUserPool", pool, **update),
                                "user pool", changes.out, role_changed)
        user_pool_id, status, detail = found, "updated", ", ".join(drift)
    else:
        create = {"PoolName": name, "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}}
        if sign_in_mode:
            create["Policies"] = {"SignInPolicy": {"AllowedFirstAuthFactors": SIGN_IN_FACTORS[sign_in_mode]}}
        if sms_configuration:
            create["SmsConfiguration"] = sms_configuration
        if devices:
            create["DeviceConfiguration"] = devices
        user_pool_id = retry_while_propagating(
            lambda: admin_call("create", f"user pool {name}", idp.create_user_pool, **create),
            "user pool", changes.out, role_changed)["UserPool"]["Id"]
        status, detail = "created", ""
    if mfa:
        admin_call("set the MFA of", f"user pool {user_pool_id}", idp.set_user_pool_mfa_config,
                   UserPoolId=user_pool_id, **mfa_request(mfa, factors, sms_configuration))
    changes.record("user pool", user_pool_id, status, detail)
    return user_pool_id


def client_flows(sign_in_mode, rotation):
    """The app client's sign-in flows for sign_in_mode; no REFRESH_TOKEN_AUTH when tokens rotate (AWS refuses
    that flow on a rotating client; GetTokensFromRefreshToken needs none)."""
    return [flow for flow in SIGN_IN_CLIENT_FLOWS[sign_in_mode or "srp"]
            if not (rotation and flow == "ALLOW_REFRESH_TOKEN_AUTH")]


# How long a rotated-out refresh token still renews (AWS allows 0-60 s). With 0, a renewal whose answer is lost (the
# process killed, a read timeout botocore retries, a dropped connection) leaves only a dead token in the cache and
# logs the user out; with 60 the next run within a minute renews with it still.
ROTATION_GRACE_SECONDS = 60


def ensure_app_client(idp, user_pool_id, name, changes, used=None, sign_in_mode=None, rotation=None):
    """The pool's app client called name: no secret, SRP (plus USER_AUTH for choice) and refresh sign-ins.

    sign_in_mode and rotation (True, False) of None leave an existing client's settings as they are.
    """
    setting = {"Feature": "ENABLED" if rotation else "DISABLED",
               "RetryGracePeriodSeconds": ROTATION_GRACE_SECONDS if rotation else 0}
    found = find_by_name(idp, "app client", name, used, UserPoolId=user_pool_id)
    if found:
        client = admin_call("read", f"app client {found}", idp.describe_user_pool_client,
                            UserPoolId=user_pool_id, ClientId=found)["UserPoolClient"]
        current = client.get("ExplicitAuthFlows") or []
        rotating = (client.get("RefreshTokenRotation") or {}).get("Feature") == "ENABLED"
        rotate = rotating if rotation is None else rotation
        # A rotating client of an older setup, without a grace period, gets one when rotation is asked for.
        graceless = rotation and rotating and \
            (client.get("RefreshTokenRotation") or {}).get("RetryGracePeriodSeconds", 0) != ROTATION_GRACE_SECONDS
        flows = client_flows(sign_in_mode, rotate) if sign_in_mode else \
            [f for f in current if f != "ALLOW_REFRESH_TOKEN_AUTH"] + ([] if rotate else ["ALLOW_REFRESH_TOKEN_AUTH"])
        drift = ([f"sign-in {sign_in_mode}"] if sign_in_mode and sorted(flows) != sorted(current) else []) + \
            (["refresh tokens rotate" if rotate else "refresh tokens no longer rotate"] if rotate != rotating else []) + \
            ([f"rotated refresh tokens renew for {ROTATION_GRACE_SECONDS} s more"] if graceless else [])
        if not drift:
            changes.record("app client", found, "exists")
            return found
        update_keeping(idp, "UpdateUserPoolClient", client, ExplicitAuthFlows=flows,
                       **({"RefreshTokenRotation": setting} if rotate != rotating or graceless else {}))
        changes.record("app client", found, "updated", ", ".join(drift))
        return found
    extra = {"RefreshTokenRotation": setting} if rotation else {}
    client = admin_call("create", f"app client {name}", idp.create_user_pool_client, UserPoolId=user_pool_id,
                        ClientName=name, GenerateSecret=False, PreventUserExistenceErrors="ENABLED",
                        ExplicitAuthFlows=client_flows(sign_in_mode, rotation), **extra)["UserPoolClient"]
    changes.record("app client", client["ClientId"], "created")
    return client["ClientId"]


def ensure_identity_pool(identity_client, name, provider, client_id, changes, used=None, guests=False):
    """The identity pool called name, whose only login is the user pool's app client; guests only if asked."""
    providers = [{"ProviderName": provider, "ClientId": client_id, "ServerSideTokenCheck": False}]
    pool_id = find_by_name(identity_client, "identity pool", name, used)
    if not pool_id:
        pool_id = admin_call("create", f"identity pool {name}", identity_client.create_identity_pool,
                             IdentityPoolName=name, AllowUnauthenticatedIdentities=guests,
                             CognitoIdentityProviders=providers)["IdentityPoolId"]
        changes.record("identity pool", pool_id, "created")
        return pool_id
    pool = admin_call("read", f"identity pool {pool_id}", identity_client.describe_identity_pool,
                      IdentityPoolId=pool_id)
    if pool.get("CognitoIdentityProviders") == providers and pool["AllowUnauthenticatedIdentities"] == guests \
            and not any(pool.get(key) for key in ("SupportedLoginProviders", "DeveloperProviderName",
                                                  "OpenIdConnectProviderARNs", "SamlProviderARNs",
                                                  "AllowClassicFlow")):
        changes.record("identity pool", pool_id, "exists")
        return pool_id
    # Its only login is the app client: the other login settings are left out of the update, which drops them.
    update_keeping(identity_client, "UpdateIdentityPool", pool, CognitoIdentityProviders=providers,
                   AllowUnauthenticatedIdentities=guests, AllowClassicFlow=False, SupportedLoginProviders=None,
                   DeveloperProviderName=None, OpenIdConnectProviderARNs=None, SamlProviderARNs=None)
    changes.record("identity pool", pool_id, "updated", "its only login is now the app client" +
                   ("; guests allowed" if guests else ""))
    return pool_id


def role_policy_names(iam, role):
    """The names of the role's inline policies and the ARNs of its attached ones."""
    with aws_step("list the policies of", f"role {role}", "admin"):
        inline = [name for page in iam.get_paginator("list_role_policies").paginate(RoleName=role)
                  for name in page["PolicyNames"]]
        attached = [item["PolicyArn"] for page in iam.get_paginator("list_attached_role_policies").paginate(
            RoleName=role) for item in page["AttachedPolicies"]]
    return inline + attached


def ensure_role(iam, role, policies, changes,
                description="Cognito users of this deployment: their own folder of the bucket",
                policy_name=ROLE_POLICY_NAME):
    """A role with exactly our trust and inline policy policy_name; returns (arn, whether it changed).

    A PermissionsPolicy of None means no inline policy of ours, as for guests."""
    trust, permissions = policies["TrustPolicy"], policies["PermissionsPolicy"]
    found = admin_call("read", f"role {role}", iam.get_role, missing=("NoSuchEntity",), RoleName=role)
    status = "exists"
    if found is None:
        arn = admin_call("create", f"role {role}", iam.create_role, RoleName=role,
                         AssumeRolePolicyDocument=json.dumps(trust), Description=description)["Role"]["Arn"]
        status = "created"
    else:
        arn = found["Role"]["Arn"]
        if found["Role"].get("AssumeRolePolicyDocument") != trust:
            admin_call("update the trust policy of", f"role {role}", iam.update_assume_role_policy, RoleName=role,
                       PolicyDocument=json.dumps(trust))
            status = "updated"
    current = permissions and admin_call("read the policy of", f"role {role}", iam.get_role_policy,
                                         missing=("NoSuchEntity",), RoleName=role, PolicyName=policy_name)
    if permissions and (current is None or current["PolicyDocument"] != permissions):
        admin_call("set the policy of", f"role {role}", iam.put_role_policy, RoleName=role,
                   PolicyName=policy_name, PolicyDocument=json.dumps(permissions))
        status = "updated" if status == "exists" else status
    changes.record("role", role, status)
    extra = [name for name in role_policy_names(iam, role) if name != policy_name or not permissions]
    if extra:
        changes.out.warn(f"role {role} also has {', '.join(extra)}, which may grant more than it should; "
                         f"remove them")
    return arn, status != "exists"


def ensure_role_mapping(identity_client, pool_id, role_arn, role_changed, changes, guest_arn=None, role_mappings=None):
    """Map the pool's signed-in users to the role, guests to guest_arn if given; role_mappings are kept."""
    wanted = {"authenticated": role_arn, **({"unauthenticated": guest_arn} if guest_arn else {})}
    current = admin_call("read the roles of", f"identity pool {pool_id}", identity_client.get_identity_pool_roles,
                         IdentityPoolId=pool_id)
    if current.get("Roles") == wanted:
        changes.record("role mapping", pool_id, "exists")
        return
    retry_while_propagating(
        lambda: admin_call("map the role to", f"identity pool {pool_id}", identity_client.set_identity_pool_roles,
                           IdentityPoolId=pool_id, Roles=wanted,
                           **({"RoleMappings": role_mappings} if role_mappings else {})),
        "role mapping", changes.out, role_changed)
    changes.record("role mapping", pool_id, "updated" if current.get("Roles") else "created")


def bucket_is_empty(s3, bucket):
    """True when the bucket holds no object version, delete marker or open multipart upload."""
    versions = admin_call("list the versions in", f"bucket {bucket}", s3.list_object_versions, Bucket=bucket,
                          MaxKeys=1)
    uploads = admin_call("list the uploads in", f"bucket {bucket}", s3.list_multipart_uploads, Bucket=bucket,
                         MaxUploads=1)
    return not (versions.get("Versions") or versions.get("DeleteMarkers") or uploads.get("Uploads"))


def empty_bucket(s3, bucket):
    """Delete every object version and delete marker, and abort every open multipart upload; return the count."""
    count = 0
    with aws_step("empty", f"bucket {bucket}", "admin"):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            doomed = [{"Key": item["Key"], "VersionId": item["VersionId"]}
                      for item in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            if doomed:  # a page holds at most 1000 entries, delete_objects' limit
                errors = s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True}).get("Errors")
                if errors:
                    raise ToolError(f"can't delete s3://{bucket}/{errors[0]['Key']}: {errors[0].get('Code')}: "
                                    f"{errors[0].get('Message')}", EXIT_AWS)
                count += len(doomed)
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for upload in page.get("Uploads", []):
                s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                count += 1
    return count


def contact_attributes(email, phone):
    """add-user's --email and --phone as verified attributes, checked before any request."""
    if email and not EMAIL_RE.match(email):
        raise ToolError(f"--email {email!r} is not an email address", EXIT_USAGE)
    if phone and not PHONE_RE.match(phone):
        raise ToolError(f"--phone {phone!r} is not a phone number in E.164 form such as +15555550100", EXIT_USAGE)
    attributes = {}
    if email:
        attributes.update(email=email, email_verified="true")
    if phone:
        attributes.update(phone_number=phone, phone_number_verified="true")
    return [{"Name": k, "Value": v} for k, v in attributes.items()]


# A pool's PasswordPolicy flags and what each asks of a password, as add-user states them.
PASSWORD_CLASSES = (("RequireUppercase", "an upper-case letter"), ("RequireLowercase", "a lower-case letter"),
                    ("RequireNumbers", "a number"), ("RequireSymbols", "a symbol"))


def password_policy_text(idp, user_pool_id):
    """The pool's password policy in words ("at least 8 characters, with an upper-case letter, ..."), from
    DescribeUserPool; "" when it can't be read."""
    try:
        pool = admin_call("describe", f"user pool {user_pool_id}", idp.describe_user_pool, UserPoolId=user_pool_id)
    except AwsStepError:
        return ""
    policy = pool["UserPool"].get("Policies", {}).get("PasswordPolicy", {})
    needs = [text for flag, text in PASSWORD_CLASSES if policy.get(flag)]
    classes = (", ".join(needs[:-1]) + " and " + needs[-1]) if len(needs) > 1 else "".join(needs)
    return f"at least {policy.get('MinimumLength', 8)} characters" + (f", with {classes}" if classes else "")


def user_left(idp, user_pool_id, username, step, created):
    """What add-user leaves after a failed step: the user this run created is deleted again, so a rerun starts
    clean (a half-created one would wait in FORCE_CHANGE_PASSWORD); an existing one is kept as it was."""
    who = f"user {username}"
    if created:
        try:
            admin_call("delete", who, idp.admin_delete_user, UserPoolId=user_pool_id, Username=username)
            return f"nothing was created ({who} was deleted again)"
        except AwsStepError:
            return f"{who} was created without its password and could not be deleted again; rerun add-user to " \
                   f"finish it, or delete it"
    if step.verb == "create":
        return "nothing was created"
    return f"{who} was left as it was; rerun add-user to set its password"


def refused_password(idp, user_pool_id, username, step, created):
    """add-user's error for a password the pool refused: AWS's reason, the pool's policy, and what is left."""
    left = user_left(idp, user_pool_id, username, step, created)
    policy = password_policy_text(idp, user_pool_id)
    return ToolError(f"{explain_aws_error(step)}" + (f" ({policy})" if policy else "") + f"; {left}", EXIT_AWS)


def ensure_user(idp, user_pool_id, username, password, attributes=()):
    """A confirmed user with a permanent password (password() asks for it only when one must be set),
    and the attributes given (add-user's verified email and phone).

    Returns "created", "confirmed" (it waited for its first password), "updated" (attributes set) or
    "exists" (left unchanged).
    """
    who = f"user {username}"
    user = admin_call("look up", who, idp.admin_get_user, missing=("UserNotFoundException",),
                      UserPoolId=user_pool_id, Username=username)
    if user and user["UserStatus"] != "FORCE_CHANGE_PASSWORD":
        have = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
        if not any(have.get(a["Name"]) != a["Value"] for a in attributes):
            return "exists"
        admin_call("set the email or phone of", who, idp.admin_update_user_attributes, UserPoolId=user_pool_id,
                   Username=username, UserAttributes=list(attributes))
        return "updated"
    secret = password()
    created = False
    try:
        if user is None:
            # The password doubles as the temporary one, so a policy violation stops before the user exists.
            admin_call("create", who, idp.admin_create_user, UserPoolId=user_pool_id, Username=username,
                       TemporaryPassword=secret, MessageAction="SUPPRESS", UserAttributes=list(attributes))
            created = True
        admin_call("set the password of", who, idp.admin_set_user_password, UserPoolId=user_pool_id,
                   Username=username, Password=secret, Permanent=True)
    except AwsStepError as step:
        if error_code(step.error)[0] == "InvalidPasswordException":
            raise refused_password(idp, user_pool_id, username, step, created) from step
        if not created:
            raise
        # A server fault or lost connection after the user was made: never leave it half-created.
        failure = explain_aws_error(step)
        raise ToolError(f"{failure}; {user_left(idp, user_pool_id, username, step, created)}",
                        failure.exit_code) from step
    return "created" if user is None else "confirmed"


def check_bucket_removable(s3, bucket, force):
    """Refuse, before anything is deleted, to tear down a bucket that still holds objects (unless force)."""
    if not force and bucket_exists(s3, bucket) and not bucket_is_empty(s3, bucket):
        raise ToolError(f"bucket {bucket} is not empty, so nothing was deleted; rerun with --force "
                        f"to delete its objects too", EXIT_AWS)


def remove_role_mapping(identity_client, pool_id, name, changes):
    """Unmap the identity pool's roles: the reverse of ensure_role_mapping."""
    if pool_id:
        admin_call("remove the role mapping of", f"identity pool {pool_id}", identity_client.set_identity_pool_roles,
                   IdentityPoolId=pool_id, Roles={})
    changes.record("role mapping", pool_id or name, "deleted" if pool_id else "absent")


def remove_role(iam, role, changes, optional=False):
    """Delete the role and its policies: the reverse of ensure_role.

    An optional role (the guest role exists only after setup --guests, the SMS role after --sign-in choice or
    SMS MFA) is not reported when absent."""
    if not admin_call("read", f"role {role}", iam.get_role, missing=("NoSuchEntity",), RoleName=role):
        if not optional:
            changes.record("role", role, "absent")
        return
    for policy in role_policy_names(iam, role):  # IAM refuses to delete a role that still has policies
        if policy.startswith("arn:"):
            admin_call("detach", f"policy {policy}", iam.detach_role_policy, RoleName=role, PolicyArn=policy)
        else:
            admin_call("delete", f"policy {policy} of role {role}", iam.delete_role_policy, RoleName=role,
                       PolicyName=policy)
    admin_call("delete", f"role {role}", iam.delete_role, RoleName=role)
    changes.record("role", role, "deleted")


def remove_identity_pool(identity_client, pool_id, name, changes):
    """Delete the identity pool: the reverse of ensure_identity_pool."""
    if pool_id:
        admin_call("delete", f"identity pool {pool_id}", identity_client.delete_identity_pool, IdentityPoolId=pool_id)
    changes.record("identity pool", pool_id or name, "deleted" if pool_id else "absent")


def remove_app_client(idp, user_pool_id, name, changes):
    """Delete the user pool's app client: the reverse of ensure_app_client."""
    client_id = find_by_name(idp, "app client", name, UserPoolId=user_pool_id) if user_pool_id else None
    if client_id:
        admin_call("delete", f"app client {client_id}", idp.delete_user_pool_client, UserPoolId=user_pool_id,
                   ClientId=client_id)
    changes.record("app client", client_id or name, "deleted" if client_id else "absent")


def remove_user_pool(idp, user_pool_id, name, changes):
    """Delete the user pool and its users: the reverse of ensure_user_pool."""
    if user_pool_id:
        admin_call("delete", f"user pool {user_pool_id}", idp.delete_user_pool, UserPoolId=user_pool_id)
    changes.record("user pool", user_pool_id or name, "deleted" if user_pool_id else "absent")


def remove_bucket(s3, bucket, force, changes):
    """Delete the bucket, with force first its objects and uploads: the reverse of ensure_bucket."""
    if not bucket_exists(s3, bucket):
        changes.record("bucket", bucket, "absent")
        return
    emptied = empty_bucket(s3, bucket) if force else 0
    admin_call("delete", f"bucket {bucket}", s3.delete_bucket, Bucket=bucket)
    changes.record("bucket", bucket, "deleted", f"after deleting {emptied} objects and uploads" if emptied else "")


# ---- the managed login: a domain, the app client's code grant, OIDC identity providers

# A domain prefix as AWS accepts one: lowercase letters, digits and hyphens, without AWS's reserved words.
DOMAIN_PREFIX_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
RESERVED_PREFIX_WORDS = ("aws", "amazon", "cognito")
SIGNED_OUT_URI = "http://localhost:53682/signed-out"  # where /logout may send the browser back
OIDC_SECRET_ENV = ENV_PREFIX + "OIDC_CLIENT_SECRET"
# Federated users' email reaches the user pool (and so the ID token); username is the provider's sub.
OIDC_ATTRIBUTES = {"email": "email", "email_verified": "email_verified", "username": "sub"}
OIDC_SCOPES = "openid email"


def oidc_client_secret():
    """The OIDC provider's client secret, from the environment only (argv is visible to every user)."""
    secret = os.environ.get(OIDC_SECRET_ENV, "").strip()
    if not secret:
        raise ToolError(f"the OIDC provider's client secret is needed: set {OIDC_SECRET_ENV} (never a flag)",
                        EXIT_USAGE)
    return secret


def check_domain_prefix(prefix):
    """Refuse a domain prefix AWS would refuse; return it."""
    if not DOMAIN_PREFIX_RE.match(prefix) or any(word in prefix for word in RESERVED_PREFIX_WORDS):
        raise ToolError(f"--domain {prefix!r} is not a domain prefix: 1-63 lowercase letters, digits and hyphens, "
                        f"not starting or ending with a hyphen, without {', '.join(RESERVED_PREFIX_WORDS)}",
                        EXIT_USAGE)
    return prefix


def managed_login_base(prefix, region, endpoint_url=None):
    """The managed login's base URL for a domain prefix: on AWS https://PREFIX.auth.REGION.amazoncognito.com;
    against a custom endpoint (local_aws) the path local_aws serves it at, as no other host name reaches it."""
    if endpoint_url:
        return f"{endpoint_url.rstrip('/')}/_local_aws/domain/{prefix}"
    return f"https://{prefix}.auth.{region}.amazoncognito.com"


def ensure_user_pool_domain(idp, user_pool_id, prefix, changes):
    """The user pool's domain PREFIX (a pool has at most one prefix domain)."""
    owner = admin_call("read", f"user pool domain {prefix}", idp.describe_user_pool_domain,
                       Domain=prefix)["DomainDescription"].get("UserPoolId")
    if owner == user_pool_id:
        changes.record("user pool domain", prefix, "exists")
        return
    if owner:
        raise ToolError(f"domain prefix {prefix} belongs to another user pool ({owner}); choose another --domain",
                        EXIT_AWS)
    current = admin_call("read", f"user pool {user_pool_id}", idp.describe_user_pool,
                         UserPoolId=user_pool_id)["UserPool"].get("Domain")
    if current:
        raise ToolError(f"user pool {user_pool_id} already has domain {current}; pass --domain {current}",
                        EXIT_USAGE)
    admin_call("create", f"user pool domain {prefix}", idp.create_user_pool_domain, UserPoolId=user_pool_id,
               Domain=prefix)
    changes.record("user pool domain", prefix, "created")


def ensure_oidc_provider(idp, user_pool_id, name, issuer, client_id, client_secret, changes):
    """The user pool's OIDC identity provider NAME: its issuer, client and the email mapping."""
    details = {"oidc_issuer": issuer, "client_id": client_id, "authorize_scopes": OIDC_SCOPES,
               "attributes_request_method": "GET"}
    found = admin_call("read", f"identity provider {name}", idp.describe_identity_provider,
                       missing=("ResourceNotFoundException",), UserPoolId=user_pool_id, ProviderName=name)
    if found:
        current = found["IdentityProvider"]
        drift = [key for key, value in details.items() if current.get("ProviderDetails", {}).get(key) != value]
        drift += ["attribute mapping"] if current.get("AttributeMapping") != OIDC_ATTRIBUTES else []
        drift += ["client secret"] if current.get("ProviderDetails", {}).get("client_secret") != client_secret else []
        if not drift:
            changes.record("identity provider", name, "exists")
            return
        admin_call("update", f"identity provider {name}", idp.update_identity_provider, UserPoolId=user_pool_id,
                   ProviderName=name, ProviderDetails={**details, "client_secret": client_secret},
                   AttributeMapping=OIDC_ATTRIBUTES)
        changes.record("identity provider", name, "updated", ", ".join(drift))
        return
    admin_call("create", f"identity provider {name}", idp.create_identity_provider, UserPoolId=user_pool_id,
               ProviderName=name, ProviderType="OIDC", ProviderDetails={**details, "client_secret": client_secret},
               AttributeMapping=OIDC_ATTRIBUTES)
    changes.record("identity provider", name, "created")


def merged(current, wanted):
    """current's items, then the wanted ones it lacks: setup adds to an app's lists, never drops from them."""
    return list(current or []) + [item for item in wanted if item not in (current or [])]


def ensure_code_grant(idp, user_pool_id, client_id, callbacks, providers, changes):
    """The app client allows the authorization code grant with the default scopes, the loopback callback
    URLs and the identity providers; everything else on it is kept (update_keeping)."""
    client = admin_call("read", f"app client {client_id}", idp.describe_user_pool_client,
                        UserPoolId=user_pool_id, ClientId=client_id)["UserPoolClient"]
    wanted = {"AllowedOAuthFlowsUserPoolClient": True,
              "AllowedOAuthFlows": merged(client.get("AllowedOAuthFlows"), ["code"]),
              "AllowedOAuthScopes": merged(client.get("AllowedOAuthScopes"), split_list(DEFAULT_SCOPES)),
              "CallbackURLs": merged(client.get("CallbackURLs"), callbacks),
              "LogoutURLs": merged(client.get("LogoutURLs"), [SIGNED_OUT_URI]),
              "SupportedIdentityProviders": merged(client.get("SupportedIdentityProviders"),
                                                   ["COGNITO", *providers])}
    drift = [key for key, value in wanted.items() if client.get(key) != value]
    if not drift:
        changes.record("app client code grant", client_id, "exists")
        return
    update_keeping(idp, "UpdateUserPoolClient", client, **wanted)
    changes.record("app client code grant", client_id, "updated", ", ".join(drift))


def remove_user_pool_domain(idp, user_pool_id, changes):
    """Delete the user pool's domain (AWS refuses to delete a pool that has one): the reverse of
    ensure_user_pool_domain. Optional (only setup --domain makes one), so not reported when absent."""
    prefix = user_pool_id and admin_call("read", f"user pool {user_pool_id}", idp.describe_user_pool,
                                         UserPoolId=user_pool_id)["UserPool"].get("Domain")
    if prefix:
        admin_call("delete", f"user pool domain {prefix}", idp.delete_user_pool_domain, UserPoolId=user_pool_id,
                   Domain=prefix)
        changes.record("user pool domain", prefix, "deleted")


def remove_identity_providers(idp, user_pool_id, changes):
    """Delete the user pool's identity providers: the reverse of ensure_oidc_provider."""
    names = []
    if user_pool_id:
        with aws_step("list", f"the identity providers of {user_pool_id}", "admin"):
            names = [item["ProviderName"] for page in idp.get_paginator("list_identity_providers").paginate(
                UserPoolId=user_pool_id, MaxResults=60) for item in page["Providers"]]
    for name in names:
        admin_call("delete", f"identity provider {name}", idp.delete_identity_provider, UserPoolId=user_pool_id,
                   ProviderName=name)
        changes.record("identity provider", name, "deleted")


def ensure_managed_login(idp, user_pool_id, client_id, prefix, oidc, changes):
    """Browser sign-in for the app client: the domain PREFIX (if given), the OIDC provider oidc = (name,
    issuer, client id, client secret) (if given), and the code grant with setup's loopback callbacks."""
    if prefix:
        ensure_user_pool_domain(idp, user_pool_id, prefix, changes)
    if oidc:
        ensure_oidc_provider(idp, user_pool_id, *oidc, changes)
    ensure_code_grant(idp, user_pool_id, client_id, list(DEFAULT_REDIRECT_URIS), [oidc[0]] if oidc else [],
                      changes)


# ====================================================================== provisioning: audit

# doctor's proof asks about two made-up identities of the deployment's region: A's folder is "own",
# B's is "other", and "root" is the bucket outside every folder.
PROBE_UUIDS = ("00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b")
PROBE_KEY = "doctor-probe.txt"
PROBE_ACTIONS = (("get", "s3:GetObject"), ("put", "s3:PutObject"), ("delete", "s3:DeleteObject"),
                 ("list", "s3:ListBucket"))
OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
# info: advice that changes no verdict (doctor's exit code follows only critical and error findings).
SEVERITIES = ("critical", "error", "warning", "info")
SUB_KEY = f"{COGNITO_IDENTITY}:sub"
AMR_KEY = f"{COGNITO_IDENTITY}:amr"
# Cognito's multivalued context keys: a plain operator on one is not read as "any of its values".
MULTIVALUED_KEYS = {AMR_KEY}
# Variables that have one value for every user of a role: a "folder" named after one is everyone's.
SHARED_VARIABLES = {"aws:userid", "aws:principalarn", "aws:principalaccount", "aws:principaltype",
                    "aws:requestedregion", f"{COGNITO_IDENTITY}:aud"}
# Policy versions in which IAM reads ${...} as literal text, not as a variable (no Version means 2008-10-17).
LITERAL_VERSIONS = (None, "2008-10-17")
ACCESS_CODES = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")
POLICY_FIX = "make the role's permissions policy the one `cog-auth-s3 policy` prints (doctor --fix does)"
# The same for a role doctor --fix leaves alone (it rewrites the authenticated role only).
POLICY_BY_HAND = ("make the role's permissions policy the one `cog-auth-s3 policy` prints (doctor --fix rewrites "
                  "only the authenticated role, not this one)")
BUCKET_POLICY = "bucket policy"  # the "policy" of a statement reference into the bucket's policy

# Every S3 action IAM knows, with the resource it is authorized on, as the AWS Service Authorization Reference
# ("Actions, resources, and condition keys for Amazon S3") lists them on S3_ACTIONS_DATE; a test checks that each
# S3 operation of the installed botocore maps to one. doctor's proof simulates every one of them.
# "object": an object ARN (bucket/key); "bucket": the bucket ARN; "none": no resource of the bucket (the account,
# access points, Batch Operations jobs, Storage Lens, Access Grants, Multi-Region Access Points), decided on "*".
S3_ACTIONS_DATE = "2025-11-01"
S3_OBJECT_ACTIONS = (
    "AbortMultipartUpload", "BypassGovernanceRetention", "DeleteObject", "DeleteObjectTagging", "DeleteObjectVersion",
    "DeleteObjectVersionTagging", "GetObject", "GetObjectAcl", "GetObjectAttributes", "GetObjectLegalHold",
    "GetObjectRetention", "GetObjectTagging", "GetObjectTorrent", "GetObjectVersion", "GetObjectVersionAcl",
    "GetObjectVersionAttributes", "GetObjectVersionForReplication", "GetObjectVersionTagging",
    "GetObjectVersionTorrent", "InitiateReplication", "ListMultipartUploadParts", "ObjectOwnerOverrideToBucketOwner",
    "PutObject", "PutObjectAcl", "PutObjectLegalHold", "PutObjectRetention", "PutObjectTagging", "PutObjectVersionAcl",
    "PutObjectVersionTagging", "ReplicateDelete", "ReplicateObject", "ReplicateTags", "RestoreObject",
    # Newer than S3_ACTIONS_DATE: the action is named after its operation (botocore's UpdateObjectEncryption, which
    # re-keys an existing object), as every S3 object operation's action is; not read in the reference.
    "UpdateObjectEncryption")
S3_BUCKET_ACTIONS = (
    "CreateBucket", "CreateBucketMetadataTableConfiguration", "DeleteBucket", "DeleteBucketMetadataTableConfiguration",
    "DeleteBucketPolicy", "DeleteBucketWebsite", "GetAccelerateConfiguration", "GetAnalyticsConfiguration",
    "GetBucketAbac", "GetBucketAcl", "GetBucketCORS", "GetBucketLocation", "GetBucketLogging",
    "GetBucketMetadataTableConfiguration", "GetBucketNotification", "GetBucketObjectLockConfiguration",
    "GetBucketOwnershipControls", "GetBucketPolicy", "GetBucketPolicyStatus", "GetBucketPublicAccessBlock",
    "GetBucketRequestPayment", "GetBucketTagging", "GetBucketVersioning", "GetBucketWebsite",
    "GetEncryptionConfiguration", "GetIntelligentTieringConfiguration", "GetInventoryConfiguration",
    "GetLifecycleConfiguration", "GetMetricsConfiguration", "GetReplicationConfiguration", "ListBucket",
    "ListBucketMultipartUploads", "ListBucketVersions", "PutAccelerateConfiguration", "PutAnalyticsConfiguration",
    "PutBucketAbac", "PutBucketAcl", "PutBucketCORS", "PutBucketLogging", "PutBucketNotification",
    "PutBucketObjectLockConfiguration", "PutBucketOwnershipControls", "PutBucketPolicy", "PutBucketPublicAccessBlock",
    "PutBucketRequestPayment", "PutBucketTagging", "PutBucketVersioning", "PutBucketWebsite",
    "PutEncryptionConfiguration", "PutIntelligentTieringConfiguration", "PutInventoryConfiguration",
    "PutLifecycleConfiguration", "PutMetricsConfiguration", "PutReplicationConfiguration",
    "UpdateBucketMetadataInventoryTableConfiguration", "UpdateBucketMetadataJournalTableConfiguration")
S3_OTHER_ACTIONS = (
    "AssociateAccessGrantsIdentityCenter", "CreateAccessGrant", "CreateAccessGrantsInstance",
    "CreateAccessGrantsLocation", "CreateAccessPoint", "CreateAccessPointForObjectLambda", "CreateJob",
    "CreateMultiRegionAccessPoint", "CreateStorageLensGroup", "DeleteAccessGrant", "DeleteAccessGrantsInstance",
    "DeleteAccessGrantsInstanceResourcePolicy", "DeleteAccessGrantsLocation", "DeleteAccessPoint",
    "DeleteAccessPointForObjectLambda", "DeleteAccessPointPolicy", "DeleteAccessPointPolicyForObjectLambda",
    "DeleteJobTagging", "DeleteMultiRegionAccessPoint", "DeleteStorageLensConfiguration",
    "DeleteStorageLensConfigurationTagging", "DeleteStorageLensGroup", "DescribeJob",
    "DescribeMultiRegionAccessPointOperation", "DissociateAccessGrantsIdentityCenter", "GetAccessGrant",
    "GetAccessGrantsInstance", "GetAccessGrantsInstanceForPrefix", "GetAccessGrantsInstanceResourcePolicy",
    "GetAccessGrantsLocation", "GetAccessPoint", "GetAccessPointConfigurationForObjectLambda",
    "GetAccessPointForObjectLambda", "GetAccessPointPolicy", "GetAccessPointPolicyForObjectLambda",
    "GetAccessPointPolicyStatus", "GetAccessPointPolicyStatusForObjectLambda", "GetAccountPublicAccessBlock",
    "GetDataAccess", "GetJobTagging", "GetMultiRegionAccessPoint", "GetMultiRegionAccessPointPolicy",
    "GetMultiRegionAccessPointPolicyStatus", "GetMultiRegionAccessPointRoutes", "GetStorageLensConfiguration",
    "GetStorageLensConfigurationTagging", "GetStorageLensDashboard", "GetStorageLensGroup", "ListAccessGrants",
    "ListAccessGrantsInstances", "ListAccessGrantsLocations", "ListAccessPoints", "ListAccessPointsForObjectLambda",
    "ListAllMyBuckets", "ListCallerAccessGrants", "ListJobs", "ListMultiRegionAccessPoints",
    "ListStorageLensConfigurations", "ListStorageLensGroups", "ListTagsForResource",
    "PutAccessGrantsInstanceResourcePolicy", "PutAccessPointConfigurationForObjectLambda", "PutAccessPointPolicy",
    "PutAccessPointPolicyForObjectLambda", "PutAccountPublicAccessBlock", "PutJobTagging",
    "PutMultiRegionAccessPointPolicy", "PutStorageLensConfiguration", "PutStorageLensConfigurationTagging",
    "SubmitMultiRegionAccessPointRoutes", "TagResource", "UntagResource", "UpdateAccessGrantsLocation",
    "UpdateJobPriority", "UpdateJobStatus", "UpdateStorageLensGroup")
S3_ACTIONS = {f"s3:{name}": kind for names, kind in ((S3_OBJECT_ACTIONS, "object"), (S3_BUCKET_ACTIONS, "bucket"),
                                                     (S3_OTHER_ACTIONS, "none")) for name in names}
# The listings S3 authorizes with the request's prefix as s3:prefix.
PREFIX_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads")
# Bucket-level actions that change who can reach the data, or lose it: allowed to a user's role, each one breaks
# isolation (a new bucket policy or ACL opens every folder; lifecycle, versioning, replication, object lock and
# encryption settings delete, copy out or lock away everyone's files; notifications, inventory, logging, analytics
# and metadata tables send every key name elsewhere).
BUCKET_CONTROL_ACTIONS = tuple(f"s3:{name}" for name in (
    "PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl", "PutBucketOwnershipControls", "PutLifecycleConfiguration",
    "PutBucketVersioning", "PutReplicationConfiguration", "DeleteBucket", "PutBucketPublicAccessBlock",
    "PutBucketObjectLockConfiguration", "PutEncryptionConfiguration", "PutBucketCORS", "PutBucketWebsite",
    "DeleteBucketWebsite", "PutBucketLogging", "PutBucketNotification", "PutInventoryConfiguration",
    "PutAnalyticsConfiguration", "PutBucketRequestPayment", "PutBucketTagging", "PutBucketAbac",
    "CreateBucketMetadataTableConfiguration", "UpdateBucketMetadataInventoryTableConfiguration",
    "UpdateBucketMetadataJournalTableConfiguration", "DeleteBucketMetadataTableConfiguration"))


def finding(finding_id, severity, resource, detail, fix, **facts):
    """One finding of doctor, as --json prints it, with the facts (role, action, witness, statement...) that apply."""
    return {"id": finding_id, "severity": severity, "resource": resource, "detail": detail, "fix": fix,
            **{key: value for key, value in facts.items() if value is not None}}


def statement_ref(policy_name, index, statement):
    """Where a statement stands: its policy's name, its index in the policy's Statement list and its Sid."""
    return {"policy": policy_name, "index": index, **({"sid": statement["Sid"]} if statement.get("Sid") else {})}


def statement_label(ref):
    """A statement reference as text."""
    return f"statement {ref.get('sid') or '#' + str(ref.get('index'))} of {ref['policy']}"


DEFAULT_VALUE_RE = re.compile(r"^\s*(.+?)\s*,\s*'([^']*)'\s*$")


def variable_value(name, variables):
    """The text of a ${name} policy variable: its value, else the default it gives (IAM User Guide, "Specifying
    default values": ${aws:username, 'shared'} is 'shared' when the key is absent), else None."""
    default = DEFAULT_VALUE_RE.match(name)
    key = default.group(1) if default else name
    return variables.get(key.lower(), default and default.group(2))


def policy_value_matches(pattern, value, variables, ignore_case=False):
    """Does an IAM policy value (* and ? wildcards, ${...} variables) match value? (Unset variables never match.)"""
    def glob(text):
        """A regular expression for literal policy text with IAM's * and ? wildcards."""
        return re.escape(text).replace(r"\*", ".*").replace(r"\?", ".")

    parts, pos = [], 0
    for match in re.finditer(r"\$\{([^}]*)\}", pattern):
        parts.append(glob(pattern[pos:match.start()]))
        name = match.group(1)
        if name in ("*", "?", "$"):
            parts.append(re.escape(name))
        elif variable_value(name, variables) is not None:
            parts.append(re.escape(variable_value(name, variables)))
        else:
            return False
        pos = match.end()
    parts.append(glob(pattern[pos:]))
    return re.fullmatch("".join(parts), value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def statement_covers(statement, action, resource, variables, resource_aside=False):
    """Do the statement's Action and Resource (or NotAction, NotResource) cover action on resource, conditions aside
    (and the resource too, when told)?"""
    def covers(element, value, ignore_case):
        """Does the statement's element (or its Not- form) cover value?"""
        if element in statement:
            return any(policy_value_matches(p, value, variables, ignore_case) for p in policy_list(statement[element]))
        if "Not" + element in statement:
            return not any(policy_value_matches(p, value, variables, ignore_case)
                           for p in policy_list(statement["Not" + element]))
        return False
    return covers("Action", action, True) and (resource_aside or covers("Resource", resource, False))


STAR, ONE = "\0*", "\0?"  # IAM's wildcards in a policy value, apart from its literal characters


def glob_tokens(pattern, variables, literal_variables=False):
    """A policy value as tokens (STAR, ONE or one literal character each), its variables filled from variables;
    None when it names a variable that has no value (the value then matches nothing)."""
    def text(chunk):
        """Tokens of literal policy text with wildcards."""
        return [STAR if char == "*" else ONE if char == "?" else char for char in chunk]

    tokens, pos = [], 0
    for match in ([] if literal_variables else re.finditer(r"\$\{([^}]*)\}", pattern)):
        tokens += text(pattern[pos:match.start()])
        name = match.group(1)
        if name in ("*", "?", "$"):
            tokens.append(name)
        elif variable_value(name, variables) is not None:
            tokens += list(variable_value(name, variables))
        else:
            return None
        pos = match.end()
    return tokens + text(pattern[pos:])


def glob_meet(first, second):
    """A text that both token lists match (few moves through both), or None when none exists."""
    start, goal = (0, 0), (len(first), len(second))
    parents, queue = {start: None}, collections.deque([start])
    while queue and goal not in parents:
        i, j = state = queue.popleft()
        a = first[i] if i < len(first) else None
        b = second[j] if j < len(second) else None
        moves = [((i + 1, j), "")] if a == STAR else []
        moves += [((i, j + 1), "")] if b == STAR else []
        if a is not None and b is not None and STAR not in (a, b):
            if a == ONE or b == ONE or a == b:
                moves.append(((i + 1, j + 1), "x" if a == b == ONE else b if a == ONE else a))
        elif a == STAR and b not in (None, STAR):
            moves.append(((i, j + 1), "x" if b == ONE else b))
        elif b == STAR and a not in (None, STAR):
            moves.append(((i + 1, j), "x" if a == ONE else a))
        for following, char in moves:
            if following not in parents:
                parents[following] = (state, char)
                queue.append(following)
    if goal not in parents:
        return None
    chars, state = [], goal
    while parents[state]:
        state, char = parents[state]
        chars.append(char)
    return "".join(reversed(chars))


def pattern_witnesses(pattern, targets, variables, literal_variables=False):
    """Texts the policy value matches inside each target glob (one per target that it meets), each made to read
    as a file where it still matches: 'b//k/.jpg' becomes 'b/x/k/x.jpg'."""
    tokens = glob_tokens(str(pattern), variables, literal_variables)
    found = []
    for target in ([] if tokens is None else targets):
        target_tokens = glob_tokens(target, {}, True)
        met = glob_meet(tokens, target_tokens)
        if met is None:
            continue
        nicer = re.sub(r"/(?=[/.])", "/x", met) + ("x" if met.endswith("/") else "")
        if nicer != met and glob_meet(tokens, list(nicer)) is not None \
                and glob_meet(target_tokens, list(nicer)) is not None:
            met = nicer
        found.append(met)
    return found


AUD_KEY = f"{COGNITO_IDENTITY}:aud"
# The amr a guest's and a signed-in user's credentials carry (the user pool and sub parts stand for any).
GUEST_AMR = ["unauthenticated"]
SIGNED_IN_AMR = ["authenticated", "cognito-idp.amazonaws.com/user-pool",
                 "cognito-idp.amazonaws.com/user-pool:CognitoSignIn:sub"]
COGNITO_SESSION = "CognitoIdentityCredentials"  # the session name of every role session Cognito makes
# Condition keys whose value doctor knows for a request by a role's Cognito session (session_context gives them;
# s3:prefix comes with each listing it simulates), or knows to be absent (a role session has no aws:username).
# Any other key depends on the request (its parameters and headers, the time, the network, TLS) or on the user
# (principal tags): doctor assumes an Allow's condition on it can be met and a Deny's may not fire.
KNOWN_KEYS = {SUB_KEY, AUD_KEY, AMR_KEY, "s3:prefix", "aws:userid", "aws:principalarn", "aws:principaltype",
              "aws:principalaccount", "aws:federatedprovider", "aws:principalisawsservice", "aws:viaawsservice",
              "aws:username"}
STRING_OPERATORS = {"StringEquals": (False, False), "StringNotEquals": (True, False),
                    "StringEqualsIgnoreCase": (False, False), "StringNotEqualsIgnoreCase": (True, False),
                    "StringLike": (False, True), "StringNotLike": (True, True)}  # operator: (negated, wildcards)


def condition_values(statement, key, positive_only=True):
    """The values the String conditions (positive ones only, unless told) set for key, or None if none does."""
    found = None
    for operator, block in (statement.get("Condition") or {}).items():
        base = operator.split(":")[-1].removesuffix("IfExists")
        if base not in STRING_OPERATORS or (positive_only and STRING_OPERATORS[base][0]):
            continue
        for name, values in block.items():
            if name.lower() == key.lower():
                found = (found or []) + [str(v) for v in policy_list(values)]
    return found


def condition_admits(statement, key, values):
    """Do the statement's String conditions on key let a request whose key has these values through, as IAM reads
    them (ForAnyValue:/ForAllValues: over the values, wildcards only for ...Like)? Other keys aside. A plain operator
    on a multivalued key (amr) matches no request that has the key: IAM requires a set operator there."""
    def passes(operator, patterns):
        """Does one condition pass?"""
        qualifier, _, base = operator.rpartition(":")
        base = base.removesuffix("IfExists")
        negated, wildcards = STRING_OPERATORS[base]
        fold = "IgnoreCase" in base

        def hit(value):
            """Does value meet one of the patterns (before negation)?"""
            return any(policy_value_matches(p, value, {}, fold) if wildcards else
                       (p.lower() == value.lower() if fold else p == value) for p in patterns)
        if not qualifier and key.lower() in MULTIVALUED_KEYS and values:
            return False
        if qualifier == "ForAllValues":
            return all(hit(v) != negated for v in values)
        return any(hit(v) != negated for v in values)

    return all(passes(operator, [str(p) for p in policy_list(block[name])])
               for operator, block in (statement.get("Condition") or {}).items()
               if operator.split(":")[-1].removesuffix("IfExists") in STRING_OPERATORS
               for name in block if name.lower() == key.lower())


def multivalued_findings(statements, policy_name, role_name, resource):
    """Conditions with a plain operator (no ForAnyValue:/ForAllValues:) on a multivalued key such as amr."""
    found = []
    for index, statement in enumerate(statements):
        for operator, block in (statement.get("Condition") or {}).items():
            for key in [k for k in block if k.lower() in MULTIVALUED_KEYS and not operator.startswith("For")]:
                found.append(finding(
                    "condition-plain-operator-multivalued", "warning", resource,
                    f"{statement_label(statement_ref(policy_name, index, statement))} tests the multivalued key "
                    f"{key} with {operator}: IAM requires ForAnyValue: or ForAllValues: there, and a plain operator "
                    f"matches no request that has the key, not 'any of its values', as its author likely meant",
                    f"write ForAnyValue:{operator} (as Cognito's documentation does)", role=role_name,
                    statement=statement_ref(policy_name, index, statement)))
    return found


def session_context(role, pool_id, identity_id, amr, provider=COGNITO_IDENTITY):
    """The condition keys of a request by identity_id's Cognito session of role, as IAM fills them (global keys of
    an assumed-role session from a web identity, and Cognito's own)."""
    known = {"aws:PrincipalArn": role["arn"], "aws:PrincipalType": "AssumedRole",
             "aws:PrincipalAccount": role["arn"].split(":")[4], "aws:FederatedProvider": provider,
             "aws:PrincipalIsAWSService": "false", "aws:ViaAWSService": "false",
             SUB_KEY: identity_id, AUD_KEY: pool_id, AMR_KEY: amr}
    return dict(known, **({"aws:userid": f"{role['id']}:{COGNITO_SESSION}"} if role.get("id") else {}))


def assume_conditions(statement):
    """(the statement as doctor simulates it, None when left out; the keys outside KNOWN_KEYS it tests): an Allow's
    conditions on such keys are taken as met (removed), a Deny that tests one as not firing (left out)."""
    condition = statement.get("Condition") or {}
    unknown = sorted({key for block in condition.values() for key in block if key.lower() not in KNOWN_KEYS})
    if not unknown:
        return statement, []
    if statement.get("Effect") != "Allow":
        return None, unknown
    kept = {operator: {key: value for key, value in block.items() if key.lower() in KNOWN_KEYS}
            for operator, block in condition.items()}
    kept = {operator: block for operator, block in kept.items() if block}
    return dict({k: v for k, v in statement.items() if k != "Condition"}, **({"Condition": kept} if kept else {})), \
        unknown


def assumed_document(document):
    """A policy document with assume_conditions applied to each statement; None when none is left."""
    kept = [simulated for simulated, _ in map(assume_conditions, statements_of(document)) if simulated is not None]
    return dict(document, Statement=kept) if kept else None


def probe_ids(region):
    """The made-up identity ids A and B of doctor's proof."""
    return tuple(f"{region}:{uuid}" for uuid in PROBE_UUIDS)


def admits_cognito(statement):
    """Can a trust statement's Principal be a Cognito web identity (Federated by name or '*', Principal '*', or one
    that NotPrincipal does not exclude), for sts:AssumeRoleWithWebIdentity (Action or NotAction)?"""
    if "NotPrincipal" in statement:
        excluded = statement["NotPrincipal"]
        principal = not (isinstance(excluded, dict) and COGNITO_IDENTITY in policy_list(excluded.get("Federated")))
    else:
        named = statement.get("Principal")
        principal = named in PUBLIC_PRINCIPALS or isinstance(named, dict) and any(
            p in (COGNITO_IDENTITY, "*") for p in policy_list(named.get("Federated")))
    return principal and statement_covers(statement, "sts:AssumeRoleWithWebIdentity", "*", {}, resource_aside=True)


def check_trust(role, pool_id, kind, fixable=True):
    """Findings of a role's trust policy: only this pool's users of this kind may get the role, and they can
    (fixable: doctor --fix sets it)."""
    amr = "authenticated" if kind == "authenticated" else "unauthenticated"
    resource = f"role {role['name']} (trust policy)"
    fix = (f"set the trust policy to allow sts:AssumeRoleWithWebIdentity by Federated {COGNITO_IDENTITY} with "
           f"StringEquals {COGNITO_IDENTITY}:aud = {pool_id} and ForAnyValue:StringLike {AMR_KEY} = "
           f"{amr} (`cog-auth-s3 policy` prints it{'; doctor --fix sets it' if fixable else ''})")
    statements = statements_of(role["trust"])
    allows = [s for s in statements if s.get("Effect") == "Allow"]

    def federated(statement):
        """The web identity providers a statement trusts."""
        principal = statement.get("Principal")
        return policy_list(principal.get("Federated")) if isinstance(principal, dict) else []

    def denied(pool, amr_values):
        """Does an explicit Deny keep out a web identity of pool with these amr values? Only a Deny whose every
        condition is a String one on aud or amr counts: whether another fires depends on the request."""
        return any(s.get("Effect") == "Deny" and admits_cognito(s) and all(
            operator.split(":")[-1].removesuffix("IfExists") in STRING_OPERATORS
            and all(key.lower() in (AUD_KEY, AMR_KEY) for key in block)
            for operator, block in (s.get("Condition") or {}).items())
            and condition_admits(s, AMR_KEY, amr_values) and condition_admits(s, AUD_KEY, [pool])
            for s in statements)

    def report(finding_id, severity, detail, statement=None):
        """A finding of this trust policy (and of one of its statements)."""
        return finding(finding_id, severity, resource, detail, fix, role=role["name"], statement=statement and
                       statement_ref("trust policy", statements.index(statement), statement))

    cognito = [s for s in allows if admits_cognito(s) or COGNITO_IDENTITY in federated(s)]
    if not cognito:
        named = sorted({p for s in allows for p in federated(s)})
        return [report("trust-wrong-principal", "error",
                       f"trusts Federated {', '.join(named) or '(no web identity provider)'}, not "
                       f"{COGNITO_IDENTITY}: the identity pool can't give this role to anyone")]
    web = [s for s in cognito if admits_cognito(s)]
    if not web:
        actions = sorted({a for s in cognito for a in policy_list(s.get("Action"))})
        return [report("trust-wrong-action", "error", f"allows {', '.join(actions)}, but Cognito assumes roles with "
                                                      f"sts:AssumeRoleWithWebIdentity: no user gets this role")]
    found = []
    # An identity of another pool (signed in or not), or a guest of this one, that a Deny keeps out, gets nothing.
    others_out = all(denied(f"{pool_id.split(':')[0]}:{PROBE_UUIDS[1]}", amr_values)
                     for amr_values in (GUEST_AMR, SIGNED_IN_AMR))
    guests_out = denied(pool_id, GUEST_AMR)
    if denied(pool_id, GUEST_AMR if kind != "authenticated" else SIGNED_IN_AMR):
        found.append(report("trust-denies-its-users", "error",
                            f"an explicit Deny keeps out the {amr} identities of this pool, the users it is for"))
    for statement in web:
        auds = condition_values(statement, AUD_KEY)
        if auds is None and not others_out:
            found.append(report("trust-aud-missing", "critical",
                                f"no {AUD_KEY} condition: any identity pool, in any account, can give this role, and "
                                f"its access to the bucket, to its users", statement))
        others = [aud for aud in auds or [] if aud != pool_id]
        if others and not others_out:
            found.append(report("trust-other-pool", "critical",
                                f"trusts identity pool {', '.join(others)}: its users get this role and its "
                                f"access to the bucket", statement))
        if auds is not None and not condition_admits(statement, AUD_KEY, [pool_id]):
            found.append(report("trust-aud-excludes-pool", "error",
                                f"does not trust this identity pool {pool_id}: its users can't get the role",
                                statement))
        amrs = condition_values(statement, AMR_KEY, positive_only=False)
        guests_in = kind == "authenticated" and not guests_out
        if guests_in and amrs is None:
            found.append(report("trust-amr-missing", "critical",
                                f"no {AMR_KEY} = authenticated condition: guests (unauthenticated identities) of a "
                                f"trusted pool can assume this role through the classic flow", statement))
            continue
        if guests_in and condition_admits(statement, AMR_KEY, GUEST_AMR):
            found.append(report("trust-amr-admits-guests", "critical",
                                f"its {AMR_KEY} condition ({', '.join(amrs)}) is met by a guest's amr "
                                f"['unauthenticated']: guests (anyone, without signing in) of a trusted pool can "
                                f"assume this role through the classic flow", statement))
        wanted = SIGNED_IN_AMR if kind == "authenticated" else GUEST_AMR
        if not condition_admits(statement, AMR_KEY, wanted):
            found.append(report("trust-amr-mismatch", "error",
                                f"requires amr {', '.join(amrs or [])}, which the amr of a{'n' if amr[0] == 'a' else ''} "
                                f"{amr} identity ({', '.join(wanted)}) does not meet: the users the pool gives this "
                                f"role to can't get it", statement))
    return found + multivalued_findings(statements, "trust policy", role["name"], resource)


def variable_findings(statement, label, repair=POLICY_FIX):
    """A statement's ${...} variables other than the identity id: shared by all users, or never set."""
    quoted = json.dumps({k: v for k, v in statement.items() if k in ("Resource", "NotResource", "Condition")})
    found = []
    for variable in sorted(set(re.findall(r"\$\{([^}]*)\}", quoted)) - {"*", "?", "$"}):
        default = DEFAULT_VALUE_RE.match(variable)
        key = (default.group(1) if default else variable).lower()
        if key == SUB_KEY:
            continue
        if key in SHARED_VARIABLES or default:
            why = "which is the same for every user of the role" if key in SHARED_VARIABLES else \
                f"which is '{default.group(2)}' for every user whose session lacks {key} (IAM's default value; a " \
                f"Cognito session never has aws:username)"
            found.append(("perm-shared-variable", "critical",
                          f"{label} names folders after ${{{variable}}}, {why}: they all share one folder",
                          f"use ${{{SUB_KEY}}} (the identity id); " + repair))
        else:
            misspelled = " (misspelled: the service is cognito-identity.amazonaws.com)" \
                if "cognito-identity" in variable.lower() else ""
            found.append(("perm-wrong-variable", "error",
                          f"{label} uses ${{{variable}}}, which IAM never sets for Cognito identities, so the "
                          f"statement matches nothing{misspelled}",
                          f"use ${{{SUB_KEY}}} (the identity id, not the user pool's sub); " + repair))
    return found


def slash_findings(statement, label, bucket_arn, repair=POLICY_FIX):
    """A resource or s3:prefix where the identity id is not followed by '/'."""
    values = policy_list(statement.get("Resource")) + (condition_values(statement, "s3:prefix") or [])
    if not any(re.search(re.escape(SUB_VARIABLE) + r"(?!/)", str(value)) for value in values):
        return []
    return [("perm-missing-slash", "critical",
             f"{label} has no / after ${{{SUB_KEY}}}: keys outside the user's folder that start with the "
             f"identity id (e.g. '<identity id>-x/...') match too",
             f"write {bucket_arn}/${{{SUB_KEY}}}/* and s3:prefix ${{{SUB_KEY}}}/, ${{{SUB_KEY}}}/*; " + repair)]


def deny_findings(statement, label, bucket_arn, own, own_folder, repair=POLICY_FIX):
    """An unconditioned Deny that takes the user's own folder away (an explicit Deny wins over any Allow)."""
    cancelled = [action for action in OBJECT_ACTIONS
                 if statement_covers(statement, action, f"{bucket_arn}/{own_folder}{PROBE_KEY}", own)]
    if statement_covers(statement, "s3:ListBucket", bucket_arn, own):
        cancelled.append("s3:ListBucket")
    if statement.get("Effect") != "Deny" or statement.get("Condition") or not cancelled:
        return []
    return [("perm-deny-own-folder", "error",
             f"{label} denies {', '.join(cancelled)} in the user's own folder; an explicit Deny wins over every Allow",
             "narrow or remove the Deny; " + repair)]


def unreachable_actions(statements, bucket_arn, own, own_folder):
    """The actions no Allow statement grants in the user's own folder (conditions aside, but s3:prefix)."""
    allows = [s for s in statements if s.get("Effect") == "Allow"]
    missing = [action for action in OBJECT_ACTIONS if not any(
        statement_covers(s, action, f"{bucket_arn}/{own_folder}{PROBE_KEY}", own) for s in allows)]
    if not any(statement_covers(s, "s3:ListBucket", bucket_arn, own) and (
            condition_values(s, "s3:prefix") is None
            or any(policy_value_matches(p, own_folder, own) for p in condition_values(s, "s3:prefix")))
            for s in allows):
        missing.append("s3:ListBucket")
    return missing


def check_permissions(role, bucket, partition, region, template=DEFAULT_FOLDER, fixable=True):
    """Findings of a signed-in role's policies as written: variables, slashes, Denies and the own folder
    (fixable: doctor --fix rewrites them).

    Whether they reach beyond the own folder is the proof's to decide (prove_role), not the text's."""
    own_id, _ = probe_ids(region)
    bucket_arn, own = f"arn:{partition}:s3:::{bucket}", {SUB_KEY: own_id}
    own_folder = user_folder(template, own_id)
    found, usable, repair = [], [], POLICY_FIX if fixable else POLICY_BY_HAND
    for policy in role["policies"]:
        resource = f"role {role['name']}, policy {policy['name']}"
        statements = statements_of(policy["document"])
        version = (policy["document"] or {}).get("Version")
        literal = version in LITERAL_VERSIONS and "${" in json.dumps(statements)
        if literal:
            found.append(finding("perm-literal-variables", "error", resource,
                                 f"its Version is {version or 'missing'}, so IAM reads every ${{...}} in it as literal "
                                 f"text: its statements name one folder literally called "
                                 f"'{user_folder(template, SUB_VARIABLE)}', which every user of the role shares, "
                                 f"and no user reaches their own",
                                 'set "Version": "2012-10-17"; ' + repair, role=role["name"],
                                 statement={"policy": policy["name"]}))
        usable += [] if literal else statements
        for index, statement in enumerate(statements):
            ref = statement_ref(policy["name"], index, statement)
            label = statement_label(ref)
            for finding_id, severity, detail, fix in (
                    variable_findings(statement, label, repair) + slash_findings(statement, label, bucket_arn, repair)
                    + deny_findings(statement, label, bucket_arn, own, own_folder, repair)):
                found.append(finding(finding_id, severity, resource, detail, fix, role=role["name"], statement=ref))
        found += multivalued_findings(statements, policy["name"], role["name"], resource)
    missing = unreachable_actions(usable, bucket_arn, own, own_folder)
    if missing:
        found.append(finding("perm-own-folder-unreachable", "error", f"role {role['name']}",
                             f"no statement allows {', '.join(missing)} in the user's own folder "
                             f"{bucket_arn}/{user_folder(template, SUB_VARIABLE)}", repair, role=role["name"]))
    return found


def check_identity_pool(deployment):
    """Findings of the identity pool: its roles, guests, classic flow and login providers."""
    pool, pool_id, found = deployment["pool"], deployment["pool_id"], []
    resource = f"identity pool {pool_id}"
    roles = deployment["mapping"]
    if roles is not None and not roles.get("authenticated"):
        found.append(finding("pool-no-authenticated-role", "error", resource,
                             "no authenticated role is mapped: signed-in users get no credentials",
                             "map the authenticated role (set-identity-pool-roles; doctor --fix maps "
                             "<pool name>-authenticated when it exists)"))
    for kind, role in deployment["roles"].items():
        if role is None:
            found.append(finding("role-not-found", "error", resource,
                                 f"the {kind} role {deployment['role_arns'][kind]} does not exist: those users get "
                                 f"no credentials", "create it (setup) or map an existing role"))
    if pool.get("AllowClassicFlow"):
        found.append(finding("pool-classic-flow", "warning", resource,
                             "the classic (basic) flow is allowed: an identity can take any role that trusts "
                             "the pool, not only the one mapped for it",
                             "turn AllowClassicFlow off (doctor --fix does)"))
    providers = pool.get("CognitoIdentityProviders") or []
    expected = deployment.get("expected_client")
    if expected and not any(p.get("ProviderName", "").endswith("/" + expected[0]) and p.get("ClientId") == expected[1]
                            for p in providers):
        named = ", ".join(f"{p.get('ProviderName')} client {p.get('ClientId')}" for p in providers) or "none"
        found.append(finding("pool-provider-mismatch", "error", resource,
                             f"the profile's app client {expected[1]} of {expected[0]} is not a login provider "
                             f"(providers: {named}): its users are refused an identity",
                             "add the user pool and app client as the pool's Cognito provider (doctor --fix)",
                             client={"user_pool_id": expected[0], "client_id": expected[1]}))
    for client in deployment["clients"]:
        if client["client"] is None:
            found.append(finding("pool-provider-mismatch", "error", resource,
                                 f"provider {client['provider']} names app client {client['client_id']}, which "
                                 f"user pool {client['user_pool_id']} does not have: no sign-in can use it",
                                 "set the provider's ClientId to the user pool's app client",
                                 provider=client["provider"]))
    return found


def check_app_client(client):
    """Findings of an app client: SRP sign-in, refresh and no user-existence errors."""
    flows = client.get("ExplicitAuthFlows") or []
    legacy = not any(flow.startswith("ALLOW_") for flow in flows)
    resource = f"app client {client['ClientId']} of {client['UserPoolId']}"
    found = []
    # No flows means AWS's default set (SRP, custom, refresh); the legacy flags imply SRP and refresh.
    if not (not flows or "ALLOW_USER_SRP_AUTH" in flows or (legacy and "CUSTOM_AUTH_FLOW_ONLY" not in flows)):
        found.append(finding("client-no-srp", "error", resource,
                             f"SRP sign-in is not allowed (flows: {', '.join(flows)}): users can't sign in with "
                             f"this tool", "add ALLOW_USER_SRP_AUTH to the client's ExplicitAuthFlows"))
    if flows and not legacy and "ALLOW_REFRESH_TOKEN_AUTH" not in flows:
        found.append(finding("client-no-refresh", "warning", resource,
                             "the refresh flow is not allowed: every renewal is a full sign-in",
                             "add ALLOW_REFRESH_TOKEN_AUTH to the client's ExplicitAuthFlows"))
    if client.get("EnableTokenRevocation") is False:
        found.append(finding("client-token-revocation-off", "warning", resource,
                             "token revocation is off: a signed-out or stolen refresh token keeps getting new tokens "
                             "until it expires", "set EnableTokenRevocation on the client"))
    if client.get("PreventUserExistenceErrors") != "ENABLED":
        found.append(finding("client-user-existence-errors", "warning", resource,
                             "sign-in errors tell whether a username exists",
                             "set PreventUserExistenceErrors to ENABLED on the client"))
    return found


def safe_callback(uri):
    """Whether a callback URL keeps the authorization code off the network: HTTPS, or a loopback http URL."""
    return uri.startswith("https://") or bool(re.match(r"^http://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(/|$)",
                                                       uri))


def check_managed_login(client, managed_login):
    """Findings of an app client's browser sign-in: its callback URLs, implicit grant, and the domain and
    identity providers (managed_login = {"domain", "providers"} as read from its user pool, or None)."""
    resource = f"app client {client['ClientId']} of {client['UserPoolId']}"
    found = [finding("client-callback-insecure", "warning", resource,
                     f"callback URL {uri} is neither HTTPS nor localhost: the authorization code crosses the "
                     f"network in the clear", "use https:// callback URLs (http only for http://localhost)")
             for uri in client.get("CallbackURLs") or [] if not safe_callback(uri)]
    if "implicit" in (client.get("AllowedOAuthFlows") or []):
        found.append(finding("client-implicit-grant", "warning", resource,
                             "the implicit grant is allowed: tokens come back in the browser's URL, where history "
                             "and other pages can read them", "remove implicit from AllowedOAuthFlows; use the "
                                                              "code grant with PKCE (setup --domain)"))
    if not managed_login or not client.get("AllowedOAuthFlowsUserPoolClient"):
        return found
    if not managed_login["domain"]:
        found.append(finding("managed-login-no-domain", "error", resource,
                             "the client allows browser sign-in but its user pool has no domain, so there is no "
                             "page to sign in on", "create one: setup --domain PREFIX"))
    missing = [name for name in client.get("SupportedIdentityProviders") or []
               if name != "COGNITO" and name not in managed_login["providers"]]
    if missing:
        found.append(finding("client-provider-missing", "error", resource,
                             f"the client names identity providers its user pool lacks: {', '.join(missing)}; "
                             f"their users can't sign in", "add them (setup --oidc-provider) or remove them from "
                                                           "SupportedIdentityProviders"))
    return found


def role_name_of(arn):
    """The role name at the end of a role ARN (after any path)."""
    return arn.rsplit("/", 1)[-1]


def principal_may_be_role(statement, role_arn):
    """Could a resource policy statement's Principal (or NotPrincipal) be the role, as assumed?"""
    partition, account = role_arn.split(":")[1], role_arn.split(":")[4]
    exact = {"*", role_arn, f"arn:{partition}:iam::{account}:root", account}
    assumed = f"arn:{partition}:sts::{account}:assumed-role/{role_name_of(role_arn)}/"

    def names(spec):
        """The AWS principal ids a Principal element names ("*" for everyone)."""
        if not isinstance(spec, dict):
            return [str(spec)]
        return [str(item) for item in policy_list(spec.get("AWS"))]

    for element, wanted in (("Principal", True), ("NotPrincipal", False)):
        if element in statement:
            return any(n in exact or n.startswith(assumed) for n in names(statement[element])) == wanted
    return False


def policy_for_role(policy, role_arn, caller_arn):
    """The bucket policy's statements that can apply to the role as assumed, as the caller's; None if none does.

    SimulatePrincipalPolicy takes only an IAM user as the caller, so their Principal becomes that user."""
    kept = [dict({k: v for k, v in s.items() if k not in ("Principal", "NotPrincipal")}, Principal={"AWS": caller_arn})
            for s in statements_of(policy) if principal_may_be_role(s, role_arn)]
    return dict(policy, Statement=kept) if kept else None


def check_bucket(bucket, settings, region="us-east-1"):
    """Findings of the bucket: Block Public Access, its policy, TLS, encryption and the abort rule."""
    resource, found = f"bucket {bucket}", []
    if "public_access_block" in settings:
        off = [k for k in PUBLIC_ACCESS_BLOCK if not (settings["public_access_block"] or {}).get(k)]
        if off:
            found.append(finding("bucket-public-access", "warning", resource,
                                 f"Block Public Access is off for {', '.join(off)}",
                                 "turn all four Block Public Access settings on (doctor --fix does)"))
    if "policy" in settings:
        statements = statements_of(settings["policy"])
        public = [s for s in statements if is_public_grant(s)]
        if public:
            found.append(finding("bucket-policy-public", "critical", resource,
                                 "the bucket policy allows " + "; ".join(
                                     f"{', '.join(map(str, policy_list(s.get('Action'))))} to Principal *"
                                     for s in public) + ": anyone, in any account, may reach users' files",
                                 "remove the statements that grant Principal * (doctor --fix does)"))
        if not any(denies_insecure_transport(s, f"arn:{arn_partition(region)}:s3:::{bucket}") for s in statements):
            found.append(finding("bucket-no-tls-deny", "warning", resource,
                                 "the bucket policy does not deny requests without TLS",
                                 "add a Deny of s3:* when aws:SecureTransport is false (doctor --fix does)"))
    if "encryption" in settings and not has_default_encryption(settings["encryption"]):
        found.append(finding("bucket-no-encryption", "warning", resource, "no default encryption",
                             "set default encryption (SSE-S3 or KMS; doctor --fix sets SSE-S3)"))
    if "lifecycle" in settings and not any(aborts_incomplete_uploads(rule) for rule in settings["lifecycle"] or []):
        found.append(finding("bucket-no-abort-lifecycle", "warning", resource,
                             "no lifecycle rule aborts incomplete multipart uploads: their parts stay billed",
                             "add a rule aborting incomplete multipart uploads after a few days (doctor --fix)"))
    return found


def writable_attributes(client, user_pool):
    """The attributes a user may change themselves (UpdateUserAttributes) through the app client."""
    mutable = {a["Name"] for a in user_pool.get("SchemaAttributes") or []
               if a.get("Mutable", True) and a["Name"] != "sub" and not a["Name"].endswith("_verified")}
    return mutable & set(client["WriteAttributes"]) if client.get("WriteAttributes") else mutable


def check_user_pools(deployment):
    """Findings of the user pools and of what users can change: attributes that pick a role or a folder, deletion
    protection, password length and MFA."""
    found = []
    policies_text = json.dumps([p["document"] for role in deployment["roles"].values() if role
                                for p in role.get("policies", [])]).lower()
    for client in deployment["clients"]:
        user_pool = deployment.get("user_pools", {}).get(client["user_pool_id"])
        if not client["client"] or not user_pool:
            continue
        writable = writable_attributes(client["client"], user_pool)
        resource = f"identity pool {deployment['pool_id']}"
        rules = ((deployment["role_mappings"] or {}).get(f"{client['provider']}:{client['client_id']}") or {})
        for n, rule in enumerate((rules.get("RulesConfiguration") or {}).get("Rules", []), 1):
            if rule.get("Claim") in writable:
                found.append(finding("rule-writable-claim", "critical", resource,
                                     f"role-mapping rule {n} of {client['provider']} picks role {rule.get('RoleARN')} "
                                     f"by the claim {rule['Claim']}, which users may change themselves through app "
                                     f"client {client['client_id']}: each user picks their own role",
                                     "map roles by a claim users can't write (cognito:groups, or an attribute left "
                                     "out of the client's WriteAttributes)", claim=rule["Claim"],
                                     role=role_name_of(rule.get("RoleARN") or "")))
        tags = (deployment.get("principal_tags") or {}).get(client["provider"]) or {}
        for tag, claim in (tags.get("PrincipalTags") or {}).items():
            if claim not in writable:
                continue
            used = f"aws:principaltag/{tag.lower()}" in policies_text
            found.append(finding("principal-tag-writable", "critical" if used else "warning", resource,
                                 f"principal tag {tag} comes from the claim {claim}, which users may change themselves "
                                 f"through app client {client['client_id']}" + (
                                     ": the roles' policies test it, so a user changes what they reach" if used else
                                     "; no role policy tests it yet"),
                                 f"map the tag from a claim users can't write, or remove {claim} from the client's "
                                 f"WriteAttributes", claim=claim))
    for user_pool_id, user_pool in (deployment.get("user_pools") or {}).items():
        resource = f"user pool {user_pool_id}"
        if user_pool.get("DeletionProtection") != "ACTIVE":
            found.append(finding("user-pool-deletion-protection-off", "info", resource,
                                 "deletion protection is off: one call deletes every user and their sign-in",
                                 "set DeletionProtection to ACTIVE (teardown must then turn it off first)"))
        length = ((user_pool.get("Policies") or {}).get("PasswordPolicy") or {}).get("MinimumLength")
        if length is not None and length < 12:
            found.append(finding("user-pool-short-passwords", "info", resource,
                                 f"passwords may be as short as {length} characters",
                                 "set the password policy's MinimumLength to 12 or more"))
        if user_pool.get("MfaConfiguration", "OFF") == "OFF":
            found.append(finding("user-pool-mfa-off", "info", resource,
                                 "MFA is off: a password alone opens a user's folder",
                                 "turn MFA on (setup --mfa optional or required)"))
    return found


# The kind of a role only the classic flow gives: not the deployment's, so only what it reaches in the bucket is judged.
CLASSIC_FLOW = "classic flow: "


def fixed_role(deployment):
    """The name of the one signed-in role doctor --fix rewrites: the authenticated role."""
    return (deployment["roles"].get("authenticated") or {}).get("name")


def audit_findings(deployment):
    """Every finding about the deployment's documents (the proof's come from prove_role)."""
    found = check_identity_pool(deployment)
    partition, region = arn_partition(deployment["region"]), deployment["region"]
    guests = deployment["pool"].get("AllowUnauthenticatedIdentities")
    for kind, role in deployment["roles"].items():
        if role is None or "policies" not in role or kind.startswith(CLASSIC_FLOW):
            continue
        if kind != "unauthenticated":  # the authenticated role, or one a rule gives to signed-in users
            fixable = role["name"] == fixed_role(deployment)  # doctor --fix rewrites that one only
            found += check_trust(role, deployment["pool_id"], "authenticated", fixable)
            found += check_permissions(role, deployment["bucket"], partition, region, deployment["folder"], fixable)
        elif guests:
            found += check_trust(role, deployment["pool_id"], kind)
    for client in deployment["clients"]:
        if client["client"]:
            found += check_app_client(client["client"])
            found += check_managed_login(client["client"], client.get("managed_login"))
    found += check_bucket(deployment["bucket"], deployment["bucket_settings"], region)
    found += check_user_pools(deployment)
    unique = []
    for item in found:
        if item not in unique:
            unique.append(item)
    return unique


def proof_findings(matrix, guest_roles, fixable_role=None):
    """Findings of the proof's matrix: a signed-in role that can't use its own folder."""
    found = []
    for role in dict.fromkeys(row["role"] for row in matrix if row["role"] not in guest_roles):
        denied = [r["action"] for r in matrix if r["role"] == role and not r["allowed"] and r["folder"] == "own"]
        if denied:
            found.append(finding("proof-own-denied", "error", f"role {role}",
                                 f"the simulation refuses identity A {', '.join(denied)} in its own folder",
                                 POLICY_FIX if role == fixable_role else POLICY_BY_HAND, role=role))
    return found


def audit_exit_code(findings):
    """5 for a critical finding, 4 for an error, else 0."""
    severities = {item["severity"] for item in findings}
    return EXIT_ISOLATION if "critical" in severities else EXIT_AWS if "error" in severities else EXIT_OK


UNREAD = object()  # what AuditReader.read answers for a read AWS refused


class AuditReader:
    """Reads the deployment with the administrator's credentials; a read AWS refuses becomes an
    'unreadable' finding naming the IAM permission, so the rest of the audit goes on."""

    def __init__(self):
        """No refused read yet."""
        self.unreadable = []

    def read(self, resource, permission, call, missing=(), **params):
        """The answer, None when AWS answers a code in missing, or UNREAD when the administrator may not read it."""
        try:
            with aws_step("read", resource, "admin"):
                return call(**params)
        except AwsStepError as step:
            code = error_code(step.error)[0]
            if code in missing:
                return None
            if code in ACCESS_CODES:
                self.unreadable.append(finding("unreadable", "error", resource,
                                               f"the administrator may not read it ({code})",
                                               f"grant the administrator {permission}"))
                return UNREAD
            raise


# What a server answers for an operation it does not have (local_aws's moto lacks some Cognito reads).
UNSUPPORTED_CODES = ("InvalidAction", "NotImplemented", "UnknownOperationException", "UnrecognizedClientException")


def read_optional(reader, resource, permission, call, **params):
    """reader.read of a setting that may be absent: None when it is missing, unread or the server lacks the call
    (then an "unreadable" finding says so)."""
    try:
        got = reader.read(resource, permission, call, missing=("ResourceNotFoundException",), **params)
    except AwsStepError as step:
        if error_code(step.error)[0] not in UNSUPPORTED_CODES and getattr(step.error, "response", {}).get(
                "ResponseMetadata", {}).get("HTTPStatusCode") not in (404, 501):
            raise
        reader.unreadable.append(finding("unreadable", "warning", resource,
                                         f"the server does not answer {permission.split(':')[1]}, so doctor could "
                                         f"not check it", f"check {resource} by hand"))
        return None
    return None if got is UNREAD else got


def read_role(reader, iam, arn):
    """{"name", "arn", "trust", "policies": [{"name", "document", "inline"}]}, None if gone; unread keys left out."""
    name = role_name_of(arn)
    found = reader.read(f"role {name}", "iam:GetRole", iam.get_role, missing=("NoSuchEntity",), RoleName=name)
    if found is None or found is UNREAD:
        return None if found is None else {"name": name, "arn": arn}
    role = {"name": name, "arn": arn, "id": found["Role"].get("RoleId"),
            "trust": found["Role"].get("AssumeRolePolicyDocument"),
            "boundary": (found["Role"].get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")}
    names = reader.read(f"the policies of role {name}", "iam:ListRolePolicies and iam:ListAttachedRolePolicies",
                        role_policy_names, iam=iam, role=name)
    if names is UNREAD:
        return role
    policies = []
    for policy_name in [n for n in names if not n.startswith("arn:")]:
        got = reader.read(f"policy {policy_name} of role {name}", "iam:GetRolePolicy", iam.get_role_policy,
                          RoleName=name, PolicyName=policy_name)
        if got is UNREAD:
            return role
        policies.append({"name": policy_name, "document": got["PolicyDocument"], "inline": True})
    for policy_arn in [n for n in names if n.startswith("arn:")]:
        meta = reader.read(f"policy {policy_arn}", "iam:GetPolicy", iam.get_policy, PolicyArn=policy_arn)
        version = meta is not UNREAD and reader.read(
            f"policy {policy_arn}", "iam:GetPolicyVersion", iam.get_policy_version,
            PolicyArn=policy_arn, VersionId=meta["Policy"]["DefaultVersionId"])
        if meta is UNREAD or version is UNREAD:
            return role
        policies.append({"name": policy_arn, "document": version["PolicyVersion"]["Document"], "inline": False})
    role["policies"] = policies
    return role


def discover_bucket(roles, partition):
    """The one bucket the authenticated role's policies name, else None."""
    role = roles.get("authenticated") or {}
    names = {match.group(1) for policy in role.get("policies", []) for s in statements_of(policy["document"])
             for value in policy_list(s.get("Resource"))
             for match in [re.match(rf"arn:{partition}:s3:::([a-z0-9][a-z0-9.-]+[a-z0-9])(/|$)", str(value))]
             if match}
    return names.pop() if len(names) == 1 else None


def read_managed_login(reader, idp, user_pool_id, user_pool):
    """The user pool's domain prefix and identity provider names (user_pool: its DescribeUserPool answer, as
    read_deployment read it), or None when either can't be read."""
    if not user_pool:
        return None
    listed = reader.read(f"the identity providers of {user_pool_id}", "cognito-idp:ListIdentityProviders",
                         idp.list_identity_providers, missing=("ResourceNotFoundException",),
                         UserPoolId=user_pool_id, MaxResults=60)
    if listed in (UNREAD, None):
        return None
    return {"domain": user_pool.get("Domain"), "providers": [p["ProviderName"] for p in listed["Providers"]]}


def read_deployment(clients, region, pool_id, bucket=None, expected_client=None, template=DEFAULT_FOLDER):
    """Everything doctor judges, read with the administrator's credentials, and the reads AWS refused."""
    identity_client, iam, idp, s3 = (clients[name] for name in ("cognito-identity", "iam", "cognito-idp", "s3"))
    reader = AuditReader()
    pool = reader.read(f"identity pool {pool_id}", "cognito-identity:DescribeIdentityPool",
                       identity_client.describe_identity_pool, IdentityPoolId=pool_id)
    if pool is UNREAD:  # without the pool there is nothing to follow
        raise ToolError(f"the administrator may not read identity pool {pool_id}; grant "
                        f"cognito-identity:DescribeIdentityPool", EXIT_AWS)
    mapping = reader.read(f"the roles of identity pool {pool_id}", "cognito-identity:GetIdentityPoolRoles",
                          identity_client.get_identity_pool_roles, IdentityPoolId=pool_id)
    role_mappings = None if mapping is UNREAD else (mapping or {}).get("RoleMappings", {})
    mapping = None if mapping is UNREAD else (mapping or {}).get("Roles", {})
    # Rules give signed-in users other roles than the authenticated one: each is judged as that one is.
    role_arns = {**(mapping or {}), **{f"rule {n} of {provider}": item["RoleARN"]
                                       for provider, rules in (role_mappings or {}).items()
                                       for n, item in enumerate((rules.get("RulesConfiguration") or {}).get(
                                           "Rules", []), 1)}}
    # A token mapping gives users the role their ID token names (cognito:preferred_role, one of cognito:roles):
    # the role of one of their user pool groups. Each group role is judged as the authenticated one is.
    for provider, rule in (role_mappings or {}).items():
        if rule.get("Type") != "Token":
            continue
        user_pool_id = provider.split(":")[0].rsplit("/", 1)[-1]
        groups = reader.read(f"the groups of user pool {user_pool_id}", "cognito-idp:ListGroups",
                             lambda **params: [group for page in idp.get_paginator("list_groups").paginate(**params)
                                               for group in page["Groups"]],
                             missing=("ResourceNotFoundException",), UserPoolId=user_pool_id)
        role_arns.update({f"group {group['GroupName']} of {user_pool_id}": group["RoleArn"]
                          for group in (groups if isinstance(groups, list) else []) if group.get("RoleArn")})
    # The classic (basic) flow lets the app pick any role whose trust admits this pool's identities
    # (GetOpenIdToken, then AssumeRoleWithWebIdentity with a RoleArn of its choice): each is judged as the
    # authenticated role is.
    if pool.get("AllowClassicFlow"):
        listed = reader.read("the account's roles", "iam:ListRoles", lambda: [
            item for page in iam.get_paginator("list_roles").paginate() for item in page["Roles"]])
        for item in listed if isinstance(listed, list) else []:
            trust = item.get("AssumeRolePolicyDocument")  # botocore decodes it (json_decode_policies)
            if item["Arn"] not in role_arns.values() and isinstance(trust, dict) and any(
                    s.get("Effect") == "Allow" and admits_cognito(s) and condition_admits(s, AUD_KEY, [pool_id])
                    and any(condition_admits(s, AMR_KEY, amr) for amr in [SIGNED_IN_AMR] + (
                        [GUEST_AMR] if pool.get("AllowUnauthenticatedIdentities") else []))
                    for s in statements_of(trust)):
                role_arns[CLASSIC_FLOW + item["RoleName"]] = item["Arn"]
    roles = {kind: read_role(reader, iam, arn) for kind, arn in role_arns.items()}
    partition = arn_partition(region)
    bucket = bucket or discover_bucket(roles, partition)
    if not bucket:
        raise ToolError(f"can't tell the bucket of identity pool {pool_id} from its role's policies; "
                        f"name it with --bucket", EXIT_USAGE)
    app_clients, user_pools, principal_tags = [], {}, {}
    for provider in pool.get("CognitoIdentityProviders") or []:
        user_pool_id = provider.get("ProviderName", "").rsplit("/", 1)[-1]
        described = reader.read(f"app client {provider.get('ClientId')}", "cognito-idp:DescribeUserPoolClient",
                                idp.describe_user_pool_client, missing=("ResourceNotFoundException",),
                                UserPoolId=user_pool_id, ClientId=provider.get("ClientId"))
        if described is not UNREAD:
            app_clients.append({"provider": provider.get("ProviderName"), "user_pool_id": user_pool_id,
                                "client_id": provider.get("ClientId"),
                                "client": described and described["UserPoolClient"]})
        if user_pool_id not in user_pools:
            described = reader.read(f"user pool {user_pool_id}", "cognito-idp:DescribeUserPool",
                                    idp.describe_user_pool, missing=("ResourceNotFoundException",),
                                    UserPoolId=user_pool_id)
            if described is not UNREAD and described:
                user_pools[user_pool_id] = described["UserPool"]
        tags = read_optional(reader, f"the principal tags of {provider.get('ProviderName')}",
                             "cognito-identity:GetPrincipalTagAttributeMap",
                             identity_client.get_principal_tag_attribute_map, IdentityPoolId=pool_id,
                             IdentityProviderName=provider.get("ProviderName"))
        if tags:
            principal_tags[provider.get("ProviderName")] = tags
    for client in app_clients:  # each pool's domain and identity providers, for check_managed_login
        client["managed_login"] = client["client"] and read_managed_login(
            reader, idp, client["user_pool_id"], user_pools.get(client["user_pool_id"]))
    settings = {}
    for key, permission, call, missing, pick in (
            ("public_access_block", "s3:GetBucketPublicAccessBlock", s3.get_public_access_block,
             ("NoSuchPublicAccessBlockConfiguration",), lambda r: r["PublicAccessBlockConfiguration"]),
            ("policy", "s3:GetBucketPolicy", s3.get_bucket_policy, ("NoSuchBucketPolicy",),
             lambda r: json.loads(r["Policy"])),
            ("encryption", "s3:GetEncryptionConfiguration", s3.get_bucket_encryption,
             ("ServerSideEncryptionConfigurationNotFoundError",),
             lambda r: r["ServerSideEncryptionConfiguration"]["Rules"]),
            ("lifecycle", "s3:GetLifecycleConfiguration", s3.get_bucket_lifecycle_configuration,
             ("NoSuchLifecycleConfiguration",), lambda r: r["Rules"]),
            ("ownership", "s3:GetBucketOwnershipControls", s3.get_bucket_ownership_controls,
             ("OwnershipControlsNotFoundError",), lambda r: r["OwnershipControls"]["Rules"][0]["ObjectOwnership"])):
        got = reader.read(f"the {key.replace('_', ' ')} of bucket {bucket}", permission, call, missing=missing,
                          Bucket=bucket)
        if got is not UNREAD:
            settings[key] = got and pick(got)
    deployment = {"region": region, "pool_id": pool_id, "pool": pool, "mapping": mapping, "roles": roles,
                  "folder": template,
                  "role_arns": role_arns, "role_mappings": role_mappings,
                  "clients": app_clients, "user_pools": user_pools, "principal_tags": principal_tags,
                  "bucket": bucket, "bucket_settings": settings,
                  "expected_client": expected_client}
    return deployment, reader.unreadable


def simulate_actions(iam, role, actions, resource, context, resource_policy=None, caller_arn=None, calls=None,
                     documents=None):
    """{action: (allowed?, [names of the policies that decided], [context keys it had no value for])} for one
    resource from IAM's SimulatePrincipalPolicy, or SimulateCustomPolicy of documents ([(name, document)]) in
    place of the role's policies; calls counts the requests.

    One resource per call: AWS now sums several resources into one result, the most restrictive."""
    params = {"ActionNames": list(actions), "ResourceArns": [resource],
              "ContextEntries": [{"ContextKeyName": k, "ContextKeyValues": policy_list(v),
                                  "ContextKeyType": "stringList" if isinstance(v, list) else "string"}
                                 for k, v in context.items()]}
    if resource_policy:
        params.update(ResourcePolicy=json.dumps(resource_policy), CallerArn=caller_arn)
    if documents is None:
        params["PolicySourceArn"] = role["arn"]
    else:
        params["PolicyInputList"] = [json.dumps(document) for _, document in documents]
    names = {f"PolicyInputList.{n}": name for n, (name, _) in enumerate(documents or [], 1)}
    with aws_step("simulate the policies of", f"role {role['name']}", "admin"):
        results = []
        operation = "simulate_principal_policy" if documents is None else "simulate_custom_policy"
        for page in iam.get_paginator(operation).paginate(**params):
            results += page["EvaluationResults"]
            if calls is not None:
                calls.append(resource)
    decisions = {}
    for result in results:
        specific = [r for r in result.get("ResourceSpecificResults") or [] if r.get("EvalResourceName") == resource]
        decided = (specific or [result])[0]
        matched = decided.get("MatchedStatements") or result.get("MatchedStatements") or []
        decisions[result["EvalActionName"]] = (
            (decided.get("EvalResourceDecision") or decided.get("EvalDecision")) == "allowed",
            [BUCKET_POLICY if m.get("SourcePolicyType") == "resource" else names.get(m.get("SourcePolicyId"),
                                                                                     m.get("SourcePolicyId"))
             for m in matched],
            result.get("MissingContextValues") or [])
    return decisions


def role_statements(role, bucket_statements=()):
    """[(reference, statement)] of the role's policies, then the bucket policy's statements that can apply to it;
    a reference into a policy whose Version makes ${...} literal text says so ("literal")."""
    found = []
    for policy in role["policies"]:
        literal = (policy["document"] or {}).get("Version") in LITERAL_VERSIONS
        found += [(dict(statement_ref(policy["name"], index, s), **({"literal": True} if literal else {})), s)
                  for index, s in enumerate(statements_of(policy["document"]))]
    return found + [(statement_ref(BUCKET_POLICY, index, s), s) for index, s in bucket_statements]


def proof_witnesses(statements, bucket_arn, template, own_id, other_id, variables):
    """(object ARNs, listing prefixes) outside identity A's folder that some Allow statement's Resource (or
    NotResource) and s3:prefix patterns can match, plus B's folder and the root; None is a listing without prefix.

    Each pattern is met with these places: another identity's folder (at any depth), the bucket root and the
    template's fixed part, and keys that start with A's id; the simulation then decides each witness."""
    own_folder, other_folder = user_folder(template, own_id), user_folder(template, other_id)
    lead = template.partition(IDENTITY_PLACEHOLDER)[0]
    places = [f"{other_folder}*", "*", f"{lead}*", f"{own_folder.rstrip('/')}*"]
    arns = [f"{bucket_arn}/{other_folder}{PROBE_KEY}", f"{bucket_arn}/{PROBE_KEY}"]
    prefixes = [None, other_folder] + ([lead] if lead else [])
    for ref, statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        # A NotResource statement matches nearly everything: its witnesses are those of "*", filtered by the simulation.
        patterns = policy_list(statement.get("Resource")) if "Resource" in statement else ["*"]
        for pattern in patterns:
            arns += pattern_witnesses(pattern, [f"{bucket_arn}/{place}" for place in places], variables,
                                      ref.get("literal", False))
        for value in condition_values(statement, "s3:prefix") or []:
            prefixes += pattern_witnesses(value, places, variables, ref.get("literal", False))
    arns = [arn for arn in dict.fromkeys(arns) if arn.startswith(bucket_arn + "/")
            and not arn.startswith(f"{bucket_arn}/{own_folder}")]
    return arns, [p for p in dict.fromkeys(prefixes) if p is None or not p.startswith(own_folder)]


def context_admits(statement, context):
    """Could the statement's String conditions pass for this request context (other operators assumed to)?"""
    for operator, block in (statement.get("Condition") or {}).items():
        base = operator.split(":")[-1]
        if base.removesuffix("IfExists") not in STRING_OPERATORS:
            continue
        for key in block:
            values = context.get(key.lower())
            if values is None and not (base.endswith("IfExists") or STRING_OPERATORS[base.removesuffix(
                    "IfExists")][0]):
                return False
            if values is not None and not condition_admits(statement, key, policy_list(values)):
                return False
    return True


def granting_statement(statements, action, resource, context, variables, matched):
    """The reference of the Allow statement that grants action on resource: of those whose Action and Resource
    cover it, one in a policy the simulation names and whose conditions can pass for the context, first."""
    covering = [(ref, s) for ref, s in statements if s.get("Effect") == "Allow"
                and statement_covers(s, action, resource, {} if ref.get("literal") else variables)]
    ranked = sorted(covering, key=lambda item: (
        not any(item[0]["policy"] == m or item[0]["policy"].endswith("/" + str(m)) for m in matched),
        not context_admits(item[1], context)))
    chosen = ([ref for ref, _ in ranked] or [{"policy": matched[0] if matched else "unknown"}])[0]
    return {key: value for key, value in chosen.items() if key != "literal"}


def leak_kind(source, action, statement):
    """(finding id, severity) of an action allowed outside the own folder, by who grants it and what it reaches."""
    if action in BUCKET_CONTROL_ACTIONS:
        return f"{source}-bucket-control", "critical"
    if S3_ACTIONS.get(action) == "bucket" and action not in PREFIX_ACTIONS:
        return f"{source}-bucket-settings", "warning"
    if S3_ACTIONS.get(action) == "none":
        return f"{source}-beyond-the-bucket", "warning"
    if source == "perm" and action in PREFIX_ACTIONS:
        prefixed = statement is not None and condition_values(statement, "s3:prefix") is not None
        return ("perm-list-too-broad" if prefixed else "perm-list-unconditioned"), "critical"
    return {"perm": "perm-reaches-other-folders", "bucket-policy": "bucket-policy-reaches-other-folders",
            "guest": "guest-bucket-access"}[source], "critical"


def leak_fix(role, kind, ref, fixable):
    """How to take away a leak, by who grants it (fixable: doctor --fix rewrites the role's policy)."""
    if kind == "unauthenticated":
        return "take the bucket away from the guests' role, or unmap it (doctor --fix unmaps it)"
    if ref["policy"] == BUCKET_POLICY:
        return (f"limit the bucket policy's {statement_label(ref)} to the users' own folders or remove it; "
                f"doctor does not change it")
    if ref["policy"] == ROLE_POLICY_NAME:
        return POLICY_FIX if fixable else POLICY_BY_HAND
    if ref["policy"].startswith("arn:"):
        return f"detach {ref['policy']} from role {role['name']} (doctor does not change it)"
    return f"remove or narrow policy {ref['policy']} of role {role['name']} (doctor does not change it)"


def leak_findings(role, kind, hits, statements, context, places, bucket, variables, assumed, fixable):
    """One finding per (class, granting statement) of the actions the simulation allowed outside the own folder
    (anywhere, for guests): the first action and witness named, the others counted, and the conditions assumed
    met (assumed: {(policy, index): (effect, keys, label)}) said."""
    grouped = {}
    order = {action: n for n, action in enumerate([a for _, a in PROBE_ACTIONS] + list(BUCKET_CONTROL_ACTIONS))}
    for action, resource, prefix, matched in sorted(hits, key=lambda hit: (order.get(hit[0], len(order)), hit[0])):
        request = {key.lower(): value for key, value in context.items()}
        request.update({} if prefix is None else {"s3:prefix": prefix})
        ref = granting_statement(statements, action, resource, request, variables, matched)
        statement = next((s for r, s in statements if r["policy"] == ref["policy"] and r["index"] == ref.get("index")),
                         None)
        source = "guest" if kind == "unauthenticated" else "bucket-policy" if ref["policy"] == BUCKET_POLICY \
            else "perm"
        finding_id, severity = leak_kind(source, action, statement)
        grouped.setdefault((finding_id, severity, json.dumps(ref, sort_keys=True)), []).append(
            (action, resource, prefix))
    found = []
    for (finding_id, severity, ref_text), reached in grouped.items():
        ref = json.loads(ref_text)
        action, witness, prefix = reached[0]
        actions = list(dict.fromkeys(a for a, _, _ in reached))
        more = f" (and {len(actions) - 1} more: {', '.join(actions[1:9])}{', ...' if len(actions) > 9 else ''})" \
            if len(actions) > 1 else ""
        who = "a guest (anyone, without signing in)" if kind == "unauthenticated" else "identity A" \
            if context[SUB_KEY].endswith(PROBE_UUIDS[0]) else f"identity {context[SUB_KEY]} (a condition names it)"
        where = places(action, witness, prefix)
        label = statement_label(ref) if "index" in ref else f"policy {ref['policy']}"
        keys = (assumed.get((ref["policy"], ref.get("index"))) or (None, None))[1]
        condition = f", if its condition on {', '.join(keys)} is met (doctor assumes it can be: the request or the " \
                    f"user decides it, not the role)" if keys else ""
        found.append(finding(
            finding_id, severity, f"role {role['name']}" if ref["policy"] != BUCKET_POLICY else f"bucket {bucket}",
            f"{label} lets {who} {action} in {where}{more}{condition}",
            leak_fix(role, kind, ref, fixable), role=role["name"], action=action, witness=witness,
            prefix=prefix if action in PREFIX_ACTIONS else None, actions=actions, statement=ref, assumed=keys))
    return found


def named_identities(statements, probes):
    """The identity ids that conditions on sub name (wildcards read as nothing or '0'), other than the proof's."""
    found = []
    for _, statement in statements:
        for value in condition_values(statement, SUB_KEY) or []:
            identity_id = value.replace("*", "").replace("?", "0")
            if "${" not in value and REGION_UUID_RE.match(identity_id) and identity_id not in probes + tuple(found):
                found.append(identity_id)
    return found


def prove_role(reader, iam, role, kind, deployment, bucket_statements=(), resource_policy=None, caller_arn=None,
               calls=None, identity_id=None):
    """Simulate every S3 action for one role: identity A (or identity_id) in its own folder, and on every witness
    outside it.

    Returns (the matrix rows, the leak findings, the context keys the simulation lacked, [(effect, keys, statement
    label)] of the conditions assumed), or None when the administrator may not simulate."""
    region, bucket, template = deployment["region"], deployment["bucket"], deployment["folder"]
    own_id, other_id = probe_ids(region)
    own_id = identity_id or own_id
    bucket_arn = f"arn:{arn_partition(region)}:s3:::{bucket}"
    own_folder, other_folder = user_folder(template, own_id), user_folder(template, other_id)
    guest = kind == "unauthenticated"
    provider = next((c["provider"] for c in deployment["clients"]), "cognito-idp.amazonaws.com/user-pool")
    context = session_context(role, deployment["pool_id"], own_id, GUEST_AMR if guest else [
        "authenticated", provider, f"{provider}:CognitoSignIn:{PROBE_UUIDS[0]}"])
    variables = {key.lower(): value for key, value in context.items() if isinstance(value, str)}
    # Conditions on keys that depend on the request or the user: an Allow's are assumed met, a Deny's not to fire,
    # and the simulation then runs on the policies so rewritten.
    statements, assumed = [], {}
    for ref, written in role_statements(role, bucket_statements):
        simulated, keys = assume_conditions(written)
        if keys:
            assumed[(ref["policy"], ref["index"])] = (written.get("Effect"), keys, statement_label(ref))
        if simulated is not None:
            statements.append((ref, simulated))
    # The bucket policy is sent with each simulation anyway; the role's policies are sent (SimulateCustomPolicy in
    # place of SimulatePrincipalPolicy) only when one of them was rewritten.
    resource_policy = resource_policy and assumed_document(resource_policy)
    documents = None
    if any(policy != BUCKET_POLICY for policy, _ in assumed):
        documents = [(policy["name"], assumed_document(policy["document"])) for policy in role["policies"]]
        # SimulateCustomPolicy needs one document; this one grants what every session may do anyway.
        documents = [item for item in documents if item[1]] or [("(none)", {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}]})]
    keys, prefixes = proof_witnesses(statements, bucket_arn, template, own_id, other_id, variables)
    object_actions, bucket_actions = ([a for a, kind_of in S3_ACTIONS.items() if kind_of == wanted]
                                      for wanted in ("object", "bucket"))
    # (resource, s3:prefix or None, actions); guests are judged in their own folder too, over every action, last
    # so that a finding names a witness outside it when there is one.
    requests = [(key, None, object_actions) for key in keys] + [(bucket_arn, None, bucket_actions)]
    requests += [(bucket_arn, prefix, PREFIX_ACTIONS) for prefix in prefixes if prefix is not None]
    requests.append(("*", None, [a for a, kind_of in S3_ACTIONS.items() if kind_of == "none"]))
    requests += [(f"{bucket_arn}/{own_folder}{PROBE_KEY}", None, object_actions if guest else OBJECT_ACTIONS),
                 (bucket_arn, own_folder, PREFIX_ACTIONS if guest else ["s3:ListBucket"])]
    # Only an action some Allow statement names can be allowed: the others are implicitly denied, so the
    # simulation is not asked about them (it costs the server per action).
    allows = [s for _, s in statements if s.get("Effect") == "Allow"]
    grantable = {action for action in S3_ACTIONS if any(statement_covers(s, action, "*", {}, resource_aside=True)
                                                        for s in allows)}
    results, missing = {}, set()
    for resource, prefix, wanted in requests:
        actions = [action for action in wanted if action in grantable]
        if not actions:
            continue
        try:
            decisions = simulate_actions(iam, role, actions, resource,
                                         {**context, **({} if prefix is None else {"s3:prefix": prefix})},
                                         resource_policy, caller_arn, calls, documents)
        except AwsStepError as step:
            if error_code(step.error)[0] not in ACCESS_CODES:
                raise
            reader.unreadable.append(finding("unreadable", "error", f"role {role['name']}",
                                             "the administrator may not simulate its policies, so there is no proof",
                                             "grant the administrator iam:SimulatePrincipalPolicy and "
                                             "iam:SimulateCustomPolicy", role=role["name"]))
            return None
        results[(resource, prefix)] = decisions
        missing |= {key for allowed, _, lacked in decisions.values() if not allowed for key in lacked
                    if key.lower() != "s3:prefix"}
    own = {(f"{bucket_arn}/{own_folder}{PROBE_KEY}", None), (bucket_arn, own_folder)}
    hits = [(action, resource, prefix, matched) for (resource, prefix), decisions in results.items()
            for action, (allowed, matched, _) in decisions.items() if allowed and (guest or (resource, prefix) not in own)]
    cells = {"own": (f"{bucket_arn}/{own_folder}{PROBE_KEY}", own_folder),
             "other": (f"{bucket_arn}/{other_folder}{PROBE_KEY}", other_folder),
             "root": (f"{bucket_arn}/{PROBE_KEY}", None)}
    rows = [{"role": role["name"], "identity": own_id, "folder": folder, "action": label,
             "allowed": results.get((bucket_arn, prefix) if action == "s3:ListBucket" else (key, None), {}).get(
                 action, (False,))[0]}
            for folder, (key, prefix) in cells.items() for label, action in PROBE_ACTIONS]

    def places(action, witness, prefix):
        """Where a witness lies, in words."""
        if witness == bucket_arn:
            return ("the whole bucket (a listing without a prefix)" if action in PREFIX_ACTIONS else
                    "the bucket itself") if prefix is None else \
                f"another identity's folder (a listing of prefix {prefix!r})" if prefix.startswith(other_folder) \
                else f"identity A's own folder (a listing of prefix {prefix!r})" if prefix.startswith(own_folder) \
                else f"keys outside every user's folder (a listing of prefix {prefix!r})"
        if witness == "*":
            return "the account's S3 resources beyond this bucket"
        key = witness[len(bucket_arn) + 1:]
        shared = variables.get("aws:userid")
        return "identity A's own folder" if key.startswith(own_folder) else \
            "another identity's folder" if key.startswith(other_folder) else \
            "a key outside identity A's folder that starts with its id" if key.startswith(own_id) else \
            f"the folder {shared}/ every session of the role shares" if shared and key.startswith(shared) else \
            "outside every user's folder"
    fixable = role["name"] == fixed_role(deployment)
    return rows, leak_findings(role, kind, hits, statements, context, places, bucket, variables, assumed,
                               fixable), missing, \
        [(effect, keys, label) for effect, keys, label in assumed.values()]


def fix_plan(clients, deployment, findings, out):
    """([(what will change, how)], the findings left to the administrator), made of setup's ensure_* helpers."""
    region, pool_id, bucket, pool = (deployment[key] for key in ("region", "pool_id", "bucket", "pool"))
    iam, identity_client, s3 = clients["iam"], clients["cognito-identity"], clients["s3"]
    changes, ids, plan, fixed = Changes(out), {item["id"] for item in findings}, [], []
    roles, mapping = deployment["roles"], deployment["mapping"] or {}
    role_changed = []  # filled as the plan runs: the mapping retries only right after a role changed

    def about(role, *prefixes):
        """The findings of these id prefixes on the role (its trust, its policies or itself)."""
        return [item for item in findings if role and item.get("role") == role["name"]
                and item["id"].startswith(prefixes)]

    def plan_role(role, policies, what, **options):
        """Plan ensure_role for role with policies (as setup makes it)."""
        plan.append((f"role {role['name']}: {what}",
                     lambda: role_changed.append(ensure_role(iam, role["name"], policies, changes, **options)[1])))

    role, guest = roles.get("authenticated"), roles.get("unauthenticated")
    if role and "policies" in role and about(role, "trust-", "perm-", "condition-"):
        plan_role(role, role_policies(bucket, pool_id, region, deployment["folder"]),
                  f"set the trust policy to this pool's signed-in users and inline policy {ROLE_POLICY_NAME} to "
                  f"the user's own folder only (as setup does)")
        # The rewrite replaces the trust policy and our inline policy; other policies and the bucket's stay.
        rewritten = ("trust policy", ROLE_POLICY_NAME, None)
        ours = [item for item in about(role, "perm-", "condition-")
                if (item.get("statement") or {}).get("policy") in rewritten]
        fixed += about(role, "trust-") + ours
        # The proof follows the policies only when nothing else (another policy, the bucket's) grants more.
        if len(ours) == len(about(role, "perm-", "condition-")) and not any(
                item["id"].startswith("bucket-policy-") and item.get("role") == role["name"] for item in findings):
            fixed += about(role, "proof-")
    unmap_guests = guest and any(item.get("role") == guest["name"] and item["id"].startswith("guest-")
                                 for item in findings)
    if not unmap_guests and guest and "policies" in guest and about(guest, "trust-"):
        plan_role(guest, {"TrustPolicy": trust_policy(pool_id, "unauthenticated"), "PermissionsPolicy": None},
                  "set the trust policy to this pool's guests", description="Guests of this deployment")
        fixed += about(guest, "trust-")
    role_arn = mapping.get("authenticated")
    if "pool-no-authenticated-role" in ids:
        name = f"{pool.get('IdentityPoolName')}-authenticated"
        found = admin_call("read", f"role {name}", iam.get_role, missing=("NoSuchEntity",), RoleName=name)
        role_arn = found and found["Role"]["Arn"]
        fixed += [item for item in findings if item["id"] == "pool-no-authenticated-role"] if role_arn else []
    if role_arn and (unmap_guests or role_arn != mapping.get("authenticated")):
        guest_arn = None if unmap_guests else mapping.get("unauthenticated")
        fixed += [item for item in findings if unmap_guests and item.get("role") == guest["name"]
                  and item["id"].startswith("guest-")]
        plan.append((f"identity pool {pool_id}: map signed-in users to {role_arn}" +
                     ("; unmap the guests' role" if unmap_guests else ""),
                     lambda: ensure_role_mapping(identity_client, pool_id, role_arn, any(role_changed), changes,
                                                 guest_arn, deployment["role_mappings"])))
    expected = deployment.get("expected_client")
    provider_fix = "pool-provider-mismatch" in ids and expected
    if "pool-classic-flow" in ids or provider_fix:
        providers, replaced = pool.get("CognitoIdentityProviders") or [], []
        if provider_fix:  # the profile's user pool logs in with its app client; other user pools' providers stay
            wanted = {"ProviderName": cognito_provider(region, expected[0]), "ClientId": expected[1],
                      "ServerSideTokenCheck": False}
            replaced = [p["ClientId"] for p in providers if p.get("ProviderName") == wanted["ProviderName"]]
            providers = [p for p in providers if p.get("ProviderName") != wanted["ProviderName"]] + [wanted]
        fixed += [item for item in findings if item["id"] == "pool-classic-flow"
                  or (provider_fix and item["id"] == "pool-provider-mismatch"
                      and item.get("client") == {"user_pool_id": expected[0], "client_id": expected[1]})]
        plan.append((f"identity pool {pool_id}: classic flow off, login providers "
                     f"{', '.join(p['ClientId'] for p in providers)}" +
                     (f" (replacing app client {', '.join(replaced)} of {expected[0]})" if replaced else ""),
                     lambda: update_keeping(identity_client, "UpdateIdentityPool", pool, AllowClassicFlow=False,
                                            CognitoIdentityProviders=providers)))
    bucket_fixes = (
        ({"bucket-public-access"}, "block all public access", lambda: ensure_public_access_block(s3, bucket)),
        # One read and one write of the bucket policy for both of its findings.
        ({"bucket-policy-public", "bucket-no-tls-deny"}, "a policy that grants Principal * nothing and denies "
         "requests without TLS", lambda: ensure_tls_policy(s3, bucket, region, drop_public=True)),
        ({"bucket-no-encryption"}, "default encryption SSE-S3", lambda: ensure_encryption(s3, bucket)),
        ({"bucket-no-abort-lifecycle"}, "abort incomplete multipart uploads after 3 days",
         lambda: ensure_lifecycle(s3, bucket)))
    for finding_ids, what, ensure in bucket_fixes:
        if finding_ids & ids:
            plan.append((f"bucket {bucket}: {what}", ensure))
            fixed += [item for item in findings if item["id"] in finding_ids]
    return plan, [item for item in findings if item not in fixed]


def proof_scope(deployment, caller_arn, proven, skipped, missing=(), calls=(), assumed=()):
    """{"simulated", "not_simulated", "simulate_calls"}: what the proof's simulation took into account, and what not."""
    counts = collections.Counter(S3_ACTIONS.values())
    own_folder = user_folder(deployment["folder"], probe_ids(deployment["region"])[0])
    witnesses = len({resource for resource in calls if "/" in resource.split(":::", 1)[-1]
                     and not resource.split("/", 1)[-1].startswith(own_folder)})
    simulated = ["the inline and attached policies of " + (", ".join(proven) or "no role"),
                 f"all {len(S3_ACTIONS)} S3 actions of the AWS Service Authorization Reference as of {S3_ACTIONS_DATE} "
                 f"({counts['object']} object actions on identity A's folder and on {witnesses} witness keys: another "
                 f"identity's folder, the bucket root, and whatever else each Allow statement's patterns reach; "
                 f"{counts['bucket']} bucket actions on the bucket, listings with and without prefixes; "
                 f"{counts['none']} others on '*'); an action no Allow statement names is denied without asking"]
    roles = [role for role in deployment["roles"].values() if role]
    not_simulated = ["service control policies (AWS Organizations) and resource control policies",
                     "permissions boundaries" + "".join(f"; role {r['name']} has one ({r['boundary']}), which can "
                                                        f"only narrow it" for r in roles if r.get("boundary")),
                     "session policies (Cognito passes none in the enhanced flow; one can only narrow a session)"]
    if "policy" not in deployment["bucket_settings"]:
        not_simulated.append("the bucket policy: the administrator may not read it")
    elif ":user/" not in caller_arn:
        not_simulated.append("the bucket policy: the administrator is not an IAM user (SimulatePrincipalPolicy "
                             "evaluates one only with an IAM user as the caller); run doctor as an IAM user")
    elif deployment["bucket_settings"]["policy"]:
        simulated.append("the bucket policy's statements whose Principal can be the role as assumed")
    ownership = deployment["bucket_settings"].get("ownership", "unread")
    if ownership != "BucketOwnerEnforced":
        not_simulated.append(f"object ACLs: the bucket's ObjectOwnership is {ownership or 'not set'}, not "
                             f"BucketOwnerEnforced, so an object's ACL can grant what no policy shows; doctor does not "
                             f"read each object's ACL")
    not_simulated.append("access points, Multi-Region Access Points, Object Lambda and Access Grants: their actions "
                         "were simulated on '*' only, not on their own ARNs")
    if missing:
        not_simulated.append(f"conditions on {', '.join(sorted(missing))}: the simulation had no value for them, so "
                             f"statements that test them were judged as for a request without them")
    not_simulated += [f"{label} tests {', '.join(keys)}, which the request or the user decides, not the role: doctor "
                      + ("assumed that condition met" if effect == "Allow" else "assumed this Deny may not fire")
                      for effect, keys, label in assumed]
    not_simulated += [f"role {name}: {why}" for name, why in skipped.items() if name not in proven]
    return {"simulated": simulated, "not_simulated": not_simulated, "simulate_calls": len(calls)}


def registration_findings(deployment, matrix, guest_roles):
    """Self-registration (anyone may sign up) in a user pool whose users get roles that reach the bucket."""
    reaching = sorted({row["role"] for row in matrix if row["allowed"] and row["role"] not in guest_roles})
    return [finding("user-pool-self-registration", "warning", f"user pool {user_pool_id}",
                    f"anyone may sign up (AllowAdminCreateUserOnly is false) and get role(s) {', '.join(reaching)}, "
                    f"with a folder in bucket {deployment['bucket']}",
                    "set AllowAdminCreateUserOnly (setup's pools have it), unless anyone may have a folder",
                    roles=reaching)
            for user_pool_id, user_pool in (deployment.get("user_pools") or {}).items()
            if reaching and not (user_pool.get("AdminCreateUserConfig") or {}).get("AllowAdminCreateUserOnly")]


def audit_deployment(clients, region, pool_id, bucket, expected_client, caller_arn, template=DEFAULT_FOLDER):
    """Read and judge the deployment and prove isolation: {"deployment", "findings", "matrix", "proof"}."""
    deployment, unreadable = read_deployment(clients, region, pool_id, bucket, expected_client, template)
    findings, matrix, reader = audit_findings(deployment), [], AuditReader()
    guests = deployment["pool"].get("AllowUnauthenticatedIdentities")
    bucket_policy = deployment["bucket_settings"].get("policy")
    guest_roles, proven, skipped, missing, calls, assumed = set(), [], {}, set(), [], []
    for kind, role in deployment["roles"].items():
        if role is None or role["name"] in proven:
            continue
        if "policies" not in role or (kind == "unauthenticated" and not guests):
            skipped[role["name"]] = "its policies could not be read" if "policies" not in role else \
                "mapped for guests, but guests are not allowed, so no one gets it"
            continue
        if kind == "unauthenticated":
            guest_roles.add(role["name"])
        applying = [(index, s) for index, s in enumerate(statements_of(bucket_policy))
                    if principal_may_be_role(s, role["arn"])]
        resource_policy = bucket_policy and ":user/" in caller_arn and policy_for_role(bucket_policy, role["arn"],
                                                                                       caller_arn)
        proof = prove_role(reader, clients["iam"], role, kind, deployment, applying, resource_policy, caller_arn,
                           calls)
        if proof is None:
            skipped[role["name"]] = "the administrator may not simulate its policies"
            continue
        proven.append(role["name"])
        matrix += [] if kind.startswith(CLASSIC_FLOW) else proof[0]  # a role not meant for them need not serve them
        findings += proof[1]
        missing |= proof[2]
        assumed += [item for item in proof[3] if item not in assumed]
        # An identity a condition names (a "support user" granted more) is simulated as itself, for its leaks.
        for identity_id in named_identities(role_statements(role, applying), probe_ids(region)):
            named = prove_role(reader, clients["iam"], role, kind, deployment, applying, resource_policy,
                               caller_arn, calls, identity_id)
            findings += [item for item in (named or [[], []])[1] if item not in findings]
    findings += proof_findings(matrix, guest_roles, fixed_role(deployment)) + unreadable + reader.unreadable
    findings += registration_findings(deployment, matrix, guest_roles)
    findings.sort(key=lambda item: SEVERITIES.index(item["severity"]))
    return {"deployment": deployment, "findings": findings, "matrix": matrix,
            "proof": proof_scope(deployment, caller_arn, proven, skipped, missing, calls, assumed)}


def apply_fixes(clients, audit, out, approve):
    """Print doctor --fix's plan and what it leaves, and apply the plan once approve() agrees; True if applied."""
    plan, left = fix_plan(clients, audit["deployment"], audit["findings"], out)
    if plan:
        out.note("doctor --fix will change:")
        for what, _ in plan:
            out.note(f"  - {what}")
    for item in left:
        if item["severity"] != "info":  # advice stays in the findings, not in the list of what --fix leaves
            out.note(f"  not fixed by doctor: {item['id']} [{item['resource']}]: {item['fix']}")
    if not plan:
        return False
    if not approve():
        out.note("nothing was changed")
        return False
    for what, apply in plan:
        apply()
        out.note(f"fixed: {what}")
    return True


# ====================================================================== commands

RUN_LABELS = (
    ("id_token", "ID token"), ("identity_id", "Identity id"), ("access_key_id", "Access key id"),
    ("secret_access_key", "Secret access key"), ("session_token", "Session token"), ("expiration", "Expiration"),
)


def config_path(args):
    """The config file named by --config, else ./config.ini."""
    return args.config or DEFAULT_CONFIG


def browser_overrides(args):
    """login's browser flags that are settings: --browser (sign_in = browser) and --idp (identity_provider)."""
    return {"sign_in": "browser" if getattr(args, "browser", False) else None,
            "identity_provider": getattr(args, "idp", None)}


def profile_settings(args, keys=SESSION_KEYS):
    """The profile's settings (flags > environment > file), checked for the keys the command needs.

    A browser sign-in needs the managed login's domain instead of a username; a profile with a domain and
    no username signs in through the browser unless its sign_in says otherwise.
    """
    overrides = {"endpoint_url": args.endpoint_url, "upload_file": getattr(args, "upload_file", None),
                 **browser_overrides(args)}
    amplify = args.amplify_config or os.environ.get(AMPLIFY_ENV, "").strip()
    settings = read_profile(config_path(args), args.profile, overrides, explicit_path=args.config is not None,
                            warn=Output().warn, base=read_amplify_config(amplify) if amplify else None)
    settings.browser = BrowserRun(getattr(args, "no_browser", False), getattr(args, "timeout", None),
                                  args.command == "login")
    if not settings.get("sign_in") and settings.get("domain") and not settings.get("username"):
        settings["sign_in"] = "browser"  # a managed login and nobody to sign in by password: the browser
    if settings.get("sign_in") == "browser" and "username" in keys:
        keys = tuple(key for key in keys if key != "username") + ("domain",)
    require(settings, keys)
    return settings


def folder_template(args, settings):
    """The folder template: --level, else the profile's folder (flags > env > file > Amplify), else the default."""
    if args.level:
        return LEVEL_FOLDERS[args.level]
    if not settings.get("folder") and settings.amplify_folders:
        raise ToolError(f"the Amplify config gives several per-user paths ({', '.join(settings.amplify_folders)});"
                        f" set 'folder' in the profile (or {ENV_PREFIX}FOLDER) to the one to use", EXIT_USAGE)
    return settings.get("folder") or DEFAULT_FOLDER


def session_for(args, settings, out, dead=None, renew_now=False, uncached_ok=True):
    """The user's Session, honouring --no-cache, --mfa-code and --remember-device; never the dead one."""
    return user_session(settings, out, use_cache=not args.no_cache, mfa_code=args.mfa_code, dead=dead,
                        remember_device=args.remember_device, renew_now=renew_now, uncached_ok=uncached_ok)


def with_live_session(args, settings, out, operation, renew_now=False):
    """Run operation(session); if AWS calls the session's credentials dead, renew them and run it once more.

    Every command that uses the credentials goes through here, so a session ended early heals the
    same way everywhere; a second refusal is reported as it comes.
    """
    session = session_for(args, settings, out, renew_now=renew_now)
    try:
        return operation(session)
    except AwsStepError as step:
        code = error_code(step.error)[0]
        if code not in DEAD_SESSION_CODES:
            raise
        out.note(f"AWS refused the session's credentials ({code}); renewing them and trying again")
    return operation(session_for(args, settings, out, dead=session))


def not_a_regular_file(path):
    """Why path can't be uploaded as a file ("a FIFO (named pipe)", ...), or "" for a regular file or a folder.

    Checked without opening it: opening a FIFO blocks until someone writes to it, and a
    device such as /dev/zero never ends.
    """
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "not found"
    except OSError as err:
        return f"unusable: {err.strerror}"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return ""
    kinds = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    kind = next((name for test, name in kinds if test(mode)), "not a regular file")
    return f"{kind}, not a regular file; only regular files can be uploaded"


def check_upload_file(path):
    """Fail early, before any sign-in, on an upload file that can't be read."""
    if os.path.isdir(path):
        raise ToolError(f"upload file {path} is a folder; name a file (or use `put --recursive`)", EXIT_USAGE)
    problem = not_a_regular_file(path)
    if problem == "not found":
        raise ToolError(f"upload file {path} not found; check 'upload_file' or --upload-file", EXIT_USAGE)
    if problem:
        raise ToolError(f"upload file {path} is {problem}", EXIT_USAGE)
    if not os.access(path, os.R_OK):
        raise ToolError(f"upload file {path} is not readable", EXIT_USAGE)


def check_try_identity(other_id, identity_id):
    """--try-identity must name another identity of the same pool, or the probe proves nothing."""
    if other_id == identity_id:
        raise ToolError(f"--try-identity {other_id} is your own identity; name another user's", EXIT_USAGE)
    if other_id and other_id.split(":")[0] != identity_id.split(":")[0]:
        raise ToolError(f"--try-identity {other_id} is in another region than your identity {identity_id}; "
                        f"name an identity of the same identity pool", EXIT_USAGE)


def probe_summary(entries):
    """The old per-verb view of the probe (write, delete, list, read): allowed if any request of the verb
    was, else refused, unproven, or not tested; uri and detail are those of the request that decided it."""
    verbs = {}
    for verb in ("write", "delete", "list", "read"):
        mine = [entry for entry in entries if entry["verb"] == verb]
        for result in ("allowed", "undecided", "unproven", "refused"):
            decisive = [entry for entry in mine if entry["result"] == result]
            if decisive:
                verbs[verb] = {"result": result, "uri": decisive[0]["uri"], "detail": decisive[0]["detail"]}
                break
        else:
            verbs[verb] = {"result": "not tested", "uri": "", "detail": NO_KEY_KNOWN}
    return verbs


def probe_message(entries, not_tested, folder):
    """The probe's headline: broken and by what, or for how many actions isolation holds, what stayed
    unproven and what was not tried."""
    def names(items, key="action"):
        return ", ".join(dict.fromkeys(item[key] for item in items))

    allowed = [entry for entry in entries if entry["result"] == "allowed"]
    if allowed:
        return f"isolation is BROKEN: {names(allowed)} ALLOWED on another user's folder {folder} or the bucket"
    refused = [entry for entry in entries if entry["result"] == "refused"]
    unproven = [entry for entry in entries if entry["result"] == "unproven"]
    undecided = [entry for entry in entries if entry["result"] == "undecided"]
    held = len(set(entry["permission"] for entry in refused))
    message = f"isolation holds for the {held} actions tried ({len(refused)} requests, each refused)"
    if unproven:
        message += (f"; unproven: {names(unproven)} of {unproven[0]['uri'].split('?')[0]}, which no listing "
                    f"showed (a refusal may mean it is missing)")
    if undecided:
        message += f"; undecided: {names(undecided)} (S3 answered neither yes nor no)"
    reads = [item for item in not_tested if item["why"] == NO_KEY_KNOWN]
    if reads:
        message += "; reads of their objects not tried (no key of theirs is known: name one with --try-key)"
    others = [item for item in not_tested if item["why"] != NO_KEY_KNOWN]
    return message + f"; not tried: {len(others)} actions that would change their objects or the bucket " \
                     f"({names(others[:2])}...); `doctor` decides every S3 action from the policies"


def try_identity(client, bucket, other_id, try_key, out, template=DEFAULT_FOLDER):
    """Probe another identity's folder (under the same template) and the bucket above it with every request
    that can't change their data: listings, reads of an object of theirs, a write that replaces nothing,
    deletes and an abort of what does not exist. Refusal is the healthy outcome.

    Returns (the `isolation` report, exit code): EXIT_ISOLATION if any request was allowed.
    """
    folder = user_folder(template, other_id)
    parent = template.partition(IDENTITY_PLACEHOLDER)[0]
    entries, seen = probe_listings(client, bucket, folder, parent)
    entries += [probe_write(client, bucket, folder)] + probe_harmless(client, bucket, folder)
    keys = list(dict.fromkeys([*seen][:1] + ([try_key] if try_key else [])))
    for key in keys:
        entries += probe_reads(client, bucket, key, seen.get(key), key in seen)
    not_tested = [{"action": action, "permission": permission, "why": why}
                  for action, permission, why in PROBE_NOT_TRIED]
    if not keys:
        not_tested = [{"action": action, "permission": permission, "why": NO_KEY_KNOWN}
                      for action, permission, _, _ in PROBE_READS] + not_tested
    allowed = [entry for entry in entries if entry["result"] == "allowed"]
    if allowed:
        actions = ", ".join(dict.fromkeys(entry["action"] for entry in allowed))
        out.warn(f"the role policy (or the bucket policy) does not isolate users: {actions} on another user's "
                 f"folder s3://{bucket}/{folder} or the bucket was allowed; restrict them to "
                 f"${{cognito-identity.amazonaws.com:sub}}/* (see `policy`), and run `doctor`")
    # "refused" (nothing tried was allowed) and "verbs" are kept for readers of the earlier reports.
    report = {"identity": other_id, "verdict": "broken" if allowed else "holds", "refused": not allowed,
              "message": probe_message(entries, not_tested, folder), "actions": entries,
              "tried": len(set(entry["permission"] for entry in entries)), "not_tested": not_tested,
              "verbs": probe_summary(entries)}
    return report, EXIT_ISOLATION if allowed else EXIT_OK


def isolation_lines(isolation):
    """The verdict, then one line per request (ALLOWED, refused, unproven or undecided), then what was not
    tried and why."""
    lines = labelled([("Isolation", isolation["message"])])
    lines += [f"  {entry['result'].upper() if entry['result'] == 'allowed' else entry['result']:<10}"
              f"{entry['action']:<21}{entry['uri']} ({entry['detail']})" for entry in isolation["actions"]]
    reasons = {}
    for item in isolation["not_tested"]:
        reasons.setdefault(item["why"], []).append(item["action"])
    lines += [f"  not tried {', '.join(actions)}: {why}" for why, actions in reasons.items()]
    return lines


def cmd_run(args, out):
    """The seed flow: sign in, print the token, identity and credentials, upload, optionally test isolation."""
    settings = profile_settings(args, SESSION_KEYS + ("bucket", "upload_file"))
    template = folder_template(args, settings)
    if args.try_identity and IDENTITY_PLACEHOLDER not in template:
        raise ToolError(f"--try-identity needs a per-user folder; {template} is shared by every user", EXIT_USAGE)
    check_upload_file(settings["upload_file"])
    bucket, region, endpoint, path = settings["bucket"], settings["region"], settings.get("endpoint_url"), \
        settings["upload_file"]

    def upload_and_probe(session):
        """The upload, then the isolation probe, with one session's credentials."""
        creds = session.credentials
        check_try_identity(args.try_identity, session.identity_id)
        with bucket_diagnosis(lambda: s3_client(creds, region, endpoint), bucket,
                              user_folder(template, session.identity_id)):
            upload = put_file(creds["AccessKeyId"], creds["SecretAccessKey"], region, creds["SessionToken"],
                              session.identity_id, bucket, path, endpoint, out=out, template=template)
        try_key = user_key(user_folder(template, args.try_identity), args.try_key, bucket) if args.try_key else None
        probe = try_identity(s3_client(creds, region, endpoint), bucket, args.try_identity, try_key, out, template) \
            if args.try_identity else None
        return session, upload, probe

    session, upload, probe = with_live_session(args, settings, out, upload_and_probe)
    creds, identity_id = session.credentials, session.identity_id
    report = {
        "id_token": session.id_token, "identity_id": identity_id, "access_key_id": creds["AccessKeyId"],
        "secret_access_key": creds["SecretAccessKey"], "session_token": creds["SessionToken"],
        "expiration": creds["Expiration"], "uri": upload["uri"], "size": upload["size"], "etag": upload["etag"],
        "credentials_source": session.source,
    }
    status = EXIT_OK
    if probe:
        report["isolation"], status = probe
    lines = labelled([(label, report[key] or f"(none: {session.source} credentials were used, no sign-in)")
                      for key, label in RUN_LABELS]
                     + [("Uploaded", f"{upload['uri']} ({upload['size']} bytes, ETag {upload['etag']})")]
                     ) + (isolation_lines(report["isolation"]) if "isolation" in report else [])
    out.result(report, lines)
    return status


def cmd_creds(args, out):
    """Print the user's temporary credentials for the AWS CLI and SDKs."""
    settings = profile_settings(args)
    session = session_for(args, settings, out)
    creds, region = session.credentials, settings["region"]
    fmt = args.format or ("json" if out.as_json else "text")
    if fmt == "process":  # one compact JSON line, as credential_process expects
        lines = [json.dumps({"Version": 1, **{k: creds[k] for k in
                                              ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")}})]
    elif fmt == "env":
        import shlex

        # AWS_REGION is what the SDKs read; the AWS CLI v1 reads AWS_DEFAULT_REGION.
        lines = [f"export {name}={shlex.quote(value)}" for name, value in (
            ("AWS_ACCESS_KEY_ID", creds["AccessKeyId"]), ("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"]),
            ("AWS_SESSION_TOKEN", creds["SessionToken"]), ("AWS_REGION", region), ("AWS_DEFAULT_REGION", region))]
    else:
        lines = labelled((("Identity id", session.identity_id), ("Access key id", creds["AccessKeyId"]),
                          ("Secret access key", creds["SecretAccessKey"]),
                          ("Session token", creds["SessionToken"]), ("Expiration", creds["Expiration"])))
    out.result({"IdentityId": session.identity_id, "Region": region, **creds}, lines, as_json=fmt == "json")
    return EXIT_OK


def cmd_login(args, out):
    """Sign in (or renew) and fill the cache, so later runs (credential_process too) need no prompt."""
    settings = profile_settings(args)
    session = session_for(args, settings, out, uncached_ok=False)  # a sign-in that fills no cache is no login
    report = {"profile": args.profile, "username": settings.get("username") or session.internal_username,
              "identity_id": session.identity_id,
              "expiration": session.credentials["Expiration"], "source": session.source}
    how = {"cache": "cached session", "refresh": "renewed session", "login": "new sign-in"}[session.source]
    out.result(report, [f"signed in as {report['username']} (identity {report['identity_id']}) until "
                        f"{report['expiration']} ({how})"])
    return EXIT_OK


def forget_device(settings, entry, device, out, mfa_code):
    """ForgetDevice for the user's remembered device, with a token from the cached refresh token or a
    sign-in; returns the refresh tokens that are left to revoke."""
    result = None
    if entry and entry.get("refresh_token"):
        with contextlib.suppress(AwsStepError):  # refused or rotated away: a sign-in gets a token instead
            result = refresh_tokens(settings, entry, device, entry.get("rotation") is True)
    tokens = [entry["refresh_token"]] if entry and entry.get("refresh_token") and not (
        result and result.get("RefreshToken")) else []  # a rotated one is dead already
    result = result or sign_in_tokens(settings, out, mfa_code, device)
    client = make_client("cognito-idp", settings["region"], settings.get("endpoint_url"), unsigned=True)
    try:
        with aws_step("forget this device of", user_label(settings), "login", client.meta.endpoint_url):
            client.forget_device(AccessToken=result["AccessToken"], DeviceKey=device["device_key"])
    except AwsStepError as step:
        if error_code(step.error)[0] != "ResourceNotFoundException":  # already forgotten
            raise
    return tokens + ([result["RefreshToken"]] if result.get("RefreshToken") else [])


def revoke_session_token(settings, token):
    """Revoke a cached refresh token where it was issued: a profile with a managed login (domain) at its
    /oauth2/revoke, which ends browser and federated sessions; otherwise with RevokeToken."""
    if settings.get("domain"):
        revoke_at_managed_login(settings, token)
    else:
        revoke_refresh_token(token, settings["client_id"], settings["region"], settings.get("client_secret"),
                             settings.get("endpoint_url"))


def remote_failure(err):
    """One line for what logout could not do at Cognito, and its exit code."""
    explained = explain_aws_error(err) if isinstance(err, AwsStepError) else err
    return str(explained), explained.exit_code


def cmd_logout(args, out):
    """Revoke the cached refresh token at Cognito, then delete the cached session; with --forget-device
    Cognito forgets the remembered device too, and its secrets are deleted.

    The local secrets are always deleted; what Cognito could not be told is said in one line, with the
    exit code of its cause (2: no password to sign in with, 3: refused, 4: AWS or the network).
    """
    settings = profile_settings(args)
    path, device_file = cache_path(settings), device_path(settings)
    with cache_lock(path, out.warn):  # held or not (another sign-in, busy): the secrets go either way
        entry = load_cache(path, cache_fingerprint(settings), out.warn)
        device = load_device(device_file, user_fingerprint(settings), out.warn) if args.forget_device else None
        tokens, failures = [entry["refresh_token"]] if entry and entry.get("refresh_token") else [], []
        if args.forget_device and not device:
            out.note(f"no remembered device for {user_label(settings)}")
        if device:
            try:
                tokens = forget_device(settings, entry, device, out, args.mfa_code)
                out.note(f"Cognito forgot this device ({device['device_key']})")
            except (AwsStepError, ToolError) as err:
                message, code = remote_failure(err)
                failures.append((f"Cognito was not told to forget device {device['device_key']} ({message}); an "
                                 f"administrator can (AdminForgetDevice)", code))
        for token in tokens:
            try:
                revoke_session_token(settings, token)
                out.note("Cognito revoked the session's refresh token" + (
                    " at the managed login" if settings.get("domain") else ""))
            except (AwsStepError, ToolError) as err:
                message, code = remote_failure(err)
                failures.append((f"Cognito did not revoke the refresh token ({message}); it stays valid until it "
                                 f"expires, but no copy is left here", code))
        # The .lock file stays: another process may be holding it right now. A folder is no session
        # (creds warns about it); it is left alone.
        deleted = []
        for doomed in [path] + [device_file] * bool(args.forget_device):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                os.unlink(doomed)
                deleted.append(doomed)
    out.note(f"deleted {', '.join(deleted)}" if deleted else f"no cached session for {user_label(settings)}")
    if failures:
        raise ToolError("; ".join(message for message, _ in failures), max(code for _, code in failures))
    return EXIT_OK


def with_user_files(args, out, operation, keys=(), prefix=None, renew_now=False):
    """Run operation(bucket, folder, S3 client) for a file command; keys are checked before any request,
    and a session AWS calls dead is renewed once (with_live_session).

    folder is the user's own, or with --identity (read-only commands) that identity's under the same template.
    """
    settings = profile_settings(args, SESSION_KEYS + ("bucket",))
    template = folder_template(args, settings)
    for key in keys:
        confine(template, key, settings["bucket"])
    if prefix:
        confine(template, prefix, settings["bucket"], folder_ok=True)

    def attempt(session):
        """The operation with one session's credentials, renewed in place as they near their end."""
        live = [session]

        def next_credentials(why):
            """The next credentials, from the cache (another process's renewal) or the refresh token."""
            out.note(f"renewing the session's credentials during the transfer: {why}")
            live[0] = session_for(args, settings, out, dead=live[0])
            return live[0].credentials
        client = s3_client(session.credentials, settings["region"], settings.get("endpoint_url"), next_credentials)
        client.cog_auth_s3_expiration = session.credentials["Expiration"]  # for `share`, which signs offline
        folder = user_folder(template, getattr(args, "other_identity_id", None) or session.identity_id)
        # The folder the role policy gives this user: the profile's, whatever --level or --identity chose.
        own = user_folder(settings.get("folder") or DEFAULT_FOLDER, session.identity_id)
        with bucket_diagnosis(lambda: client, settings["bucket"], folder, own):
            return operation(settings["bucket"], folder, client)
    return with_live_session(args, settings, out, attempt, renew_now)


def name_problem(path, relative):
    """Why a file's name can't become an S3 key, or "": S3 keys are UTF-8, and Linux file names are bytes."""
    try:
        relative.encode("utf-8")
    except UnicodeEncodeError:
        return f"{shown_path(path)}: its name is not UTF-8, so it can't be an S3 key; rename it"
    return ""


def walk_files(folder, note, relative="", skip=None):
    """(path, path relative to folder) of every file below folder, in S3's key order; symbolic links are skipped.

    Key order (a/b before a-c, as S3 lists them) lets `sync` walk a folder and a listing side by side.
    Without skip, a path that can't be uploaded (not a regular file, an unreadable folder) stops the walk
    (exit 2); with it, skip(path, relative name, reason or None for a symbolic link) is told and the walk
    goes on. A skipped folder's relative name ends with /.
    """
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda e: e.name + "/" if e.is_dir(follow_symlinks=False) else e.name)
    except OSError as err:
        if skip is None or not relative:
            raise ToolError(f"can't read folder {shown_path(folder)}: {err.strerror}", EXIT_USAGE) from None
        skip(folder, relative, f"can't read folder: {err.strerror}")
        return
    for entry in entries:
        if entry.is_symlink():
            # A link could reach far outside the folder (~/.aws/credentials); name it to upload it.
            note(f"skipped symbolic link {shown_path(entry.path)}; name it on the command line to upload its target")
            if skip:
                skip(entry.path, relative + entry.name, None)
        elif entry.is_dir(follow_symlinks=False):
            yield from walk_files(entry.path, note, f"{relative}{entry.name}/", skip)
        else:
            problem = not_a_regular_file(entry.path)
            if problem and skip:
                skip(entry.path, relative + entry.name, problem)
            elif problem:
                raise ToolError(f"{shown_path(entry.path)} is {problem}; move it out of {shown_path(folder)} or "
                                f"upload the files one by one", EXIT_USAGE)
            else:
                yield entry.path, relative + entry.name


def upload_plan(paths, key, recursive, note):
    """[(local path, key relative to the user's folder)] for `put`, checked before any request."""
    pairs = []
    for path in paths:
        if os.path.isdir(path):
            if not recursive:
                raise ToolError(f"{path} is a folder; add --recursive to upload what it holds", EXIT_USAGE)
            base = key.rstrip("/") if key else os.path.basename(os.path.abspath(path))
            pairs.extend((full, f"{base}/{relative}") for full, relative in walk_files(path, note))
        elif os.path.isfile(path):
            pairs.append((path, key.rstrip("/") + "/" + os.path.basename(path) if key and key.endswith("/")
                          else key or os.path.basename(path)))
        else:
            problem = not_a_regular_file(path)
            raise ToolError(f"{path} not found; check the path" if problem == "not found" else f"{path} is {problem}",
                            EXIT_USAGE)
    for path, relative in pairs:
        if name_problem(path, relative):
            raise ToolError(name_problem(path, relative), EXIT_USAGE)
        if not os.access(path, os.R_OK):
            raise ToolError(f"{shown_path(path)} is not readable; fix its permissions or leave it out", EXIT_USAGE)
    if not pairs:
        raise ToolError("nothing to upload: the folders are empty", EXIT_USAGE)
    seen = {}
    for path, relative in pairs:
        if seen.setdefault(relative, path) != path:
            raise ToolError(f"{seen[relative]} and {path} would both become {relative}; upload them separately",
                            EXIT_USAGE)
    return pairs


PUT_LINES = {
    "stored": "stored  {uri} ({size} bytes, ETag {etag})",
    "skipped": "skipped {uri} (it exists; --no-clobber left it unchanged)",
    "failed": "failed  {uri} ({error})",
}


def put_summary(outcomes, out):
    """After the per-file lines of several files: the counts; exit 4 only for real failures."""
    counts = {name: sum(item["outcome"] == name for item in outcomes) for name in PUT_LINES}
    summary = f"{counts['stored']} stored, {counts['skipped']} skipped, {counts['failed']} failed"
    out.result({"uploaded": [item for item in outcomes if item["outcome"] == "stored"], "files": outcomes,
                "summary": counts}, [summary])
    failed = [item for item in outcomes if item["outcome"] == "failed"]
    if failed:
        code = EXIT_AWS if any(item["exit_code"] == EXIT_AWS for item in failed) else failed[0]["exit_code"]
        raise ToolError(f"{len(failed)} of {len(outcomes)} files failed ({summary}); the first: {failed[0]['error']}",
                        code)
    return EXIT_OK


def cmd_put(args, out):
    """Upload files into the user's folder."""
    plan = upload_plan(args.paths, args.key, args.recursive, out.note)
    one = len(plan) == 1 and not args.recursive  # one file: its result line, or one error line

    def show(item, exception):
        """One file's outcome, as soon as it is known; dead credentials stop it all, for with_live_session."""
        if isinstance(exception, AwsStepError) and error_code(exception.error)[0] in DEAD_SESSION_CODES:
            raise exception
        out.line(PUT_LINES[item["outcome"]].format(**item))

    def upload(bucket, folder, client):
        """Every planned file into the user's folder."""
        pairs = [(path, user_key(folder, key, bucket)) for path, key in plan]
        return upload_files(client, bucket, pairs, out, no_clobber=args.no_clobber, on_outcome=None if one else show)
    results = with_user_files(args, out, upload, keys=[key for _, key in plan])
    if one:
        first = results[0]
        out.result({"uploaded": results}, [f"{first['uri']} ({first['size']} bytes, ETag {first['etag']})"])
        return EXIT_OK
    return put_summary(results, out)


def tree_prefix(folder, prefix, bucket):
    """The full S3 prefix of a folder named by a recursive command: docs means docs/, never docs2/."""
    full = user_prefix(folder, prefix, bucket)
    return full if full.endswith("/") else full + "/"


def local_path_for(folder, dest, relative):
    """Where an object whose key is relative below a prefix goes under dest; None for keys no file can take.

    Another client may have stored keys with '..', '//' or a trailing / (a folder marker); such a key
    could write outside dest, so it is skipped.
    """
    try:
        confine(folder, relative)
    except ToolError:
        return None
    return os.path.join(dest, *relative.split("/"))


def get_tree(args, out):
    """get --recursive: download every object under PREFIX into DEST, keeping the folders below PREFIX."""
    dest = args.dest or "."  # created as files arrive, as aws s3 cp --recursive does
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise ToolError(f"{dest} is not a folder; name one (get --recursive PREFIX FOLDER)", EXIT_USAGE)

    def run(bucket, folder, client):
        """Download every object under the prefix into dest, keeping the folders below it."""
        prefix = tree_prefix(folder, args.key, bucket)
        done = []

        def actions():
            for item in iter_objects(client, bucket, prefix):
                path = local_path_for(folder, dest, item["Key"][len(prefix):])
                if path:
                    yield Transfer(False, path, item["Key"], item["Size"], item.get("ETag"))
                elif not item["Key"].endswith("/"):
                    out.warn(f"skipped s3://{bucket}/{item['Key']}: its key can't be a file name below {dest}")

        def report(transfer):
            done.append(1)
            out.line(f"s3://{bucket}/{transfer.key} -> {transfer.path}")

        transfer_tree(client, bucket, actions(), report)
        # Text lines went out as each file arrived; --json answers once, at the end.
        out.result({"uri": f"s3://{bucket}/{prefix}", "dest": dest, "downloaded": len(done)}, [])
        out.note(f"downloaded {len(done)} object{'' if len(done) == 1 else 's'} from s3://{bucket}/{prefix}")
        return EXIT_OK
    return with_user_files(args, out, run, prefix=args.key)


def cmd_get(args, out):
    """Download one object from the user's folder (with --recursive, every object under a prefix)."""
    if args.recursive:
        return get_tree(args, out)
    confine(None, args.key, folder_ok=True)  # `get ../` is refused as leaving the folder, not sent to `ls ../`
    if args.key.endswith("/"):
        raise ToolError(f"{args.key} names a folder; `get` downloads one object (see `ls {args.key}`)", EXIT_USAGE)
    dest = args.dest or os.path.basename(args.key)
    if os.path.isdir(dest):
        dest = os.path.join(dest, os.path.basename(args.key))
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise ToolError(f"folder {parent} does not exist; create it or pick another destination", EXIT_USAGE)
    if args.no_clobber and os.path.lexists(dest):
        raise ToolError(f"{dest} exists; --no-clobber left it unchanged", EXIT_USAGE)

    def download(bucket, folder, client):
        """The object from the user's folder into dest."""
        return download_file(client, bucket, user_key(folder, args.key, bucket), dest, out,
                             no_clobber=args.no_clobber)
    result = with_user_files(args, out, download, keys=[args.key])
    out.result(result, [f"{result['uri']} -> {dest} ({result['size']} bytes)"])
    return EXIT_OK


def cmd_ls(args, out):
    """List the objects in the user's folder."""
    def listing(bucket, folder, client):
        """Print the objects under the prefix: text page by page (flat memory for any folder), --json at once."""
        objects = iter_objects(client, bucket, user_prefix(folder, args.prefix, bucket))
        out.result(lambda: {"bucket": bucket, "folder": folder, "objects": [
            {"key": o["Key"][len(folder):], "size": o["Size"], "last_modified": iso8601(o["LastModified"]),
             "etag": o.get("ETag", "")} for o in objects]},
            (f"{iso8601(o['LastModified'])[:-1].replace('T', ' ')} {o['Size']:>12} {o['Key'][len(folder):]}"
             for o in objects))
    with_user_files(args, out, listing, prefix=args.prefix)
    return EXIT_OK


RM_LINES = {
    "deleted": "deleted {uri}",
    "absent": "absent  {uri} (it did not exist)",
    # Without ListBucket on the folder S3 answers a missing key as a forbidden one, so it can't be told.
    "deleted if it existed": "deleted {uri} (if it existed: S3 can't say, as you may not list your folder)",
}


def confirm(question, refusal):
    """Ask a yes/no question on the terminal; False unless the answer is yes."""
    if not sys.stdin or not sys.stdin.isatty():
        raise ToolError(refusal, EXIT_USAGE)
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def rm_tree(args, out):
    """rm --recursive: delete every object under PREFIX, 1,000 per request, after a confirmation."""
    if len(args.keys) != 1:
        raise ToolError("rm --recursive takes one PREFIX", EXIT_USAGE)
    if not args.force and (not sys.stdin or not sys.stdin.isatty()):
        raise ToolError(f"rm --recursive {args.keys[0]} deletes everything under it and stdin is not a terminal "
                        f"to confirm; add --force", EXIT_USAGE)

    def run(bucket, folder, client):
        """Confirm, then delete every object under the prefix, 1,000 per request."""
        prefix = tree_prefix(folder, args.keys[0], bucket)
        if not args.force and not confirm(f"delete every object under s3://{bucket}/{prefix}?",
                                          "no terminal to confirm; add --force"):
            out.note("nothing was deleted")
            return EXIT_OK
        deleted, refused, batch = 0, [], []

        def flush():
            nonlocal deleted
            failures = delete_objects(client, bucket, batch)
            failed = {key for key, _ in failures}
            refused.extend(failures)
            for key in batch:
                if key not in failed:
                    out.line(f"deleted s3://{bucket}/{key}")
            deleted += len(batch) - len(failed)
            batch.clear()

        for item in iter_objects(client, bucket, prefix):
            batch.append(item["Key"])
            if len(batch) == 1000:
                flush()
        flush()
        for key, code in refused:
            out.warn(f"S3 refused to delete s3://{bucket}/{key} ({code})")
        out.result({"uri": f"s3://{bucket}/{prefix}", "deleted": deleted, "refused": len(refused)}, [])
        out.note(f"deleted {deleted} objects under s3://{bucket}/{prefix}")
        if refused:
            raise ToolError(f"{len(refused)} objects under s3://{bucket}/{prefix} could not be deleted (see above); "
                            f"check the role policy", EXIT_AWS)
        return EXIT_OK
    return with_user_files(args, out, run, prefix=args.keys[0])


def cmd_rm(args, out):
    """Delete objects from the user's folder, saying of each whether it existed when S3 can tell (with
    --recursive, every object under a prefix)."""
    if args.recursive:
        return rm_tree(args, out)
    for key in [] if args.exact else args.keys:
        try:
            confine(None, key)
        except ToolError as err:  # such a key may exist, made by another client
            folder_named = ""
            if key.endswith("/"):  # `rm photos/`: a folder, typed as one
                with contextlib.suppress(ToolError):
                    folder_named = confine(None, key, folder_ok=True)
            if folder_named:
                import shlex

                raise ToolError(f"{key} ends in '/', so it names a folder: delete what it holds with "
                                f"`rm --recursive {shlex.quote(key.rstrip('/'))}` (or an object of that very name "
                                f"with `rm --exact {shlex.quote(folder_named)}`)", EXIT_USAGE) from None
            raise ToolError(f"{err}; to remove a key exactly as `ls` lists it, use `rm --exact`", EXIT_USAGE) from None

    def delete(bucket, folder, client):
        """Delete each key, saying so as it goes (deleting twice is harmless, so a retry may repeat them)."""
        # --exact takes keys as `ls` prints them (another client may have made a/../b or a//b): still only
        # ever under the user's folder, since S3 keys are plain strings and nothing is stripped or resolved.
        keys = [folder + key if args.exact else user_key(folder, key, bucket) for key in args.keys]
        results = []
        for key in keys:
            uri = f"s3://{bucket}/{key}"
            exists = object_exists(client, bucket, key)
            if exists is not False:
                delete_object(client, bucket, key)
            outcome = {True: "deleted", False: "absent", None: "deleted if it existed"}[exists]
            # `rm photos` for the folder photos/: only an absent key costs this extra listing.
            folder_hint = exists is False and holds_objects(client, bucket, key + "/")
            results.append({"uri": uri, "outcome": outcome, **({"folder": True} if folder_hint else {})})
            out.line(RM_LINES[outcome].format(uri=uri))  # as each is done: a failure later still shows these
        return results
    results = with_user_files(args, out, delete, keys=[] if args.exact else args.keys)
    out.result({"deleted": [item["uri"] for item in results if item["outcome"] != "absent"], "files": results}, [])
    absent = [item["uri"] for item in results if item["outcome"] == "absent"]
    folders = [key for key, item in zip(args.keys, results) if item.get("folder")]
    if folders:
        import shlex

        raise ToolError(f"{', '.join(absent)} did not exist; nothing was deleted there; "
                        f"{', '.join(folders)} {'is a folder' if len(folders) == 1 else 'are folders'}: delete "
                        f"what {'it holds' if len(folders) == 1 else 'they hold'} with "
                        + " and ".join(f"`rm --recursive {shlex.quote(key)}`" for key in folders), EXIT_AWS)
    if absent:
        raise ToolError(f"{', '.join(absent)} did not exist; nothing was deleted there (see `ls`)", EXIT_AWS)
    return EXIT_OK


def tool_command():
    """The words that run this tool from anywhere: the installed command, else this Python and this file."""
    import shlex

    launched = os.path.abspath(sys.argv[0])
    if os.path.basename(launched) == "cog-auth-s3" and os.access(launched, os.X_OK):
        return shlex.quote(launched)
    return f"{shlex.quote(sys.executable)} {shlex.quote(os.path.abspath(__file__))}"


def cmd_aws_profile(args, out):
    """Write an AWS profile (AWS CLI and SDKs) whose credential_process is this tool, for the current profile."""
    check_aws_profile_name(args.name)
    settings = profile_settings(args)
    import shlex

    config = os.path.abspath(config_path(args))
    if not os.path.isfile(config):
        raise ToolError(f"config file {config} not found; the profile must name a config file the AWS CLI can "
                        f"read later (pass --config)", EXIT_USAGE)
    values = {"credential_process": f"{tool_command()} --config {shlex.quote(config)} --profile "
                                    f"{shlex.quote(args.profile)} --quiet creds --format process",
              "region": settings["region"]}
    if settings.get("endpoint_url"):  # the credentials work only there (local_aws, say)
        values["endpoint_url"] = settings["endpoint_url"]
    path = aws_config_path()
    status = write_aws_profile(path, args.name, values, args.force)
    folder = user_folder(folder_template(args, settings), "<identity id>")
    usage = f"aws --profile {args.name} s3 ls s3://{settings.get('bucket') or 'BUCKET'}/{folder}"
    out.result({"path": path, "profile": args.name, "status": status, "values": values, "usage": usage},
               [f"{status} [profile {args.name}] in {path}:"] + [f"  {k} = {v}" for k, v in values.items()]
               + [f"use it: {usage}"])
    return EXIT_OK


def parse_duration(text):
    """Seconds in a duration such as 90s, 10m, 12h or 7d."""
    match = re.fullmatch(r"(\d{1,7})([smhd])", text.strip())
    if not match or int(match.group(1)) == 0:
        raise ToolError(f"--expires {text!r} is not a duration such as 90s, 10m, 12h or 7d", EXIT_USAGE)
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def spoken_duration(seconds):
    """A duration as 1h 2m 3s."""
    parts = [(seconds // 3600, "h"), (seconds % 3600 // 60, "m"), (seconds % 60, "s")]
    return " ".join(f"{value}{unit}" for value, unit in parts if value) or "0s"


SHARE_DEFAULT_SECONDS = 3600


def cmd_share(args, out):
    """Print a presigned GET URL for one object of the user's folder, valid no longer than its credentials."""
    # No --expires: an hour, or less without a warning when the credentials end sooner.
    wanted = parse_duration(args.expires) if args.expires else SHARE_DEFAULT_SECONDS
    if wanted > PRESIGN_MAX_SECONDS:
        raise ToolError(f"--expires {args.expires} is longer than S3 allows for a signed link (7d)", EXIT_USAGE)
    if args.key.endswith("/"):
        raise ToolError(f"{args.key} names a folder; `share` makes a link to one object", EXIT_USAGE)

    def run(bucket, folder, client):
        """Check the object exists and sign a link valid no longer than this session's credentials."""
        key = user_key(folder, args.key, bucket)
        head_object(client, bucket, key)  # a link to nothing helps nobody
        # A link signed with temporary credentials dies with them, whatever its own expiry says.
        left = int((parse_time(client.cog_auth_s3_expiration)
                    - datetime.datetime.now(datetime.timezone.utc)).total_seconds())
        if left < 1:
            raise ToolError("the session's credentials have already expired; run `logout`, then again", EXIT_AWS)
        seconds = min(wanted, left)
        if seconds < wanted and args.expires:
            out.warn(f"the link works for {spoken_duration(seconds)}, not {spoken_duration(wanted)}: it is signed "
                     f"with temporary credentials that expire then")
        url = presigned_get(client, bucket, key, seconds)
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
        out.result({"url": url, "uri": f"s3://{bucket}/{key}", "expires_in": seconds, "expires_at": iso8601(expires)},
                   [url])
        return EXIT_OK
    # Renewed first only when the cached credentials end before the link asked for: a renewal costs a request
    # (a rotation on a rotating client), and credentials that can't be renewed still sign a link while they last.
    needed = datetime.timedelta(seconds=wanted) if args.expires else False
    return with_user_files(args, out, run, keys=[args.key], renew_now=needed)


class Skipped:
    """The paths a tree walk for `sync` left out, so --delete never deletes their copies on the other side;
    problems (all but symbolic links, which are skipped by design) are warned about and end the run with exit 2."""

    def __init__(self, warn):
        self.warn, self.names, self.problems = warn, set(), 0

    def __call__(self, path, relative, reason):
        """Note one skipped path (reason None: a symbolic link, already noted by the walk)."""
        self.names.add(relative.rstrip("/"))
        if reason:
            self.problems += 1
            self.warn(f"skipped {shown_path(path)}: {reason}")

    def covers(self, relative):
        """Whether relative is a skipped path or lies below one."""
        parts = relative.split("/")
        return any("/".join(parts[:end]) in self.names for end in range(1, len(parts) + 1))


def local_tree(folder, note, skip, uploading=True):
    """(relative path, path, size, mtime) of every file below folder, in S3's key order; what can't be
    used (not a regular file; when uploading, unreadable or a name that is not UTF-8) goes to skip instead."""
    import stat

    for path, relative in walk_files(folder, note, skip=skip):
        try:
            info = os.stat(path)
        except OSError as err:
            skip(path, relative, f"can't read it: {err.strerror}")
            continue
        if not stat.S_ISREG(info.st_mode):
            skip(path, relative, "not a regular file")
        elif uploading and name_problem(path, relative):
            skip(path, relative, "its name is not UTF-8, so it can't be an S3 key; rename it")
        elif uploading and not os.access(path, os.R_OK):
            skip(path, relative, "it is not readable")
        else:
            yield relative, path, info.st_size, info.st_mtime


def sync_pairs(local_items, remote_items):
    """Walk two key-ordered streams side by side: (local item or None, remote item or None) per name."""
    mine, theirs = next(local_items, None), next(remote_items, None)
    while mine or theirs:
        if theirs is None or (mine and mine[0] < theirs[0]):
            yield mine, None
            mine = next(local_items, None)
        elif mine is None or theirs[0] < mine[0]:
            yield None, theirs
            theirs = next(remote_items, None)
        else:
            yield mine, theirs
            mine, theirs = next(local_items, None), next(remote_items, None)


def differs(item, obj, up, checksum):
    """Whether a file and an object differ: size, then content (--checksum) or which is newer, as aws s3 sync."""
    _, path, size, mtime = item
    if size != obj["Size"]:
        return True
    if checksum:
        return local_etag(path) != obj.get("ETag", "").strip('"')
    # Whole seconds: S3's LastModified has no fraction, so a file written and uploaded within one
    # second would otherwise look newer than its copy forever.
    modified = int(obj["LastModified"].timestamp())
    return int(mtime) > modified if up else modified > int(mtime)


def sync_plan(local_items, remote_items, up, delete, checksum, skipped=None):
    """What `sync` does with each name, in S3's key order: (action, local item or None, remote item or None).

    Local items are (relative path, path, size, mtime), remote ones (relative key, listed object), each in key
    order. The action is "unchanged"; "upload" or "download" (the source's file differs or the destination
    lacks it); with delete "delete remote" or "delete local" (the source lacks it), without it "keep"; or
    "skip": an object under a path the local walk skipped (a link, say) is neither deleted nor written
    through. Lazy, so any tree is planned in flat memory; skipped(relative) is asked as the walk goes.
    """
    for mine, theirs in sync_pairs(local_items, remote_items):
        if mine and theirs and not differs(mine, theirs[1], up, checksum):
            yield "unchanged", mine, theirs
        elif up and mine:
            yield "upload", mine, theirs
        elif theirs and skipped and skipped(theirs[0]):
            yield "skip", mine, theirs
        elif not up and theirs:
            yield "download", mine, theirs
        else:  # only the destination has it
            yield ("delete remote" if up else "delete local") if delete else "keep", mine, theirs


def sync_paths(direction, paths):
    """(local folder, prefix named or "") of `sync up DIR [PREFIX]` or `sync down [PREFIX] DIR`, checked."""
    up = direction == "up"
    if len(paths) > 2:
        raise ToolError(f"sync {direction} takes {'DIR [PREFIX]' if up else '[PREFIX] DIR'}", EXIT_USAGE)
    if up:
        local, named = paths[0], (paths[1] if len(paths) == 2 else "")
        if not os.path.isdir(local):
            raise ToolError(f"{local} is not a folder; sync up takes DIR [PREFIX]", EXIT_USAGE)
    else:
        named, local = (paths[0], paths[1]) if len(paths) == 2 else ("", paths[0])
        if os.path.exists(local) and not os.path.isdir(local):
            raise ToolError(f"{local} is not a folder; sync down takes [PREFIX] DIR", EXIT_USAGE)
    return local, named


class Sync:
    """One `sync` between a local folder and a prefix of the user's folder: carries out sync_plan's actions
    (copies through transfer_tree, remote deletes 1,000 per request), saying and counting each as it is done."""

    def __init__(self, args, local, named, out):
        self.up, self.local, self.named, self.out = args.direction == "up", local, named, out
        self.direction, self.delete, self.dryrun, self.checksum = args.direction, args.delete, args.dryrun, \
            args.checksum
        self.tag = "(dryrun) " if args.dryrun else ""

    def attempt(self, bucket, folder, client):
        """Compare the two sides with this session's client and copy (or delete) what differs; a session
        renewed after dead credentials (with_live_session) starts again, as a rerun would."""
        self.bucket, self.folder, self.client = bucket, folder, client
        self.prefix = tree_prefix(folder, self.named, bucket) if self.named else folder
        self.counts = {"copied": 0, "deleted": 0, "unchanged": 0, "refused": 0}
        self.doomed, self.skipped = [], Skipped(self.out.warn)
        transfer_tree(client, bucket, self.transfers(), self.done)
        counts = self.counts
        self.out.result({"direction": self.direction, "uri": f"s3://{bucket}/{self.prefix}", "local": self.local,
                         "dryrun": self.dryrun, **counts}, [])
        self.out.note(f"{self.tag}sync {self.direction}: {counts['copied']} {'uploaded' if self.up else 'downloaded'}"
                      f", {counts['deleted']} deleted, {counts['unchanged']} unchanged")
        if counts["refused"]:
            raise ToolError(f"{counts['refused']} objects could not be deleted (see above); check the role policy",
                            EXIT_AWS)
        problems = self.skipped.problems
        if problems:
            many = problems > 1
            raise ToolError(f"{problems} path{'s were' if many else ' was'} skipped (see the warnings above): "
                            f"not copied, and {'their copies' if many else 'its copy'}, if any, kept; fix or move "
                            f"{'them' if many else 'it'} and run again", EXIT_USAGE)
        return EXIT_OK

    def say(self, line, what):
        """Count one action and print its line (marked when --dryrun)."""
        self.counts[what] += 1
        self.out.line(self.tag + line)

    def remote_items(self):
        """(key relative to the prefix, listed object) of every object a file can take; others are warned about."""
        for item in iter_objects(self.client, self.bucket, self.prefix):
            relative = item["Key"][len(self.prefix):]
            if local_path_for(self.folder, self.local, relative):
                yield relative, item
            elif not item["Key"].endswith("/"):
                self.out.warn(f"skipped s3://{self.bucket}/{item['Key']}: its key can't be a file name")

    def transfers(self):
        """The plan's copies as Transfers for transfer_tree; the rest (--dryrun, deletes, skips) done here."""
        # Going down, a link matters only if an object would be written through it (warned as a skip).
        note = self.out.note if self.up else (lambda message: None)
        files = local_tree(self.local, note, self.skipped, uploading=self.up) if os.path.isdir(self.local) \
            else iter(())
        bucket = self.bucket
        for action, mine, theirs in sync_plan(files, self.remote_items(), self.up, self.delete, self.checksum,
                                              self.skipped.covers):
            if action == "unchanged":
                self.counts["unchanged"] += 1
            elif action == "upload":
                try:
                    key = user_key(self.prefix, mine[0], bucket)
                except ToolError as err:
                    self.skipped(mine[1], mine[0], str(err))
                    continue
                if self.dryrun:
                    self.say(f"upload: {mine[1]} to s3://{bucket}/{key}", "copied")
                else:
                    yield Transfer(True, mine[1], key)
            elif action == "skip" and not self.up:
                self.skipped(local_path_for(self.folder, self.local, theirs[0]), theirs[0],
                             f"s3://{bucket}/{theirs[1]['Key']} was not downloaded: a path on its way was skipped")
            elif action == "download":
                key, path = theirs[1]["Key"], local_path_for(self.folder, self.local, theirs[0])
                if self.dryrun:
                    self.say(f"download: s3://{bucket}/{key} to {path}", "copied")
                else:
                    yield Transfer(False, path, key, theirs[1]["Size"], theirs[1].get("ETag"),
                                   theirs[1]["LastModified"].timestamp())
            elif action == "delete remote" and self.dryrun:
                self.say(f"delete: s3://{bucket}/{theirs[1]['Key']}", "deleted")
            elif action == "delete remote":
                self.doomed.append(theirs[1]["Key"])
                self.delete_remote()
            elif action == "delete local":
                if not self.dryrun:
                    with local_file_errors("delete", mine[1]):
                        os.unlink(mine[1])
                self.say(f"delete: {mine[1]}", "deleted")
        self.delete_remote(flush=True)

    def delete_remote(self, flush=False):
        """Delete the objects gathered for deletion, 1,000 per request (all that are left, when flush)."""
        if not self.doomed or (len(self.doomed) < 1000 and not flush):
            return
        failed = dict(delete_objects(self.client, self.bucket, self.doomed))
        for key in self.doomed:
            if key in failed:
                self.counts["refused"] += 1
                self.out.warn(f"S3 refused to delete s3://{self.bucket}/{key} ({failed[key]})")
            else:
                self.say(f"delete: s3://{self.bucket}/{key}", "deleted")
        self.doomed.clear()

    def done(self, transfer):
        """Say one finished copy; a downloaded file takes the object's time, as aws s3 sync does, so the next
        run sees the two as the same."""
        if transfer.upload:
            self.say(f"upload: {transfer.path} to s3://{self.bucket}/{transfer.key}", "copied")
            return
        with local_file_errors("write", transfer.path):
            os.utime(transfer.path, (transfer.mtime, transfer.mtime))
        self.say(f"download: s3://{self.bucket}/{transfer.key} to {transfer.path}", "copied")


def cmd_sync(args, out):
    """sync up DIR [PREFIX] / sync down [PREFIX] DIR: copy what differs, optionally delete what the source lacks."""
    local, named = sync_paths(args.direction, args.paths)
    return with_user_files(args, out, Sync(args, local, named, out).attempt, prefix=named or None)


def policy_settings(args, out):
    """policy's bucket, identity pool and folder template: the flags, else the profile's (as doctor reads them,
    only when the profile is that of the identity pool named)."""
    profile = {}
    if not (args.bucket and args.identity_pool_id):  # both given: no config is needed, as before
        profile = read_profile(config_path(args), args.profile, {"endpoint_url": args.endpoint_url},
                               explicit_path=args.config is not None, warn=out.warn)
        if args.identity_pool_id and profile.get("identity_pool_id") != args.identity_pool_id:
            profile = {}  # another deployment's bucket and folder are not this one's
    bucket, pool_id = args.bucket or profile.get("bucket"), args.identity_pool_id or profile.get("identity_pool_id")
    if not bucket or not pool_id:
        raise ToolError(f"policy needs the bucket and the identity pool: pass --bucket and --identity-pool-id, or "
                        f"use a profile that has bucket and identity_pool_id ([{args.profile}] of {config_path(args)} "
                        f"has not both, or is another identity pool's)", EXIT_USAGE)
    region = pool_region(pool_id, args.region)
    validate_settings({"bucket": bucket})
    template = check_folder_template(args.folder_template, "--folder") if args.folder_template else \
        check_folder_template(profile.get("folder") or DEFAULT_FOLDER)
    return bucket, pool_id, region, template


def cmd_policy(args, out):
    """Print the role's trust and permissions policies as one JSON object."""
    policies = role_policies(*policy_settings(args, out))
    out.result(policies, [json.dumps(policies, indent=2)])  # JSON either way: it is pasted into IAM
    return EXIT_OK


def admin_endpoint(args, parser, profile):
    """Where the administrator's calls go: --endpoint-url, else COG_AUTH_S3_ENDPOINT_URL, else the profile's
    endpoint_url (the deployment the profile names lives there, as doctor also assumes), else AWS."""
    endpoint = args.endpoint_url or os.environ.get(ENV_PREFIX + "ENDPOINT_URL", "").strip() or \
        (parser.get(profile, "endpoint_url", fallback="").strip() if parser.has_section(profile) else "")
    validate_settings({"endpoint_url": endpoint})
    return endpoint or None


def cmd_setup(args, out):
    """Create or repair every resource of deployment NAME, then write the profile that uses them."""
    name, region = check_name(args.name), admin_region(args.region)
    folder = check_folder_template(args.folder_template or DEFAULT_FOLDER, "--folder")
    path, profile = args.write_config or config_path(args), args.target_profile or args.profile
    if os.path.isdir(path) or not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        raise ToolError(f"can't write config {path}: name a file in an existing folder", EXIT_USAGE)
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        # configparser skips a file it can't open, so its profiles would be overwritten unseen.
        raise ToolError(f"can't read and write config {path}; fix its permissions or pick another", EXIT_USAGE)
    parser = load_ini(path)  # read before any change, so a broken file stops setup early
    oidc = args.oidc_provider and (args.oidc_provider, args.oidc_issuer, args.oidc_client_id, oidc_client_secret())
    endpoint = admin_endpoint(args, parser, profile)
    names = deployment_names(name, caller_identity(make_client("sts", region, endpoint))[0])
    idp, identity_client = (make_client(service, region, endpoint) for service in ("cognito-idp", "cognito-identity"))
    changes, used = Changes(out), profile_uses(parser, profile, path)
    iam = make_client("iam", region, endpoint)
    ensure_bucket(make_client("s3", region, endpoint), names["bucket"], region, changes)
    factors = mfa_factors(args.mfa, args.mfa_factors)
    sms_configuration, sms_role_changed = None, False
    if "sms" in factors or args.sign_in == "choice":  # SMS codes go out through SNS, by a role of the pool's
        sms_role_arn, sms_role_changed = ensure_role(iam, names["sms_role"], sms_role_policies(name), changes,
                                                     description="Lets the user pool send SMS codes",
                                                     policy_name=SMS_ROLE_POLICY_NAME)
        sms_configuration = {"SnsCallerArn": sms_role_arn, "ExternalId": name}
    user_pool_id = ensure_user_pool(idp, names["user_pool"], changes, used, args.sign_in, args.mfa, factors,
                                    sms_configuration, sms_role_changed, args.device_tracking)
    client_id = ensure_app_client(idp, user_pool_id, names["client"], changes, used, args.sign_in,
                                  args.refresh_token_rotation)
    pool_id = ensure_identity_pool(identity_client, names["identity_pool"], cognito_provider(region, user_pool_id),
                                   client_id, changes, used, guests=args.guests)
    role_arn, role_changed = ensure_role(iam, names["role"], role_policies(names["bucket"], pool_id, region, folder),
                                         changes)
    guest_arn = None
    if args.guests:
        guest_arn, guest_changed = ensure_role(
            iam, names["guest_role"], {"TrustPolicy": trust_policy(pool_id, "unauthenticated"),
                                       "PermissionsPolicy": None}, changes,
            description="Guests of this deployment: no access to the bucket")
        role_changed = role_changed or guest_changed
    ensure_role_mapping(identity_client, pool_id, role_arn, role_changed, changes, guest_arn)
    if args.domain or args.oidc_provider:
        ensure_managed_login(idp, user_pool_id, client_id, args.domain, oidc, changes)
    values = {"region": region, "user_pool_id": user_pool_id, "client_id": client_id, "identity_pool_id": pool_id,
              "bucket": names["bucket"], **({"endpoint_url": endpoint} if endpoint else {}),
              **({"folder": folder} if folder != DEFAULT_FOLDER else {})}
    if args.sign_in:
        values["sign_in"] = args.sign_in
    if args.domain:
        values["domain"] = managed_login_base(args.domain, region, endpoint)
    write_profile(path, parser, profile, values)
    out.result({"resources": changes.items, "config": {"path": path, "profile": profile, "values": values}},
               [f"wrote [{profile}] to {path}:"] + [f"  {key} = {value}" for key, value in values.items()])
    return EXIT_OK


def cmd_add_user(args, out):
    """Create a confirmed user in the profile's user pool, with a permanent password (and email or phone)."""
    check_username(args.username)
    attributes = contact_attributes(args.email, args.phone)
    settings = profile_settings(args, ("region", "user_pool_id"))
    pool, username = settings["user_pool_id"], args.username
    status = ensure_user(make_client("cognito-idp", settings["region"], settings.get("endpoint_url")), pool,
                         username, lambda: settings.get("password") or prompt_secret(
                             f"Password for {username}: ", f"a password for {username} is needed but there is no "
                                                           f"terminal to ask on; set {ENV_PREFIX}PASSWORD",
                             EXIT_USAGE, twice=True), attributes)
    contact = " and ".join(a["Name"].replace("_number", "") for a in attributes if not a["Name"].endswith("_verified"))
    contact = f"{contact} set as verified" if contact else ""
    detail = {"exists": "password unchanged", "updated": f"password unchanged, {contact}"}.get(
        status, ", ".join(filter(None, ("confirmed, password set", contact))))
    out.result({"user": username, "user_pool_id": pool, "status": status},
               [f"user {username} in {pool}: {status} ({detail})"])
    return EXIT_OK


def cmd_teardown(args, out):
    """Delete what setup made for NAME, newest first; what is already gone is reported absent."""
    region, parser = admin_region(args.region), configparser.ConfigParser()
    with contextlib.suppress(ToolError):  # the config only helps (endpoint, duplicates); teardown needs none
        parser = load_ini(config_path(args))
    endpoint = admin_endpoint(args, parser, args.profile)
    names = deployment_names(check_name(args.name), caller_identity(make_client("sts", region, endpoint))[0])
    s3, iam, idp, identity_client = (make_client(service, region, endpoint)
                              for service in ("s3", "iam", "cognito-idp", "cognito-identity"))
    check_bucket_removable(s3, names["bucket"], args.force)
    changes, used = Changes(out), profile_uses(parser, args.profile, config_path(args))
    # Both lookups come first, so duplicates stop teardown before anything is deleted.
    pool_id = find_by_name(identity_client, "identity pool", names["identity_pool"], used)
    user_pool_id = find_by_name(idp, "user pool", names["user_pool"], used)
    # The reverse of setup: role mapping, roles, identity pool, app client, domain, identity providers,
    # user pool, bucket.
    remove_role_mapping(identity_client, pool_id, names["identity_pool"], changes)
    remove_role(iam, names["role"], changes)
    remove_role(iam, names["guest_role"], changes, optional=True)
    remove_identity_pool(identity_client, pool_id, names["identity_pool"], changes)
    remove_app_client(idp, user_pool_id, names["client"], changes)
    remove_user_pool_domain(idp, user_pool_id, changes)
    remove_identity_providers(idp, user_pool_id, changes)
    remove_user_pool(idp, user_pool_id, names["user_pool"], changes)
    remove_role(iam, names["sms_role"], changes, optional=True)
    remove_bucket(s3, names["bucket"], args.force, changes)
    if all(item["status"] == "absent" for item in changes.items):
        # Most likely a typo in --name (or another region or endpoint): saying "6 absent" and 0 would hide it.
        raise ToolError(f"nothing named {names['user_pool']} was found in {region}"
                        f"{f' at {endpoint}' if endpoint else ''}; check --name and --region "
                        f"(if it was torn down already, there is nothing left to do)", EXIT_AWS)
    out.result({"resources": changes.items}, [changes.summary(f"teardown of {names['user_pool']}")])
    return EXIT_OK


def audit_lines(findings, matrix, proof):
    """doctor's findings and its proof matrix as text lines."""
    info = all(item["severity"] == "info" for item in findings)
    lines = ["findings: none" if not findings else f"findings: none above info ({len(findings)} info):" if info
             else f"findings ({len(findings)}):"]
    for item in findings:
        lines += [f"  {item['severity']:<8} {item['id']}  [{item['resource']}]", f"           {item['detail']}"]
        if item.get("witness"):
            lines.append(f"           witness: {item['action']} on {item['witness']}" +
                         (f" with s3:prefix {item['prefix']!r}" if item.get("prefix") is not None else "") +
                         f" ({statement_label(item['statement']) if 'index' in item['statement'] else 'policy ' + item['statement']['policy']})")
        lines.append(f"           fix: {item['fix']}")
    if not matrix:
        return lines + ["proof: none (no role could be simulated)"] + \
            [f"  not simulated: {item}" for item in proof["not_simulated"]]
    labels = [label for label, _ in PROBE_ACTIONS]
    lines.append(f"proof (IAM policy simulation; identity A = {matrix[0]['identity']}, other = another "
                 f"identity's folder, root = outside every folder):")
    width = max(len(row["role"]) for row in matrix) + 2
    lines.append(("  " + "role".ljust(width) + "folder  " + "".join(label.ljust(8) for label in labels)).rstrip())
    for role in dict.fromkeys(row["role"] for row in matrix):
        for folder in ("own", "other", "root"):
            cells = {row["action"]: row["allowed"] for row in matrix if row["role"] == role and row["folder"] == folder}
            lines.append(("  " + (role if folder == "own" else "").ljust(width) + folder.ljust(8) +
                          "".join(("ALLOW" if cells.get(label) else "deny").ljust(8) for label in labels)).rstrip())
    leaks = [item for item in findings if item.get("witness") and item["severity"] == "critical"]
    beyond = leaks or any(row["allowed"] for row in matrix if row["folder"] != "own")
    lines.append("proof: " + (f"a role reaches beyond its own folder ({len(leaks)} critical findings above name an "
                              f"action and a witness)" if beyond else
                              "no role reaches beyond its own folder in this simulation (every S3 action, on every "
                              "witness its statements' patterns give):"))
    return lines + [f"  simulated: {item}" for item in proof["simulated"]] + \
        [f"  not simulated: {item}" for item in proof["not_simulated"]] + \
        [f"  simulate calls: {proof['simulate_calls']}"]


def confirm_fix(assume_yes):
    """True to go ahead with --fix: --yes, or a yes typed on a terminal."""
    if assume_yes:
        return True
    if not sys.stdin or not sys.stdin.isatty():
        raise ToolError("doctor --fix changes the deployment; stdin is not a terminal, so confirm with --yes "
                        "(nothing was changed)", EXIT_USAGE)
    print("Apply these changes? [y/N] ", end="", file=sys.stderr, flush=True)  # prompts stay off stdout
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def doctor_settings(args, out):
    """doctor's settings: the flags, and the profile's only when it is the profile of the pool being checked."""
    settings = read_profile(config_path(args), args.profile, {"endpoint_url": args.endpoint_url},
                            explicit_path=args.config is not None, warn=out.warn)
    pool_id = args.identity_pool_id or settings.get("identity_pool_id")
    if not pool_id:
        raise ToolError("doctor needs the identity pool: pass --identity-pool-id or use a profile that has "
                        "identity_pool_id", EXIT_USAGE)
    if settings.get("identity_pool_id") != pool_id:  # another deployment's bucket and app client are not this one's
        settings = {key: settings[key] for key in ("endpoint_url",) if settings.get(key)}
    settings.update((key, value) for key, value in (("identity_pool_id", pool_id), ("bucket", args.bucket),
                                                    ("user_pool_id", args.user_pool_id),
                                                    ("client_id", args.client_id)) if value)
    settings["region"] = pool_region(pool_id, args.region or settings.get("region"))
    validate_settings(settings)
    # The audit, the proof and --fix's policy all follow the users' folder template.
    settings["folder"] = check_folder_template(settings.get("folder") or DEFAULT_FOLDER)
    return settings


def cmd_doctor(args, out):
    """Audit a deployment for the mistakes that break or leak users' folders, prove isolation, and --fix."""
    settings = doctor_settings(args, out)
    region, pool_id = settings["region"], settings["identity_pool_id"]
    clients = {name: make_client(name, region, settings.get("endpoint_url"))
               for name in ("cognito-identity", "cognito-idp", "iam", "s3", "sts")}
    expected = (settings["user_pool_id"], settings["client_id"]) \
        if settings.get("user_pool_id") and settings.get("client_id") else None
    caller_arn = caller_identity(clients["sts"])[1]
    audit = audit_deployment(clients, region, pool_id, settings.get("bucket"), expected, caller_arn,
                             settings["folder"])
    if args.fix and apply_fixes(clients, audit, out, lambda: confirm_fix(args.yes)):
        audit = audit_deployment(clients, region, pool_id, settings.get("bucket"), expected, caller_arn,
                                 settings["folder"])
    out.result({key: audit[key] for key in ("findings", "matrix", "proof")},
               audit_lines(audit["findings"], audit["matrix"], audit["proof"]))
    return audit_exit_code(audit["findings"])


# ====================================================================== parser

EXAMPLES = f"""examples:
  {TOOL}                                  sign in, print credentials, upload upload_file
  {TOOL} run --try-identity us-east-1:0e3c... --json   ...and check another folder is refused
  {TOOL} creds --format env               export lines for a shell: eval "$(...)"
  {TOOL} put report.pdf --key docs/       upload into <identity id>/docs/report.pdf
  {TOOL} ls docs/ ; {TOOL} get docs/report.pdf /tmp/
  {TOOL} sync up ~/photos photos --delete     mirror a folder (sync down photos ~/photos back)
  {TOOL} share docs/report.pdf --expires 10m  print a download link
  {TOOL} ls --amplify-config amplify_outputs.json    an Amplify app's pools, bucket and folder
  {TOOL} setup --name demo --write-config config.ini   provision everything (admin credentials)
  {TOOL} login --browser                  sign in on the managed login page (federated users too)
  {TOOL} login --no-browser               ...on another machine's browser: paste the URL it ends on
  {TOOL} COMMAND --help                   what COMMAND does, its options and an example

Global options are accepted before or after the command.

exit codes: 0 ok, 1 unexpected, 2 usage/config, 3 sign-in refused, 4 AWS refused, 5 isolation broken, 130 interrupted
"""


class ToolArgumentParser(argparse.ArgumentParser):
    """argparse that reports usage errors through the tool's one error channel."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # --no-c must not silently mean --no-cache
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise ToolError(f"{message}; see {self.prog} --help", EXIT_USAGE)


class CommandParser(ToolArgumentParser):
    """A command's parser. Its usage line names the command's own arguments (own_actions), the global ones being
    listed below it; made only when help is asked for: formatting every command's usage at each start cost
    about 5 ms, a quarter of building the parser, which every warm `creds` pays."""

    own_actions = ()

    @property
    def usage(self):
        """`COMMAND [-h] [GLOBAL OPTIONS] its own arguments`, as argparse would format them."""
        formatter = self._get_formatter()
        formatter.add_usage(None, self.own_actions, self._mutually_exclusive_groups)
        return formatter.format_help().partition(" ")[2].rstrip().replace("[-h]", "[-h] [GLOBAL OPTIONS]", 1)

    @usage.setter
    def usage(self, value):
        """argparse sets usage=None when it makes the parser; the property above stands instead."""


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose to the terminal, never inside a word (us-east-1, --no-clobber), and keeps indented lines
    (examples) as written."""

    def _split_lines(self, text, width):
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text, width, indent):
        import textwrap

        return "\n".join(line if line.startswith("  ") or not line else textwrap.fill(
            " ".join(line.split()), width, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)
            for line in text.splitlines())


def option(*flags, **spec):
    """One argument of a command or a global option: add_argument's flags and keywords."""
    return flags, spec


GLOBAL_OPTIONS = (
    option("--config", metavar="PATH", help=f"INI file of profiles (default: ./{DEFAULT_CONFIG})"),
    option("--profile", metavar="NAME", default="default", help="profile (section of the config file) to use"),
    option("--endpoint-url", metavar="URL", help="endpoint for every AWS client (e.g. local_aws)"),
    option("--json", action="store_true", help="print one JSON object instead of text"),
    option("--quiet", action="store_true", help="no notes or progress bars on stderr"),
    option("--debug", action="store_true", help="show tracebacks and debug notes"),
    option("--no-cache", action="store_true", help="neither read nor write the credential cache"),
    option("--mfa-code", metavar="CODE", help="answer an MFA challenge with this code"),
    option("--remember-device", action="store_true",
           help="in a pool that remembers devices when the user opts in, remember this one"),
    option("--amplify-config", metavar="PATH",
           help=f"read pools, region, bucket and folder from an Amplify app's amplify_outputs.json or "
                f"amplifyconfiguration.json (or {AMPLIFY_ENV}); the profile's keys win"),
    option("--level", choices=tuple(LEVEL_FOLDERS),
           help="Amplify Gen 1 access level: private/<id>/, protected/<id>/ or the shared public/"),
)

# `run`'s options, accepted with or without the word run.
RUN_OPTIONS = (
    option("--upload-file", metavar="PATH", help="file to upload (default: the profile's upload_file)"),
    option("--try-identity", metavar="IDENTITY_ID",
           help="after uploading, try every request that can't change this identity's data on its folder and the "
                "bucket root (listings, reads, a write that replaces nothing, deletes and an abort of what does not "
                "exist); each must be refused (exit 5 if any is allowed); what can't be tried is named"),
    option("--try-key", metavar="KEY",
           help="an existing object of --try-identity (relative to its folder) for the reads, needed when listing "
                "is refused (a refused read of a key no listing showed is unproven)"),
)

# --identity: read another identity's folder, where the role allows it (Amplify's protected level).
IDENTITY_OPTION = option("--identity", dest="other_identity_id", metavar="IDENTITY_ID",
                         help="read this identity's folder under the same template instead of yours "
                              "(e.g. with --level protected, as Amplify allows)")

FOLDER_OPTION = option("--folder", dest="folder_template", metavar="TEMPLATE",
                       help=f"the users' folder template, with {IDENTITY_PLACEHOLDER} once and a / after it "
                            f"(default: the profile's folder, else {DEFAULT_FOLDER})")

REGION_OPTION = option("--region", metavar="REGION",
                       help="default: AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1")

ADMIN_CREDENTIALS = ("Runs with the administrator's ordinary AWS credentials (AWS_* variables or AWS_PROFILE); "
                     "the global --endpoint-url applies to every client.")


def check_run_options(args):
    """--try-identity, --try-key and --upload-file: well formed, together, and only for `run`."""
    if args.try_identity and not REGION_UUID_RE.match(args.try_identity):
        raise ToolError(f"--try-identity {args.try_identity!r} is not an identity id of the form <region>:<uuid>",
                        EXIT_USAGE)
    if args.command != "run" and (args.try_identity or args.upload_file or args.try_key):
        raise ToolError("--try-identity, --try-key and --upload-file belong to `run`", EXIT_USAGE)
    if args.try_key and not args.try_identity:
        raise ToolError("--try-key names an object of --try-identity; give both", EXIT_USAGE)
    if args.try_key:
        confine(None, args.try_key)


def check_identity_option(args):
    """--identity names another identity's per-user folder."""
    other_id = args.other_identity_id
    if other_id and not REGION_UUID_RE.match(other_id):
        raise ToolError(f"--identity {other_id!r} is not an identity id of the form <region>:<uuid>", EXIT_USAGE)
    if other_id and args.level == "public":
        raise ToolError("--identity names a per-user folder; public/ is shared by every user", EXIT_USAGE)


def check_creds_options(args):
    """--json and --format must not disagree."""
    if args.format and args.json and args.format != "json":
        raise ToolError(f"--json and --format {args.format} disagree; use one", EXIT_USAGE)


def check_put_options(args):
    """--key names one object unless it is a prefix."""
    if args.key and len(args.paths) > 1 and not args.key.endswith("/"):
        raise ToolError("--key names one object; with several paths give a prefix ending in /", EXIT_USAGE)


def check_rm_options(args):
    """rm --exact takes keys as `ls` prints them, never an empty one."""
    if args.exact and not all(args.keys):
        raise ToolError("rm --exact: an empty KEY would name your folder itself; give the key as `ls` prints it",
                        EXIT_USAGE)


def check_login_options(args):
    """--timeout is bounded; --no-browser and --idp imply --browser."""
    if args.timeout is not None and not 0 < args.timeout <= 3600:
        raise ToolError(f"--timeout {args.timeout}: give 1 to 3600 seconds", EXIT_USAGE)
    args.browser = args.browser or args.no_browser or bool(args.idp)


def check_setup_options(args):
    """MFA factors that fit --mfa; a domain prefix AWS accepts; an OIDC provider given whole, with an https issuer."""
    mfa_factors(args.mfa, args.mfa_factors)
    if args.domain:
        check_domain_prefix(args.domain)
    oidc = (args.oidc_provider, args.oidc_issuer, args.oidc_client_id)
    if any(oidc) and not all(oidc):
        raise ToolError("--oidc-provider NAME needs --oidc-issuer URL and --oidc-client-id ID (and the reverse)",
                        EXIT_USAGE)
    if args.oidc_issuer and not ENDPOINT_RE.match(args.oidc_issuer):
        raise ToolError(f"--oidc-issuer {args.oidc_issuer!r} is not an https URL", EXIT_USAGE)


def check_doctor_options(args):
    """--yes only confirms --fix."""
    if args.yes and not args.fix:
        raise ToolError("--yes confirms --fix; add --fix or drop --yes", EXIT_USAGE)


class Command:
    """Everything one command is: its name, handler, help (summary, description, one example), arguments,
    the checks that span several options, and what an interrupt may have left. The parser, the checks,
    dispatch and --help all come from here, so a new command is one entry of COMMANDS."""

    def __init__(self, name, handler, summary, description, example, arguments=(), checks=None,
                 interrupted_after=""):
        self.name, self.handler, self.summary, self.description = name, handler, summary, description
        self.example, self.arguments, self.checks = example, arguments, checks
        self.interrupted_after = interrupted_after  # appended to "interrupted", for commands that change AWS


COMMANDS = {command.name: command for command in (
    Command("run", cmd_run, "sign in, print credentials, upload (the default)",
            "Sign in, print the ID token, the identity id and the temporary credentials, and upload upload_file "
            "into your folder. With --try-identity, then try another identity's folder with every request that "
            "can't change their data: each must be refused (exit 5 if any is allowed). The word run may be left out.",
            f"{TOOL} run --upload-file notes.txt", RUN_OPTIONS),
    Command("creds", cmd_creds, "print the temporary credentials (cached while valid)",
            "Print the user's temporary AWS credentials: as text, JSON, export lines for a shell (env) or the "
            "JSON credential_process expects (process). They come from the cache while valid, else a renewal "
            "or a sign-in.",
            f'eval "$({TOOL} creds --format env)"',
            [option("--format", choices=("text", "json", "env", "process"),
                    help="text (default), json, env (export lines) or process (credential_process)")],
            checks=check_creds_options),
    Command("login", cmd_login, "sign in (or renew) now and cache the session; print who and until when",
            "Sign in, or renew the cached session, and fill the cache, so that later commands (and "
            "credential_process, which hides prompts) need no code or password. Prints who is signed in and until "
            "when the credentials last. With --browser (or sign_in = browser, the default for a profile with a "
            "domain and no username) the sign-in is the managed login's page in a browser, for federated users "
            "too: the code grant with PKCE, back on the first free loopback port of redirect_uris.",
            f"{TOOL} login --browser --idp Google",
            [option("--browser", action="store_true",
                    help="sign in through the managed login (hosted UI) in a browser, as sign_in = browser does"),
             option("--idp", metavar="NAME", help="go straight to this identity provider (implies --browser)"),
             option("--no-browser", action="store_true",
                    help="print the URL instead of opening a browser, and read the URL the browser ends on from the "
                         "terminal (remote hosts, containers; implies --browser)"),
             option("--timeout", type=int, metavar="SECONDS",
                    help=f"give up on a browser sign-in not completed in time (default: {BROWSER_TIMEOUT})")],
            checks=check_login_options),
    Command("logout", cmd_logout, "revoke the user's refresh token; delete the cached session",
            "Revoke the cached refresh token at Cognito (RevokeToken, or the managed login's /oauth2/revoke for a "
            "profile with a domain), then delete the user's cached credentials "
            "and tokens. A remembered device stays, as it belongs to this computer: later sign-ins still skip MFA, "
            "unless --forget-device. The local secrets are deleted even when Cognito can't be reached; what it was "
            "not told is said (exit 3 or 4).",
            f"{TOOL} logout --forget-device",
            [option("--forget-device", action="store_true",
                    help="also make Cognito forget this computer's remembered device, and delete its secrets")]),
    Command("aws-profile", cmd_aws_profile, "write an AWS profile that gets its credentials from this tool",
            "Write [profile NAME] into the AWS config file (AWS_CONFIG_FILE, else ~/.aws/config) with "
            f"credential_process running {TOOL} for the current --config and --profile, and region (and "
            "endpoint_url, when the profile has one). Other AWS profiles and comments are kept and the file is "
            "replaced atomically. A different existing [profile NAME] is refused without --force.",
            f"{TOOL} aws-profile alice",
            [option("name", metavar="NAME", help="the AWS profile to write, used as aws --profile NAME"),
             option("--force", action="store_true", help="replace a different existing [profile NAME]")],
            interrupted_after="; the AWS config file was written whole or not at all"),
    Command("put", cmd_put, "upload files into your folder",
            "Upload files (with --recursive, folders and everything in them) into your folder, each under its "
            "name or --key. An object is replaced whole, never half-written; --no-clobber keeps existing ones.",
            f"{TOOL} put photos --recursive --no-clobber",
            [option("paths", nargs="+", metavar="PATH", help="files, or folders with --recursive"),
             option("--key", metavar="KEY", help="key for one file, or a prefix ending in / (relative to your folder)"),
             option("--recursive", action="store_true", help="upload folders with everything in them"),
             option("--no-clobber", action="store_true", help="never overwrite an existing object")],
            checks=check_put_options),
    Command("get", cmd_get, "download an object from your folder",
            "Download one object of your folder (with --recursive, every object under a prefix) to a file. The "
            "file appears whole once the download is complete, or not at all.",
            f"{TOOL} get docs/report.pdf /tmp/",
            [option("key", metavar="KEY", help="key relative to your folder"),
             option("dest", nargs="?", metavar="DEST", help="file or folder to write (default: ./<basename>); an "
                                                            "existing file is replaced, once the download is complete"),
             option("--no-clobber", action="store_true", help="never replace an existing local file (exit 2)"),
             option("--recursive", action="store_true",
                    help="KEY is a prefix: download everything under it into the folder DEST (default: .)"),
             IDENTITY_OPTION],
            checks=check_identity_option),
    Command("ls", cmd_ls, "list your folder",
            "List the objects in your folder (or under PREFIX in it): time, size and key relative to the folder, "
            "as `get` and `rm` take it.",
            f"{TOOL} ls docs/ --json",
            [option("prefix", nargs="?", default="", metavar="PREFIX", help="only keys under this prefix"),
             IDENTITY_OPTION],
            checks=check_identity_option),
    Command("rm", cmd_rm, "delete objects from your folder",
            "Delete objects from your folder, saying of each whether it existed (when S3 can tell); with "
            "--recursive, every object under one prefix, after asking.",
            f"{TOOL} rm docs/old.pdf",
            [option("keys", nargs="+", metavar="KEY", help="keys relative to your folder"),
             option("--recursive", action="store_true", help="delete every object under one PREFIX (asks first)"),
             option("--force", action="store_true", help="with --recursive: don't ask (needed without a terminal)"),
             option("--exact", action="store_true",
                    help="take each KEY verbatim, as `ls` prints it (for keys with .. or // that another client "
                         "made); it still names only objects under your folder")],
            checks=check_rm_options),
    Command("sync", cmd_sync, "copy only what differs between a local folder and your folder",
            "sync up DIR [PREFIX] uploads, sync down [PREFIX] DIR downloads, each file whose size differs or whose "
            "source is newer (as aws s3 sync), or with --checksum whose content differs. Every object and file is "
            "replaced whole, so an interrupted sync leaves each old or new; run it again to finish.",
            f"{TOOL} sync up ~/photos photos --delete",
            [option("direction", choices=("up", "down")),
             option("paths", nargs="+", metavar="DIR|PREFIX", help="up: DIR [PREFIX]; down: [PREFIX] DIR"),
             option("--delete", action="store_true", help="delete what the source lacks"),
             option("--dryrun", action="store_true", help="print what would be done; change nothing"),
             option("--checksum", action="store_true",
                    help="compare content (MD5 against the ETag) instead of modification times")]),
    Command("share", cmd_share, "print a link that lets anyone download one object for a while",
            "Print a presigned GET URL for KEY. It is signed with freshly renewed temporary credentials and dies "
            "when they expire (about an hour on Cognito), so a longer --expires is cut to what they allow, with a "
            "warning.",
            f"{TOOL} share docs/report.pdf --expires 10m",
            [option("key", metavar="KEY", help="key relative to your folder"),
             option("--expires", metavar="DURATION",
                    help="such as 90s, 10m, 12h (default: 1h, or less when the credentials end sooner)")]),
    Command("policy", cmd_policy, "print the role's trust and permissions policies as JSON",
            "Print {\"TrustPolicy\": ..., \"PermissionsPolicy\": ...}: exactly what setup attaches to the "
            "authenticated role. Each user may get, put and delete objects under <identity id>/, abort their own "
            "multipart uploads there, and list only that folder; nothing else. The bucket, identity pool and "
            "folder come from the flags or the profile.",
            f"{TOOL} policy --bucket photos-123456789012 --identity-pool-id us-east-1:0e3c...",
            [option("--bucket", metavar="BUCKET", help="the bucket the users' folders are in (default: the profile's)"),
             option("--identity-pool-id", metavar="ID",
                    help="the identity pool, <region>:<uuid> (default: the profile's identity_pool_id)"),
             option("--region", metavar="REGION",
                    help="region of the ARNs' partition (default: the identity pool's region)"),
             FOLDER_OPTION]),
    Command("setup", cmd_setup, "create (or repair) bucket, pools, role and mapping; write the profile",
            "Create whatever is missing of deployment NAME: bucket NAME-<account id> (private, encrypted, TLS only, "
            "stale multipart uploads aborted after 3 days), user pool NAME with app client NAME (no secret, SRP; "
            "--sign-in and --mfa shape them), identity pool NAME, role NAME-authenticated, and the role mapping; "
            "with --domain (and --oidc-provider) the managed login for `login --browser`. "
            "Existing resources are found by name and reported 'exists', or 'updated' when they had drifted; a "
            "second run changes nothing. Then it writes the profile to the config file, keeping its other profiles "
            "and keys (configparser drops comments). " + ADMIN_CREDENTIALS,
            f"{TOOL} setup --name demo --write-config config.ini",
            [option("--name", required=True, metavar="NAME",
                    help="deployment name: 2-32 lowercase letters, digits, hyphens"),
             REGION_OPTION,
             option("--write-config", metavar="PATH", help=f"config file to update (default: --config or "
                                                           f"./{DEFAULT_CONFIG})"),
             # Given after `setup`, --profile is the profile to write; the global one (before `setup`) is its default.
             option("--profile", dest="target_profile", metavar="PROFILE",
                    help="profile to write (default: the global --profile)"),
             option("--device-tracking", choices=tuple(DEVICE_TRACKING),
                    help="remember users' devices: off, opt-in (users choose, --remember-device) or always; a "
                         "remembered device skips MFA (default: off for a new pool, else unchanged)"),
             option("--refresh-token-rotation", action=argparse.BooleanOptionalAction,
                    help="issue a new refresh token at every renewal (GetTokensFromRefreshToken) "
                         "(default: off for a new app client, else unchanged)"),
             option("--guests", action="store_true",
                    help="allow guests (unauthenticated identities), mapped to role NAME-guest, which has no "
                         "access to the bucket"),
             option("--mfa", choices=tuple(MFA_CONFIGURATIONS),
                    help="the user pool's MFA (new pools: off; omitted: left as it is)"),
             option("--mfa-factors", metavar="LIST",
                    help="comma-separated MFA factors of totp, sms, email (default with --mfa: totp)"),
             option("--sign-in", choices=tuple(SIGN_IN_FACTORS),
                    help="srp (password only) or choice: USER_AUTH on the app client and one-time codes by "
                         "email and SMS as first factors (an SNS role NAME-cognito-sms sends the SMS); "
                         "written to the profile as sign_in"),
             option("--domain", metavar="PREFIX",
                    help="browser sign-in: create the user pool domain PREFIX, allow the code grant on the app client "
                         "with callbacks http://localhost:53682-53684/callback, and write the managed login's base "
                         "URL to the profile as domain (with a custom --endpoint-url, local_aws's "
                         "<endpoint>/_local_aws/domain/PREFIX)"),
             option("--oidc-provider", metavar="NAME",
                    help=f"add an OIDC identity provider NAME to the user pool and the app client; its secret comes "
                         f"from {OIDC_SECRET_ENV}"),
             option("--oidc-issuer", metavar="URL", help="the OIDC provider's issuer URL (with --oidc-provider)"),
             option("--oidc-client-id", metavar="ID",
                    help="this user pool's client id at the OIDC provider (with --oidc-provider)"),
             FOLDER_OPTION],
            checks=check_setup_options,
            interrupted_after="; setup may have made part of the deployment: run it again to finish (it repairs "
                              "what exists)"),
    Command("add-user", cmd_add_user, "create a confirmed user in the profile's user pool",
            f"Create USERNAME in the profile's user pool, confirmed, with a permanent password from "
            f"{ENV_PREFIX}PASSWORD (or the profile's password), else a prompt typed twice. A user that already "
            f"exists is left unchanged (exit 0), unless it still waits for its first password "
            f"(FORCE_CHANGE_PASSWORD), which is then set. A password the pool's policy refuses exits 4; no "
            f"password and no terminal exits 2. " + ADMIN_CREDENTIALS,
            f"{TOOL} add-user alice --email alice@example.com",
            [option("username", metavar="USERNAME", help="the new user's name"),
             option("--email", metavar="ADDRESS", help="email address, set as verified (email codes)"),
             option("--phone", metavar="NUMBER", help="phone number in E.164 form, set as verified (SMS)")],
            interrupted_after="; the user may exist without its password: run add-user again"),
    Command("teardown", cmd_teardown, "delete what setup created for NAME",
            "Delete the role mapping, roles (NAME-authenticated and NAME-guest), identity pool, app client, the "
            "user pool's domain and identity providers, user pool and bucket of deployment NAME, in that order (the "
            "reverse of setup). What is already gone is reported 'absent', so it can be rerun. A bucket that still "
            "holds objects stops it before anything is deleted (exit 4) unless --force. " + ADMIN_CREDENTIALS,
            f"{TOOL} teardown --name demo --force",
            [option("--name", required=True, metavar="NAME", help="the deployment name given to setup"),
             REGION_OPTION,
             option("--force", action="store_true",
                    help="first delete every object version and open multipart upload in the bucket")],
            interrupted_after="; teardown may have deleted part of the deployment: run it again to finish"),
    Command("doctor", cmd_doctor, "audit a deployment for leaks and breakage, and prove user isolation",
            "Read the whole chain (app client, identity pool, its roles' trust and policies, the bucket) and report "
            "every finding with an id, a severity (critical: users can reach one another's files or anyone can; "
            "error: users can't use their own folder, or something can't be read; warning: weaker hygiene) and its "
            "fix. Then prove isolation without any password: IAM's SimulatePrincipalPolicy decides, for each mapped "
            "role, whether a made-up identity A may get, put, delete and list in its own folder, in another "
            "identity's folder and at the bucket root. Exit 0 when nothing is worse than a warning, 5 on a critical "
            "finding, else 4. --fix applies the fixes setup knows (role trust and permissions policies, role "
            "mapping, identity pool login settings, bucket settings) after showing them; it never deletes a "
            "resource. The bucket and user pool come from the flags or the profile, or are found through the role's "
            "policies and the identity pool's providers. " + ADMIN_CREDENTIALS,
            f"{TOOL} doctor --fix",
            [option("--identity-pool-id", metavar="ID",
                    help="the deployment's identity pool (default: the profile's identity_pool_id)"),
             option("--bucket", metavar="BUCKET",
                    help="the users' bucket (default: the profile's, else the one the role names)"),
             option("--user-pool-id", metavar="ID", help="the user pool whose app client must be the provider"),
             option("--client-id", metavar="ID", help="that app client (default: the profile's client_id)"),
             option("--region", metavar="REGION", help="default: the profile's region, else the identity pool's"),
             option("--fix", action="store_true", help="repair what setup knows how to, after showing it"),
             option("--yes", action="store_true", help="with --fix: don't ask (needed without a terminal)")],
            checks=check_doctor_options,
            interrupted_after="; doctor --fix may have applied part of its plan: run doctor again to see what is left"),
)}


def option_dest(flags, spec):
    """The attribute an option sets, as argparse names it."""
    return spec.get("dest") or max(flags, key=lambda flag: flag.startswith("--")).lstrip("-").replace("-", "_")


def build_parser():
    """The whole command line from GLOBAL_OPTIONS, RUN_OPTIONS and COMMANDS.

    Global options are accepted after the command too (as the AWS CLI accepts them): each subparser declares
    them again with default=SUPPRESS, so one given before the command is not reset by the subparser. A
    command's own option of the same name (setup --profile) wins after the command.
    """
    parser = ToolArgumentParser(prog=TOOL, description="Sign a Cognito user in and use their own folder of an S3 "
                                                       "bucket.", epilog=EXAMPLES, formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    for flags, spec in GLOBAL_OPTIONS + RUN_OPTIONS:
        parser.add_argument(*flags, **spec)
    main_dests = {option_dest(flags, spec) for flags, spec in GLOBAL_OPTIONS + RUN_OPTIONS}
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=CommandParser)
    parser.set_defaults(command="run")  # after add_subparsers, whose own default would win
    for command in COMMANDS.values():
        sub = subparsers.add_parser(command.name, help=command.summary, description=command.description,
                                    epilog=f"example:\n  {command.example}", formatter_class=HelpFormatter)
        own = set()
        for flags, spec in command.arguments:
            suppressed = option_dest(flags, spec) in main_dests and "default" not in spec
            sub.add_argument(*flags, **spec, **({"default": argparse.SUPPRESS} if suppressed else {}))
            own.update(flags)
        sub.own_actions = list(sub._actions)  # for its usage line; the global ones are listed below it
        group = sub.add_argument_group("global options (also accepted before the command)")
        for flags, spec in GLOBAL_OPTIONS:
            if not own.intersection(flags):
                group.add_argument(*flags, **{**spec, "default": argparse.SUPPRESS})
    return parser


def check_args(args):
    """Rules that span several options, checked once after parsing: the global ones, then the command's."""
    check_run_options(args)
    if COMMANDS[args.command].checks:
        COMMANDS[args.command].checks(args)


# An option whose name says password or secret: the tool has none, as argv is readable by other users
# of the computer and kept in shell history, so one is refused before parsing, without its value.
PASSWORD_OPTION_RE = re.compile(r"^--?[\w-]*(pass|secret)[\w-]*$", re.IGNORECASE)
# Any option whose name may carry a secret (the tool's own --mfa-code among them): no error echoes
# the value given after it (or after its =), wherever on the command line it stands.
SECRET_OPTION_RE = re.compile(r"^(--?[\w-]*(pass|secret|token|code|otp|pin|credential)[\w-]*|-p)$", re.IGNORECASE)
HIDDEN = "<hidden>"


def secret_values(argv):
    """The values on a command line that follow a secret-bearing option name, or its "="."""
    values = []
    for index, token in enumerate(argv):
        if token == "--":
            break
        name, equals, value = token.partition("=")
        if SECRET_OPTION_RE.match(name):
            values.append(value if equals else argv[index + 1] if index + 1 < len(argv) else "")
    return [value for value in values if value]


def redacted(message, secrets):
    """message with each secret, as argparse echoes it (quoted with repr, or bare in a list of arguments), hidden."""
    for value in sorted(set(secrets), key=len, reverse=True):
        message = message.replace(repr(value), repr(HIDDEN))
        message = re.sub(rf"(?<![^\s=]){re.escape(value)}(?![^\s;])", HIDDEN, message)
    return message


def parse_command_line(argv):
    """The parsed and checked arguments; usage errors never echo a secret given on the command line."""
    argv = sys.argv[1:] if argv is None else list(argv)
    for token in argv[:argv.index("--")] if "--" in argv else argv:
        name = token.partition("=")[0]
        if PASSWORD_OPTION_RE.match(name):
            raise ToolError(f"{name} is not an option: the tool never takes a password or secret on the command "
                            f"line, where other users and the shell history can read it; set {ENV_PREFIX}PASSWORD "
                            f"or type it when asked", EXIT_USAGE)
    try:
        args = build_parser().parse_args(argv)
        check_args(args)
    except ToolError as err:
        raise ToolError(redacted(str(err), secret_values(argv)), err.exit_code) from None
    return args


# ====================================================================== main

def on_terminate(signum, frame):
    """Turn SIGTERM into KeyboardInterrupt, so transfers are cancelled and multipart uploads aborted."""
    raise KeyboardInterrupt


def signal_interrupts():
    """Route SIGTERM and SIGHUP through the same clean-up as Ctrl-C."""
    import signal

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name) and signal.getsignal(getattr(signal, name)) == signal.SIG_DFL:
            signal.signal(getattr(signal, name), on_terminate)


def exit_now(code):
    """End the process at once: transfer threads may still be blocked on the network, and the
    interpreter's normal exit would join them, up to a read timeout and its retries later."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def main(argv=None) -> int:
    """Parse, run one command, and turn every failure into one stderr line and an exit code."""
    debug, command = False, None  # a usage error needs no traceback; past parsing --debug decides
    signal_interrupts()
    escape_paths_in_output()
    try:
        args = parse_command_line(argv)
        command = args.command
        debug = args.debug
        out = Output(quiet=args.quiet, debug=args.debug, as_json=args.json)  # every result goes through out
        return COMMANDS[command].handler(args, out)
    except (ToolError, AwsStepError) as err:
        error = explain_aws_error(err) if isinstance(err, AwsStepError) else err
        if debug:
            import traceback

            traceback.print_exc()
        print(f"{TOOL}: error: {error}", file=sys.stderr)
        return error.exit_code
    except Interrupted as err:
        print(f"{TOOL}: interrupted: {err}", file=sys.stderr)
        exit_now(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        # Transfers answer through Interrupted above; here nothing was being uploaded, but a command that
        # changes AWS resources may have made part of its changes.
        print(f"{TOOL}: interrupted{COMMANDS[command].interrupted_after if command else ''}", file=sys.stderr)
        exit_now(EXIT_INTERRUPTED)
    except BrokenPipeError:
        # Output piped into `head` and cut short is not an error worth a traceback.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")
        return EXIT_OK
    except Exception as err:
        if debug:
            raise
        print(f"{TOOL}: unexpected error: {type(err).__name__}: {one_line(err)}; "
              f"run again with --debug for details", file=sys.stderr)
        return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
