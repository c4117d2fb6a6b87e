"""Yielding a page of records: dead-letter guard plus run-ledger counters, in one step."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .columnar import RecordPage
from .deadletters import DEFAULT_MAX_BATCH, RecordGuard
from .monitor import SyncMonitor


def gather_pages(pages: Iterable[list[Any]], min_records: int) -> Iterator[tuple[list[Any], int]]:
    """Joins consecutive pages until each batch holds at least ``min_records`` records.

    Per-item costs in dlt (schema checks, file writes) are paid per batch, not per page.

    Args:
        pages: Pages of records, as listed.
        min_records: Smallest batch yielded (the last one may be smaller).

    Yields:
        ``(records, pages)``: a batch and how many API pages it joins.
    """
    batch: list[Any] = []
    count = 0
    for page in pages:
        batch.extend(page)
        count += 1
        if len(batch) >= min_records:
            yield batch, count
            batch, count = [], 0
    if count:
        yield batch, count


def emit_page(
    guard: RecordGuard,
    records: list[Any],
    monitor: SyncMonitor,
    resource: str,
    *,
    updated: int = 0,
    deleted: int = 0,
    pages: int = 1,
    as_pages: bool = False,
    max_batch: int = DEFAULT_MAX_BATCH,
) -> Iterator[Any]:
    """Yields a page through the dead-letter guard and reports it to the run ledger.

    Args:
        guard: Routes records that cannot be loaded as declared to ``_dead_letters``.
        records: The page's records, as the API sent them (already shaped).
        monitor: The run's ledger counters.
        resource: Resource name the figures are recorded under.
        updated: How many of the records change existing objects.
        deleted: How many of the records are deletions.
        pages: API pages this call stands for (0 for records from a shared feed).
        as_pages: Yield good records as :class:`RecordPage` for the resource's
            columnar step instead of as lists of dicts.
        max_batch: Largest list (or record page) yielded.

    Yields:
        Lists of good records (or record pages) and dead-letter items.
    """
    before = guard.dead_lettered
    loaded = 0
    for item in guard.batches(records, max_batch=max_batch):
        if isinstance(item, list):
            loaded += len(item)
            yield RecordPage(item) if as_pages else item
            continue
        yield item
    monitor.record(
        resource,
        loaded=loaded,
        updated=updated,
        deleted=deleted,
        dead_lettered=guard.dead_lettered - before,
        pages=pages,
    )
