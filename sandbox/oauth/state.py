"""What the OAuth sandbox remembers: clients, issued tokens, counters, injected failures.

Every method is thread-safe: the HTTP server answers each request on its own thread.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

Clock = Callable[[], float]


@dataclass
class AccessGrant:
    """What an access token stands for."""

    client_id: str
    subject: str
    scope: Optional[str]
    expires_at: float


@dataclass
class RefreshGrant:
    """What a refresh token stands for; ``active`` turns False once used or revoked."""

    client_id: str
    scope: Optional[str]
    active: bool = True


class SandboxState:
    """Clients, tokens and controls of one :class:`~sandbox.oauth.server.OAuthSandbox`."""

    def __init__(
        self,
        clients: Mapping[str, str],
        access_token_ttl: float,
        rotate_refresh_tokens: bool,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        """Creates the state.

        Args:
            clients: Client secrets by client id.
            access_token_ttl: Seconds an access token lives.
            rotate_refresh_tokens: Whether each refresh returns a new refresh token and
                invalidates the one used.
            clock: Unix-time clock.
            rng: Source of token values.
        """
        self.clients = dict(clients)
        self.access_token_ttl = access_token_ttl
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self._access: dict[str, AccessGrant] = {}
        self._refresh: dict[str, RefreshGrant] = {}
        self._failures_left = 0
        self._failure_status = 503
        self._seen_nonces: set[tuple[str, str]] = set()
        self.issued: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []

    def new_value(self, prefix: str) -> str:
        """A fresh random token value such as ``at_3f9c...``."""
        with self._lock:
            return f"{prefix}_{self._rng.getrandbits(160):040x}"

    def client_secret_matches(self, client_id: str, secret: str) -> bool:
        """Tells whether ``secret`` is the client's secret."""
        expected = self.clients.get(client_id)
        return expected is not None and expected == secret

    def issue_access_token(
        self, client_id: str, subject: str, scope: Optional[str], grant: str
    ) -> str:
        """Issues an access token and counts it under ``grant``."""
        token = self.new_value("at")
        with self._lock:
            expires_at = self.clock() + self.access_token_ttl
            self._access[token] = AccessGrant(client_id, subject, scope, expires_at)
            self.issued[grant] += 1
        return token

    def issue_refresh_token(self, client_id: str, scope: Optional[str] = None) -> str:
        """Issues a refresh token for ``client_id``."""
        token = self.new_value("rt")
        with self._lock:
            self._refresh[token] = RefreshGrant(client_id, scope)
        return token

    def use_refresh_token(self, token: str, client_id: str) -> Optional[RefreshGrant]:
        """Validates a refresh token for a client; deactivates it when rotating.

        Returns:
            The grant, or None when the token is unknown, used, revoked or another
            client's.
        """
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None or not grant.active or grant.client_id != client_id:
                return None
            if self.rotate_refresh_tokens:
                grant.active = False
            return grant

    def revoke_refresh_token(self, token: str) -> bool:
        """Revokes a refresh token; True when it existed."""
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None:
                return False
            grant.active = False
            return True

    def active_refresh_tokens(self, client_id: str) -> list[str]:
        """Refresh tokens of a client that still work."""
        with self._lock:
            return [t for t, g in self._refresh.items() if g.active and g.client_id == client_id]

    def access_grant(self, token: str) -> Optional[AccessGrant]:
        """The grant of a valid (known, unexpired) access token, else None."""
        with self._lock:
            grant = self._access.get(token)
            if grant is None or grant.expires_at <= self.clock():
                return None
            return grant

    def expire_all_access_tokens(self) -> int:
        """Makes every issued access token invalid; returns how many there were."""
        with self._lock:
            count = len(self._access)
            self._access.clear()
            return count

    def fail_next_token_requests(self, count: int, status: int) -> None:
        """Makes the next ``count`` token requests answer ``status``."""
        with self._lock:
            self._failures_left = max(0, count)
            self._failure_status = status

    def take_injected_failure(self) -> Optional[int]:
        """The status to fail this token request with, if a failure is pending."""
        with self._lock:
            if self._failures_left <= 0:
                return None
            self._failures_left -= 1
            return self._failure_status

    def remember_nonce(self, consumer_key: str, nonce: str) -> bool:
        """Records an OAuth 1.0a nonce; False when the consumer used it before."""
        with self._lock:
            key = (consumer_key, nonce)
            if key in self._seen_nonces:
                return False
            self._seen_nonces.add(key)
            return True

    def log_request(self, entry: Mapping[str, Any]) -> None:
        """Appends one entry (never a secret) to the request log."""
        with self._lock:
            self.requests.append(dict(entry))
