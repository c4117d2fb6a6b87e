"""The bot token, its scopes, and what Slack answers when either is wrong.

Token errors are Slack's documented codes for every method: ``not_authed`` (no token),
``invalid_auth`` (unknown token), ``token_revoked``, ``account_inactive``
(https://docs.slack.dev/reference/methods/conversations.history, "Errors"). A token lacking
the scope a method needs gets ``missing_scope`` with ``needed`` and ``provided``
(https://docs.slack.dev/authentication/tokens / "Scopes": "needed" and "provided" fields).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from typing import Optional

from .ids import ALPHABET

DEFAULT_SCOPES = (
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
    "users:read",
    "users:read.email",
    "team:read",
)

READ_SCOPE = {
    "public_channel": "channels:read",
    "private_channel": "groups:read",
    "im": "im:read",
    "mpim": "mpim:read",
}
"""The ``*:read`` scope listing or reading members of each conversation type needs."""

HISTORY_SCOPE = {
    "public_channel": "channels:history",
    "private_channel": "groups:history",
    "im": "im:history",
    "mpim": "mpim:history",
}
"""The ``*:history`` scope ``conversations.history``/``.replies`` need per conversation type."""


def bot_token(rng: random.Random) -> str:
    """``xoxb-<team number>-<bot number>-<secret>``, the shape Slack issues."""
    digits = "".join(rng.choice("0123456789") for _ in range(12))
    other = "".join(rng.choice("0123456789") for _ in range(13))
    secret = "".join(rng.choice(ALPHABET + ALPHABET.lower()) for _ in range(24))
    return f"xoxb-{digits}-{other}-{secret}"


class Auth:
    """One bot token: revocable, deactivatable, with a mutable scope set. Thread-safe."""

    def __init__(self, token: str, scopes: tuple[str, ...] = DEFAULT_SCOPES) -> None:
        """Creates the token with ``scopes``."""
        self.token = token
        self._scopes = list(scopes)
        self._lock = threading.Lock()
        self.revoked = False
        self.inactive = False

    @property
    def scopes(self) -> list[str]:
        """The granted scopes, in grant order."""
        with self._lock:
            return list(self._scopes)

    def remove_scope(self, scope: str) -> None:
        """Takes a scope away (``missing_scope`` from then on where it is needed)."""
        with self._lock:
            self._scopes = [s for s in self._scopes if s != scope]

    def add_scope(self, scope: str) -> None:
        """Grants a scope."""
        with self._lock:
            if scope not in self._scopes:
                self._scopes.append(scope)

    def token_error(self, token: Optional[str]) -> Optional[str]:
        """The error code for the presented token, or None when it is good."""
        if not token:
            return "not_authed"
        if token != self.token:
            return "invalid_auth"
        if self.revoked:
            return "token_revoked"
        if self.inactive:
            return "account_inactive"
        return None

    def missing(self, needed: str) -> Optional[dict[str, str]]:
        """The ``missing_scope`` body fields when ``needed`` is not granted."""
        scopes = self.scopes
        if needed in scopes:
            return None
        return {"needed": needed, "provided": ",".join(scopes)}


def token_of(headers: Mapping[str, str], params: Mapping[str, str]) -> Optional[str]:
    """The token of a request: ``Authorization: Bearer`` first, else the ``token`` argument.

    Slack accepts both (https://docs.slack.dev/apis/web-api/#authentication: "token ...
    as a POST body argument or an Authorization HTTP header").
    """
    header = headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return params.get("token") or None
