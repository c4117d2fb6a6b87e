"""Thread replies from conversations.replies, for the parents the messages resource reads.

The messages resource hands every thread parent it reads to a :class:`ThreadFeed`; the
replies resource fetches a thread when it is new or its ``latest_reply`` is newer than
the newest reply read (kept per thread while the parent is inside the lookback window),
asking only for the replies after that one. Threads not fetched when the run stops early
(rate limit, time budget) are saved as ``pending`` and fetched first next run, a thread
cut mid-way with its cursor.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

from sources.kit.deadletters import RecordGuard
from sources.kit.emit import emit_page
from sources.kit.errors import RateLimitedError

from .errors import SlackAccessError
from .rows import message_row, newer, ts_value
from .run import SlackRun
from .settings import REPLIES

logger = logging.getLogger("sluice.slack")

RESOURCE = "replies"
POLL_S = 0.05
KEEP_MARGIN_S = 86400.0
"""Threads are remembered this long past the lookback window."""
_END = object()


@dataclass
class ThreadFeed:
    """Thread parents passed from the messages resource to the replies resource."""

    enabled: bool = True
    """False when the run loads no replies: parents are then not kept."""
    _queue: queue.Queue[Any] = field(default_factory=queue.Queue)
    closed: bool = False

    def put_rows(self, rows: list[Any]) -> None:
        """Hands over the thread parents among one page's message rows."""
        if not self.enabled:
            return
        for row in rows:
            if not isinstance(row, dict) or not row.get("reply_count"):
                continue
            if row.get("thread_ts", row.get("ts")) == row.get("ts"):
                self._queue.put((row["channel_id"], row["ts"], row.get("latest_reply")))

    def close(self) -> None:
        """No more parents this run (called when the messages resource ends, however)."""
        self._queue.put(_END)

    def parents(self) -> Iterator[tuple[str, str, Optional[str]]]:
        """``(channel_id, thread_ts, latest_reply)`` until the feed is closed."""
        while not self.closed:
            try:
                item = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if item is _END:
                self.closed = True
                return
            yield item


def wanted(channels: dict[str, Any], parent: tuple[str, str, Optional[str]]) -> bool:
    """Whether a thread has replies not read yet: new, or its latest reply is newer."""
    channel_id, thread_ts, latest = parent
    read = (channels.get(channel_id) or {}).get("threads", {}).get(thread_ts)
    return read is None or latest is None or ts_value(latest) > ts_value(read)


def prune(channels: dict[str, Any], before: float) -> None:
    """Forgets threads whose parent is older than ``before``: no incremental pass re-reads
    them (a backfill reaching them reads them as new)."""
    for channel_state in channels.values():
        threads = channel_state.get("threads", {})
        for thread_ts in [t for t in threads if float(ts_value(t)) < before]:
            del threads[thread_ts]


def thread_rows(
    run: SlackRun,
    guard: RecordGuard,
    channel_id: str,
    thread: dict[str, Any],
    channel_state: dict[str, Any],
) -> Iterator[Any]:
    """One thread's replies (the parent, which Slack returns first, left out)."""
    thread_ts = thread["ts"]
    params: dict[str, Any] = {"channel": channel_id, "ts": thread_ts}
    if thread.get("oldest"):
        params["oldest"] = thread["oldest"]
    run.budget.check(RESOURCE)
    pages = run.client.pages(
        REPLIES, "messages", params, label=RESOURCE, cursor=thread.get("cursor")
    )
    for page in pages:
        replies = [m for m in page.items if m.get("ts") != thread_ts]
        rows = [message_row(channel_id, m) for m in replies]
        threads = channel_state.setdefault("threads", {})
        for reply in replies:
            threads[thread_ts] = newer(threads.get(thread_ts), reply["ts"])
        thread["cursor"] = page.next_cursor
        yield from emit_page(guard, rows, run.monitor, RESOURCE)
        if page.next_cursor:
            run.budget.check(RESOURCE)


def reply_rows(
    run: SlackRun, guard: RecordGuard, feed: ThreadFeed, state: dict[str, Any]
) -> Iterator[Any]:
    """Pending threads first, then every wanted thread of this run's parents."""
    pending: list[dict[str, Any]] = state.setdefault("pending", [])
    channels: dict[str, Any] = state.setdefault("channels", {})
    stopped: Optional[RateLimitedError] = None
    for parent in feed.parents():
        if wanted(channels, parent):
            channel_id, thread_ts, _ = parent
            # Only the replies after the newest one read (the parent comes first anyway).
            oldest = (channels.get(channel_id) or {}).get("threads", {}).get(thread_ts)
            pending.append({"channel": channel_id, "ts": thread_ts, "oldest": oldest})
        if stopped is None:
            stopped = yield from drain(run, guard, pending, channels)
    if stopped is None:
        stopped = yield from drain(run, guard, pending, channels)
    if stopped is not None:
        logger.warning(
            "slack replies: stopped early, %d thread(s) saved for the next run: %s",
            len(pending),
            stopped,
            extra={"resource": RESOURCE},
        )
        run.stopped(RESOURCE, stopped)
    prune(channels, run.now - run.lookback_s - KEEP_MARGIN_S)
    run.monitor.cursor(RESOURCE, after=len(pending) or None)


def drain(
    run: SlackRun, guard: RecordGuard, pending: list[dict[str, Any]], channels: dict[str, Any]
) -> Generator[Any, None, Optional[RateLimitedError]]:
    """Fetches pending threads in order; returns the stop that ended it early, if any."""
    while pending:
        thread = pending[0]
        channel_state = channels.setdefault(thread["channel"], {})
        try:
            yield from thread_rows(run, guard, thread["channel"], thread, channel_state)
        except RateLimitedError as exc:
            return exc
        except SlackAccessError as exc:
            logger.warning(
                "slack replies: skipped thread %s in %s: %s", thread["ts"], thread["channel"], exc
            )
        pending.pop(0)
    return None
