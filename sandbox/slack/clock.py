"""The sandbox clock: real time that tests can also jump forward.

The default is the shared ``RunningClock`` (see ``sandbox/clock.py``); pass
``sandbox.clock.ManualClock`` for a clock that only moves when told.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..clock import RunningClock

__all__ = ["Advanceable", "Clock", "RunningClock"]

Clock = Callable[[], float]
"""Unix seconds."""


class Advanceable(Protocol):
    """A clock tests can move forward."""

    def __call__(self) -> float: ...

    def advance(self, seconds: float) -> None: ...
