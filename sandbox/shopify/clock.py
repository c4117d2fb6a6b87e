"""Shopify's timestamp format and the clock the sandbox runs on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from ..clock import ManualClock

__all__ = ["Clock", "ManualClock", "ScaledClock", "iso", "parse_time"]

Clock = Callable[[], float]
"""Unix seconds."""


def iso(unix_seconds: float) -> str:
    """``2025-01-31T12:00:00Z``: how the Admin API writes a ``DateTime`` (ISO 8601, UTC).

    https://shopify.dev/docs/api/admin-graphql/2025-01/scalars/DateTime
    """
    return datetime.fromtimestamp(int(unix_seconds), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    """Unix seconds of an ISO 8601 date or date-time (``Z``, an offset, or none: UTC).

    Raises:
        ValueError: Not a date.
    """
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


class ScaledClock:
    """Unix seconds running ``scale`` times faster than the wall clock (benchmarks).

    Share it with the client: pass the instance as the client's clock and
    :meth:`sleep` as its sleep, so both see the bucket refill at the same pace.
    """

    def __init__(self, scale: float = 1.0, start: float | None = None) -> None:
        """Starts at ``start`` (now when omitted)."""
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self.scale = scale
        self._origin = time.monotonic()
        self._start = time.time() if start is None else start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._start + (time.monotonic() - self._origin) * self.scale

    def sleep(self, seconds: float) -> None:
        """Waits ``seconds`` of this clock (``seconds / scale`` of real time)."""
        if seconds > 0:
            time.sleep(seconds / self.scale)
