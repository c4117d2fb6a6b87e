"""Clocks shared by the emulators (tokens, windows, recycle bins, rate limits).

``ManualClock`` only moves when a test tells it to. ``RunningClock`` runs in real time and
can also be jumped forward: a rate-limited client sleeps ``Retry-After`` for real, so an
emulator that meters requests needs a clock that runs (a frozen one would answer 429
forever).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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


class RunningClock:
    """Unix seconds: ``start`` plus the real time elapsed plus every ``advance``. Thread-safe."""

    def __init__(
        self, start: Optional[float] = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        """Starts at ``start`` (now when omitted); ``monotonic`` measures elapsed time."""
        self._monotonic = monotonic
        self._origin = monotonic()
        self._start = float(time.time() if start is None else start)
        self._offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._start + self._offset + (self._monotonic() - self._origin)

    def advance(self, seconds: float) -> None:
        """Jumps forward by ``seconds``."""
        with self._lock:
            self._offset += seconds
