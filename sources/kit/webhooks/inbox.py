"""A durable webhook inbox on SQLite: group-committed inserts, drain bookkeeping.

Received events are written by a single writer thread. Requests hand their event to the
writer and wait; the writer takes every event queued so far, inserts them in one
transaction and commits once (one fsync of the write-ahead log, ``synchronous=FULL``),
then wakes every waiting request. A request learns its event is stored only after that
commit, so an acknowledged event survives ``kill -9`` and power loss alike, while the
cost of the fsync is shared by every request that arrived during the previous one.

The inbox also keeps what a drain needs to be restartable and order-safe: which events
are done, the newest event applied per object (drained events keep their body, so a later
drain can compare a late delivery with what it applied), and named cursors (the
reconcile point).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from sources.kit.errors import RetriableError

logger = logging.getLogger("sluice.webhooks.inbox")

DEFAULT_MAX_BATCH = 1000
"""Most events the writer commits in one transaction."""

ROWS_PER_STATEMENT = 150
"""Events per multi-row INSERT: 6 parameters each stays under 999, the smallest limit
of parameters per statement any SQLite build has."""

BUSY_TIMEOUT_MS = 10_000
"""How long a connection waits for another process's write lock (drain vs receiver)."""

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS events (
        id TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        type TEXT NOT NULL,
        payload BLOB NOT NULL,
        received_at REAL NOT NULL,
        source TEXT NOT NULL,
        done_at REAL
    )
    """,
    "CREATE INDEX IF NOT EXISTS events_pending ON events (created, id) WHERE done_at IS NULL",
    """
    CREATE TABLE IF NOT EXISTS applied_versions (
        object_type TEXT NOT NULL,
        object_id TEXT NOT NULL,
        event_created INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        PRIMARY KEY (object_type, object_id)
    ) WITHOUT ROWID
    """,
    "CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)

SELECT_EVENTS = "SELECT id, created, type, payload, received_at, source FROM events"

INSERT_EVENTS = "INSERT OR IGNORE INTO events (id, created, type, payload, received_at, source)"

UPSERT_VERSION = """
    INSERT INTO applied_versions (object_type, object_id, event_created, event_id)
    VALUES (?, ?, ?, ?)
    ON CONFLICT (object_type, object_id) DO UPDATE SET
        event_created = excluded.event_created, event_id = excluded.event_id
    WHERE excluded.event_created >= applied_versions.event_created
"""
"""Never back to an older second; within one second the drain's latest choice stands (it
chose among every event of that second it knew, the applied one included, and the order
of event ids within a second means nothing)."""


class InboxUnavailableError(RetriableError):
    """The inbox could not store the event (closed, disk full, I/O error); retry later."""


@dataclass(frozen=True)
class InboxEvent:
    """One received event as the inbox stores it.

    Attributes:
        event_id: The provider's event id (primary key; duplicates are stored once).
        created: When the provider created the event (unix seconds).
        type: The event type (``customer.updated``).
        payload: The raw body, byte for byte.
        received_at: When it was received (unix seconds).
        source: How it arrived: ``webhook`` or ``reconcile``.
    """

    event_id: str
    created: int
    type: str
    payload: bytes
    received_at: float
    source: str = "webhook"

    def row(self) -> tuple[str, int, str, bytes, float, str]:
        """The values of one row of :data:`INSERT_EVENTS`."""
        return (
            self.event_id,
            self.created,
            self.type,
            self.payload,
            self.received_at,
            self.source,
        )


@dataclass(frozen=True)
class AppliedVersion:
    """The newest event already applied to one object's row.

    Attributes:
        object_type: The provider's object type (``customer``).
        object_id: The object's id.
        event_created: ``created`` of the event whose snapshot the row holds.
        event_id: That event's id (breaks ties between events of the same second).
    """

    object_type: str
    object_id: str
    event_created: int
    event_id: str

    @property
    def order_key(self) -> tuple[int, str]:
        """Sort key: newer events compare greater."""
        return (self.event_created, self.event_id)


@dataclass(frozen=True)
class InboxCounts:
    """How many events the inbox holds, by state."""

    total: int
    pending: int

    @property
    def done(self) -> int:
        """Events already drained."""
        return self.total - self.pending


@dataclass
class _Write:
    """An event waiting for the writer, and the future its request waits on."""

    event: InboxEvent
    future: Future[bool] = field(default_factory=Future)


_STOP = object()


def connect(path: Union[str, Path]) -> sqlite3.Connection:
    """Opens the inbox database in WAL mode with full fsync on every commit."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def create_schema(conn: sqlite3.Connection) -> None:
    """Creates the inbox tables if they do not exist yet."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class Inbox:
    """Durable, idempotent store of received webhook events.

    Thread-safe. ``put``/``submit`` go through the group-commit writer thread; the
    drain and reconcile methods use their own connection. Several processes may open
    the same file (the receiver stores while a drain runs).

    Args:
        path: SQLite database file (created when missing).
        clock: Wall clock in unix seconds, used for ``done_at`` (injected in tests).
        max_batch: Most events committed in one transaction.
        commit_window_s: Extra time the writer waits for more events before committing a
            batch; 0 commits as soon as the previous commit finished (events that arrive
            during an fsync form the next batch).
    """

    def __init__(
        self,
        path: Union[str, Path],
        *,
        clock: Callable[[], float] = time.time,
        max_batch: int = DEFAULT_MAX_BATCH,
        commit_window_s: float = 0.0,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._max_batch = max(1, max_batch)
        self._commit_window_s = max(0.0, commit_window_s)
        self._conn = connect(self.path)
        create_schema(self._conn)
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._writer: Optional[threading.Thread] = None
        self._writer_lock = threading.Lock()
        self._closed = False
        self.batches_committed = 0
        self.events_committed = 0

    def __repr__(self) -> str:
        return f"Inbox({str(self.path)!r})"

    def __enter__(self) -> Inbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- storing ------------------------------------------------------------------------

    def put(
        self,
        event_id: str,
        created: int,
        event_type: str,
        payload: bytes,
        received_at: float,
        *,
        source: str = "webhook",
    ) -> bool:
        """Stores one event durably; returns once its batch is committed.

        Args:
            event_id: The provider's event id.
            created: Event creation time (unix seconds).
            event_type: The event type.
            payload: The raw body.
            received_at: Receipt time (unix seconds).
            source: ``webhook`` or ``reconcile``.

        Returns:
            True when stored now, False when the id was already stored (a duplicate).

        Raises:
            InboxUnavailableError: The event could not be stored.
        """
        event = InboxEvent(event_id, int(created), event_type, payload, received_at, source)
        return self.submit(event).result()

    def put_many(self, events: Sequence[InboxEvent]) -> list[bool]:
        """Stores several events durably (usually in one commit); True per newly stored one."""
        futures = [self.submit(event) for event in events]
        return [future.result() for future in futures]

    def submit(self, event: InboxEvent) -> Future[bool]:
        """Queues an event for the next group commit.

        The future resolves to True (stored) or False (duplicate) only after the commit
        holding the event returned; it fails with :class:`InboxUnavailableError` when
        the commit failed. Async callers wait with ``asyncio.wrap_future``.
        """
        if self._closed:
            raise InboxUnavailableError("the webhook inbox is closed")
        self._ensure_writer()
        write = _Write(event)
        self._queue.put(write)
        return write.future

    def _ensure_writer(self) -> None:
        if self._writer is not None:
            return
        with self._writer_lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="inbox-writer", daemon=True
                )
                self._writer.start()

    def _write_loop(self) -> None:
        conn = connect(self.path)
        try:
            while True:
                batch, stop = self._next_batch()
                if batch:
                    self._commit(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _next_batch(self) -> tuple[list[_Write], bool]:
        """Blocks for one write, then takes whatever else is queued (up to max_batch)."""
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch = [first] if isinstance(first, _Write) else []
        deadline = time.monotonic() + self._commit_window_s
        while len(batch) < self._max_batch:
            item = self._take(deadline)
            if item is None:
                break
            if item is _STOP:
                return batch, True
            if isinstance(item, _Write):
                batch.append(item)
        return batch, False

    def _take(self, deadline: float) -> Optional[object]:
        remaining = deadline - time.monotonic()
        try:
            if remaining > 0:
                return self._queue.get(timeout=remaining)
            return self._queue.get_nowait()
        except queue.Empty:
            return None

    def _commit(self, conn: sqlite3.Connection, batch: list[_Write]) -> None:
        """Stores a batch in one transaction and one fsync, then answers every request."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            stored = insert_new(conn, [w.event for w in batch])
            conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - every waiting request must be answered
            rollback_quietly(conn)
            logger.error("webhook inbox commit of %d event(s) failed: %s", len(batch), exc)
            failure = InboxUnavailableError(f"webhook inbox commit failed: {exc}")
            for write in batch:
                settle(write.future, exception=failure)
            return
        self.batches_committed += 1
        self.events_committed += len(batch)
        for write, is_new in zip(batch, stored, strict=True):
            settle(write.future, result=is_new)

    def close(self) -> None:
        """Commits what is queued, stops the writer and closes the database."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join()
        with self._lock:
            self._conn.close()

    # --- draining -----------------------------------------------------------------------

    def pending(self, limit: int) -> list[InboxEvent]:
        """Events not yet drained, oldest ``created`` first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, created, type, payload, received_at, source FROM events "
                "WHERE done_at IS NULL ORDER BY created, id LIMIT ?",
                (int(limit),),
            ).fetchall()
        return [InboxEvent(*row) for row in rows]

    def mark_done(self, ids: Iterable[str], applied: Iterable[AppliedVersion] = ()) -> None:
        """Marks events drained and records the newest applied event per object.

        Both happen in one transaction, so a crash leaves either all of it or none.
        A recorded version never moves back to an older second.
        """
        done = [(self._clock(), event_id) for event_id in ids]
        versions = [(v.object_type, v.object_id, v.event_created, v.event_id) for v in applied]

        def record(conn: sqlite3.Connection) -> None:
            conn.executemany("UPDATE events SET done_at = ? WHERE id = ? AND done_at IS NULL", done)
            conn.executemany(UPSERT_VERSION, versions)

        with self._lock:
            self._transaction(record)

    def events_by_id(self, ids: Iterable[str]) -> dict[str, InboxEvent]:
        """The stored events (drained or not) among ``ids``."""
        found: dict[str, InboxEvent] = {}
        wanted = list(dict.fromkeys(ids))
        step = ROWS_PER_STATEMENT * 6
        with self._lock:
            for start in range(0, len(wanted), step):
                chunk = wanted[start : start + step]
                marks = ",".join("?" * len(chunk))
                sql = f"{SELECT_EVENTS} WHERE id IN ({marks})"  # noqa: S608 - placeholders
                for row in self._conn.execute(sql, chunk):
                    found[row[0]] = InboxEvent(*row)
        return found

    def applied_versions(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], AppliedVersion]:
        """The newest applied event of each ``(object_type, object_id)`` that has one."""
        found: dict[tuple[str, str], AppliedVersion] = {}
        with self._lock:
            for object_type, object_id in keys:
                row = self._conn.execute(
                    "SELECT event_created, event_id FROM applied_versions "
                    "WHERE object_type = ? AND object_id = ?",
                    (object_type, object_id),
                ).fetchone()
                if row is not None:
                    found[(object_type, object_id)] = AppliedVersion(
                        object_type, object_id, int(row[0]), str(row[1])
                    )
        return found

    # --- cursors and counts -------------------------------------------------------------

    def get_cursor(self, name: str) -> Optional[int]:
        """A saved cursor (unix seconds), or None when never saved."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return None if row is None else int(row[0])

    def set_cursor(self, name: str, value: int) -> None:
        """Saves a cursor durably."""
        with self._lock:
            self._transaction(
                lambda c: c.execute(
                    "INSERT INTO cursors (name, value) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    (name, int(value)),
                )
            )

    def counts(self) -> InboxCounts:
        """How many events are stored and how many are still pending."""
        with self._lock:
            total, pending = self._conn.execute(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE done_at IS NULL) FROM events"
            ).fetchone()
        return InboxCounts(total=int(total), pending=int(pending or 0))

    def event_ids(self) -> set[str]:
        """Ids of every stored event, drained or not."""
        with self._lock:
            return {row[0] for row in self._conn.execute("SELECT id FROM events")}

    def oldest_created(self) -> Optional[int]:
        """``created`` of the oldest stored event, or None when empty."""
        with self._lock:
            row = self._conn.execute("SELECT MIN(created) FROM events").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _transaction(self, work: Callable[[sqlite3.Connection], object]) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            work(self._conn)
            self._conn.execute("COMMIT")
        except BaseException:
            rollback_quietly(self._conn)
            raise


def insert_new(conn: sqlite3.Connection, events: Sequence[InboxEvent]) -> list[bool]:
    """Inserts the events whose id is not stored yet; True for each one inserted.

    A few multi-row statements per batch, not one statement per event: every statement
    hands the GIL back and forth with the request threads, which under load costs far
    more than the SQL. Runs inside the caller's write transaction, so no other writer
    can slip in between the lookup and the insert.
    """
    existing = stored_ids(conn, list(dict.fromkeys(e.event_id for e in events)))
    stored: list[bool] = []
    fresh: dict[str, InboxEvent] = {}
    for event in events:
        is_new = event.event_id not in existing and event.event_id not in fresh
        if is_new:
            fresh[event.event_id] = event
        stored.append(is_new)
    rows = list(fresh.values())
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        values = ",".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))
        conn.execute(f"{INSERT_EVENTS} VALUES {values}", [v for e in chunk for v in e.row()])
    return stored


def stored_ids(conn: sqlite3.Connection, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are already in the inbox."""
    found: set[str] = set()
    step = ROWS_PER_STATEMENT * 6
    for start in range(0, len(ids), step):
        chunk = list(ids[start : start + step])
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT id FROM events WHERE id IN ({marks})"  # noqa: S608 - placeholders only
        found.update(row[0] for row in conn.execute(sql, chunk))
    return found


def settle(
    future: Future[bool],
    *,
    result: Optional[bool] = None,
    exception: Optional[BaseException] = None,
) -> None:
    """Resolves a waiting request's future unless it was cancelled meanwhile."""
    try:
        if exception is not None:
            future.set_exception(exception)
        else:
            future.set_result(bool(result))
    except InvalidStateError:
        logger.debug("a request stopped waiting before its event was committed")


def rollback_quietly(conn: sqlite3.Connection) -> None:
    """Rolls back an open transaction, ignoring "no transaction is active"."""
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        logger.debug("rollback after a failed inbox transaction failed", exc_info=True)
