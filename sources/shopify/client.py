"""HTTP access to the Shopify Admin GraphQL API on the kit's connector framework.

The kit builds the resilient session from :data:`~.spec.SPEC` and the GraphQL client
with its cost limiter (:mod:`sources.kit.graphql`); what stays here is Shopify's own:
the endpoint under the shop URL with the pinned version, the ``X-Shopify-Access-Token``
header (https://shopify.dev/docs/api/admin-graphql#authentication), the cost reader.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from dlt.common.configuration.inject import with_config
from dlt.common.typing import TSecretStrValue

from sources.kit.auth.static import ApiKeyAuth
from sources.kit.connector import (
    ConnectorClient,
    ConnectorSpec,
    build_session,
    check_base_url,
    resolve_connector_http,
)
from sources.kit.errors import AuthenticationError, ConfigurationError
from sources.kit.graphql import CostLimiter, GraphQLClient
from sources.kit.http_config import HttpConfiguration

from .cost import shopify_cost_reader
from .queries import SHOP
from .settings import ACCESS_TOKEN_KEY, API_VERSION, GRAPHQL_PATH
from .spec import SPEC

__all__ = ["ShopifyClient", "make_client"]

logger = logging.getLogger("sluice.shopify")

TOKEN_HEADER = "X-Shopify-Access-Token"  # noqa: S105 - a header name
SHOP_EXAMPLE = "https://<shop>.myshopify.com"


@dataclass
class ShopifyClient(ConnectorClient):
    """The run's Shopify access: one GraphQL client over the shared resilient session.

    Attributes:
        base_url: The shop's URL (``https://<shop>.myshopify.com``).
        session: Root resilient session (retries, breaker, redaction, stats).
        auth: The access token header.
        api_version: Pinned Admin API version.
        graphql: The GraphQL client (cost limiter shared by every resource).
        sleep: Sleep between bulk polls (injected in tests).
    """

    spec: ClassVar[ConnectorSpec] = SPEC
    api_version: str = API_VERSION
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    graphql: GraphQLClient = field(init=False)
    bulk_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        limiter = CostLimiter(clock=self.clock, sleep=self.sleep)
        self.graphql = GraphQLClient(
            self.session,
            self.graphql_url,
            limiter,
            shopify_cost_reader,
            headers={"Accept": "application/json"},
            auth=self.auth,
            title="Shopify",
        )

    @property
    def graphql_url(self) -> str:
        """``{shop}/admin/api/{version}/graphql.json``."""
        return self.base_url + GRAPHQL_PATH.format(version=self.api_version)

    def check_credentials(self) -> None:
        """One 1-point query so a bad token or shop URL fails before any work.

        Raises:
            AuthenticationError: Shopify refused the token (names the setting).
        """
        try:
            self.graphql.execute(SHOP, label="_credentials", estimated_cost=1)
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"Shopify refused the access token: check {ACCESS_TOKEN_KEY} ({exc})"
            ) from exc


def make_client(**given: Any) -> ShopifyClient:
    """Builds a Shopify client from ``sources.shopify.*``.

    ``shop_url``, ``access_token`` (secrets), ``api_version`` resolve from dlt config,
    secrets or the environment unless passed, and the HTTP keys of
    :class:`~sources.kit.http_config.HttpConfiguration`.

    Raises:
        ConfigurationError: The shop URL, token or an HTTP setting is unusable.
    """
    http = resolve_connector_http(SPEC, given)
    return client_from_config(http=http, **given)


@with_config(sections=("sources", "shopify"))
def client_from_config(
    shop_url: Optional[str] = None,
    access_token: Optional[TSecretStrValue] = None,
    api_version: str = API_VERSION,
    clock: Optional[Callable[[], float]] = None,
    sleep: Optional[Callable[[float], None]] = None,
    *,
    http: HttpConfiguration,
) -> ShopifyClient:
    """Builds the client from the connection settings and the resolved HTTP settings.

    Args:
        shop_url: The shop (``SOURCES__SHOPIFY__SHOP_URL``).
        access_token: Admin API access token (``SOURCES__SHOPIFY__ACCESS_TOKEN``).
        api_version: Pinned Admin API version (``2025-01``).
        clock: Monotonic clock of the cost limiter (injected in tests).
        sleep: Sleep of the cost limiter and bulk polls (injected in tests).
        http: Timeouts, retries, breaker and request-rate backstop.

    Returns:
        The client.

    Raises:
        ConfigurationError: Missing shop URL or token.
    """
    url = check_base_url(SPEC, shop_url, key="shop_url", what="shop URL", example=SHOP_EXAMPLE)
    if not access_token:
        env = ACCESS_TOKEN_KEY.upper().replace(".", "__")
        raise ConfigurationError(
            f"Shopify access token missing: set {ACCESS_TOKEN_KEY} in .dlt/secrets.toml or {env}"
        )
    settings = http.to_settings()
    return ShopifyClient(
        base_url=url,
        session=build_session(SPEC, base_url=url, settings=settings, rate_limit=http.rate_limit),
        auth=ApiKeyAuth(str(access_token), name=TOKEN_HEADER),
        api_version=api_version,
        clock=clock or time.monotonic,
        sleep=sleep or time.sleep,
    )
