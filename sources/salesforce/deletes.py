"""Deletes ``queryAll`` no longer shows: the delete log, and full re-lists of ids.

``queryAll`` returns deleted records only while they are in the recycle bin: 15 days at
most, less when the bin is full or a user empties it, and never for records deleted
without the bin (Bulk API ``hardDelete``). A delete purged before the next run would
stay live in the destination forever. So each incremental run of a deletable object
also reads ``GET /sobjects/<object>/deleted/?start=&end=``
(https://developer.salesforce.com/docs/platform/api-rest/guide/resources-getdeleted.md):

* its ``deletedRecords`` are marked deleted (if ``queryAll`` did not return them);
* its ``earliestDateAvailable`` is "the timestamp ... of the last physically deleted
  object. If this value is less than endDate, the call fails, and you must resync your
  data" (https://developer.salesforce.com/docs/atlas.en-us.api.meta/object_ref/sforce_api_calls_getdeleted_getdeletedresult.htm).
  When it is later than the window's start, records deleted since the last run may be
  gone from the log, so the object's ids are re-listed; the same when the endpoint
  refuses the window (``INVALID_REPLICATION_DATE``, a cursor older than it reaches).

A re-list reads every live id (``SELECT Id``) and marks each live destination row the
listing no longer returns as deleted, with ``deleted_at`` = the re-list time. It also
runs every ``reconcile_interval_hours`` whatever the log says, for objects without a
recycle bin and deletes no API reports. A marked row is read back from the destination
and re-emitted whole: the merge replaces rows, so a bare id would blank the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from .codes import ReplicationDateInvalid
from .helpers import (
    CURSOR_FIELD,
    DELETED_AT_COLUMN,
    DELETED_COLUMN,
    PRIMARY_KEY,
    ObjectSpec,
    RunContext,
    build_soql,
    changed_pages,
    parse_sf_datetime,
    shape_row,
)
from .loaded import loaded_object, warn_unreadable
from .locators import resumable_pages

logger = logging.getLogger("sluice.salesforce")

RECONCILED_AT = "reconciled_at"
"""Resource state key: when the object's ids were last re-listed."""
RECONCILE_PENDING = "reconcile_pending"
"""Resource state key: a re-list was needed but the destination could not be read."""


@dataclass
class DeleteLog:
    """What ``/deleted/`` said about one window.

    Attributes:
        deleted: ``{id: deletedDate}`` of the window's deletes.
        incomplete: Deletes of the window may be missing (purged, or window refused).
        reason: Why it is incomplete, for the log.
    """

    deleted: dict[str, str] = field(default_factory=dict)
    incomplete: bool = False
    reason: str = ""


def replication_time(moment: datetime) -> str:
    """``start``/``end`` of the replication resources (``2024-05-01T12:00:00+00:00``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def read_delete_log(spec: ObjectSpec, run: RunContext, since: datetime) -> DeleteLog:
    """The object's delete log from ``since`` to now, and whether it is complete."""
    # The window must end after its start by more than a minute (seconds are ignored).
    end = max(run.now(), since) + timedelta(minutes=2)
    params = {"start": replication_time(since), "end": replication_time(end)}
    try:
        body = run.client.get_json(f"sobjects/{spec.name}/deleted/", params, label=spec.resource)
    except ReplicationDateInvalid:
        return DeleteLog(incomplete=True, reason="the cursor is older than /deleted/ reaches")
    log = DeleteLog()
    for entry in (body or {}).get("deletedRecords") or []:
        if isinstance(entry, dict) and entry.get("id"):
            log.deleted[str(entry["id"])] = str(entry.get("deletedDate") or "")
    earliest = (body or {}).get("earliestDateAvailable")
    if purged_since(earliest, since):
        log.incomplete = True
        log.reason = f"records deleted since {earliest} were removed from the recycle bin"
    return log


def purged_since(earliest: Any, since: datetime) -> bool:
    """Whether ``earliestDateAvailable`` says a delete after ``since`` is gone for good
    (an unreadable value counts as yes: a needless re-list is cheaper than a lost delete)."""
    if earliest is None:
        return False
    try:
        return parse_sf_datetime(str(earliest)) > since
    except ValueError:
        return True


def reconcile_due(state: Mapping[str, Any], now: datetime, hours: float) -> bool:
    """Whether the periodic re-list is due (``hours`` 0: every run; negative: never)."""
    if hours <= 0:
        return hours == 0
    last = state.get(RECONCILED_AT)
    return not isinstance(last, str) or now - datetime.fromisoformat(last) >= timedelta(hours=hours)


def listed_ids(spec: ObjectSpec, run: RunContext) -> set[str]:
    """Every live id of the object (``SELECT Id, SystemModstamp``; Bulk API when many)."""
    ids: set[str] = set()
    for page in changed_pages(spec, run, None, fields=(PRIMARY_KEY, CURSOR_FIELD)):
        ids.update(str(r[PRIMARY_KEY]) for r in page if r.get(PRIMARY_KEY))
    return ids


def deleted_rows(
    spec: ObjectSpec,
    *,
    marks: Optional[Mapping[str, str]] = None,
    listed: Optional[set[str]] = None,
    skip: set[str],
    seen_at: datetime,
) -> Optional[list[dict[str, Any]]]:
    """Live destination rows to mark deleted, read back whole.

    Args:
        spec: The object.
        marks: ``{id: deletedDate}`` known deleted (the delete log).
        listed: Ids a complete listing returned: every other live row is deleted.
        skip: Ids this run already emitted (their newest version wins).
        seen_at: ``deleted_at`` of rows found by the listing.

    Returns:
        The rows, Salesforce field names, ``deleted = true``; None when the destination
        could not be read (logged).
    """
    try:
        with loaded_object(spec) as table:
            if table is None:
                return []
            live = table.live_ids()
            wanted = {i: d for i, d in (marks or {}).items() if i in live}
            if listed is not None:
                for rid in live - listed:
                    wanted.setdefault(rid, "")
            ids = sorted(set(wanted) - skip)
            loaded = table.rows(ids) if ids else []
    except Exception as exc:  # noqa: BLE001 - a failed comparison must not fail the load
        warn_unreadable(
            spec, exc, "to mark deletes", "purged deletes stay live until the next re-list"
        )
        return None
    rows = []
    for shaped in loaded:
        shaped[DELETED_COLUMN] = True
        shaped[DELETED_AT_COLUMN] = wanted.get(str(shaped.get(PRIMARY_KEY))) or seen_at
        rows.append(shaped)
    return rows


def missed_deletes(
    spec: ObjectSpec,
    run: RunContext,
    state: dict[str, Any],
    since: datetime,
    emitted: set[str],
) -> Iterator[list[dict[str, Any]]]:
    """Delete rows ``queryAll`` did not give: from the delete log, and from a re-list.

    Args:
        spec: The object.
        run: The run.
        state: The resource state (``reconciled_at`` is kept there).
        since: Start of this run's incremental window.
        emitted: Ids this run already emitted.

    Yields:
        Lists of delete rows.
    """
    now = run.now()
    log = read_delete_log(spec, run, since) if spec.deletable else DeleteLog()
    due = reconcile_due(state, now, run.reconcile_hours) or bool(state.get(RECONCILE_PENDING))
    if log.incomplete or due:
        logger.info(
            "salesforce %s: re-listing ids to find deletes (%s)",
            spec.resource,
            log.reason or "periodic reconciliation",
            extra={"resource": spec.resource},
        )
        listed: Optional[set[str]] = listed_ids(spec, run)
    else:
        listed = None
    if listed is None and not set(log.deleted) - emitted:
        return  # queryAll already gave every delete the log knows: nothing to read back
    rows = deleted_rows(spec, marks=log.deleted, listed=listed, skip=emitted, seen_at=now)
    if listed is not None:
        # An unreadable destination: the re-list is tried again next run.
        state[RECONCILE_PENDING] = rows is None
        if rows is not None:
            state[RECONCILED_AT] = now.isoformat()
    if rows:
        logger.info(
            "salesforce %s: %d delete(s) found outside the recycle bin; marked deleted",
            spec.resource,
            len(rows),
            extra={"resource": spec.resource},
        )
        yield rows


def recycle_bin_pages(
    spec: ObjectSpec, run: RunContext, since: datetime
) -> Iterator[list[dict[str, Any]]]:
    """Records deleted since ``since`` that are still in the recycle bin (``queryAll``)."""
    pages = resumable_pages(
        run.client,
        lambda start: build_soql(spec, start, deleted_only=True),
        since,
        label=spec.resource,
        include_deleted=True,
        parse=parse_sf_datetime,
    )
    for page in pages:
        logger.info("salesforce %s: %d deleted record(s)", spec.resource, len(page))
        yield [shape_row(record, deleted=True) for record in page]


def deletes_since(
    spec: ObjectSpec,
    run: RunContext,
    state: dict[str, Any],
    since: datetime,
    emitted: set[str],
) -> Iterator[list[dict[str, Any]]]:
    """Every delete row of an incremental run: the recycle bin first, then what it lost.

    Args:
        spec: The object.
        run: The run.
        state: The resource state.
        since: Start of this run's incremental window.
        emitted: Ids this run already emitted; the ids yielded here are added.

    Yields:
        Lists of delete rows.
    """
    if spec.deletable:
        for rows in recycle_bin_pages(spec, run, since):
            emitted.update(str(r.get(PRIMARY_KEY)) for r in rows)
            yield rows
    for rows in missed_deletes(spec, run, state, since, emitted):
        emitted.update(str(r.get(PRIMARY_KEY)) for r in rows)
        yield rows
