"""ServiceNow sync logic that is not HTTP: queries, cursors, the dead-letter guard, ledger."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import dlt
from dlt.common.schema.typing import TColumnSchema

from sources.kit.deadletters import RecordGuard
from sources.kit.errors import ConfigurationError
from sources.kit.monitor import SyncMonitor
from sources.kit.validation import RecordValidator

from .client import Page, ServiceNowClient, check_table_name
from .records import format_glide, newest, shape_live
from .settings import (
    AUDIT_DELETE_TABLE,
    CURSOR_FIELD,
    DEFAULT_TABLES,
    DISPLAY_VALUE,
    MAX_PASSES,
    PRIMARY_KEY,
)

logger = logging.getLogger("sluice.servicenow")


def select_tables(tables: Optional[Sequence[str]]) -> list[str]:
    """The configured tables (default incident, change_request, sys_user, cmdb_ci)."""
    chosen = list(dict.fromkeys(tables or DEFAULT_TABLES))
    return [check_table_name(t) for t in chosen]


def check_display_value(value: Optional[str]) -> str:
    """Only raw values (``false``) keep the cursor and keys usable.

    Raises:
        ConfigurationError: ``true`` or ``all`` was configured.
    """
    chosen = (value or DISPLAY_VALUE).strip().lower()
    if chosen != DISPLAY_VALUE:
        raise ConfigurationError(
            f"sources.servicenow.display_value {value!r} is not supported: display values are "
            "localized text in the user's time zone, which breaks the sys_updated_on cursor; "
            "use false (raw values)"
        )
    return chosen


def changes_query(since: Optional[str]) -> str:
    """``sysparm_query`` for records changed at or after ``since``, in a stable order."""
    order = f"ORDERBY{CURSOR_FIELD}^ORDERBY{PRIMARY_KEY}"
    return f"{CURSOR_FIELD}>={since}^{order}" if since else order


def deletes_query(table: str, since: str) -> str:
    """``sysparm_query`` for the deletions of ``table`` recorded at or after ``since``."""
    return f"tablename={table}^sys_created_on>={since}^ORDERBYsys_created_on^ORDERBYsys_id"


def list_params(query: str) -> dict[str, str]:
    """The Table API parameters every listing sends."""
    return {
        "sysparm_query": query,
        "sysparm_display_value": DISPLAY_VALUE,
        "sysparm_exclude_reference_link": "true",
    }


def column_hints() -> dict[str, TColumnSchema]:
    """Declared columns: key, timestamps and the soft-delete flag."""
    return {
        PRIMARY_KEY: {"data_type": "text", "nullable": False},
        "sys_created_on": {"data_type": "timestamp", "nullable": True},
        CURSOR_FIELD: {"data_type": "timestamp", "nullable": True},
        "deleted": {"data_type": "bool"},
        "deleted_at": {"data_type": "timestamp", "nullable": True},
    }


def make_guard(table: str, run_id: str) -> RecordGuard:
    """Routes records that cannot be loaded as declared to ``_dead_letters``."""
    validator = RecordValidator(
        primary_key=(PRIMARY_KEY,),
        columns=column_hints(),
        schema_getter=dlt.current.source_schema,
        table_name=table,
        required=(CURSOR_FIELD,),
    )
    return RecordGuard(
        source="servicenow",
        resource=table,
        table_name=table,
        validator=validator,
        mapper=shape_live,
        run_id=run_id,
        primary_key=(PRIMARY_KEY,),
        write_disposition="merge",
    )


@dataclass(frozen=True)
class RunContext:
    """What every table of one run shares."""

    client: ServiceNowClient
    run_id: str
    monitor: SyncMonitor
    lookback_s: float
    now: float


@dataclass
class Listing:
    """The outcome of listing one table: distinct ids seen, newest cursor, last total."""

    seen: set[str] = field(default_factory=set)
    newest: Optional[str] = None
    total: Optional[int] = None
    pages: int = 0


def list_changes(
    client: ServiceNowClient, table: str, since: Optional[str], listing: Listing
) -> Iterator[list[Any]]:
    """One pass over the records changed since ``since``; updates ``listing`` as it goes."""
    for page in client.list_pages(table, params=list_params(changes_query(since))):
        listing.pages += 1
        listing.total = page.total if page.total is not None else listing.total
        fresh = [r for r in page.records if not seen_before(r, listing)]
        for record in page.records:
            if isinstance(record, dict):
                listing.newest = newest(listing.newest, record.get(CURSOR_FIELD))
        yield fresh


def seen_before(record: Any, listing: Listing) -> bool:
    """Remembers a record's sys_id; True when this run already had it."""
    key = record.get(PRIMARY_KEY) if isinstance(record, dict) else None
    if not isinstance(key, str):
        return False
    if key in listing.seen:
        return True
    listing.seen.add(key)
    return False


def needs_another_pass(listing: Listing, passes: int) -> bool:
    """Offset paging shifted under concurrent changes: fewer distinct ids than announced."""
    if listing.total is None or len(listing.seen) >= listing.total:
        return False
    if passes >= MAX_PASSES:
        logger.warning(
            "servicenow: %d of %d announced record(s) seen after %d passes; the lookback "
            "of the next run re-reads the rest",
            len(listing.seen),
            listing.total,
            passes,
        )
        return False
    return True


def list_deletes(client: ServiceNowClient, table: str, since: str) -> Iterator[Page]:
    """``sys_audit_delete`` entries of ``table`` since ``since``."""
    yield from client.list_pages(
        AUDIT_DELETE_TABLE,
        params=list_params(deletes_query(table, since)),
        label=f"{table}_deletes",
    )


def run_start_cursor(now: float, lookback_s: float) -> str:
    """Glide text of the run start less the lookback (first run's deletion cursor)."""
    from datetime import datetime, timezone

    return format_glide(datetime.fromtimestamp(now - lookback_s, tz=timezone.utc))
