"""Basic auth and the OAuth token endpoint (``/oauth_token.do``: password, client_credentials)."""

from __future__ import annotations

import base64
import binascii
import random
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote_plus

from .clock import Clock


@dataclass(frozen=True)
class TokenReply:
    """Status and JSON body of a token endpoint answer."""

    status: int
    body: dict[str, object]


def basic_pair(authorization: Optional[str]) -> Optional[tuple[str, str]]:
    """``(user, password)`` from an ``Authorization: Basic`` header, if well formed."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def oauth_error(error: str, description: str, status: int = 401) -> TokenReply:
    """An RFC 6749 error reply."""
    return TokenReply(status, {"error": error, "error_description": description})


class Authenticator:
    """Users, OAuth clients and the access tokens issued to them."""

    def __init__(
        self,
        users: Mapping[str, str],
        clients: Mapping[str, str],
        token_ttl: float,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        """Creates the authenticator.

        Args:
            users: Passwords by user name (Basic auth and the password grant).
            clients: Client secrets by client id.
            token_ttl: Seconds an access token lives.
            clock: Unix seconds.
            rng: Source of token values.
        """
        self.users = dict(users)
        self.clients = dict(clients)
        self.token_ttl = token_ttl
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}
        self.issued: Counter[str] = Counter()

    def allows(self, authorization: Optional[str]) -> bool:
        """Whether a request's ``Authorization`` header is a valid user or live token."""
        scheme, _, credential = (authorization or "").partition(" ")
        if scheme.lower() == "bearer":
            with self._lock:
                expires = self._tokens.get(credential.strip())
            return expires is not None and expires > self._clock()
        pair = basic_pair(authorization)
        return pair is not None and self.users.get(pair[0]) == pair[1]

    def expire_tokens(self) -> int:
        """Invalidates every issued access token; returns how many."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count

    def token(self, form: Mapping[str, str], authorization: Optional[str]) -> TokenReply:
        """Answers ``POST /oauth_token.do``."""
        client = basic_pair(authorization) or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        if not client[0] or self.clients.get(client[0]) != client[1]:
            return oauth_error("invalid_client", "Client authentication failed")
        grant = form.get("grant_type", "")
        if grant == "password":
            if self.users.get(form.get("username", "")) != form.get("password"):
                return oauth_error("invalid_grant", "Invalid username or password", 400)
        elif grant != "client_credentials":
            return oauth_error("unsupported_grant_type", f"grant {grant!r} not supported", 400)
        return TokenReply(200, self._issue(grant))

    def _issue(self, grant: str) -> dict[str, object]:
        with self._lock:
            value = f"snat_{self._rng.getrandbits(160):040x}"
            self._tokens[value] = self._clock() + self.token_ttl
            self.issued[grant] += 1
        return {
            "access_token": value,
            "token_type": "Bearer",
            "expires_in": int(self.token_ttl),
            "scope": "useraccount",
        }


def parse_form(body: bytes) -> dict[str, str]:
    """A urlencoded form body as a dict (last value wins)."""
    pairs = (p.partition("=") for p in body.decode("utf-8", "replace").split("&") if p)
    return {unquote_plus(k): unquote_plus(v) for k, _, v in pairs}
