"""The sandbox's records: seeded, mutable, with Salesforce's audit fields kept current.

Deleting moves a record (and its cascade-deleted children) to the recycle bin
(``recycle_bin.py``); a record leaving the bin, or hard-deleted, is gone for good: no
``queryAll``, no delete log. Formula fields are computed on every read (``formulas.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Optional

from .formulas import evaluate
from .recycle_bin import RecycleBin
from .schema import KEY_PREFIXES, OBJECTS, field_names

Clock = Callable[[], float]
ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

CASCADE: dict[str, tuple[tuple[str, str], ...]] = {
    # "When you delete an account it's moved to the Recycle Bin along with ... Contacts,
    # Opportunities" (Salesforce Help, quoted at
    # https://trailblazers.salesforce.com/answers?id=90630000000gyRjAAI); Apex: "If you
    # delete a parent object, you delete its children automatically"
    # (https://developer.salesforce.com/docs/atlas.en-us.apexcode.meta/apexcode/langCon_apex_dml_examples_delete.htm).
    "Account": (("Contact", "AccountId"), ("Opportunity", "AccountId")),
}
"""Children deleted with their parent: ``parent -> ((child object, lookup field), ...)``."""


def sf_datetime(unix_seconds: float) -> str:
    """Formats a time as Salesforce does: ``2024-05-01T12:00:00.000+0000``."""
    moment = datetime.fromtimestamp(unix_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_sf_datetime(text: str) -> datetime:
    """Reads ``2024-05-01T12:00:00.000+0000`` (and ISO 8601 with ``Z`` or ``+00:00``)."""
    value = text.strip().replace("Z", "+00:00")
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = f"{value[:-2]}:{value[-2:]}"
    return datetime.fromisoformat(value)


def record_id(object_name: str, number: int) -> str:
    """An 18-character id with the object's key prefix (``001...`` for accounts)."""
    digits = ""
    value = number
    while value or not digits:
        value, rest = divmod(value, len(ID_ALPHABET))
        digits = ID_ALPHABET[rest] + digits
    return (KEY_PREFIXES[object_name] + "5g000" + digits.rjust(10, "0"))[:18]


class Store:
    """Records per sObject; deleted ones wait in the recycle bin with ``IsDeleted = true``
    until it lets them go. Thread-safe."""

    def __init__(
        self,
        now: Clock,
        recycle_bin: Optional[RecycleBin] = None,
        hard_deleted: frozenset[str] = frozenset(),
    ) -> None:
        """Creates an empty store reading ``now`` (unix seconds) for audit fields.

        Args:
            now: The clock (tests move it to age the recycle bin).
            recycle_bin: Where deleted records wait (15 days, no capacity by default).
            hard_deleted: Objects whose records skip the bin ("Junction records ... are
                usually hard deleted", https://docs.workato.com/connectors/salesforce/
                triggers/deleted-record.html).
        """
        self._now = now
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in OBJECTS}
        self._counter = 0
        self.bin = recycle_bin or RecycleBin()
        self.hard_deleted = hard_deleted

    def next_id(self, object_name: str) -> str:
        """A fresh id for ``object_name``."""
        with self._lock:
            self._counter += 1
            return record_id(object_name, self._counter)

    def put(self, object_name: str, record: dict[str, Any]) -> dict[str, Any]:
        """Stores a complete record as is (seeding)."""
        full = {name: record.get(name) for name in field_names(object_name)}
        with self._lock:
            self._records[object_name][str(full["Id"])] = full
        return dict(full)

    def create(self, object_name: str, **fields: Any) -> dict[str, Any]:
        """Creates a record now; returns it."""
        stamp = sf_datetime(self._now())
        record: dict[str, Any] = {
            "Id": self.next_id(object_name),
            "CreatedDate": stamp,
            "LastModifiedDate": stamp,
            "SystemModstamp": stamp,
            **fields,
        }
        if "IsDeleted" in field_names(object_name):
            record["IsDeleted"] = False
        return self.put(object_name, record)

    def update(self, object_name: str, record_id_: str, **fields: Any) -> dict[str, Any]:
        """Changes fields; ``LastModifiedDate`` and ``SystemModstamp`` move to now.

        Raises:
            KeyError: Unknown record or field.
        """
        unknown = set(fields) - set(field_names(object_name))
        if unknown:
            raise KeyError(f"unknown field(s) {sorted(unknown)} on {object_name}")
        stamp = sf_datetime(self._now())
        with self._lock:
            record = self._records[object_name][record_id_]
            record.update(fields, LastModifiedDate=stamp, SystemModstamp=stamp)
            return dict(record)

    def delete(self, object_name: str, record_id_: str, *, hard: bool = False) -> dict[str, Any]:
        """Deletes a record (children cascade, see :meth:`delete_all`); returns the record."""
        return self.delete_all(object_name, record_id_, hard=hard)[0]

    def delete_all(
        self, object_name: str, record_id_: str, *, hard: bool = False
    ) -> list[dict[str, Any]]:
        """Deletes a record and its cascade children: ``IsDeleted = true``, into the bin.

        Args:
            object_name: The object.
            record_id_: The record.
            hard: Skip the recycle bin (Bulk API ``hardDelete``: "the deleted records
                aren't stored in the Recycle Bin", https://developer.salesforce.com/docs/
                atlas.en-us.api_asynch.meta/api_asynch/asynch_api_reference_jobinfo.htm):
                the records are gone for good at once.

        Returns:
            The deleted records, the parent first.

        Raises:
            KeyError: Unknown record, or an object that cannot be deleted (User).
        """
        if "IsDeleted" not in field_names(object_name):
            raise KeyError(f"{object_name} records cannot be deleted")
        now = self._now()
        stamp = sf_datetime(now)
        with self._lock:
            doomed = self._with_children(object_name, record_id_)
            deleted: list[dict[str, Any]] = []
            for name, rid in doomed:
                record = self._records[name][rid]
                record.update(IsDeleted=True, SystemModstamp=stamp)
                deleted.append(dict(record))
                if hard or name in self.hard_deleted:
                    del self._records[name][rid]
                    self.bin.physically_deleted(name, now)
                else:
                    self._drop(self.bin.add(name, rid, now))
        return deleted

    def empty_recycle_bin(self, object_name: str, record_ids: list[str]) -> int:
        """Removes binned records for good, their cascade children with them (a user
        empties the bin); returns how many records went."""
        with self._lock:
            keys = [k for rid in record_ids for k in self._with_children(object_name, rid)]
            gone = self.bin.purge(keys)
            self._drop(gone)
            return len(gone)

    def deleted_between(
        self, object_name: str, start: float, end: float
    ) -> list[tuple[str, float]]:
        """``(id, deleted at)`` of binned records deleted in ``[start, end]``."""
        self._expire()
        return [(b.record_id, b.deleted_at) for b in self.bin.deleted(object_name, start, end)]

    def updated_between(self, object_name: str, start: float, end: float) -> list[str]:
        """Ids of live records whose ``SystemModstamp`` lies in ``[start, end]``."""
        found = []
        for record in self.live(object_name):
            at = parse_sf_datetime(str(record["SystemModstamp"])).timestamp()
            if start <= at <= end:
                found.append(str(record["Id"]))
        return found

    def now(self) -> float:
        """The store's clock (unix seconds)."""
        return self._now()

    def rows(self, object_name: str, include_deleted: bool) -> list[dict[str, Any]]:
        """Copies of the records (``queryAll`` sees deleted ones, ``query`` does not),
        formula fields computed now."""
        self._expire()
        now = self._now()
        with self._lock:
            records = [
                dict(r)
                for r in self._records[object_name].values()
                if include_deleted or not r.get("IsDeleted")
            ]
            return [evaluate(object_name, r, self._lookup, now) for r in records]

    def live(self, object_name: str) -> list[dict[str, Any]]:
        """Records not deleted."""
        return self.rows(object_name, include_deleted=False)

    def get(self, object_name: str, record_id_: str) -> Optional[dict[str, Any]]:
        """One record, deleted (still in the bin) or not."""
        self._expire()
        with self._lock:
            record = self._records[object_name].get(record_id_)
            if record is None:
                return None
            return evaluate(object_name, dict(record), self._lookup, self._now())

    def find(self, object_name: str, match: Callable[[dict[str, Any]], bool]) -> list[str]:
        """Ids of live records (stored fields only, no formulas) ``match`` accepts."""
        with self._lock:
            return [
                rid
                for rid, r in self._records[object_name].items()
                if not r.get("IsDeleted") and match(r)
            ]

    def column(self, object_name: str, field: str) -> list[tuple[str, Any]]:
        """``(id, stored value)`` of one field over the live records."""
        with self._lock:
            return [
                (rid, r.get(field))
                for rid, r in self._records[object_name].items()
                if not r.get("IsDeleted")
            ]

    def _lookup(self, object_name: str, record_id_: str) -> Optional[dict[str, Any]]:
        return self._records.get(object_name, {}).get(record_id_)

    def _with_children(self, object_name: str, record_id_: str) -> list[tuple[str, str]]:
        """The record and every record deleted with it, parent first."""
        if record_id_ not in self._records[object_name]:
            raise KeyError(f"no {object_name} {record_id_}")
        found = [(object_name, record_id_)]
        for child, field in CASCADE.get(object_name, ()):
            for rid, record in self._records[child].items():
                if record.get(field) == record_id_:
                    found.extend(self._with_children(child, rid))
        return found

    def _expire(self) -> None:
        """Empties what the 15-day retention (or the bin's capacity) pushed out."""
        gone = self.bin.expired(self._now())
        if gone:
            with self._lock:
                self._drop(gone)

    def _drop(self, entries: list[Any]) -> None:
        for entry in entries:
            self._records[entry.object_name].pop(entry.record_id, None)
