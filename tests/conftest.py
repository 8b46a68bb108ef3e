"""Fixtures: a real local_aws server over HTTP, and the CLI run as a subprocess (plain helpers: helpers.py)."""

import signal
import subprocess
import uuid

import pytest

from botocore.config import Config

from helpers import (PASSWORDS, REGION, TOOL_COMMAND, ActionWorld, Faults, RequestLog, TerminalRun, World, admin_env,
                     compile_sources, control_call, managed_login_app, run_cli, stack_maker, start_local_aws,
                     stop_local_aws, unique_name, user_env, write_config)


def pytest_configure(config):
    """Bytecode for every run of the tool and local_aws, before the first."""
    compile_sources()


@pytest.fixture(scope="session")
def local_aws():
    """One local AWS for the whole session: {"endpoint_url", "aws_access_key_id", ...}."""
    proc, info = start_local_aws()
    yield info
    stop_local_aws(proc)


@pytest.fixture(scope="session")
def admin_session(local_aws):
    """A boto3 session holding the local administrator's keys."""
    import boto3

    return boto3.Session(
        aws_access_key_id=local_aws["aws_access_key_id"],
        aws_secret_access_key=local_aws["aws_secret_access_key"],
        region_name="us-east-1",
    )


@pytest.fixture
def idp(admin_client):
    """cognito-idp signed with the administrator's keys."""
    return admin_client("cognito-idp")


@pytest.fixture
def public(local_aws):
    """cognito-idp unsigned, as an end user's tool calls InitiateAuth/RespondToAuthChallenge."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    return boto3.client("cognito-idp", region_name="us-east-1", endpoint_url=local_aws["endpoint_url"],
                        config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))


@pytest.fixture
def admin_client(admin_session, local_aws):
    """admin_client("s3") -> a client of the local AWS signed as the administrator."""
    def make(service, region="us-east-1"):
        return admin_session.client(service, region_name=region, endpoint_url=local_aws["endpoint_url"])
    return make


@pytest.fixture
def cli(tmp_path):
    """cli(*args, config=..., **env) runs the tool in tmp_path with a user's environment."""
    def run(*args, env_extra=None, stdin=subprocess.DEVNULL, timeout=120):
        return run_cli(*args, env=user_env(tmp_path, **(env_extra or {})), cwd=tmp_path, stdin=stdin,
                       timeout=timeout)
    return run


@pytest.fixture(scope="session")
def make_stack(admin_session, local_aws):
    """make_stack(name, permissions=least_privilege) builds pools, users alice and bob, role and bucket
    with admin calls (independent of the tool's own `setup`) and returns their ids."""
    return stack_maker(admin_session, local_aws)


@pytest.fixture(scope="module")
def clock_aws():
    """A local_aws of the module's own for tests that move its clock (moving the shared one's would expire
    the sessions other tests hold): its interface line plus "admin_session" and "make_stack"."""
    import boto3

    proc, info = start_local_aws()
    admin = boto3.Session(aws_access_key_id=info["aws_access_key_id"],
                          aws_secret_access_key=info["aws_secret_access_key"], region_name=REGION)
    yield {**info, "admin_session": admin, "make_stack": stack_maker(admin, info)}
    stop_local_aws(proc)


@pytest.fixture(scope="session")
def stack(make_stack):
    """One least-privilege stack shared by the tests that only read from it or write their own keys."""
    return make_stack("shared")


@pytest.fixture
def user_config(tmp_path, stack):
    """user_config(username, **overrides) -> path of a config.ini with a [default] profile for that user."""
    upload = tmp_path / "hello.txt"
    upload.write_text("hello from cog_auth_s3\n")

    def make(username="alice", name="config.ini", profile="default", **overrides):
        values = {k: v for k, v in stack.items() if k not in ("role", "client_secret")}
        values.update(username=username, password=PASSWORDS.get(username), upload_file=str(upload))
        values.update(overrides)
        return write_config(tmp_path / name, {profile: values})
    return make


@pytest.fixture
def request_log(local_aws):
    """A cleared view of the requests local_aws receives during one test."""
    log = RequestLog(local_aws["endpoint_url"])
    log.clear()
    return log


@pytest.fixture
def faults(local_aws):
    """Faults of the shared local_aws, cleared at the end of the test."""
    injector = Faults(local_aws["endpoint_url"])
    yield injector
    injector.clear()


@pytest.fixture
def silent_server():
    """The URL of a TCP server that accepts connections and never answers: a hung endpoint."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    held, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                held.append(server.accept()[0])  # kept open, never read nor answered
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def html_error_server():
    """html_error_server(status, title="Service Unavailable") -> URL of an HTTP server answering every GET and
    POST with an HTML page, as a proxy in front of an unreachable service does (local_aws's faults are always
    AWS-shaped); with status 200 it is an app's redirect URI that a browser can land on."""
    import http.server
    import threading

    servers = []

    def start(status, title="Service Unavailable"):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = f"<html><head><title>{status} {title}</title></head><body><h1>{status} " \
                       f"{title}</h1><p>no healthy upstream</p></body></html>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def setup_deployment(local_aws, admin_session, tmp_path_factory):
    """setup_deployment(name, *setup_flags) runs the tool's own `setup` (and add-user alice and bob) in a fresh
    folder; returns {"dir", "config", "env", "admin"(run the CLI as administrator), ids of every resource}."""
    import configparser

    def make(name, *flags):
        folder = tmp_path_factory.mktemp(name)
        env = admin_env(local_aws, folder)

        def admin(*args, stdin=subprocess.DEVNULL, **extra):
            return run_cli("--endpoint-url", local_aws["endpoint_url"], "--config", folder / "config.ini", *args,
                           env={**env, **{k: str(v) for k, v in extra.items()}}, cwd=folder, stdin=stdin)

        result = admin("setup", "--name", name, *flags)
        assert result.returncode == 0, result.stderr
        for user, password in PASSWORDS.items():
            added = admin("add-user", user, COG_AUTH_S3_PASSWORD=password)
            assert added.returncode == 0, added.stderr
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(folder / "config.ini")
        return {**dict(parser["default"]), "name": name, "dir": folder, "config": folder / "config.ini", "env": env,
                "admin": admin, "role": f"{name}-authenticated", "guest_role": f"{name}-guest"}
    return make


@pytest.fixture
def outbox(local_aws):
    """outbox(username, pool=None, channel=None) -> the newest code local_aws "sent" to that user;
    outbox.all() -> every message, oldest first."""
    class Outbox:
        def all(self):
            return control_call(local_aws, "GET", "messages")

        def __call__(self, username, pool=None, channel=None):
            sent = [m for m in self.all() if m["username"] == username and pool in (None, m["user_pool_id"])
                    and channel in (None, m["channel"])]
            assert sent, f"local_aws sent no code to {username}"
            return sent[-1]["code"]

    return Outbox()


@pytest.fixture
def on_terminal(tmp_path):
    """on_terminal(*args, env_extra=...) starts the tool under a pseudo-terminal (see TerminalRun)."""
    runs = []

    def start(*args, env_extra=None):
        runs.append(TerminalRun(args, user_env(tmp_path, **(env_extra or {})), tmp_path))
        return runs[-1]

    yield start
    for run in runs:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()


@pytest.fixture
def oidc_provider():
    """The tests' own OIDC provider on loopback (tests/oidc_provider.py), stopped after the test."""
    from oidc_provider import Provider

    provider = Provider().start()
    yield provider
    provider.stop()


@pytest.fixture
def login_app(make_stack, admin_session, local_aws, request):
    """login_app(secret=False, provider=None): a fresh stack (alice, bob, identity pool, bucket) on the shared
    local_aws whose user pool has a managed login; see managed_login_app."""
    import uuid

    def make(**options):
        stack = make_stack(f"ml-{uuid.uuid4().hex[:8]}")
        return managed_login_app(admin_session, local_aws["endpoint_url"], stack, **options)
    return make


def pytest_terminal_summary(terminalreporter):
    """Say loudly when the real-browser tests were skipped, so a local `make test` can't pass them silently."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "BROWSER TESTS SKIPPED" in str(r.longrepr)]
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} real-browser tests SKIPPED: chromium is not installed "
                                        "(apt-get install chromium, or run .ci/run)", red=True, bold=True)


@pytest.fixture
def user_pool(admin_client, local_aws, tmp_path):
    """A user pool made directly (not by setup) and a config.ini profile naming it."""
    idp = admin_client("cognito-idp")
    pool_id = idp.create_user_pool(PoolName=unique_name())["UserPool"]["Id"]
    write_config(tmp_path / "config.ini", {"default": {"region": "us-east-1", "user_pool_id": pool_id,
                                                       "endpoint_url": local_aws["endpoint_url"]}})
    return pool_id


@pytest.fixture
def files(cli, user_config):
    """files(*args) runs a file command as alice, with her session cached after the first call."""
    config = user_config()

    def run(*args, **kwargs):
        return cli("--config", config, *args, **kwargs)
    run.config = config
    return run


@pytest.fixture
def start(files, tmp_path):
    """start(*args): alice's tool as a background process, as a user's terminal runs it (SIGINT not
    ignored); killed at the end of the test if it is still running."""
    started = []

    def launch(*args):
        started.append(subprocess.Popen(
            [*TOOL_COMMAND, "--config", str(files.config), *map(str, args)], env=user_env(tmp_path),
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)))
        return started[-1]
    yield launch
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture
def prefix():
    """A prefix no other test uses, so each test owns its part of alice's folder."""
    return f"sync-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def aw(admin_session, local_aws):
    """One ActionWorld for this module."""
    return ActionWorld(admin_session, local_aws["endpoint_url"])


@pytest.fixture
def s3(admin_session, local_aws):
    """S3 as the administrator, without retries so that a refusal shows at once."""
    return admin_session.client("s3", endpoint_url=local_aws["endpoint_url"],
                                config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture(scope="module")
def clock_stack(clock_aws):
    """A least-privilege stack (alice and bob) on the module's own local_aws, whose clock the tests move."""
    return clock_aws["make_stack"]("clock")


@pytest.fixture(scope="module")
def rotating_stack(clock_aws):
    """A stack whose app client rotates refresh tokens (and so has no REFRESH_TOKEN_AUTH)."""
    stack = clock_aws["make_stack"]("rotating")
    idp = clock_aws["admin_session"].client("cognito-idp", endpoint_url=clock_aws["endpoint_url"])
    idp.update_user_pool_client(UserPoolId=stack["user_pool_id"], ClientId=stack["client_id"],
                                ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"],
                                RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0})
    return stack


@pytest.fixture(scope="module")
def world(admin_session, local_aws):
    """One World for this module."""
    return World(admin_session, local_aws["endpoint_url"])


@pytest.fixture(scope="module")
def plain_device_stack(make_stack, admin_session, local_aws):
    """A stack whose pool tracks devices without MFA; tests set always or opt-in as they need."""
    return make_stack(f"devices-plain-{uuid.uuid4().hex[:6]}")  # one per module that uses it
