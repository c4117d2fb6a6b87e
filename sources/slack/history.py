"""Messages per channel from conversations.history, checkpointed page by page.

Each channel keeps in the resource state ``{"oldest": <ts>, "pass": {...}}``: ``oldest``
is the high-water mark of the last complete read; ``pass`` an unfinished one (its
arguments, the cursor of its next page, the oldest ts read and the newest seen), so a
resumed run asks for the next page and reads no page twice. History pages run newest
first (https://api.slack.com/methods/conversations.history), so only a complete pass
moves ``oldest``. Incremental passes start ``lookback_s`` behind it for edits and for
thread parents whose ``latest_reply`` moved.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Optional

from sources.kit.deadletters import RecordGuard
from sources.kit.emit import emit_page
from sources.kit.errors import RateLimitedError

from .budget import estimate_calls, log_eta
from .errors import InvalidCursorError, SlackAccessError
from .rows import message_row, minus_seconds, newer, ts_value
from .run import Skips, SlackRun
from .settings import HISTORY

logger = logging.getLogger("sluice.slack")

RESOURCE = "messages"


def pass_arguments(channel_state: dict[str, Any], run: SlackRun) -> dict[str, Any]:
    """The arguments of a new pass: from ``oldest - lookback``, or the first-sync bound."""
    oldest = channel_state.get("oldest")
    bound = minus_seconds(oldest, run.lookback_s) if oldest else run.first_oldest
    return {"oldest": bound} if bound else {}


def history_pages(
    run: SlackRun, channel_id: str, current: dict[str, Any]
) -> Iterator[list[dict[str, Any]]]:
    """The pages of one pass, resuming its saved cursor; ``current`` is updated per page.

    A cursor Slack no longer accepts is replaced by ``latest`` = the oldest ts read (a
    page boundary too: still no message read twice).
    """
    params = {"channel": channel_id, **current["args"]}
    cursor = current.get("cursor")
    if current.get("position") and not cursor:
        params["latest"] = current["position"]
    try:
        yield from pages_of(run, params, current, cursor)
    except InvalidCursorError:
        logger.warning("slack messages %s: saved cursor refused; going on from ts", channel_id)
        params["latest"] = current["position"]
        current["cursor"] = None
        yield from pages_of(run, params, current, None)


def pages_of(
    run: SlackRun, params: dict[str, Any], current: dict[str, Any], cursor: Optional[str]
) -> Iterator[list[dict[str, Any]]]:
    """Reads pages, checking the time budget before each request."""
    run.budget.check(RESOURCE)
    for page in run.client.pages(HISTORY, "messages", params, label=RESOURCE, cursor=cursor):
        items = page.items
        if items:
            current["high"] = newer(
                current.get("high"), max((m["ts"] for m in items), key=ts_value)
            )
            current["position"] = min((m["ts"] for m in items), key=ts_value)
        current["cursor"] = page.next_cursor
        current["pages"] = current.get("pages", 0) + 1
        yield items
        if page.next_cursor:
            run.budget.check(RESOURCE)


def channel_messages(
    run: SlackRun, guard: RecordGuard, channel: dict[str, Any], state: dict[str, Any]
) -> Iterator[Any]:
    """One channel's pass: its pages through the guard, then its checkpoint closed."""
    channel_id = str(channel["id"])
    channel_state = state.setdefault(channel_id, {})
    current = channel_state.get("pass")
    if current is None:
        current = channel_state["pass"] = {"args": pass_arguments(channel_state, run)}
    before = channel_state.get("oldest")
    for items in history_pages(run, channel_id, current):
        rows = [message_row(channel_id, m) for m in items]
        updated = sum(1 for m in items if before and ts_value(m["ts"]) <= ts_value(before))
        yield from emit_page(guard, rows, run.monitor, RESOURCE, updated=updated)
    # The pass is complete: its newest ts is the high-water mark.
    channel_state["oldest"] = newer(before, current.get("high"))
    del channel_state["pass"]


def message_rows(run: SlackRun, guard: RecordGuard, state: dict[str, Any]) -> Iterator[Any]:
    """Every readable channel's new messages; a rate-limit or time-budget stop ends the
    resource with what was read kept and each channel's checkpoint saved."""
    channels = sorted(run.readable(run.channels(), RESOURCE), key=lambda c: urgency(c, state))
    skips = Skips(RESOURCE)
    done = pages = 0
    try:
        for index, channel in enumerate(channels):
            try:
                yield from channel_messages(run, guard, channel, state)
            except SlackAccessError as exc:
                state.get(str(channel["id"]), {}).pop("pass", None)
                skips.add(channel, exc)
            done += 1
            pages = run.monitor.counters(RESOURCE).pages
            log_eta(RESOURCE, HISTORY, run.budget, done, pages, len(channels) - index - 1)
    except RateLimitedError as exc:
        left = len(channels) - done
        pages = run.monitor.counters(RESOURCE).pages
        eta = run.budget.eta_s(HISTORY, estimate_calls(max(1, done), pages, left))
        logger.warning(
            "slack messages: stopped early with %d channel(s) unfinished (estimated %.0f s "
            "of work left); what was read is kept and each channel's position saved: %s",
            left,
            eta,
            exc,
            extra={"resource": RESOURCE, "eta_s": round(eta, 1)},
        )
        run.stopped(RESOURCE, exc)
    skips.report(run)
    run.monitor.cursor(RESOURCE, after=max_oldest(state))


def urgency(channel: dict[str, Any], state: dict[str, Any]) -> int:
    """Unfinished backfills first, then channels never read, then the caught-up ones: under
    a budget of one request a minute the backfill gets it, not a poll of a quiet channel."""
    channel_state = state.get(str(channel["id"])) or {}
    if "pass" in channel_state and channel_state.get("oldest") is None:
        return 0
    return 1 if channel_state.get("oldest") is None else 2


def max_oldest(state: dict[str, Any]) -> Optional[str]:
    """The newest high-water mark over the channels (the ledger's cursor)."""
    marks = [s.get("oldest") for s in state.values() if isinstance(s, dict) and s.get("oldest")]
    return max(marks, key=ts_value) if marks else None
