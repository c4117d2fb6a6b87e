"""ServiceNow's timestamp format and a clock tests can move."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from ..clock import ManualClock

__all__ = ["GLIDE_FORMAT", "Clock", "ManualClock", "glide_time"]

Clock = Callable[[], float]
"""Unix seconds."""

GLIDE_FORMAT = "%Y-%m-%d %H:%M:%S"
"""How ServiceNow writes ``sys_created_on`` / ``sys_updated_on`` (UTC, no zone)."""


def glide_time(unix_seconds: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC."""
    return datetime.fromtimestamp(int(unix_seconds), tz=timezone.utc).strftime(GLIDE_FORMAT)
