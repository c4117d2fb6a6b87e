"""``/sobjects/<object>/deleted/`` and ``/updated/``: the replication resources.

Shapes from https://developer.salesforce.com/docs/platform/api-rest/guide/dome-get-deleted.md
(``deletedRecords[{id, deletedDate}]``, ``earliestDateAvailable``, ``latestDateCovered``)
and https://developer.salesforce.com/docs/atlas.en-us.238.0.api_rest.meta/api/dome_get_updated.htm
(``ids``, ``latestDateCovered``). Rules: ``start`` must precede ``end`` or the call fails
with ``INVALID_REPLICATION_DATE`` (SOAP getDeleted(), https://developer.salesforce.com/docs/
atlas.en-us.204.0.api.meta/api/sforce_api_calls_getdeleted.htm); the seconds of both are
ignored (https://search.r-project.org/CRAN/refmans/salesforcer/html/sf_get_deleted.html);
results reach back at most 30 days for ``updated`` (REST docs). The sandbox also refuses a
``deleted`` start more than 30 days back: the stored docs only say results cover 15 days,
the refusal is the task's reading, not verified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Optional

from .schema import OBJECTS, field_names
from .store import Store, parse_sf_datetime, sf_datetime

MAX_REACH_S = 30 * 86400
"""How far back ``start`` may lie."""


Reply = tuple[int, Any]
"""Status and JSON body."""


def sf_error(status: int, code: str, message: str) -> Reply:
    """Salesforce's error shape: a list of ``{"message", "errorCode"}``."""
    return status, [{"message": message, "errorCode": code}]


def replication_answer(
    store: Store, object_name: str, kind: str, params: Mapping[str, Sequence[str]]
) -> Reply:
    """The answer of ``GET /sobjects/<object>/{deleted,updated}/?start=&end=``."""
    if object_name not in OBJECTS:
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
    start, end = _moment(params, "start"), _moment(params, "end")
    if start is None or end is None:
        return sf_error(400, "INVALID_REPLICATION_DATE", "start and end must be date/times")
    if start >= end:
        return sf_error(400, "INVALID_REPLICATION_DATE", "startDate must precede endDate")
    now = store.now()
    if start < now - MAX_REACH_S:
        return sf_error(
            400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago"
        )
    end = min(end, now)
    if kind == "updated":
        ids = store.updated_between(object_name, start, end)
        return 200, {"ids": ids, "latestDateCovered": sf_datetime(end)}
    deletable = "IsDeleted" in field_names(object_name)
    records = store.deleted_between(object_name, start, end) if deletable else []
    earliest = store.bin.earliest_available(object_name)
    return (
        200,
        {
            "deletedRecords": [{"id": i, "deletedDate": sf_datetime(at)} for i, at in records],
            # Nothing removed for good yet: the sandbox answers the window's start (what
            # Salesforce answers then is not documented).
            "earliestDateAvailable": sf_datetime(earliest if earliest is not None else start),
            "latestDateCovered": sf_datetime(end),
        },
    )


def _moment(params: Mapping[str, Sequence[str]], name: str) -> Optional[float]:
    """A parameter as unix seconds, the seconds dropped; None when missing or bad."""
    text = (params.get(name) or [""])[0]
    try:
        moment = parse_sf_datetime(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(moment.timestamp() // 60 * 60, tz=timezone.utc).timestamp()
