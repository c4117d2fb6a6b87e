"""The org's recycle bin and delete log: what ``queryAll`` and ``/deleted/`` still see.

Salesforce keeps a deleted record in the recycle bin for 15 days, then removes it for
good; a full bin loses its oldest records first, and users empty it by hand
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_emptyrecyclebin.htm:
"view and restore recently deleted records for 15 days before they are permanently
deleted ... If your org reaches its Recycle Bin limit, Salesforce automatically removes
the oldest records"). A record removed from the bin is gone from ``queryAll`` and from
the delete log that ``/sobjects/<object>/deleted/`` reads; that endpoint then reports
``earliestDateAvailable``, "the timestamp ... of the last physically deleted object"
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/object_ref/sforce_api_calls_getdeleted_getdeletedresult.htm).

Not emulated: records emptied from the bin "can be queried using the queryall argument
for some time. Typically this time is 24 hours"
(https://search.r-project.org/CRAN/refmans/salesforcer/html/sf_empty_recycle_bin.html,
quoting the emptyRecycleBin() guide). The sandbox removes them at once, the harder case.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional

RETENTION_S = 15 * 86400
"""Seconds a record stays in the recycle bin."""


@dataclass(frozen=True)
class Binned:
    """One record in the recycle bin."""

    object_name: str
    record_id: str
    deleted_at: float


class RecycleBin:
    """Deleted records per object, with expiry, capacity and purges. Thread-safe.

    Args:
        retention_s: Seconds before a binned record is removed for good.
        capacity: Records the bin holds (Salesforce: 5,000 per license); None: no limit.
    """

    def __init__(self, retention_s: float = RETENTION_S, capacity: Optional[int] = None) -> None:
        """Creates an empty bin."""
        self.retention_s = retention_s
        self.capacity = capacity
        self._entries: dict[tuple[str, str], Binned] = {}
        self._purged_until: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, object_name: str, record_id: str, deleted_at: float) -> list[Binned]:
        """Bins a record; returns the oldest records pushed out by the capacity.

        Salesforce only pushes out records binned at least two hours before (same
        emptyRecycleBin() page); the sandbox pushes out the oldest at once.
        """
        with self._lock:
            self._entries[(object_name, record_id)] = Binned(object_name, record_id, deleted_at)
            if self.capacity is None or len(self._entries) <= self.capacity:
                return []
            oldest = sorted(self._entries.values(), key=lambda b: b.deleted_at)
            return self._remove(oldest[: len(self._entries) - self.capacity])

    def expired(self, now: float) -> list[Binned]:
        """Removes and returns what has been in the bin longer than the retention."""
        with self._lock:
            old = [b for b in self._entries.values() if now - b.deleted_at > self.retention_s]
            return self._remove(old)

    def purge(self, keys: list[tuple[str, str]]) -> list[Binned]:
        """Removes records for good (a user empties the bin); returns those removed."""
        with self._lock:
            return self._remove([self._entries[k] for k in keys if k in self._entries])

    def physically_deleted(self, object_name: str, deleted_at: float) -> None:
        """Records a delete that skipped the bin (hard delete) for ``earliestDateAvailable``."""
        with self._lock:
            self._note_purge(object_name, deleted_at)

    def deleted(self, object_name: str, start: float, end: float) -> list[Binned]:
        """The delete log of one object from ``start`` to ``end`` (inclusive), oldest first."""
        with self._lock:
            found = [
                b
                for b in self._entries.values()
                if b.object_name == object_name and start <= b.deleted_at <= end
            ]
        return sorted(found, key=lambda b: b.deleted_at)

    def earliest_available(self, object_name: str) -> Optional[float]:
        """Deletion time of the object's newest record removed for good (None: none yet)."""
        with self._lock:
            return self._purged_until.get(object_name)

    def contains(self, object_name: str, record_id: str) -> bool:
        """Whether the record is in the bin."""
        with self._lock:
            return (object_name, record_id) in self._entries

    def _remove(self, entries: list[Binned]) -> list[Binned]:
        for entry in entries:
            self._entries.pop((entry.object_name, entry.record_id), None)
            self._note_purge(entry.object_name, entry.deleted_at)
        return entries

    def _note_purge(self, object_name: str, deleted_at: float) -> None:
        known = self._purged_until.get(object_name)
        if known is None or deleted_at > known:
            self._purged_until[object_name] = deleted_at
