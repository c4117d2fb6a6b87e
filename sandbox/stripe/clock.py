"""Clocks: the callable type the sandbox uses for "now" and a controllable clock for tests."""

from __future__ import annotations

import threading
from collections.abc import Callable

Clock = Callable[[], float]
"""A callable returning the current time as unix seconds."""

DEFAULT_EPOCH = 1_767_225_600.0
"""2026-01-01T00:00:00Z, the start of a ``SandboxClock`` unless told otherwise."""


class SandboxClock:
    """A thread-safe clock that only moves when told to.

    Pass it as ``now=`` to ``StripeSandbox`` for fully deterministic data and event windows;
    ``StripeSandbox.advance`` then moves it forward.
    """

    def __init__(self, start: float = DEFAULT_EPOCH) -> None:
        """Create a clock reading ``start`` (unix seconds)."""
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """Return the current time in unix seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new time.

        Raises:
            ValueError: If ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError("a SandboxClock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def __repr__(self) -> str:
        return f"SandboxClock({self():.0f})"
