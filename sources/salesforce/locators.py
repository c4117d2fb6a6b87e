"""Queries that survive a dead query locator by re-issuing from the last loaded record.

A ``nextRecordsUrl`` points at a server-side cursor that can die under a long read:
15 minutes idle or the oldest of 10 open per user before API 56.0
(https://developer.salesforce.com/docs/atlas.en-us.234.0.api.meta/api/sforce_api_calls_query_querylocator.htm),
2 days since (https://developer.salesforce.com/docs/platform/salesforce-app-limits-cheatsheet/guide/salesforce-app-limits-platform-apicursors.html).
Salesforce then answers ``400 INVALID_QUERY_LOCATOR``. The connector's queries are
ordered by ``SystemModstamp, Id``, so the query is re-issued from the ``SystemModstamp``
of the last record yielded; records already yielded at that same stamp are skipped by
id, so nothing is lost or yielded twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, Optional

from sources.kit.errors import FatalError

from .client import Page, SalesforceClient
from .codes import QueryLocatorInvalid
from .settings import CURSOR_FIELD

logger = logging.getLogger("sluice.salesforce")

Parse = Callable[[str], datetime]
Build = Callable[[Optional[datetime]], str]

MAX_REISSUES = 20
"""Re-issues of one query in a row without a new record before the run gives up."""


class Resume:
    """Where a query stands: the last ``SystemModstamp`` yielded and the ids at it."""

    def __init__(self) -> None:
        """Nothing yielded yet."""
        self.stamp: Optional[datetime] = None
        self.ids_at_stamp: set[str] = set()

    def fresh(self, page: Page, parse: Parse) -> Page:
        """The records of ``page`` not yielded before; remembers them as yielded."""
        kept: Page = []
        for record in page:
            stamp = stamp_of(record, parse)
            rid = str(record.get("Id"))
            if self.stamp is not None and stamp is not None:
                if stamp < self.stamp or (stamp == self.stamp and rid in self.ids_at_stamp):
                    continue
            kept.append(record)
            if stamp is not None and (self.stamp is None or stamp > self.stamp):
                self.stamp, self.ids_at_stamp = stamp, set()
            self.ids_at_stamp.add(rid)
        return kept


def stamp_of(record: Mapping[str, Any], parse: Parse) -> Optional[datetime]:
    """A record's ``SystemModstamp``, or None when missing or unreadable."""
    value = record.get(CURSOR_FIELD)
    if not isinstance(value, str):
        return None
    try:
        return parse(value)
    except ValueError:
        return None


def resumable_pages(
    client: SalesforceClient,
    build: Build,
    since: Optional[datetime],
    *,
    label: str,
    include_deleted: bool = False,
    parse: Parse,
) -> Iterator[Page]:
    """Pages of ``build(since)``; on ``INVALID_QUERY_LOCATOR`` re-issues ``build(last)``.

    Args:
        client: The Salesforce client.
        build: ``since -> SOQL`` ordered by ``SystemModstamp, Id`` with ``>= since``.
        since: Start of the first query (None: everything).
        label: Resource name requests are counted under.
        include_deleted: Use ``queryAll``.
        parse: Reads a ``SystemModstamp`` value.

    Yields:
        Pages of records, each record once.

    Raises:
        FatalError: The locator kept dying without a new record.
    """
    resume = Resume()
    start, stalled = since, 0
    while True:
        try:
            for page in client.query(build(start), label=label, include_deleted=include_deleted):
                fresh = resume.fresh(page, parse)
                if fresh:
                    stalled = 0
                    yield fresh
            return
        except QueryLocatorInvalid as exc:
            stalled += 1
            if stalled > MAX_REISSUES:
                raise FatalError(
                    f"Salesforce {label}: the query locator died {MAX_REISSUES} times in a row "
                    "without a new record; lower sources.salesforce.batch_size or run when "
                    "fewer sessions of the integration user query at once",
                    response=exc.response,
                ) from exc
            start = resume.stamp or since
            logger.warning(
                "salesforce %s: query locator expired (INVALID_QUERY_LOCATOR); re-issuing "
                "the query from SystemModstamp %s",
                label,
                start.isoformat() if start else "the beginning",
                extra={"resource": label},
            )
