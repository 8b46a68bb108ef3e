"""Servers that hang, fail or aren't AWS at all: exit 4 naming the endpoint, in seconds; exit 3 only when
Cognito refuses this user; a malformed endpoint_url is exit 2 before any request."""

import pytest

import cog_auth_s3 as tool

# Longer than the read timeout of Cognito's clients, far shorter than botocore's default 60 s.
STALL_MS = 9000


def one_error_line(result):
    """The stderr of a failed run is one line, without a traceback."""
    return len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_creds_gives_up_on_an_endpoint_that_accepts_and_never_answers(cli, user_config, silent_server):
    # Before the fix this took 4 x 60 s; the subprocess timeout turns a hang into a failure.
    result = cli("--config", user_config(endpoint_url=silent_server), "--no-cache", "creds", timeout=90)
    assert result.returncode == 4, result.stderr
    assert silent_server.split("//")[1] in result.stderr and "did not answer" in result.stderr
    assert one_error_line(result), result.stderr


def test_a_stalled_identity_call_fails_naming_the_endpoint(cli, user_config, faults, local_aws):
    faults.add("GetCredentialsForIdentity", action="delay", delay_ms=STALL_MS, times=2)
    result = cli("--config", user_config(), "--no-cache", "creds", timeout=90)
    assert result.returncode == 4, result.stderr
    assert local_aws["endpoint_url"].split("//")[1] in result.stderr and "did not answer" in result.stderr
    assert "get credentials for" in result.stderr and one_error_line(result)


def test_only_cognito_and_sts_clients_get_short_timeouts():
    for service in ("cognito-idp", "cognito-identity", "sts"):
        config = tool.make_client(service, "us-east-1", "http://127.0.0.1:9", unsigned=True)._client_config
        attempts = config.retries["total_max_attempts"]
        assert config.connect_timeout <= 5 and config.read_timeout * 1000 < STALL_MS and attempts <= 2
        assert attempts * (config.connect_timeout + config.read_timeout) <= 20  # the worst case stays bounded
    s3 = tool.make_client("s3", "us-east-1", "http://127.0.0.1:9", unsigned=True)._client_config
    assert s3.read_timeout == 60  # S3 data keeps the transfer timeouts


def test_a_server_fault_at_sign_in_exits_4_naming_the_endpoint(cli, user_config, faults, local_aws):
    faults.add("InitiateAuth", status=500, code="InternalErrorException", message="injected", times=5)
    result = cli("--config", user_config(), "--no-cache", "creds")
    assert result.returncode == 4, result.stderr
    assert local_aws["endpoint_url"] in result.stderr and "HTTP 500" in result.stderr
    assert "refused" not in result.stderr.replace("not a refusal", "") and one_error_line(result)


def test_a_proxy_error_page_at_sign_in_exits_4_naming_the_endpoint(cli, user_config, html_error_server):
    proxy = html_error_server(503)
    result = cli("--config", user_config(endpoint_url=proxy), "--no-cache", "creds")
    assert result.returncode == 4, result.stderr
    assert proxy in result.stderr and "HTTP 503" in result.stderr and "not an AWS answer" in result.stderr
    assert "<" not in result.stderr and one_error_line(result)


def test_an_endpoint_with_a_path_exits_4_saying_aws_endpoints_have_none(cli, user_config, local_aws):
    endpoint = local_aws["endpoint_url"] + "/cognito"
    result = cli("--config", user_config(endpoint_url=endpoint), "--no-cache", "creds")
    assert result.returncode == 4, result.stderr
    assert endpoint in result.stderr and "HTTP 404" in result.stderr and "AWS endpoints have no path; this one has /cognito" in result.stderr
    assert one_error_line(result)


@pytest.mark.parametrize("endpoint,needle", [
    ("http://[::1", "not an http(s) URL"),
    ("http://127.0.0.1:99999", "port 99999"),
    ("http://127.0.0.1:0", "port 0"),
    ("http://127.0.0.1:4566/?Action=x", "no query"),
    ("https://user:pass@example.test", "user name or password"),
])
def test_a_malformed_endpoint_url_exits_2_before_any_request(cli, user_config, request_log, endpoint, needle):
    result = cli("--config", user_config(endpoint_url=endpoint), "--no-cache", "creds")
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr and one_error_line(result)
    assert "pass" not in result.stderr.replace("password", "")  # a URL's credentials are not echoed
    assert request_log.entries() == []


def test_a_wrong_user_pool_id_says_it_may_be_the_pool_not_the_password(cli, user_config):
    # On AWS the SRP proof binds the pool's name: a wrong pool id and a wrong password look the same.
    result = cli("--config", user_config(user_pool_id="us-east-1_NotThePool1"), "--no-cache", "creds")
    assert result.returncode == 3, result.stderr
    assert "incorrect username or password" in result.stderr
    assert "check that user_pool_id is the pool of client_id" in result.stderr and one_error_line(result)
