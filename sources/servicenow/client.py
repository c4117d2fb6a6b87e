"""HTTP access to the ServiceNow Table API on the shared resilience kit.

The connector only configures the kit (rate limits, retries, circuit breaker,
redaction, pagination with loop guard, auth flows); nothing here re-implements it.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlparse

from dlt.common.configuration.inject import with_config
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Response
from requests.auth import AuthBase

from sources.kit.auth import BasicAuth, OAuth2ClientCredentials, ProviderLabel, TokenRetry
from sources.kit.auth.password_grant import OAuth2PasswordGrant
from sources.kit.circuit import CircuitRegistry
from sources.kit.errors import AuthenticationError, ConfigurationError, error_from_response
from sources.kit.http import HttpSettings, ResilientSession
from sources.kit.http_config import HttpConfiguration, pop_http_overrides, resolve_http
from sources.kit.ratelimit import RateLimit, RateLimiter
from sources.kit.redact import global_redactor
from sources.kit.retry import RetryPolicy

from .access import access_denied
from .paginator import LoopSafeHeaderLinkPaginator
from .settings import (
    DEFAULT_RATE_LIMIT,
    MAX_WAIT_S,
    PAGE_SIZE,
    TABLE_NAME_PATTERN,
    TABLE_PATH,
    TOKEN_PATH,
)

logger = logging.getLogger("sluice.servicenow")

CREDENTIALS_PATH = "sources.servicenow.credentials"
LABEL = ProviderLabel("ServiceNow", CREDENTIALS_PATH)
AUTH_TYPES = ("basic", "oauth_password", "oauth_client_credentials")


@dataclass(frozen=True)
class Page:
    """One Table API page and the ``X-Total-Count`` it announced."""

    records: list[dict[str, Any]]
    total: Optional[int]


def build_session(
    *,
    base_url: str,
    settings: HttpSettings,
    rate_limit: float = DEFAULT_RATE_LIMIT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: Optional[random.Random] = None,
    wall_clock: Callable[[], float] = time.time,
) -> ResilientSession:
    """The one resilient session every table of a run shares.

    Args:
        base_url: Instance URL; its host is the only one credentials go to.
        settings: Timeouts, retries and breaker settings.
        rate_limit: Starting requests per second (adapts to ``X-RateLimit-*``).
        clock: Monotonic clock (injected in tests).
        sleep: Sleep function (injected in tests).
        rng: Jitter randomness (injected in tests).
        wall_clock: Epoch seconds, for ``X-RateLimit-Reset`` and ``Retry-After`` dates
            (injected in tests, with the instance's clock).

    Returns:
        The root session.
    """
    if not settings.allowed_hosts:
        settings.allowed_hosts = (urlparse(base_url).hostname or "",)
    rng = rng or random.Random()  # noqa: S311 - jitter, not crypto
    return ResilientSession(
        integration="servicenow",
        settings=settings,
        rate_limiter=RateLimiter(
            default=RateLimit(per_second=rate_limit),
            clock=clock,
            sleep=sleep,
            wall_clock=wall_clock,
        ),
        breakers=CircuitRegistry(
            failure_threshold=settings.breaker_failure_threshold,
            recovery_timeout=settings.breaker_recovery_timeout,
            clock=clock,
        ),
        retry_policy=RetryPolicy.from_settings(settings, rng, wall_clock=wall_clock),
        redactor=global_redactor(),
        clock=clock,
        sleep=sleep,
        rng=rng,
    )


def raise_for_servicenow(response: Response, *args: Any, **kwargs: Any) -> None:
    """RESTClient response hook: an error response becomes the kit's exception."""
    if response.status_code == 403:
        raise access_denied(response, CREDENTIALS_PATH)
    if response.status_code == 401:
        raise AuthenticationError(
            f"ServiceNow refused the credentials ({response.status_code}): check "
            f"{CREDENTIALS_PATH}",
            response=response,
        )
    if response.status_code >= 400:
        raise error_from_response(response, global_redactor())


def total_count(response: Response) -> Optional[int]:
    """``X-Total-Count`` as an int, if the instance sent one."""
    value = response.headers.get("X-Total-Count", "")
    return int(value) if value.isdigit() else None


def check_table_name(table: str) -> str:
    """Refuses table names that could not be a ServiceNow table (path injection)."""
    if not re.match(TABLE_NAME_PATTERN, table):
        raise ConfigurationError(
            f"{table!r} in sources.servicenow.tables is not a ServiceNow table name"
        )
    return table


@dataclass
class ServiceNowClient:
    """Lists Table API records through dlt's RESTClient on a resilient session.

    Attributes:
        base_url: Instance URL (``https://<instance>.service-now.com``).
        session: Root resilient session (limiter, breaker, retry budget, stats).
        auth: Basic or an OAuth2 flow from the kit.
        page_size: ``sysparm_limit``.
    """

    base_url: str
    session: ResilientSession
    auth: AuthBase
    page_size: int = PAGE_SIZE
    _clients: dict[str, RESTClient] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def rest_client(self, label: str) -> RESTClient:
        """The RESTClient of one table, with its own request counters."""
        with self._lock:
            if label not in self._clients:
                self._clients[label] = RESTClient(
                    base_url=self.base_url.rstrip("/"),
                    headers={"Accept": "application/json"},
                    auth=self.auth,
                    paginator=LoopSafeHeaderLinkPaginator(),
                    data_selector="result",
                    session=self.session.for_label(label),
                )
            return self._clients[label]

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
        for page in self.rest_client(label or table).paginate(
            path, params=query, paginator=paginator, hooks={"response": [raise_for_servicenow]}
        ):
            logger.debug("servicenow %s: page of %d record(s)", table, len(page))
            yield Page(list(page), total_count(page.response))

    def check_credentials(self) -> None:
        """One cheap request so bad credentials fail before any work.

        Raises:
            AuthenticationError: The instance refused the credentials.
        """
        response = self.rest_client("_credentials").get(
            TABLE_PATH.format(table="sys_user"), params={"sysparm_limit": 1}
        )
        raise_for_servicenow(response)
        if "json" not in response.headers.get("Content-Type", ""):
            raise ConfigurationError(
                f"{self.base_url} does not answer like a ServiceNow instance: "
                "check sources.servicenow.base_url",
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


def http_defaults() -> HttpConfiguration:
    """ServiceNow's HTTP defaults where they differ from the kit's (see ``settings.py``)."""
    return HttpConfiguration(rate_limit=DEFAULT_RATE_LIMIT, max_wait_s=MAX_WAIT_S)


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
    http = resolve_http("servicenow", http_defaults(), pop_http_overrides(given))
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
    if not base_url:
        # Said here, not by dlt, so the line names the key and what a value looks like.
        raise ConfigurationError(
            "ServiceNow instance missing: set sources.servicenow.base_url "
            "(https://<instance>.service-now.com) in .dlt/config.toml or "
            "SOURCES__SERVICENOW__BASE_URL"
        )
    if not base_url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"sources.servicenow.base_url must start with http:// or https://, got {base_url!r}"
        )
    rate_limit = http.rate_limit if http.rate_limit is not None else DEFAULT_RATE_LIMIT
    return ServiceNowClient(
        base_url=base_url,
        session=build_session(
            base_url=base_url, settings=http.to_settings(), rate_limit=rate_limit
        ),
        auth=auth or make_auth(base_url=base_url),
        page_size=page_size,
    )
