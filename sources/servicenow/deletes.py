"""Deletions ``sys_audit_delete`` and ``sys_audit`` record, for a table and its subclasses.

ServiceNow files a delete under the deleted record's own class: a ``cmdb_ci_linux_server``
removed is ``tablename = cmdb_ci_linux_server``, never ``cmdb_ci``. So the classes of a
table are read from ``sys_db_object`` (``super_class`` is the parent's sys_id) and the
audit rows are asked for with ``tablenameIN<classes>`` (the encoded query's "is one of":
ServiceNow docs "Operators available for filters and queries",
https://www.servicenow.com/docs/r/platform-user-interface/r_OpAvailableFiltersQueries.html).
``tablenameSTARTSWITHcmdb_ci`` would also match tables outside the class tree.

``sys_audit_delete`` keeps the deleted record (``payload``), but sys_ tables,
``no_audit_delete`` tables, the ``glide.db.audit.ignore.delete`` list and Table Cleaner
deletes leave no row there, and instances purge old rows (sources in
sandbox/servicenow/audit.py). ``sys_audit`` also logs a delete of a table that is not
audited, as a row with ``fieldname = DELETED`` (ServiceNow KB0634666) but without the
record: those rows are read back from the destination. Table Cleaner deletes and
``no_audit_delete`` tables leave neither; the periodic sys_id scan (``fullscan.py``) covers
them. A user who may not read an audit table gets one warning line; the records still load.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from sources.kit.errors import SluiceError
from sources.kit.loaded import destination_sql, has_loaded, rows_by_key

from .access import AccessDeniedError
from .client import Page, ServiceNowClient
from .records import newest, tombstone
from .settings import AUDIT_DELETE_TABLE, LIST_PARAMS, PRIMARY_KEY

logger = logging.getLogger("sluice.servicenow")

TABLES_TABLE = "sys_db_object"
AUDIT_TABLE = "sys_audit"
CLASS_CHUNK = 100
"""Class names per ``IN`` list (keeps URLs short on CMDB tables with hundreds of classes)."""
MAX_DEPTH = 32
"""Levels of ``super_class`` followed (CMDB trees are under ten deep)."""

_warned: set[tuple[str, ...]] = set()
_warned_lock = threading.Lock()


@dataclass
class AuditScan:
    """What one table's ``sys_audit_delete`` read found.

    Attributes:
        newest: Newest ``sys_created_on`` of the audit rows read.
        denied: The user may not read ``sys_audit_delete``.
        keys: sys_ids the audit reported deleted.
    """

    newest: Optional[str] = None
    denied: bool = False
    keys: set[str] = field(default_factory=set)
    classes: list[str] = field(default_factory=list)


def query_params(query: str, fields: str = "") -> dict[str, str]:
    """The Table API parameters of a metadata listing."""
    params = {"sysparm_query": query, **LIST_PARAMS}
    if fields:
        params["sysparm_fields"] = fields
    return params


def chunks(names: Sequence[str], size: int = CLASS_CHUNK) -> Iterator[list[str]]:
    """``names`` in lists of at most ``size``."""
    for start in range(0, len(names), size):
        yield list(names[start : start + size])


def class_rows(client: ServiceNowClient, query: str, table: str) -> dict[str, str]:
    """``{sys_id: name}`` of the ``sys_db_object`` rows matching ``query``."""
    found: dict[str, str] = {}
    params = query_params(query, "sys_id,name")
    for page in client.list_pages(TABLES_TABLE, params=params, label=f"{table}_classes"):
        for row in page.records:
            if isinstance(row, dict) and row.get("sys_id") and row.get("name"):
                found[str(row["sys_id"])] = str(row["name"])
    return found


def descendant_classes(client: ServiceNowClient, table: str, run_id: str = "") -> list[str]:
    """``table`` and every class extending it, level by level through ``super_class``.

    Falls back to ``table`` alone (one warning) when ``sys_db_object`` cannot be read.
    """
    try:
        level = class_rows(client, f"name={table}", table)
        names = [table]
        for _ in range(MAX_DEPTH):
            if not level:
                break
            children: dict[str, str] = {}
            for ids in chunks(sorted(level)):
                children.update(class_rows(client, "super_classIN" + ",".join(ids), table))
            level = {k: v for k, v in children.items() if v not in names}
            names.extend(sorted(level.values()))
        return names
    except SluiceError as exc:
        warn_once(
            (run_id, TABLES_TABLE, table),
            "servicenow %s: cannot read sys_db_object (%s); deletions of records of classes "
            "extending %s are found by the periodic sys_id scan only",
            table,
            exc,
            table,
        )
        return [table]


def deletes_queries(classes: Sequence[str], since: str, extra: str = "") -> list[str]:
    """``sysparm_query`` texts for the audit rows of ``classes`` created at or after ``since``.

    Args:
        classes: The table and its subclasses.
        since: Glide time of the oldest row wanted.
        extra: More conditions (``fieldname=DELETED^`` for ``sys_audit``).
    """
    order = f"{extra}sys_created_on>={since}^ORDERBYsys_created_on^ORDERBYsys_id"
    if len(classes) == 1:
        return [f"tablename={classes[0]}^{order}"]
    return [f"tablenameIN{','.join(part)}^{order}" for part in chunks(classes)]


def audit_pages(
    client: ServiceNowClient,
    table: str,
    since: str,
    scan: AuditScan,
    run_id: str = "",
    audit_table: str = AUDIT_DELETE_TABLE,
) -> Iterator[Page]:
    """Audit pages of ``table``'s classes since ``since`` (classes looked up once a scan)."""
    if not scan.classes:
        scan.classes = descendant_classes(client, table, run_id)
    extra = "fieldname=DELETED^" if audit_table == AUDIT_TABLE else ""
    for query in deletes_queries(scan.classes, since, extra):
        yield from client.list_pages(
            audit_table, params=query_params(query), label=f"{table}_deletes"
        )


def audit_tombstones(
    client: ServiceNowClient, table: str, since: str, scan: AuditScan, run_id: str = ""
) -> Iterator[list[dict[str, Any]]]:
    """Pages of ``deleted = true`` rows from ``sys_audit_delete``; a 403 ends it with a warning.

    Args:
        client: The run's client.
        table: The loaded table (``cmdb_ci``).
        since: Glide time of the oldest audit row wanted.
        scan: Filled with the newest audit time, the keys, and whether access was denied.
        run_id: The run (the 403 warning is logged once per run).
    """
    try:
        for page in audit_pages(client, table, since, scan, run_id):
            audits = [a for a in page.records if isinstance(a, dict)]
            rows = []
            for audit in audits:
                scan.newest = newest(scan.newest, audit.get("sys_created_on"))
                # The payload is an XML element named after the record's class.
                rows.append(tombstone(audit, str(audit.get("tablename") or table)))
                scan.keys.add(str(audit.get("documentkey") or ""))
            if rows:
                yield rows
    except AccessDeniedError as exc:
        if exc.table != AUDIT_DELETE_TABLE:
            raise
        scan.denied = True
        warn_once(
            (run_id, AUDIT_DELETE_TABLE, "" if run_id else table),
            "servicenow: %s; records still load, deletions come from the periodic sys_id scan only",
            exc,
        )


def logged_tombstones(
    client: ServiceNowClient, table: str, since: str, scan: AuditScan, run_id: str = ""
) -> Iterator[list[dict[str, Any]]]:
    """``deleted = true`` rows for the ``sys_audit`` DELETED entries ``sys_audit_delete`` lacked.

    The entry has no record, so the row is read back from the destination (a record
    never loaded has nothing to mark). A 403 ends it with one warning line.
    """
    logged: dict[str, str] = {}
    try:
        for page in audit_pages(client, table, since, scan, run_id, AUDIT_TABLE):
            for entry in page.records:
                key, at = str(entry.get("documentkey") or ""), entry.get("sys_created_on")
                scan.newest = newest(scan.newest, at)
                if key and key not in scan.keys:
                    logged[key] = str(at or "")
    except AccessDeniedError as exc:
        if exc.table != AUDIT_TABLE:
            raise
        warn_once(
            (run_id, AUDIT_TABLE, "" if run_id else table),
            "servicenow: %s; deletes of unaudited tables come from the periodic sys_id scan",
            exc,
        )
    rows = loaded_rows(table, sorted(logged))
    for row in rows:
        row["deleted"], row["deleted_at"] = True, logged.get(str(row.get(PRIMARY_KEY))) or None
    scan.keys.update(logged)
    if rows:
        yield rows


def loaded_rows(table: str, keys: list[str]) -> list[dict[str, Any]]:
    """The destination rows of ``keys`` (none when nothing was loaded before)."""
    if not keys or not has_loaded(table):
        return []
    with destination_sql(f"servicenow {table}") as sql:
        return rows_by_key(sql, table, PRIMARY_KEY, keys) if sql is not None else []


def warn_once(key: tuple[str, ...], message: str, *args: Any) -> None:
    """Logs ``message`` once per ``key`` (a run id and what failed): tables run in parallel."""
    with _warned_lock:
        seen = key in _warned
        _warned.add(key)
    logger.log(logging.DEBUG if seen else logging.WARNING, message, *args)
