"""The sandbox's tables, the mutations tests make, and ``sys_audit_delete``."""

from __future__ import annotations

import random
import threading
from typing import Any, Optional

from .audit import AuditPolicy, DeleteVia
from .clock import Clock, glide_time
from .query import EncodedQuery

AUDIT_DELETE = "sys_audit_delete"
AUDIT = "sys_audit"


class UnknownTableError(KeyError):
    """The table does not exist in the sandbox."""


class Store:
    """Records by table and sys_id; thread-safe. Deletes are written to ``sys_audit_delete``."""

    def __init__(
        self,
        tables: dict[str, list[dict[str, str]]],
        clock: Clock,
        seed: int,
        audit: Optional[AuditPolicy] = None,
    ) -> None:
        """Loads the seed records.

        Args:
            tables: Records per table.
            clock: Unix seconds; stamps ``sys_updated_on`` of mutations.
            seed: Seed of the ids of created records.
            audit: Which deletes write ``sys_audit_delete`` (the instance defaults if None).
        """
        self.audit = audit or AuditPolicy()
        # glide.invalid_query.returns_no_rows (false on instances): see query.py.
        self.invalid_query_returns_no_rows = False
        self._lock = threading.Lock()
        self._clock = clock
        self._rng = random.Random(f"{seed}:mutations")
        self._tables: dict[str, dict[str, dict[str, str]]] = {
            name: {r["sys_id"]: dict(r) for r in records} for name, records in tables.items()
        }
        self._tables[AUDIT_DELETE] = {}
        self._tables[AUDIT] = {}

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
            rows = self._table(table).values()
            fields = {name for r in rows for name in r}
            query = query.for_fields(fields, self.invalid_query_returns_no_rows)
            matching = [dict(r) for r in rows if query.matches(r)]
        return query.sort(matching)

    def select_window(
        self, table: str, query: EncodedQuery, offset: int, limit: int
    ) -> tuple[int, list[dict[str, str]]]:
        """How many records match ``query`` and copies of the ``limit`` from ``offset``.

        The same records as ``select(...)[offset:offset + limit]``; only the window is
        copied, so a list page costs one filter and sort over the table.
        """
        with self._lock:
            rows = list(self._table(table).values())
            fields = {name for r in rows for name in r}
            query = query.for_fields(fields, self.invalid_query_returns_no_rows)
            matching = query.sort([r for r in rows if query.matches(r)])
            return len(matching), [dict(r) for r in matching[offset : offset + limit]]

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

    def delete(self, table: str, sys_id: str, via: DeleteVia = DeleteVia.SCRIPT) -> dict[str, str]:
        """Removes a record; writes its ``sys_audit_delete`` row when the delete is audited.

        The row is filed under the record's own class (``sys_class_name``, e.g.
        ``cmdb_ci_linux_server`` for a record read through ``cmdb_ci``), as instances do.

        Returns:
            The audit row, or ``{"documentkey": sys_id}`` alone when nothing was audited.
        """
        stamp = glide_time(self._clock())
        with self._lock:
            removed = self._table(table).pop(sys_id)
            record_class = removed.get("sys_class_name") or table
            if self.audit.logs_deleted(record_class, via):
                self._log_deleted(record_class, sys_id, stamp)
            if not self.audit.audits(record_class, via):
                return {"documentkey": sys_id}
            audit = {
                "sys_id": f"{self._rng.getrandbits(128):032x}",
                "tablename": record_class,
                "documentkey": sys_id,
                "display_value": removed.get("number") or removed.get("name") or sys_id,
                "payload": delete_payload(record_class, removed),
                "sys_created_on": stamp,
                "sys_updated_on": stamp,
            }
            self._tables[AUDIT_DELETE][audit["sys_id"]] = audit
            return dict(audit)

    def purge_audit(self, before: str, table: str = AUDIT_DELETE) -> int:
        """Drops audit rows (``sys_audit_delete`` or ``sys_audit``) created before ``before``."""
        with self._lock:
            audits = self._tables[table]
            old = [k for k, row in audits.items() if row["sys_created_on"] < before]
            for key in old:
                del audits[key]
            return len(old)

    def _log_deleted(self, record_class: str, sys_id: str, stamp: str) -> None:
        """The ``sys_audit`` row of a delete (KB0634666: all three values ``DELETED``)."""
        row = {
            "sys_id": f"{self._rng.getrandbits(128):032x}",
            "tablename": record_class,
            "documentkey": sys_id,
            "fieldname": "DELETED",
            "oldvalue": "DELETED",
            "newvalue": "DELETED",
            "user": "admin",
            "sys_created_on": stamp,
            "sys_updated_on": stamp,
        }
        self._tables[AUDIT][row["sys_id"]] = row

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
