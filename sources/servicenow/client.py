"""HTTP access to the ServiceNow Table API on the kit's connector framework.

The kit builds the session (rate limits, retries, circuit breaker, redaction) and the
per-table RESTClient from :data:`~.spec.SPEC`; what stays here is ServiceNow's own:
Table API pages with their ``X-Total-Count``, the credentials check, and the auth flows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from dlt.common.configuration.inject import with_config
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Response
from requests.auth import AuthBase

from sources.kit.auth import BasicAuth, OAuth2ClientCredentials, ProviderLabel, TokenRetry
from sources.kit.auth.password_grant import OAuth2PasswordGrant
from sources.kit.connector import (
    ConnectorClient,
    ConnectorSpec,
    build_session,
    check_base_url,
    resolve_connector_http,
)
from sources.kit.errors import ConfigurationError
from sources.kit.http_config import HttpConfiguration

from .settings import CREDENTIALS_PATH, PAGE_SIZE, TABLE_PATH, TOKEN_PATH
from .spec import SPEC, check_table_name, http_defaults

__all__ = [
    "Page",
    "ServiceNowClient",
    "check_table_name",
    "http_defaults",
    "make_auth",
    "make_client",
    "total_count",
]

logger = logging.getLogger("sluice.servicenow")

LABEL = ProviderLabel("ServiceNow", CREDENTIALS_PATH)
AUTH_TYPES = ("basic", "oauth_password", "oauth_client_credentials")
INSTANCE_EXAMPLE = "https://<instance>.service-now.com"


@dataclass(frozen=True)
class Page:
    """One Table API page and the ``X-Total-Count`` it announced."""

    records: list[dict[str, Any]]
    total: Optional[int]


def total_count(response: Response) -> Optional[int]:
    """``X-Total-Count`` as an int, if the instance sent one."""
    value = response.headers.get("X-Total-Count", "")
    return int(value) if value.isdigit() else None


@dataclass
class ServiceNowClient(ConnectorClient):
    """Lists Table API records through the kit's per-table RESTClient.

    Attributes:
        base_url: Instance URL (``https://<instance>.service-now.com``).
        session: Root resilient session (limiter, breaker, retry budget, stats).
        auth: Basic or an OAuth2 flow from the kit.
        page_size: ``sysparm_limit``.
    """

    spec: ClassVar[ConnectorSpec] = SPEC
    page_size: int = PAGE_SIZE

    def headers(self) -> Mapping[str, str]:
        """The Table API answers JSON when asked to."""
        return {"Accept": "application/json"}

    def list_pages(
        self,
        table: str,
        *,
        params: Mapping[str, Any],
        label: Optional[str] = None,
        paginator: Optional[BasePaginator] = None,
    ) -> Iterator[Page]:
        """Pages through a table by ``sysparm_offset``, following the ``Link`` header.

        Args:
            table: Table name (``incident``).
            params: ``sysparm_query`` and other parameters.
            label: Name the requests are counted under (the table by default).
            paginator: Another paging (``KeysetPaginator``) instead of ``Link`` headers.

        Yields:
            Each page with the total the instance announced.
        """
        path = TABLE_PATH.format(table=check_table_name(table))
        query = {"sysparm_limit": self.page_size, "sysparm_offset": 0, **params}
        for page in self.paginate(path, label=label or table, params=query, paginator=paginator):
            logger.debug("servicenow %s: page of %d record(s)", table, len(page))
            yield Page(list(page), total_count(page.response))

    def check_credentials(self) -> None:
        """One cheap request so bad credentials fail before any work.

        Raises:
            AuthenticationError: The instance refused the credentials.
            ConfigurationError: The URL answers, but not like a ServiceNow instance.
        """
        response = self.get(
            TABLE_PATH.format(table="sys_user"), label="_credentials", params={"sysparm_limit": 1}
        )
        if "json" not in response.headers.get("Content-Type", ""):
            raise ConfigurationError(
                f"{self.base_url} does not answer like a ServiceNow instance: "
                f"check {SPEC.section}.base_url",
                response=response,
            )


@with_config(sections=("sources", "servicenow", "credentials"))
def make_auth(
    base_url: str,
    auth_type: Optional[str] = None,
    username: Optional[str] = None,
    password: Optional[str] = None,
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    token_url: Optional[str] = None,
    token_retry_sleep: Optional[Callable[[float], None]] = None,
) -> AuthBase:
    """Picks the auth flow from ``sources.servicenow.credentials.*``.

    ``auth_type`` defaults to ``oauth_password`` when a client id and a user are given,
    ``oauth_client_credentials`` with a client id alone, else ``basic``.

    Args:
        base_url: Instance URL (the token URL defaults to its ``/oauth_token.do``).
        auth_type: ``basic``, ``oauth_password`` or ``oauth_client_credentials``.
        username: Integration user (Basic and the password grant).
        password: Its password.
        client_id: OAuth client id.
        client_secret: OAuth client secret.
        token_url: Token endpoint.
        token_retry_sleep: Sleep between token retries (injected in tests).

    Returns:
        A ``requests`` auth.

    Raises:
        ConfigurationError: A setting the flow needs is missing.
    """
    chosen = auth_type or (
        ("oauth_password" if username else "oauth_client_credentials") if client_id else "basic"
    )
    if chosen not in AUTH_TYPES:
        raise ConfigurationError(
            f"{CREDENTIALS_PATH}.auth_type {chosen!r} is not one of {', '.join(AUTH_TYPES)}"
        )
    needed: tuple[str, ...] = {
        "basic": ("username", "password"),
        "oauth_password": ("client_id", "client_secret", "username", "password"),
    }.get(chosen, ("client_id", "client_secret"))
    given = {"username": username, "password": password, "client_id": client_id}
    given["client_secret"] = client_secret
    missing = [f"{CREDENTIALS_PATH}.{n}" for n in needed if not given[n]]
    if missing:
        envs = ", ".join(key.upper().replace(".", "__") for key in missing)
        raise ConfigurationError(
            f"ServiceNow credentials missing: set {', '.join(missing)} ({chosen} auth) in "
            f".dlt/secrets.toml or {envs}"
        )
    retry = TokenRetry(sleep=token_retry_sleep) if token_retry_sleep else None
    url = token_url or base_url.rstrip("/") + TOKEN_PATH
    if chosen == "basic":
        return BasicAuth(str(username), str(password))
    if chosen == "oauth_client_credentials":
        return OAuth2ClientCredentials(
            url, str(client_id), str(client_secret), retry=retry, label=LABEL
        )
    return OAuth2PasswordGrant(
        url,
        str(client_id),
        str(client_secret),
        str(username),
        str(password),
        retry=retry,
        label=LABEL,
    )


def make_client(**given: Any) -> ServiceNowClient:
    """Builds a ServiceNow client from ``sources.servicenow.*``.

    Every argument resolves from dlt config, secrets or the environment unless passed:
    ``base_url``, ``auth``, ``page_size`` (see :func:`client_from_config`) and the HTTP
    keys of :class:`~sources.kit.http_config.HttpConfiguration` (``rate_limit`` 20
    requests per second; ``max_wait_s`` 900: a longer ``Retry-After``, an hourly rate
    limit spent, stops each table cleanly with what loaded kept).

    Args:
        **given: Values passed in code; they win over configuration.

    Returns:
        The client.

    Raises:
        ConfigurationError: The base URL, credentials or an HTTP setting is unusable.
    """
    http = resolve_connector_http(SPEC, given)
    return client_from_config(http=http, **given)


@with_config(sections=("sources", "servicenow"))
def client_from_config(
    base_url: Optional[str] = None,
    auth: Optional[AuthBase] = None,
    page_size: int = PAGE_SIZE,
    *,
    http: HttpConfiguration,
) -> ServiceNowClient:
    """Builds the client from the connection settings and resolved HTTP settings.

    Args:
        base_url: Instance URL (``SOURCES__SERVICENOW__BASE_URL``).
        auth: A prebuilt auth; from ``sources.servicenow.credentials.*`` when omitted.
        page_size: ``sysparm_limit`` per request.
        http: Timeouts, retries, breaker, rate limit and longest wait.

    Returns:
        The client.

    Raises:
        ConfigurationError: The base URL or credentials are unusable.
    """
    url = check_base_url(SPEC, base_url, what="instance", example=INSTANCE_EXAMPLE)
    return ServiceNowClient(
        base_url=url,
        session=build_session(
            SPEC, base_url=url, settings=http.to_settings(), rate_limit=http.rate_limit
        ),
        auth=auth or make_auth(base_url=url),
        page_size=page_size,
    )
