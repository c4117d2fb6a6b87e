"""Faults and rate limits: 5xx, dropped connections, 429 storms, malformed records."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Optional

from .clock import Clock


@dataclass(frozen=True)
class Throttle:
    """A 429 answer and the headers it carries."""

    retry_after: int
    headers: dict[str, str]


class Faults:
    """One-shot fault switches and a fixed-window rate limit per user. Thread-safe."""

    def __init__(self, rate_limit: Optional[int], window_s: int, clock: Clock) -> None:
        """Creates the switches.

        Args:
            rate_limit: Requests allowed per window (None: unlimited, no headers).
            window_s: Window length in seconds.
            clock: Unix seconds (the window and ``X-RateLimit-Reset``).
        """
        self.rate_limit = rate_limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._fail: list[int] = []
        self._drop = 0
        self._throttle: list[int] = []
        self._malform: dict[Optional[str], int] = {}
        self._windows: dict[str, tuple[int, int]] = {}

    def fail_next(self, count: int, status: int = 503) -> None:
        """The next ``count`` API requests answer ``status``."""
        with self._lock:
            self._fail.extend([status] * count)

    def drop_next(self, count: int) -> None:
        """The next ``count`` API requests get a connection reset."""
        with self._lock:
            self._drop += count

    def throttle_next(self, count: int, retry_after: int = 1) -> None:
        """The next ``count`` API requests answer 429 with ``Retry-After``."""
        with self._lock:
            self._throttle.extend([retry_after] * count)

    def malform_next(self, count: int, table: Optional[str] = None) -> None:
        """The next ``count`` records served (of ``table``, or any) get a bad ``sys_updated_on``."""
        with self._lock:
            self._malform[table] = self._malform.get(table, 0) + count

    def take_failure(self) -> Optional[int]:
        """The status to fail this request with, if any."""
        with self._lock:
            return self._fail.pop(0) if self._fail else None

    def take_drop(self) -> bool:
        """Whether to drop this request's connection."""
        with self._lock:
            if self._drop <= 0:
                return False
            self._drop -= 1
            return True

    def take_malformed(self, table: str) -> bool:
        """Whether to spoil the next record of ``table``."""
        with self._lock:
            for key in (table, None):
                if self._malform.get(key, 0) > 0:
                    self._malform[key] -= 1
                    return True
            return False

    def admit(self, user: str) -> tuple[Optional[Throttle], dict[str, str]]:
        """Counts a request; returns a throttle (or None) and the ``X-RateLimit-*`` headers."""
        with self._lock:
            if self._throttle:
                wait = self._throttle.pop(0)
                return Throttle(wait, {"Retry-After": str(wait)}), {}
            if self.rate_limit is None:
                return None, {}
            now = self._clock()
            start = int(now // self.window_s) * self.window_s
            seen_start, used = self._windows.get(user, (start, 0))
            used = used + 1 if seen_start == start else 1
            self._windows[user] = (start, used)
            reset = start + self.window_s
            headers = {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(max(0, self.rate_limit - used)),
                "X-RateLimit-Reset": str(reset),
            }
            if used > self.rate_limit:
                wait = max(1, math.ceil(reset - now))
                return Throttle(wait, {**headers, "Retry-After": str(wait)}), headers
            return None, headers
