"""local_aws's managed login (Cognito's hosted UI) over HTTP: authorize, sign-in pages, token, revoke, userInfo,
logout, OIDC discovery and federation, checked from outside with authlib, a standard OAuth 2.0 / OIDC client."""

import json
import re
import secrets
from urllib.parse import urlencode

import boto3
import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from helpers import (CALLBACK, LOGIN_SCOPES, OIDC_PROVIDER, PASSWORDS, REGION, SIGN_OUT, TIMEOUT, advance_clock,
                     control_call, enable_totp, identity_of, local_now, managed_login_app, pkce, public, query_of,
                     redeem, totp, trust)


class FormBrowser:
    """A cookie-keeping HTTP client that follows the managed login's pages as a browser would, minus JavaScript
    (there is none): it reads each form's hidden flow id and posts what a person would type."""

    def __init__(self, app):
        """A browser for one managed-login app (see helpers.managed_login_app)."""
        self.app, self.http = app, requests.Session()

    def authorize(self, **params):
        """GET /oauth2/authorize with the app's client and callback unless given; the response, not followed."""
        query = {"client_id": self.app["client_id"], "redirect_uri": CALLBACK, "response_type": "code",
                 "scope": "openid email", "state": "st-" + secrets.token_hex(4), **params}
        query = {k: v for k, v in query.items() if v is not None}
        return self.http.get(self.app["base"] + "/oauth2/authorize?" + urlencode(query), allow_redirects=False,
                             timeout=TIMEOUT)

    def submit(self, page, **fields):
        """Post the page's form with these fields; the response, not followed."""
        flow = re.search(r'name="flow" value="([^"]+)"', page.text).group(1)
        return self.http.post(self.app["base"] + "/login", data={"flow": flow, **fields}, allow_redirects=False,
                              timeout=TIMEOUT)

    def sign_in(self, username="alice", password=None, **params):
        """authorize, then the sign-in form; the response to the form."""
        page = self.authorize(**params)
        assert page.status_code == 200, page.text
        return self.submit(page, username=username, password=password or PASSWORDS[username])


def refresh_grant(app, refresh_token):
    """POST /oauth2/token grant_type=refresh_token for the app's public client; the response."""
    return requests.post(app["base"] + "/oauth2/token", timeout=TIMEOUT, data={
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": app["client_id"]})


def code_for(app, username="alice", **params):
    """Sign in through the pages; (the redirect's query, the PKCE verifier)."""
    verifier, challenge = pkce()
    answer = FormBrowser(app).sign_in(username, code_challenge=challenge, code_challenge_method="S256", **params)
    assert answer.status_code == 302, answer.text
    return query_of(answer.headers["Location"]), verifier


def discover(app):
    """The user pool's OIDC discovery document, fetched at its issuer URL."""
    return requests.get(app["issuer_url"] + "/.well-known/openid-configuration", timeout=TIMEOUT).json()


def verified_claims(app, token_value):
    """A token's claims, verified against the pool's JWKS as found by OIDC discovery."""
    discovery = discover(app)
    keys = KeySet.import_key_set(requests.get(discovery["jwks_uri"], timeout=TIMEOUT).json())
    return jwt.decode(token_value, keys, algorithms=["RS256"]).claims


# ---- a standard client: authlib


def authlib_session(app, **options):
    """authlib's OAuth2Session for the app's client, PKCE S256, with the pool's discovery document."""
    discovery = discover(app)
    session = OAuth2Session(app["client_id"], app["client_secret"], redirect_uri=CALLBACK, scope="openid email",
                            code_challenge_method="S256",
                            token_endpoint_auth_method="client_secret_basic" if app["client_secret"] else "none",
                            **options)
    return session, discovery


def authlib_sign_in(app):
    """authlib's authorization URL (PKCE S256, a nonce), the sign-in form filled by FormBrowser.

    Returns (session, token endpoint, the callback URL the browser reached, the verifier)."""
    session, discovery = authlib_session(app)
    verifier = secrets.token_urlsafe(48)
    uri, _ = session.create_authorization_url(discovery["authorization_endpoint"], code_verifier=verifier,
                                              nonce="n-" + secrets.token_hex(4))
    browser = FormBrowser(app)
    page = browser.http.get(uri, timeout=TIMEOUT, allow_redirects=False)
    answer = browser.submit(page, username="alice", password=PASSWORDS["alice"])
    assert answer.status_code == 302, answer.text
    return session, discovery["token_endpoint"], answer.headers["Location"], verifier


def token_error(session, token_url, callback, verifier):
    """The OAuth error authlib gets redeeming the callback's code with this verifier."""
    with pytest.raises(OAuthError) as refused:
        session.fetch_token(token_url, authorization_response=callback, code_verifier=verifier)
    return refused.value.error


def test_discovery_names_the_domain_endpoints_and_the_pool_issuer(login_app):
    app = login_app()
    discovery = discover(app)
    assert discovery["issuer"] == f"https://cognito-idp.{REGION}.amazonaws.com/{app['user_pool_id']}"
    assert discovery["authorization_endpoint"] == app["base"] + "/oauth2/authorize"
    assert discovery["token_endpoint"] == app["base"] + "/oauth2/token"
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert requests.get(discovery["jwks_uri"], timeout=TIMEOUT).json()["keys"]


def test_authlib_signs_in_with_pkce_and_gets_tokens_the_identity_pool_accepts(login_app):
    app = login_app()
    session, token_url, callback, verifier = authlib_sign_in(app)
    tokens = session.fetch_token(token_url, authorization_response=callback, code_verifier=verifier)
    claims = verified_claims(app, tokens["id_token"])
    assert claims["iss"] == discover(app)["issuer"] and claims["aud"] == app["client_id"]
    assert claims["cognito:username"] == "alice" and claims["nonce"].startswith("n-")
    access = verified_claims(app, tokens["access_token"])
    assert access["scope"] == "openid email" and access["auth_time"] == claims["auth_time"]
    identity_id, credentials = identity_of(app, tokens["id_token"])
    assert identity_id.startswith(REGION + ":") and credentials["AccessKeyId"]


def test_a_reused_code_is_invalid_grant(login_app):
    app = login_app()
    session, token_url, callback, verifier = authlib_sign_in(app)
    session.fetch_token(token_url, authorization_response=callback, code_verifier=verifier)
    assert token_error(session, token_url, callback, verifier) == "invalid_grant"


def test_a_wrong_verifier_is_invalid_grant_and_burns_the_code(login_app):
    app = login_app()
    session, token_url, callback, verifier = authlib_sign_in(app)
    assert token_error(session, token_url, callback, secrets.token_urlsafe(48)) == "invalid_grant"
    # The right verifier comes too late: a code is tried once.
    assert token_error(session, token_url, callback, verifier) == "invalid_grant"


def test_a_code_without_its_verifier_is_invalid_grant(login_app):
    app = login_app()
    query, _ = code_for(app)
    answer = redeem(app, query["code"])
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")


def test_a_wrong_redirect_uri_at_the_token_endpoint_is_invalid_grant(login_app):
    app = login_app(callbacks=(CALLBACK, "http://localhost:53683/callback"))
    session, token_url, callback, verifier = authlib_sign_in(app)
    session.redirect_uri = "http://localhost:53683/callback"  # registered, but not the one the code was for
    assert token_error(session, token_url, callback, verifier) == "invalid_grant"


def test_authlib_refreshes_and_the_renewed_tokens_keep_scope(login_app):
    app = login_app()
    session, token_url, callback, verifier = authlib_sign_in(app)
    first = session.fetch_token(token_url, authorization_response=callback, code_verifier=verifier)
    renewed = session.refresh_token(token_url, refresh_token=first["refresh_token"])
    assert renewed["access_token"] != first["access_token"]
    assert verified_claims(app, renewed["access_token"])["scope"] == "openid email"
    assert verified_claims(app, renewed["id_token"])["auth_time"] == verified_claims(app, first["id_token"])["auth_time"]


# ---- authorize's checks


def test_an_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(login_app):
    answer = FormBrowser(login_app()).authorize(redirect_uri="http://localhost:9999/elsewhere")
    assert answer.status_code == 400 and "Location" not in answer.headers
    assert "redirect_mismatch" in answer.text


def test_an_unknown_client_gets_an_error_page(login_app):
    answer = FormBrowser(login_app()).authorize(client_id="no-such-client")
    assert answer.status_code == 400 and "client_id" in answer.text


@pytest.mark.parametrize("params, error", [
    ({"scope": "openid aws.cognito.signin.user.admin"}, "invalid_scope"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"code_challenge": "abc", "code_challenge_method": "plain"}, "invalid_request"),
    ({"identity_provider": "NotThere"}, "invalid_request"),
])
def test_authorize_errors_go_back_to_the_app_with_error_and_state(login_app, params, error):
    answer = FormBrowser(login_app()).authorize(state="keep-me", **params)
    assert answer.status_code == 302
    query = query_of(answer.headers["Location"])
    assert answer.headers["Location"].startswith(CALLBACK + "?")
    assert (query["error"], query["state"]) == (error, "keep-me") and query["error_description"]


def test_a_client_not_enabled_for_the_code_grant_is_unauthorized_client(login_app, idp):
    app = login_app()
    idp.update_user_pool_client(UserPoolId=app["user_pool_id"], ClientId=app["client_id"],
                                AllowedOAuthFlows=["implicit"])
    answer = FormBrowser(app).authorize()
    assert query_of(answer.headers["Location"])["error"] == "unauthorized_client"


def test_state_comes_back_with_the_code_and_no_scope_means_all_allowed(login_app):
    app = login_app()
    query, verifier = code_for(app, state="opaque-123", scope=None)
    assert query["state"] == "opaque-123"
    tokens = redeem(app, query["code"], verifier).json()
    assert verified_claims(app, tokens["access_token"])["scope"].split() == LOGIN_SCOPES


# ---- the sign-in pages


def test_a_wrong_password_shows_the_form_again_with_cognitos_message(login_app):
    browser = FormBrowser(login_app())
    answer = browser.sign_in("alice", password="not-her-password")
    assert answer.status_code == 400 and "Incorrect username or password." in answer.text
    assert 'name="username"' in answer.text and 'name="password"' in answer.text
    again = browser.submit(answer, username="alice", password=PASSWORDS["alice"])  # the same page may retry
    assert again.status_code == 302 and "code" in query_of(again.headers["Location"])


def test_an_unknown_user_gets_the_same_message_as_a_wrong_password(login_app):
    answer = FormBrowser(login_app()).sign_in("nobody", password="whatever-1A!")
    assert "Incorrect username or password." in answer.text


def test_a_disabled_user_is_told_so(login_app, idp):
    app = login_app()
    idp.admin_disable_user(UserPoolId=app["user_pool_id"], Username="bob")
    answer = FormBrowser(app).sign_in("bob")
    assert answer.status_code == 400 and "User is disabled." in answer.text


@pytest.mark.parametrize("secret", [False, True], ids=["public-client", "client-with-secret"])
def test_a_user_with_totp_gets_a_code_page_and_a_wrong_code_may_be_retried(login_app, idp, public, local_aws,
                                                                            secret):
    app = login_app(secret=secret)
    totp_secret = enable_totp(idp, public, app, local_aws)
    browser = FormBrowser(app)
    page = browser.sign_in("alice")
    assert page.status_code == 200 and "authenticator app" in page.text and 'name="code"' in page.text
    right = totp(totp_secret, local_now(local_aws))
    wrong = browser.submit(page, code="000000" if right != "000000" else "111111")
    assert wrong.status_code == 200 and 'id="error"' in wrong.text
    done = browser.submit(wrong, code=totp(totp_secret, local_now(local_aws)))
    assert done.status_code == 302
    auth = (app["client_id"], app["client_secret"]) if secret else None
    assert redeem(app, query_of(done.headers["Location"])["code"], auth=auth).status_code == 200


def test_an_email_mfa_code_comes_from_the_outbox(login_app, idp, outbox):
    app = login_app()
    pool = app["user_pool_id"]
    idp.admin_update_user_attributes(UserPoolId=pool, Username="bob", UserAttributes=[
        {"Name": "email", "Value": "bob@example.org"}, {"Name": "email_verified", "Value": "true"}])
    idp.set_user_pool_mfa_config(UserPoolId=pool, EmailMfaConfiguration={"Message": "{####}", "Subject": "code"},
                                 MfaConfiguration="ON")
    browser = FormBrowser(app)
    page = browser.sign_in("bob")
    assert "sent by email" in page.text
    done = browser.submit(page, code=outbox("bob", pool=pool, channel="email"))
    assert done.status_code == 302 and "code" in query_of(done.headers["Location"])


def test_a_user_with_two_factors_chooses_one_on_a_page(login_app, idp, public, local_aws, outbox):
    app = login_app()
    pool = app["user_pool_id"]
    enable_totp(idp, public, app, local_aws, prefer=False)
    idp.admin_update_user_attributes(UserPoolId=pool, Username="alice", UserAttributes=[
        {"Name": "email", "Value": "alice@example.org"}, {"Name": "email_verified", "Value": "true"}])
    idp.set_user_pool_mfa_config(UserPoolId=pool, SoftwareTokenMfaConfiguration={"Enabled": True},
                                 EmailMfaConfiguration={"Message": "{####}", "Subject": "code"},
                                 MfaConfiguration="ON")
    browser = FormBrowser(app)
    choice = browser.sign_in("alice")
    assert 'name="mfa_type" value="SOFTWARE_TOKEN_MFA"' in choice.text
    assert 'name="mfa_type" value="EMAIL_OTP"' in choice.text
    page = browser.submit(choice, mfa_type="EMAIL_OTP")
    assert "sent by email" in page.text
    done = browser.submit(page, code=outbox("alice", pool=pool, channel="email"))
    assert done.status_code == 302 and "code" in query_of(done.headers["Location"])


def test_a_temporary_password_leads_to_a_new_password_page(login_app, idp):
    app = login_app()
    idp.admin_create_user(UserPoolId=app["user_pool_id"], Username="carol", TemporaryPassword="Temp-passw0rd!",
                          MessageAction="SUPPRESS")
    browser = FormBrowser(app)
    page = browser.sign_in("carol", password="Temp-passw0rd!")
    assert 'name="new_password"' in page.text
    weak = browser.submit(page, new_password="short")
    assert "Password did not conform with policy" in weak.text and 'name="new_password"' in weak.text
    done = browser.submit(weak, new_password="Carol-new-passw0rd!")
    assert done.status_code == 302
    again = FormBrowser(app).sign_in("carol", password="Carol-new-passw0rd!")
    assert again.status_code == 302


def test_the_browser_session_skips_the_form_until_logout(login_app):
    app = login_app()
    browser = FormBrowser(app)
    assert browser.sign_in("alice").status_code == 302
    silent = browser.authorize()
    assert silent.status_code == 302 and "code" in query_of(silent.headers["Location"])
    refused = browser.http.get(app["base"] + "/logout?" + urlencode(
        {"client_id": app["client_id"], "logout_uri": "http://localhost:1/not-registered"}),
        allow_redirects=False, timeout=TIMEOUT)
    assert refused.status_code == 400
    out = browser.http.get(app["base"] + "/logout?" + urlencode({"client_id": app["client_id"], "logout_uri": SIGN_OUT}),
                           allow_redirects=False, timeout=TIMEOUT)
    assert (out.status_code, out.headers["Location"]) == (302, SIGN_OUT)
    assert browser.authorize().status_code == 200  # the form again
    browser.submit(browser.authorize(), username="alice", password=PASSWORDS["alice"])
    again = browser.http.get(app["base"] + "/logout?" + urlencode({
        "client_id": app["client_id"], "redirect_uri": CALLBACK, "response_type": "code", "state": "s2"}),
        allow_redirects=False, timeout=TIMEOUT)
    assert again.headers["Location"].startswith(app["base"] + "/oauth2/authorize?")
    form = browser.http.get(again.headers["Location"], allow_redirects=False, timeout=TIMEOUT)
    assert form.status_code == 200 and 'name="password"' in form.text  # signed out, asked to sign in again


# ---- token endpoint: clients with a secret, refresh, revoke


def test_a_client_with_a_secret_authenticates_by_basic_or_body_and_not_without(login_app):
    app = login_app(secret=True)
    for how in ("basic", "body", "none"):
        query, verifier = code_for(app)
        if how == "basic":
            answer = redeem(app, query["code"], verifier, auth=(app["client_id"], app["client_secret"]))
        elif how == "body":
            answer = redeem(app, query["code"], verifier, client_secret=app["client_secret"])
        else:
            answer = redeem(app, query["code"], verifier)
        assert answer.status_code == (400 if how == "none" else 200), (how, answer.text)
        if how == "none":
            assert answer.json()["error"] == "invalid_client"


def test_a_code_expires_after_five_minutes_on_local_aws_clock(clock_aws):
    stack = clock_aws["make_stack"]("ml-clock")
    app = managed_login_app(clock_aws["admin_session"], clock_aws["endpoint_url"], stack)
    query, verifier = code_for(app)
    advance_clock(app["endpoint_url"], 301)
    answer = redeem(app, query["code"], verifier)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")


def test_a_browser_session_renews_with_its_refresh_token_after_the_clock_passes_expiry(clock_aws):
    stack = clock_aws["make_stack"]("ml-renew")
    app = managed_login_app(clock_aws["admin_session"], clock_aws["endpoint_url"], stack)
    query, verifier = code_for(app)
    tokens = redeem(app, query["code"], verifier).json()
    advance_clock(app["endpoint_url"], tokens["expires_in"] + 1)

    def user_info_status(access):
        return requests.get(app["base"] + "/oauth2/userInfo", headers={"Authorization": "Bearer " + access},
                            timeout=TIMEOUT).status_code

    assert user_info_status(tokens["access_token"]) == 401
    renewed = refresh_grant(app, tokens["refresh_token"])
    assert renewed.status_code == 200 and "refresh_token" not in renewed.json()  # no rotation on this client
    assert user_info_status(renewed.json()["access_token"]) == 200
    assert identity_of(app, renewed.json()["id_token"])[0]


def test_a_managed_login_refresh_token_renews_through_initiate_auth_too(login_app):
    app = login_app()
    query, verifier = code_for(app)
    tokens = redeem(app, query["code"], verifier).json()
    renewed = public(app, "cognito-idp").initiate_auth(
        ClientId=app["client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["refresh_token"]})["AuthenticationResult"]
    assert verified_claims(app, renewed["AccessToken"])["scope"] == "openid email"
    assert identity_of(app, renewed["IdToken"])[0] == identity_of(app, tokens["id_token"])[0]


def test_a_managed_login_id_token_carries_the_group_role_the_identity_pool_maps(login_app, admin_client):
    app, iam = login_app(), admin_client("iam")
    role = iam.create_role(RoleName=f"{app['role']}-group", AssumeRolePolicyDocument=json.dumps(
        trust(app["identity_pool_id"])))["Role"]["Arn"]
    admin_client("cognito-idp").create_group(UserPoolId=app["user_pool_id"], GroupName="staff", RoleArn=role)
    admin_client("cognito-idp").admin_add_user_to_group(UserPoolId=app["user_pool_id"], Username="alice",
                                                        GroupName="staff")
    admin_client("cognito-identity").set_identity_pool_roles(
        IdentityPoolId=app["identity_pool_id"],
        Roles={"authenticated": iam.get_role(RoleName=app["role"])["Role"]["Arn"]},
        RoleMappings={f"cognito-idp.{REGION}.amazonaws.com/{app['user_pool_id']}:{app['client_id']}": {
            "Type": "Token", "AmbiguousRoleResolution": "Deny"}})
    query, verifier = code_for(app)
    tokens = redeem(app, query["code"], verifier).json()
    claims = verified_claims(app, tokens["id_token"])
    assert claims["cognito:groups"] == ["staff"] and claims["cognito:preferred_role"] == role
    renewed = refresh_grant(app, tokens["refresh_token"]).json()["id_token"]
    assert verified_claims(app, renewed)["cognito:roles"] == [role]
    credentials = identity_of(app, tokens["id_token"])[1]
    sts = boto3.client("sts", region_name=REGION, endpoint_url=app["endpoint_url"],
                       aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretKey"],
                       aws_session_token=credentials["SessionToken"])
    assert f":assumed-role/{app['role']}-group/" in sts.get_caller_identity()["Arn"]


def test_a_rotating_client_gets_a_new_refresh_token_and_the_old_one_dies(login_app, idp):
    app = login_app()
    idp.update_user_pool_client(UserPoolId=app["user_pool_id"], ClientId=app["client_id"],
                                ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"],
                                RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0})
    query, verifier = code_for(app)
    tokens = redeem(app, query["code"], verifier).json()
    rotated = refresh_grant(app, tokens["refresh_token"]).json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert refresh_grant(app, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    api = public(app, "cognito-idp").get_tokens_from_refresh_token(
        ClientId=app["client_id"], RefreshToken=rotated["refresh_token"])["AuthenticationResult"]
    assert verified_claims(app, api["AccessToken"])["scope"] == "openid email"


def test_revoke_ends_the_refresh_token_everywhere(login_app):
    app = login_app()
    query, verifier = code_for(app)
    tokens = redeem(app, query["code"], verifier).json()
    access_refused = requests.post(app["base"] + "/oauth2/revoke", data={
        "token": tokens["access_token"], "client_id": app["client_id"]}, timeout=TIMEOUT)
    assert access_refused.json()["error"] == "unsupported_token_type"
    revoked = requests.post(app["base"] + "/oauth2/revoke", data={
        "token": tokens["refresh_token"], "client_id": app["client_id"]}, timeout=TIMEOUT)
    assert revoked.status_code == 200
    again = refresh_grant(app, tokens["refresh_token"])
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    with pytest.raises(Exception, match="NotAuthorized"):
        public(app, "cognito-idp").initiate_auth(ClientId=app["client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
                                                 AuthParameters={"REFRESH_TOKEN": tokens["refresh_token"]})


def test_an_unknown_grant_type_is_unsupported_grant_type(login_app):
    app = login_app()
    answer = requests.post(app["base"] + "/oauth2/token", data={"grant_type": "password",
                                                                "client_id": app["client_id"]}, timeout=TIMEOUT)
    assert answer.json()["error"] == "unsupported_grant_type"


# ---- userInfo


def test_user_info_answers_managed_login_tokens_and_refuses_initiate_auth_ones(login_app, idp):
    app = login_app()
    idp.admin_update_user_attributes(UserPoolId=app["user_pool_id"], Username="alice",
                                     UserAttributes=[{"Name": "email", "Value": "alice@example.org"}])
    query, verifier = code_for(app)
    tokens = redeem(app, query["code"], verifier).json()
    info = requests.get(app["base"] + "/oauth2/userInfo", timeout=TIMEOUT,
                        headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert info.status_code == 200
    assert info.json()["email"] == "alice@example.org" and info.json()["username"] == "alice"
    idp.update_user_pool_client(UserPoolId=app["user_pool_id"], ClientId=app["client_id"],
                                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    api = public(app, "cognito-idp").initiate_auth(ClientId=app["client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                                   AuthParameters={"USERNAME": "alice",
                                                                   "PASSWORD": PASSWORDS["alice"]})
    refused = requests.get(app["base"] + "/oauth2/userInfo", timeout=TIMEOUT,
                           headers={"Authorization": "Bearer " + api["AuthenticationResult"]["AccessToken"]})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"


# ---- federation through the tests' own OIDC provider


def federated_tokens(app, provider_name=OIDC_PROVIDER):
    """Sign in through identity_provider=NAME (the provider approves at once); (redirect query, tokens or None)."""
    verifier, challenge = pkce()
    browser = FormBrowser(app)
    answer = browser.authorize(identity_provider=provider_name, code_challenge=challenge,
                               code_challenge_method="S256", nonce="app-nonce")
    for _ in range(4):  # local_aws -> provider -> local_aws's idpresponse -> the app
        if answer.status_code != 302 or answer.headers["Location"].startswith(CALLBACK):
            break
        answer = browser.http.get(answer.headers["Location"], allow_redirects=False, timeout=TIMEOUT)
    query = query_of(answer.headers["Location"])
    tokens = redeem(app, query["code"], verifier).json() if "code" in query else None
    return query, tokens


def test_a_federated_user_signs_in_and_gets_an_identity_of_their_own(login_app, oidc_provider, admin_client):
    app = login_app(provider=oidc_provider)
    query, tokens = federated_tokens(app)
    claims = verified_claims(app, tokens["id_token"])
    assert claims["cognito:username"] == f"{OIDC_PROVIDER}_sub-0001" and claims["nonce"] == "app-nonce"
    assert claims["email"] == "fed@example.org"
    assert claims["identities"][0]["providerName"] == OIDC_PROVIDER
    assert claims["identities"][0]["userId"] == "sub-0001"
    user = admin_client("cognito-idp").admin_get_user(UserPoolId=app["user_pool_id"],
                                                      Username=f"{OIDC_PROVIDER}_sub-0001")
    assert user["UserStatus"] == "EXTERNAL_PROVIDER"
    sent = oidc_provider.token_requests[-1]
    assert sent["redirect_uri"] == app["base"] + "/oauth2/idpresponse"
    fed_identity, credentials = identity_of(app, tokens["id_token"])
    alice_query, verifier = code_for(app)
    alice_identity, _ = identity_of(app, redeem(app, alice_query["code"], verifier).json()["id_token"])
    assert fed_identity != alice_identity and credentials["SessionToken"]
    _, again = federated_tokens(app)  # the same person later: the same user, the same identity
    assert identity_of(app, again["id_token"])[0] == fed_identity


@pytest.mark.parametrize("tamper, reason", [("audience", "audience"), ("nonce", "nonce"),
                                            ("signature", "signature"), ("expired", "expired")])
def test_a_provider_id_token_that_fails_verification_is_refused(login_app, oidc_provider, tamper, reason):
    app = login_app(provider=oidc_provider)
    oidc_provider.tamper = tamper
    query, tokens = federated_tokens(app)
    assert tokens is None and query["error"] == "invalid_request" and query["state"].startswith("st-")
    assert reason in query["error_description"], query["error_description"]


def test_the_sign_in_page_offers_the_provider_and_its_button_federates(login_app, oidc_provider):
    app = login_app(provider=oidc_provider)
    browser = FormBrowser(app)
    page = browser.authorize()
    assert f"Continue with {OIDC_PROVIDER}" in page.text and 'name="username"' in page.text
    answer = browser.submit(page, provider=OIDC_PROVIDER)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(oidc_provider.issuer + "/authorize?")
    assert query_of(answer.headers["Location"])["redirect_uri"] == app["base"] + "/oauth2/idpresponse"


def test_a_provider_refusal_goes_back_to_the_app_and_an_unknown_state_gets_an_error_page(login_app, oidc_provider):
    app = login_app(provider=oidc_provider)
    browser = FormBrowser(app)
    to_provider = browser.authorize(identity_provider=OIDC_PROVIDER, state="app-state")
    sent_state = query_of(to_provider.headers["Location"])["state"]
    assert sent_state != "app-state"  # local_aws's own state travels to the provider, not the app's
    refused = browser.http.get(app["base"] + "/oauth2/idpresponse?" + urlencode(
        {"error": "access_denied", "error_description": "the user said no", "state": sent_state}),
        allow_redirects=False, timeout=TIMEOUT)
    query = query_of(refused.headers["Location"])
    assert (query["error"], query["error_description"], query["state"]) == (
        "access_denied", "the user said no", "app-state")
    replayed = browser.http.get(app["base"] + "/oauth2/idpresponse?" + urlencode(
        {"code": "x", "state": sent_state}), allow_redirects=False, timeout=TIMEOUT)
    assert replayed.status_code == 400 and "state" in replayed.text


def test_managed_login_requests_are_logged_and_can_be_failed(login_app, local_aws, faults):
    app = login_app()
    query, verifier = code_for(app)
    faults.add("ManagedLoginToken", times=1, status=500)
    failed = redeem(app, query["code"], verifier)
    assert failed.status_code == 500
    operations = [e["operation"] for e in control_call(local_aws, "GET", "requests")
                  if e["operation"].startswith("ManagedLogin")]
    assert {"ManagedLoginAuthorize", "ManagedLoginLogin", "ManagedLoginToken"} <= set(operations)
