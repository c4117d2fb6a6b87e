"""The clock tests move by hand to age the recycle bin and query locators (the emulators'
shared one)."""

from __future__ import annotations

from ..clock import ManualClock

__all__ = ["ManualClock"]
