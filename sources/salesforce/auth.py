"""Salesforce credentials and the kit auth flow they configure.

Both Salesforce flows come from ``sources.kit.auth``: the JWT bearer flow (connected
app with a certificate, server to server) and the refresh token flow (user-authorized
connected app). The only Salesforce addition is :class:`InstanceUrlRecorder`: the
token response names the org's instance (``instance_url``), which is where the REST
API must be called.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Optional, Union
from urllib.parse import urlparse

import requests
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import CredentialsConfiguration
from dlt.common.typing import TSecretStrValue

from sources.kit.auth import (
    FileTokenStore,
    OAuth2JwtBearer,
    OAuth2RefreshToken,
    ProviderLabel,
    TokenRetry,
    TokenStore,
)
from sources.kit.errors import ConfigurationError

from .settings import DEFAULT_AUDIENCE, DEFAULT_TOKEN_URL

logger = logging.getLogger("sluice.salesforce")

LABEL = ProviderLabel("Salesforce", "sources.salesforce.credentials")
DEFAULT_TOKEN_STORE = "~/.sluice/tokens"  # noqa: S105 - a directory, not a secret

SalesforceAuth = Union[OAuth2JwtBearer, OAuth2RefreshToken]

JWT_LIFETIME_S = 180
"""``exp`` of an assertion: "the expiration time of the assertion within 3 minutes"
(https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm)."""
INSTANCE_HOST_SUFFIX = ".my.salesforce.com"
"""My Domain instance hosts: never an ``aud`` (the same page names login.salesforce.com,
test.salesforce.com or an Experience Cloud site)."""


@configspec
class SalesforceCredentials(CredentialsConfiguration):
    """``sources.salesforce.credentials``: one of two flows, chosen by what is set.

    JWT bearer: ``issuer`` (consumer key), ``subject`` (username), ``private_key``
    (PEM), ``audience``. Refresh token: ``client_id``, ``client_secret``,
    ``refresh_token``, ``token_store_dir``. Both: ``token_url``.
    """

    token_url: str = DEFAULT_TOKEN_URL
    issuer: Optional[str] = None
    subject: Optional[str] = None
    audience: str = DEFAULT_AUDIENCE
    private_key: Optional[TSecretStrValue] = None
    key_id: Optional[str] = None
    client_id: Optional[str] = None
    client_secret: Optional[TSecretStrValue] = None
    refresh_token: Optional[TSecretStrValue] = None
    token_store_dir: Optional[str] = None

    def flow(self) -> str:
        """``jwt`` when a private key is set, ``refresh_token`` when a refresh token is.

        Raises:
            ConfigurationError: Neither is set.
        """
        if self.private_key:
            return "jwt"
        if self.refresh_token:
            return "refresh_token"
        raise ConfigurationError(
            "Salesforce credentials missing: set sources.salesforce.credentials.private_key "
            "(JWT bearer flow, with issuer and subject) or "
            "sources.salesforce.credentials.refresh_token (with client_id and client_secret)"
        )


class InstanceUrlRecorder:
    """The token endpoint's session; remembers the ``instance_url`` of the last token.

    Salesforce returns the org's REST host with every token. The kit's flows keep
    only the token, so this session's response hook keeps the instance URL.
    """

    def __init__(self) -> None:
        """Creates the session with its hook."""
        self.session = requests.Session()
        self.session.hooks["response"].append(self._record)
        self._lock = threading.Lock()
        self._instance_url: Optional[str] = None

    @property
    def instance_url(self) -> Optional[str]:
        """The instance URL of the newest token, if one was fetched."""
        with self._lock:
            return self._instance_url

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if not response.ok:
            return response
        try:
            payload = response.json()
        except ValueError:
            return response
        url = payload.get("instance_url") if isinstance(payload, dict) else None
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            with self._lock:
                self._instance_url = url.rstrip("/")
        return response


def build_auth(
    credentials: SalesforceCredentials,
    recorder: InstanceUrlRecorder,
    *,
    retry: Optional[TokenRetry] = None,
    token_store: Optional[TokenStore] = None,
) -> SalesforceAuth:
    """The kit flow the credentials describe, posting tokens through ``recorder``.

    Args:
        credentials: Resolved ``sources.salesforce.credentials``.
        recorder: Token endpoint session that keeps the instance URL.
        retry: Token request retries (inject ``sleep`` in tests).
        token_store: Where rotated refresh tokens go; a file store under
            ``token_store_dir`` (default ``~/.sluice/tokens``) when omitted.

    Returns:
        An ``AuthBase`` for dlt's ``RESTClient``.

    Raises:
        ConfigurationError: A setting the chosen flow needs is missing.
    """
    if credentials.flow() == "jwt":
        require(credentials, "issuer", "subject")
        check_audience(credentials.audience)
        return OAuth2JwtBearer(
            credentials.token_url,
            issuer=str(credentials.issuer),
            subject=str(credentials.subject),
            audience=credentials.audience,
            private_key_pem=str(credentials.private_key),
            key_id=credentials.key_id,
            lifetime_s=JWT_LIFETIME_S,
            session=recorder.session,
            retry=retry,
            label=LABEL,
        )
    require(credentials, "client_id", "client_secret")
    store = token_store or FileTokenStore(
        Path(credentials.token_store_dir or DEFAULT_TOKEN_STORE).expanduser()
    )
    return OAuth2RefreshToken(
        credentials.token_url,
        client_id=str(credentials.client_id),
        client_secret=str(credentials.client_secret),
        refresh_token=str(credentials.refresh_token),
        store=store,
        store_key=f"salesforce:{credentials.client_id}",
        auth_method="client_secret_post",
        session=recorder.session,
        retry=retry,
        label=LABEL,
    )


def check_audience(audience: str) -> None:
    """Refuses an instance (My Domain) URL as ``aud``, which Salesforce answers with
    ``invalid_grant: audience is invalid``.

    Raises:
        ConfigurationError: The audience is an instance URL.
    """
    host = (urlparse(audience).hostname or "").lower()
    if host.endswith(INSTANCE_HOST_SUFFIX):
        raise ConfigurationError(
            f"Salesforce JWT audience {audience} is an instance URL: set "
            f"{LABEL.setting('audience')} to https://login.salesforce.com (production) or "
            "https://test.salesforce.com (sandbox orgs)"
        )


def require(credentials: SalesforceCredentials, *names: str) -> None:
    """Raises a one-line error naming the first missing setting."""
    for name in names:
        if not getattr(credentials, name):
            raise ConfigurationError(f"Salesforce {name} is empty: set {LABEL.setting(name)}")
