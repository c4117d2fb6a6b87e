"""Gmail quota units: what each method costs and the per-user budget per second.

Costs from https://developers.google.com/gmail/api/reference/quota ("Per-method quota
usage": getProfile 1, labels.list 1, labels.get 1, messages.list 5, messages.get 5,
messages.attachments.get 5, history.list 2, threads.list 10, threads.get 10). The per-user
limit was "250 quota units per user per second, moving average (allows short bursts)";
the page now says "15,000 quota units per user per minute" (reason
``userRateLimitExceeded``), the same rate. A batch of n requests "counts toward your usage
limit as n requests" (guides/batch), so each inner request is charged on its own.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

COSTS = {
    "getProfile": 1,
    "labels.list": 1,
    "labels.get": 1,
    "messages.list": 5,
    "messages.get": 5,
    "messages.attachments.get": 5,
    "history.list": 2,
    "threads.list": 10,
    "threads.get": 10,
}

WINDOW_S = 1.0
"""The moving-average window the per-second budget is measured over."""


@dataclass(frozen=True)
class Denial:
    """Why a request was refused: HTTP status, reason and seconds to wait."""

    status: int
    reason: str
    retry_after: Optional[int]


class QuotaMeter:
    """Units spent per user in a moving one-second window. Thread-safe.

    Over budget, the request is refused as ``over_status`` says: Gmail answers the per-user
    limit with 403 ``userRateLimitExceeded`` or 429 ``rateLimitExceeded``.
    """

    def __init__(
        self,
        units_per_s: Optional[int],
        clock: Callable[[], float],
        over_status: int = 429,
    ) -> None:
        """Creates the meter.

        Args:
            units_per_s: Budget per user per second (None: unmetered).
            clock: Unix seconds.
            over_status: 429 (``rateLimitExceeded``) or 403 (``userRateLimitExceeded``).
        """
        self.units_per_s = units_per_s
        self.over_status = over_status
        self._clock = clock
        self._lock = threading.Lock()
        self._spent: dict[str, deque[tuple[float, int]]] = {}

    def charge(self, user: str, method: str) -> tuple[int, Optional[Denial]]:
        """Charges ``method``'s units to ``user``; returns the cost and a denial (or None)."""
        cost = COSTS.get(method, 5)
        if self.units_per_s is None:
            return cost, None
        now = self._clock()
        with self._lock:
            spent = self._spent.setdefault(user, deque())
            while spent and spent[0][0] <= now - WINDOW_S:
                spent.popleft()
            used = sum(units for _, units in spent)
            if used + cost > self.units_per_s:
                wait = max(1, math.ceil(spent[0][0] + WINDOW_S - now)) if spent else 1
                if self.over_status == 429:
                    return cost, Denial(429, "rateLimitExceeded", wait)
                # The 403 form carries no Retry-After: the guide only says "exponential backoff".
                return cost, Denial(403, "userRateLimitExceeded", None)
            spent.append((now, cost))
        return cost, None
