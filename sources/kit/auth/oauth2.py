"""OAuth 2.0 client credentials and refresh token grants (RFC 6749 §4.4, §6)."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Optional, Union

import requests

from ..errors import ConfigurationError
from ..redact import global_redactor
from .cached_bearer import CachedBearerAuth
from .messages import CLIENT_ERRORS, OAuthRejection, ProviderLabel
from .token_endpoint import ClientAuthMethod, TokenEndpoint, TokenRetry
from .tokens import Token, TokenStore

logger = logging.getLogger("sluice.auth")

Scope = Union[str, Sequence[str], None]

REVOKED_REFRESH_ERRORS = frozenset({"invalid_grant", "invalid_refresh_token"})
"""Refusals meaning the refresh token is dead (``invalid_refresh_token`` is Slack's)."""


def scope_text(scope: Scope) -> Optional[str]:
    """A scope as the space-separated string the token endpoint expects."""
    if scope is None:
        return None
    if isinstance(scope, str):
        return scope.strip() or None
    joined = " ".join(part.strip() for part in scope if part and part.strip())
    return joined or None


def refresh_token_fingerprint(refresh_token: str) -> str:
    """A one-way fingerprint of a configured refresh token (stored, never the token)."""
    return hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()[:32]


class OAuth2ClientCredentials(CachedBearerAuth):
    """Machine-to-machine tokens from the client credentials grant.

    The token is cached until ``refresh_margin_s`` before it expires, renewed once
    after a 401, and fetched by one thread at a time.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: Scope = None,
        auth_method: ClientAuthMethod = "client_secret_basic",
        audience: Optional[str] = None,
        session: Optional[requests.Session] = None,
        clock: Callable[[], float] = time.time,
        refresh_margin_s: float = 60.0,
        *,
        retry: Optional[TokenRetry] = None,
        label: Optional[ProviderLabel] = None,
    ) -> None:
        """Creates the flow.

        Args:
            token_url: The token endpoint.
            client_id: OAuth client id.
            client_secret: Client secret (registered with the global redactor).
            scope: Scopes to request, a space-separated string or a list.
            auth_method: ``client_secret_basic`` (HTTP Basic) or ``client_secret_post``
                (id and secret in the form body).
            audience: ``audience`` parameter some providers require (Auth0).
            session: Session for token requests; a new one by default.
            clock: Unix-time clock.
            refresh_margin_s: Renew this long before expiry.
            retry: Token request retries (inject ``sleep`` in tests).
            label: Provider name and config path for error messages.

        Raises:
            ConfigurationError: A required setting is empty or invalid.
        """
        super().__init__(clock=clock, refresh_margin_s=refresh_margin_s)
        self.label = label or ProviderLabel()
        self._endpoint = TokenEndpoint(
            token_url,
            client_id=client_id,
            client_secret=client_secret,
            auth_method=auth_method,
            session=session,
            clock=clock,
            retry=retry,
            label=self.label,
        )
        self.scope = scope_text(scope)
        self.audience = audience

    def __repr__(self) -> str:
        return (
            f"OAuth2ClientCredentials({self._endpoint.token_url!r}, "
            f"client_id={self._endpoint.client_id!r}, scope={self.scope!r})"
        )

    @property
    def endpoint(self) -> TokenEndpoint:
        """The token endpoint client (its ``requests_sent`` counts token calls)."""
        return self._endpoint

    def fetch_token(self) -> Token:
        """Runs the client credentials grant."""
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        if self.audience:
            form["audience"] = self.audience
        return self._endpoint.request_token(form, self._explain)

    def _explain(self, rejection: OAuthRejection) -> str:
        if rejection.error in CLIENT_ERRORS or rejection.status == 401:
            return self.label.client_rejected(rejection)
        if rejection.error == "invalid_scope":
            return self.label.scope_rejected(rejection)
        return self.label.endpoint_refused(rejection, self._endpoint.token_url)


class OAuth2RefreshToken(CachedBearerAuth):
    """Access tokens from a long-lived refresh token, surviving refresh token rotation.

    When the provider rotates the refresh token (returns a new one with each access
    token), the new one is saved in ``store`` before the access token is used, so the
    next run starts from it. The record remembers a fingerprint of the configured
    refresh token it descends from: while the configuration holds that token, the stored
    one wins; once a user pastes a new refresh token into the configuration, the
    configured one is used again.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        store: TokenStore,
        store_key: str,
        auth_method: ClientAuthMethod = "client_secret_basic",
        session: Optional[requests.Session] = None,
        clock: Callable[[], float] = time.time,
        refresh_margin_s: float = 60.0,
        *,
        retry: Optional[TokenRetry] = None,
        label: Optional[ProviderLabel] = None,
    ) -> None:
        """Creates the flow.

        Args:
            token_url: The token endpoint.
            client_id: OAuth client id.
            client_secret: Client secret (registered with the global redactor).
            refresh_token: The configured refresh token (registered as a secret).
            store: Where rotated refresh tokens are kept between runs.
            store_key: This connection's key in the store (e.g. ``salesforce:prod``).
            auth_method: ``client_secret_basic`` or ``client_secret_post``.
            session: Session for token requests; a new one by default.
            clock: Unix-time clock.
            refresh_margin_s: Renew this long before expiry.
            retry: Token request retries (inject ``sleep`` in tests).
            label: Provider name and config path for error messages.

        Raises:
            ConfigurationError: A required setting is empty or invalid.
        """
        super().__init__(clock=clock, refresh_margin_s=refresh_margin_s)
        self.label = label or ProviderLabel()
        if not refresh_token:
            raise ConfigurationError(
                f"refresh token is empty: authorize and set {self.label.setting('refresh_token')}"
            )
        if not store_key:
            raise ConfigurationError("token store key is empty")
        global_redactor().add_secret(refresh_token)
        self._endpoint = TokenEndpoint(
            token_url,
            client_id=client_id,
            client_secret=client_secret,
            auth_method=auth_method,
            session=session,
            clock=clock,
            retry=retry,
            label=self.label,
        )
        self._configured_refresh_token = refresh_token
        self._origin = refresh_token_fingerprint(refresh_token)
        self._store = store
        self.store_key = store_key
        self._refresh_token: Optional[str] = None

    def __repr__(self) -> str:
        return (
            f"OAuth2RefreshToken({self._endpoint.token_url!r}, "
            f"client_id={self._endpoint.client_id!r}, store_key={self.store_key!r})"
        )

    @property
    def endpoint(self) -> TokenEndpoint:
        """The token endpoint client (its ``requests_sent`` counts token calls)."""
        return self._endpoint

    def fetch_token(self) -> Token:
        """Runs the refresh token grant; saves a rotated refresh token before returning.

        Raises:
            AuthenticationError: The refresh token was revoked or expired, or the
                client credentials were refused.
            ConfigurationError: A rotated refresh token could not be saved.
        """
        current = self._current_refresh_token()
        form = {"grant_type": "refresh_token", "refresh_token": current}
        token = self._endpoint.request_token(form, self._explain)
        if token.refresh_token and token.refresh_token != current:
            self._persist(token.refresh_token)
            self._refresh_token = token.refresh_token
        return token

    def _current_refresh_token(self) -> str:
        if self._refresh_token is None:
            self._refresh_token = self._resolve_refresh_token()
        return self._refresh_token

    def _resolve_refresh_token(self) -> str:
        """The stored rotated token if it descends from the configured one, else the latter."""
        record = self._store.load(self.store_key)
        if record is None:
            return self._configured_refresh_token
        stored = record.get("refresh_token")
        if record.get("origin") == self._origin and isinstance(stored, str) and stored:
            global_redactor().add_secret(stored)
            logger.debug("using the rotated refresh token stored for %s", self.store_key)
            return stored
        logger.info(
            "the configured refresh token for %s is new: using it instead of the stored one",
            self.store_key,
        )
        return self._configured_refresh_token

    def _persist(self, refresh_token: str) -> None:
        record: dict[str, Any] = {
            "refresh_token": refresh_token,
            "origin": self._origin,
            "client_id": self._endpoint.client_id,
            "saved_at": self._clock(),
        }
        try:
            self._store.save(self.store_key, record)
        except OSError as exc:
            raise ConfigurationError(
                f"could not save the rotated {self.label.provider} refresh token to "
                f"{self._store!r} ({exc.strerror or type(exc).__name__}): make the token "
                f"store writable, then re-authorize and set {self.label.setting('refresh_token')}"
            ) from exc
        logger.info(
            "saved the rotated %s refresh token for %s", self.label.provider, self.store_key
        )

    def _explain(self, rejection: OAuthRejection) -> str:
        if rejection.error in REVOKED_REFRESH_ERRORS:
            return self.label.refresh_token_revoked()
        if rejection.error in CLIENT_ERRORS or rejection.status == 401:
            return self.label.client_rejected(rejection)
        return self.label.endpoint_refused(rejection, self._endpoint.token_url)
