"""Basic auth, roles and the OAuth token endpoint (``/oauth_token.do``).

Grants: ``password`` (an access and a refresh token), ``refresh_token`` (a new access
token; the current refresh token comes back with it) and ``client_credentials``.
Source: ServiceNow docs "OAuth API request parameters"
(https://www.servicenow.com/docs/r/platform-security/authentication/r_OAuthAPIRequestParameters.html,
ServiceNow/ServiceNowDocs markdown/platform-security/authentication/r_OAuthAPIRequestParameters.md):
"[a password request] always returns two tokens: an access token, a refresh token";
"[a refresh_token request] returns only an access token ... Access requests made within the
refresh token expiration time always return the current refresh token".
"""

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

ANY_USER = ""
"""Whom a client_credentials token acts for: no named user, every role (sandbox choice)."""

REFRESH_TOKEN_TTL = 8_640_000.0
"""Seconds a refresh token lives: the "Refresh Token Lifespan" default of ServiceNow's
OAuth application registry form (100 days). Not found in the stored docs; from the form."""


@dataclass(frozen=True)
class TokenReply:
    """Status and JSON body of a token endpoint answer."""

    status: int
    body: dict[str, object]


@dataclass(frozen=True)
class Grant:
    """Who a token was issued to and until when."""

    user: str
    client_id: str
    expires: float


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
    """Users, their roles, OAuth clients and the tokens issued to them."""

    def __init__(
        self,
        users: Mapping[str, str],
        clients: Mapping[str, str],
        token_ttl: float,
        clock: Clock,
        rng: random.Random,
        roles: Optional[Mapping[str, set[str]]] = None,
        refresh_ttl: float = REFRESH_TOKEN_TTL,
    ) -> None:
        """Creates the authenticator.

        Args:
            users: Passwords by user name (Basic auth and the password grant).
            clients: Client secrets by client id.
            token_ttl: Seconds an access token lives.
            clock: Unix seconds.
            rng: Source of token values.
            roles: Roles by user name; a user not listed has ``admin``.
            refresh_ttl: Seconds a refresh token lives.
        """
        self.users = dict(users)
        self.clients = dict(clients)
        self.roles = {name: set(granted) for name, granted in (roles or {}).items()}
        self.token_ttl = token_ttl
        self.refresh_ttl = refresh_ttl
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self._tokens: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}
        self.issued: Counter[str] = Counter()

    def user_of(self, authorization: Optional[str]) -> Optional[str]:
        """The user a request acts as (``ANY_USER`` for client tokens); None if refused."""
        scheme, _, credential = (authorization or "").partition(" ")
        if scheme.lower() == "bearer":
            with self._lock:
                grant = self._tokens.get(credential.strip())
            return grant.user if grant is not None and grant.expires > self._clock() else None
        pair = basic_pair(authorization)
        if pair is not None and self.users.get(pair[0]) == pair[1]:
            return pair[0]
        return None

    def allows(self, authorization: Optional[str]) -> bool:
        """Whether a request's ``Authorization`` header is a valid user or live token."""
        return self.user_of(authorization) is not None

    def has_role(self, user: str, role: str) -> bool:
        """Whether ``user`` holds ``role`` (``admin`` holds every role, as on an instance)."""
        if user == ANY_USER or user not in self.roles:
            return True
        granted = self.roles[user]
        return role in granted or "admin" in granted

    def expire_tokens(self) -> int:
        """Invalidates every issued access token (refresh tokens stay); returns how many."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count

    def expire_refresh_tokens(self) -> int:
        """Invalidates every issued refresh token; returns how many."""
        with self._lock:
            count = len(self._refresh)
            self._refresh.clear()
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
            user = form.get("username", "")
            if user not in self.users or self.users[user] != form.get("password"):
                return oauth_error("invalid_grant", "Invalid username or password", 400)
            return TokenReply(200, self._issue(grant, user, client[0], new_refresh=True))
        if grant == "refresh_token":
            return self._refresh_grant(form.get("refresh_token", ""), client[0])
        if grant == "client_credentials":
            return TokenReply(200, self._issue(grant, ANY_USER, client[0], new_refresh=False))
        return oauth_error("unsupported_grant_type", f"grant {grant!r} not supported", 400)

    def _refresh_grant(self, refresh_token: str, client_id: str) -> TokenReply:
        with self._lock:
            held = self._refresh.get(refresh_token)
        if held is None or held.client_id != client_id or held.expires <= self._clock():
            return oauth_error("invalid_grant", "Invalid refresh token", 401)
        body = self._issue("refresh_token", held.user, client_id, new_refresh=False)
        body["refresh_token"] = refresh_token
        return TokenReply(200, body)

    def _issue(
        self, grant: str, user: str, client_id: str, *, new_refresh: bool
    ) -> dict[str, object]:
        now = self._clock()
        with self._lock:
            value = f"snat_{self._rng.getrandbits(160):040x}"
            self._tokens[value] = Grant(user, client_id, now + self.token_ttl)
            self.issued[grant] += 1
            body: dict[str, object] = {
                "access_token": value,
                "token_type": "Bearer",
                "expires_in": int(self.token_ttl),
                "scope": "useraccount",
            }
            if new_refresh:
                refresh = f"snrt_{self._rng.getrandbits(160):040x}"
                self._refresh[refresh] = Grant(user, client_id, now + self.refresh_ttl)
                body["refresh_token"] = refresh
        return body


def parse_form(body: bytes) -> dict[str, str]:
    """A urlencoded form body as a dict (last value wins)."""
    pairs = (p.partition("=") for p in body.decode("utf-8", "replace").split("&") if p)
    return {unquote_plus(k): unquote_plus(v) for k, _, v in pairs}
