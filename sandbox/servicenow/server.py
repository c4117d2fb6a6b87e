"""The HTTP server (standard library, threaded, keep-alive) and ``ServiceNowSandbox``."""

from __future__ import annotations

import logging
import random
import socket
import struct
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from sandbox.background import BackgroundServer

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: TableApi) -> None:
        self.api = api
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.api.handle(self.command, path, query, headers, body)
        if reply.drop:
            self._reset()
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("servicenow sandbox: %s %s", self.command, self.path.split("?", 1)[0])


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

    def start(self) -> ServiceNowSandbox:
        """Serves on ``host``:``port`` (a free port of 127.0.0.1 by default) in a thread."""
        if self._server is None:
            self._server = _Server((self.host, self.port), self.api)
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
