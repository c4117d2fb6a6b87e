"""The run ledger: every run leaves one row per resource in ``_sync_runs``, even a failed one.

:func:`run_with_ledger` is the one call a pipeline script makes: it runs the pipeline,
gathers what the run did (rows that reached the destination, HTTP counters, circuit
breakers, dead letters, cursors) into :meth:`SyncMonitor.ledger_rows`, writes them
with :func:`write_ledger` and re-raises the run's exception, if any.

Why the ledger has its own pipeline
-----------------------------------
A run that fails in normalize or load leaves its load package pending in the
pipeline's working folder, on purpose: dlt retries it on the next run and nothing is
lost. A second ``pipeline.run(rows)`` on the *same* pipeline would first normalize and
load that pending package: if it fails again the ledger write re-raises the run's
error, and if it succeeds ``run`` loads only the pending package and **returns
without extracting the ledger rows** (dlt warns, the rows are silently dropped).
Aborting the pending packages (``abort_packages``/``drop_pending_packages``) would make
the ledger write work by throwing the run's data away.

So the ledger is written by a sibling pipeline, ``<pipeline>__sync_runs``, in the same
``pipelines_dir``, to the same destination (the main pipeline's resolved credentials)
and the same dataset, under its own schema ``sync_ledger``. Its packages never mix with
the main pipeline's: a pending package of the main pipeline stays untouched for the
next run, and a ledger write that failed (destination down) is retried before the next
ledger write. ``refresh="drop_sources"`` of the main pipeline keeps the ledger.

Before running, :func:`run_with_ledger` finishes packages the main pipeline left
pending (as dlt's own ``run`` would) and only then extracts the source, so the run
always extracts what it was given; a pending package that fails again fails the run
loudly, with a ledger row saying so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, Union, cast

import dlt
from dlt.common.pipeline import LoadInfo
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.extract.resource import DltResource
from dlt.extract.source import DltSource
from dlt.pipeline.trace import PipelineTrace

from .errors import SluiceError
from .monitor import (
    FAILED,
    LEDGER_COLUMNS,
    LEDGER_TABLE,
    SUCCESS,
    SyncMonitor,
    cursor_text,
    failed_step,
    summarize_error,
)
from .redact import global_redactor
from .resume import resume_guard
from .run_tracking import TRACKER

__all__ = [
    "LEDGER_COLUMNS",
    "LEDGER_PIPELINE_SUFFIX",
    "LEDGER_SCHEMA",
    "LEDGER_TABLE",
    "LedgerWriteError",
    "SyncMonitor",
    "is_ledger_pipeline",
    "ledger_pipeline_name",
    "read_ledger",
    "run_with_ledger",
    "write_ledger",
]

logger = logging.getLogger("sluice.ledger")

LEDGER_PIPELINE_SUFFIX = "__sync_runs"
"""The ledger pipeline of pipeline ``stripe`` is ``stripe__sync_runs``."""

LEDGER_SCHEMA = "sync_ledger"
"""Schema (and dlt source) name the ledger table belongs to."""

DESTINATION_RUN_ARGS = ("destination", "staging", "dataset_name", "credentials")
"""``pipeline.run`` arguments that also apply when finishing pending packages."""


class LedgerWriteError(SluiceError):
    """The run finished but its ``_sync_runs`` rows could not be written."""


class HttpStatsSource(Protocol):
    """What the ledger reads from an HTTP session (``ResilientSession``)."""

    def stats_by_label(self) -> Mapping[str, Mapping[str, Any]]:
        """Counters per resource label."""
        ...


class BreakerSource(Protocol):
    """What the ledger reads from circuit breakers (``CircuitRegistry``)."""

    def snapshot(self) -> Sequence[Mapping[str, Any]]:
        """Every breaker's state and trips."""
        ...


SourceArg = Union[DltSource, DltResource, Sequence[Any], Callable[[], Any]]


def ledger_pipeline_name(pipeline_name: str) -> str:
    """Name of the pipeline that writes ``pipeline_name``'s ledger."""
    return f"{pipeline_name}{LEDGER_PIPELINE_SUFFIX}"


def is_ledger_pipeline(pipeline_name: str) -> bool:
    """Whether a pipeline is a ledger writer (hidden from ``status.py``'s pipeline list)."""
    return pipeline_name.endswith(LEDGER_PIPELINE_SUFFIX)


# -- running ------------------------------------------------------------------------------


def run_with_ledger(
    pipeline: dlt.Pipeline,
    source: SourceArg,
    monitor: SyncMonitor,
    http_session: Optional[HttpStatsSource] = None,
    *,
    breakers: Optional[BreakerSource] = None,
    **run_kwargs: Any,
) -> LoadInfo:
    """Runs the pipeline and always writes its ``_sync_runs`` rows, then re-raises.

    Args:
        pipeline: The pipeline to run.
        source: What to load: a dlt source or resource(s), or a zero-argument callable
            building them (its errors, e.g. rejected credentials, are then ledgered too).
        monitor: The monitor the source's resources report to.
        http_session: The source's HTTP session, for request counters per resource.
        breakers: Circuit breakers; ``http_session.breakers`` when omitted.
        **run_kwargs: Passed to ``pipeline.run`` (``refresh``, ``loader_file_format``...).

    Returns:
        dlt's load info.

    Raises:
        LedgerWriteError: The run succeeded but the ledger could not be written.
        BaseException: Whatever the run raised, after the ledger was written.
    """
    monitor.progress.attach_collector(pipeline.collector)
    monitor.start()
    with TRACKER.recorded_elsewhere():
        attempt = attempt_run(pipeline, source, monitor, run_kwargs)
    TRACKER.forget(monitor)
    monitor.finish()
    written = record_run(pipeline, monitor, attempt, http_session, breakers)
    if attempt.error is not None:
        raise attempt.error
    if not written:
        raise LedgerWriteError(
            f"the run loaded, but its {LEDGER_TABLE} rows could not be written (see the log)"
        )
    assert attempt.info is not None
    return attempt.info


@dataclass
class RunAttempt:
    """What one ``pipeline.run`` attempt left behind for the ledger.

    Attributes:
        tables: Resource name -> table name of the data passed to the run.
        state_key: Name the source keeps its state under (None for bare resources).
        cursors_before: Each resource's cursor in pipeline state before the run.
        info: dlt's load info when the run returned.
        error: What the run (or building the source) raised.
    """

    tables: dict[str, str] = field(default_factory=dict)
    state_key: Optional[str] = None
    cursors_before: dict[str, Optional[str]] = field(default_factory=dict)
    info: Optional[LoadInfo] = None
    error: Optional[BaseException] = None


def attempt_run(
    pipeline: dlt.Pipeline, source: SourceArg, monitor: SyncMonitor, run_kwargs: dict[str, Any]
) -> RunAttempt:
    """Builds the data if needed, finishes pending packages and runs; never raises."""
    attempt = RunAttempt()
    try:
        data = cast(Callable[[], Any], source)() if is_factory(source) else source
        attempt.tables = resource_tables(data)
        monitor.expect(attempt.tables)
        attempt.state_key = source_name_of(data)
        attempt.cursors_before = read_state_cursors(pipeline, attempt.state_key, attempt.tables)
        finish_pending_packages(pipeline, **destination_args(run_kwargs))
        attempt.info = pipeline.run(data, **run_kwargs)
    except BaseException as exc:  # noqa: BLE001 - ledgered, then re-raised by the caller
        attempt.error = exc
    return attempt


def is_factory(source: Any) -> bool:
    """Whether ``source`` is a callable that builds the data rather than the data."""
    return callable(source) and not isinstance(source, (DltSource, DltResource))


def destination_args(run_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``run`` arguments that choose the destination."""
    return {k: v for k, v in run_kwargs.items() if k in DESTINATION_RUN_ARGS and v is not None}


def finish_pending_packages(pipeline: dlt.Pipeline, **destination_kwargs: Any) -> None:
    """Normalizes and loads packages an earlier failed run left, before new data.

    ``pipeline.run(data)`` would do the same and then return without extracting
    ``data``; doing it first keeps every run's extraction. Raises what dlt raises.
    """
    # first removes the rows of jobs a kill left committed but unrecorded: dlt runs them again
    with resume_guard(pipeline):
        if not pipeline.has_pending_data:
            return
        logger.warning(
            "pipeline %s has load package(s) pending from an earlier run; loading them first",
            pipeline.pipeline_name,
        )
        pipeline.run(None, **destination_kwargs)


def record_run(
    pipeline: dlt.Pipeline,
    monitor: SyncMonitor,
    attempt: RunAttempt,
    http_session: Optional[HttpStatsSource],
    breakers: Optional[BreakerSource],
) -> bool:
    """Builds and writes the ledger rows of a finished run; never raises.

    Returns:
        True when the rows were written.
    """
    try:
        cursors_after = read_state_cursors(pipeline, attempt.state_key, attempt.tables)
        rows = monitor.ledger_rows(
            FAILED if attempt.error is not None else SUCCESS,
            http_stats_of(http_session),
            breaker_snapshot_of(breakers, http_session),
            count_dead_letters(pipeline, monitor.source, monitor.run_id),
            attempt.error,
            loaded_by_resource=loaded_rows_by_resource(pipeline, attempt.error, attempt.tables),
            state_cursors={
                name: (attempt.cursors_before.get(name), cursors_after.get(name))
                for name in attempt.tables
            },
            pipeline_name=pipeline.pipeline_name,
        )
        write_ledger(pipeline, rows)
    except Exception as exc:  # noqa: BLE001 - the ledger must not mask the run's outcome
        logger.error("could not write %s: %s", LEDGER_TABLE, summarize_error(exc))
        logger.debug("ledger write failure", exc_info=True)
        return False
    logger.info(
        "%s: %d row(s) for run %s (%s)",
        LEDGER_TABLE,
        len(rows),
        monitor.run_id,
        rows[0]["run_status"] if rows else "no resources",
    )
    return True


# -- facts about the run --------------------------------------------------------------------


def resource_tables(data: Any) -> dict[str, str]:
    """Resource name -> table name of what is about to be loaded (selected resources)."""
    items = data if isinstance(data, (list, tuple)) else [data]
    resources = [resource for item in items for resource in resources_in(item)]
    return {
        r.name: r.table_name if isinstance(r.table_name, str) and r.table_name else r.name
        for r in resources
    }


def resources_in(item: Any) -> list[DltResource]:
    """The selected resources of a source, or the resource itself."""
    if isinstance(item, DltSource):
        return list(item.selected_resources.values())
    return [item] if isinstance(item, DltResource) else []


def source_name_of(data: Any) -> Optional[str]:
    """Name under which a source keeps its state (``pipeline.state["sources"]``)."""
    return data.name if isinstance(data, DltSource) else None


def http_stats_of(session: Optional[HttpStatsSource]) -> Mapping[str, Mapping[str, Any]]:
    """Request counters per label; empty without a session or when unreadable."""
    if session is None:
        return {}
    try:
        return session.stats_by_label()
    except Exception:  # noqa: BLE001 - counters are best effort
        logger.warning("could not read HTTP counters for %s", LEDGER_TABLE, exc_info=True)
        return {}


def breaker_snapshot_of(
    breakers: Optional[BreakerSource], session: Optional[HttpStatsSource]
) -> Sequence[Mapping[str, Any]]:
    """Circuit breaker states: ``breakers`` or the session's registry."""
    registry = breakers if breakers is not None else getattr(session, "breakers", None)
    if registry is None or not hasattr(registry, "snapshot"):
        return ()
    try:
        return list(registry.snapshot())
    except Exception:  # noqa: BLE001 - breaker states are best effort
        return ()


def loaded_rows_by_resource(
    pipeline: dlt.Pipeline,
    error: Optional[BaseException],
    tables: Mapping[str, str],
    trace: Optional[PipelineTrace] = None,
) -> Optional[dict[str, int]]:
    """Rows of each resource's table that reached the destination in this run.

    From dlt's normalize row counts of the run's trace (the pipeline's last one unless
    given). A run that failed before or in its load step counts only tables whose load
    jobs all completed; a run that failed before loading counts nothing. None when the
    trace is unavailable.
    """
    if error is not None and failed_step(error) != "load":
        return {}
    trace = trace or pipeline.last_trace
    normalize_info = trace.last_normalize_info if trace is not None else None
    if normalize_info is None:
        return None if error is None else {}
    counts = dict(normalize_info.row_counts)
    if error is not None:
        step_info = getattr(error, "step_info", None)
        loaded = fully_loaded_tables(step_info) if isinstance(step_info, LoadInfo) else set()
        counts = {t: n for t, n in counts.items() if t in loaded}
    return {name: int(counts[table]) for name, table in tables.items() if table in counts}


def fully_loaded_tables(load_info: LoadInfo) -> set[str]:
    """Tables whose every load job of the run completed."""
    completed: set[str] = set()
    unfinished: set[str] = set()
    for package in load_info.load_packages:
        for state, jobs in package.jobs.items():
            names = {job.job_file_info.table_name for job in jobs}
            (completed if state == "completed_jobs" else unfinished).update(names)
    return completed - unfinished


def count_dead_letters(
    pipeline: dlt.Pipeline, source: str, run_id: str
) -> Optional[dict[str, int]]:
    """Dead letters stored for this run, per resource ({} when the table does not exist).

    None when the destination cannot be asked (the monitor's counters are used then).
    """
    from .deadletters import DEAD_LETTERS_TABLE

    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(DEAD_LETTERS_TABLE)
            rows = client.execute_sql(
                f"SELECT resource, COUNT(*) FROM {table} "  # noqa: S608 - names are quoted
                "WHERE run_id = %s AND source = %s GROUP BY resource",
                run_id,
                source,
            )
    except DatabaseUndefinedRelation:
        return {}
    except Exception:  # noqa: BLE001 - fall back to the monitor's counters
        logger.debug("could not count dead letters", exc_info=True)
        return None
    return {str(resource): int(count) for resource, count in rows or []}


def read_state_cursors(
    pipeline: dlt.Pipeline, source_name: Optional[str], tables: Iterable[str]
) -> dict[str, Optional[str]]:
    """Each resource's cursor as kept in pipeline state (incremental or ``*cursor*`` key)."""
    if not source_name:
        return {}
    try:
        resources = pipeline.state.get("sources", {}).get(source_name, {}).get("resources", {})
    except Exception:  # noqa: BLE001 - cursors are best effort
        return {}
    return {name: cursor_in_state(resources.get(name) or {}) for name in tables}


def cursor_in_state(resource_state: Mapping[str, Any]) -> Optional[str]:
    """The cursor in one resource's state: an incremental's ``last_value``, else a
    scalar under a key containing ``cursor``."""
    incremental = resource_state.get("incremental")
    if isinstance(incremental, Mapping):
        for value in incremental.values():
            if isinstance(value, Mapping) and value.get("last_value") is not None:
                return cursor_text(value["last_value"])
    for key, value in resource_state.items():
        if "cursor" in str(key) and isinstance(value, (str, int, float)):
            return cursor_text(value)
    return None


# -- writing and reading ---------------------------------------------------------------------


@dlt.source(name=LEDGER_SCHEMA, max_table_nesting=0)
def sync_ledger_source(rows: list[dict[str, Any]]) -> DltResource:
    """The ledger rows as a dlt source with explicit column types."""
    return dlt.resource(
        rows,
        name=LEDGER_TABLE,
        write_disposition="append",
        columns=dict(LEDGER_COLUMNS),
    )


def write_ledger(pipeline: dlt.Pipeline, rows: Sequence[Mapping[str, Any]]) -> Optional[LoadInfo]:
    """Appends ledger rows to ``_sync_runs`` in ``pipeline``'s dataset.

    Uses the sibling pipeline ``<name>__sync_runs`` (see the module doc), so it works
    after a failed run whose packages are pending. String values are redacted.

    Args:
        pipeline: The pipeline whose run the rows describe; must have a destination.
        rows: Rows from :meth:`SyncMonitor.ledger_rows`.

    Returns:
        The ledger pipeline's load info; None when there was nothing to write.
    """
    if not rows:
        return None
    credentials = destination_credentials(pipeline)
    ledger = open_ledger_pipeline(pipeline)
    try:
        with resume_guard(ledger):
            if ledger.has_pending_data:
                logger.warning("loading %s rows left pending by an earlier run first", LEDGER_TABLE)
                ledger.run(None, credentials=credentials)
        return ledger.run(sync_ledger_source(redacted_rows(rows)), credentials=credentials)
    finally:
        pipeline.activate()


def open_ledger_pipeline(pipeline: dlt.Pipeline) -> dlt.Pipeline:
    """The sibling pipeline writing ``pipeline``'s ledger (same destination and dataset)."""
    if pipeline.destination is None:
        raise LedgerWriteError(
            f"pipeline {pipeline.pipeline_name} has no destination to write {LEDGER_TABLE} to"
        )
    return dlt.pipeline(
        pipeline_name=ledger_pipeline_name(pipeline.pipeline_name),
        pipelines_dir=pipeline.pipelines_dir,
        destination=pipeline.destination,
        staging=pipeline.staging,
        dataset_name=pipeline.dataset_name,
    )


def destination_credentials(pipeline: dlt.Pipeline) -> Any:
    """The main pipeline's resolved destination credentials (e.g. the DuckDB file).

    Passed to the ledger pipeline so a default location derived from the pipeline
    name (DuckDB's ``<pipeline>.duckdb``) cannot send the ledger elsewhere.
    """
    try:
        return pipeline.destination_client().config.credentials
    except Exception:  # noqa: BLE001 - the destination's own config applies then
        logger.debug("could not resolve destination credentials", exc_info=True)
        return None


def redacted_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``rows`` with every string value redacted."""
    redactor = global_redactor()
    return [
        {k: redactor.redact_text(v) if isinstance(v, str) else v for k, v in row.items()}
        for row in rows
    ]


def read_ledger(
    pipeline: dlt.Pipeline,
    *,
    source: Optional[str] = None,
    pipeline_name: Optional[str] = None,
) -> list[dict[str, Any]]:
    """Every ``_sync_runs`` row of ``pipeline``'s dataset, oldest first.

    Args:
        pipeline: A pipeline attached to the destination and dataset.
        source: Only rows of this source.
        pipeline_name: Only rows this pipeline wrote (and rows without a pipeline name).
            Pipelines sharing a dataset share its ledger table (the canonical
            pipelines of every system write to ``canonical``), so a report on one
            pipeline filters by name.

    Returns:
        Rows as dicts with the :data:`LEDGER_COLUMNS` keys ([] when no run was ledgered).
    """
    columns = list(LEDGER_COLUMNS)
    where = "WHERE source = %s " if source else ""
    args = (source,) if source else ()
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(LEDGER_TABLE)
            names = ", ".join(client.escape_column_name(c) for c in columns)
            result = client.execute_sql(
                f"SELECT {names} FROM {table} {where}"  # noqa: S608 - names are quoted
                "ORDER BY finished_at, resource",
                *args,
            )
    except DatabaseUndefinedRelation:
        return []
    rows = [dict(zip(columns, row, strict=True)) for row in result or []]
    if pipeline_name is None:
        return rows
    return [row for row in rows if row.get("pipeline_name") in (None, pipeline_name)]
