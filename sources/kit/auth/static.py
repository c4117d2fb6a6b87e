"""Credentials that never change during a run: dlt's API key, bearer and Basic auths, checked.

dlt's classes (``dlt.sources.helpers.rest_client.auth``) send the credential; these
subclasses add what a sluice connector needs on top: an empty value is refused with one
line, the secret is registered with the redactor before any request can log it, and an
API key in the query replaces an earlier value instead of being sent twice.
"""

from __future__ import annotations

import base64
from typing import Literal
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from dlt.sources.helpers.rest_client.auth import APIKeyAuth, BearerTokenAuth, HttpBasicAuth
from requests import PreparedRequest

from ..errors import ConfigurationError
from ..redact import global_redactor

KeyLocation = Literal["header", "query"]


class ApiKeyAuth(APIKeyAuth):
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
        super().__init__(name=name, api_key=key, location=location)

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Adds the key to the request (a query key replaces an earlier one)."""
        if self.location == "header":
            return super().__call__(request)
        request.url = _with_query_param(request.url or "", self.name, self.api_key)
        return request


class BearerAuth(BearerTokenAuth):
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
        super().__init__(token=token)


class BasicAuth(HttpBasicAuth):
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
        # The header value itself, in case a proxy or a debug log echoes it.
        redactor.add_secret(base64.b64encode(f"{username}:{password}".encode()).decode("ascii"))
        super().__init__(username=username, password=password)


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
