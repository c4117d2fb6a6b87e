"""The Web API methods the sandbox serves, as functions of their arguments (no HTTP).

Each returns the ``ok: true`` body or raises :class:`MethodError`, which the API turns
into Slack's ``{"ok": false, "error": ...}``. Listing rules come from the method pages
(https://docs.slack.dev/reference/methods/<method>) and the pagination guide
(https://docs.slack.dev/apis/web-api/pagination): ``next_cursor`` is ``""`` on the last
page, "Fewer than the requested number of items may be returned".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional

from .auth import HISTORY_SCOPE, READ_SCOPE, Auth
from .faults import Faults
from .ids import decode_cursor, encode_cursor, ts_key
from .ratelimit import RateLimits
from .seed import Record
from .store import Store

Params = Mapping[str, str]
CHANNEL_TYPES = ("public_channel", "private_channel", "mpim", "im")


class MethodError(Exception):
    """An ``ok: false`` answer: its ``error`` code and extra fields (``needed``, ...)."""

    def __init__(self, error: str, **extra: str) -> None:
        """Keeps the code and fields."""
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Methods:
    """The served methods over one store, token, limiter and fault set."""

    store: Store
    auth: Auth
    limits: RateLimits
    faults: Faults
    clock: Callable[[], float]
    table: dict[str, Callable[[Params], dict[str, Any]]] = field(init=False)

    def __post_init__(self) -> None:
        self.table = {
            "auth.test": self.auth_test,
            "conversations.list": self.conversations_list,
            "users.list": self.users_list,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
            "conversations.members": self.conversations_members,
        }

    def call(self, method: str, params: Params) -> dict[str, Any]:
        """Runs ``method``; ``unknown_method`` when it is not served."""
        handler = self.table.get(method)
        if handler is None:
            raise MethodError("unknown_method")
        return handler(params)

    # Methods -----------------------------------------------------------------------------

    def auth_test(self, params: Params) -> dict[str, Any]:
        """https://docs.slack.dev/reference/methods/auth.test (bot token answer)."""
        ws = self.store.workspace
        return {
            "ok": True,
            "url": f"https://{ws.domain}.slack.com/",
            "team": ws.team_name,
            "user": "sluicebot",
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "is_enterprise_install": False,
        }

    def conversations_list(self, params: Params) -> dict[str, Any]:
        """``types`` (default ``public_channel``), ``exclude_archived``, ``limit``, ``cursor``."""
        types = [t.strip() for t in params.get("types", "public_channel").split(",") if t.strip()]
        if not types or any(t not in CHANNEL_TYPES for t in types):
            raise MethodError("invalid_types")
        for kind in types:
            self.require_scope(READ_SCOPE[kind])
        channels = [c for c in self.store.channels() if channel_type(c) in types]
        page, cursor = by_id(channels, params, "team", 100, 1000)
        # exclude_archived filters the page after ``limit`` filled it, so pages come back
        # short, even empty with a cursor (hyperlocalise/hyperlocalise#1921: "Slack applies
        # that filter after filling a virtual page of limit, which can return short pages").
        if flag(params.get("exclude_archived")):
            page = [c for c in page if not c["is_archived"]]
        return {
            "ok": True,
            "channels": self.spoil(page, "conversations.list", "id"),
            **meta(cursor),
        }

    def users_list(self, params: Params) -> dict[str, Any]:
        """``limit`` (0 or absent: up to 1000, as "as many as possible") and ``cursor``.

        ``profile.email`` needs ``users:read.email`` (https://docs.slack.dev/reference/methods/users.list).
        """
        self.require_scope("users:read")
        users = self.store.users()
        if "users:read.email" not in self.auth.scopes:
            for user in users:
                user["profile"].pop("email", None)
        page, cursor = by_id(users, params, "user", 1000, 1000)
        return {
            "ok": True,
            "members": self.spoil(page, "users.list", "id"),
            "cache_ts": int(self.clock()),
            **meta(cursor),
        }

    def conversations_members(self, params: Params) -> dict[str, Any]:
        """Member ids of a channel the bot can see (it need not be a member of a public one)."""
        channel = self.visible_channel(params)
        self.require_scope(READ_SCOPE[channel_type(channel)])
        ids = [{"id": m} for m in sorted(self.store.members(channel["id"]))]
        page, cursor = by_id(ids, params, "user", 100, 1000)
        return {"ok": True, "members": [m["id"] for m in page], **meta(cursor)}

    def conversations_history(self, params: Params) -> dict[str, Any]:
        """Top-level messages, newest first, between ``oldest`` and ``latest``.

        "If a message has the same timestamp as oldest or latest it will not be included
        in the list", unless ``inclusive`` (https://docs.slack.dev/reference/methods/conversations.history,
        "Pagination by time"); ``limit`` defaults to 100 and stays under 1000.
        """
        channel = self.readable_channel(params)
        window = TimeWindow.of(params)
        messages = [
            m for m in reversed(self.store.messages(channel["id"])) if window.contains(m["ts"])
        ]
        limit = self.page_size(params, "conversations.history", 100, 999)
        start = ts_cursor(params)
        if start is not None:
            messages = [m for m in messages if ts_key(m["ts"]) <= start]
        page, rest = messages[:limit], messages[limit:]
        cursor = encode_cursor("next_ts", rest[0]["ts"].replace(".", "")) if rest else ""
        return {
            "ok": True,
            "messages": self.spoil(page, "conversations.history", "ts"),
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            **meta(cursor),
        }

    def conversations_replies(self, params: Params) -> dict[str, Any]:
        """A thread, oldest first: the parent on the first page, then the replies in the window.

        Continuation pages omit the parent (simstudioai/sim#4934 review: "continuation pages
        omit the thread parent"); ``thread_not_found`` for a ts that is no message.
        """
        channel = self.readable_channel(params)
        thread_ts = params.get("ts", "")
        parent = self.store.message(channel["id"], thread_ts) if thread_ts else None
        if parent is None or parent.get("thread_ts", parent["ts"]) != parent["ts"]:
            raise MethodError("thread_not_found")
        window = TimeWindow.of(params)
        replies = [
            r for r in self.store.replies(channel["id"], thread_ts) if window.contains(r["ts"])
        ]
        limit = self.page_size(params, "conversations.replies", 1000, 1000)
        start = ts_cursor(params)
        items = (
            [parent, *replies]
            if start is None
            else [r for r in replies if ts_key(r["ts"]) >= start]
        )
        page, rest = items[:limit], items[limit:]
        cursor = encode_cursor("next_ts", rest[0]["ts"].replace(".", "")) if rest else ""
        return {
            "ok": True,
            "messages": self.spoil(page, "conversations.replies", "ts"),
            "has_more": bool(rest),
            **meta(cursor),
        }

    # Checks ------------------------------------------------------------------------------

    def require_scope(self, scope: str) -> None:
        """``missing_scope`` with ``needed``/``provided`` unless the token has ``scope``."""
        missing = self.auth.missing(scope)
        if missing is not None:
            raise MethodError("missing_scope", **missing)

    def visible_channel(self, params: Params) -> Record:
        """The ``channel`` argument's channel; ``channel_not_found`` when the bot cannot see it.

        A private channel the bot is not in is invisible to it, as if it did not exist.
        """
        channel_id = params.get("channel", "")
        channel = self.store.channel(channel_id) if channel_id else None
        if channel is None or (
            channel["is_private"] and not self.store.is_member(channel_id, self.bot)
        ):
            raise MethodError("channel_not_found")
        return channel

    def readable_channel(self, params: Params) -> Record:
        """A channel whose messages the bot may read: scope first, then ``not_in_channel``.

        Bot tokens read "Any conversation the relevant bot is a member of"
        (https://docs.slack.dev/reference/methods/conversations.history, "Usage info").
        """
        channel = self.visible_channel(params)
        self.require_scope(HISTORY_SCOPE[channel_type(channel)])
        if not self.store.is_member(channel["id"], self.bot):
            raise MethodError("not_in_channel")
        return channel

    @property
    def bot(self) -> str:
        """The app's bot user id."""
        return self.store.workspace.bot_user_id

    def page_size(self, params: Params, method: str, default: int, maximum: int) -> int:
        """``limit``: the default when absent or 0, capped (Marketplace regime: 15)."""
        return min(self.limits.max_page(method, maximum), parse_limit(params) or default)

    def spoil(self, records: list[Record], method: str, key: str) -> list[Record]:
        """Removes ``key`` from records the malformed-record fault picks."""
        for record in records:
            if self.faults.take_malformed(method):
                record.pop(key, None)
        return records


@dataclass(frozen=True)
class TimeWindow:
    """``oldest``/``latest``/``inclusive`` of history and replies."""

    oldest: Decimal
    latest: Optional[Decimal]
    inclusive: bool

    @classmethod
    def of(cls, params: Params) -> TimeWindow:
        """Parses the arguments (``oldest`` defaults to 0, ``latest`` to now)."""
        try:
            oldest = ts_key(params.get("oldest") or "0")
        except ValueError as exc:
            raise MethodError("invalid_ts_oldest") from exc
        try:
            latest = ts_key(params["latest"]) if params.get("latest") else None
        except ValueError as exc:
            raise MethodError("invalid_ts_latest") from exc
        return cls(oldest, latest, flag(params.get("inclusive")))

    def contains(self, ts: str) -> bool:
        """Whether a message at ``ts`` is inside the window."""
        value = ts_key(ts)
        if self.inclusive:
            return value >= self.oldest and (self.latest is None or value <= self.latest)
        return value > self.oldest and (self.latest is None or value < self.latest)


def parse_limit(params: Params) -> int:
    """The ``limit`` argument (0 when absent); ``invalid_limit`` when not a count."""
    raw = params.get("limit", "")
    try:
        limit = int(raw) if raw else 0
    except ValueError as exc:
        raise MethodError("invalid_limit") from exc
    if limit < 0:
        raise MethodError("invalid_limit")
    return limit


def flag(value: Optional[str]) -> bool:
    """A boolean argument: ``true``/``1`` (Slack's forms) are true."""
    return (value or "").strip().lower() in ("1", "true")


def channel_type(channel: Record) -> str:
    """``public_channel`` or ``private_channel``."""
    return "private_channel" if channel["is_private"] else "public_channel"


def meta(cursor: str) -> dict[str, Any]:
    """``response_metadata`` with ``next_cursor`` (``""`` on the last page)."""
    return {"response_metadata": {"next_cursor": cursor}}


def ts_cursor(params: Params) -> Optional[Decimal]:
    """The ts a ``next_ts:<digits>`` cursor points at; ``invalid_cursor`` when foreign."""
    raw = params.get("cursor", "")
    if not raw:
        return None
    digits = decode_cursor(raw, "next_ts")
    if digits is None or not digits.isdigit() or len(digits) <= 6:
        raise MethodError("invalid_cursor")
    return ts_key(f"{digits[:-6]}.{digits[-6:]}")


def by_id(
    records: list[Record], params: Params, kind: str, default: int, maximum: int
) -> tuple[list[Record], str]:
    """One page of records in id order from an id cursor, and the next cursor."""
    limit = min(maximum, parse_limit(params) or default)
    ordered = sorted(records, key=lambda r: str(r["id"]))
    cursor = params.get("cursor", "")
    if cursor:
        start = decode_cursor(cursor, kind)
        if start is None:
            raise MethodError("invalid_cursor")
        ordered = [r for r in ordered if str(r["id"]) >= start]
    page, rest = ordered[:limit], ordered[limit:]
    return page, encode_cursor(kind, str(rest[0]["id"])) if rest else ""
