"""Pages of records as Arrow tables shaped like dlt's relational normalizer output.

dlt normalizes dict records row by row in Python (a few thousand Stripe objects per
second on a small machine). :class:`ArrowPages` shapes a whole page at once and hands dlt
an Arrow table, which dlt writes straight to parquet and loads without a second
normalization pass. The root rows are the ones dlt itself produces for the same records:

- nested dicts flattened into ``parent__child`` columns up to the schema's
  ``max_nesting``, deeper values kept whole in ``json`` columns;
- ``_dlt_load_id`` and a random ``_dlt_id`` (the row key nested tables point at);
- column types follow the live dlt schema and the resource's declared hints (epoch
  seconds into ``timestamp`` columns, ints into ``double``...); a new column takes the
  type of its first value, as in dlt.

Records that would produce nested rows (a non-empty list at a level dlt turns into a
nested table) are handed back untouched and go through dlt's own normalizer: dlt 1.x
creates nested tables only in normalize, and keeping them there keeps their ids, the
root key propagation and the merge of nested rows exactly dlt's. Both kinds of rows land
in the same root table within one load package, so merge and delete semantics are
unchanged. (dlt 1.31 cannot take a nested table's rows from extraction: an item for a
table with ``parent`` breaks the extract metrics, which look up the table's
``resource``, and a ``resource`` on a nested table is refused when schemas merge.)

:class:`ColumnarStep` also converts, each with its own converter, the lists a resource
marks as table variants of their own (child tables split off the parents, see
``sources.kit.connector.children``), and with ``lists=True`` plain lists of records (a
resource whose ``dlt.sources.incremental`` must read dicts; the step then goes behind
it, see :func:`add_columnar_step`).

A record whose value cannot be coerced to its column's type is returned as rejected
with a one-line reason (no values in it), for the caller's dead-letter guard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Optional, Protocol

import dlt
import orjson
import pendulum
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.data_types.type_helpers import coerce_value, py_type_to_sc_type
from dlt.common.data_types.typing import TDataType
from dlt.common.normalizers.json.helpers import get_row_hash
from dlt.common.normalizers.naming.snake_case import NamingConvention as SnakeCaseNaming
from dlt.common.normalizers.utils import generate_dlt_ids
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns
from dlt.extract.hints import HintsMeta, TResourceHints
from dlt.extract.items_transform import YieldMapItem
from dlt.extract.resource import DltResource

from .idset import CompactKeySet
from .validation import DEFAULT_MAX_NESTING, EMPTY_KEY, SchemaGetter, current_source_schema

logger = logging.getLogger(__name__)

C_LOAD_ID = "_dlt_load_id"
C_ID = "_dlt_id"

JSON: TDataType = "json"
TIMESTAMP: TDataType = "timestamp"

ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),
    "date": pa.date32(),
    "binary": pa.binary(),
}
"""Arrow type of each dlt data type, as dlt writes them to parquet."""

INPUT_TYPES: dict[str, pa.DataType] = {
    **ARROW_TYPES,
    "timestamp": pa.timestamp("s", tz="UTC"),
}
"""Arrow types Python values are converted into (epoch seconds for timestamps)."""

EPOCH_SECONDS = pa.float64()
"""Input type of a timestamp column on a page with sub-second values (then microseconds)."""

FAST_TYPES: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "bigint": (int,),
    "double": (float, int),
    "bool": (bool,),
    "timestamp": (int,),
}
"""Python types taken as they are for a dlt type (anything else goes through coercion)."""

DLT_HINTS: dict[str, TColumnSchema] = {
    C_LOAD_ID: {"data_type": "text", "nullable": False},
    C_ID: {"data_type": "text", "nullable": False, "unique": True, "row_key": True},
}
"""dlt's own root columns, declared as dlt's normalizer declares them."""

LoadIdGetter = Callable[[], str]
IdFactory = Callable[[int], list[str]]


class CoercionError(ValueError):
    """A value cannot be loaded into its column's type."""


def current_load_id() -> str:
    """The load id of the package being extracted (dlt's ``_dlt_load_id``)."""
    return str(dlt.current.load_package_state()["load_id"])


@dataclass
class Page:
    """One page converted.

    Attributes:
        items: Arrow items for dlt (the root table, with hints when new columns need them).
        rows: Rows in the Arrow items.
        records: Records left to dlt's normalizer (they have nested rows).
        rejected: Records that cannot be loaded as typed, with one-line reasons.
    """

    items: list[Any] = field(default_factory=list)
    rows: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[Any, str]] = field(default_factory=list)


class _Slot:
    """What to do with the values of one key under one prefix (computed once per run).

    Attributes:
        name: The column name.
        descends: Dicts here are flattened (and lists become nested tables).
        data_type: The column's dlt type, once known.
        accepted: Python types stored as they are (``None`` always is).
        children: The slots of the keys of a dict found here.
    """

    __slots__ = ("accepted", "children", "data_type", "descends", "name")

    def __init__(
        self,
        name: str,
        descends: bool,
        data_type: Optional[TDataType],
        children: Optional[dict[Any, _Slot]] = None,
    ) -> None:
        self.name = name
        self.descends = descends
        self.data_type = data_type
        self.accepted = frozenset((type(None), *FAST_TYPES.get(data_type or "", ())))
        self.children: dict[Any, _Slot] = {} if children is None else children


class ArrowPages:
    """Converts pages of records of one resource into Arrow tables for dlt.

    Per run it compiles, for every key path it meets, the column name, whether dicts
    there are flattened, and the Python types stored as they are, so a record costs a
    few dictionary lookups per value; Arrow builds the columns in C++.

    Example:
        ```python
        pages = ArrowPages("charges", declared=column_hints)
        page = pages.convert(records)
        yield from page.items            # arrow table(s) for charges
        yield page.records               # records with nested rows: dlt normalizes them
        ```
    """

    def __init__(
        self,
        table_name: str,
        *,
        declared: Optional[Mapping[str, TColumnSchema]] = None,
        schema_getter: Optional[SchemaGetter] = None,
        load_id: LoadIdGetter = current_load_id,
        ids: IdFactory = generate_dlt_ids,
        key_hash_ids: Optional[str] = None,
    ) -> None:
        """Creates the converter for one resource (one root table).

        Args:
            table_name: The root table (the resource's table name, normalized already).
            declared: The resource's column hints; their types win over inferred ones.
            schema_getter: Returns the live dlt schema (types, naming, max nesting);
                :func:`dlt.current.source_schema` inside extraction.
            load_id: Returns the current load id.
            ids: Makes ``n`` random root row ids.
            key_hash_ids: Derive each root ``_dlt_id`` from this key column instead, as
                dlt does for the ``upsert`` merge strategy (its nested rows are matched
                to their root by it).
        """
        self.table_name = table_name
        self._key_hash_ids = key_hash_ids
        named = {str(hint.get("name") or name): hint for name, hint in (declared or {}).items()}
        self._declared = column_types(named)  # type: ignore[arg-type]
        self._declared_not_null = {n for n, h in named.items() if h.get("nullable") is False}
        self._schema_getter = schema_getter or current_source_schema
        self._load_id = load_id
        self._ids = ids
        self._schema: Optional[dlt.Schema] = None
        self._naming: Any = None
        self._max_nesting = DEFAULT_MAX_NESTING
        self._types: dict[str, TDataType] = {}
        self._not_null: tuple[str, ...] = ()
        self._announced: set[str] = set()
        self._root_plan: dict[Any, _Slot] = {}
        self._columns: dict[str, None] = {}
        self._preferred_json: dict[str, bool] = {}
        self._sub_second: set[str] = set()

    def convert(self, records: Sequence[Any]) -> Page:
        """Shapes one page of records into an Arrow table.

        Args:
            records: Records as dicts (already admitted by the caller's guard).

        Returns:
            The Arrow items, the records left to dlt's normalizer and the rejected ones.
        """
        self._refresh(self._schema_getter())
        page = Page()
        rows: list[dict[str, Any]] = []
        for record in records:
            if not isinstance(record, dict):
                page.rejected.append((record, "expected a JSON object"))
                continue
            try:
                row, nested = self._flatten(record)
            except CoercionError as exc:
                page.rejected.append((record, str(exc)))
                continue
            reason = self._not_null_violation(row)
            if reason:
                page.rejected.append((record, reason))
            elif nested:
                page.records.append(record)
            else:
                rows.append(row)
        if rows:
            load_id = self._load_id()
            for row, row_id in zip(rows, self._row_ids(rows), strict=True):
                row[C_LOAD_ID] = load_id
                row[C_ID] = row_id
            page.items.append(self._item(rows))
            page.rows = len(rows)
        return page

    def _row_ids(self, rows: list[dict[str, Any]]) -> list[str]:
        key = self._key_hash_ids
        if key is None:
            return self._ids(len(rows))
        return [get_row_hash({key: row.get(key)}, subset=[key]) for row in rows]

    # ----------------------------------------------------------------- shaping

    def _flatten(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
        """The record's typed root row, and whether it also has nested rows."""
        row: dict[str, Any] = {}
        nested = self._flatten_into(row, record, self._root_plan, "", self._max_nesting)
        return row, nested

    def _flatten_into(
        self,
        row: dict[str, Any],
        current: Mapping[str, Any],
        plan: dict[Any, _Slot],
        prefix: str,
        level: int,
    ) -> bool:
        """Adds the columns of ``current`` (one nesting level) to ``row``; the hot loop."""
        nested = False
        for key, value in current.items():
            slot = plan.get(key)
            if slot is None:
                slot = self._slot(plan, prefix, key, level)
            value_type = type(value)
            if value_type in slot.accepted:
                row[slot.name] = value
            elif slot.descends and value_type is dict:
                if self._flatten_into(row, value, slot.children, slot.name, level - 1):
                    nested = True
            elif slot.descends and value_type is list:
                if value:
                    nested = True
            else:
                row[slot.name] = self._slow_value(plan, key, slot, value)
        return nested

    def _slot(self, plan: dict[Any, _Slot], prefix: str, key: Any, level: int) -> _Slot:
        """Compiles what to do with ``key`` under ``prefix``."""
        text = key if isinstance(key, str) else str(key)
        norm = EMPTY_KEY if not text or text.isspace() else str(self._naming.normalize_path(text))
        name = str(self._naming.shorten_fragments(prefix, norm)) if prefix else norm
        data_type = self._types.get(name)
        slot = plan[key] = _Slot(name, self._descends(name, data_type, level), data_type)
        self._columns.setdefault(name, None)
        return slot

    def _slow_value(self, plan: dict[Any, _Slot], key: Any, slot: _Slot, value: Any) -> Any:
        """A value the slot's fast path did not take: new column, JSON or coercion."""
        name = slot.name
        data_type = self._types.get(name)
        if data_type is None:
            data_type = self._types[name] = infer_type(value)
        if data_type != slot.data_type:
            descends = slot.descends and data_type != JSON
            fresh = plan[key] = _Slot(name, descends, data_type, slot.children)
            if type(value) in fresh.accepted:
                return value
        if data_type == JSON:
            return orjson.dumps(value).decode()
        coerced = coerce(name, value, data_type)
        if data_type == TIMESTAMP and isinstance(coerced, datetime) and coerced.microsecond:
            # the page builds timestamps from epoch seconds: this column goes in finer
            self._sub_second.add(name)
        return coerced

    def _descends(self, name: str, data_type: Optional[TDataType], level: int) -> bool:
        """Whether a dict is flattened (or a list becomes a nested table) here, as in dlt."""
        if level <= 0:
            return False
        if data_type is not None:
            return data_type != JSON
        preferred = self._preferred_json.get(name)
        if preferred is None:
            schema = self._schema
            preferred = schema is not None and schema.get_preferred_type(name) == JSON
            self._preferred_json[name] = preferred
        return not preferred

    def _not_null_violation(self, row: Mapping[str, Any]) -> Optional[str]:
        for name in self._not_null:
            if row.get(name) is None:
                return f"column '{name}' is not nullable but is missing or null"
        return None

    # ------------------------------------------------------------------ arrow

    def _item(self, rows: list[dict[str, Any]]) -> Any:
        """The Arrow table, with the hints dlt cannot infer from Arrow."""
        fine, self._sub_second = self._sub_second, set()
        fields = [
            pa.field(
                name, pa.float64() if name in fine else INPUT_TYPES.get(data_type, pa.string())
            )
            for name in [*self._columns, C_LOAD_ID, C_ID]
            if (data_type := self._type_of(name)) is not None
        ]
        if fine:
            as_epoch_seconds(rows, fine)
        table = pa.Table.from_struct_array(pa.array(rows, type=pa.struct(fields)))
        for name in fine:
            table = epoch_seconds_to_timestamps(table, name)
        table = finish_columns(table, self._not_null)
        hints = self._new_hints(table.column_names)
        if hints:
            return dlt.mark.with_hints(table, dlt.mark.make_hints(columns=hints))
        return table

    def _type_of(self, name: str) -> Optional[TDataType]:
        hint = DLT_HINTS.get(name)
        if hint is not None:
            return hint.get("data_type")
        return self._types.get(name)

    def _new_hints(self, names: Iterable[str]) -> dict[str, TColumnSchema]:
        """Hints dlt cannot infer from Arrow (json, row key) for columns new in this run."""
        hints: dict[str, TColumnSchema] = {}
        for name in names:
            if name in self._announced:
                continue
            self._announced.add(name)
            if name in DLT_HINTS:
                hints[name] = dict(DLT_HINTS[name])  # type: ignore[assignment]
            elif self._types.get(name) == JSON:
                hints[name] = {"data_type": "json"}
        return hints

    def _refresh(self, schema: Optional[dlt.Schema]) -> None:
        """Takes the live schema's naming, nesting and column types for this page."""
        self._schema = schema
        naming = schema.naming if schema is not None else None
        if naming is None:
            naming = self._naming if self._naming is not None else SnakeCaseNaming()
        nesting = schema_max_nesting(schema, self.table_name)
        if naming is not self._naming or nesting != self._max_nesting:
            self._naming, self._max_nesting = naming, nesting
            self._root_plan = {}
        table = schema.tables.get(self.table_name) if schema is not None else None
        not_null = set(self._declared_not_null)
        if table is not None:
            columns = table["columns"]
            spell_out_nullable(columns)
            for name, data_type in column_types(columns).items():
                self._types.setdefault(name, data_type)
            not_null.update(
                n for n, c in columns.items() if c.get("nullable") is False and n not in DLT_HINTS
            )
        self._types.update(self._declared)
        self._not_null = tuple(sorted(not_null))


def schema_max_nesting(schema: Optional[dlt.Schema], table_name: str) -> int:
    """How deep dlt flattens dicts for ``table_name`` (table hint, then schema setting)."""
    if schema is None:
        return DEFAULT_MAX_NESTING
    table = schema.tables.get(table_name) or {}
    table_nesting = (table.get("x-normalizer") or {}).get("max_nesting")  # type: ignore[attr-defined]
    if table_nesting is not None:
        return int(table_nesting)
    config = (schema._normalizers_config.get("json") or {}).get("config") or {}
    return int(config.get("max_nesting", DEFAULT_MAX_NESTING))


def spell_out_nullable(columns: TTableSchemaColumns) -> None:
    """Writes ``nullable: true`` on typed columns that only imply it.

    Columns declared by resource hints are stored without ``nullable`` (dlt reads a
    missing flag as nullable). Columns computed from Arrow always carry the flag, and
    dlt's ``data_type`` contract counts a flag that appears as a type change; spelling
    the implied value out keeps the schema's meaning and the contract quiet.
    """
    for column in columns.values():
        if column.get("data_type") and "nullable" not in column:
            column["nullable"] = True


def column_types(columns: TTableSchemaColumns) -> dict[str, TDataType]:
    """The known data type of each (non-variant) column."""
    types: dict[str, TDataType] = {}
    for name, column in columns.items():
        data_type = column.get("data_type")
        if data_type and not column.get("variant"):
            types[name] = data_type
    return types


def infer_type(value: Any) -> TDataType:
    """dlt's data type for a Python value (dicts and lists kept whole are ``json``)."""
    if isinstance(value, (dict, list)):
        return JSON
    return py_type_to_sc_type(type(value))


def coerce_timestamp(name: str, value: Any) -> datetime:
    """A timestamp column's value as an aware datetime (epoch seconds, ISO text...).

    Raises:
        CoercionError: dlt would put the value into a variant column.
    """
    try:
        coerced = coerce_value("timestamp", py_type_to_sc_type(type(value)), value)
    except Exception as exc:  # noqa: BLE001 - any failure is a variant in dlt
        raise CoercionError(
            f"column '{name}': {type(value).__name__} value is not coercible to timestamp"
        ) from exc
    if isinstance(coerced, datetime):
        return coerced
    if isinstance(coerced, date):
        return pendulum.datetime(coerced.year, coerced.month, coerced.day)
    raise CoercionError(f"column '{name}': {type(value).__name__} value is not a timestamp")


def coerce(name: str, value: Any, data_type: TDataType) -> Any:
    """Coerces a value the fast path did not take, the way dlt's normalizer would.

    Raises:
        CoercionError: dlt would put the value into a variant column.
    """
    if data_type == JSON:
        return value
    if isinstance(value, bool) and data_type in ("bigint", "double", "timestamp"):
        raise CoercionError(f"column '{name}': bool value is not coercible to {data_type}")
    if data_type == TIMESTAMP:
        return coerce_timestamp(name, value)
    try:
        from_type = py_type_to_sc_type(type(value))
        coerced = coerce_value(data_type, from_type, value)
    except Exception as exc:  # noqa: BLE001 - any failure is a variant in dlt
        raise CoercionError(
            f"column '{name}': {type(value).__name__} value is not coercible to {data_type}"
        ) from exc
    if callable(coerced):
        raise CoercionError(
            f"column '{name}': {type(value).__name__} value would go to a variant column"
        )
    if isinstance(coerced, Decimal) and data_type == "double":
        return float(coerced)
    return coerced


def as_epoch_seconds(rows: list[dict[str, Any]], names: Iterable[str]) -> None:
    """Turns the datetimes of ``names`` into float epoch seconds, in place (sub-second
    values: an Arrow ``timestamp("s")`` column would drop their fraction silently)."""
    for row in rows:
        for name in names:
            value = row.get(name)
            if isinstance(value, datetime):
                row[name] = value.timestamp()


def epoch_seconds_to_timestamps(table: pa.Table, name: str) -> pa.Table:
    """Replaces a float epoch-seconds column by microsecond timestamps (rounded)."""
    index = table.schema.get_field_index(name)
    micros = pc.cast(pc.round(pc.multiply(table.column(index), 1_000_000)), pa.int64())
    arrow_type = ARROW_TYPES[TIMESTAMP]
    return table.set_column(index, pa.field(name, arrow_type), micros.cast(arrow_type))


def finish_columns(table: pa.Table, not_null: Iterable[str]) -> pa.Table:
    """Final Arrow types (microsecond timestamps) and nullability as dlt declares them."""
    required = {*not_null, *DLT_HINTS}
    fields = []
    for field_ in table.schema:
        arrow_type = field_.type
        if pa.types.is_timestamp(arrow_type):
            arrow_type = ARROW_TYPES[TIMESTAMP]
        nullable = field_.name not in required or table.column(field_.name).null_count > 0
        fields.append(pa.field(field_.name, arrow_type, nullable=nullable))
    # Only the columns whose type changes are cast: a whole-table cast copies every
    # column (it was ~12% of a Stripe extraction's time); nullability is schema metadata.
    columns = [
        column if column.type == field_.type else column.cast(field_.type)
        for column, field_ in zip(table.columns, fields, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


class RecordPage:
    """A page of admitted records on its way to the :class:`ColumnarStep`.

    Not a list, so dlt hands it to pipe steps whole instead of record by record; steps
    that look at records iterate :attr:`records`.
    """

    __slots__ = ("records",)

    def __init__(self, records: list[dict[str, Any]]) -> None:
        """Wraps the records of one page."""
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"RecordPage({len(self.records)} records)"


class Rejecter(Protocol):
    """Turns a record the converter refused into dead-letter items (a RecordGuard)."""

    def reject(self, raw: Any, reason: str) -> Iterator[Any]:
        """Yields the dead-letter items for ``raw``."""
        ...


class ColumnarStep:
    """The last pipe step of a resource: record pages in, Arrow tables out.

    Anything that is not a :class:`RecordPage` (dead letters, state items) passes through.
    Records the converter refuses are dead-lettered through ``rejecter``, and
    ``on_rejected(n)`` corrects the run ledger's counts.

    With ``unique_key`` the step also passes each key at most once per run (a later copy
    of an object already sent is dropped and counted through ``on_duplicates``), so
    the resource can declare its load package deduplicated and spare the destination
    the merge's dedup pass (a window over the whole staging table).
    """

    def __init__(
        self,
        pages: ArrowPages,
        rejecter: Rejecter,
        on_rejected: Optional[Callable[[int], None]] = None,
        *,
        unique_key: Optional[str] = None,
        on_duplicates: Optional[Callable[[int], None]] = None,
        lists: bool = False,
        child_tables: bool = False,
    ) -> None:
        """Creates the step.

        Args:
            pages: The converter of this resource.
            rejecter: Dead-letters refused records (the resource's RecordGuard).
            on_rejected: Called with the number of records refused on a page.
            unique_key: Top-level key each record is passed once per run by (record
                pages only).
            on_duplicates: Called with the number of repeated records dropped on a page.
            lists: Also convert plain lists of records without table hints (a resource
                whose records pass dlt's incremental step first, which wants dicts).
            child_tables: Also convert lists marked as table variants with
                ``dlt.mark.with_hints(..., create_table_variant=True)`` (child tables
                split off the parents), one converter per table, with the child's hints.
        """
        self.pages = pages
        self._rejecter = rejecter
        self._on_rejected = on_rejected
        self._unique_key = unique_key
        self._on_duplicates = on_duplicates
        self._lists = lists
        self._child_tables = child_tables
        self._children: dict[str, ArrowPages] = {}
        self._seen = CompactKeySet()  # 16 bytes per key: flat memory on 2M-object syncs

    def _first_copies(self, records: list[Any]) -> list[Any]:
        """The records whose key was not passed before in this run."""
        key = self._unique_key
        keyed = [(r, r.get(key) if isinstance(r, dict) else None) for r in records]
        first = iter(self._seen.add_new([value for _, value in keyed if value is not None]))
        fresh = [record for record, value in keyed if value is None or next(first)]
        if len(fresh) < len(records):
            logger.info("dropped %d repeated record(s)", len(records) - len(fresh))
            if self._on_duplicates is not None:
                self._on_duplicates(len(records) - len(fresh))
        return fresh

    def __call__(self, item: Any, meta: Any = None) -> Iterator[Any]:
        """Converts one page; passes other items through."""
        if isinstance(item, RecordPage):
            records = item.records
            if self._unique_key is not None:
                records = self._first_copies(records)
            yield from self._converted(self.pages.convert(records))
        elif type(item) is list and item:
            variant = child_table_hints(meta) if self._child_tables else None
            if variant is not None:
                yield from self._child_page(item, variant)
            elif self._lists and meta is None:
                yield from self._converted(self.pages.convert(item))
            else:
                yield item
        else:
            yield item

    def _converted(self, page: Page) -> Iterator[Any]:
        """The root table's items, the records left to dlt and the dead letters."""
        yield from page.items
        if page.records:
            yield page.records
        yield from self._rejected(page)

    def _rejected(self, page: Page) -> Iterator[Any]:
        for raw, reason in page.rejected:
            yield from self._rejecter.reject(raw, reason)
        if page.rejected and self._on_rejected is not None:
            self._on_rejected(len(page.rejected))

    def _child_page(self, rows: list[Any], hints: TResourceHints) -> Iterator[Any]:
        """Rows of a child table (its own root table, a hints variant of the resource)."""
        table_name = str(hints["table_name"])
        pages = self._children.get(table_name)
        if pages is None:
            declared = hints.get("original_columns") or hints.get("columns") or {}
            pages = self._children[table_name] = ArrowPages(
                table_name,
                declared=declared,  # type: ignore[arg-type]
                schema_getter=self.pages._schema_getter,
                load_id=self.pages._load_id,
                ids=self.pages._ids,
            )
        page = pages.convert(rows)
        for arrow_item in page.items:
            # The child's own hints go with every item: a bare table would land in the
            # resource's root table, and new json columns belong to the child table.
            table = getattr(arrow_item, "data", arrow_item)
            extra = (
                arrow_item.meta.hints.get("original_columns") if table is not arrow_item else None
            )
            yield dlt.mark.with_hints(table, variant_hints(hints, extra), create_table_variant=True)
        # Child rows never passed the parents' guard (nor the run ledger): rows with nested
        # rows or values that do not fit go to dlt's normalizer as before (a variant column).
        left = [*page.records, *(raw for raw, _ in page.rejected)]
        if left:
            yield dlt.mark.with_hints(left, variant_hints(hints, None), create_table_variant=True)


def child_table_hints(meta: Any) -> Optional[TResourceHints]:
    """The hints of a list marked as a table variant of plain (non-upsert) merge or
    append, else ``None``.

    Upsert tables derive ``_dlt_id`` from their primary key, and nested tables need dlt's
    normalizer: those lists keep going to it.
    """
    if not isinstance(meta, HintsMeta) or not meta.create_table_variant:
        return None
    hints = meta.hints
    table_name = hints.get("table_name")
    if (
        not isinstance(table_name, str)
        or table_name.startswith("_")
        or hints.get("parent_table_name")
    ):
        # dlt's own and sluice's bookkeeping tables (dead letters) stay as they are
        return None
    disposition = hints.get("write_disposition")
    if isinstance(disposition, dict) and disposition.get("strategy") not in (None, "delete-insert"):
        return None
    if callable(disposition) or any(callable(hints.get(k)) for k in ("columns", "primary_key")):
        return None
    return hints


def variant_hints(hints: TResourceHints, extra: Optional[Any]) -> TResourceHints:
    """A fresh copy of a variant's hints (dlt writes into them), plus column hints."""
    columns = {
        name: dict(hint)
        for name, hint in (hints.get("original_columns") or hints.get("columns") or {}).items()  # type: ignore[union-attr]
    }
    for name, hint in (extra or {}).items():
        columns[name] = {**columns.get(name, {}), **hint}
    return dlt.mark.make_hints(
        table_name=hints["table_name"],
        write_disposition=hints.get("write_disposition"),
        primary_key=hints.get("primary_key"),
        merge_key=hints.get("merge_key"),
        columns=columns,  # type: ignore[arg-type]
        table_format=hints.get("table_format"),
        file_format=hints.get("file_format"),
    )


class WholeItemStep(YieldMapItem):
    """dlt's yield-map pipe step, handed lists whole.

    dlt's own yield map calls its function once per element of a list item, and every
    element then reaches the extractor alone: a page of child rows with its table hints
    (``dlt.mark.with_hints``) would cost one hint computation (~10 ms) per row.
    """

    def __call__(self, item: Any, meta: Any = None) -> Iterator[Any]:
        """Calls the step once with the whole item, list or not."""
        yield from self._f_meta(item, meta)


class AfterIncrementalStep(WholeItemStep):
    """A :class:`WholeItemStep` placed behind dlt's incremental step (affinity 1) and
    before ``add_limit`` (1.1), so the incremental reads the cursor from the dicts."""

    placement_affinity: ClassVar[float] = 1.05


def add_columnar_step(
    resource: DltResource, step: ColumnarStep, *, after_incremental: bool = False
) -> DltResource:
    """Appends ``step`` as the resource's last pipe step (lists pass it whole).

    Args:
        resource: The resource.
        step: Its columnar step.
        after_incremental: Place it behind the resource's ``dlt.sources.incremental``
            (which otherwise stays last and would read cursors from Arrow tables:
            timestamps instead of the ints the source's records carry).

    Returns:
        The resource.
    """
    wrapper = AfterIncrementalStep(step) if after_incremental else WholeItemStep(step)
    return resource.add_step(wrapper)


def columnar_step_index(resource: DltResource) -> Optional[int]:
    """Position of the resource's :class:`ColumnarStep` in its pipe (steps added later
    that want records, not Arrow tables, are inserted there)."""
    for index, step in enumerate(resource._pipe.steps):
        function = getattr(step, "_f_meta", None) or getattr(step, "_f", None)
        if isinstance(function, ColumnarStep):
            return index
    return None
