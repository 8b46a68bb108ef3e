"""share: a presigned GET link for one object, fetched with plain urllib as anyone would, until it expires."""

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from helpers import PASSWORDS, advance_clock, write_config


def fetch(url):
    """(status, body) of a plain GET, as a browser or curl would make it."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def put(files, tmp_path, key, text):
    (tmp_path / "f.txt").write_text(text)
    result = files("put", tmp_path / "f.txt", "--key", key)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def clock_files(cli, tmp_path, clock_stack):
    """files(*args) as alice on the clock stack."""
    values = {k: v for k, v in clock_stack.items() if k not in ("role", "client_secret")}
    config = write_config(tmp_path / "clock.ini", {"default": {**values, "username": "alice",
                                                               "password": PASSWORDS["alice"]}})
    return lambda *args, **kwargs: cli("--config", config, *args, **kwargs)


def test_a_shared_link_works_with_urllib_until_its_expiry_passes(clock_files, tmp_path, clock_aws):
    put(clock_files, tmp_path, "share/report.txt", "the report")
    result = clock_files("--json", "share", "share/report.txt", "--expires", "120s")
    assert result.returncode == 0, result.stderr
    link = json.loads(result.stdout)
    assert link["expires_in"] == 120 and link["uri"].endswith("/share/report.txt")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(link["url"]).query)
    assert query["X-Amz-Expires"] == ["120"] and "X-Amz-Security-Token" in query
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert fetch(link["url"]) == (200, b"the report")
    advance_clock(clock_aws["endpoint_url"], 150)
    status, body = fetch(link["url"])
    assert status == 403 and b"AccessDenied" in body


def test_a_link_capped_at_its_credentials_dies_with_them(clock_files, tmp_path, clock_aws):
    put(clock_files, tmp_path, "share/long.txt", "long")
    result = clock_files("--json", "share", "share/long.txt", "--expires", "12h")
    assert result.returncode == 0, result.stderr
    link = json.loads(result.stdout)
    assert link["expires_in"] < 2 * 3600 and "warning: the link works for" in result.stderr
    assert fetch(link["url"]) == (200, b"long")
    # Past the credentials' hour the link is refused, whatever 12h would have said: hence the cap.
    advance_clock(clock_aws["endpoint_url"], link["expires_in"] + 60)
    assert fetch(link["url"])[0] == 403


def test_share_prints_only_the_url_on_stdout(files, tmp_path):
    put(files, tmp_path, "share/plain.txt", "plain")
    result = files("share", "share/plain.txt", "--expires", "10m")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and result.stdout.startswith("http")


def test_share_signs_with_a_renewed_session_and_caps_the_expiry_at_its_credentials(files, tmp_path, request_log):
    put(files, tmp_path, "share/long.txt", "long")
    request_log.clear()
    result = files("--json", "share", "share/long.txt", "--expires", "12h")
    assert result.returncode == 0, result.stderr
    # The cached session was still fresh, but the link gets credentials renewed for it.
    assert "GetCredentialsForIdentity" in request_log.cognito_calls()
    link = json.loads(result.stdout)
    assert link["expires_in"] < 12 * 3600
    assert "warning: the link works for" in result.stderr and "not 12h" in result.stderr
    assert urllib.parse.parse_qs(urllib.parse.urlparse(link["url"]).query)["X-Amz-Expires"] == [
        str(link["expires_in"])]


def test_a_link_to_another_identitys_key_cannot_be_made(files, stack):
    other = "us-east-1:99999999-2222-3333-4444-555555555555"
    result = files("share", f"s3://{stack['bucket']}/{other}/secret.txt")
    assert result.returncode == 2 and "outside your folder" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("duration", ["0s", "1w", "ten", "-5m", "8d"])
def test_a_bad_duration_is_a_usage_error(files, duration):
    result = files("share", "a.txt", "--expires", duration)
    assert result.returncode == 2 and "--expires" in result.stderr


def test_a_link_to_a_missing_object_is_refused(files):
    result = files("share", "share/no-such-file.txt")
    # S3 answers a least-privilege user's HEAD of a missing key with 403, not 404; the listing of its prefix tells.
    assert result.returncode == 4 and "does not exist" in result.stderr and len(result.stderr.splitlines()) == 1
    assert result.stdout == ""
