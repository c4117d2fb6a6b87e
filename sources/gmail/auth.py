"""Gmail's OAuth 2.0 refresh-token flow, through the kit's :class:`OAuth2RefreshToken`.

Google's token endpoint takes ``grant_type=refresh_token`` with ``client_id``,
``client_secret`` and ``refresh_token`` in the form body and answers ``access_token``,
``expires_in`` (3599 s), ``scope``, ``token_type``; a revoked or expired grant answers
400 ``invalid_grant`` (https://developers.google.com/identity/protocols/oauth2/
web-server#offline). The kit refreshes early, again after a 401 (then retries once), and
keeps a rotated refresh token in the token store; ``invalid_grant`` is one line telling
the user to re-authorise and set ``sources.gmail.credentials.refresh_token``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Optional

import requests
from dlt.common.configuration.inject import with_config

from sources.kit.auth import (
    FileTokenStore,
    OAuth2RefreshToken,
    ProviderLabel,
    TokenRetry,
    TokenStore,
)
from sources.kit.errors import ConfigurationError

from .settings import CREDENTIALS_PATH, TOKEN_URL

LABEL = ProviderLabel("Gmail", CREDENTIALS_PATH)
DEFAULT_TOKEN_STORE = "~/.sluice/tokens"  # noqa: S105 - a directory, not a secret
REQUIRED = ("client_id", "client_secret", "refresh_token")


@with_config(sections=("sources", "gmail", "credentials"))
def make_auth(
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    refresh_token: Optional[str] = None,
    token_url: str = TOKEN_URL,
    token_store_dir: Optional[str] = None,
    *,
    token_store: Optional[TokenStore] = None,
    session: Optional[requests.Session] = None,
    token_retry_sleep: Optional[Callable[[float], None]] = None,
) -> OAuth2RefreshToken:
    """The refresh-token flow from ``sources.gmail.credentials.*`` (dlt secrets).

    Args:
        client_id: OAuth client id of the Google Cloud project.
        client_secret: Its secret.
        refresh_token: Refresh token of an offline grant with the gmail.readonly scope.
        token_url: Token endpoint (Google's by default).
        token_store_dir: Where a rotated refresh token is kept (``~/.sluice/tokens``).
        token_store: A store instead of the directory (tests).
        session: Session for token requests (a plain one by default, never the
            resilient one: the flow retries token calls itself).
        token_retry_sleep: Sleep between token retries (injected in tests).

    Returns:
        The auth for every Gmail request.

    Raises:
        ConfigurationError: A setting is missing.
    """
    given = {"client_id": client_id, "client_secret": client_secret}
    given["refresh_token"] = refresh_token
    missing = [f"{CREDENTIALS_PATH}.{name}" for name in REQUIRED if not given[name]]
    if missing:
        envs = ", ".join(key.upper().replace(".", "__") for key in missing)
        raise ConfigurationError(
            f"Gmail credentials missing: set {', '.join(missing)} in .dlt/secrets.toml or {envs}"
        )
    store = token_store or FileTokenStore(Path(token_store_dir or DEFAULT_TOKEN_STORE).expanduser())
    return OAuth2RefreshToken(
        token_url,
        client_id=str(client_id),
        client_secret=str(client_secret),
        refresh_token=str(refresh_token),
        store=store,
        store_key=f"gmail:{client_id}",
        auth_method="client_secret_post",
        session=session,
        retry=TokenRetry(sleep=token_retry_sleep) if token_retry_sleep else None,
        label=LABEL,
    )
