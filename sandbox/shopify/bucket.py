"""The leaky bucket of query cost per app and shop, and the ``extensions.cost`` it reports.

https://shopify.dev/docs/api/usage/limits#the-leaky-bucket-algorithm and
https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits: the bucket holds up to
``maximumAvailable`` points and refills at ``restoreRate`` points per second; a query is
admitted when the bucket holds its requested cost (else ``THROTTLED``), which is taken
up front; after execution the difference between requested and actual cost is refunded.
A single query may not request more than 1,000 points (``MAX_COST_EXCEEDED``), whatever
the plan.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .clock import Clock

SINGLE_QUERY_MAX = 1000


@dataclass(frozen=True)
class ThrottleStatus:
    """The bucket as ``extensions.cost.throttleStatus`` shows it."""

    maximum_available: float
    currently_available: float
    restore_rate: float

    def as_json(self) -> dict[str, float]:
        """The JSON object (floats, as Shopify sends them)."""
        return {
            "maximumAvailable": float(self.maximum_available),
            "currentlyAvailable": float(int(self.currently_available)),
            "restoreRate": float(self.restore_rate),
        }


class CostBucket:
    """Points available now, refilled continuously from ``clock``. Thread-safe."""

    def __init__(self, size: float, restore_rate: float, clock: Clock) -> None:
        """A full bucket of ``size`` points refilling at ``restore_rate`` per second."""
        if size <= 0 or restore_rate <= 0:
            raise ValueError("bucket_size and restore_rate must be positive")
        self.size = float(size)
        self.restore_rate = float(restore_rate)
        self._clock = clock
        self._lock = threading.Lock()
        self._available = float(size)
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._at)
        self._available = min(self.size, self._available + elapsed * self.restore_rate)
        self._at = now

    def take(self, cost: float) -> bool:
        """Takes ``cost`` points if the bucket holds them; False (nothing taken) if not."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: float) -> None:
        """Gives back ``points`` (requested minus actual cost)."""
        with self._lock:
            self._refill()
            self._available = min(self.size, self._available + max(0.0, points))

    def drain(self, points: float) -> None:
        """Removes ``points`` (tests: another client of the same app spent them)."""
        with self._lock:
            self._refill()
            self._available = max(0.0, self._available - points)

    def status(self) -> ThrottleStatus:
        """The bucket now."""
        with self._lock:
            self._refill()
            return ThrottleStatus(self.size, self._available, self.restore_rate)
