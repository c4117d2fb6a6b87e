"""The HTTP server (standard library, threaded, HTTP/1.1 keep-alive) and ``StripeSandbox``."""

from __future__ import annotations

import logging
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .api import ApiRequest, ApiResponse, Sleep, StripeApi
from .auth import Authenticator, is_live_key
from .bulk import BulkCounts, add_bulk
from .clock import Clock, SandboxClock
from .control import ControlApi
from .factory import Account, Factory
from .faults import FaultInjector, Faults
from .generator import generate_history
from .ids import IdFactory
from .ratelimit import RateLimiter
from .scenarios import scenario_history
from .stats import SandboxStats
from .store import Store
from .write_rules import WriteRules

logger = logging.getLogger(__name__)

TEST_MODE_RATE_LIMIT = 25
LIVE_MODE_RATE_LIMIT = 100
_CONTROL_PREFIX = "/_sandbox/"
_IDLE_TIMEOUT_SECONDS = 120
_POLL_SECONDS = 0.01


class _Server(ThreadingHTTPServer):
    """Threaded server that can close its keep-alive connections on shutdown."""

    daemon_threads = True
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], api: StripeApi, control: ControlApi) -> None:
        self.api = api
        self.control = control
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, hands it to the API (or control endpoints) and writes the answer."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = _IDLE_TIMEOUT_SECONDS
    server: _Server

    def version_string(self) -> str:
        return "stripe-sandbox"

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.untrack(self.connection)

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch()

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch()

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch()

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        if path.startswith(_CONTROL_PREFIX):
            response = self.server.control.handle(self.command, path, body)
        else:
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = ApiRequest(self.command, path, query, headers, body)
            response = self.server.api.handle(request)
        if response.drop:
            self._reset_connection()
        else:
            self._send(response)

    def _send(self, response: ApiResponse) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-cache, no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def _reset_connection(self) -> None:
        """Close the connection with a TCP reset and no response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
        logger.debug("%s - " + format, self.address_string(), *args)


class StripeSandbox:
    """A local emulator of the Stripe API v1, seeded with a deterministic account.

    Example:
        >>> with StripeSandbox(seed=42, volume=20, rate_limit=0) as sb:
        ...     stripe.api_base = sb.base_url
    """

    def __init__(
        self,
        seed: int = 42,
        volume: int = 50,
        api_keys: Iterable[str] = ("sk_test_sandbox",),
        rate_limit: int | None = None,
        faults: Faults | None = None,
        now: Clock = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sleep: Sleep | None = None,
        rate_clock: Callable[[], float] = time.monotonic,
        bulk: BulkCounts | None = None,
        scenario: str | None = None,
    ) -> None:
        """Generate the account (the server starts with ``start``).

        Args:
            seed: Seed of every random choice (data, ids, faults, request ids).
            volume: Number of customers; other counts derive from it.
            api_keys: Accepted keys; the first one's mode (``sk_test_``/``sk_live_``) sets
                ``livemode`` of the data.
            rate_limit: Requests per second per key: ``None`` for Stripe's defaults (25 in
                test mode, 100 in live mode), ``0`` for none.
            faults: Initial fault switches.
            now: Current unix time; data spans the 120 days before ``now()`` at construction.
                Pass a ``SandboxClock`` to control it (see ``advance``).
            host: Interface to listen on.
            port: Port to listen on (0: any free port).
            sleep: How latency and stalls wait; by default a wait that ``stop`` interrupts.
            rate_clock: Monotonic seconds for the rate limiter's buckets.
            bulk: Extra historical customers, charges and invoices added after the seeded
                history, by type or list name (``{"charges": 110_000, "customers": 30_000}``):
                realistic clones of seeded objects held only as JSON, without creation
                events (see ``bulk.py``); for throughput benchmarks.
            scenario: Scripted customers added to the seeded account (``"mrr"``: see
                ``scenarios.py``), whose history tests know exactly.

        Raises:
            ValueError: If no API key is given, ``volume`` is negative or ``bulk`` cannot be
                made (unsupported type, nothing seeded to clone).
        """
        self._api_keys = tuple(api_keys)
        authenticator = Authenticator(self._api_keys)
        self.seed = seed
        self.volume = volume
        self.host = host
        self._port = port
        self._clock = now
        self._rate_limit = rate_limit
        self._stopping = threading.Event()
        ids = IdFactory(random.Random(f"{seed}:ids"))
        factory = Factory(ids, Account.generate(ids), is_live_key(self._api_keys[0]))
        self.store = Store(factory, now)
        history = generate_history(factory, random.Random(f"{seed}:data"), volume, int(now()))
        if scenario:
            history += scenario_history(scenario, factory, int(now()))
        self.store.load(history)
        if bulk:
            add_bulk(self.store, bulk, random.Random(f"{seed}:bulk"), int(now()))
        self.stats = SandboxStats()
        self._injector = FaultInjector(faults or Faults(), random.Random(f"{seed}:faults"))
        self._api = StripeApi(
            store=self.store,
            authenticator=authenticator,
            limiter=RateLimiter(rate_clock),
            limit_for=self._limit_for,
            injector=self._injector,
            stats=self.stats,
            request_ids=IdFactory(random.Random(f"{seed}:requests"), ids.account_tag),
            sleep=sleep or self._interruptible_sleep,
        )
        self._control = ControlApi(self.stats, self._injector)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start serving in a background thread (no-op if already started)."""
        if self._server is not None:
            return
        self._stopping.clear()
        self._server = _Server((self.host, self._port), self._api, self._control)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"stripe-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Stripe sandbox listening on %s", self.base_url)

    def stop(self) -> None:
        """Stop serving, wake stalled requests and close open connections."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None
        logger.info("Stripe sandbox stopped")

    def __enter__(self) -> StripeSandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------- properties

    @property
    def port(self) -> int:
        """The port listened on (the requested one until started)."""
        return self._server.server_address[1] if self._server else self._port

    @property
    def base_url(self) -> str:
        """``http://<host>:<port>``, without trailing slash; the API is under ``/v1``.

        Raises:
            RuntimeError: If the sandbox is not started.
        """
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def api_key(self) -> str:
        """The first accepted API key."""
        return self._api_keys[0]

    @property
    def clock(self) -> Clock:
        """The clock the sandbox reads."""
        return self._clock

    @property
    def faults(self) -> Faults:
        """The live fault switches (mutate them or replace them)."""
        return self._injector.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        self._injector.faults = faults

    # ----------------------------------------------------------------- control

    def set_faults(self, **switches: Any) -> Faults:
        """Change fault switches (see ``Faults``); return the new switches."""
        return self._injector.set(**switches)

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` API requests with ``status``."""
        self._injector.fail_next(count, status)

    def drop_next(self, count: int) -> None:
        """Reset the connection of the next ``count`` API requests."""
        self._injector.drop_next(count)

    def fail_after_write_next(self, count: int, status: int = 502) -> None:
        """Apply the next ``count`` writes (POST/DELETE), then answer each with ``status``
        instead of its result; a retry with the same ``Idempotency-Key`` replays the
        saved result instead of writing again."""
        self._injector.fail_after_write_next(count, status)

    @property
    def write_rules(self) -> WriteRules:
        """Switchable rejections of updates (see ``write_rules.py``)."""
        return self._api.write_rules

    def advance(self, seconds: float) -> None:
        """Move the sandbox's ``SandboxClock`` forward.

        Raises:
            TypeError: If the sandbox was not given a ``SandboxClock``.
        """
        if not isinstance(self._clock, SandboxClock):
            raise TypeError("advance() needs StripeSandbox(now=SandboxClock(...))")
        self._clock.advance(seconds)

    def _limit_for(self, api_key: str) -> int | None:
        if self._rate_limit is not None:
            return self._rate_limit or None
        return LIVE_MODE_RATE_LIMIT if is_live_key(api_key) else TEST_MODE_RATE_LIMIT

    def _interruptible_sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def __repr__(self) -> str:
        state = self.base_url if self._server else "stopped"
        return f"StripeSandbox(seed={self.seed}, volume={self.volume}, {state})"
