"""The run ledger from dlt's own trace: every ``pipeline.run`` of a sluice source is recorded.

``run_with_ledger`` records the runs the ``sluice`` command makes. Dagster's dlt
integration, Airflow's ``PipelineTasksGroup``, ``dlt deploy`` jobs and notebooks call
``pipeline.run`` themselves; dlt tells the modules in ``dlt.pipeline.trace.
TRACKING_MODULES`` (where dlt's own telemetry and workspace artifacts hook in) when a
trace starts, when each step ends (with its exception) and when the trace ends. This
module is one of them: at the end of a ``run`` trace it builds the ``_sync_runs`` rows
from the source's :class:`~sources.kit.monitor.SyncMonitor` and the trace, and writes
them with the same :func:`~sources.kit.ledger.write_ledger`.

A sluice source registers its monitor with :func:`watch` when it is built; a run claims
the newest monitor of a source whose schema the pipeline has. A source object run twice
is recorded once (its monitor is claimed by the first run).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Optional

from dlt.pipeline import trace as dlt_trace

from .errors import SluiceError
from .monitor import FAILED, LEDGER_TABLE, SUCCESS, SyncMonitor, summarize_error

logger = logging.getLogger("sluice.ledger")

TRACED_STEP = "run"
"""Only whole runs are recorded: a bare ``extract`` or ``load`` call is part of one."""


class StepFailed(SluiceError):
    """A step of a traced run failed: dlt hands trackers its text, not the exception.

    Carries what the ledger reads from an exception: the step, the resources dlt named
    and the step's info (a failed load's :class:`LoadInfo` tells which tables loaded).
    """

    def __init__(self, message: str, step: str, resource_names: list[str], step_info: Any):
        super().__init__(message)
        self.step = step
        self.step_info = step_info
        self.resource_names = resource_names

    @classmethod
    def from_step(cls, step: Any) -> StepFailed:
        """From a failed ``PipelineStepTrace``."""
        traces = list(step.exception_traces or [])
        names = [str(t["resource_name"]) for t in traces if t.get("resource_name")]
        # dlt lists the chain outermost first: the last one is the cause worth reading
        root = traces[-1] if traces else {}
        message = (
            f"{root.get('exception_type', '').rsplit('.', 1)[-1]}: {root.get('message', '')}"
            if root
            else str(step.step_exception)
        )
        return cls(message, str(step.step), names, step.step_info)

    @property
    def resource_name(self) -> Optional[str]:
        """The first resource dlt named (read like dlt's own extraction errors)."""
        return self.resource_names[0] if self.resource_names else None


@dataclass
class TracedRun:
    """What the tracker keeps of a run between its start and its end."""

    sources_state: dict[str, Any]
    error: Optional[BaseException] = None


@dataclass
class RunTracker:
    """The object dlt calls at each trace event (dlt's ``SupportsTracking`` protocol)."""

    monitors: dict[str, SyncMonitor] = field(default_factory=dict)
    runs: dict[str, TracedRun] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_charge: threading.local = field(default_factory=threading.local)

    def on_start_trace(self, trace: Any, step: str, pipeline: Any) -> None:
        """Remembers the cursors before a run that is ours to record."""
        if step != TRACED_STEP or not self.should_record(pipeline):
            return
        sources = copy.deepcopy(dict(pipeline.state.get("sources", {})))
        with self.lock:
            self.runs[trace.transaction_id] = TracedRun(sources)

    def on_start_trace_step(self, trace: Any, step: str, pipeline: Any) -> None:
        """Nothing to do when a step starts."""

    def on_end_trace_step(
        self, trace: Any, step: Any, pipeline: Any, step_info: Any, send_state: bool
    ) -> None:
        """Keeps what a failed step raised, as the trace tells it."""
        run = self.runs.get(trace.transaction_id)
        if run is None or run.error is not None:
            return
        if isinstance(step_info, BaseException):
            run.error = step_info
        elif getattr(step, "step_exception", None):
            run.error = StepFailed.from_step(step)

    def on_end_trace(self, trace: Any, pipeline: Any, send_state: bool) -> None:
        """Writes the run's ``_sync_runs`` rows."""
        with self.lock:
            run = self.runs.pop(trace.transaction_id, None)
        if run is None:
            return
        monitor = self.claim(pipeline)
        if monitor is None:
            return
        record_traced_run(pipeline, monitor, run, trace)

    def should_record(self, pipeline: Any) -> bool:
        """Not a ledger pipeline's own run, nor one ``run_with_ledger`` records."""
        from .ledger import is_ledger_pipeline

        if getattr(self.in_charge, "depth", 0):
            return False
        return not is_ledger_pipeline(pipeline.pipeline_name)

    def watch(self, monitor: SyncMonitor) -> None:
        """Registers the monitor of a source just built (the newest per source wins)."""
        with self.lock:
            self.monitors[monitor.source] = monitor

    def forget(self, monitor: SyncMonitor) -> None:
        """Unregisters a monitor whose run is recorded elsewhere."""
        with self.lock:
            if self.monitors.get(monitor.source) is monitor:
                del self.monitors[monitor.source]

    def claim(self, pipeline: Any) -> Optional[SyncMonitor]:
        """The monitor of the source this pipeline ran, removed from the register."""
        names = set(pipeline.schema_names)
        with self.lock:
            for source in list(self.monitors):
                if source in names:
                    return self.monitors.pop(source)
        return None

    @contextmanager
    def recorded_elsewhere(self) -> Iterator[None]:
        """Runs in this block are recorded by the caller (``run_with_ledger``)."""
        self.in_charge.depth = getattr(self.in_charge, "depth", 0) + 1
        try:
            yield
        finally:
            self.in_charge.depth -= 1


TRACKER = RunTracker()


def install() -> None:
    """Adds the tracker to dlt's tracking modules (once)."""
    modules = dlt_trace.TRACKING_MODULES
    if modules is not None and TRACKER not in modules:
        modules.append(TRACKER)  # type: ignore[arg-type]


def watch(monitor: SyncMonitor) -> None:
    """Records the runs of a source built with this monitor, whoever runs it."""
    install()
    TRACKER.watch(monitor)


def cursors_of(sources_state: Mapping[str, Any], source: str, names: list[str]) -> dict[str, Any]:
    """Each resource's cursor in a copy of ``pipeline.state["sources"]``."""
    from .ledger import cursor_in_state

    resources = sources_state.get(source, {}).get("resources", {})
    return {name: cursor_in_state(resources.get(name) or {}) for name in names}


def record_traced_run(pipeline: Any, monitor: SyncMonitor, run: TracedRun, trace: Any) -> None:
    """Builds and writes the ledger rows of a traced run; never raises."""
    from .ledger import (
        breaker_snapshot_of,
        count_dead_letters,
        http_stats_of,
        loaded_rows_by_resource,
        write_ledger,
    )

    try:
        monitor.finish()
        names = monitor.resources()
        tables = {name: name for name in names}
        before = cursors_of(run.sources_state, monitor.source, names)
        after = cursors_of(pipeline.state.get("sources", {}), monitor.source, names)
        rows = monitor.ledger_rows(
            FAILED if run.error is not None else SUCCESS,
            http_stats_of(monitor.http_session),
            breaker_snapshot_of(None, monitor.http_session),
            count_dead_letters(pipeline, monitor.source, monitor.run_id),
            run.error,
            loaded_by_resource=loaded_rows_by_resource(pipeline, run.error, tables, trace),
            state_cursors={name: (before.get(name), after.get(name)) for name in names},
            pipeline_name=pipeline.pipeline_name,
        )
        write_ledger(pipeline, rows)
    except Exception as exc:  # noqa: BLE001 - the ledger must not mask the run's outcome
        logger.error("could not write %s: %s", LEDGER_TABLE, summarize_error(exc))
        logger.debug("ledger write failure", exc_info=True)
        return
    logger.info("%s: %d row(s) for run %s (traced)", LEDGER_TABLE, len(rows), monitor.run_id)


__all__ = ["TRACKER", "install", "watch"]
