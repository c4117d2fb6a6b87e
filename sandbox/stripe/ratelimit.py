"""Server-side rate limiting: one token bucket per API key."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """A bucket holding up to ``capacity`` tokens, refilled at ``rate`` tokens per second.

    A client spaced evenly at ``rate`` requests per second never runs dry.
    """

    def __init__(self, capacity: float, rate: float, clock: Callable[[], float]) -> None:
        """Create a full bucket."""
        self.capacity = capacity
        self.rate = rate
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()

    def take(self) -> bool:
        """Take one token; return whether one was available (not thread-safe)."""
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class RateLimiter:
    """Per-key token buckets with capacity ``limit`` refilled at ``limit`` per second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Create a limiter reading time from ``clock`` (monotonic seconds)."""
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, int], TokenBucket] = {}

    def allow(self, key: str, limit: int | None) -> bool:
        """Return whether ``key`` may make one more request under ``limit`` requests/second.

        ``None`` or ``0`` means unlimited.
        """
        if not limit:
            return True
        with self._lock:
            bucket = self._buckets.get((key, limit))
            if bucket is None:
                bucket = self._buckets[(key, limit)] = TokenBucket(limit, limit, self._clock)
            return bucket.take()
