"""ServiceNow's timestamp format and a clock tests can move."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone

Clock = Callable[[], float]
"""Unix seconds."""

GLIDE_FORMAT = "%Y-%m-%d %H:%M:%S"
"""How ServiceNow writes ``sys_created_on`` / ``sys_updated_on`` (UTC, no zone)."""


def glide_time(unix_seconds: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC."""
    return datetime.fromtimestamp(int(unix_seconds), tz=timezone.utc).strftime(GLIDE_FORMAT)


class ManualClock:
    """A clock that only moves when told (thread-safe)."""

    def __init__(self, start: float) -> None:
        """Starts at ``start`` unix seconds."""
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward."""
        with self._lock:
            self._now += seconds
