"""Salesforce sync logic that is not HTTP: describe-typed columns, SOQL, cursors, rows."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import dlt
from dlt.common.schema.typing import TColumnSchema

from sources.kit.deadletters import RecordGuard
from sources.kit.errors import ConfigurationError
from sources.kit.monitor import SyncMonitor
from sources.kit.validation import RecordValidator

from .bulk import BulkQuery
from .client import SalesforceClient
from .settings import COMPOUND_TYPES, CURSOR_FIELD, DEFAULT_OBJECTS, DELETED_FLAG, TYPE_MAP

logger = logging.getLogger("sluice.salesforce")

SOURCE_NAME = "salesforce"
PRIMARY_KEY = "Id"
DELETED_COLUMN = "deleted"
"""Set on every row: true once the record was seen in the recycle bin (``queryAll``)."""


@dataclass(frozen=True)
class ObjectSpec:
    """One sObject as its describe result says it is.

    Attributes:
        name: API name (``Account``).
        fields: Queryable fields, in describe order.
        types: Salesforce type per field.
        nillable: Fields that may be null.
    """

    name: str
    fields: tuple[str, ...]
    types: Mapping[str, str]
    nillable: frozenset[str]

    @property
    def resource(self) -> str:
        """Resource and table name (``account``)."""
        return self.name.lower()

    @property
    def deletable(self) -> bool:
        """Whether records go to the recycle bin (``IsDeleted`` exists)."""
        return DELETED_FLAG in self.types


def object_spec(describe: Mapping[str, Any]) -> ObjectSpec:
    """Reads the fields of a describe result (compound and blob fields left out).

    Raises:
        ConfigurationError: The object has no ``Id`` or no ``SystemModstamp`` field.
    """
    name = str(describe.get("name"))
    fields: list[str] = []
    types: dict[str, str] = {}
    nillable: set[str] = set()
    for entry in describe.get("fields") or []:
        field_type = str(entry.get("type"))
        if field_type in COMPOUND_TYPES:
            continue
        fields.append(str(entry["name"]))
        types[str(entry["name"])] = field_type
        if entry.get("nillable", True):
            nillable.add(str(entry["name"]))
    for required in (PRIMARY_KEY, CURSOR_FIELD):
        if required not in types:
            raise ConfigurationError(
                f"Salesforce object {name} has no {required} field: it cannot be synced "
                "incrementally; remove it from sources.salesforce.objects"
            )
    return ObjectSpec(name, tuple(fields), types, frozenset(nillable))


def column_hints(spec: ObjectSpec) -> dict[str, TColumnSchema]:
    """dlt columns typed from describe, plus the soft-delete flag."""
    columns: dict[str, TColumnSchema] = {}
    for name in spec.fields:
        data_type = TYPE_MAP.get(spec.types[name], "text")
        column: dict[str, Any] = {"data_type": data_type, "nullable": name in spec.nillable}
        if data_type == "decimal":
            column.update(precision=18, scale=2)
        columns[name] = column  # type: ignore[assignment]
    columns[PRIMARY_KEY] = {"data_type": "text", "nullable": False}
    columns[DELETED_COLUMN] = {"data_type": "bool", "nullable": False}
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


def build_soql(spec: ObjectSpec, since: Optional[datetime], deleted_only: bool = False) -> str:
    """The query for one object: every field, oldest change first.

    Args:
        spec: The object.
        since: Only records whose ``SystemModstamp`` is at or after this time.
        deleted_only: Only recycle-bin records (``IsDeleted = true``, with ``queryAll``).

    Returns:
        The SOQL text.
    """
    conditions = []
    if deleted_only:
        conditions.append(f"{DELETED_FLAG} = true")
    if since is not None:
        conditions.append(f"{CURSOR_FIELD} >= {soql_datetime(since)}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return (
        f"SELECT {', '.join(spec.fields)} FROM {spec.name}{where} "  # noqa: S608 - names from describe, not input
        f"ORDER BY {CURSOR_FIELD} ASC, {PRIMARY_KEY} ASC"
    )


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
        data_type = TYPE_MAP.get(spec.types.get(name, "string"), "text")
        if data_type == "bool":
            typed[name] = text.lower() == "true"
        elif data_type == "bigint":
            typed[name] = int(float(text)) if text.lstrip("-").replace(".", "").isdigit() else text
        elif data_type in ("double", "decimal"):
            typed[name] = to_number(text)
        else:
            typed[name] = text
    return typed


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
    """A query record as the row to load: no ``attributes``, ``deleted`` set."""
    row = {k: v for k, v in record.items() if k != "attributes"}
    row[DELETED_COLUMN] = bool(deleted or row.get(DELETED_FLAG))
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
    chosen = list(dict.fromkeys(n.strip() for n in (names or DEFAULT_OBJECTS) if n.strip()))
    invalid = [n for n in chosen if not n.replace("_", "").isalnum()]
    if invalid or not chosen:
        raise ConfigurationError(
            f"sources.salesforce.objects holds invalid object name(s) {invalid}: use API "
            "names such as Account, Contact, My_Object__c"
        )
    return chosen


def make_guard(spec: ObjectSpec, run_id: str) -> RecordGuard:
    """Routes records that cannot be loaded as described to ``_dead_letters``."""
    validator = RecordValidator(
        primary_key=(PRIMARY_KEY,),
        columns=column_hints(spec),
        schema_getter=dlt.current.source_schema,
        table_name=spec.resource,
        required=(CURSOR_FIELD,),
    )
    return RecordGuard(
        source=SOURCE_NAME,
        resource=spec.resource,
        table_name=spec.resource,
        validator=validator,
        mapper=None,
        run_id=run_id,
        primary_key=(PRIMARY_KEY,),
        write_disposition="merge",
    )


@dataclass(frozen=True)
class RunContext:
    """What every resource of one run shares.

    Attributes:
        client: The Salesforce client.
        run_id: Id of the run (dead letters, ledger).
        monitor: Run ledger counters.
        lookback_s: Seconds incremental queries re-read before the cursor.
        bulk_threshold: Read with Bulk API 2.0 above this many matching records
            (0: never).
    """

    client: SalesforceClient
    run_id: str
    monitor: SyncMonitor
    lookback_s: int
    bulk_threshold: int = 0


def is_new(row: Mapping[str, Any], since: datetime) -> bool:
    """Whether a changed record was created within the queried window."""
    created = row.get("CreatedDate")
    return isinstance(created, str) and parse_sf_datetime(created) >= since


def changed_pages(
    spec: ObjectSpec, run: RunContext, since: Optional[datetime]
) -> Iterator[list[dict[str, Any]]]:
    """Live records changed since ``since``: REST pages, or a Bulk API job when many."""
    soql = build_soql(spec, since)
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
            for chunk in bulk.pages(soql, label=spec.resource):
                yield [typed_csv_row(row, spec) for row in chunk]
            return
    yield from run.client.query(soql, label=spec.resource)
