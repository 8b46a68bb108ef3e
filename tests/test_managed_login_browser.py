"""local_aws's managed login in a real browser: headless Chromium (Debian's package, driven by Playwright) types
into the sign-in page and the MFA page as a person would, or follows the provider button to the tests' own OIDC
provider; the tokens it ends with get each user into their own S3 folder, and not into the other's.

Skipped, with a banner in the summary (see conftest.pytest_terminal_summary), when chromium is not installed;
.ci/run installs it so CI always runs these. UPDATE_SCREENSHOTS=1 also writes the sign-in page's screenshot
to docs/images/managed-login-sign-in.png (the documentation's picture).
"""

import os
import secrets
import shutil
from pathlib import Path
from urllib.parse import urlencode

import pytest

from helpers import CHROMIUM_FLAGS, OIDC_PROVIDER, PASSWORDS, ROOT, enable_totp, identity_of, local_now, pkce, query_of, redeem, totp

CHROMIUM = shutil.which("chromium")
SCREENSHOT = ROOT / "docs" / "images" / "managed-login-sign-in.png"
WAIT_MS = 20_000

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="BROWSER TESTS SKIPPED: chromium is not installed "
                                                         "(apt-get install chromium; .ci/run does it)")


@pytest.fixture(scope="module")
def chromium():
    """A headless Debian chromium under Playwright, for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def callback_url(html_error_server):
    """An app's loopback redirect URI that answers 200 (the browser must land somewhere)."""
    return html_error_server(200, "Signed in").replace("127.0.0.1", "localhost") + "/callback"


def open_sign_in(chromium, app, callback, **params):
    """A new browser page at the app's authorize URL; (page, PKCE verifier)."""
    verifier, challenge = pkce()
    query = {"client_id": app["client_id"], "redirect_uri": callback, "response_type": "code",
             "scope": "openid email", "state": secrets.token_hex(8), "code_challenge": challenge,
             "code_challenge_method": "S256", **params}
    page = chromium.new_page()
    page.goto(app["base"] + "/oauth2/authorize?" + urlencode(query), timeout=WAIT_MS)
    return page, verifier


def tokens_at_callback(app, page, callback, verifier):
    """Wait for the browser to reach the app's callback; redeem its code: the tokens."""
    page.wait_for_url(callback + "?**", timeout=WAIT_MS)
    query = query_of(page.url)
    assert "code" in query, query
    answer = redeem(app, query["code"], verifier, redirect_uri=callback)
    assert answer.status_code == 200, answer.text
    return answer.json()


def s3_as(app, credentials):
    """An S3 client with a signed-in user's temporary credentials."""
    import boto3

    return boto3.client("s3", region_name=app["region"], endpoint_url=app["endpoint_url"],
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretKey"],
                        aws_session_token=credentials["SessionToken"])


def test_a_person_types_password_and_totp_code_and_a_federated_user_clicks_through(
        chromium, login_app, oidc_provider, callback_url, idp, public, local_aws, tmp_path):
    app = login_app(provider=oidc_provider, callbacks=(callback_url,))
    secret = enable_totp(idp, public, app, local_aws)

    page, verifier = open_sign_in(chromium, app, callback_url)
    shot = SCREENSHOT if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / "sign-in.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    assert Path(shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.locator("#username").press_sequentially("alice")
    page.locator("#password").press_sequentially(PASSWORDS["alice"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#code", timeout=WAIT_MS)
    assert "authenticator app" in page.content()
    page.locator("#code").press_sequentially(totp(secret, local_now(local_aws)))
    page.keyboard.press("Enter")
    alice = tokens_at_callback(app, page, callback_url, verifier)
    page.close()

    page, verifier = open_sign_in(chromium, app, callback_url)
    page.get_by_role("button", name=f"Continue with {OIDC_PROVIDER}").click()
    federated = tokens_at_callback(app, page, callback_url, verifier)
    page.close()

    alice_id, alice_creds = identity_of(app, alice["id_token"])
    fed_id, fed_creds = identity_of(app, federated["id_token"])
    assert alice_id != fed_id
    alice_s3, fed_s3 = s3_as(app, alice_creds), s3_as(app, fed_creds)
    alice_s3.put_object(Bucket=app["bucket"], Key=f"{alice_id}/from-browser.txt", Body=b"alice")
    fed_s3.put_object(Bucket=app["bucket"], Key=f"{fed_id}/from-browser.txt", Body=b"federated")
    from botocore.exceptions import ClientError
    for s3, other in ((alice_s3, fed_id), (fed_s3, alice_id)):
        with pytest.raises(ClientError) as refused:
            s3.get_object(Bucket=app["bucket"], Key=f"{other}/from-browser.txt")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        with pytest.raises(ClientError):
            s3.put_object(Bucket=app["bucket"], Key=f"{other}/intruder.txt", Body=b"x")


def test_a_wrong_password_in_the_browser_shows_cognitos_message_and_stays_on_the_form(
        chromium, login_app, callback_url):
    app = login_app(callbacks=(callback_url,))
    page, _ = open_sign_in(chromium, app, callback_url)
    page.locator("#username").press_sequentially("bob")
    page.locator("#password").press_sequentially("not-bobs-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#error", timeout=WAIT_MS)
    assert page.inner_text("#error") == "Incorrect username or password."
    assert page.locator("#username").count() == 1
    page.close()
