"""The HTTP server (standard library, threaded, keep-alive) and ``GmailSandbox``."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Optional

from sandbox.background import BackgroundServer
from sandbox.clock import ManualClock, RunningClock
from sandbox.loopback import LoopbackServer, Request

from .api import GmailApi, Stats
from .batch import BatchEndpoint
from .errors import Reply
from .faults import Faults
from .mime import Content
from .quota import QuotaMeter
from .seed import Volume, seed_mailbox
from .store import WEEK_S, Mailbox, StoredMessage
from .tokens import TokenEndpoint

logger = logging.getLogger("sluice.sandbox.gmail")

CLIENT_ID = "sandbox-client.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-sandbox-secret"
EMAIL = "sandbox.user@gmail.example"


class GmailSandbox(BackgroundServer):
    """A local Gmail API v1 mailbox with Google's OAuth token endpoint.

    Example:
        >>> with GmailSandbox(seed=1) as sb:
        ...     new_id = sb.add_message(subject="Hello")
    """

    label = "Gmail sandbox"

    def __init__(
        self,
        seed: int = 42,
        *,
        clock: Optional[Callable[[], float]] = None,
        faults: Optional[Faults] = None,
        token_ttl_s: float = 3600.0,
        quota_units_per_s: Optional[int] = 250,
        quota_status: int = 429,
        history_retention: float = WEEK_S,
        volume: Optional[Volume] = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Seeds the mailbox (the server starts with ``start``).

        Args:
            seed: Seed of every generated value.
            clock: Unix seconds; by default a ``RunningClock`` (real time that ``advance``
                jumps forward), so the quota window moves while a client waits.
            faults: Fault switches (new ones by default).
            token_ttl_s: Seconds an access token lives.
            quota_units_per_s: Quota units per user per second (None: unmetered).
            quota_status: How the per-user limit answers: 429 or 403.
            history_retention: Seconds a history record is kept (a week, as Gmail's docs say).
            volume: Size of the seeded mailbox.
            host: Interface to listen on.
            port: Port (0: any free port).
        """
        self.host, self.port = host, port
        self.clock: Callable[[], float] = clock or RunningClock()
        self.email = EMAIL
        self.client_id, self.client_secret = CLIENT_ID, CLIENT_SECRET
        self._rng = random.Random(f"{seed}:changes")
        self.store = Mailbox(EMAIL, self.clock, random.Random(f"{seed}:history"), history_retention)
        seed_mailbox(self.store, seed, self.clock(), volume or Volume())
        refresh = (
            "1//sandbox-" + random.Random(f"{seed}:grant").getrandbits(96).to_bytes(12, "big").hex()
        )
        self.tokens = TokenEndpoint(
            CLIENT_ID,
            CLIENT_SECRET,
            refresh,
            token_ttl_s,
            self.clock,
            random.Random(f"{seed}:tokens"),
        )
        self.faults = faults or Faults()
        self.quota = QuotaMeter(quota_units_per_s, self.clock, quota_status)
        self.api = GmailApi(self.store, self.tokens, self.faults, self.quota, self.clock)
        batch = BatchEndpoint(self.api.handle, random.Random(f"{seed}:batch"))
        self.api.batch_handler = batch.handle

    def _answer(self, request: Request) -> Reply:
        """One HTTP request: the connection faults first, then the API emulation."""
        if self.faults.take_drop():
            return Reply(0, drop=True)
        stall = self.faults.take_stall()
        if stall > 0:
            time.sleep(stall)  # a stalled backend: the client's read timeout is under test
        return self.api.handle(
            request.method, request.path, request.query, request.headers, request.body
        )

    def start(self) -> GmailSandbox:
        """Serves on ``host``:``port`` (a free port of 127.0.0.1 by default) in a thread."""
        if self._server is None:
            server = LoopbackServer((self.host, self.port), self._answer, "gmail sandbox")
            self._serve(server, poll_interval=0.02)
        return self

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/``, Gmail's ``rootUrl`` equivalent (trailing slash)."""
        return super().base_url + "/"

    @property
    def token_url(self) -> str:
        """The token endpoint (``https://oauth2.googleapis.com/token`` equivalent)."""
        return self.base_url + "token"

    @property
    def batch_url(self) -> str:
        """The batch endpoint."""
        return self.base_url + "batch/gmail/v1"

    @property
    def refresh_token(self) -> str:
        """A live refresh token of the sandbox user."""
        return self.tokens.refresh_token

    @property
    def stats(self) -> Stats:
        """Requests per method and quota units spent."""
        return self.api.stats

    # -- changes (each makes history records, as Gmail does) -----------------------------

    def add_message(
        self,
        *,
        thread_id: Optional[str] = None,
        label_ids: Sequence[str] = ("INBOX", "UNREAD"),
        subject: str = "New message",
        sender: str = "Ana Souza <ana.souza@example.com>",
        to: Optional[str] = None,
        body: str = "Hello from the sandbox.",
    ) -> str:
        """Delivers a message now (a reply when ``thread_id`` is given); returns its id."""
        now_ms = int(self.clock() * 1000)
        message_id = self.store.new_id(now_ms)
        if thread_id is not None and not self.store.thread_messages(thread_id):
            raise KeyError(f"no thread {thread_id}")
        content = Content(
            subject=subject,
            sender=sender,
            to=to or f"Sandbox User <{self.email}>",
            text=body,
            html=f"<div>{body}</div>",
            message_id=f"<{message_id}@mail.example>",
        )
        message = StoredMessage(
            message_id, thread_id or message_id, list(label_ids), now_ms, 0, content
        )
        self.store.insert(message)
        return message_id

    def delete_message(self, message_id: str) -> None:
        """Deletes a message for good (``messagesDeleted``)."""
        self.store.delete(message_id)

    def modify_labels(
        self, message_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        """Adds and removes labels (``labelsAdded`` / ``labelsRemoved``)."""
        self.store.modify(message_id, add, remove)

    def create_label(self, name: str) -> str:
        """Creates a user label; returns its id."""
        return self.store.create_label(name)

    def expire_history(self, before_history_id: Optional[int] = None) -> None:
        """Drops history up to ``before_history_id`` (all when None): older starts get 404."""
        self.store.expire_history(before_history_id)

    # -- auth and time ---------------------------------------------------------------------

    def expire_access_tokens(self) -> None:
        """Every issued access token now answers 401."""
        self.tokens.expire_access_tokens()

    def revoke_grant(self) -> None:
        """The refresh grant now answers 400 ``invalid_grant``."""
        self.tokens.revoke_grant()

    def rotate_refresh_tokens(self, on: bool) -> None:
        """Token answers carry a new ``refresh_token`` (the old one stops working)."""
        self.tokens.rotate = on

    def advance(self, seconds: float) -> None:
        """Moves the sandbox's clock forward (its default ``RunningClock`` or a ``ManualClock``)."""
        if not isinstance(self.clock, (ManualClock, RunningClock)):
            raise TypeError("advance() needs a ManualClock or RunningClock")
        self.clock.advance(seconds)

    def now_iso(self) -> str:
        """The sandbox time, ISO 8601 UTC (for logs)."""
        return datetime.fromtimestamp(self.clock(), tz=timezone.utc).isoformat()
