"""Google's OAuth 2.0 token endpoint (``https://oauth2.googleapis.com/token``), refresh grant.

Behaviour from https://developers.google.com/identity/protocols/oauth2/web-server#offline
("Refreshing an access token"): a POST of ``client_id``, ``client_secret``, ``grant_type=
refresh_token`` and ``refresh_token`` answers ``{"access_token", "expires_in", "scope",
"token_type": "Bearer"}`` (no new refresh token: Google does not rotate them), and a revoked
or expired grant answers 400 ``{"error": "invalid_grant", "error_description": "Token has
been expired or revoked."}``. Client authentication may also be HTTP Basic (RFC 6749 §2.3.1).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from urllib.parse import parse_qs

from sandbox.oauth.grants import basic_credentials

from .errors import Reply

SCOPE = "https://www.googleapis.com/auth/gmail.readonly"
REVOKED = "Token has been expired or revoked."


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply.json(status, {"error": error, "error_description": description})


class TokenEndpoint:
    """Clients, refresh-token grants and the access tokens issued from them. Thread-safe."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        ttl_s: float,
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        """Creates the endpoint with one client and one live grant.

        Args:
            client_id: The OAuth client's id.
            client_secret: Its secret.
            refresh_token: The user's grant.
            ttl_s: Seconds an access token lives (Google: 3599).
            clock: Unix seconds.
            rng: Token material.
        """
        self.client_id, self.client_secret = client_id, client_secret
        self.ttl_s = ttl_s
        self.rotate = False
        self.issued = 0
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self._refresh_tokens = {refresh_token}
        self._latest = refresh_token
        self._access: dict[str, float] = {}

    @property
    def refresh_token(self) -> str:
        """The newest refresh token issued (no longer live once the grant is revoked)."""
        with self._lock:
            return self._latest

    def handle(self, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answers one POST to the token endpoint."""
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        basic = basic_credentials(headers.get("authorization"))
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client_id != self.client_id or secret != self.client_secret:
            # Google: 401 {"error": "invalid_client", "error_description": "Unauthorized"}
            # (as reported from oauth2.googleapis.com in SocialiteProviders/Providers#564).
            return _oauth_error(401, "invalid_client", "Unauthorized")
        grant_type = form.get("grant_type", "")
        if grant_type != "refresh_token":
            return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        token = form.get("refresh_token")
        if not token:
            return _oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
        with self._lock:
            if token not in self._refresh_tokens:
                return _oauth_error(400, "invalid_grant", REVOKED)
            access = "ya29.sandbox-" + self._rng.getrandbits(128).to_bytes(16, "big").hex()
            self._access[access] = self._clock() + self.ttl_s
            self.issued += 1
            answer: dict[str, object] = {
                "access_token": access,
                "expires_in": int(self.ttl_s),
                "scope": SCOPE,
                "token_type": "Bearer",
            }
            if self.rotate:
                new = "1//sandbox-" + self._rng.getrandbits(96).to_bytes(12, "big").hex()
                self._refresh_tokens = {new}
                self._latest = new
                answer["refresh_token"] = new
        return Reply.json(200, answer, {"Cache-Control": "no-cache, no-store, max-age=0"})

    def valid(self, authorization: str | None) -> bool:
        """Whether an ``Authorization: Bearer`` header carries a live access token."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        with self._lock:
            expiry = self._access.get(token.strip())
        return expiry is not None and self._clock() < expiry

    def expire_access_tokens(self) -> None:
        """Every access token issued so far answers 401 from now on."""
        with self._lock:
            self._access.clear()

    def revoke_grant(self) -> None:
        """The user removed the app: refresh tokens and access tokens stop working."""
        with self._lock:
            self._refresh_tokens.clear()
            self._access.clear()
