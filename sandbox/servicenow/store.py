"""The sandbox's tables, the mutations tests make, and ``sys_audit_delete``."""

from __future__ import annotations

import random
import threading
from typing import Any

from .clock import Clock, glide_time
from .query import EncodedQuery

AUDIT_DELETE = "sys_audit_delete"


class UnknownTableError(KeyError):
    """The table does not exist in the sandbox."""


class Store:
    """Records by table and sys_id; thread-safe. Deletes are written to ``sys_audit_delete``."""

    def __init__(self, tables: dict[str, list[dict[str, str]]], clock: Clock, seed: int) -> None:
        """Loads the seed records.

        Args:
            tables: Records per table.
            clock: Unix seconds; stamps ``sys_updated_on`` of mutations.
            seed: Seed of the ids of created records.
        """
        self._lock = threading.Lock()
        self._clock = clock
        self._rng = random.Random(f"{seed}:mutations")
        self._tables: dict[str, dict[str, dict[str, str]]] = {
            name: {r["sys_id"]: dict(r) for r in records} for name, records in tables.items()
        }
        self._tables[AUDIT_DELETE] = {}

    @property
    def table_names(self) -> list[str]:
        """Every table, ``sys_audit_delete`` included."""
        return list(self._tables)

    def records(self, table: str) -> list[dict[str, str]]:
        """Copies of every record of a table."""
        with self._lock:
            return [dict(r) for r in self._table(table).values()]

    def get(self, table: str, sys_id: str) -> dict[str, str]:
        """A copy of one record (KeyError when absent)."""
        with self._lock:
            return dict(self._table(table)[sys_id])

    def select(self, table: str, query: EncodedQuery) -> list[dict[str, str]]:
        """Records matching ``query``, in its order."""
        with self._lock:
            matching = [dict(r) for r in self._table(table).values() if query.matches(r)]
        return query.sort(matching)

    def create(self, table: str, **values: Any) -> dict[str, str]:
        """Inserts a record stamped now; returns it."""
        stamp = glide_time(self._clock())
        with self._lock:
            record = {
                "sys_id": f"{self._rng.getrandbits(128):032x}",
                "sys_created_on": stamp,
                **{k: str(v) for k, v in values.items()},
                "sys_updated_on": stamp,
            }
            self._table(table)[record["sys_id"]] = record
            return dict(record)

    def update(self, table: str, sys_id: str, **values: Any) -> dict[str, str]:
        """Changes fields of a record and stamps ``sys_updated_on``; returns it."""
        with self._lock:
            record = self._table(table)[sys_id]
            record.update({k: str(v) for k, v in values.items()})
            record["sys_updated_on"] = glide_time(self._clock())
            return dict(record)

    def delete(self, table: str, sys_id: str) -> dict[str, str]:
        """Removes a record and writes its ``sys_audit_delete`` row; returns that row."""
        stamp = glide_time(self._clock())
        with self._lock:
            removed = self._table(table).pop(sys_id)
            audit = {
                "sys_id": f"{self._rng.getrandbits(128):032x}",
                "tablename": table,
                "documentkey": sys_id,
                "display_value": removed.get("number") or removed.get("name") or sys_id,
                "payload": delete_payload(table, removed),
                "sys_created_on": stamp,
                "sys_updated_on": stamp,
            }
            self._tables[AUDIT_DELETE][audit["sys_id"]] = audit
            return dict(audit)

    def _table(self, table: str) -> dict[str, dict[str, str]]:
        try:
            return self._tables[table]
        except KeyError:
            raise UnknownTableError(table) from None


def delete_payload(table: str, record: dict[str, str]) -> str:
    """The deleted record as XML, the way ServiceNow keeps it in ``payload``."""
    from xml.sax.saxutils import escape

    fields = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in record.items())
    body = f'<{table} action="DELETE">{fields}</{table}>'
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    return f'{head}<record_update table="{table}">{body}</record_update>'
