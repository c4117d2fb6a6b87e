"""Credentials that never change during a run: API keys, bearer tokens, HTTP Basic."""

from __future__ import annotations

import base64
from typing import Literal
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from requests import PreparedRequest
from requests.auth import AuthBase

from ..errors import ConfigurationError
from ..redact import global_redactor

KeyLocation = Literal["header", "query"]


class ApiKeyAuth(AuthBase):
    """Sends an API key in a header (``X-API-Key: <key>``) or a query parameter."""

    def __init__(self, key: str, name: str = "X-API-Key", location: KeyLocation = "header") -> None:
        """Creates the auth.

        Args:
            key: The API key (registered with the global redactor).
            name: Header or query parameter name.
            location: ``header`` or ``query``.

        Raises:
            ConfigurationError: Empty key or name, or an unknown location.
        """
        if not key:
            raise ConfigurationError("API key is empty: set the source's api_key")
        if not name:
            raise ConfigurationError("API key header/parameter name is empty")
        if location not in ("header", "query"):
            raise ConfigurationError(f"API key location must be header or query, not {location!r}")
        global_redactor().add_secret(key)
        self._key = key
        self.name = name
        self.location = location

    def __repr__(self) -> str:
        return f"ApiKeyAuth(name={self.name!r}, location={self.location!r})"

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Adds the key to the request."""
        if self.location == "header":
            request.headers[self.name] = self._key
        else:
            request.url = _with_query_param(request.url or "", self.name, self._key)
        return request


class BearerAuth(AuthBase):
    """Sends ``Authorization: Bearer <token>`` (Stripe accepts its secret key this way)."""

    def __init__(self, token: str) -> None:
        """Creates the auth.

        Args:
            token: The bearer token (registered with the global redactor).

        Raises:
            ConfigurationError: Empty token.
        """
        if not token:
            raise ConfigurationError("bearer token is empty: set the source's token")
        global_redactor().add_secret(token)
        self._token = token

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Sets the ``Authorization`` header."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


class BasicAuth(AuthBase):
    """HTTP Basic auth; Stripe uses the secret key as username with an empty password."""

    def __init__(self, username: str, password: str = "") -> None:
        """Creates the auth.

        Args:
            username: User name (for Stripe: the secret key; registered as a secret).
            password: Password (registered as a secret); may be empty.

        Raises:
            ConfigurationError: Empty username.
        """
        if not username:
            raise ConfigurationError("basic auth username is empty")
        redactor = global_redactor()
        redactor.add_secret(username)
        redactor.add_secret(password)
        self._username = username
        self._password = password
        redactor.add_secret(self._encoded())

    def __repr__(self) -> str:
        return "BasicAuth(username=***, password=***)"

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Sets ``Authorization: Basic base64(username:password)``."""
        request.headers["Authorization"] = f"Basic {self._encoded()}"
        return request

    def _encoded(self) -> str:
        raw = f"{self._username}:{self._password}".encode()
        return base64.b64encode(raw).decode("ascii")


def _with_query_param(url: str, name: str, value: str) -> str:
    """Returns ``url`` with ``name=value`` set in its query.

    Other parameters keep their encoding; an earlier value of ``name`` is replaced.
    """
    parts = urlsplit(url)
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair and unquote_plus(pair.partition("=")[0]) != name
    ]
    kept.append(f"{quote(name, safe='')}={quote(value, safe='')}")
    return urlunsplit(parts._replace(query="&".join(kept)))
