"""The OAuth sandbox: a local token server and protected resources on 127.0.0.1.

``OAuthSandbox`` runs a ``ThreadingHTTPServer`` on a free port in a background thread.
It serves the client credentials, refresh token (with rotation) and JWT bearer grants,
a bearer-protected ``/api/me`` and an OAuth 1.0a protected ``/netsuite/record``, and
offers controls for tests: expire access tokens, revoke refresh tokens, inject token
endpoint failures, count issued tokens and read a request log free of secrets.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from sandbox.background import BackgroundServer

from .app import NETSUITE_PATH, RESOURCE_PATH, TOKEN_PATH, SandboxApp
from .grants import TokenGrants
from .oauth1_verify import OAuth1Verifier
from .state import Clock, SandboxState

logger = logging.getLogger("sluice.sandbox.oauth")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, app: SandboxApp) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self._answer("POST")

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {name: value for name, value in self.headers.items()}
        reply = self.server.app.handle(method, self.path, _Caseless(headers), body)
        payload = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("oauth sandbox: %s %s", self.command, self.path.split("?", 1)[0])


class _Caseless(dict[str, str]):
    """Headers looked up without regard to case."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in headers.items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class OAuthSandbox(BackgroundServer):
    """A local OAuth 2.0 / OAuth 1.0a provider for tests.

    Attributes:
        issued: Access tokens issued per grant (``client_credentials``,
            ``refresh_token``, ``jwt_bearer``).
        requests: One entry per request: method, path, status, and grant type,
            client id and client auth method where they apply; never a secret.
    """

    label = "OAuth sandbox"

    def __init__(
        self,
        clients: Optional[Mapping[str, str]] = None,
        access_token_ttl: float = 3600,
        rotate_refresh_tokens: bool = True,
        clock: Clock = time.time,
        jwt_public_keys: Optional[Mapping[str, str]] = None,
        oauth1_consumers: Optional[Mapping[str, str]] = None,
        oauth1_tokens: Optional[Mapping[str, str]] = None,
        *,
        jwt_audience: Optional[str] = None,
        rng: Optional[random.Random] = None,
    ) -> None:
        """Creates a stopped sandbox.

        Args:
            clients: Client secrets by client id.
            access_token_ttl: Seconds an access token lives (``expires_in``).
            rotate_refresh_tokens: Each refresh returns a new refresh token and
                invalidates the one used (reuse then gets ``invalid_grant``).
            clock: Unix-time clock for expiry and timestamp checks.
            jwt_public_keys: PEM public keys by JWT assertion issuer.
            oauth1_consumers: OAuth 1.0a consumer secrets by consumer key.
            oauth1_tokens: OAuth 1.0a token secrets by token.
            jwt_audience: ``aud`` JWT assertions must carry; the token URL by default.
            rng: Source of token values (seed it for reproducible tokens).
        """
        self._state = SandboxState(
            clients or {},
            access_token_ttl,
            rotate_refresh_tokens,
            clock,
            rng or random.Random(),
        )
        self._jwt_audience = jwt_audience
        self._grants = TokenGrants(self._state, jwt_public_keys or {}, jwt_audience or "")
        oauth1 = OAuth1Verifier(self._state, oauth1_consumers or {}, oauth1_tokens or {})
        self._app = SandboxApp(self._state, self._grants, oauth1)

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "stopped"
        return f"OAuthSandbox({where})"

    def start(self) -> OAuthSandbox:
        """Starts serving on a free port of 127.0.0.1; returns itself."""
        if self._server is not None:
            return self
        server = _Server(self._app)
        self._server = server
        if not self._jwt_audience:
            self._grants.jwt_audience = self.token_url
        self._serve(self._server, poll_interval=0.05)
        return self

    @property
    def token_url(self) -> str:
        """The token endpoint."""
        return self.base_url + TOKEN_PATH

    @property
    def resource_url(self) -> str:
        """The bearer-protected resource (``GET /api/me``)."""
        return self.base_url + RESOURCE_PATH

    @property
    def netsuite_url(self) -> str:
        """The OAuth 1.0a protected resource (``GET|POST /netsuite/record``)."""
        return self.base_url + NETSUITE_PATH

    @property
    def issued(self) -> Counter[str]:
        """Access tokens issued per grant."""
        return self._state.issued

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The request log (no secrets)."""
        return self._state.requests

    def issue_refresh_token(self, client_id: str, scope: Optional[str] = None) -> str:
        """Issues a refresh token as if the user had just authorized ``client_id``.

        Raises:
            KeyError: Unknown client.
        """
        if client_id not in self._state.clients:
            raise KeyError(f"unknown client {client_id!r}")
        return self._state.issue_refresh_token(client_id, scope)

    def active_refresh_tokens(self, client_id: str) -> list[str]:
        """The refresh tokens of ``client_id`` that still work."""
        return self._state.active_refresh_tokens(client_id)

    def expire_all_access_tokens(self) -> int:
        """Invalidates every access token issued so far; returns how many."""
        return self._state.expire_all_access_tokens()

    def revoke_refresh_token(self, token: str) -> bool:
        """Revokes a refresh token; True when it was known."""
        return self._state.revoke_refresh_token(token)

    def fail_next_token_requests(self, n: int, status: int = 503) -> None:
        """Makes the next ``n`` token requests answer ``status``."""
        self._state.fail_next_token_requests(n, status)
