"""OAuth 2.0 resource owner password grant (RFC 6749 section 4.3), with refresh tokens.

The token endpoint issues an access and a refresh token for a user with the ``password``
grant; later access tokens come from the ``refresh_token`` grant, so the password is sent
once per run, not at every renewal (as ServiceNow's ``/oauth_token.do`` does: docs
"OAuth API request parameters",
https://www.servicenow.com/docs/r/platform-security/authentication/r_OAuthAPIRequestParameters.html).
A refused refresh token (expired, revoked) falls back to the password grant. It uses the
kit's cached bearer (renewal before expiry, one retry after a 401) and token endpoint
client (retries, redaction, one-line refusals); only the forms differ.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Optional

import requests

from ..errors import AuthenticationError
from ..redact import global_redactor
from .cached_bearer import CachedBearerAuth
from .messages import OAuthRejection, ProviderLabel
from .token_endpoint import TokenEndpoint, TokenRetry
from .tokens import Token

logger = logging.getLogger("sluice.auth")


class OAuth2PasswordGrant(CachedBearerAuth):
    """Access tokens from the password grant (client id and secret sent in the form)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        *,
        session: Optional[requests.Session] = None,
        clock: Callable[[], float] = time.time,
        retry: Optional[TokenRetry] = None,
        label: Optional[ProviderLabel] = None,
    ) -> None:
        """Creates the flow; the password is registered with the global redactor.

        Args:
            token_url: The token endpoint.
            client_id: OAuth client id.
            client_secret: OAuth client secret.
            username: The integration user.
            password: Its password.
            session: Session for token requests.
            clock: Unix-time clock.
            retry: Token request retries.
            label: Provider name and config path for messages.
        """
        super().__init__(clock=clock)
        global_redactor().add_secret(password)
        self.label = label or ProviderLabel()
        self.username = username
        self._password = password
        self._refresh_token: Optional[str] = None
        self.grants: list[str] = []
        """Grant types used, in order (tests and diagnostics)."""
        self._endpoint = TokenEndpoint(
            token_url,
            client_id=client_id,
            client_secret=client_secret,
            auth_method="client_secret_post",
            session=session,
            clock=clock,
            retry=retry,
            label=self.label,
        )

    def __repr__(self) -> str:
        return f"OAuth2PasswordGrant({self._endpoint.token_url!r}, username={self.username!r})"

    @property
    def endpoint(self) -> TokenEndpoint:
        """The token endpoint client."""
        return self._endpoint

    def fetch_token(self) -> Token:
        """Runs the refresh token grant when a refresh token is held, else the password grant."""
        if self._refresh_token:
            try:
                return self._keep(
                    self._grant(
                        {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
                    )
                )
            except AuthenticationError as exc:
                logger.info(
                    "%s: refresh token refused (%s); using the password grant",
                    self.label.provider,
                    exc,
                )
                self._refresh_token = None
        form = {"grant_type": "password", "username": self.username, "password": self._password}
        return self._keep(self._grant(form))

    def _grant(self, form: dict[str, str]) -> Token:
        self.grants.append(form["grant_type"])
        return self._endpoint.request_token(form, self._explain)

    def _keep(self, token: Token) -> Token:
        """Remembers the refresh token (the instance returns the current one each time)."""
        if token.refresh_token:
            self._refresh_token = token.refresh_token
        return token

    def _explain(self, rejection: OAuthRejection) -> str:
        if rejection.error == "invalid_grant":
            return (
                f"{self.label.provider} rejected the user ({rejection.summary()}): check "
                f"{self.label.setting('username')} and {self.label.setting('password')}"
            )
        if rejection.error in ("invalid_client", "unauthorized_client") or rejection.status == 401:
            return self.label.client_rejected(rejection)
        return self.label.endpoint_refused(rejection, self._endpoint.token_url)
