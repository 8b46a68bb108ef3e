"""A minimal OpenID Connect provider on loopback, for federation tests: discovery, authorize, token, JWKS.

Its authorize endpoint approves at once as the user in `provider.user` (no page), as a provider where the
person is already signed in would. It keeps its own promises: codes are single-use and bound to their
client and redirect_uri, the client secret is checked, and the ID token carries the nonce it was sent.
`provider.tamper` makes the next ID tokens wrong in one way ("audience", "nonce", "signature", "expired"),
so the tests can check that local_aws refuses them.
"""

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "local-aws-federation-test"
CLIENT_SECRET = "provider-secret-not-a-real-one"


class Provider:
    """The provider's state; `issuer` is its base URL (http://127.0.0.1:PORT)."""

    def __init__(self):
        """A fresh signing key and an empty set of codes; call start()."""
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-provider", "use": "sig", "alg": "RS256"},
                                       private=True)
        self.user = {"sub": "sub-0001", "email": "fed@example.org", "email_verified": True}
        self.codes, self.tamper, self.token_requests = {}, None, []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        """Serve in a daemon thread."""
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def discovery(self):
        """The discovery document."""
        return {"issuer": self.issuer, "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token", "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"]}

    def id_token(self, grant):
        """An ID token for a redeemed code, made wrong as self.tamper says."""
        now = int(time.time())
        claims = {**grant["user"], "iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 3600,
                  "nonce": grant["nonce"]}
        key = self.key
        if self.tamper == "audience":
            claims["aud"] = "someone-else"
        elif self.tamper == "nonce":
            claims["nonce"] = "not-the-nonce-sent"
        elif self.tamper == "expired":
            claims["exp"] = now - 60
        elif self.tamper == "signature":
            key = RSAKey.generate_key(2048, parameters={"kid": "test-provider"}, private=True)
        return jwt.encode({"alg": "RS256", "kid": "test-provider"}, claims, key)

    def handler(self):
        """The request handler class, bound to this provider."""
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self, status, body=None, location=None):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    return self.answer(200, provider.discovery())
                if url.path == "/jwks":
                    return self.answer(200, {"keys": [provider.key.as_dict(private=False)]})
                if url.path == "/authorize":
                    if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
                        return self.answer(400, {"error": "invalid_request"})
                    code = secrets.token_urlsafe(16)
                    with provider.lock:
                        provider.codes[code] = {"redirect_uri": query["redirect_uri"], "nonce": query.get("nonce"),
                                                "user": dict(provider.user)}
                    target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state")})
                    return self.answer(302, location=target)
                return self.answer(404, {"error": "not_found"})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                if urlparse(self.path).path != "/token":
                    return self.answer(404, {"error": "not_found"})
                provider.token_requests.append(form)
                if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                    return self.answer(401, {"error": "invalid_client"})
                with provider.lock:
                    grant = provider.codes.pop(form.get("code", ""), None)
                if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                    return self.answer(400, {"error": "invalid_grant"})
                return self.answer(200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                         "expires_in": 3600, "id_token": provider.id_token(grant)})

            def log_message(self, *args):
                pass

        return Handler
