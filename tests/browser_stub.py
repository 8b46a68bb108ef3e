"""A BROWSER for the tool under test (Python's webbrowser runs `python browser_stub.py URL`): it hands the
URL on instead of showing it.

- BROWSER_STUB_FILE: append the URL as a line to that file; the test's own browser (Playwright, or
  `sign_in_over_http`) picks it up there and completes the page.
- else BROWSER_STUB_USERNAME and BROWSER_STUB_PASSWORD: complete the sign-in at once over HTTP, as a person
  who types instantly would (bench/run.py measures `login --browser` this way, without the form filling);
  with no username it only follows the redirects (a provider that approves at once, --idp).
"""

import http.cookiejar
import os
import re
import sys
import urllib.error
import urllib.request
from urllib.parse import urlencode, urljoin

TIMEOUT = 10


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand 3xx answers back instead of following them."""

    def redirect_request(self, *args, **kwargs):
        return None


def opener():
    """An HTTP client that keeps cookies and does not follow redirects."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), NoRedirect())


def fetch(client, url, form=None):
    """(status, Location or None, body text) of a GET, or a POST of form."""
    data = urlencode(form).encode() if form is not None else None
    try:
        with client.open(urllib.request.Request(url, data=data), timeout=TIMEOUT) as response:
            return response.status, response.headers.get("Location"), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Location"), err.read().decode()


def sign_in_over_http(url, username=None, password=None, until=None):
    """Walk from the authorize URL through the sign-in form (when username is given) and every redirect
    until one starts with `until` (not fetched; returned), or, with until None, to the end; the last URL."""
    client = opener()
    status, location, body = fetch(client, url)
    for _ in range(10):
        if status in (301, 302, 303, 307):
            url = urljoin(url, location)
            if until and url.startswith(until):
                return url
            status, location, body = fetch(client, url)
            continue
        flow = re.search(r'name="flow" value="([^"]+)"', body)
        if status == 200 and flow and username:
            action = re.search(r'<form method="post" action="([^"]+)"', body).group(1)
            status, location, body = fetch(client, action, {"flow": flow.group(1), "username": username,
                                                            "password": password})
            username = None
            continue
        return url
    raise RuntimeError("too many redirects")


if __name__ == "__main__":
    target = sys.argv[1]
    if os.environ.get("BROWSER_STUB_FILE"):
        with open(os.environ["BROWSER_STUB_FILE"], "a") as handle:
            handle.write(target + "\n")
    else:
        sign_in_over_http(target, os.environ.get("BROWSER_STUB_USERNAME"), os.environ.get("BROWSER_STUB_PASSWORD"))
