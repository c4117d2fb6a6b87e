"""Deletes a complete listing reveals: loaded rows that Stripe no longer lists.

Stripe reports a delete only as a ``<object>.deleted`` event, and lists events of the
last 30 days only (../shared/stripe/README.md). Whenever sluice lists a deletable
resource in full without reading events (the first sync of a resource whose table
already exists, an events cursor older than the retention window), the objects deleted
meanwhile are simply missing from the listing. This module finds them: the ids a
complete listing returned are compared with the live rows (``deleted = false``) the
destination holds, and every live row the listing no longer returns becomes a delete row.

A delete row must not blank the object's other columns: the merge (``delete-insert``,
or ``upsert`` for Delta) replaces a row whole, nested rows included. So the row is
read back from the destination with its nested tables (``customers__preferred_locales``)
and rebuilt as the object it was loaded from (``address__city`` becomes
``address.city``, JSON columns are parsed, epoch timestamps come back as seconds), then
emitted with ``deleted = true`` and ``deleted_at`` = the re-list time. dlt (or the
columnar step) shapes it into exactly the columns and nested rows it had.

Only rows whose creation time lies in the listed range count (``sources.stripe.start_date``
leaves older objects unlisted, not deleted). A listing that returned an item without an
id is not known complete, so it marks nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Optional, Protocol

import dlt
import orjson
from dlt.common.configuration.container import Container
from dlt.common.pipeline import PipelineContext
from dlt.common.schema.utils import get_nested_tables, has_table_seen_data
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from sources.kit.idset import CompactKeySet
from sources.kit.redact import global_redactor

from .events import change_row
from .settings import StripeResource

logger = logging.getLogger("sluice.stripe")

ID_CHUNK = 500
"""Ids per ``IN (...)`` query (well under every destination's parameter limit)."""

FETCH_CHUNK = 10_000
"""Rows fetched at a time while reading the live ids."""

DLT_PREFIX = "_dlt_"
ROW_ID = "_dlt_id"
PARENT_ID = "_dlt_parent_id"
LIST_INDEX = "_dlt_list_idx"
SCALAR_VALUE = "value"
"""Column dlt stores the items of a list of scalars in."""


@dataclass
class ListedIds:
    """The ids one complete listing returned, 16 bytes each (32 MB for 2M objects).

    Attributes:
        ids: Ids of the listed objects (``in`` and ``len`` as for a set).
        unidentified: Listed items without a usable id (a malformed record); while any
            exist the listing is not known complete.
    """

    ids: CompactKeySet = field(default_factory=CompactKeySet)
    unidentified: int = 0

    def add(self, records: Iterable[Any]) -> None:
        """Remembers the ids of one batch of listed records."""
        found = []
        for record in records:
            obj_id = record.get("id") if isinstance(record, Mapping) else None
            if isinstance(obj_id, str) and obj_id:
                found.append(obj_id)
            else:
                self.unidentified += 1
        self.ids.update(found)


class LoadedTable(Protocol):
    """What the sweep reads from the destination table of one resource."""

    def live_keys(self) -> Iterator[tuple[str, Optional[int]]]:
        """Yields ``(id, created)`` of every row not marked deleted."""
        ...

    def objects(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The rows of ``ids`` rebuilt as objects, nested lists included."""
        ...


def unlisted_rows(
    listed: ListedIds, table: LoadedTable, *, gte: int, seen_at: int
) -> list[dict[str, Any]]:
    """Delete rows for the live rows of ``table`` that the listing no longer returned.

    Args:
        listed: The ids the complete listing returned.
        table: The resource's table in the destination.
        gte: The listing's lower creation-time bound (start date or Stripe's epoch).
        seen_at: When the deletes were noticed (the run start, unix seconds): their
            ``deleted_at``.

    Returns:
        The rows, each the object as loaded with ``deleted = true``.
    """
    missing = [
        obj_id
        for obj_id, created in table.live_keys()
        if obj_id not in listed.ids and created is not None and created >= gte
    ]
    if not missing:
        return []
    return [change_row(obj, deleted=True, seen_at=seen_at) for obj in table.objects(missing)]


def sweep_unlisted(
    spec: StripeResource, listed: ListedIds, *, gte: int, seen_at: int
) -> list[dict[str, Any]]:
    """Delete rows for what a complete listing of ``spec`` no longer returns.

    Reads the destination of the running pipeline. Nothing is marked when there is
    nothing to compare with (first load, a refresh dropping the table, no pipeline or
    no SQL access to the destination: logged) or the listing is not known complete.

    Args:
        spec: The listed (deletable) resource.
        listed: The ids the listing returned.
        gte: The listing's lower creation-time bound.
        seen_at: ``deleted_at`` of the delete rows.
    """
    if listed.unidentified:
        logger.warning(
            "stripe %s: %d listed object(s) had no usable id; not marking unlisted rows "
            "deleted this run (the listing is not known complete)",
            spec.name,
            listed.unidentified,
            extra={"resource": spec.name},
        )
        return []
    schema = dlt.current.source_schema()
    table = schema.tables.get(spec.name)
    if table is None or not has_table_seen_data(table):
        return []  # never loaded (or dropped by this run's refresh): nothing to compare
    if spec.name in refreshed_tables():
        return []
    try:
        with loaded_table(spec, schema) as loaded:
            if loaded is None:
                return []
            rows = unlisted_rows(listed, loaded, gte=gte, seen_at=seen_at)
    except DatabaseUndefinedRelation:
        logger.info("stripe %s: no table in the destination yet; nothing to mark", spec.name)
        return []
    except Exception as exc:  # noqa: BLE001 - a failed comparison must not fail the load
        logger.warning(
            "stripe %s: could not read the loaded rows to find deletes missed while no "
            "events were read (%s: %s); deleted objects stay live until their next change",
            spec.name,
            type(exc).__name__,
            global_redactor().redact_text(str(exc)).splitlines()[0] if str(exc) else "",
            extra={"resource": spec.name},
        )
        return []
    if rows:
        logger.info(
            "stripe %s: %d loaded object(s) no longer listed; marked deleted",
            spec.name,
            len(rows),
            extra={"resource": spec.name},
        )
    return rows


def refreshed_tables() -> set[str]:
    """Tables this run's ``refresh`` drops or truncates (their rows are not compared)."""
    try:
        state = dlt.current.load_package_state()["state"]
    except Exception:  # noqa: BLE001 - outside an extraction there is no refresh
        return set()
    names: set[str] = set()
    for key in ("dropped_tables", "truncated_tables"):
        for table in state.get(key) or ():  # type: ignore[attr-defined]
            names.add(str(table.get("name")))
    return names


@contextmanager
def loaded_table(spec: StripeResource, schema: dlt.Schema) -> Iterator[Optional[SqlLoadedTable]]:
    """The resource's table in the running pipeline's destination, read over SQL.

    Yields ``None`` (with a warning) when no pipeline runs or its destination has no SQL
    access.
    """
    context = Container()[PipelineContext]
    if not context.is_active():
        logger.warning(
            "stripe %s: no active pipeline to read loaded rows from; deletes missed while "
            "no events were read are not marked",
            spec.name,
        )
        yield None
        return
    pipeline = context.pipeline()
    try:
        # Built on a thread of its own: dlt injects config sections while it resolves the
        # client, and doing that on the extracting thread mangles the extraction's context
        # (ContainerInjectableContextMangled).
        with ThreadPoolExecutor(max_workers=1) as builder:
            client = builder.submit(pipeline.sql_client).result()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - destinations without SQL raise their own types
        logger.warning(
            "stripe %s: the destination offers no SQL access (%s); deletes missed while no "
            "events were read are not marked",
            spec.name,
            type(exc).__name__,
        )
        yield None
        return
    with client:
        yield SqlLoadedTable(client, schema, spec.name, spec.time_field)


class SqlLoadedTable:
    """A resource's destination table (and its nested tables), read through dlt's SQL client.

    Args:
        client: An open dlt SQL client of the pipeline's dataset.
        schema: The dlt schema the table was loaded with (nested tables, column types).
        table_name: The root table.
        time_field: The creation-time column (``created``; ``date`` for invoice items).
    """

    def __init__(self, client: Any, schema: dlt.Schema, table_name: str, time_field: str) -> None:
        self._client = client
        self._schema = schema
        self._table = table_name
        self._time_field = time_field

    def live_keys(self) -> Iterator[tuple[str, Optional[int]]]:
        """Yields ``(id, created)`` of every row not marked deleted."""
        c = self._client
        columns = ", ".join(c.escape_column_name(n) for n in ("id", self._time_field, "deleted"))
        table = c.make_qualified_table_name(self._table)
        sql = f"SELECT {columns} FROM {table}"  # noqa: S608 - identifiers escaped by the client
        live: dict[str, Optional[int]] = {}
        gone: set[str] = set()
        with c.execute_query(sql) as cursor:
            while chunk := cursor.fetchmany(FETCH_CHUNK):
                for obj_id, created, deleted in chunk:
                    if obj_id is None:
                        continue
                    if deleted is True:
                        gone.add(str(obj_id))
                    else:
                        live[str(obj_id)] = epoch_seconds(created)
        # A table that is appended to (plain Parquet files) keeps every version of a row;
        # an object with any deleted version is deleted (Stripe never reuses ids).
        for obj_id, created in live.items():
            if obj_id not in gone:
                yield obj_id, created

    def objects(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The rows of ``ids`` rebuilt as the objects they were loaded from."""
        newest: dict[str, dict[str, Any]] = {}
        for row in self._rows(self._table, "id", ids):
            # One row per id when merged; the newest load's when appended.
            known = newest.get(str(row["id"]))
            if known is None or load_order(row) >= load_order(known):
                newest[str(row["id"])] = row
        types = self._types(self._table)
        built = {str(row[ROW_ID]): rebuild(row, types) for row in newest.values()}
        self._attach_nested(built)
        return list(built.values())

    def _attach_nested(self, parents_by_row_id: dict[str, dict[str, Any]]) -> None:
        """Puts each nested table's rows back as lists into their parent objects."""
        built: dict[str, dict[str, dict[str, Any]]] = {self._table: parents_by_row_id}
        for nested in get_nested_tables(self._schema.tables, self._table, include_self=False):
            name, parent = str(nested["name"]), str(nested.get("parent"))
            parents = built.get(parent) or {}
            built[name] = {}
            if not parents or not has_table_seen_data(nested):
                continue
            try:
                rows = self._rows(name, PARENT_ID, list(parents))
            except DatabaseUndefinedRelation:
                continue  # declared in the schema, never created in this destination
            path = list_path(name, parent)
            types = self._types(name)
            items: dict[str, list[tuple[int, Any]]] = {}
            for row in sorted(rows, key=lambda r: r.get(LIST_INDEX) or 0):
                item = rebuild(row, types)
                data_columns = [k for k in row if not k.startswith(DLT_PREFIX)]
                value: Any = item.get(SCALAR_VALUE) if data_columns == [SCALAR_VALUE] else item
                items.setdefault(str(row[PARENT_ID]), []).append((row.get(LIST_INDEX) or 0, value))
                if isinstance(value, dict):
                    built[name][str(row[ROW_ID])] = value
            for parent_id, entries in items.items():
                put_path(parents[parent_id], path, [v for _, v in entries])

    def _rows(self, table: str, column: str, values: Sequence[str]) -> list[dict[str, Any]]:
        c = self._client
        found: list[dict[str, Any]] = []
        for start in range(0, len(values), ID_CHUNK):
            chunk = values[start : start + ID_CHUNK]
            qualified, key = c.make_qualified_table_name(table), c.escape_column_name(column)
            marks = ", ".join(["%s"] * len(chunk))
            # Identifiers escaped by the client, values bound as parameters.
            sql = f"SELECT * FROM {qualified} WHERE {key} IN ({marks})"  # noqa: S608
            with c.execute_query(sql, *chunk) as cursor:
                names = [d[0] for d in cursor.native_cursor.description]
                found.extend(dict(zip(names, row, strict=True)) for row in cursor.fetchall())
        return found

    def _types(self, table: str) -> dict[str, str]:
        columns = (self._schema.tables.get(table) or {}).get("columns") or {}
        return {name: str(col.get("data_type") or "") for name, col in columns.items()}


def load_order(row: Mapping[str, Any]) -> float:
    """A row's ``_dlt_load_id`` as a number (dlt's load ids are unix-time strings)."""
    try:
        return float(row.get("_dlt_load_id") or 0)
    except (TypeError, ValueError):
        return 0.0


def list_path(nested_table: str, parent_table: str) -> list[str]:
    """The key path of a nested table's list in its parent (``customers__tax_ids``)."""
    prefix = f"{parent_table}__"
    relative = nested_table[len(prefix) :] if nested_table.startswith(prefix) else nested_table
    return relative.split("__")


def rebuild(row: Mapping[str, Any], types: Mapping[str, str]) -> dict[str, Any]:
    """One loaded row as the object it came from: ``a__b`` columns back into ``{a: {b}}``.

    Null columns are left out (a missing key loads as null), dlt's own columns dropped,
    JSON columns parsed and whole-second timestamps turned back into epoch seconds, the
    form Stripe sends them in. A name that cannot nest (``a`` is already a value) stays
    flat; it normalizes into the same column either way.
    """
    obj: dict[str, Any] = {}
    for name, raw in row.items():
        if name.startswith(DLT_PREFIX) or raw is None:
            continue
        value = loaded_value(raw, types.get(name, ""))
        if value is None:
            continue
        put_path(obj, name.split("__"), value, flat_name=name)
    return obj


def put_path(
    obj: dict[str, Any], path: Sequence[str], value: Any, *, flat_name: Optional[str] = None
) -> None:
    """Sets ``obj[path[0]]...[path[-1]] = value``, creating dicts on the way.

    When the path runs into a value that is not a dict, the value is stored under
    ``flat_name`` (its column name) at the top instead.
    """
    target = obj
    for key in path[:-1]:
        nxt = target.setdefault(key, {})
        if not isinstance(nxt, dict):
            obj[flat_name or "__".join(path)] = value
            return
        target = nxt
    if isinstance(target.get(path[-1]), dict) and not isinstance(value, dict):
        obj[flat_name or "__".join(path)] = value
        return
    target[path[-1]] = value


def loaded_value(value: Any, data_type: str) -> Any:
    """A value read from the destination in the form the source sent it."""
    if data_type == "json" and isinstance(value, (str, bytes)):
        return orjson.loads(value)
    if isinstance(value, datetime) and data_type == "timestamp":
        return epoch_seconds(value) if value.microsecond == 0 else value
    return value


def epoch_seconds(value: Any) -> Optional[int]:
    """Unix seconds of a loaded creation time (timestamp or integer column)."""
    if isinstance(value, datetime):
        # dlt loads timestamps as UTC; a destination answering naive ones means UTC too.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return int(aware.timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None
