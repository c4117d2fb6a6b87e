"""ServiceNow sync logic that is not HTTP: queries, cursors, the run, the listing ledger."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

from sources.kit.connector import ConnectorRun
from sources.kit.errors import ConfigurationError

from .client import ServiceNowClient
from .paginator import KeysetPaginator, keyset_query
from .records import format_glide, newest
from .settings import CURSOR_FIELD, DISPLAY_VALUE, LIST_PARAMS, PRIMARY_KEY

logger = logging.getLogger("sluice.servicenow")


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
    """``sysparm_query`` of the first page of records changed at or after ``since``."""
    return keyset_query(since, None)


def list_params(query: str) -> dict[str, str]:
    """The Table API parameters of a listing: ``query`` and what every listing sends."""
    return {"sysparm_query": query, **LIST_PARAMS}


@dataclass(frozen=True)
class RunContext(ConnectorRun):
    """What every table of one run shares: the kit's run id and ledger, and ServiceNow's.

    Attributes:
        client: The run's client.
        lookback_s: Seconds re-read behind the saved cursors.
        now: Run start in unix seconds.
    """

    client: ServiceNowClient
    lookback_s: float
    now: float


@dataclass
class Listing:
    """The outcome of listing one table.

    Attributes:
        seen: Distinct sys_ids read.
        newest: Newest ``sys_updated_on`` read (the next cursor).
        total: ``X-Total-Count`` of the first page: every record the cursor query
            matched, rows hidden by row-level ACLs included.
        pages: Pages read.
        again: Records read a second time because they changed during the run.
    """

    seen: set[str] = field(default_factory=set)
    newest: Optional[str] = None
    total: Optional[int] = None
    pages: int = 0
    again: int = 0

    def hidden(self) -> int:
        """Announced records never returned: hidden by row ACLs (or deleted meanwhile)."""
        return max(0, self.total - len(self.seen)) if self.total is not None else 0


def list_changes(
    client: ServiceNowClient, table: str, since: Optional[str], listing: Listing
) -> Iterator[list[Any]]:
    """Keyset pages of the records changed since ``since``; updates ``listing`` as it goes.

    A record changed during the run comes again behind the key with its newer
    ``sys_updated_on`` and is yielded again: the ``dedup_sort`` hint on that column
    (:func:`~.spec.column_hints`) makes the merge keep the newest copy.
    """
    paginator = KeysetPaginator(table, since, client.page_size)
    for page in client.list_pages(table, params=list_params(""), paginator=paginator):
        listing.pages += 1
        if listing.total is None:
            listing.total = page.total
        for record in page.records:
            remember(record, listing)
        yield page.records


def remember(record: Any, listing: Listing) -> None:
    """Counts a record's sys_id and cursor into ``listing``."""
    if not isinstance(record, dict):
        return
    key = record.get(PRIMARY_KEY)
    if isinstance(key, str):
        listing.again += key in listing.seen
        listing.seen.add(key)
    listing.newest = newest(listing.newest, record.get(CURSOR_FIELD))


def report_hidden(table: str, listing: Listing) -> int:
    """One warning when fewer records came than ``X-Total-Count`` announced.

    Row-level ACLs apply after ``sysparm_limit`` and the count includes the rows they
    hide (KB3047115), so the difference is what the integration user cannot read.

    Returns:
        How many records were announced but not returned.
    """
    hidden = listing.hidden()
    if hidden:
        logger.warning(
            "servicenow %s: %d of %d record(s) the instance counted were not returned: "
            "row-level ACLs hide them from the integration user (grant it read on %s to "
            "load them), or they were deleted during the run",
            table,
            hidden,
            listing.total,
            table,
            extra={"resource": table},
        )
    return hidden


def run_start_cursor(now: float, lookback_s: float) -> str:
    """Glide text of the run start less the lookback (first run's deletion cursor)."""
    return format_glide(datetime.fromtimestamp(now - lookback_s, tz=timezone.utc))
