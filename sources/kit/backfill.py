"""Time-sliced backfill: one resource listed by several workers at once.

A list endpoint that pages newest first with a cursor (Stripe's ``starting_after``) is
sequential: each page waits for the one before it, so latency caps throughput no matter
how high the rate limit is. When the endpoint also filters by creation time
(``created[gte]`` / ``created[lt]``), the time range can be cut into slices that are
paged independently. Slices are cut on demand: whenever a worker is idle, the slice
with the widest unread range is split in two at its midpoint; the old slice keeps its
cursor and the upper half, a new slice takes the lower half. Empty halves cost one
request. A slice is only split once it has answered at least one page and its observed
density (objects per second of range read so far) predicts at least two more full pages
in its unread range, so small resources cost no extra requests. Each object is emitted
exactly once: a page returning objects below its
slice's (possibly raised) lower bound drops them, because the new slice owns them.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import PaginationLoopError

logger = logging.getLogger("sluice.backfill")

Page = list[dict[str, Any]]
FetchPage = Callable[[Mapping[str, Any]], tuple[Page, bool]]
"""Fetches one page for the given query parameters; returns (items, has_more)."""


@dataclass
class SliceParams:
    """How an API names its time filters and cursor."""

    gte_param: str = "created[gte]"
    lt_param: str = "created[lt]"
    cursor_param: str = "starting_after"
    id_field: str = "id"
    time_field: str = "created"


@dataclass
class Slice:
    """A half-open time range ``[gte, lt)`` paged from its newest object down."""

    gte: int
    lt: Optional[int]
    cursor: Optional[str] = None
    lowest_seen: Optional[int] = None
    highest_seen: Optional[int] = None
    fetched: int = 0
    density: Optional[float] = None
    cursors_seen: set[str] = field(default_factory=set)

    def unread_width(self) -> int:
        """Seconds of the range not read yet (unknown upper end counts as unread)."""
        top = self.lowest_seen if self.lowest_seen is not None else self.lt
        return (top - self.gte) if top is not None else 0

    def observe(self, count: int, lowest: Optional[int], highest: Optional[int]) -> None:
        """Records a page: how many objects and the time range they covered."""
        self.fetched += count
        if highest is not None and (self.highest_seen is None or highest > self.highest_seen):
            self.highest_seen = highest
        if lowest is not None:
            self.lowest_seen = lowest
        if self.highest_seen is not None and self.lowest_seen is not None:
            self.density = self.fetched / max(1, self.highest_seen - self.lowest_seen)

    def expected_unread(self) -> float:
        """Objects its observed density predicts in the unread range (0 when unknown)."""
        return (self.density or 0.0) * self.unread_width()


class StreamGovernor:
    """Caps the slices listed at once across every resource of a source.

    Splitting pays a partial page per slice, so it only helps when there are too few
    streams to keep the rate limit busy (the tail of a run, or one large resource).
    With many resources still listing, no slice is split.

    Args:
        max_streams: Slices allowed at once, across all listers sharing this governor.
    """

    def __init__(self, max_streams: int) -> None:
        self.max_streams = max(1, max_streams)
        self._live = 0
        self._lock = threading.Lock()

    @property
    def live(self) -> int:
        """Slices currently listed."""
        return self._live

    def add(self) -> None:
        """Counts a slice that must be listed anyway (a resource's first one)."""
        with self._lock:
            self._live += 1

    def try_add(self) -> bool:
        """Counts a new slice if there is room for one."""
        with self._lock:
            if self._live >= self.max_streams:
                return False
            self._live += 1
            return True

    def done(self) -> None:
        """A slice finished."""
        with self._lock:
            self._live = max(0, self._live - 1)


class _Done:
    """Marks the end of the output queue."""


@dataclass
class _Failure:
    error: BaseException


class TimeSlicedLister:
    """Lists one resource with up to ``workers`` requests in flight.

    Args:
        fetch_page: Does one request (through the resilient session, so rate limits,
            retries and the circuit breaker apply).
        base_params: Filters every request carries (``limit``, ``status``...).
        gte: Lower bound of the whole listing (unix seconds).
        lt: Upper bound, exclusive; ``None`` for "up to now".
        workers: Requests in flight at most.
        min_slice_s: Ranges narrower than this are not split.
        page_size: Objects a full page holds (splits aim at two pages or more per half).
        names: Parameter and field names of the API.
        governor: Shared cap on slices across resources; ``workers`` slices when omitted.
    """

    def __init__(
        self,
        fetch_page: FetchPage,
        *,
        base_params: Optional[Mapping[str, Any]] = None,
        gte: int,
        lt: Optional[int] = None,
        workers: int = 4,
        min_slice_s: int = 60,
        page_size: int = 100,
        names: Optional[SliceParams] = None,
        governor: Optional[StreamGovernor] = None,
    ) -> None:
        self._fetch = fetch_page
        self._base = dict(base_params or {})
        self._names = names or SliceParams()
        self._workers = max(1, workers)
        self._min_slice_s = min_slice_s
        self._page_size = page_size
        self._governor = governor or StreamGovernor(self._workers)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending: list[Slice] = [Slice(gte=gte, lt=lt)]
        self._active: list[Slice] = []
        self._stopped = False
        self.requests = 0
        self.splits = 0

    def pages(self) -> Iterator[Page]:
        """Yields pages as they arrive, in no particular order across slices."""
        out: queue.Queue[Any] = queue.Queue(maxsize=self._workers * 4)
        self._governor.add()
        threads = [
            threading.Thread(target=self._work, args=(out,), daemon=True, name=f"slice-{i}")
            for i in range(self._workers)
        ]
        for thread in threads:
            thread.start()
        finished = 0
        try:
            while finished < len(threads):
                item = out.get()
                if isinstance(item, _Done):
                    finished += 1
                elif isinstance(item, _Failure):
                    raise item.error
                else:
                    yield item
        finally:
            with self._lock:
                self._stopped = True
                self._idle.notify_all()
                unfinished = len(self._pending) + len(self._active)
            _drain(out, threads)
            for _ in range(unfinished):
                self._governor.done()

    def _work(self, out: queue.Queue[Any]) -> None:
        try:
            while (task := self._next_slice()) is not None:
                self._page_once(task, out)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer thread
            with self._lock:
                self._stopped = True
                self._idle.notify_all()
            out.put(_Failure(exc))
        finally:
            out.put(_Done())

    def _next_slice(self) -> Optional[Slice]:
        with self._lock:
            while not self._stopped:
                if self._pending:
                    task = self._pending.pop()
                    self._active.append(task)
                    return task
                if not self._active:
                    return None
                split = self._split_widest()
                if split is not None:
                    self._active.append(split)
                    return split
                self._idle.wait(timeout=0.5)
            return None

    def _split_widest(self) -> Optional[Slice]:
        answered = [task for task in self._active if task.fetched > 0]
        if not answered:
            return None
        widest = max(answered, key=Slice.expected_unread)
        top = widest.lowest_seen if widest.lowest_seen is not None else widest.lt
        worth_it = widest.expected_unread() >= 2 * self._page_size
        if top is None or not worth_it or widest.unread_width() < 2 * self._min_slice_s:
            return None
        if not self._governor.try_add():
            return None
        mid = widest.gte + (top - widest.gte) // 2
        lower = Slice(gte=widest.gte, lt=mid, density=widest.density)
        widest.gte = mid
        self.splits += 1
        logger.debug("split slice at %d: [%d, %d) and [%d, %s)", mid, lower.gte, mid, mid, top)
        return lower

    def _page_once(self, task: Slice, out: queue.Queue[Any]) -> None:
        params = dict(self._base)
        params[self._names.gte_param] = task.gte
        if task.lt is not None:
            params[self._names.lt_param] = task.lt
        if task.cursor is not None:
            params[self._names.cursor_param] = task.cursor
        items, has_more = self._fetch(params)
        times = [_time_of(o, self._names) for o in items]
        with self._lock:
            self.requests += 1
            kept = [o for o, t in zip(items, times, strict=True) if t is None or t >= task.gte]
            more = has_more and len(kept) == len(items) and bool(items)
            if more:
                valid = [t for t in times if t is not None]
                self._advance(task, items)
                task.observe(len(items), min(valid, default=None), max(valid, default=None))
                self._pending.append(task)
            elif not self._stopped:  # once stopped, pages() released every slice
                self._governor.done()
            self._active.remove(task)
            self._idle.notify_all()
        if kept:
            out.put(kept)

    def _advance(self, task: Slice, items: Page) -> None:
        cursor = _last_id(items, self._names.id_field)
        if not cursor or str(cursor) in task.cursors_seen:
            raise PaginationLoopError(
                f"time-sliced listing repeated cursor {cursor!r}: the API returned the "
                "same page twice"
            )
        task.cursors_seen.add(str(cursor))
        task.cursor = str(cursor)


def _last_id(items: Page, id_field: str) -> Optional[str]:
    """The id of the last item that has one (a malformed last item has none)."""
    for item in reversed(items):
        value = item.get(id_field) if isinstance(item, Mapping) else None
        if value:
            return str(value)
    return None


def _time_of(obj: Any, names: SliceParams) -> Optional[int]:
    """The object's creation time, or None when it has no usable one.

    A record without a usable time stays with the slice that fetched it; the record
    guard dead-letters it downstream.
    """
    value = obj.get(names.time_field) if isinstance(obj, Mapping) else None
    if isinstance(value, bool):
        return None
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _drain(out: queue.Queue[Any], threads: list[threading.Thread]) -> None:
    """Unblocks workers stuck on a full queue after the consumer stopped early."""
    while any(t.is_alive() for t in threads):
        try:
            out.get(timeout=0.05)
        except queue.Empty:
            continue
