"""A clock tests move by hand, shared by the emulators (tokens, windows, recycle bins)."""

from __future__ import annotations

import threading
import time
from typing import Optional


class ManualClock:
    """Unix seconds that only move when told (thread-safe); starts at the real time."""

    def __init__(self, start: Optional[float] = None) -> None:
        """Starts at ``start`` (now when omitted)."""
        self._now = float(time.time() if start is None else start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Moves the clock forward."""
        with self._lock:
            self._now += seconds
