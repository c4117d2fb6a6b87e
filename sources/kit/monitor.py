"""Run monitoring: what one sync run did, per resource, as rows of ``_sync_runs``.

A connector calls a :class:`SyncMonitor` from its resources (records and pages per
resource, cursors, failures); :func:`sources.kit.ledger.run_with_ledger` adds what
only the pipeline knows (rows that reached the destination, HTTP counters, circuit
breakers, dead letters, the run's exception) and writes one row per resource with
:meth:`SyncMonitor.ledger_rows`. Rows hold no secrets: error text is redacted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Optional

from dlt.common.schema.typing import TColumnSchema

from .errors import SluiceError
from .progress import ProgressReporter
from .redact import Redactor, global_redactor

logger = logging.getLogger("sluice.monitor")

LEDGER_TABLE = "_sync_runs"
"""Table in the pipeline's dataset with one row per resource per run."""

SUCCESS = "success"
PARTIAL = "partial"
FAILED = "failed"
STATUSES = (SUCCESS, PARTIAL, FAILED)

SOURCE_ROW = "_source"
"""Resource name of the row holding HTTP traffic no resource label claims
(credential check, a change feed shared by several resources)."""

MAX_ERROR_SUMMARY = 500
"""Longest error summary kept in the ledger (a diagnosis, not a dump)."""

HTTP_COUNTERS: Mapping[str, str] = {
    "api_requests": "requests",
    "retries": "retries",
    "throttled_429": "throttled_429",
    "server_errors": "server_errors",
    "circuit_trips": "circuit_trips",
}
"""Ledger column -> key of ``ResilientSession.stats_by_label()`` entries."""

LEDGER_COLUMNS: Mapping[str, TColumnSchema] = {
    "run_id": {"data_type": "text", "nullable": False},
    "pipeline_name": {"data_type": "text", "nullable": True},
    "source": {"data_type": "text", "nullable": False},
    "resource": {"data_type": "text", "nullable": False},
    "started_at": {"data_type": "timestamp", "nullable": False},
    "finished_at": {"data_type": "timestamp", "nullable": False},
    "duration_s": {"data_type": "double", "nullable": False},
    "status": {"data_type": "text", "nullable": False},
    "run_status": {"data_type": "text", "nullable": False},
    "records_loaded": {"data_type": "bigint", "nullable": False},
    "records_updated": {"data_type": "bigint", "nullable": False},
    "records_deleted": {"data_type": "bigint", "nullable": False},
    "records_dead_lettered": {"data_type": "bigint", "nullable": False},
    "records_extracted": {"data_type": "bigint", "nullable": False},
    "pages": {"data_type": "bigint", "nullable": False},
    "api_requests": {"data_type": "bigint", "nullable": False},
    "retries": {"data_type": "bigint", "nullable": False},
    "throttled_429": {"data_type": "bigint", "nullable": False},
    "server_errors": {"data_type": "bigint", "nullable": False},
    "circuit_trips": {"data_type": "bigint", "nullable": False},
    "rate_limit_wait_s": {"data_type": "double", "nullable": False},
    "circuit_state": {"data_type": "text", "nullable": True},
    "cursor_before": {"data_type": "text", "nullable": True},
    "cursor_after": {"data_type": "text", "nullable": True},
    "error_summary": {"data_type": "text", "nullable": True},
}
"""Columns of :data:`LEDGER_TABLE`, in order, with explicit types."""

PENDING_NOTE = " [load package kept pending: the next run retries it first]"

BREAKER_SEVERITY = {"closed": 0, "half_open": 1, "open": 2}

Clock = Callable[[], float]


@dataclass
class ResourceCounters:
    """What the connector reported for one resource during the run.

    Attributes:
        loaded: Records yielded for the resource's table (new, changed and deleted alike).
        updated: How many of ``loaded`` were changes of objects loaded before.
        deleted: How many of ``loaded`` were deletions.
        dead_lettered: Records routed to ``_dead_letters`` instead of the table.
        pages: API pages read.
        cursor_before: Cursor the resource started from (text), if reported.
        cursor_after: Cursor the resource will start from next time (text), if reported.
        cursor_reported: Whether the connector reported a cursor at all.
        error: Redacted one-line summary of the resource's own failure, if it failed.
        figures: Connector figures written as extra ledger columns (Postgres CDC's slot
            lag); :func:`sources.kit.ledger.read_ledger` reads only the standard ones.
    """

    loaded: int = 0
    updated: int = 0
    deleted: int = 0
    dead_lettered: int = 0
    pages: int = 0
    cursor_before: Optional[str] = None
    cursor_after: Optional[str] = None
    cursor_reported: bool = False
    error: Optional[str] = None
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFacts:
    """What the pipeline knows about a finished run, beyond the monitor's counters.

    Attributes:
        run_failed: The run raised.
        error: The run's exception, if it raised.
        http_stats_by_label: ``ResilientSession.stats_by_label()``.
        breaker_snapshot: ``CircuitRegistry.snapshot()``.
        dead_letters_by_resource: Dead letters stored for this run, per resource; None
            when unknown (the monitor's counters are used then).
        loaded_by_resource: Rows of each resource's table that reached the destination
            in this run; None when unknown (the monitor's counters are used when the
            run succeeded).
        state_cursors: ``(before, after)`` cursors read from pipeline state per resource,
            used for resources whose connector reported none.
        pipeline_name: Name of the pipeline that ran.
    """

    run_failed: bool = False
    error: Optional[BaseException] = None
    http_stats_by_label: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    breaker_snapshot: Sequence[Mapping[str, Any]] = ()
    dead_letters_by_resource: Optional[Mapping[str, int]] = None
    loaded_by_resource: Optional[Mapping[str, int]] = None
    state_cursors: Mapping[str, tuple[Optional[str], Optional[str]]] = field(default_factory=dict)
    pipeline_name: Optional[str] = None


class SyncMonitor:
    """Thread-safe per-resource counters of one sync run.

    Resources call :meth:`record` once per page (from any thread), :meth:`cursor`
    when they know where they start and end, and :meth:`resource_failed` when they
    give up. Unknown resource names are created on first use.
    """

    def __init__(
        self,
        source: str,
        run_id: str,
        *,
        clock: Clock = time.time,
        progress: Optional[ProgressReporter] = None,
        redactor: Optional[Redactor] = None,
    ) -> None:
        """Creates the monitor and marks the run as started.

        Args:
            source: Source name written to every row (``stripe``).
            run_id: Identifier of this run (the same one dead letters carry).
            clock: Wall clock in unix seconds (injected in tests).
            progress: Live progress display fed by :meth:`record`; a log-line reporter
                when omitted.
            redactor: Masks secrets in error summaries; the process-wide one by default.
        """
        self.source = source
        self.run_id = run_id
        self.progress = progress or ProgressReporter()
        self._clock = clock
        self._redactor = redactor or global_redactor()
        self._lock = threading.Lock()
        self._counters: dict[str, ResourceCounters] = {}
        self._started_at = clock()
        self._finished_at: Optional[float] = None
        self.last_rows: list[dict[str, Any]] = []
        """The rows the last :meth:`ledger_rows` call built (for a run summary)."""
        self.http_session: Optional[Any] = None
        """The source's HTTP session (request counters, breakers), set by the source."""

    def __repr__(self) -> str:
        return (
            f"SyncMonitor(source={self.source!r}, run_id={self.run_id!r}, "
            f"resources={len(self._counters)})"
        )

    @property
    def started_at(self) -> float:
        """Unix seconds when the run started."""
        return self._started_at

    @property
    def finished_at(self) -> Optional[float]:
        """Unix seconds when the run finished, once :meth:`finish` was called."""
        return self._finished_at

    def start(self) -> None:
        """(Re)marks the start of the run: call right before the pipeline runs."""
        self._started_at = self._clock()
        self._finished_at = None

    def finish(self) -> None:
        """Marks the end of the run and closes the progress display."""
        self._finished_at = self._clock()
        self.progress.finish()

    def expect(self, resources: Iterable[str]) -> None:
        """Declares the resources of the run, so each gets a row even if it never ran."""
        with self._lock:
            for name in resources:
                self._counters.setdefault(name, ResourceCounters())

    def record(
        self,
        resource: str,
        *,
        loaded: int = 0,
        updated: int = 0,
        deleted: int = 0,
        dead_lettered: int = 0,
        pages: int = 0,
    ) -> None:
        """Adds what a resource just yielded; call once per page.

        Args:
            resource: Resource name.
            loaded: Records yielded for the table (new, changed and deleted alike).
            updated: How many of ``loaded`` were changes of existing objects.
            deleted: How many of ``loaded`` were deletions.
            dead_lettered: Records routed to ``_dead_letters`` instead.
            pages: API pages read (1 per page).
        """
        with self._lock:
            counters = self._counters.setdefault(resource, ResourceCounters())
            counters.loaded += loaded
            counters.updated += updated
            counters.deleted += deleted
            counters.dead_lettered += dead_lettered
            counters.pages += pages
        self.progress.advance(resource, records=loaded, pages=pages)

    def set_total(self, resource: str, total: Optional[int]) -> None:
        """Tells the progress display how many records a resource will yield, if known."""
        self.progress.set_total(resource, total)

    def cursor(self, resource: str, *, before: Any = None, after: Any = None) -> None:
        """Reports the resource's incremental cursor (unix seconds, ISO text, ids...).

        Args:
            resource: Resource name.
            before: Cursor the resource starts from (None on a first run).
            after: Cursor saved for the next run; only reported once known.
        """
        with self._lock:
            counters = self._counters.setdefault(resource, ResourceCounters())
            if not counters.cursor_reported:
                counters.cursor_before = cursor_text(before)
                counters.cursor_reported = True
            if after is not None:
                counters.cursor_after = cursor_text(after)

    def figures(self, resource: str, **values: Any) -> None:
        """Adds connector figures (``slot_lag_bytes=...``) to the resource's ledger row."""
        with self._lock:
            self._counters.setdefault(resource, ResourceCounters()).figures.update(values)

    def resource_failed(self, resource: str, exc: BaseException) -> None:
        """Records that a resource gave up, with a redacted one-line reason."""
        summary = summarize_error(exc, self._redactor)
        with self._lock:
            counters = self._counters.setdefault(resource, ResourceCounters())
            counters.error = summary
        logger.warning("%s %s failed: %s", self.source, resource, summary)

    def counters(self, resource: str) -> ResourceCounters:
        """A copy of one resource's counters (zeros for an unknown resource)."""
        with self._lock:
            return replace(self._counters.get(resource, ResourceCounters()))

    def resources(self) -> list[str]:
        """Names of every resource declared or reported, sorted."""
        with self._lock:
            return sorted(self._counters)

    def ledger_rows(
        self,
        status_hint: str,
        http_stats_by_label: Optional[Mapping[str, Mapping[str, Any]]] = None,
        breaker_snapshot: Optional[Sequence[Mapping[str, Any]]] = None,
        dead_letters_by_resource: Optional[Mapping[str, int]] = None,
        error: Optional[BaseException] = None,
        *,
        loaded_by_resource: Optional[Mapping[str, int]] = None,
        state_cursors: Optional[Mapping[str, tuple[Optional[str], Optional[str]]]] = None,
        pipeline_name: Optional[str] = None,
    ) -> list[dict[str, Any]]:
        """Builds the ``_sync_runs`` rows of this run: one per resource (+ ``_source``).

        Args:
            status_hint: ``success`` when the run returned, ``failed`` when it raised.
            http_stats_by_label: ``ResilientSession.stats_by_label()``.
            breaker_snapshot: ``CircuitRegistry.snapshot()``.
            dead_letters_by_resource: Dead letters stored for this run per resource;
                None to use the monitor's counters.
            error: The run's exception, if it raised.
            loaded_by_resource: Rows that reached the destination per resource (from
                dlt's normalize counts); None to use the monitor's counters.
            state_cursors: ``(before, after)`` cursors from pipeline state per resource.
            pipeline_name: Name of the pipeline, stored with each row.

        Returns:
            Rows with the columns of :data:`LEDGER_COLUMNS`.

        Raises:
            ValueError: ``status_hint`` is not ``success`` or ``failed``.
        """
        if status_hint not in (SUCCESS, FAILED):
            raise ValueError(f"status_hint must be {SUCCESS!r} or {FAILED!r}, got {status_hint!r}")
        facts = RunFacts(
            run_failed=status_hint == FAILED or error is not None,
            error=error,
            http_stats_by_label=http_stats_by_label or {},
            breaker_snapshot=breaker_snapshot or (),
            dead_letters_by_resource=dead_letters_by_resource,
            loaded_by_resource=loaded_by_resource,
            state_cursors=state_cursors or {},
            pipeline_name=pipeline_name,
        )
        return self.rows_from_facts(facts)

    def rows_from_facts(self, facts: RunFacts) -> list[dict[str, Any]]:
        """Builds the ledger rows from :class:`RunFacts` (see :meth:`ledger_rows`)."""
        with self._lock:
            counters = {name: replace(c) for name, c in self._counters.items()}
        culprits = failed_resource_names(facts.error) if facts.error is not None else set()
        run_error = summarize_error(facts.error, self._redactor) if facts.error else None
        for name in culprits:
            counters.setdefault(name, ResourceCounters())
            if counters[name].error is None:
                counters[name].error = run_error
        rows = [self._resource_row(name, counters[name], facts, run_error) for name in counters]
        shared = self._source_row(set(counters), facts, run_error, always=not rows)
        if shared is not None:
            rows.append(shared)
        run_status = overall_status(row["status"] for row in rows)
        for row in rows:
            row["run_status"] = run_status
        self.last_rows = sorted(rows, key=lambda r: r["resource"])
        return self.last_rows

    def _resource_row(
        self,
        name: str,
        counters: ResourceCounters,
        facts: RunFacts,
        run_error: Optional[str],
    ) -> dict[str, Any]:
        loaded = records_loaded(name, counters, facts)
        dead = dead_letters(name, counters, facts)
        status = resource_status(
            run_failed=facts.run_failed,
            resource_failed=counters.error is not None,
            loaded=loaded,
            dead_lettered=dead,
        )
        before, after = row_cursors(name, counters, facts, status)
        row = self._base_row(name, facts)
        row.update(
            status=status,
            records_loaded=loaded,
            records_updated=counters.updated if status != FAILED else 0,
            records_deleted=counters.deleted if status != FAILED else 0,
            records_dead_lettered=dead,
            records_extracted=counters.loaded,
            pages=counters.pages,
            cursor_before=before,
            cursor_after=after,
            error_summary=row_error(status, counters.error, run_error, dead),
        )
        row.update(http_figures([facts.http_stats_by_label.get(name, {})]))
        row.update(counters.figures)
        return row

    def _source_row(
        self, resources: set[str], facts: RunFacts, run_error: Optional[str], *, always: bool
    ) -> Optional[dict[str, Any]]:
        """The row of HTTP traffic no resource claims; also the only row of a run that
        failed before any resource was known (``always``, e.g. credentials rejected)."""
        unclaimed = [
            stats for label, stats in facts.http_stats_by_label.items() if label not in resources
        ]
        figures = http_figures(unclaimed)
        quiet = not figures["api_requests"] and not figures["circuit_trips"]
        if quiet and not (always and facts.run_failed):
            return None
        row = self._base_row(SOURCE_ROW, facts)
        row.update(
            status=FAILED if facts.run_failed else SUCCESS,
            records_loaded=0,
            records_updated=0,
            records_deleted=0,
            records_dead_lettered=0,
            records_extracted=0,
            pages=0,
            cursor_before=None,
            cursor_after=None,
            error_summary=run_error if facts.run_failed else None,
        )
        row.update(figures)
        return row

    def _base_row(self, resource: str, facts: RunFacts) -> dict[str, Any]:
        finished = self._finished_at if self._finished_at is not None else self._clock()
        return {
            "run_id": self.run_id,
            "pipeline_name": facts.pipeline_name,
            "source": self.source,
            "resource": resource,
            "started_at": utc_datetime(self._started_at),
            "finished_at": utc_datetime(finished),
            "duration_s": round(max(0.0, finished - self._started_at), 3),
            "circuit_state": worst_breaker_state(facts.breaker_snapshot),
        }


def utc_datetime(unix_seconds: float) -> datetime:
    """Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(unix_seconds, tz=timezone.utc)


def cursor_text(value: Any) -> Optional[str]:
    """A cursor value as text for the ledger (ISO for datetimes); None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def resource_status(
    *, run_failed: bool, resource_failed: bool, loaded: int, dead_lettered: int
) -> str:
    """Status of one resource's row.

    Args:
        run_failed: The run raised.
        resource_failed: The resource itself reported a failure.
        loaded: Rows of the resource that reached the destination.
        dead_lettered: Records of the resource stored as dead letters.

    Returns:
        ``failed`` when something failed and nothing of the resource was loaded,
        ``partial`` when it loaded but with dead letters or a failure, else ``success``.
    """
    if run_failed or resource_failed:
        return PARTIAL if loaded > 0 else FAILED
    return PARTIAL if dead_lettered > 0 else SUCCESS


def overall_status(statuses: Iterable[str]) -> str:
    """The run's status from its rows: ``failed`` if all failed, ``partial`` if any
    row is not ``success``, else ``success`` (no rows count as ``success``)."""
    seen = list(statuses)
    if seen and all(s == FAILED for s in seen):
        return FAILED
    if any(s != SUCCESS for s in seen):
        return PARTIAL
    return SUCCESS


def records_loaded(name: str, counters: ResourceCounters, facts: RunFacts) -> int:
    """Rows of a resource that reached the destination in this run.

    dlt's normalize counts when known; else the monitor's count if the run succeeded
    (nothing is loaded when a run fails before its load step finished).
    """
    if facts.loaded_by_resource is not None and name in facts.loaded_by_resource:
        return int(facts.loaded_by_resource[name])
    return 0 if facts.run_failed else counters.loaded


def dead_letters(name: str, counters: ResourceCounters, facts: RunFacts) -> int:
    """Dead letters of a resource: stored ones when known, else the monitor's count."""
    if facts.dead_letters_by_resource is not None:
        return int(facts.dead_letters_by_resource.get(name, 0))
    return counters.dead_lettered


def row_cursors(
    name: str, counters: ResourceCounters, facts: RunFacts, status: str
) -> tuple[Optional[str], Optional[str]]:
    """``(cursor_before, cursor_after)`` of a row.

    The connector's report wins; a failed resource keeps its old cursor (its state
    was not committed). Otherwise the cursors read from pipeline state are used.
    """
    if counters.cursor_reported:
        before = counters.cursor_before
        if status == FAILED or counters.cursor_after is None:
            return before, before
        return before, counters.cursor_after
    state_before, state_after = facts.state_cursors.get(name, (None, None))
    if status == FAILED:
        return state_before, state_before
    return state_before, state_after


def row_error(
    status: str, own_error: Optional[str], run_error: Optional[str], dead_lettered: int
) -> Optional[str]:
    """The error summary of a row: its own failure, else the run's, else dead letters."""
    if own_error:
        return own_error
    if status != SUCCESS and run_error:
        return run_error
    if dead_lettered:
        return f"{dead_lettered} record(s) dead-lettered: see _dead_letters"
    return None


def http_figures(stats: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Sums the HTTP counters of one or more labels into ledger columns."""
    figures: dict[str, Any] = {
        column: sum(int(s.get(key, 0) or 0) for s in stats) for column, key in HTTP_COUNTERS.items()
    }
    wait = sum(float(s.get("rate_limit_wait_s", 0.0) or 0.0) for s in stats)
    figures["rate_limit_wait_s"] = round(wait, 3)
    return figures


def worst_breaker_state(snapshot: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """The most severe circuit state at the end of the run (None without breakers)."""
    states = [str(b.get("state")) for b in snapshot if b.get("state") in BREAKER_SEVERITY]
    if not states:
        return None
    return max(states, key=lambda s: BREAKER_SEVERITY[s])


def iter_exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (dlt's ``.exception``) and its causes, outermost first."""
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        wrapped = getattr(current, "exception", None)
        if isinstance(wrapped, BaseException):
            current = wrapped
        else:
            current = current.__cause__ or current.__context__


def failed_resource_names(exc: BaseException) -> set[str]:
    """Resources named by dlt's extraction errors in an exception chain."""
    names: set[str] = set()
    for item in iter_exception_chain(exc):
        for attribute in ("pipe_name", "resource_name"):
            value = getattr(item, attribute, None)
            if isinstance(value, str) and value:
                names.add(value)
    return names


def failed_step(exc: BaseException) -> Optional[str]:
    """The dlt pipeline step (extract, normalize, load) an exception came from."""
    for item in iter_exception_chain(exc):
        step = getattr(item, "step", None)
        if isinstance(step, str) and step in ("extract", "normalize", "load", "run", "sync"):
            return step
    return None


def root_cause(exc: BaseException) -> BaseException:
    """The most telling exception in a chain: the first sluice error, else the innermost."""
    chain = list(iter_exception_chain(exc))
    for item in chain:
        if isinstance(item, SluiceError):
            return item
    return chain[-1]


def summarize_error(exc: BaseException, redactor: Optional[Redactor] = None) -> str:
    """A redacted one-line summary: ``step: ErrorType: message`` (at most 500 chars).

    A failure that left dlt load packages pending says so: they are retried first
    by the next run.
    """
    redactor = redactor or global_redactor()
    cause = root_cause(exc)
    step = failed_step(exc)
    head = f"{step}: " if step else ""
    tail = PENDING_NOTE if getattr(exc, "has_pending_data", False) else ""
    message = redactor.redact_text(" ".join(str(cause).split()) or "(no message)")
    body = f"{type(cause).__name__}: {message}"
    room = MAX_ERROR_SUMMARY - len(head) - len(tail)
    if len(body) > room:
        body = body[: max(0, room - 3)] + "..."
    return head + body + tail
