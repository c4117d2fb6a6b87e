"""The HTTP server (standard library, threaded, keep-alive) and ``ServiceNowSandbox``."""

from __future__ import annotations

import logging
import random
import time
from typing import Optional

from sandbox.background import BackgroundServer
from sandbox.loopback import LoopbackServer, Request

from .api import Reply, Stats, TableApi
from .audit import AuditPolicy
from .auth import Authenticator
from .clock import Clock, ManualClock
from .faults import Faults
from .ratelimit import HOUR_S, RateLimitRule
from .seed import Volume, seed_tables
from .store import Store

logger = logging.getLogger("sluice.sandbox.servicenow")

DEFAULT_USER = ("admin", "sandbox-password")
DEFAULT_CLIENT = ("sandbox-client", "sandbox-client-secret")


class ServiceNowSandbox(BackgroundServer):
    """A local ServiceNow instance: Table API, Basic auth, OAuth tokens, faults, deletes.

    Example:
        >>> with ServiceNowSandbox(seed=1) as sn:
        ...     sn.store.update("incident", sys_id, state="6")
    """

    label = "ServiceNow sandbox"

    def __init__(
        self,
        seed: int = 42,
        volume: Optional[Volume] = None,
        *,
        rate_limit: Optional[int] = None,
        rate_window_s: int = HOUR_S,
        token_ttl: float = 1800,
        clock: Optional[Clock] = None,
        users: Optional[dict[str, str]] = None,
        clients: Optional[dict[str, str]] = None,
        roles: Optional[dict[str, set[str]]] = None,
        audit: Optional[AuditPolicy] = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Seeds the tables (the server starts with ``start``).

        Args:
            seed: Seed of every generated value.
            volume: Records per table.
            rate_limit: Requests per window per user (None: no limit, no headers).
            rate_window_s: Rate-limit window in seconds (an hour, as on instances).
            token_ttl: Seconds an OAuth access token lives.
            clock: Unix seconds; a ``ManualClock`` at the current time by default.
            users: Passwords by user name.
            clients: OAuth client secrets by client id.
            roles: Roles by user name (a user not listed is ``admin``).
            audit: Which deletes are audited (the instance defaults if None).
            host: Interface to listen on.
            port: Port (0: any free port).
        """
        self.host, self.port = host, port
        self.clock = clock or ManualClock(time.time())
        tables = seed_tables(seed, self.clock(), volume or Volume())
        self.store = Store(tables, self.clock, seed, audit)
        self.auth = Authenticator(
            users or dict([DEFAULT_USER]),
            clients or dict([DEFAULT_CLIENT]),
            token_ttl,
            self.clock,
            random.Random(f"{seed}:tokens"),
            roles,
        )
        # Faults keeps the one-shot 429s; the per-hour rule is ratelimit.RateLimitRule.
        self.faults = Faults(None, rate_window_s, self.clock)
        self.rate_rule = RateLimitRule(rate_limit, self.clock, rate_window_s)
        self.api = TableApi(self.store, self.auth, self.faults, "", self.rate_rule)

    def _answer(self, request: Request) -> Reply:
        """One HTTP request through the Table API emulation."""
        return self.api.handle(
            request.method, request.path, request.query, request.headers, request.body
        )

    def start(self) -> ServiceNowSandbox:
        """Serves on ``host``:``port`` (a free port of 127.0.0.1 by default) in a thread."""
        if self._server is None:
            self._server = LoopbackServer(
                (self.host, self.port), self._answer, "servicenow sandbox"
            )
            self.api.base_url = self.base_url
            self._serve(self._server, poll_interval=0.02)
        return self

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint."""
        return self.base_url + "/oauth_token.do"

    @property
    def stats(self) -> Stats:
        """Request counters."""
        return self.api.stats

    @property
    def username(self) -> str:
        """The first user's name."""
        return next(iter(self.auth.users))

    @property
    def password(self) -> str:
        """The first user's password."""
        return self.auth.users[self.username]

    @property
    def client_id(self) -> str:
        """The first OAuth client's id."""
        return next(iter(self.auth.clients))

    @property
    def client_secret(self) -> str:
        """The first OAuth client's secret."""
        return self.auth.clients[self.client_id]

    def advance(self, seconds: float) -> None:
        """Moves a ``ManualClock`` forward (mutations then get later ``sys_updated_on``).

        Raises:
            TypeError: The sandbox runs on another clock.
        """
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs the sandbox's default ManualClock")
        self.clock.advance(seconds)
