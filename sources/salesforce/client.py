"""HTTP access to the Salesforce REST API: describe, query/queryAll pages, counts.

The client is the kit's :class:`~sources.kit.connector.ConnectorClient` declared by
``spec.py`` (session, per-resource RESTClient, error raiser, retries); Salesforce adds
the query page size header, the daily-budget hook, and the token response that names
the instance the API lives on.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

import dlt
from dlt.common.configuration.inject import with_config

from sources.kit.auth import TokenRetry
from sources.kit.connector import (
    ConnectorClient,
    ConnectorSpec,
    build_session,
    resolve_connector_http,
)
from sources.kit.connector.client import ResponseHook
from sources.kit.errors import ConfigurationError, FatalError
from sources.kit.http import HttpSettings
from sources.kit.http_config import HttpConfiguration
from sources.kit.ratelimit import SalesforceLimitInfoReader

from .auth import InstanceUrlRecorder, SalesforceCredentials, build_auth
from .budget import BudgetGuard
from .settings import DEFAULT_MAX_API_USAGE_SHARE, QUERY_BATCH_SIZE, data_path
from .spec import SPEC
from .spec import http_defaults as http_defaults  # its historical home (tests, docs)
from .wide import split_pages, too_long

logger = logging.getLogger("sluice.salesforce")

Page = list[dict[str, Any]]


@dataclass
class SalesforceClient(ConnectorClient):
    """Describes objects and pages SOQL queries through dlt's RESTClient.

    Attributes:
        base_url: The org's REST host (``instance_url``).
        session: Root resilient session (shared limiter, breaker, budget, stats).
        auth: The kit flow (JWT bearer or refresh token); renews after a 401.
        budget: Stops the run at the configured share of the daily API limit.
        batch_size: Records per query page asked for.
        sleep: How Bulk API job polls wait (injected in tests).
    """

    spec: ClassVar[ConnectorSpec] = SPEC
    budget: BudgetGuard
    batch_size: int = QUERY_BATCH_SIZE
    sleep: Callable[[float], None] = time.sleep

    @property
    def instance_url(self) -> str:
        """The org's REST host."""
        return self.base_url

    def headers(self) -> dict[str, str]:
        """The page size every query asks for."""
        return {"Sforce-Query-Options": f"batchSize={self.batch_size}"}

    def response_hooks(self) -> list[ResponseHook]:
        """Errors first (a spent daily limit says so), then the budget share."""
        return [*super().response_hooks(), self.budget]

    def describe(self, object_name: str, *, label: str) -> dict[str, Any]:
        """The sObject describe result (fields with their types).

        Raises:
            FatalError: The answer is not a describe result.
        """
        response = self.get(f"{data_path()}/sobjects/{object_name}/describe", label=label)
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
        return self.get(f"{data_path()}/{path}", label=label, params=params).json()

    def count(self, soql: str, *, label: str) -> int:
        """Runs a ``SELECT COUNT() ...`` query and returns its ``totalSize``."""
        response = self.get(f"{data_path()}/query", label=label, params={"q": soql})
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
        base = len(f"{self.base_url}{data_path()}/{endpoint}?q=")
        if too_long(soql, base):
            yield from split_pages(
                soql, base, lambda part: self._pages(part, label, include_deleted)
            )
            return
        yield from self._pages(soql, label, include_deleted)

    def _pages(self, soql: str, label: str, include_deleted: bool) -> Iterator[Page]:
        endpoint = "queryAll" if include_deleted else "query"
        for page in self.paginate(f"{data_path()}/{endpoint}", label=label, params={"q": soql}):
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
    rate_limit: Optional[float] = None
    """Requests per second; the spec's 20 when None."""
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
        SPEC,
        base_url=base,
        settings=options.settings,
        rate_limit=options.rate_limit,
        # The limiter trickles from the share the budget guard stops at: it never waits on it.
        budget_readers=[SalesforceLimitInfoReader(threshold_share=options.max_api_usage_share)],
        clock=clock,
        sleep=sleep,
        rng=rng,
    )
    return SalesforceClient(
        base_url=base,
        session=session,
        auth=auth,
        budget=budget,
        batch_size=options.batch_size,
        sleep=sleep,
    )


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
    http = resolve_connector_http(SPEC, given)
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
        rate_limit=http.rate_limit,
        batch_size=batch_size,
        settings=http.to_settings(),
    )
    return connect(credentials, options)
