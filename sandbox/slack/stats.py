"""Request counters per Web API method, for tests."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """How many requests each method received, how many were throttled, and their arguments."""

    def __init__(self) -> None:
        """Empty counters."""
        self._lock = threading.Lock()
        self._by_method: Counter[str] = Counter()
        self._throttled: Counter[str] = Counter()
        self._calls: list[tuple[str, dict[str, Any]]] = []

    def record(self, method: str, params: dict[str, Any]) -> None:
        """Counts one request (its token left out of the stored arguments)."""
        with self._lock:
            self._by_method[method] += 1
            self._calls.append((method, {k: v for k, v in params.items() if k != "token"}))

    def record_throttled(self, method: str) -> None:
        """Counts one 429."""
        with self._lock:
            self._throttled[method] += 1

    def count(self, method: str) -> int:
        """Requests received for ``method`` (429s and errors included)."""
        with self._lock:
            return self._by_method[method]

    def throttled(self, method: str = "") -> int:
        """429s answered for ``method`` (all methods when empty)."""
        with self._lock:
            return self._throttled[method] if method else sum(self._throttled.values())

    def calls(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every request to ``method``, in order (to spot a page read twice)."""
        with self._lock:
            return [dict(p) for m, p in self._calls if m == method]

    @property
    def total(self) -> int:
        """Requests received for all methods."""
        with self._lock:
            return sum(self._by_method.values())

    def reset(self) -> None:
        """Zeroes every counter."""
        with self._lock:
            self._by_method.clear()
            self._throttled.clear()
            self._calls.clear()
