"""A cost-metered leaky bucket fed by the server's own figures.

GraphQL APIs meter points, not requests: each answer says what the query cost and what
is left. :class:`CostLimiter` waits before a request until the bucket holds the query's
requested cost, and after the answer takes the server's figures as the truth (which
already include the refund of requested minus actual cost). It never assumes a plan:
capacity and restore rate are learnt from the answers; until the first one it lets a
single request through at a time so the first page (kept small by the caller) teaches it.

Readers turn one provider's payload into a :class:`CostReport`: Shopify's
``extensions.cost`` lives in the connector; GitHub's ``rateLimit`` (a window budget,
not a leaky bucket) is :func:`github_rate_limit_reader` here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

logger = logging.getLogger("sluice.graphql")

MIN_WAIT_S = 0.001


@dataclass(frozen=True)
class CostReport:
    """What one answer says about the cost budget (None: not said).

    Attributes:
        requested: Points the server reserved for the query before running it.
        actual: Points the query really cost (None when it did not run).
        maximum: Bucket capacity.
        available: Points left after this query (refund included).
        restore_rate: Points restored per second (leaky bucket).
        reset_at: Epoch seconds when a window budget is full again (GitHub).
    """

    requested: Optional[float] = None
    actual: Optional[float] = None
    maximum: Optional[float] = None
    available: Optional[float] = None
    restore_rate: Optional[float] = None
    reset_at: Optional[float] = None


CostReader = Callable[[Mapping[str, Any]], Optional[CostReport]]
"""Reads the cost figures of one decoded GraphQL answer (None when it has none)."""


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def github_rate_limit_reader(payload: Mapping[str, Any]) -> Optional[CostReport]:
    """GitHub's ``rateLimit { limit cost remaining resetAt }`` selected in the query.

    GitHub meters points per hour in a window that resets at ``resetAt``
    (https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api);
    its cost is known only after the query ran, so requested and actual are the same.
    """
    data = payload.get("data")
    info = data.get("rateLimit") if isinstance(data, Mapping) else None
    if not isinstance(info, Mapping):
        return None
    reset = info.get("resetAt")
    reset_at = None
    if isinstance(reset, str):
        reset_at = datetime.fromisoformat(reset.replace("Z", "+00:00")).timestamp()
    cost = _number(info.get("cost"))
    return CostReport(
        requested=cost,
        actual=cost,
        maximum=_number(info.get("limit")),
        available=_number(info.get("remaining")),
        reset_at=reset_at,
    )


@dataclass(frozen=True)
class Reservation:
    """Points set aside for one request, and the order it was sent in.

    Attributes:
        points: The points reserved (the query's requested cost, as we estimated it).
        ticket: Send order: answers can come back out of order, and an older answer's
            ``currentlyAvailable`` does not know of the newer requests already charged.
    """

    points: float
    ticket: int


class CostLimiter:
    """Leaky bucket of points, learnt from the server (thread-safe, shared by a run).

    Args:
        clock: Monotonic seconds (injected in tests).
        sleep: Sleep function (injected in tests).
        wall_clock: Epoch seconds, for window budgets' ``reset_at``.
        headroom: Share of the capacity a single request may ask for (see
            :meth:`page_budget`): what is left absorbs the drift between our estimate
            of the bucket and the server's.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        headroom: float = 0.5,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self.headroom = headroom
        self.maximum: Optional[float] = None
        self.restore_rate: Optional[float] = None
        self._available = 0.0
        self._at = clock()
        self._reset_at: Optional[float] = None
        self._in_flight = 0.0
        self._tickets = 0
        self._applied_ticket = -1
        self._cond = threading.Condition()
        self.waited_s = 0.0
        self.throttled = 0

    @property
    def learnt(self) -> bool:
        """Whether an answer has told the bucket's capacity yet."""
        return self.maximum is not None

    def available(self) -> float:
        """Points we believe the bucket holds now (restored since the last answer)."""
        with self._cond:
            return self._level(self._clock())

    def page_budget(self, ceiling: Optional[float] = None) -> Optional[float]:
        """The requested cost one request may have: a share of the capacity.

        Args:
            ceiling: The API's own cap on one query (Shopify: 1,000 points).

        Returns:
            Points, or None before the capacity is known.
        """
        if self.maximum is None:
            return None
        budget = self.maximum * self.headroom
        return min(budget, ceiling) if ceiling is not None else budget

    def _level(self, now: float) -> float:
        if self.maximum is None:
            return 0.0
        if self.restore_rate:
            restored = self._available + (now - self._at) * self.restore_rate
            return min(self.maximum, restored) - self._in_flight
        if self._reset_at is not None and self._wall_clock() >= self._reset_at:
            return self.maximum - self._in_flight
        return self._available - self._in_flight

    def _wait_for(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` points are there (0 when they are)."""
        short = cost - self._level(now)
        if short <= 0:
            return 0.0
        if self.restore_rate:
            # at least 1 ms: a tiny wait added to a large clock value may not move it
            return max(MIN_WAIT_S, short / self.restore_rate)
        if self._reset_at is not None:
            return max(0.001, self._reset_at - self._wall_clock())
        return 0.0  # nothing says when points come back: let the server decide

    def acquire(self, cost: Optional[float]) -> Reservation:
        """Waits until the bucket holds ``cost`` points, then reserves them.

        Before the first answer nothing is known: one request goes at a time.

        Args:
            cost: The query's requested cost (our estimate); None when unknown.

        Returns:
            The reservation (pass it to :meth:`observe`).
        """
        with self._cond:
            if self.maximum is None:
                while self._in_flight > 0 and self.maximum is None:
                    self._cond.wait(0.05)
                if self.maximum is None:
                    self._in_flight += 1.0
                    return self._reserve_locked(1.0)
            want = min(float(cost or 0.0), self.maximum or 0.0)
            while True:
                now = self._clock()
                if self._level(now) >= want:
                    self._in_flight += want
                    return self._reserve_locked(want)
                if self._level(now) + self._in_flight >= want:
                    # enough once the requests in flight are answered (their refunds)
                    self._cond.wait(0.05)
                    continue
                self._pause_locked(self._wait_for(want - self._in_flight, now), want)

    def _reserve_locked(self, points: float) -> Reservation:
        self._tickets += 1
        return Reservation(points, self._tickets)

    def _pause_locked(self, wait: float, want: float) -> None:
        """Sleeps ``wait`` seconds with the lock released (others may answer meanwhile)."""
        if wait <= 0:
            return
        self.waited_s += wait
        logger.debug("graphql: waiting %.2fs for %.0f point(s)", wait, want)
        self._cond.release()
        try:
            self._sleep(wait)
        finally:
            self._cond.acquire()

    def observe(self, reservation: Reservation, report: Optional[CostReport]) -> None:
        """Releases a reservation and takes the answer's figures as the bucket's state.

        The server's ``available`` already holds the refund of requested minus actual
        cost; without it the refund is made here from the two costs. An answer to a
        request sent before the one whose figures we hold is stale: its level is not
        taken, its cost is charged instead (at worst twice: pessimistic, never throttled).
        """
        with self._cond:
            now = self._clock()
            self._in_flight = max(0.0, self._in_flight - reservation.points)
            if report is None:
                self._cond.notify_all()
                return
            if report.maximum is not None:
                self.maximum = report.maximum
            if report.restore_rate is not None:
                self.restore_rate = report.restore_rate
            self._reset_at = report.reset_at
            stale = reservation.ticket < self._applied_ticket
            if report.available is not None and not stale:
                self._available = report.available
                self._applied_ticket = reservation.ticket
            else:
                # we reserved the requested cost; the server kept only the actual one
                charged = report.actual if report.actual is not None else reservation.points
                self._available = self._level(now) + self._in_flight - charged
            self._at = now
            self._cond.notify_all()

    def on_throttled(self, report: Optional[CostReport]) -> float:
        """Seconds to wait after a throttled answer: until the bucket holds the cost.

        Args:
            report: The throttled answer's figures (requested cost and what is left).

        Returns:
            The wait the cost model gives (0.001 s at least; 1 s without figures).
        """
        with self._cond:
            self.throttled += 1
            if report is None or report.requested is None:
                return 1.0
            return max(0.001, self._wait_for(report.requested, self._clock()))

    def pause(self, seconds: float) -> None:
        """Sleeps on the limiter's sleep (the wait after a THROTTLED answer)."""
        self.waited_s += seconds
        self._sleep(seconds)

    def snapshot(self) -> dict[str, Any]:
        """What the limiter learnt, for the run summary."""
        with self._cond:
            return {
                "maximum": self.maximum,
                "restore_rate": self.restore_rate,
                "available": round(self._level(self._clock()), 1),
                "waited_s": round(self.waited_s, 3),
                "throttled": self.throttled,
            }
