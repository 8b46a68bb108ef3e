"""`login --browser`: the tool as a subprocess signs in through local_aws's managed login, with BROWSER pointing
at tests/browser_stub.py, which hands the URL to the test's browser: headless Chromium under Playwright (typing
as a person would), or plain HTTP (tests/browser_stub.sign_in_over_http) where no page needs filling in.
"""

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cog_auth_s3 as cog
from browser_stub import sign_in_over_http
from helpers import (CHROMIUM_FLAGS, OIDC_PROVIDER, PASSWORDS, TOOL_COMMAND, RequestLog, admin_env, advance_clock,
                     managed_login_app, run_cli, session_files, set_app_client, user_env, write_config)

STUB = Path(__file__).resolve().parent / "browser_stub.py"
PAST_THEIR_LIFETIME = 3700  # more than the tokens' and credentials' hour
WAIT = 30


def free_ports(count):
    """Loopback ports free right now (the tool binds them moments later)."""
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.fixture
def browser_app(login_app, oidc_provider):
    """browser_app(**options): a fresh managed-login app (alice, bob, the tests' OIDC provider) whose client
    registers two loopback callbacks on free ports."""
    def make(**options):
        callbacks = [f"http://localhost:{port}/callback" for port in free_ports(2)]
        options.setdefault("provider", oidc_provider)
        return {**login_app(callbacks=callbacks, **options), "callbacks": callbacks}
    return make


def browser_profile(app, tmp_path, name="config.ini", **extra):
    """A config whose [default] signs in through the app's managed login."""
    values = {key: app[key] for key in ("region", "user_pool_id", "client_id", "identity_pool_id", "bucket",
                                        "endpoint_url", "client_secret") if app.get(key)}
    values.update(sign_in="browser", domain=app["base"], redirect_uris=" ".join(app["callbacks"]), **extra)
    return write_config(tmp_path / name, {"default": values})


def stub_env(tmp_path, **stub):
    """A user's environment whose BROWSER is tests/browser_stub.py, configured by stub (BROWSER_STUB_*)."""
    return user_env(tmp_path, BROWSER=f"{sys.executable} {STUB} %s",
                    **{f"BROWSER_STUB_{key.upper()}": value for key, value in stub.items()})


def tool(tmp_path, *args, env):
    """Start the tool (no controlling terminal, as run_cli); the Popen."""
    return subprocess.Popen([*TOOL_COMMAND, *map(str, args)], env=env, cwd=tmp_path, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def finish(proc, timeout=WAIT * 2):
    """(exit code, stdout, stderr) of a started tool."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def url_from_stub(path, proc):
    """The authorize URL the tool handed its BROWSER, waiting for it with bounded polling."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text().splitlines()[-1]
        assert proc.poll() is None, f"the tool ended early: {proc.communicate()}"
        time.sleep(0.05)
    raise AssertionError("the tool never opened a browser")


def run(tmp_path, *args, env=None):
    """Run the tool to its end with a user's environment; (exit code, stdout, stderr)."""
    return finish(tool(tmp_path, *args, env=env or user_env(tmp_path)))


def http_login(tmp_path, config, username="alice", *flags):
    """`login --browser` whose browser signs in over HTTP as username (None: follow redirects only)."""
    stub = {"username": username, "password": PASSWORDS[username]} if username else {"username": ""}
    return run(tmp_path, "--config", config, "login", "--browser", *flags, env=stub_env(tmp_path, **stub))


def cache_file(tmp_path):
    """The one session file the test's browser profiles cache (named by a hash of the pools and app client:
    a browser profile names no user, so whoever signs in through it shares this one)."""
    files = session_files(tmp_path)
    assert len(files) == 1, files
    return files[0]


def cached(tmp_path):
    """The profile's cache entry."""
    return json.loads(cache_file(tmp_path).read_text())


# ---- in a real browser

CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def chromium():
    """Headless Debian chromium under Playwright (as tests/test_managed_login_browser.py)."""
    if CHROMIUM is None:
        pytest.skip("BROWSER TESTS SKIPPED: chromium is not installed (apt-get install chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def login_in_chromium(chromium, tmp_path, config, fill):
    """`login --browser` with Chromium as the browser: fill(page) completes the page; (code, stdout, stderr)."""
    urls = tmp_path / "urls.txt"
    urls.unlink(missing_ok=True)
    proc = tool(tmp_path, "--config", config, "--json", "login", "--browser", env=stub_env(tmp_path, file=urls))
    page = chromium.new_page()
    try:
        page.goto(url_from_stub(urls, proc), timeout=WAIT * 1000)
        fill(page)
        page.wait_for_selector("text=Signed in to cog-auth-s3", timeout=WAIT * 1000)
    finally:
        page.close()
    return finish(proc)


def test_a_pool_user_and_a_federated_user_sign_in_in_chromium_and_each_keeps_to_their_own_folder(
        chromium, browser_app, tmp_path):
    app = browser_app()
    config = browser_profile(app, tmp_path)
    alice_config = browser_profile(app, tmp_path, "alice.ini")
    (tmp_path / "note.txt").write_text("mine\n")

    def type_password(page):
        page.locator("#username").press_sequentially("alice")
        page.locator("#password").press_sequentially(PASSWORDS["alice"])
        page.get_by_role("button", name="Sign in").click()

    code, out, err = login_in_chromium(chromium, tmp_path, alice_config, type_password)
    assert code == 0, err
    alice = json.loads(out)
    assert alice["username"] == "alice" and alice["source"] == "login"
    assert run(tmp_path, "--config", alice_config, "put", "note.txt")[0] == 0
    cache = cache_file(tmp_path)
    shutil.move(cache, tmp_path / "alice-cache.json")

    code, out, err = login_in_chromium(
        chromium, tmp_path, config, lambda page: page.get_by_role("button", name=f"Continue with {OIDC_PROVIDER}").click())
    assert code == 0, err
    federated = json.loads(out)
    assert federated["username"] == f"{OIDC_PROVIDER}_sub-0001"
    assert federated["identity_id"] != alice["identity_id"]
    code, _, err = run(tmp_path, "--config", config, "put", "note.txt")
    assert code == 0, err
    listed = run(tmp_path, "--config", config, "ls")[1]
    assert "note.txt" in listed

    # Each is refused the other's folder, where the other's note.txt is.
    refused = run(tmp_path, "--config", config, "get", "note.txt", "x.txt", "--identity", alice["identity_id"])
    assert refused[0] == 4 and "cog-auth-s3: error:" in refused[2], refused
    shutil.move(cache, tmp_path / "federated-cache.json")
    shutil.move(tmp_path / "alice-cache.json", cache)
    refused = run(tmp_path, "--config", alice_config, "get", "note.txt", "x.txt", "--identity",
                  federated["identity_id"])
    assert refused[0] == 4 and "cog-auth-s3: error:" in refused[2], refused
    assert not (tmp_path / "x.txt").exists()


# ---- over HTTP (no page to fill in)

def test_login_browser_caches_the_session_0600_and_put_uses_it_without_a_browser(browser_app, tmp_path,
                                                                                  request_log):
    app = browser_app()
    config = browser_profile(app, tmp_path)
    request_log.clear()
    code, out, err = http_login(tmp_path, config)
    assert code == 0, err
    assert "signed in as alice" in out and "(new sign-in)" in out
    assert "visit:\n  " + app["base"] + "/oauth2/authorize?" in err
    assert stat.S_IMODE(cache_file(tmp_path).stat().st_mode) == 0o600
    assert request_log.cognito_calls() == ["ManagedLoginAuthorize", "ManagedLoginLogin", "ManagedLoginToken",
                                           "GetId", "GetCredentialsForIdentity"]
    request_log.clear()
    (tmp_path / "a.txt").write_text("a\n")
    code, _, err = run(tmp_path, "--config", config, "put", "a.txt")  # no BROWSER: it must not be needed
    assert code == 0, err
    assert request_log.cognito_calls() == []


def test_the_authorize_request_carries_pkce_s256_state_nonce_and_the_profiles_scopes(browser_app, tmp_path):
    from urllib.parse import parse_qs, urlsplit

    app = browser_app()
    config = browser_profile(app, tmp_path, scopes="openid email")
    urls = tmp_path / "urls.txt"
    proc = tool(tmp_path, "--config", config, "login", "--browser", "--timeout", "30", env=stub_env(tmp_path, file=urls))
    url = url_from_stub(urls, proc)
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32 and query["state"] != query["nonce"]
    assert query["scope"] == "openid email" and query["redirect_uri"] == app["callbacks"][0]
    assert query["client_id"] == app["client_id"] and query["response_type"] == "code"
    # A redirect with another state is not this sign-in's: refused, and the tool keeps waiting for its own.
    from urllib.request import urlopen
    from urllib.error import HTTPError
    with pytest.raises(HTTPError) as wrong:
        urlopen(app["callbacks"][0] + "?code=stolen&state=not-this-one", timeout=10)
    assert wrong.value.code == 400
    assert proc.poll() is None
    final = sign_in_over_http(url, "alice", PASSWORDS["alice"])
    assert final.startswith(app["callbacks"][0])
    code, _, err = finish(proc)
    assert code == 0, err


def test_the_second_callback_port_is_used_when_the_first_is_taken(browser_app, tmp_path):
    app = browser_app()
    config = browser_profile(app, tmp_path)
    taken = socket.socket()
    taken.bind(("127.0.0.1", int(app["callbacks"][0].split(":")[2].split("/")[0])))
    taken.listen()
    try:
        code, _, err = http_login(tmp_path, config)
    finally:
        taken.close()
    assert code == 0, err
    assert f"redirect_uri=http%3A%2F%2Flocalhost%3A{app['callbacks'][1].split(':')[2].split('/')[0]}" in err


def test_with_every_callback_port_taken_login_exits_2_naming_the_ports(browser_app, tmp_path):
    app = browser_app(provider=None)
    config = browser_profile(app, tmp_path)
    taken = [socket.socket() for _ in app["callbacks"]]
    try:
        for sock, uri in zip(taken, app["callbacks"]):
            sock.bind(("127.0.0.1", int(uri.split(":")[2].split("/")[0])))
            sock.listen()
        code, _, err = http_login(tmp_path, config)
    finally:
        for sock in taken:
            sock.close()
    assert code == 2 and err.count("\n") == 1 and "no callback port is free" in err and "redirect_uris" in err


def test_idp_goes_straight_to_the_identity_provider(browser_app, tmp_path, oidc_provider):
    app = browser_app()
    config = browser_profile(app, tmp_path)
    code, out, err = run(tmp_path, "--config", config, "--json", "login", "--idp", OIDC_PROVIDER,
                         env=stub_env(tmp_path, username=""))
    assert code == 0, err
    assert json.loads(out)["username"] == f"{OIDC_PROVIDER}_sub-0001"
    assert "identity_provider=TestIdP" in err


def test_no_browser_prints_the_url_and_takes_the_pasted_redirect(browser_app, tmp_path, on_terminal):
    import re

    app = browser_app()
    config = browser_profile(app, tmp_path)
    run_ = on_terminal("--config", config, "login", "--no-browser")
    shown = run_.wait_for("paste that URL here")
    url = re.search(r"(http://\S+/oauth2/authorize\?\S+)", shown).group(1)
    # The person's browser, elsewhere: it signs in and ends on a callback URL that does not load.
    landed = sign_in_over_http(url, "alice", PASSWORDS["alice"], until=app["callbacks"][0])
    run_.type(landed)
    code, out, err, _ = run_.finish()
    assert code == 0, err
    assert "signed in as alice" in out


@pytest.mark.parametrize("browser", ["stub", "never returns"])
def test_a_browser_sign_in_that_is_never_completed_ends_after_timeout_with_exit_3(browser_app, tmp_path, browser):
    app = browser_app()
    config = browser_profile(app, tmp_path)
    env = stub_env(tmp_path, file=tmp_path / "urls.txt")
    if browser == "never returns":  # webbrowser waits for a BROWSER command; the timeout must not
        env["BROWSER"] = "sh -c 'sleep 30' %s"
    # Output into a file: the never-ending BROWSER inherits it and would hold a pipe open.
    with open(tmp_path / "stderr.txt", "w") as errors:
        proc = subprocess.Popen([*TOOL_COMMAND, "--config", config, "login", "--browser", "--timeout",
                                 "2"], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=errors, start_new_session=True)
        code = proc.wait(timeout=25)
    err = (tmp_path / "stderr.txt").read_text()
    assert code == 3
    assert err.count("\n") == 3 and err.splitlines()[-1].startswith("cog-auth-s3: error: the browser sign-in was "
                                                                    "not completed within 2s")


def test_an_error_on_the_redirect_is_one_line_with_exit_3(browser_app, tmp_path):
    app = browser_app()
    config = browser_profile(app, tmp_path, scopes="openid aws.cognito.signin.user.admin")
    code, _, err = http_login(tmp_path, config)
    assert code == 3
    last = err.splitlines()[-1]
    assert last.startswith("cog-auth-s3: error: the managed login refused the sign-in at ") and "invalid_scope" in last
    assert "set 'scopes' in the profile" in last


def test_a_token_endpoint_fault_is_one_line_with_exit_4(browser_app, tmp_path, faults):
    app = browser_app()
    config = browser_profile(app, tmp_path)
    faults.add("ManagedLoginToken", status=503, code="ServiceUnavailable")
    code, _, err = http_login(tmp_path, config)
    assert code == 4
    assert err.splitlines()[-1].startswith(f"cog-auth-s3: error: {app['base']}/oauth2/token answered HTTP 503 to "
                                           f"redeem the sign-in's code")
    assert "Traceback" not in err


def test_a_refused_code_is_the_token_endpoints_invalid_grant_in_one_line_with_exit_3(browser_app, tmp_path):
    import urllib.parse
    import urllib.request
    from urllib.error import HTTPError

    app = browser_app()
    config = browser_profile(app, tmp_path)
    urls = tmp_path / "urls.txt"
    proc = tool(tmp_path, "--config", config, "login", "--browser", env=stub_env(tmp_path, file=urls))
    landed = sign_in_over_http(url_from_stub(urls, proc), "alice", PASSWORDS["alice"], until=app["callbacks"][0])
    code_value = urllib.parse.parse_qs(urllib.parse.urlsplit(landed).query)["code"][0]
    # Someone else tries the code first (without the verifier): the managed login burns it.
    with pytest.raises(HTTPError):
        urllib.request.urlopen(app["base"] + "/oauth2/token", timeout=10, data=urllib.parse.urlencode({
            "grant_type": "authorization_code", "code": code_value, "client_id": app["client_id"],
            "redirect_uri": app["callbacks"][0]}).encode())
    urllib.request.urlopen(landed, timeout=10).close()
    code, _, err = finish(proc)
    assert code == 3
    assert err.splitlines()[-1].startswith("cog-auth-s3: error: the managed login refused the sign-in at "
                                           f"{app['base']}/oauth2/token (invalid_grant")


def test_creds_without_a_terminal_when_a_browser_sign_in_is_needed_exits_3_naming_login_browser(browser_app,
                                                                                                 tmp_path):
    app = browser_app()
    config = browser_profile(app, tmp_path)
    code, out, err = run(tmp_path, "--config", config, "creds", "--format", "process",
                         env=stub_env(tmp_path, file=tmp_path / "urls.txt"))
    assert (code, out) == (3, "")
    assert "login --browser" in err and err.count("\n") == 1
    assert not (tmp_path / "urls.txt").exists()  # no browser was opened for nobody to see


def test_creds_under_credential_process_with_a_terminal_shows_the_url_there_and_prints_only_credentials(
        browser_app, tmp_path, on_terminal):
    app = browser_app(provider=None)
    config = browser_profile(app, tmp_path)
    run_ = on_terminal("--config", config, "creds", "--format", "process", env_extra={
        "BROWSER": f"{sys.executable} {STUB} %s", "BROWSER_STUB_USERNAME": "alice",
        "BROWSER_STUB_PASSWORD": PASSWORDS["alice"]})
    code, out, err, terminal = run_.finish()
    assert code == 0, err
    assert json.loads(out)["Version"] == 1
    assert "visit:" in terminal and app["base"] + "/oauth2/authorize?" in terminal
    assert "/oauth2/authorize" not in err  # the AWS CLI swallows stderr of credential_process


def test_logout_revokes_so_a_copy_of_the_cache_no_longer_renews(browser_app, tmp_path, request_log):
    app = browser_app()
    config = browser_profile(app, tmp_path)
    assert http_login(tmp_path, config)[0] == 0
    cache, copy = cache_file(tmp_path), cached(tmp_path)
    request_log.clear()
    code, _, err = run(tmp_path, "--config", config, "logout")
    assert code == 0, err
    assert "revoked" in err and "at the managed login" in err and session_files(tmp_path) == []
    assert request_log.cognito_calls() == ["ManagedLoginRevoke"]

    copy["credentials"]["Expiration"] = "2000-01-01T00:00:00Z"  # so the copy must renew
    cache.write_text(json.dumps(copy))
    os.chmod(cache, 0o600)
    code, out, err = run(tmp_path, "--config", config, "creds", "--format", "process")
    assert (code, out) == (3, "")
    assert "Cognito refused the cached session" in err and "login --browser" in err.splitlines()[-1]


def test_logout_that_cannot_revoke_still_deletes_the_session_and_says_so_in_one_line(browser_app, tmp_path,
                                                                                     faults):
    # As a password sign-in's logout (docs/sign-in.md): the local secrets always go; what the managed login
    # could not be told is one line, with its exit code.
    app = browser_app()
    config = browser_profile(app, tmp_path)
    assert http_login(tmp_path, config)[0] == 0
    faults.add("ManagedLoginRevoke", status=500)
    code, _, err = run(tmp_path, "--config", config, "logout")
    errors = [line for line in err.splitlines() if line.startswith("cog-auth-s3: error:")]
    assert code == 4 and len(errors) == 1 and "did not revoke the refresh token" in errors[0], err
    assert "HTTP 500" in errors[0] and session_files(tmp_path) == []


@pytest.fixture(scope="module")
def clock_app(clock_aws):
    """A managed-login app on the module's own local_aws, whose clock the test moves."""
    stack = clock_aws["make_stack"]("browser-renew")
    callbacks = [f"http://localhost:{port}/callback" for port in free_ports(2)]
    app = managed_login_app(clock_aws["admin_session"], clock_aws["endpoint_url"], stack, callbacks=callbacks)
    return {**app, "callbacks": callbacks}


def test_a_browser_session_renews_after_the_clock_passes_its_expiry_without_a_browser(clock_app, clock_aws,
                                                                                     tmp_path):
    config = browser_profile(clock_app, tmp_path)
    assert http_login(tmp_path, config)[0] == 0
    first = cached(tmp_path)
    (tmp_path / "a.txt").write_text("a\n")
    advance_clock(clock_aws["endpoint_url"], PAST_THEIR_LIFETIME)  # every token and credential is dead there
    log = RequestLog(clock_aws["endpoint_url"])
    log.clear()
    code, _, err = run(tmp_path, "--config", config, "put", "a.txt")  # no BROWSER in this environment
    assert code == 0, err
    assert "renewing" in err
    assert not [op for op in log.cognito_calls() if op.startswith("ManagedLogin")]
    assert "InitiateAuth" in log.cognito_calls() or "GetTokensFromRefreshToken" in log.cognito_calls()
    renewed = cached(tmp_path)
    assert renewed["identity_id"] == first["identity_id"]
    assert renewed["credentials"]["AccessKeyId"] != first["credentials"]["AccessKeyId"]


def test_a_client_with_a_secret_signs_in_by_basic_auth_and_renews_with_the_secret_hash(browser_app, tmp_path,
                                                                                       request_log, admin_client):
    app = browser_app(secret=True)
    identity = admin_client("cognito-identity")
    pool = identity.describe_identity_pool(IdentityPoolId=app["identity_pool_id"])
    pool.pop("ResponseMetadata")
    provider = pool["CognitoIdentityProviders"][0]
    identity.update_identity_pool(**{**pool, "CognitoIdentityProviders": [{**provider, "ClientId": app["client_id"]}]})
    config = browser_profile(app, tmp_path)
    code, _, err = http_login(tmp_path, config)
    assert code == 0, err
    first = cached(tmp_path)
    request_log.clear()
    (tmp_path / "a.txt").write_text("a\n")
    assert run(tmp_path, "--config", config, "put", "a.txt")[0] == 0
    # A link for longer than the credentials have left: share renews them first.
    code, _, err = run(tmp_path, "--config", config, "share", "a.txt", "--expires", "2h")
    assert code == 0, err
    assert "InitiateAuth" in request_log.cognito_calls()
    assert cached(tmp_path)["credentials"]["AccessKeyId"] != first["credentials"]["AccessKeyId"]


# ---- setup --domain / --oidc-provider, teardown

def test_setup_domain_and_oidc_provider_make_browser_sign_in_work_and_teardown_removes_them(
        local_aws, admin_client, oidc_provider, tmp_path):
    import configparser
    import uuid

    from oidc_provider import CLIENT_ID, CLIENT_SECRET

    name, prefix = "b" + uuid.uuid4().hex[:10], "signin-" + uuid.uuid4().hex[:8]
    env = admin_env(local_aws, tmp_path, COG_AUTH_S3_OIDC_CLIENT_SECRET=CLIENT_SECRET)
    config = tmp_path / "config.ini"

    def admin(*args, **extra):
        return run_cli("--endpoint-url", local_aws["endpoint_url"], "--config", config, *args,
                       env={**env, **extra}, cwd=tmp_path)

    flags = ("--domain", prefix, "--oidc-provider", OIDC_PROVIDER, "--oidc-issuer", oidc_provider.issuer,
             "--oidc-client-id", CLIENT_ID)
    made = admin("setup", "--name", name, *flags)
    assert made.returncode == 0, made.stderr
    assert f"user pool domain {prefix}: created" in made.stderr
    assert f"identity provider {OIDC_PROVIDER}: created" in made.stderr
    assert CLIENT_SECRET not in made.stdout + made.stderr
    profile = configparser.ConfigParser(interpolation=None)
    profile.read(config)
    values = dict(profile["default"])
    assert values["domain"] == f"{local_aws['endpoint_url']}/_local_aws/domain/{prefix}"
    client = admin_client("cognito-idp").describe_user_pool_client(
        UserPoolId=values["user_pool_id"], ClientId=values["client_id"])["UserPoolClient"]
    assert client["AllowedOAuthFlows"] == ["code"] and client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["CallbackURLs"] == ["http://localhost:53682/callback", "http://localhost:53683/callback",
                                      "http://localhost:53684/callback"]
    assert client["SupportedIdentityProviders"] == ["COGNITO", OIDC_PROVIDER]
    assert set(client["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
    assert "ALLOW_USER_SRP_AUTH" in client["ExplicitAuthFlows"]  # what setup made before is kept
    assert admin("add-user", "alice", COG_AUTH_S3_PASSWORD=PASSWORDS["alice"]).returncode == 0

    again = admin("setup", "--name", name, *flags)
    assert again.returncode == 0, again.stderr
    assert f"user pool domain {prefix}: exists" in again.stderr and "app client code grant" in again.stderr
    assert "created" not in again.stderr and "updated" not in again.stderr

    # The profile setup wrote signs in through the browser on setup's fixed callback ports.
    code, out, err = run(tmp_path, "--config", config, "login", "--browser",
                         env=stub_env(tmp_path, username="alice", password=PASSWORDS["alice"]))
    assert code == 0, err
    assert "signed in as alice" in out
    # The profile has a domain and no username, so every command signs in (here: renews) that way.
    (tmp_path / "a.txt").write_text("a\n")
    code, _, err = run(tmp_path, "--config", config, "put", "a.txt")
    assert code == 0, err
    code, out, err = run(tmp_path, "--config", config, "--no-cache", "login", "--idp", OIDC_PROVIDER,
                         env=stub_env(tmp_path, username=""))
    assert code == 0, err
    assert f"signed in as {OIDC_PROVIDER}_sub-0001" in out

    gone = admin("teardown", "--name", name, "--force")
    assert gone.returncode == 0, gone.stderr
    assert f"user pool domain {prefix}: deleted" in gone.stderr
    assert f"identity provider {OIDC_PROVIDER}: deleted" in gone.stderr
    assert admin_client("cognito-idp").describe_user_pool_domain(Domain=prefix)["DomainDescription"] == {}


def test_setup_oidc_provider_without_the_secret_in_the_environment_exits_2_naming_the_variable(local_aws, tmp_path):

    result = run_cli("--endpoint-url", local_aws["endpoint_url"], "setup", "--name", "nosecret",
                     "--oidc-provider", "P", "--oidc-issuer", "https://issuer.example", "--oidc-client-id", "c",
                     env=admin_env(local_aws, tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "COG_AUTH_S3_OIDC_CLIENT_SECRET" in result.stderr


@pytest.mark.parametrize("flags", [("--domain", "Bad_Prefix"), ("--domain", "my-cognito-app"),
                                   ("--oidc-provider", "P", "--oidc-issuer", "https://i.example")])
def test_setup_refuses_a_bad_domain_prefix_or_half_an_oidc_provider_before_any_request(local_aws, tmp_path, flags):

    result = run_cli("setup", "--name", "x-bad", *flags, env=admin_env(local_aws, tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr


def test_doctor_finds_an_insecure_callback_the_implicit_grant_and_a_provider_the_pool_lacks(setup_deployment,
                                                                                              admin_client):
    import uuid


    dep = setup_deployment("b" + uuid.uuid4().hex[:8], "--domain", "doc-" + uuid.uuid4().hex[:8])
    clean = dep["admin"]("--json", "doctor")
    assert clean.returncode == 0, clean.stderr
    assert not [f for f in json.loads(clean.stdout)["findings"] if f["id"].startswith(("client-", "managed-"))]

    set_app_client(admin_client, dep, AllowedOAuthFlows=["code", "implicit"],
                   CallbackURLs=["http://localhost:53682/callback", "http://app.example.com/cb",
                                 "https://app.example.com/cb"], SupportedIdentityProviders=["COGNITO", "Gone"])
    result = dep["admin"]("--json", "doctor")
    assert result.returncode == 4, result.stderr  # an error finding, nothing critical
    found = {f["id"]: f for f in json.loads(result.stdout)["findings"]}
    assert {"client-callback-insecure", "client-implicit-grant", "client-provider-missing"} <= set(found)
    assert "http://app.example.com/cb" in found["client-callback-insecure"]["detail"]
    assert [f for f in json.loads(result.stdout)["findings"] if f["id"] == "client-callback-insecure"] == \
        [found["client-callback-insecure"]]  # localhost and https callbacks are fine
    assert "Gone" in found["client-provider-missing"]["detail"]
    assert set(found["client-implicit-grant"]) == {"id", "severity", "resource", "detail", "fix"}

    idp = admin_client("cognito-idp")
    idp.delete_user_pool_domain(UserPoolId=dep["user_pool_id"],
                                Domain=idp.describe_user_pool(UserPoolId=dep["user_pool_id"])["UserPool"]["Domain"])
    found = {f["id"] for f in json.loads(dep["admin"]("--json", "doctor").stdout)["findings"]}
    assert "managed-login-no-domain" in found


# ---- pure logic

def test_amplify_gen2_and_gen1_oauth_blocks_give_domain_scopes_and_only_loopback_redirects():
    gen2 = {"domain": "myapp.auth.us-east-1.amazoncognito.com", "scopes": ["openid", "email"],
            "redirect_sign_in_uri": ["http://localhost:3000/", "https://app.example.com/"],
            "identity_providers": ["GOOGLE"], "response_type": "code"}
    assert cog.amplify_oauth(gen2, "domain", "scopes", "redirect_sign_in_uri") == {
        "domain": "https://myapp.auth.us-east-1.amazoncognito.com", "scopes": "openid email",
        "redirect_uris": "http://localhost:3000/"}
    gen1 = {"domain": "old.auth.eu-west-1.amazoncognito.com", "scope": ["openid", "profile"],
            "redirectSignIn": "myapp://,http://localhost:3000/"}
    assert cog.amplify_oauth(gen1, "domain", "scope", "redirectSignIn") == {
        "domain": "https://old.auth.eu-west-1.amazoncognito.com", "scopes": "openid profile",
        "redirect_uris": "http://localhost:3000/"}
    assert cog.amplify_oauth(None, "domain", "scope", "redirectSignIn") == {}
    assert cog.amplify_oauth({"domain": ""}, "domain", "scope", "redirectSignIn") == {}


def test_an_amplify_gen2_config_with_oauth_signs_in_through_the_browser_without_a_profile(browser_app, tmp_path):
    app = browser_app()
    outputs = {"version": "1.3", "auth": {
        "aws_region": app["region"], "user_pool_id": app["user_pool_id"], "user_pool_client_id": app["client_id"],
        "identity_pool_id": app["identity_pool_id"],
        "oauth": {"domain": app["base"], "scopes": ["openid", "email"], "redirect_sign_in_uri": app["callbacks"],
                  "identity_providers": [], "response_type": "code"}},
        "storage": {"bucket_name": app["bucket"], "aws_region": app["region"]}}
    (tmp_path / "amplify_outputs.json").write_text(json.dumps(outputs))
    code, out, err = run(tmp_path, "--amplify-config", "amplify_outputs.json", "--endpoint-url",
                         app["endpoint_url"], "login", "--browser",
                         env=stub_env(tmp_path, username="bob", password=PASSWORDS["bob"]))
    assert code == 0, err
    assert "signed in as bob" in out and "scope=openid+email" in err


@pytest.mark.parametrize("text, problem", [
    ("http://localhost:1/callback?code=abc&state=S", None),
    ("  http://localhost:1/callback?error=access_denied&state=S\n", None),
    ("http://localhost:1/callback?code=abc&state=OTHER", "another sign-in"),
    ("abc", "no code="),
])
def test_a_pasted_url_gives_the_callback_only_with_this_sign_ins_state(text, problem):
    if problem is None:
        assert cog.pasted_callback(text, "S")["state"] == "S"
    else:
        with pytest.raises(cog.ToolError) as refused:
            cog.pasted_callback(text, "S")
        assert problem in str(refused.value) and refused.value.exit_code == 3


@pytest.mark.parametrize("uri, safe", [("https://app.example.com/cb", True), ("http://localhost:53682/callback", True),
                                       ("http://127.0.0.1/cb", True), ("http://localhost.evil.example/cb", False),
                                       ("http://app.example.com/cb", False), ("myapp://callback", False)])
def test_only_https_and_loopback_callbacks_are_safe(uri, safe):
    assert cog.safe_callback(uri) is safe


def test_the_managed_login_base_url_is_amazons_on_aws_and_local_aws_path_on_a_custom_endpoint():
    assert cog.managed_login_base("myapp", "eu-west-1") == "https://myapp.auth.eu-west-1.amazoncognito.com"
    assert cog.managed_login_base("myapp", "us-east-1", "http://127.0.0.1:4566/") == \
        "http://127.0.0.1:4566/_local_aws/domain/myapp"


def test_a_profile_with_a_malformed_domain_or_redirect_uri_exits_2(tmp_path):
    config = write_config(tmp_path / "c.ini", {"default": {
        "region": "us-east-1", "user_pool_id": "us-east-1_abc", "client_id": "abc",
        "identity_pool_id": "us-east-1:0e3c1234-5678-4bfd-956f-2acfa1efd61f", "sign_in": "browser",
        "domain": "myapp.auth.us-east-1.amazoncognito.com"}})
    code, _, err = run(tmp_path, "--config", config, "login")
    assert code == 2 and "domain 'myapp.auth" in err and err.count("\n") == 1
    config = write_config(tmp_path / "c.ini", {"default": {
        "region": "us-east-1", "user_pool_id": "us-east-1_abc", "client_id": "abc",
        "identity_pool_id": "us-east-1:0e3c1234-5678-4bfd-956f-2acfa1efd61f", "sign_in": "browser",
        "domain": "https://x.example", "redirect_uris": "https://app.example.com/cb"}})
    code, _, err = run(tmp_path, "--config", config, "login")
    assert code == 2 and "not a loopback callback URL" in err and err.count("\n") == 1
    code, _, err = run(tmp_path, "--config", config, "login", "--timeout", "0")
    assert code == 2 and "--timeout" in err


def test_a_browser_session_on_a_client_that_rotates_refresh_tokens_renews_through_get_tokens_from_refresh_token(
        browser_app, tmp_path, admin_client, request_log):
    app = browser_app(provider=None)
    idp = admin_client("cognito-idp")
    client = idp.describe_user_pool_client(UserPoolId=app["user_pool_id"], ClientId=app["client_id"])["UserPoolClient"]
    keep = ("ClientName", "AllowedOAuthFlows", "AllowedOAuthFlowsUserPoolClient", "AllowedOAuthScopes",
            "CallbackURLs", "LogoutURLs", "SupportedIdentityProviders", "PreventUserExistenceErrors")
    idp.update_user_pool_client(UserPoolId=app["user_pool_id"], ClientId=app["client_id"],
                                ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"],
                                RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0},
                                **{key: client[key] for key in keep if key in client})
    config = browser_profile(app, tmp_path)
    assert http_login(tmp_path, config)[0] == 0
    old = cached(tmp_path)["refresh_token"]
    (tmp_path / "a.txt").write_text("a\n")
    assert run(tmp_path, "--config", config, "put", "a.txt")[0] == 0
    request_log.clear()
    code, _, err = run(tmp_path, "--config", config, "share", "a.txt", "--expires", "2h")  # renews first
    assert code == 0, err
    assert "GetTokensFromRefreshToken" in request_log.cognito_calls()
    entry = cached(tmp_path)
    assert entry["rotation"] is True and entry["refresh_token"] != old


def test_sigterm_while_waiting_for_the_browser_ends_the_tool_with_130_and_frees_the_port(browser_app, tmp_path):
    import signal

    app = browser_app(provider=None)
    config = browser_profile(app, tmp_path)
    urls = tmp_path / "urls.txt"
    proc = tool(tmp_path, "--config", config, "login", "--browser", env=stub_env(tmp_path, file=urls))
    url_from_stub(urls, proc)
    proc.send_signal(signal.SIGTERM)
    code, _, err = finish(proc, timeout=20)
    assert code == 130 and err.splitlines()[-1] == "cog-auth-s3: interrupted"
    port = int(app["callbacks"][0].split(":")[2].split("/")[0])
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # nothing holds it any more


def test_browser_settings_and_the_oidc_secret_draw_no_did_you_mean_warning_but_a_typo_does():
    import configparser

    names = ("domain", "scopes", "redirect_uris", "identity_provider")
    parser = configparser.ConfigParser()
    parser["default"] = {name: "x" for name in names}
    environ = {f"COG_AUTH_S3_{name.upper()}": "x" for name in names + ("oidc_client_secret",)}
    warnings = []
    cog.warn_unknown_names(parser, "default", "config.ini", environ, warnings.append)
    assert warnings == []
    cog.warn_unknown_names(None, "default", "config.ini", {"COG_AUTH_S3_OIDC_CLIENT_SECERT": "x"}, warnings.append)
    assert len(warnings) == 1 and "did you mean COG_AUTH_S3_OIDC_CLIENT_SECRET?" in warnings[0]
