"""The HTTP server (standard library, threaded, keep-alive) and ``ShopifySandbox``."""

from __future__ import annotations

import logging
import random
from typing import Any, Optional

import requests

from sandbox.background import BackgroundServer
from sandbox.loopback import LoopbackServer, Request

from .api import AdminApi, Reply, Stats
from .bucket import CostBucket
from .bulk import BulkOperations
from .clock import Clock, ManualClock
from .faults import Faults
from .resolvers import bind
from .schema import build
from .seed import SHOP_DOMAIN, Volume
from .store import Store
from .webhooks import WebhookSender

logger = logging.getLogger("sluice.sandbox.shopify")

DEFAULT_API_VERSION = "2025-01"


class ShopifySandbox(BackgroundServer):
    """A local Shopify shop: Admin GraphQL API, cost bucket, bulk operations, webhooks.

    Example:
        >>> with ShopifySandbox(seed=1) as sb:
        ...     sb.update("product", sb.store.products()[0]["id"], title="New")
    """

    label = "Shopify sandbox"

    def __init__(
        self,
        seed: int = 42,
        *,
        bucket_size: float = 1000.0,
        restore_rate: float = 50.0,
        clock: Optional[Clock] = None,
        faults: Optional[Faults] = None,
        volume: Optional[Volume] = None,
        api_version: str = DEFAULT_API_VERSION,
        host: str = "127.0.0.1",
        port: int = 0,
        bulk_polls_to_complete: int = 2,
    ) -> None:
        """Seeds the shop (the server starts with ``start``).

        Args:
            seed: Seed of every generated value (data, tokens, ids).
            bucket_size: ``maximumAvailable`` points of the cost bucket.
            restore_rate: Points restored per second.
            clock: Unix seconds; a ``ManualClock`` at the current time by default.
            faults: Fault switches (fresh ones by default).
            volume: Objects in the seeded shop.
            api_version: The version in ``graphql_url``.
            host: Interface to listen on.
            port: Port (0: any free port).
            bulk_polls_to_complete: Polls after which a bulk operation finishes.
        """
        self.host, self.port = host, port
        self.api_version = api_version
        self.clock: Clock = clock or ManualClock()
        rng = random.Random(f"{seed}:secrets")
        self.access_token = f"shpat_{rng.getrandbits(128):032x}"
        self.webhook_secret = f"{rng.getrandbits(128):032x}"
        self.faults = faults or Faults(self.clock)
        self.store = Store(seed, self.clock, volume)
        self.schema = bind(build())
        self.bucket = CostBucket(bucket_size, restore_rate, self.clock)
        self.api = AdminApi(
            self.schema, self.store, self.faults, self.bucket, self.access_token, api_version
        )
        self.bulk = BulkOperations(
            self.schema,
            self.api.execute_bulk,
            self.faults,
            self.clock,
            lambda: self.base_url,
            seed=seed,
            polls_to_complete=bulk_polls_to_complete,
        )
        self.api.bulk = self.bulk
        self.webhooks = WebhookSender(
            self.webhook_secret, SHOP_DOMAIN, api_version, self.clock, seed=seed
        )
        self.store.listeners.append(self.webhooks.on_change)

    def _answer(self, request: Request) -> Reply:
        """One HTTP request through the Admin API emulation."""
        return self.api.handle(request.method, request.path, request.headers, request.body)

    def start(self) -> ShopifySandbox:
        """Serves on ``host``:``port`` (a free port of 127.0.0.1 by default) in a thread."""
        if self._server is None:
            server = LoopbackServer((self.host, self.port), self._answer, "shopify sandbox")
            self._serve(server, poll_interval=0.02)
        return self

    @property
    def graphql_url(self) -> str:
        """``{base_url}/admin/api/{api_version}/graphql.json``."""
        return f"{self.base_url}/admin/api/{self.api_version}/graphql.json"

    @property
    def shop_domain(self) -> str:
        """The ``X-Shopify-Shop-Domain`` of webhooks (``*.myshopify.com``)."""
        return SHOP_DOMAIN

    @property
    def stats(self) -> Stats:
        """Counters: requests, THROTTLED answers, points spent, bulk operations."""
        self.api.stats.bulk_operations = self.bulk.started
        return self.api.stats

    def post(
        self,
        query: str,
        variables: Optional[dict[str, Any]] = None,
        *,
        token: Optional[str] = None,
    ) -> requests.Response:
        """POSTs one GraphQL request with the sandbox's token (tests and smoke checks)."""
        return requests.post(
            self.graphql_url,
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": self.access_token if token is None else token},
            timeout=10,
        )

    def update(self, kind: str, gid: str, **fields: Any) -> None:
        """Changes an object (GraphQL field names); bumps its ``updatedAt``."""
        self.store.update(kind, gid, **fields)

    def create(self, kind: str, **fields: Any) -> str:
        """Creates an object now; returns its global id."""
        return self.store.create(kind, **fields)

    def delete(self, kind: str, gid: str) -> None:
        """Deletes an object (a deletion event for products/collections, a webhook)."""
        self.store.delete(kind, gid)

    def send_webhooks_to(self, url: Optional[str]) -> None:
        """From now on each mutation POSTs a signed webhook to ``url`` (None: stop)."""
        self.webhooks.url = url

    def remove_scope(self, scope: str) -> None:
        """The app loses an access scope (``read_orders``...): ACCESS_DENIED from now on."""
        self.api.scopes.discard(scope)

    def grant_scope(self, scope: str) -> None:
        """Gives an access scope back."""
        self.api.scopes.add(scope)

    def advance(self, seconds: float) -> None:
        """Moves the ``ManualClock``: the bucket refills, changes get later ``updatedAt``.

        Raises:
            TypeError: The sandbox runs on another clock.
        """
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs the sandbox's default ManualClock")
        self.clock.advance(seconds)
