"""The sandbox's records: seeded, mutable, with Salesforce's audit fields kept current."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, Optional

from .schema import KEY_PREFIXES, OBJECTS, field_names

Clock = Callable[[], float]
ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def sf_datetime(unix_seconds: float) -> str:
    """Formats a time as Salesforce does: ``2024-05-01T12:00:00.000+0000``."""
    moment = datetime.fromtimestamp(unix_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def record_id(object_name: str, number: int) -> str:
    """An 18-character id with the object's key prefix (``001...`` for accounts)."""
    digits = ""
    value = number
    while value or not digits:
        value, rest = divmod(value, len(ID_ALPHABET))
        digits = ID_ALPHABET[rest] + digits
    return (KEY_PREFIXES[object_name] + "5g000" + digits.rjust(10, "0"))[:18]


class Store:
    """Records per sObject; deleted ones stay with ``IsDeleted = true``. Thread-safe."""

    def __init__(self, now: Clock) -> None:
        """Creates an empty store reading ``now`` (unix seconds) for audit fields."""
        self._now = now
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in OBJECTS}
        self._counter = 0

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

    def delete(self, object_name: str, record_id_: str) -> dict[str, Any]:
        """Moves a record to the recycle bin: ``IsDeleted = true``, ``SystemModstamp`` now.

        Raises:
            KeyError: Unknown record, or an object that cannot be deleted (User).
        """
        if "IsDeleted" not in field_names(object_name):
            raise KeyError(f"{object_name} records cannot be deleted")
        with self._lock:
            record = self._records[object_name][record_id_]
            record.update(IsDeleted=True, SystemModstamp=sf_datetime(self._now()))
            return dict(record)

    def rows(self, object_name: str, include_deleted: bool) -> list[dict[str, Any]]:
        """Copies of the records (``queryAll`` sees deleted ones, ``query`` does not)."""
        with self._lock:
            records = list(self._records[object_name].values())
        return [dict(r) for r in records if include_deleted or not r.get("IsDeleted")]

    def live(self, object_name: str) -> list[dict[str, Any]]:
        """Records not deleted."""
        return self.rows(object_name, include_deleted=False)

    def get(self, object_name: str, record_id_: str) -> Optional[dict[str, Any]]:
        """One record, deleted or not."""
        with self._lock:
            record = self._records[object_name].get(record_id_)
            return dict(record) if record is not None else None
