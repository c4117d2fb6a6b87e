"""Full and incremental sync of messages and threads (https://developers.google.com/gmail/
api/guides/sync).

Full sync: the profile's ``historyId`` is read *before* listing (every change after it
shows in history, so nothing between the listing and the cursor is lost), then
messages.list / threads.list page by page, details fetched in batches. Incremental:
history.list from the saved ``historyId``: messagesAdded and labelsAdded/Removed are
fetched again (a 404 then means deleted), messagesDeleted become ``deleted = true``.
A 404 from history.list means the id is too old: one line says so and a full sync runs;
a full sync marks loaded rows it no longer lists ``deleted = true``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import dlt

from sources.kit.connector import ResourceSpec, make_guard
from sources.kit.deadletters import RecordGuard
from sources.kit.emit import emit_page
from sources.kit.loaded import destination_sql, has_loaded, live_keys, rows_by_key
from sources.kit.monitor import SyncMonitor

from .client import GmailClient
from .errors import HistoryExpired
from .messages import BodyOptions, label_row, message_row, missing_content, thread_row
from .settings import METADATA_HEADERS, SYNC_GUIDE
from .spec import LABELS, MESSAGES, SPEC, THREADS

logger = logging.getLogger("sluice.gmail")

CURSOR = "history_id"
FILTER = "listing_filter"
"""The ``q`` (and spam/trash choice) of the last full listing: deletes are inferred from a
re-list only when it lists the same set."""


@dataclass
class GmailRun:
    """What every Gmail resource of one run shares."""

    client: GmailClient
    run_id: str
    monitor: SyncMonitor
    q: Optional[str] = None
    include_spam_trash: bool = False
    options: BodyOptions = field(default_factory=BodyOptions)

    @property
    def listing_filter(self) -> str:
        """What a full listing selects, saved with the cursor."""
        return f"q={self.q or ''};spam_trash={self.include_spam_trash}"


@dataclass
class Changes:
    """What history says happened to each message (or thread) since the cursor."""

    fetch: dict[str, None] = field(default_factory=dict)
    deleted: dict[str, None] = field(default_factory=dict)
    newest: Optional[int] = None

    def touch(self, key: str) -> None:
        """Fetch ``key`` again (added or relabelled), unless it is deleted later."""
        self.deleted.pop(key, None)
        self.fetch[key] = None

    def delete(self, key: str) -> None:
        """``key`` was deleted (its later history cannot resurrect it)."""
        self.fetch.pop(key, None)
        self.deleted[key] = None


HISTORY_KINDS = ("messagesAdded", "labelsAdded", "labelsRemoved", "messagesDeleted")


def read_history(client: GmailClient, start: int, label: str, key: str = "id") -> Changes:
    """Every history record since ``start``, folded per message (``key="id"``) or thread
    (``key="threadId"``), and the mailbox's newest ``historyId``.

    Raises:
        HistoryExpired: ``start`` is older than the history Gmail keeps.
    """
    changes = Changes()
    for records, page in client.history(start, label=label):
        for record in records:
            for kind in HISTORY_KINDS:
                for entry in record.get(kind) or ():
                    message = entry.get("message") if isinstance(entry, dict) else None
                    if not isinstance(message, dict) or not message.get(key):
                        continue
                    if kind == "messagesDeleted" and key == "id":
                        changes.delete(str(message[key]))
                    else:
                        changes.touch(str(message[key]))
        newest = page.get("historyId")
        if newest is not None:
            changes.newest = int(newest)
    return changes


def saved_cursor(resource: str, run: GmailRun) -> tuple[Any, Optional[int]]:
    """The resource's state and its saved ``historyId``."""
    state = dlt.current.resource_state(resource)
    cursor = state.get(CURSOR)
    run.monitor.cursor(resource, before=cursor)
    return state, int(cursor) if cursor is not None else None


def changes_or_full_sync(
    resource: str, run: GmailRun, cursor: Optional[int], key: str
) -> Optional[Changes]:
    """The history since the cursor; None when a full sync is due (none yet, or expired)."""
    if cursor is None:
        return None
    try:
        return read_history(run.client, cursor, resource, key)
    except HistoryExpired:
        logger.warning(
            "gmail %s: saved historyId %s is older than the history Gmail keeps (history.list "
            "answered 404); re-listing every %s so no change is skipped (%s)",
            resource,
            cursor,
            "message" if key == "id" else "thread",
            SYNC_GUIDE,
        )
        return None


def loaded_tombstones(resource: ResourceSpec, keys: Iterable[str]) -> list[dict[str, Any]]:
    """The loaded rows of ``keys`` marked deleted; a bare tombstone for keys never loaded."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    rows: dict[str, dict[str, Any]] = {}
    if has_loaded(resource.name):
        with destination_sql(f"gmail {resource.name}") as sql:
            if sql is not None:
                rows = {str(r["id"]): r for r in rows_by_key(sql, resource.name, "id", wanted)}
    return [{**rows.get(k, {"id": k}), "id": k, "deleted": True} for k in wanted]


def unlisted_tombstones(resource: ResourceSpec, listed: set[str]) -> list[dict[str, Any]]:
    """Deleted rows for the live loaded rows a complete listing no longer returned."""
    if not has_loaded(resource.name):
        return []
    with destination_sql(f"gmail {resource.name}") as sql:
        if sql is None:
            return []
        gone = sorted(live_keys(sql, resource.name, "id") - listed)
        if not gone:
            return []
        rows = rows_by_key(sql, resource.name, "id", gone)
    logger.info("gmail %s: %d row(s) no longer listed, marked deleted", resource.name, len(gone))
    return [{**r, "deleted": True} for r in rows]


def emit(
    guard: RecordGuard,
    run: GmailRun,
    resource: str,
    rows: list[dict[str, Any]],
    *,
    updated: int = 0,
    deleted: int = 0,
    pages: int = 1,
) -> Iterator[Any]:
    """One page through the guard and the ledger counters (nothing for an empty one)."""
    if rows or pages:
        yield from emit_page(
            guard, rows, run.monitor, resource, updated=updated, deleted=deleted, pages=pages
        )


# -- labels ------------------------------------------------------------------------------


def label_rows(run: GmailRun) -> Iterator[Any]:
    """Every label, each run (labels.list is one call); vanished labels marked deleted."""
    guard = make_guard(SPEC, LABELS, run.run_id)
    rows = [label_row(label) for label in run.client.labels()]
    yield from emit(guard, run, "labels", rows, pages=1)
    gone = unlisted_tombstones(LABELS, {str(r["id"]) for r in rows})
    yield from emit(guard, run, "labels", gone, deleted=len(gone), pages=0)


# -- messages ----------------------------------------------------------------------------


FullSync = Callable[["GmailRun", RecordGuard, Any], Generator[Any, None, int]]
ChangedSync = Callable[["GmailRun", RecordGuard, "Changes"], Iterator[Any]]


def synced_rows(
    run: GmailRun, resource: ResourceSpec, key: str, full: FullSync, changed: ChangedSync
) -> Iterator[Any]:
    """One history-followed resource: the changes since its saved historyId (``key``
    names the history entries' id field), else a full sync; the new historyId saved."""
    state, cursor = saved_cursor(resource.name, run)
    guard = make_guard(SPEC, resource, run.run_id)
    changes = changes_or_full_sync(resource.name, run, cursor, key)
    if changes is None:
        newest: Optional[int] = yield from full(run, guard, state)
    else:
        yield from changed(run, guard, changes)
        newest = changes.newest if changes.newest is not None else cursor
    state[CURSOR] = newest
    run.monitor.cursor(resource.name, after=newest)


def message_rows(run: GmailRun) -> Iterator[Any]:
    """The messages resource: incremental from the saved historyId, else a full sync."""
    yield from synced_rows(run, MESSAGES, "id", full_messages, changed_messages)


def full_messages(run: GmailRun, guard: RecordGuard, state: Any) -> Generator[Any, None, int]:
    """Lists every message, fetches them in batches; returns the historyId to save."""
    start = int(run.client.profile()["historyId"])  # before listing: see module docstring
    listed: set[str] = set()
    for refs, page in run.client.message_refs(run.q, include_spam_trash=run.include_spam_trash):
        run.monitor.set_total("messages", page.get("resultSizeEstimate"))
        ids = [str(r["id"]) for r in refs if r.get("id")]
        listed.update(ids)
        yield from fetch_messages(run, guard, ids, pages=1)
    if state.get(FILTER) == run.listing_filter:
        gone = unlisted_tombstones(MESSAGES, listed)
        yield from emit(guard, run, "messages", gone, deleted=len(gone), pages=0)
    state[FILTER] = run.listing_filter
    return start


def changed_messages(run: GmailRun, guard: RecordGuard, changes: Changes) -> Iterator[Any]:
    """Fetches what history added or relabelled; marks what it deleted."""
    gone = yield from fetch_messages(run, guard, list(changes.fetch), pages=0, updated=True)
    deleted = loaded_tombstones(MESSAGES, [*changes.deleted, *gone])
    yield from emit(guard, run, "messages", deleted, deleted=len(deleted), pages=0)


def fetch_messages(
    run: GmailRun, guard: RecordGuard, ids: list[str], *, pages: int, updated: bool = False
) -> Generator[Any, None, list[str]]:
    """messages.get of ``ids`` in batches; returns the ids that answered 404."""
    client, options = run.client, run.options
    headers = METADATA_HEADERS if options.format == "metadata" else ()
    calls = [client.message_call(i, options.format, headers) for i in ids]
    missing: list[str] = []
    first = True
    for found in client.fetch(calls, label="messages"):
        rows = [message_row(m, options) for m in found.values() if isinstance(m, dict)]
        missing.extend(key for key, m in found.items() if m is None)
        if options.attachments:
            read_attachments(client, rows)
        count = len(rows) if updated else 0
        yield from emit(guard, run, "messages", rows, updated=count, pages=pages if first else 0)
        first = False
    if first and pages:
        yield from emit(guard, run, "messages", [], pages=pages)
    return missing


def read_attachments(client: GmailClient, rows: list[dict[str, Any]]) -> None:
    """Fills in the content of the rows' attachments within the cap (attachments.get)."""
    wanted = {f"{row['id']}/{a['attachment_id']}": a for row in rows for a in missing_content(row)}
    calls = [client.attachment_call(*key.split("/", 1)) for key in wanted]
    for found in client.fetch(calls, label="messages"):
        for key, body in found.items():
            if isinstance(body, dict):
                wanted[key]["data"] = body.get("data")


# -- threads -----------------------------------------------------------------------------


def thread_rows(run: GmailRun) -> Iterator[Any]:
    """The threads resource: threads history names are fetched again, else a full sync."""
    yield from synced_rows(run, THREADS, "threadId", full_threads, changed_threads)


def message_counts(run: GmailRun) -> Mapping[str, int]:
    """Messages per thread from messages.list ids (5 units a page of 500, not 10 a thread)."""
    counts: Counter[str] = Counter()
    refs = run.client.message_refs(
        run.q, include_spam_trash=run.include_spam_trash, label="threads"
    )
    for page, _ in refs:
        counts.update(str(r["threadId"]) for r in page if r.get("threadId"))
    return counts


def full_threads(run: GmailRun, guard: RecordGuard, state: Any) -> Generator[Any, None, int]:
    """Lists every thread with its message count; returns the historyId to save."""
    start = int(run.client.profile()["historyId"])
    counts = message_counts(run)
    listed: set[str] = set()
    pages = run.client.thread_pages(run.q, include_spam_trash=run.include_spam_trash)
    for threads, page in pages:
        run.monitor.set_total("threads", page.get("resultSizeEstimate"))
        rows = [thread_row(t, counts.get(str(t.get("id")), 0)) for t in threads]
        listed.update(str(r["id"]) for r in rows)
        yield from emit(guard, run, "threads", rows, pages=1)
    if state.get(FILTER) == run.listing_filter:
        gone = unlisted_tombstones(THREADS, listed)
        yield from emit(guard, run, "threads", gone, deleted=len(gone), pages=0)
    state[FILTER] = run.listing_filter
    return start


def changed_threads(run: GmailRun, guard: RecordGuard, changes: Changes) -> Iterator[Any]:
    """threads.get of every thread history names; a 404 (all its messages gone) deletes."""
    calls = [run.client.thread_call(t) for t in changes.fetch]
    missing: list[str] = []
    for found in run.client.fetch(calls, label="threads"):
        rows = [thread_row(t) for t in found.values() if isinstance(t, dict)]
        missing.extend(key for key, t in found.items() if t is None)
        yield from emit(guard, run, "threads", rows, updated=len(rows), pages=0)
    deleted = loaded_tombstones(THREADS, missing)
    yield from emit(guard, run, "threads", deleted, deleted=len(deleted), pages=0)
