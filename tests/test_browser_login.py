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

from browser_stub import sign_in_over_http
from conftest import (OIDC_PROVIDER, PASSWORDS, TOOL, RequestLog, advance_clock, managed_login_app, user_env,
                      write_config)

STUB = Path(__file__).resolve().parent / "browser_stub.py"
CACHE = Path("cache") / "cog-auth-s3" / "default.json"
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
    return subprocess.Popen([sys.executable, str(TOOL), *map(str, args)], env=env, cwd=tmp_path, text=True,
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


def cached(tmp_path):
    """The profile's cache entry."""
    return json.loads((tmp_path / CACHE).read_text())


# ---- in a real browser

CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def chromium():
    """Headless Debian chromium under Playwright (as tests/test_managed_login_browser.py)."""
    if CHROMIUM is None:
        pytest.skip("BROWSER TESTS SKIPPED: chromium is not installed (apt-get install chromium; .ci/run does it)")
    from playwright.sync_api import sync_playwright

    from test_managed_login_browser import CHROMIUM_FLAGS

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
        page.wait_for_selector("text=Signed in to cog_auth_s3", timeout=WAIT * 1000)
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
    shutil.move(tmp_path / CACHE, tmp_path / "alice-cache.json")

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
    assert refused[0] == 4 and "cog_auth_s3: error:" in refused[2], refused
    shutil.move(tmp_path / CACHE, tmp_path / "federated-cache.json")
    shutil.move(tmp_path / "alice-cache.json", tmp_path / CACHE)
    refused = run(tmp_path, "--config", alice_config, "get", "note.txt", "x.txt", "--identity",
                  federated["identity_id"])
    assert refused[0] == 4 and "cog_auth_s3: error:" in refused[2], refused
    assert not (tmp_path / "x.txt").exists()
