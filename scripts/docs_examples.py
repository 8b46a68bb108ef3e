"""Refresh every output shown in README.md's walk-through and in docs/ from one real run.

Usage: python scripts/docs_examples.py [--transcript PATH] [--render-only]

It runs the README's walk-through, then the examples of docs/, in one bash on a pseudo-terminal
against a fresh local_aws, in a fresh copy of the checkout (as scripts/walkthrough.py does), so
that prompts for passwords and codes are answered as a person would: a code from local_aws's
outbox, a TOTP code from the secret the tool printed. Plain commands run with stdin from
/dev/null and their output to a file, as under `make demo`. Every command must succeed (the
examples of failures end in `|| echo "exit $?"`). The transcript is written as JSON; then each
```console block after `<!-- walkthrough -->` in README.md, and after `<!-- example: NAME -->` in
docs/*.md, gets the outputs of its commands, shortened as BLOCKS says. --render-only renders
again from a saved transcript. Review the diff before committing: the prose around the blocks
may need to follow a changed output.
"""

import argparse
import base64
import glob
import hashlib
import hmac
import json
import os
import pty
import re
import select
import shlex
import shutil
import struct
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import walkthrough  # noqa: E402  (the walk-through's extractor and fresh-clone set-up)

HERE = walkthrough.HERE
PASSWORDS = {"alice": "Alice-passw0rd!", "bob": "Bob-passw0rd!"}
WAIT = 180  # seconds any one command may take

# Administrator steps that the docs describe in prose rather than show: plain boto3 calls.
HELPERS = {
    "mistakes.py": '''
"""Three common mistakes on deployment walk: trust without amr, Get and List on the whole bucket, no abort rule."""
import json, os, boto3
kw = dict(endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
iam, s3 = boto3.client("iam", **kw), boto3.client("s3", **kw)
bucket, sub = "arn:aws:s3:::walk-123456789012", "${cognito-identity.amazonaws.com:sub}"
trust = iam.get_role(RoleName="walk-authenticated")["Role"]["AssumeRolePolicyDocument"]
trust = json.loads(trust) if isinstance(trust, str) else trust
for statement in trust["Statement"]:
    statement["Condition"].pop("ForAnyValue:StringLike", None)
iam.update_assume_role_policy(RoleName="walk-authenticated", PolicyDocument=json.dumps(trust))
iam.put_role_policy(RoleName="walk-authenticated", PolicyName="own-folder-in-bucket", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": f"{bucket}/{sub}/*"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket}]}))
s3.delete_bucket_lifecycle(Bucket="walk-123456789012")
''',
    "amplify_files.py": '''
"""The two Amplify config files an app on deployment walk would ship (Gen 1 and Gen 2)."""
import configparser, json
config = configparser.ConfigParser()
config.read("config.ini")
p, region = config["alice"], config["alice"]["region"]
json.dump({"aws_project_region": region, "aws_cognito_region": region, "aws_user_pools_id": p["user_pool_id"],
           "aws_user_pools_web_client_id": p["client_id"], "aws_cognito_identity_pool_id": p["identity_pool_id"],
           "aws_user_files_s3_bucket": p["bucket"], "aws_user_files_s3_bucket_region": region},
          open("amplifyconfiguration.json", "w"), indent=2)
json.dump({"version": "1.3",
           "auth": {"aws_region": region, "user_pool_id": p["user_pool_id"], "user_pool_client_id": p["client_id"],
                    "identity_pool_id": p["identity_pool_id"]},
           "storage": {"aws_region": region, "bucket_name": p["bucket"],
                       "buckets": [{"name": "walk", "bucket_name": p["bucket"], "aws_region": region, "paths": {
                           "private/{entity_id}/*": {"entityidentity": ["get", "list", "write", "delete"]}}}]}},
          open("amplify_outputs.json", "w"), indent=2)
''',
    "amplify_levels.py": '''
"""Amplify Gen 1's statements for public/ and protected/, added to role walk-authenticated."""
import json, os, boto3
iam = boto3.client("iam", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
bucket, sub = "arn:aws:s3:::walk-123456789012", "${cognito-identity.amazonaws.com:sub}"
iam.put_role_policy(RoleName="walk-authenticated", PolicyName="amplify-access-levels", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": [f"{bucket}/public/*", f"{bucket}/protected/{sub}/*"]},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket}/protected/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket,
         "Condition": {"StringLike": {"s3:prefix": ["public/", "public/*", "protected/", "protected/*"]}}}]}))
''',
}


# =============================================================================== the session

class Session:
    """One bash on a pseudo-terminal, as a person's shell; commands run in it one at a time."""

    def __init__(self, clone, env):
        """Start bash in the clone, quiet: no echo of what is typed, no prompt."""
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(clone)
            os.execvpe("bash", ["bash", "--norc", "--noprofile"], env)
        self.output = tempfile.mktemp(prefix="docs-examples-out-")
        self.buffer = b""
        self.count = 0
        self.transcript = []
        os.write(self.fd, b"stty -echo; PS1=''; PS2=''\n")
        self.read_until(self.tag_line("ready"), [])

    def tag_line(self, tag):
        """A command line that prints a tag and the last exit code, and the pattern that finds it."""
        os.write(self.fd, f"printf '__{tag}__%s\\n' \"$?\"\n".encode())
        return re.escape(f"__{tag}__") + r"(\d+)\r?\n"

    def read_until(self, pattern, answers):
        """Read until pattern, typing each answer once its prompt shows; the text read and the match."""
        start, seen, pending = len(self.buffer), len(self.buffer), list(answers)
        deadline = time.monotonic() + WAIT
        while True:
            text = self.buffer[start:].decode(errors="replace")
            match = re.search(pattern, text)
            if match:
                self.buffer = b""
                return text, match
            if pending and pending[0][0] in self.buffer[seen:].decode(errors="replace"):
                seen = len(self.buffer)
                os.write(self.fd, (pending.pop(0)[1](text) + "\n").encode())
            if time.monotonic() > deadline:
                raise SystemExit(f"docs_examples: no end after {WAIT} s; the last output: {text[-1500:]!r}")
            if select.select([self.fd], [], [], 0.2)[0]:
                self.buffer += os.read(self.fd, 65536)

    def run(self, command, mode="plain", answers=(), show=True):
        """Run a command; plain: no terminal for it; tty: on the terminal; detached: no terminal at all."""
        self.count += 1
        tag = f"DONE{self.count}"
        out = shlex.quote(self.output)
        if mode == "tty":  # one line, so that bash has read all of it before the command reads the terminal
            os.write(self.fd, f"{command}; printf '__{tag}__%s\\n' \"$?\"\n".encode())
            pattern = re.escape(f"__{tag}__") + r"(\d+)\r?\n"
        else:
            if mode == "plain":
                line = f"{{ {command}\n}} </dev/null >{out} 2>&1; __rc=$?; cat {out}; (exit $__rc)\n"
            elif mode == "detached":
                line = f"setsid -w bash -c {shlex.quote(command)} </dev/null >{out} 2>&1; __rc=$?; cat {out}; (exit $__rc)\n"
            else:  # background
                line = command + "\n"
            os.write(self.fd, line.encode())
            pattern = self.tag_line(tag)
        text, match = self.read_until(pattern, answers)
        output = text[:match.start()].replace("\r\n", "\n").replace("\r", "\n")
        if mode == "background":
            output = ""  # bash's job notice ([1] PID) belongs to an interactive shell only
        code = int(match.group(1))
        print(f"$ {command}\n{output}", end="", flush=True)
        if code:
            raise SystemExit(f"docs_examples: exit {code}: {command}")
        if show:
            self.transcript.append({"cmd": command, "out": output})
        return output


def totp(secret, at=None):
    """RFC 6238 code (SHA-1, 6 digits, 30 s), as an authenticator app shows it."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", int((at or time.time()) // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def fresh_totp_step():
    """Wait for the next 30 s step: a TOTP code is accepted once."""
    time.sleep(31 - time.time() % 30)


# =============================================================================== the scenario

def scenario(session, walk):
    """The README's walk-through, then every example of docs/, in the order the docs tell them."""
    endpoint = lambda: json.load(open(os.path.join(walk, "local_aws.json")))["endpoint_url"]  # noqa: E731
    secrets = {}

    def outbox_code(_screen):
        with urllib.request.urlopen(endpoint() + "/_local_aws/messages", timeout=10) as response:
            return json.load(response)[-1]["code"]

    def enrol(screen):
        secrets["bob"] = re.search(r"secret: ([A-Z2-7]+)", screen).group(1)
        return totp(secrets["bob"])

    def password(user):
        return lambda _screen: PASSWORDS[user]

    run = session.run
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as handle:
        for command in walkthrough.walkthrough_commands(handle.read()):
            if not command.startswith("kill %1"):
                run(command, "background" if command.rstrip().endswith("&") else "plain")
    run('ADMIN="AWS_ACCESS_KEY_ID=$(python -c \'import json; print(json.load(open("local_aws.json"))["aws_access_key_id"])\') '
        'AWS_SECRET_ACCESS_KEY=$(python -c \'import json; print(json.load(open("local_aws.json"))["aws_secret_access_key"])\')"',
        show=False)
    for name, text in HELPERS.items():
        with open(os.path.join(walk, "..", name), "w") as handle:
            handle.write(text)
    admin = 'env $ADMIN cog-auth-s3 --endpoint-url "$ENDPOINT"'
    # sign-in.md: login, logout, creds, the AWS CLI
    for command in [
        "cog-auth-s3 --profile alice login",
        "cog-auth-s3 --profile alice creds --format env",
        "cog-auth-s3 --profile alice creds --format process",
        "cog-auth-s3 --profile alice --json creds",
        "cog-auth-s3 --profile alice logout",
        "COG_AUTH_S3_PASSWORD='Alice-passw0rd!' cog-auth-s3 --profile alice login",
        "cog-auth-s3 --profile alice login",
        'aws --profile alice s3 cp alice.txt "s3://walk-123456789012/$ALICE_ID/notes/alice.txt"',
        'aws --profile alice s3 ls "s3://walk-123456789012/$ALICE_ID/" --recursive',
        'aws --profile alice s3 ls s3://walk-123456789012/ || echo "exit $?"',
        "cog-auth-s3 --profile alice aws-profile 'alice main' || echo \"exit $?\"",
        "cog-auth-s3 --profile alice rm notes/alice.txt",
        # files.md
        "mkdir -p photos/2026 && echo a > photos/a.jpg && echo b > photos/2026/b.jpg && echo c > photos/2026/c.jpg",
        "head -c 40000000 /dev/urandom > video.mp4",
        "cog-auth-s3 --profile alice put video.mp4 --key videos/",
        "cog-auth-s3 --profile alice put photos/2026/b.jpg --key photos/2026/b.jpg",
        "cog-auth-s3 --profile alice put photos --recursive --no-clobber",
        'cog-auth-s3 --profile alice put alice.txt --key videos/video.mp4 --no-clobber || echo "exit $?"',
        "cog-auth-s3 --profile alice ls",
        "cog-auth-s3 --profile alice get videos/video.mp4 copy.mp4",
        "cog-auth-s3 --profile alice rm photos/a.jpg videos/video.mp4",
        'cog-auth-s3 --profile alice rm photos/a.jpg || echo "exit $?"',
        'cog-auth-s3 --profile alice rm photos || echo "exit $?"',
        'cog-auth-s3 --profile alice put alice.txt --key ../escape.txt || echo "exit $?"',
        "cog-auth-s3 --profile alice sync up photos photos",
        "cog-auth-s3 --profile alice sync up photos photos",
        "echo changed > photos/a.jpg; rm photos/2026/c.jpg",
        "cog-auth-s3 --profile alice sync up photos photos --delete --dryrun",
        "cog-auth-s3 --profile alice sync up photos photos --delete",
        "mv photos/2026 photos-2026 && ln -s ../photos-2026 photos/2026 && mkfifo photos/pipe",
        'cog-auth-s3 --profile alice sync up photos photos --delete || echo "exit $?"',
        "rm photos/2026 photos/pipe && mv photos-2026 photos/2026",
        "cog-auth-s3 --profile alice sync down photos copy",
        "cog-auth-s3 --profile alice sync down photos copy --checksum",
        "cog-auth-s3 --profile alice get --recursive photos/2026/ got",
        "cog-auth-s3 --profile alice share photos/a.jpg",
        "cog-auth-s3 --profile alice share photos/a.jpg --expires 10m",
        "cog-auth-s3 --profile alice share photos/a.jpg --expires 12h",
        'cog-auth-s3 --profile alice rm --recursive photos </dev/null || echo "exit $?"',
        "cog-auth-s3 --profile alice rm --recursive photos --force",
        # administration.md and run.md: doctor, three mistakes, the probe catching one, the fix
        "env $ADMIN cog-auth-s3 --profile alice doctor",
    ]:
        run(command)
    run("env $ADMIN python ../mistakes.py", show=False)
    for command in [
        'cog-auth-s3 --profile alice run --try-identity "$BOB_ID" || echo "exit $?"',
        'env $ADMIN cog-auth-s3 --profile alice doctor || echo "exit $?"',
        "env $ADMIN cog-auth-s3 --profile alice doctor --fix --yes",
        'cog-auth-s3 --profile alice run --try-identity "$BOB_ID"',
        'cog-auth-s3 --profile alice run --try-identity "$BOB_ID" --try-key bob.txt',
        f"{admin} setup --name walk --folder 'private/{{identity_id}}' || echo \"exit $?\"",
        # sign-in.md: one-time codes, MFA, remembered devices; administration.md: setup's options
        f"{admin} setup --name walk --profile alice --sign-in choice --mfa optional --mfa-factors totp,email",
    ]:
        run(command)
    run("COG_AUTH_S3_SIGN_IN=email-otp cog-auth-s3 --profile alice --no-cache login", "tty", [("Code", outbox_code)])
    run("COG_AUTH_S3_SIGN_IN=sms-otp cog-auth-s3 --profile bob --no-cache login", "tty", [("Code", outbox_code)])
    run("cog-auth-s3 --profile alice --no-cache login", "tty", [("Password", password("alice"))])
    run(f"{admin} setup --name walk --profile bob --mfa required --guests")
    run("cog-auth-s3 --profile bob --no-cache login", "tty",
        [("Password", password("bob")), ("Code from your authenticator app", enrol)])
    fresh_totp_step()
    run(f"COG_AUTH_S3_PASSWORD='Bob-passw0rd!' cog-auth-s3 --profile bob --no-cache --mfa-code {totp(secrets['bob'])} login")
    run("COG_AUTH_S3_PASSWORD='Bob-passw0rd!' cog-auth-s3 --profile bob --no-cache --mfa-code 000000 login || echo \"exit $?\"")
    run("COG_AUTH_S3_PASSWORD='Bob-passw0rd!' cog-auth-s3 --profile bob --no-cache login || echo \"exit $?\"", "detached")
    run(f"{admin} setup --name walk --profile bob --device-tracking always --refresh-token-rotation")
    run("cog-auth-s3 --profile bob logout")
    fresh_totp_step()
    run(f"COG_AUTH_S3_PASSWORD='Bob-passw0rd!' cog-auth-s3 --profile bob --mfa-code {totp(secrets['bob'])} put bob.txt")
    run("cog-auth-s3 --profile bob logout")
    run("COG_AUTH_S3_PASSWORD='Bob-passw0rd!' cog-auth-s3 --profile bob login")
    run("""python -c 'import os, urllib.request as u; u.urlopen(u.Request(os.environ["ENDPOINT"] + "/_local_aws/clock", b"{\\"advance_seconds\\": 3700}"))'""")
    for command in [
        "cog-auth-s3 --profile bob put bob.txt --key again.txt",
        "cog-auth-s3 --profile bob logout --forget-device",
        f"{admin} setup --name walk --profile bob --mfa off --device-tracking opt-in --no-refresh-token-rotation",
        # amplify.md
        f"{admin} setup --name walk --profile alice --folder 'private/{{identity_id}}/'",
    ]:
        run(command)
    run("python ../amplify_files.py", show=False)
    for command in [
        "cat amplifyconfiguration.json",
        "cat amplify_outputs.json",
        "mkdir -p app && cd app",
        "printf '[alice]\\nusername = alice\\nendpoint_url = %s\\n\\n[bob]\\nusername = bob\\nendpoint_url = %s\\n' "
        '"$ENDPOINT" "$ENDPOINT" > config.ini',
        "cat config.ini",
        "cog-auth-s3 --profile alice --amplify-config ../amplify_outputs.json put ../alice.txt",
        "cog-auth-s3 --profile alice --amplify-config ../amplifyconfiguration.json ls",
        'cog-auth-s3 --profile alice --amplify-config ../amplifyconfiguration.json --level public put ../alice.txt || echo "exit $?"',
    ]:
        run(command)
    run("env $ADMIN python ../../amplify_levels.py", show=False)
    for command in [
        "cog-auth-s3 --profile alice --amplify-config ../amplifyconfiguration.json --level public put ../alice.txt",
        "COG_AUTH_S3_AMPLIFY_CONFIG=../amplifyconfiguration.json cog-auth-s3 --profile alice --level protected put ../alice.txt",
        "COG_AUTH_S3_PASSWORD='Bob-passw0rd!' cog-auth-s3 --profile bob --amplify-config ../amplifyconfiguration.json "
        '--level protected ls --identity "$ALICE_ID"',
        "cog-auth-s3 --profile bob --amplify-config ../amplifyconfiguration.json --level protected get "
        '--identity "$ALICE_ID" alice.txt alices-notes.txt',
        'cog-auth-s3 --profile bob --amplify-config ../amplifyconfiguration.json ls --identity "$ALICE_ID" || echo "exit $?"',
        "cd ..",
        # administration.md: teardown
        f'{admin} teardown --name walk || echo "exit $?"',
        f"{admin} teardown --name walk --force",
        f'{admin} teardown --name walk || echo "exit $?"',
        "kill %1",
    ]:
        run(command)


def record(transcript_path):
    """Run the scenario in a fresh copy of the checkout; save and return the transcript."""
    root = tempfile.mkdtemp(prefix="docs-examples-")
    clone = os.path.join(root, "cog-auth-s3")
    walkthrough.fresh_clone(clone)
    bin_dir = os.path.join(root, "bin")
    walkthrough.install_commands(bin_dir, clone)
    env = walkthrough.reader_environment(root, bin_dir)
    env["TERM"] = "dumb"
    session = Session(clone, env)
    try:
        scenario(session, os.path.join(clone, "walk"))
    finally:  # local_aws is the shell's job 1; stop it even when a command failed
        os.write(session.fd, b"kill %1 2>/dev/null; exit\n")
        os.waitpid(session.pid, 0)
    with open(transcript_path, "w") as handle:
        json.dump(session.transcript, handle, indent=1)
    shutil.rmtree(root, ignore_errors=True)  # kept when a command failed, to look into
    os.remove(session.output)
    return session.transcript


# =============================================================================== rendering

def tokens_cut(text):
    """Long tokens and signatures shortened to a recognisable start and …"""
    text = re.sub(r"^(ID token:\s+|Session token:\s+|export AWS_SESSION_TOKEN=)(\S{40})\S+", r"\1\2…", text, flags=re.M)
    text = re.sub(r'("SessionToken": ")([^"]{40})[^"]+"', r'\1\2…"', text)
    text = re.sub(r"(X-Amz-Security-Token=)([^&]{20})[^&]+", r"\1\2…", text)
    return re.sub(r"(X-Amz-Signature=)([0-9a-f]{8})[0-9a-f]+", r"\1\2…", text)


def only(*patterns):
    """Keep the lines matching a pattern; each run of lines left out becomes one …"""
    def keep(text):
        lines = []
        for line in text.splitlines():
            if any(re.search(pattern, line) for pattern in patterns):
                lines.append(line)
            elif not lines or lines[-1] != "…":
                lines.append("…")
        return "\n".join(lines)
    return keep


def until(pattern):
    """Keep the lines up to the first matching one, then …"""
    def keep(text):
        lines = text.splitlines()
        end = next(i for i, line in enumerate(lines) if re.search(pattern, line))
        return "\n".join(lines[:end + 1] + ["…"])
    return keep


def without(pattern):
    """Drop the lines matching pattern (a progress line meant for a terminal, an empty line)."""
    return lambda text: "\n".join(line for line in text.splitlines() if not re.search(pattern, line))


class Outputs:
    """The transcript, looked up by command; identity ids shortened on request."""

    def __init__(self, transcript):
        """Index the transcript by command, keeping repeats in order."""
        self.by_command = {}
        for item in transcript:
            self.by_command.setdefault(item["cmd"], []).append(item["out"])
        runs = {user: self.by_command[f"COG_AUTH_S3_PASSWORD='{password}' cog-auth-s3 --profile {user} run"][0]
                for user, password in PASSWORDS.items()}
        self.identity_ids = [re.search(r"Identity id:\s+(\S+)", out).group(1) for out in runs.values()]

    def short_ids(self, text):
        """alice's and bob's identity ids in a line shortened to their first characters."""
        for identity_id in self.identity_ids:
            text = text.replace(identity_id, identity_id[:14] + "…")
        return text

    def shown(self, command, shapes=(), nth=0):
        """$ command and its output as shapes make it; a command may be a pattern (re:...)."""
        if command.startswith("re:"):
            command = next(c for c in self.by_command if re.fullmatch(command[3:], c))
        out = self.by_command[command][nth]
        for shape in shapes:
            out = self.short_ids(out) if shape == "short ids" else shape(out)
        lines = [line.rstrip() for line in out.strip("\n").splitlines()]
        return "\n".join([f"$ {command}"] + lines) + "\n"


README_SHAPES = {
    'cog-auth-s3 --endpoint-url "$ENDPOINT" setup --name walk --profile bob': [until(r"^wrote \[bob\]")],
    "COG_AUTH_S3_PASSWORD='Alice-passw0rd!' cog-auth-s3 --profile alice run": [tokens_cut],
    "COG_AUTH_S3_PASSWORD='Bob-passw0rd!' cog-auth-s3 --profile bob run": [only(r"^Identity id:", r"^Uploaded:")],
    "cog-auth-s3 --profile bob creds": [only(r"^Identity id:", r"^Expiration:")],
    'cog-auth-s3 --profile alice run --try-identity "$BOB_ID" --try-key bob.txt':
        [only(r"^Isolation:", r"^  refused   ListObjectsV2 +s3://[^/\s]+/[^?\s]+/ \(",
              r"^  unproven  GetObject +\S+bob\.txt \(")],
}
FILES = [tokens_cut, "short ids"]
ADMIN = 'env $ADMIN cog-auth-s3 --endpoint-url "$ENDPOINT"'
AMPLIFY = "cog-auth-s3 --profile {} --amplify-config ../amplifyconfiguration.json"
# Each docs/ block: (command, shapes[, which run of a repeated command]).
BLOCKS = {
    "signin-login": [("cog-auth-s3 --profile alice login", ()), ("cog-auth-s3 --profile alice logout", ()),
                     ("COG_AUTH_S3_PASSWORD='Alice-passw0rd!' cog-auth-s3 --profile alice login", ()),
                     ("cog-auth-s3 --profile alice login", (), 1)],
    "signin-codes": [("COG_AUTH_S3_SIGN_IN=email-otp cog-auth-s3 --profile alice --no-cache login", ()),
                     ("COG_AUTH_S3_SIGN_IN=sms-otp cog-auth-s3 --profile bob --no-cache login", ()),
                     ("cog-auth-s3 --profile alice --no-cache login", ())],
    "signin-mfa": [("cog-auth-s3 --profile bob --no-cache login", ()),
                   (r"re:COG_AUTH_S3_PASSWORD='Bob-passw0rd!' cog-auth-s3 --profile bob --no-cache --mfa-code \d{6} login", ()),
                   ("COG_AUTH_S3_PASSWORD='Bob-passw0rd!' cog-auth-s3 --profile bob --no-cache --mfa-code 000000 login "
                    '|| echo "exit $?"', ())],
    "signin-notty": [("COG_AUTH_S3_PASSWORD='Bob-passw0rd!' cog-auth-s3 --profile bob --no-cache login || echo \"exit $?\"", ())],
    "signin-devices": [(f"{ADMIN} setup --name walk --profile bob --device-tracking always --refresh-token-rotation",
                        [until(r"^wrote \[bob\]")]),
                       ("cog-auth-s3 --profile bob logout", ()),
                       (r"re:COG_AUTH_S3_PASSWORD='Bob-passw0rd!' cog-auth-s3 --profile bob --mfa-code \d{6} put bob.txt", ()),
                       ("cog-auth-s3 --profile bob logout", (), 1),
                       ("COG_AUTH_S3_PASSWORD='Bob-passw0rd!' cog-auth-s3 --profile bob login", ())],
    "signin-expired": [("cog-auth-s3 --profile bob put bob.txt --key again.txt", ()),
                       ("cog-auth-s3 --profile bob logout --forget-device", ())],
    "signin-creds": [("cog-auth-s3 --profile alice creds --format env", [tokens_cut]),
                     ("cog-auth-s3 --profile alice creds --format process", [tokens_cut]),
                     ("cog-auth-s3 --profile alice --json creds", [tokens_cut])],
    "signin-profile-name": [("cog-auth-s3 --profile alice aws-profile 'alice main' || echo \"exit $?\"", ())],
    "signin-awscli": [('aws --profile alice s3 cp alice.txt "s3://walk-123456789012/$ALICE_ID/notes/alice.txt"',
                       [without(r"^Completed |^\s*$")]),
                      ('aws --profile alice s3 ls "s3://walk-123456789012/$ALICE_ID/" --recursive', ()),
                      ('aws --profile alice s3 ls s3://walk-123456789012/ || echo "exit $?"', ())],
    "files-1": [("mkdir -p photos/2026 && echo a > photos/a.jpg && echo b > photos/2026/b.jpg && echo c > photos/2026/c.jpg", ()),
                ("head -c 40000000 /dev/urandom > video.mp4", ()),
                ("cog-auth-s3 --profile alice put video.mp4 --key videos/", ()),
                ("cog-auth-s3 --profile alice put photos/2026/b.jpg --key photos/2026/b.jpg", FILES),
                ("cog-auth-s3 --profile alice put photos --recursive --no-clobber", FILES),
                ('cog-auth-s3 --profile alice put alice.txt --key videos/video.mp4 --no-clobber || echo "exit $?"', FILES),
                ("cog-auth-s3 --profile alice ls", ()),
                ("cog-auth-s3 --profile alice get videos/video.mp4 copy.mp4", FILES),
                ("cog-auth-s3 --profile alice rm photos/a.jpg videos/video.mp4", FILES),
                ('cog-auth-s3 --profile alice rm photos/a.jpg || echo "exit $?"', FILES),
                ('cog-auth-s3 --profile alice rm photos || echo "exit $?"', FILES),
                ('cog-auth-s3 --profile alice put alice.txt --key ../escape.txt || echo "exit $?"', ())],
    "files-2": [("cog-auth-s3 --profile alice sync up photos photos", FILES),
                ("cog-auth-s3 --profile alice sync up photos photos", (), 1),
                ("echo changed > photos/a.jpg; rm photos/2026/c.jpg", ()),
                ("cog-auth-s3 --profile alice sync up photos photos --delete --dryrun", FILES),
                ("cog-auth-s3 --profile alice sync up photos photos --delete", FILES),
                ("mv photos/2026 photos-2026 && ln -s ../photos-2026 photos/2026 && mkfifo photos/pipe", ()),
                ('cog-auth-s3 --profile alice sync up photos photos --delete || echo "exit $?"', FILES),
                ("rm photos/2026 photos/pipe && mv photos-2026 photos/2026", ()),
                ("cog-auth-s3 --profile alice sync down photos copy", FILES),
                ("cog-auth-s3 --profile alice sync down photos copy --checksum", ()),
                ("cog-auth-s3 --profile alice get --recursive photos/2026/ got", FILES),
                ("cog-auth-s3 --profile alice share photos/a.jpg", [tokens_cut]),
                ("cog-auth-s3 --profile alice share photos/a.jpg --expires 10m", [tokens_cut]),
                ("cog-auth-s3 --profile alice share photos/a.jpg --expires 12h", [tokens_cut]),
                ('cog-auth-s3 --profile alice rm --recursive photos </dev/null || echo "exit $?"', ()),
                ("cog-auth-s3 --profile alice rm --recursive photos --force", FILES)],
    "files-folder": [(f"{ADMIN} setup --name walk --folder 'private/{{identity_id}}' || echo \"exit $?\"", ())],
    "run-broken": [('cog-auth-s3 --profile alice run --try-identity "$BOB_ID" || echo "exit $?"',
                    [only(r"^warning:", r"^Isolation:", r"^  ALLOWED   \S+ +s3://[^?\s]+ \(", r"^  refused   PutObject ",
                          r"^exit")])],
    "run-holds": [('cog-auth-s3 --profile alice run --try-identity "$BOB_ID"',
                   [only(r"^Isolation:", r"^  refused   \S+ +s3://[^/\s]+/[^?\s]+/ \(", r"^  refused   (PutObject|AbortMultipartUpload) ",
                         r"^  not tried")]),
                  ('cog-auth-s3 --profile alice run --try-identity "$BOB_ID" --try-key bob.txt',
                   [only(r"^Isolation:", r"^  unproven  GetObject +\S+bob\.txt \(")])],
    "admin-doctor-clean": [("env $ADMIN cog-auth-s3 --profile alice doctor", ())],
    "admin-doctor-leak": [('env $ADMIN cog-auth-s3 --profile alice doctor || echo "exit $?"', ()),
                          ("env $ADMIN cog-auth-s3 --profile alice doctor --fix --yes", ())],
    "admin-setup-options": [
        (f"{ADMIN} setup --name walk --profile alice --sign-in choice --mfa optional --mfa-factors totp,email", ()),
        (f"{ADMIN} setup --name walk --profile bob --mfa required --guests", [until(r"^role mapping")]),
        (f"{ADMIN} setup --name walk --profile bob --mfa off --device-tracking opt-in --no-refresh-token-rotation",
         [until(r"^app client")])],
    "admin-teardown": [(f'{ADMIN} teardown --name walk || echo "exit $?"', ()),
                       (f"{ADMIN} teardown --name walk --force", ()),
                       (f'{ADMIN} teardown --name walk || echo "exit $?"', (), 1)],
    "amplify-setup": [(f"{ADMIN} setup --name walk --profile alice --folder 'private/{{identity_id}}/'", ())],
    "amplify-files": [("cat amplifyconfiguration.json", ()), ("cat amplify_outputs.json", ())],
    "amplify-use": [("mkdir -p app && cd app", ()),
                    ("printf '[alice]\\nusername = alice\\nendpoint_url = %s\\n\\n[bob]\\nusername = bob\\nendpoint_url = %s\\n' "
                     '"$ENDPOINT" "$ENDPOINT" > config.ini', ()),
                    ("cat config.ini", ()),
                    ("cog-auth-s3 --profile alice --amplify-config ../amplify_outputs.json put ../alice.txt", ()),
                    (AMPLIFY.format("alice") + " ls", ()),
                    (AMPLIFY.format("alice") + ' --level public put ../alice.txt || echo "exit $?"', ())],
    "amplify-levels": [(AMPLIFY.format("alice") + " --level public put ../alice.txt", ()),
                       ("COG_AUTH_S3_AMPLIFY_CONFIG=../amplifyconfiguration.json cog-auth-s3 --profile alice --level "
                        "protected put ../alice.txt", ()),
                       ("COG_AUTH_S3_PASSWORD='Bob-passw0rd!' " + AMPLIFY.format("bob")
                        + ' --level protected ls --identity "$ALICE_ID"', ()),
                       (AMPLIFY.format("bob") + ' --level protected get --identity "$ALICE_ID" alice.txt alices-notes.txt', ()),
                       (AMPLIFY.format("bob") + ' ls --identity "$ALICE_ID" || echo "exit $?"', ())],
}


def render(text, outputs):
    """Text whose walk-through and example blocks show the transcript's outputs."""
    def walkthrough_block(match):
        body = ""
        for line in match.group(2).splitlines():
            if not line.startswith(walkthrough.PROMPT):
                continue
            command = line[len(walkthrough.PROMPT):]
            quiet = command.startswith("kill %1") or command.rstrip().endswith("&") or command not in outputs.by_command
            body += f"{line}\n" if quiet else outputs.shown(command, README_SHAPES.get(command, ()))
        return match.group(1) + body + "```"

    def example_block(match):
        return match.group(1) + "".join(outputs.shown(*entry) for entry in BLOCKS[match.group(2)]) + "```"

    text = re.sub(r"(<!-- walkthrough -->\n```console\n)(.*?)```", walkthrough_block, text, flags=re.S)
    return re.sub(r"(<!-- example: ([a-z0-9-]+) -->\n```console\n).*?```", example_block, text, flags=re.S)


def main(argv=None):
    """Record a run (unless --render-only) and render README.md and docs/*.md from it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcript", default=os.path.join(tempfile.gettempdir(), "cog-auth-s3-docs-examples.json"))
    parser.add_argument("--render-only", action="store_true", help="render from the saved transcript")
    args = parser.parse_args(argv)
    if args.render_only:
        with open(args.transcript) as handle:
            transcript = json.load(handle)
    else:
        transcript = record(args.transcript)
    outputs = Outputs(transcript)
    for path in [os.path.join(HERE, "README.md")] + sorted(glob.glob(os.path.join(HERE, "docs", "*.md"))):
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        new = render(text, outputs)
        if new != text:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(new)
            print(f"docs_examples: rendered {os.path.relpath(path, HERE)}")
    print(f"docs_examples: transcript in {args.transcript}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
