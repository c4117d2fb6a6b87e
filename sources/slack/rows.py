"""Slack objects shaped into rows: keys, readable times, the soft-delete flag."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

__all__ = ["channel_row", "message_row", "minus_seconds", "newer", "ts_time", "ts_value"]


def ts_value(ts: Any) -> Decimal:
    """A Slack ``ts`` (``"1700000000.000100"``, unique per channel) as a comparable number.

    Text comparison would misorder ts of different lengths; Decimal keeps every digit.
    """
    try:
        return Decimal(str(ts))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def newer(a: Optional[str], b: Optional[str]) -> Optional[str]:
    """The newer of two ts (either may be None)."""
    if a is None or b is None:
        return a or b
    return a if ts_value(a) >= ts_value(b) else b


def minus_seconds(ts: str, seconds: float) -> str:
    """``ts`` moved back by ``seconds``, in Slack's six-decimal form."""
    moved = max(Decimal(0), ts_value(ts) - Decimal(str(seconds)))
    return f"{moved:.6f}"


def ts_time(ts: Any) -> Optional[datetime]:
    """A ts as a UTC datetime (Slack ts are epoch seconds, https://api.slack.com/messaging/retrieving)."""
    if ts in (None, ""):
        return None
    return datetime.fromtimestamp(float(ts_value(ts)), tz=timezone.utc)


def message_row(channel_id: str, message: dict[str, Any]) -> dict[str, Any]:
    """A message or reply as loaded: keyed by ``(channel_id, ts)``, times readable."""
    edited = message.get("edited")
    row = {**message, "channel_id": channel_id, "deleted": False}
    row["posted_at"] = ts_time(message.get("ts"))
    row["edited_at"] = ts_time(edited.get("ts")) if isinstance(edited, dict) else None
    return row


def channel_row(channel: dict[str, Any]) -> dict[str, Any]:
    """A conversation as loaded (the soft-delete flag false while it is listed)."""
    return {**channel, "deleted": False}
