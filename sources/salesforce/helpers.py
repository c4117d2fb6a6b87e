"""Salesforce sync logic that is not HTTP: describe-typed columns, SOQL, cursors, rows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from dlt.common.schema.typing import TColumnSchema

from sources.kit.connector import ConnectorRun, ResourceSpec, select_names
from sources.kit.errors import ConfigurationError

from .bulk import BulkJobEnded, BulkQuery
from .client import SalesforceClient
from .locators import resumable_pages
from .settings import COMPOUND_TYPES, CURSOR_FIELD, DELETED_FLAG, PRIMARY_KEY, TYPE_MAP
from .spec import SPEC, object_resource
from .types import (
    FALLBACK_DIGITS,
    Digits,
    decimal_column,
    digits_of,
    to_decimal,
)

logger = logging.getLogger("sluice.salesforce")

DELETED_COLUMN = "deleted"
"""Set on every row: true once the record was seen deleted (recycle bin, delete log, or
missing from a full re-list)."""
DELETED_AT_COLUMN = "deleted_at"
"""When the record was deleted (its ``SystemModstamp`` or ``deletedDate``), or when a
re-list found it gone; null while live."""


@dataclass(frozen=True)
class ObjectSpec:
    """One sObject as its describe result says it is.

    Attributes:
        name: API name (``Account``).
        fields: Queryable fields, in describe order.
        types: Salesforce type per field.
        nillable: Fields that may be null.
        formulas: Formula fields (describe ``calculated: true``): their values change
            without ``SystemModstamp`` moving.
        decimals: ``(precision, scale)`` of each decimal field, from describe (types.py).
    """

    name: str
    fields: tuple[str, ...]
    types: Mapping[str, str]
    nillable: frozenset[str]
    formulas: frozenset[str] = field(default_factory=frozenset)
    decimals: Mapping[str, Digits] = field(default_factory=dict)

    @property
    def resource(self) -> str:
        """Resource and table name (``account``)."""
        return self.name.lower()

    @property
    def deletable(self) -> bool:
        """Whether records go to the recycle bin (``IsDeleted`` exists)."""
        return DELETED_FLAG in self.types

    def declaration(self) -> ResourceSpec:
        """The object as the kit's resource declaration (columns: :func:`column_hints`)."""
        return object_resource(self.resource, deletable=self.deletable)


def object_spec(describe: Mapping[str, Any]) -> ObjectSpec:
    """Reads the fields of a describe result (compound and blob fields left out).

    Raises:
        ConfigurationError: The object has no ``Id`` or no ``SystemModstamp`` field.
    """
    name = str(describe.get("name"))
    fields: list[str] = []
    types: dict[str, str] = {}
    nillable: set[str] = set()
    formulas: set[str] = set()
    decimals: dict[str, Digits] = {}
    for entry in describe.get("fields") or []:
        field_type = str(entry.get("type"))
        if field_type in COMPOUND_TYPES:
            continue
        fields.append(str(entry["name"]))
        types[str(entry["name"])] = field_type
        if entry.get("nillable", True):
            nillable.add(str(entry["name"]))
        if entry.get("calculated") is True:
            formulas.add(str(entry["name"]))
        if TYPE_MAP.get(field_type) == "decimal":
            decimals[str(entry["name"])] = digits_of(entry)
    for required in (PRIMARY_KEY, CURSOR_FIELD):
        if required not in types:
            raise ConfigurationError(
                f"Salesforce object {name} has no {required} field: it cannot be synced "
                "incrementally; remove it from sources.salesforce.objects"
            )
    return ObjectSpec(
        name, tuple(fields), types, frozenset(nillable), frozenset(formulas), decimals
    )


def without_formulas(spec: ObjectSpec) -> ObjectSpec:
    """The object with its formula fields left out (``formula_fields = "exclude"``)."""
    kept = tuple(f for f in spec.fields if f not in spec.formulas)
    return replace(
        spec,
        fields=kept,
        types={f: spec.types[f] for f in kept},
        nillable=spec.nillable & frozenset(kept),
        formulas=frozenset(),
        decimals={f: d for f, d in spec.decimals.items() if f in kept},
    )


def column_hints(spec: ObjectSpec) -> dict[str, TColumnSchema]:
    """dlt columns typed from describe, plus the soft-delete flag."""
    columns: dict[str, TColumnSchema] = {}
    for name in spec.fields:
        data_type = TYPE_MAP.get(spec.types[name], "text")
        column: dict[str, Any] = {"data_type": data_type, "nullable": name in spec.nillable}
        if data_type == "decimal":
            column = dict(decimal_column(spec.decimals.get(name, FALLBACK_DIGITS), nullable=True))
            column["nullable"] = name in spec.nillable
        columns[name] = column  # type: ignore[assignment]
    columns[PRIMARY_KEY] = {"data_type": "text", "nullable": False}
    columns[DELETED_COLUMN] = {"data_type": "bool", "nullable": False}
    columns[DELETED_AT_COLUMN] = {"data_type": "timestamp", "nullable": True}
    return columns


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal in UTC, whole seconds (``2024-05-01T12:00:00Z``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_sf_datetime(value: str) -> datetime:
    """Parses Salesforce's ``2024-05-01T12:00:00.000+0000`` (and ISO 8601 variants)."""
    text = value.strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text)


def build_soql(
    spec: ObjectSpec,
    since: Optional[datetime],
    deleted_only: bool = False,
    fields: Optional[Sequence[str]] = None,
    ordered: bool = True,
) -> str:
    """The query for one object: every field, oldest change first.

    Args:
        spec: The object.
        since: Only records whose ``SystemModstamp`` is at or after this time.
        deleted_only: Only recycle-bin records (``IsDeleted = true``, with ``queryAll``).
        fields: Only these fields (every described field when None).
        ordered: ``ORDER BY SystemModstamp, Id`` (REST pages resume on it); False for
            Bulk API jobs, where ORDER BY disables PK chunking (bulk.py).

    Returns:
        The SOQL text.
    """
    conditions = []
    if deleted_only:
        conditions.append(f"{DELETED_FLAG} = true")
    if since is not None:
        conditions.append(f"{CURSOR_FIELD} >= {soql_datetime(since)}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    order = f" ORDER BY {CURSOR_FIELD} ASC, {PRIMARY_KEY} ASC" if ordered else ""
    return f"SELECT {', '.join(fields or spec.fields)} FROM {spec.name}{where}{order}"  # noqa: S608 - names from describe, not input


def build_count_soql(spec: ObjectSpec, since: Optional[datetime]) -> str:
    """``SELECT COUNT()`` over the same window as :func:`build_soql`."""
    where = f" WHERE {CURSOR_FIELD} >= {soql_datetime(since)}" if since is not None else ""
    return f"SELECT COUNT() FROM {spec.name}{where}"  # noqa: S608 - names from describe


def typed_csv_row(row: Mapping[str, str], spec: ObjectSpec) -> dict[str, Any]:
    """A Bulk API CSV row with the values describe types them as (empty text is null)."""
    typed: dict[str, Any] = {}
    for name, text in row.items():
        if text == "" or text is None:
            typed[name] = None
            continue
        convert = csv_converter(TYPE_MAP.get(spec.types.get(name, "string"), "text"))
        typed[name] = text if convert is None else convert(text)
    return typed


def to_bool(text: str) -> bool:
    """A Bulk API CSV boolean (``true``/``false``)."""
    return text.lower() == "true"


def to_bigint(text: str) -> Any:
    """A Bulk API CSV integer, or the text as is (the guard then names the column)."""
    return int(float(text)) if text.lstrip("-").replace(".", "").isdigit() else text


CSV_CONVERTERS: Mapping[str, Callable[[str], Any]] = {
    "bool": to_bool,
    "bigint": to_bigint,
    "decimal": to_decimal,  # exact: no float between CSV and the column
    "double": lambda text: to_number(text),
}
"""How a non-empty CSV cell of a dlt type becomes its value (text stays text)."""


def csv_converter(data_type: str) -> Optional[Callable[[str], Any]]:
    """The converter of a dlt type's CSV cells; None for text (kept as it is)."""
    return CSV_CONVERTERS.get(data_type)


def csv_shaper(spec: ObjectSpec) -> Callable[[Sequence[str], Iterator[list[str]]], list[Any]]:
    """Builds typed records from a Bulk API chunk's header and text rows in one pass.

    The same values as :func:`typed_csv_row` per row, with the converter of each column
    looked up once per chunk rather than once per cell.
    """

    def shape(header: Sequence[str], rows: Iterator[list[str]]) -> list[Any]:
        names = list(header)
        typed = [
            (i, convert)
            for i, name in enumerate(names)
            if (convert := csv_converter(TYPE_MAP.get(spec.types.get(name, "string"), "text")))
        ]
        width = len(names)
        records: list[Any] = []
        for row in rows:
            if len(row) != width:  # a ragged row: the per-cell path, as DictReader reads it
                cells: list[Any] = [*row, *([None] * (width - len(row)))]
                records.append(typed_csv_row(dict(zip(names, cells, strict=False)), spec))
                continue
            values: list[Any] = [cell if cell != "" else None for cell in row]
            for i, convert in typed:
                cell = values[i]
                if cell is not None:
                    values[i] = convert(cell)
            records.append(dict(zip(names, values, strict=True)))
        return records

    return shape


def to_number(text: str) -> Any:
    """A float, or the text as is (the dead-letter guard then names the column)."""
    try:
        return float(text)
    except ValueError:
        return text


def query_start(cursor: Optional[str], lookback_s: int) -> Optional[datetime]:
    """Where an incremental query starts: the saved cursor less the lookback."""
    if cursor is None:
        return None
    return parse_sf_datetime(cursor) - timedelta(seconds=lookback_s)


def shape_row(record: Mapping[str, Any], deleted: bool) -> dict[str, Any]:
    """A query record as the row to load: no ``attributes``, ``deleted`` and ``deleted_at`` set."""
    row = {k: v for k, v in record.items() if k != "attributes"}
    row[DELETED_COLUMN] = bool(deleted or row.get(DELETED_FLAG))
    # Salesforce stamps a deletion on SystemModstamp (getDeleted's deletedDate "is obtained
    # using the SystemModstamp", https://developer.salesforce.com/docs/atlas.en-us.api.meta/
    # object_ref/sforce_api_calls_getdeleted_getdeletedresult.htm).
    row[DELETED_AT_COLUMN] = row.get(CURSOR_FIELD) if row[DELETED_COLUMN] else None
    return row


def newest_cursor(current: Optional[str], rows: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """The latest ``SystemModstamp`` among the saved cursor and ``rows``."""
    best = current
    best_at = parse_sf_datetime(current) if current else None
    for row in rows:
        value = row.get(CURSOR_FIELD)
        if not isinstance(value, str):
            continue
        try:
            at = parse_sf_datetime(value)
        except ValueError:
            continue
        if best_at is None or at > best_at:
            best, best_at = value, at
    return best


def select_objects(names: Optional[Sequence[str]]) -> list[str]:
    """The configured object names (the default five when none), without duplicates.

    Raises:
        ConfigurationError: A name is not a Salesforce API name.
    """
    # Any API name loads (open-ended), so the kit only dedupes; every bad name is listed.
    chosen = select_names(SPEC, names, check=str)
    invalid = [n for n in chosen if not n.replace("_", "").isalnum()]
    if invalid or not chosen:
        raise ConfigurationError(
            f"{SPEC.resources_setting} holds invalid object name(s) {invalid}: use API "
            "names such as Account, Contact, My_Object__c"
        )
    return chosen


@dataclass(frozen=True)
class RunContext(ConnectorRun):
    """What every resource of one run shares: the kit's run id and ledger, and Salesforce's.

    Attributes:
        client: The Salesforce client.
        lookback_s: Seconds incremental queries re-read before the cursor.
        bulk_threshold: Read with Bulk API 2.0 above this many matching records
            (0: never).
        formula_fields: ``refresh``, ``exclude`` or ``incremental`` (``formulas.py``).
        formula_refresh_hours: Hours between two re-reads of the formula fields.
        reconcile_hours: Hours between two full re-lists of ids (``deletes.py``).
        now: The wall clock (injected in tests).
    """

    client: SalesforceClient
    lookback_s: int
    bulk_threshold: int = 0
    formula_fields: str = "refresh"
    formula_refresh_hours: float = 24.0
    reconcile_hours: float = 168.0
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))


def is_new(row: Mapping[str, Any], since: datetime) -> bool:
    """Whether a changed record was created within the queried window."""
    created = row.get("CreatedDate")
    return isinstance(created, str) and parse_sf_datetime(created) >= since


def changed_pages(
    spec: ObjectSpec,
    run: RunContext,
    since: Optional[datetime],
    fields: Optional[Sequence[str]] = None,
) -> Iterator[list[dict[str, Any]]]:
    """Live records changed since ``since``: REST pages, or a Bulk API job when many.

    ``fields`` narrows the columns read (re-lists of ids, formula refreshes); every
    described field when None.
    """
    if run.bulk_threshold > 0:
        matching = run.client.count(build_count_soql(spec, since), label=spec.resource)
        if matching > run.bulk_threshold:
            logger.info(
                "salesforce %s: %d records above the bulk threshold %d: Bulk API 2.0 job",
                spec.resource,
                matching,
                run.bulk_threshold,
            )
            bulk = BulkQuery(run.client, sleep=run.client.sleep)
            try:  # unordered: merge on Id, and the cursor is the newest stamp seen
                soql = build_soql(spec, since, fields=fields, ordered=False)
                yield from bulk.pages(soql, label=spec.resource, shape=csv_shaper(spec))
                return
            except BulkJobEnded as exc:  # raised before any chunk: REST reads the same
                logger.warning("%s; reading %s with REST query pages instead", exc, spec.resource)
    yield from resumable_pages(
        run.client,
        lambda start: build_soql(spec, start, fields=fields),
        since,
        label=spec.resource,
        parse=parse_sf_datetime,
    )
