"""HTTP access to the Salesforce REST API: describe, query/queryAll pages, errors.

The connector only configures the shared resilience kit (rate limits, retries,
circuit breaker, redaction, loop-safe pagination, auth flows); nothing here
re-implements it.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import urlparse

import dlt
from dlt.common.configuration.inject import with_config
from dlt.sources.helpers.rest_client import RESTClient
from requests import Response
from requests.auth import AuthBase

from sources.kit.auth import TokenRetry
from sources.kit.circuit import CircuitRegistry
from sources.kit.errors import (
    AuthenticationError,
    ConfigurationError,
    FatalError,
    error_from_response,
    provider_message,
)
from sources.kit.http import HttpSettings, ResilientSession
from sources.kit.http_config import HttpConfiguration, pop_http_overrides, resolve_http
from sources.kit.pagination import LoopSafeJSONLinkPaginator
from sources.kit.ratelimit import RateLimit, RateLimiter, SalesforceLimitInfoReader
from sources.kit.redact import global_redactor
from sources.kit.retry import RetryDecider, RetryPolicy

from .auth import InstanceUrlRecorder, SalesforceCredentials, build_auth
from .budget import BudgetGuard
from .codes import raise_for_code
from .settings import (
    DAILY_LIMIT_MESSAGE,
    DEFAULT_MAX_API_USAGE_SHARE,
    DEFAULT_RATE_LIMIT,
    QUERY_BATCH_SIZE,
    REQUEST_LIMIT_EXCEEDED,
    data_path,
)
from .wide import split_pages, too_long

logger = logging.getLogger("sluice.salesforce")

Page = list[dict[str, Any]]


def limit_exceeded(response: Response) -> Optional[str]:
    """The message of a 403 ``REQUEST_LIMIT_EXCEEDED`` answer, else None."""
    if response.status_code != 403:
        return None
    message = provider_message(response) or ""
    return message if REQUEST_LIMIT_EXCEEDED in message else None


def is_daily_limit(response: Response) -> bool:
    """Whether a response says the org's daily request limit is spent."""
    message = limit_exceeded(response)
    return message is not None and DAILY_LIMIT_MESSAGE in message


@dataclass(frozen=True)
class SalesforceRetryDecider(RetryDecider):
    """The kit's decider, plus Salesforce's over-limit answer.

    Salesforce never answers 429: too many concurrent long requests get
    ``403 REQUEST_LIMIT_EXCEEDED`` (retry with backoff); a spent daily limit gets the
    same code with ``TotalRequests`` (retrying cannot help until the window frees).
    """

    def should_retry(
        self,
        method: str,
        response: Optional[Response],
        exception: Optional[BaseException],
        has_idempotency_key: bool,
    ) -> bool:
        """Retries what the kit retries, and the transient 403 ``REQUEST_LIMIT_EXCEEDED``."""
        if response is not None and limit_exceeded(response) and not is_daily_limit(response):
            return True
        return super().should_retry(method, response, exception, has_idempotency_key)


def build_session(
    *,
    instance_url: str,
    settings: HttpSettings,
    rate_limit: float,
    budget_threshold: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: Optional[random.Random] = None,
) -> ResilientSession:
    """The one resilient session every Salesforce resource of a run shares.

    Args:
        instance_url: The org's REST host (from the token response); the only host
            credentials go to.
        settings: Timeouts, retry and breaker settings.
        rate_limit: Requests per second.
        budget_threshold: Share of the daily limit from which the limiter trickles (the
            budget guard stops the run there, so the limiter never waits on it).
        clock: Monotonic clock (injected in tests).
        sleep: Sleep function (injected in tests).
        rng: Randomness for jitter (injected in tests).

    Returns:
        The root session; resources use ``session.for_label(name)``.
    """
    if not settings.allowed_hosts:
        settings.allowed_hosts = (urlparse(instance_url).hostname or "",)
    rng = rng or random.Random()  # noqa: S311 - jitter, not crypto
    limiter = RateLimiter(
        default=RateLimit(per_second=rate_limit),
        clock=clock,
        sleep=sleep,
        budget_readers=[SalesforceLimitInfoReader(threshold_share=budget_threshold)],
    )
    policy = dataclasses.replace(
        RetryPolicy.from_settings(settings, rng),
        decider=SalesforceRetryDecider(idempotency_header=settings.idempotency_header),
    )
    return ResilientSession(
        integration="salesforce",
        settings=settings,
        rate_limiter=limiter,
        breakers=CircuitRegistry(
            failure_threshold=settings.breaker_failure_threshold,
            recovery_timeout=settings.breaker_recovery_timeout,
            clock=clock,
        ),
        retry_policy=policy,
        redactor=global_redactor(),
        clock=clock,
        sleep=sleep,
        rng=rng,
    )


def raise_for_salesforce(response: Response, *args: Any, **kwargs: Any) -> None:
    """RESTClient response hook: turns an error response into the kit's exception."""
    if response.status_code < 400:
        return
    if is_daily_limit(response):
        raise FatalError(
            "Salesforce org's daily API request limit is spent (403 REQUEST_LIMIT_EXCEEDED "
            "TotalRequests); nothing more can be read until the 24-hour window frees requests",
            response=response,
        )
    if response.status_code == 401:
        raise AuthenticationError(
            "Salesforce rejected the session (401 INVALID_SESSION_ID) even with a freshly "
            "issued token: check the connected app's permissions and "
            "sources.salesforce.credentials",
            response=response,
        )
    raise_for_code(response)  # codes the connector recovers from (codes.py)
    raise error_from_response(response, global_redactor())


@dataclass
class SalesforceClient:
    """Describes objects and pages SOQL queries through dlt's RESTClient.

    Attributes:
        instance_url: The org's REST host.
        session: Root resilient session (shared limiter, breaker, budget, stats).
        auth: The kit flow (JWT bearer or refresh token); renews after a 401.
        budget: Stops the run at the configured share of the daily API limit.
        batch_size: Records per query page asked for.
        sleep: How Bulk API job polls wait (injected in tests).
    """

    instance_url: str
    session: ResilientSession
    auth: AuthBase
    budget: BudgetGuard
    batch_size: int = QUERY_BATCH_SIZE
    sleep: Callable[[float], None] = time.sleep
    _clients: dict[str, RESTClient] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def rest_client(self, label: str) -> RESTClient:
        """The RESTClient for one resource, with its own request counters."""
        with self._lock:
            if label not in self._clients:
                self._clients[label] = RESTClient(
                    base_url=self.instance_url,
                    headers={"Sforce-Query-Options": f"batchSize={self.batch_size}"},
                    auth=self.auth,
                    data_selector="records",
                    session=self.session.for_label(label),
                )
            return self._clients[label]

    def describe(self, object_name: str, *, label: str) -> dict[str, Any]:
        """The sObject describe result (fields with their types).

        Raises:
            FatalError: The answer is not a describe result.
        """
        path = f"{data_path()}/sobjects/{object_name}/describe"
        response = self.rest_client(label).get(
            path, hooks={"response": [raise_for_salesforce, self.budget]}
        )
        body = response.json()
        if not isinstance(body, dict) or not isinstance(body.get("fields"), list):
            raise FatalError(
                f"Salesforce describe of {object_name} has no field list: "
                "check sources.salesforce.objects",
                response=response,
            )
        return body

    def get_json(self, path: str, params: dict[str, str], *, label: str) -> Any:
        """``GET <data path>/<path>`` with ``params``; the JSON body.

        Raises:
            ReplicationDateInvalid: ``/deleted/`` or ``/updated/`` refused the window.
        """
        response = self.rest_client(label).get(
            f"{data_path()}/{path}",
            params=params,
            hooks={"response": [raise_for_salesforce, self.budget]},
        )
        return response.json()

    def count(self, soql: str, *, label: str) -> int:
        """Runs a ``SELECT COUNT() ...`` query and returns its ``totalSize``."""
        response = self.rest_client(label).get(
            f"{data_path()}/query",
            params={"q": soql},
            hooks={"response": [raise_for_salesforce, self.budget]},
        )
        total = response.json().get("totalSize")
        return total if isinstance(total, int) else 0

    def query(self, soql: str, *, label: str, include_deleted: bool = False) -> Iterator[Page]:
        """Pages through a SOQL query, following ``nextRecordsUrl``.

        Args:
            soql: The query.
            label: Name the requests are counted under (the resource name).
            include_deleted: Use ``queryAll`` (recycle bin included).

        Yields:
            Each page's ``records`` (every field, also when the field list is split
            because one URL cannot hold it: wide.py).
        """
        endpoint = "queryAll" if include_deleted else "query"
        base = len(f"{self.instance_url}{data_path()}/{endpoint}?q=")
        if too_long(soql, base):
            yield from split_pages(
                soql, base, lambda part: self._pages(part, label, include_deleted)
            )
            return
        yield from self._pages(soql, label, include_deleted)

    def _pages(self, soql: str, label: str, include_deleted: bool) -> Iterator[Page]:
        endpoint = "queryAll" if include_deleted else "query"
        pages = self.rest_client(label).paginate(
            f"{data_path()}/{endpoint}",
            params={"q": soql},
            paginator=LoopSafeJSONLinkPaginator(next_url_path="nextRecordsUrl"),
            # Errors first (a spent daily limit says so), then the budget share.
            hooks={"response": [raise_for_salesforce, self.budget]},
        )
        for page in pages:
            logger.info(
                "salesforce %s: %s page of %d record(s)",
                label,
                endpoint,
                len(page),
                extra={"resource": label},
            )
            yield list(page)


@dataclass(frozen=True)
class ClientOptions:
    """Tuning of one Salesforce client (all from ``sources.salesforce.*``)."""

    instance_url: Optional[str] = None
    max_api_usage_share: float = DEFAULT_MAX_API_USAGE_SHARE
    rate_limit: float = DEFAULT_RATE_LIMIT
    batch_size: int = QUERY_BATCH_SIZE
    settings: HttpSettings = field(default_factory=HttpSettings)


def connect(
    credentials: SalesforceCredentials,
    options: ClientOptions,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: Optional[random.Random] = None,
) -> SalesforceClient:
    """Fetches the first token and builds the client on the instance it names.

    A refused credential fails here, before any work; the token response says which
    instance the API lives on.

    Args:
        credentials: JWT bearer or refresh token settings.
        options: Instance override, budget share, rate, page size and HTTP settings.
        sleep: How retries wait (injected in tests).
        clock: Monotonic clock (injected in tests).
        rng: Randomness for jitter (injected in tests).

    Returns:
        The client.

    Raises:
        ConfigurationError: Missing credentials or no usable instance URL.
        AuthenticationError: The token endpoint refused the credentials.
    """
    recorder = InstanceUrlRecorder()
    auth = build_auth(credentials, recorder, retry=TokenRetry(sleep=sleep))
    auth.token()
    base = (options.instance_url or recorder.instance_url or "").rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ConfigurationError(
            "Salesforce token response carried no instance_url: set "
            "sources.salesforce.instance_url (https://<my-domain>.my.salesforce.com)"
        )
    budget = BudgetGuard(options.max_api_usage_share)
    session = build_session(
        instance_url=base,
        settings=options.settings,
        rate_limit=options.rate_limit,
        budget_threshold=options.max_api_usage_share,
        clock=clock,
        sleep=sleep,
        rng=rng,
    )
    return SalesforceClient(
        instance_url=base,
        session=session,
        auth=auth,
        budget=budget,
        batch_size=options.batch_size,
        sleep=sleep,
    )


def http_defaults() -> HttpConfiguration:
    """Salesforce's HTTP defaults where they differ from the kit's: long queries read slowly."""
    return HttpConfiguration(rate_limit=DEFAULT_RATE_LIMIT, read_timeout=120.0)


def make_client(**given: Any) -> SalesforceClient:
    """Builds a Salesforce client on the shared kit from ``sources.salesforce.*``.

    Every argument resolves from dlt config, secrets or the environment
    (``SOURCES__SALESFORCE__CREDENTIALS__PRIVATE_KEY``, ``SOURCES__SALESFORCE__RATE_LIMIT``...)
    unless passed: the connection settings of :func:`client_from_config` and the HTTP keys
    of :class:`~sources.kit.http_config.HttpConfiguration` (``rate_limit`` 20 requests per
    second and ``read_timeout`` 120 s by default).

    Args:
        **given: Values passed in code; they win over configuration.

    Returns:
        The client.
    """
    http = resolve_http("salesforce", http_defaults(), pop_http_overrides(given))
    return client_from_config(http=http, **given)


@with_config(sections=("sources", "salesforce"))
def client_from_config(
    credentials: SalesforceCredentials = dlt.secrets.value,
    instance_url: Optional[str] = None,
    max_api_usage_share: float = DEFAULT_MAX_API_USAGE_SHARE,
    batch_size: int = QUERY_BATCH_SIZE,
    *,
    http: HttpConfiguration,
) -> SalesforceClient:
    """Builds the client from the connection settings and resolved HTTP settings.

    Args:
        credentials: ``sources.salesforce.credentials`` (JWT bearer or refresh token).
        instance_url: Overrides the token response's ``instance_url``.
        max_api_usage_share: Stop before this share of the daily API limit is used.
        batch_size: Records per query page (200..2000).
        http: Timeouts, retries, breaker and rate limit (``sources.salesforce.*``).

    Returns:
        The client.
    """
    options = ClientOptions(
        instance_url=instance_url,
        max_api_usage_share=max_api_usage_share,
        rate_limit=http.rate_limit if http.rate_limit is not None else DEFAULT_RATE_LIMIT,
        batch_size=batch_size,
        settings=http.to_settings(),
    )
    return connect(credentials, options)
