"""Server-side query cursors behind ``nextRecordsUrl``, and when they stop working.

Two documented regimes:

* Before API 56.0: "QueryLocator objects expire automatically after 15 minutes of
  inactivity" and "A user can have up to 10 query cursors open at a time ... the oldest
  of the 10 cursors is released" (https://developer.salesforce.com/docs/atlas.en-us.234.0.api.meta/api/sforce_api_calls_query_querylocator.htm).
* Since API 56.0, for all versions: "Cursors and their related query results are
  available for 2 days ... There isn't a limit on the number of open cursors"
  (https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-apicursors.html).

Either way a dead locator answers ``400 [{"message": "invalid query locator",
"errorCode": "INVALID_QUERY_LOCATOR"}]`` (code and message as Salesforce sends them,
e.g. https://github.com/restforce/restforce/issues/67: "INVALID_QUERY_LOCATOR: invalid
query locator"). The sandbox uses the current regime unless told otherwise.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class LocatorPolicy:
    """When cursors die.

    Attributes:
        idle_s: Seconds without a request after which a cursor expires (None: never).
        lifetime_s: Seconds after the query after which a cursor expires (None: never).
        max_open: Open cursors per user; opening one more releases the oldest.
    """

    idle_s: Optional[float] = None
    lifetime_s: Optional[float] = None
    max_open: Optional[int] = None


LEGACY_POLICY = LocatorPolicy(idle_s=15 * 60, max_open=10)
"""Before API 56.0: 15 minutes idle, 10 open cursors per user."""

CURRENT_POLICY = LocatorPolicy(lifetime_s=2 * 86400)
"""Since API 56.0: 2 days, no limit on open cursors."""


@dataclass
class Cursor:
    """One open query result."""

    rows: list[dict[str, Any]]
    opened_at: float
    used_at: float


class Locators:
    """Open cursors per user; thread-safe.

    Args:
        now: The sandbox clock (unix seconds).
        policy: When cursors die.
    """

    def __init__(self, now: Callable[[], float], policy: LocatorPolicy = CURRENT_POLICY) -> None:
        """Creates an empty registry."""
        self.now = now
        self.policy = policy
        self.released = 0
        self._open: dict[str, OrderedDict[str, Cursor]] = {}
        self._seq = 0
        self._lock = threading.Lock()

    def open(self, user: str, rows: list[dict[str, Any]]) -> str:
        """Opens a cursor over ``rows``; returns its locator (the oldest may be released)."""
        now = self.now()
        with self._lock:
            self._seq += 1
            locator = f"01g{self._seq:015d}"
            cursors = self._open.setdefault(user, OrderedDict())
            cursors[locator] = Cursor(rows, now, now)
            limit = self.policy.max_open
            while limit is not None and len(cursors) > limit:
                cursors.popitem(last=False)
                self.released += 1
            return locator

    def rows(self, user: str, locator: str) -> Optional[list[dict[str, Any]]]:
        """The cursor's rows, or None when it expired, was released or never existed."""
        now = self.now()
        with self._lock:
            cursor = self._open.get(user, OrderedDict()).get(locator)
            if cursor is None or self._dead(cursor, now):
                self._open.get(user, OrderedDict()).pop(locator, None)
                return None
            cursor.used_at = now
            return cursor.rows

    def close(self, user: str, locator: str) -> None:
        """Closes a cursor read to its end (it no longer counts as open)."""
        with self._lock:
            self._open.get(user, OrderedDict()).pop(locator, None)

    def open_count(self, user: str) -> int:
        """Cursors the user has open."""
        with self._lock:
            return len(self._open.get(user, ()))

    def _dead(self, cursor: Cursor, now: float) -> bool:
        idle, lifetime = self.policy.idle_s, self.policy.lifetime_s
        if idle is not None and now - cursor.used_at > idle:
            return True
        return lifetime is not None and now - cursor.opened_at > lifetime
