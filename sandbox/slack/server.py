"""The HTTP server (standard library, threaded, keep-alive) and ``SlackSandbox``."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from typing import Optional

import requests

from sandbox.background import BackgroundServer
from sandbox.loopback import LoopbackServer, Request

from .api import Reply, WebApi
from .auth import DEFAULT_SCOPES, Auth, bot_token
from .clock import Clock, RunningClock
from .events import EventSender
from .faults import Faults
from .ids import ALPHABET
from .methods import Methods
from .ratelimit import RateLimits
from .seed import Record, Volume, seed_workspace
from .stats import Stats
from .store import Store

logger = logging.getLogger("sluice.sandbox.slack")


class SlackSandbox(BackgroundServer):
    """A local Slack workspace: the Web API methods a connector reads, limits, faults, events.

    Example:
        >>> with SlackSandbox(seed=1) as sb:
        ...     ts = sb.post_message(sb.store.channels()[0]["id"], "hello")
    """

    label = "Slack sandbox"

    def __init__(
        self,
        seed: int = 42,
        *,
        marketplace_limits: bool = False,
        minute_s: float = 60.0,
        rate_limits: bool = True,
        clock: Optional[Clock] = None,
        faults: Optional[Faults] = None,
        volume: Optional[Volume] = None,
        per_minute: Optional[Mapping[str, int]] = None,
        scopes: tuple[str, ...] = DEFAULT_SCOPES,
        signing_clock: Optional[Clock] = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """Seeds the workspace (the server starts with ``start``).

        Args:
            seed: Seed of every generated value (ids, texts, threads, token, secrets).
            marketplace_limits: Slack's 2025 limits for non-Marketplace apps on
                conversations.history/replies (1 request a minute, 15 per page).
            minute_s: Clock seconds in a rate-limit minute (tests shrink it).
            rate_limits: False: no tier limits (injected 429s still happen).
            clock: Unix seconds; a running clock that ``advance`` can jump by default.
            faults: Fault switches (new, disarmed ones by default).
            volume: How much is seeded.
            per_minute: Requests a minute by method, overriding the tiers.
            scopes: The bot token's scopes.
            signing_clock: Time of event signatures (the wall clock, as receivers check it).
            host: Interface to listen on.
            port: Port (0: any free port).
        """
        self.host, self.port = host, port
        self.clock: Clock = clock or RunningClock()
        rng = random.Random(f"slack-secrets:{seed}")
        self.bot_token = bot_token(rng)
        self.signing_secret = "".join(rng.choice("0123456789abcdef") for _ in range(32))
        self.verification_token = "".join(rng.choice(ALPHABET) for _ in range(24))
        self.store = Store(seed_workspace(seed, self.clock(), volume or Volume()))
        self.auth = Auth(self.bot_token, scopes)
        self.faults = faults or Faults()
        self.limits = RateLimits(
            self.clock,
            minute_s=minute_s,
            marketplace_limits=marketplace_limits,
            enabled=rate_limits,
            per_minute=per_minute,
        )
        self.methods = Methods(self.store, self.auth, self.limits, self.faults, self.clock)
        self.api = WebApi(self.methods, self.auth, self.limits, self.faults)
        ws = self.store.workspace
        self.events = EventSender(
            signing_secret=self.signing_secret,
            verification_token=self.verification_token,
            team_id=ws.team_id,
            api_app_id=ws.app_id,
            bot_user_id=ws.bot_user_id,
            clock=signing_clock or time.time,
            seed=seed,
        )

    def _answer(self, request: Request) -> Reply:
        """One HTTP request through the Web API emulation."""
        return self.api.handle(request.path, request.query, request.headers, request.body)

    def start(self) -> SlackSandbox:
        """Serves on ``host``:``port`` (a free port of 127.0.0.1 by default) in a thread."""
        if self._server is None:
            server = LoopbackServer((self.host, self.port), self._answer, "slack sandbox")
            self._serve(server, poll_interval=0.02)
        return self

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/api/``: a method is at ``base_url + "conversations.list"``."""
        return super().base_url + "/api/"

    @property
    def team_id(self) -> str:
        """The workspace id."""
        return self.store.workspace.team_id

    @property
    def bot_user_id(self) -> str:
        """The app's bot user."""
        return self.store.workspace.bot_user_id

    @property
    def stats(self) -> Stats:
        """Request counters per method."""
        return self.api.stats

    # Auth switches -----------------------------------------------------------------------

    def revoke_token(self) -> None:
        """Every call answers ``token_revoked`` from now on."""
        self.auth.revoked = True

    def deactivate_account(self) -> None:
        """Every call answers ``account_inactive`` (the bot user or workspace was deactivated)."""
        self.auth.inactive = True

    def remove_scope(self, scope: str) -> None:
        """Takes ``scope`` from the token (``missing_scope`` where a method needs it)."""
        self.auth.remove_scope(scope)

    # Mutations ---------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Moves the clock forward (rate-limit windows, ts of new messages).

        Raises:
            TypeError: The sandbox runs on a clock without ``advance``.
        """
        advance = getattr(self.clock, "advance", None)
        if advance is None:
            raise TypeError("advance() needs a clock with an advance() method")
        advance(seconds)

    def _new_ts(self) -> str:
        # Slack ts are time-based: each mutation moves a movable clock on by a millisecond.
        advance = getattr(self.clock, "advance", None)
        if advance is not None:
            advance(0.001)
        return self.store.next_ts(self.clock())

    def post_message(
        self,
        channel_id: str,
        text: str,
        *,
        thread_ts: Optional[str] = None,
        user: Optional[str] = None,
    ) -> str:
        """Posts a message (a thread reply with ``thread_ts``) as ``user``; returns its ts.

        The default author is the channel's first human member. Emits a ``message`` event
        (https://docs.slack.dev/reference/events/message).
        """
        author = user or self._default_author(channel_id)
        message = self.store.post(channel_id, text, author, self._new_ts(), thread_ts)
        self.events.emit(
            {**message, "channel": channel_id, "event_ts": message["ts"], **self._kind(channel_id)}
        )
        return str(message["ts"])

    def edit_message(self, channel_id: str, ts: str, text: str) -> None:
        """Edits a message (``edited: {user, ts}``); emits ``message_changed``.

        Event shape: https://docs.slack.dev/reference/events/message/message_changed.
        """
        edited_ts = self._new_ts()
        before, after = self.store.edit(channel_id, ts, text, edited_ts)
        self.events.emit(
            {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "channel": channel_id,
                "ts": edited_ts,
                "event_ts": edited_ts,
                "message": after,
                "previous_message": before,
                **self._kind(channel_id),
            }
        )

    def delete_message(self, channel_id: str, ts: str) -> None:
        """Deletes a message (a parent with its thread); emits ``message_deleted``.

        Event shape: https://docs.slack.dev/reference/events/message/message_deleted.
        """
        event_ts = self._new_ts()
        before = self.store.delete(channel_id, ts)
        self.events.emit(
            {
                "type": "message",
                "subtype": "message_deleted",
                "hidden": True,
                "channel": channel_id,
                "ts": event_ts,
                "deleted_ts": ts,
                "event_ts": event_ts,
                "previous_message": before,
                **self._kind(channel_id),
            }
        )

    def delete_channel(self, channel_id: str) -> None:
        """Deletes a channel; emits ``channel_deleted`` (``group_deleted`` for a private one).

        https://docs.slack.dev/reference/events/channel_deleted, .../group_deleted.
        """
        event_ts = self._new_ts()
        channel = self.store.delete_channel(channel_id)
        kind = "group_deleted" if channel["is_private"] else "channel_deleted"
        self.events.emit({"type": kind, "channel": channel_id, "event_ts": event_ts})

    def archive_channel(self, channel_id: str) -> None:
        """Archives a channel; emits ``channel_archive`` (``group_archive`` for a private one).

        https://docs.slack.dev/reference/events/channel_archive, .../group_archive.
        """
        event_ts = self._new_ts()
        channel = self.store.archive_channel(channel_id)
        kind = "group_archive" if channel["is_private"] else "channel_archive"
        self.events.emit(
            {"type": kind, "channel": channel_id, "user": channel["creator"], "event_ts": event_ts}
        )

    # Events API --------------------------------------------------------------------------

    def send_events_to(self, url: str) -> None:
        """From now on, mutations POST signed ``event_callback`` requests to ``url``."""
        self.events.url = url

    def url_verification(self, url: str) -> requests.Response:
        """POSTs a signed ``url_verification`` challenge to ``url``; returns the answer."""
        return self.events.url_verification(url)

    def _default_author(self, channel_id: str) -> str:
        humans = {u["id"] for u in self.store.users() if not u["is_bot"] and not u["deleted"]}
        members = [m for m in self.store.members(channel_id) if m in humans and m != "USLACKBOT"]
        return members[0] if members else self.bot_user_id

    def _kind(self, channel_id: str) -> dict[str, str]:
        channel: Optional[Record] = self.store.channel(channel_id)
        private = bool(channel and channel["is_private"])
        return {"channel_type": "group" if private else "channel"}
