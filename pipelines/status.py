"""Sync health of pipelines from their run ledgers (``_sync_runs``), for people and cron.

    python pipelines/status.py                    # every pipeline in the dlt data dir
    python pipelines/status.py --pipeline stripe --json

Prints Healthy / Degraded / Failed / Not scheduled per source and resource with the last
success, the data's freshness against its SLA (``[sources.<source>.sla]`` in
``.dlt/config.toml``), the error rate of recent runs and the throughput of the last
load (rules in :mod:`sources.kit.health`). Without ``--pipeline`` every pipeline found
is reported and the exit code is the worst of them. Exit codes: 0 when nothing needs
attention; 1 when any SLA is breached, a resource's last run failed, a run failed
before loading anything (rejected key, API unreachable), no run was ever recorded, no
pipeline exists, or a ledger cannot be read; 2 on usage errors (an unknown
``--pipeline``, a bad flag).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

if not __package__ and importlib.util.find_spec("pipelines") is None:
    # sluice is not installed for this Python: reach only the check that says which to use.
    sys.path.append(str(Path(__file__).resolve().parents[1]))
from pipelines.environment import require_installed  # noqa: E402

require_installed(__file__)

import dlt  # noqa: E402

from pipelines.common import (  # noqa: E402
    UserFacingError,
    default_pipelines_dir,
    explain,
    format_table,
    make_destination,
)
from sources.kit.health import (  # noqa: E402
    DEFAULT_WINDOW,
    DEGRADED,
    HEALTHY,
    NOT_SCHEDULED,
    UNHEALTHY,
    ResourceHealth,
    SlaPolicy,
    assess,
    format_seconds,
    needs_alert,
)
from sources.kit.ledger import LEDGER_TABLE, is_ledger_pipeline, read_ledger  # noqa: E402
from sources.kit.monitor import FAILED  # noqa: E402
from sources.postgres_cdc.lag import lag_line, latest_lag  # noqa: E402

EXIT_OK = 0
EXIT_ALERT = 1
EXIT_USAGE = 2
STATE_FILE = "state.json"


class UsageError(Exception):
    """The command line names something that does not exist (exit code 2)."""


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        description="Health and freshness of a pipeline's syncs, from its _sync_runs ledger."
    )
    parser.add_argument(
        "--pipeline", help="report only this pipeline (default: every pipeline found)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--window",
        type=positive_int,
        default=DEFAULT_WINDOW,
        help=f"recent runs per resource the error rate looks at (default {DEFAULT_WINDOW})",
    )
    parser.add_argument(
        "--pipelines-dir",
        help="where pipeline state is (default: .dlt/.var/pipelines or $DLT_DATA_DIR/pipelines)",
    )
    return parser.parse_args(argv)


def positive_int(text: str) -> int:
    """``--window``: a whole number of runs, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of runs: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def list_pipelines(pipelines_dir: str) -> list[str]:
    """Pipelines with local state in ``pipelines_dir`` (ledger writers excluded)."""
    if not os.path.isdir(pipelines_dir):
        return []
    return sorted(
        name
        for name in os.listdir(pipelines_dir)
        if os.path.isfile(os.path.join(pipelines_dir, name, STATE_FILE))
        and not is_ledger_pipeline(name)
    )


def choose_pipelines(requested: Optional[str], available: Sequence[str], where: str) -> list[str]:
    """The pipelines to report on: the requested one, else every one available.

    Raises:
        UsageError: The requested one does not exist.
    """
    if requested:
        if requested not in available:
            known = ", ".join(available) or "none"
            raise UsageError(f"no pipeline named {requested!r} in {where} (known: {known})")
        return [requested]
    return list(available)


def attach(name: str, pipelines_dir: str) -> dlt.Pipeline:
    """Attaches to the pipeline; DuckDB resolves to the file the pipeline script uses."""
    pipeline = dlt.attach(pipeline_name=name, pipelines_dir=pipelines_dir)
    destination = pipeline.destination
    if destination is not None and destination.destination_type.endswith("duckdb"):
        pipeline.destination = make_destination("duckdb", name, pipeline.dataset_name)
    return pipeline


def sla_policies(sources: set[str]) -> dict[str, SlaPolicy]:
    """SLA policy per source from ``[sources.<source>.sla]``.

    Raises:
        UserFacingError: A configured SLA is not a duration.
    """
    policies = {}
    for source in sorted(sources):
        try:
            policies[source] = SlaPolicy.from_config(dlt.config.get(f"sources.{source}.sla"))
        except ValueError as exc:
            raise UserFacingError(f"sources.{source}.{exc}") from exc
    return policies


def as_utc(value: Any) -> Any:
    """Timestamps from the destination as aware UTC datetimes."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    return value


def normalized_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ledger rows with their timestamps in UTC."""
    return [
        {**row, "started_at": as_utc(row["started_at"]), "finished_at": as_utc(row["finished_at"])}
        for row in rows
    ]


def table_rows(healths: Sequence[ResourceHealth], now: datetime) -> list[tuple[str, ...]]:
    """One text row per resource for the human-readable table."""
    return [
        (
            h.source,
            h.resource,
            h.health,
            f"{h.last_status} {format_seconds((now - h.last_run_at).total_seconds())} ago",
            h.last_success_at.strftime("%Y-%m-%d %H:%M UTC") if h.last_success_at else "never",
            f"{format_seconds(h.freshness_s)} / {format_seconds(h.sla_s)}",
            f"{100.0 * h.error_rate:.0f}% of {h.runs}",
            f"{h.throughput_rps:.1f}/s" if h.throughput_rps is not None else "-",
            why(h),
        )
        for h in healths
    ]


ERROR_IN_TABLE = 160
"""Characters of a failed run's error shown in the text table (``--json`` has it all)."""


def why(health: ResourceHealth) -> str:
    """The reasons of an entry, with the error when its last run failed."""
    text = "; ".join(health.reasons)
    error = health.last_error
    if health.health == UNHEALTHY and health.last_status == FAILED and error:
        if len(error) > ERROR_IN_TABLE:
            error = error[: ERROR_IN_TABLE - 3] + "..."
        text = f"{text}: {error}"
    return text


TABLE_HEADER = (
    "source",
    "resource",
    "health",
    "last run",
    "last success",
    "freshness / SLA",
    "errors",
    "throughput",
    "why",
)


@dataclass
class PipelineReport:
    """What status found for one pipeline.

    Attributes:
        name: Pipeline name.
        healths: One entry per source and resource (see :func:`assess`).
        error: Why there is nothing to judge: no run recorded, ledger unreadable.
    """

    name: str
    healths: list[ResourceHealth] = field(default_factory=list)
    error: Optional[str] = None
    slot_lag: Optional[dict[str, Any]] = None
    """Postgres CDC: the replication slot's lag the last run recorded (``_pg_slot_lag``)."""

    @property
    def alert(self) -> bool:
        """Whether this pipeline needs attention (exit code 1)."""
        lagging = bool(self.slot_lag and self.slot_lag.get("alert"))
        return self.error is not None or needs_alert(self.healths) or lagging

    def counts(self) -> dict[str, int]:
        """Entries per health state."""
        states = (HEALTHY, DEGRADED, UNHEALTHY, NOT_SCHEDULED)
        return {state: sum(1 for h in self.healths if h.health == state) for state in states}


def summary_line(report: PipelineReport) -> str:
    """``pipeline stripe: OK (17 healthy, 0 degraded, 0 failed)``."""
    if report.error is not None:
        return f"pipeline {report.name}: ALERT ({report.error})"
    counts = report.counts()
    parts = [f"{counts[state]} {state.lower()}" for state in (HEALTHY, DEGRADED, UNHEALTHY)]
    if counts[NOT_SCHEDULED]:
        parts.append(f"{counts[NOT_SCHEDULED]} not scheduled")
    verdict = "ALERT" if report.alert else "OK"
    return f"pipeline {report.name}: {verdict} ({', '.join(parts)})"


def render_text(name: str, healths: Sequence[ResourceHealth], now: datetime) -> str:
    """The human-readable report of one pipeline."""
    report = PipelineReport(name, list(healths))
    return f"{summary_line(report)}\n\n" + format_table(table_rows(healths, now), TABLE_HEADER)


def render_reports_text(reports: Sequence[PipelineReport], now: datetime) -> str:
    """The human-readable report of several pipelines, with an overall line."""
    sections = [
        render_text(r.name, r.healths, now) if r.error is None else summary_line(r) for r in reports
    ]
    for index, r in enumerate(reports):
        if r.slot_lag is not None:
            sections[index] += "\n" + lag_line(r.slot_lag)
    if len(reports) > 1:
        alerting = [r.name for r in reports if r.alert]
        line = f"overall: {'ALERT' if alerting else 'OK'}, {len(reports)} pipelines"
        sections.append(f"{line} (alerting: {', '.join(alerting)})" if alerting else line)
    return "\n\n".join(sections)


def report_json(report: PipelineReport, now: datetime) -> dict[str, Any]:
    """One pipeline's report as a JSON-ready dict."""
    data: dict[str, Any] = {
        "pipeline": report.name,
        "checked_at": now.isoformat(),
        "alert": report.alert,
        "resources": [{"pipeline": report.name, **h.as_json()} for h in report.healths],
    }
    if report.error is not None:
        data["error"] = report.error
    if report.slot_lag is not None:
        lag = {k: as_utc(v) for k, v in report.slot_lag.items()}
        data["slot_lag"] = {
            k: v.isoformat() if isinstance(v, datetime) else v for k, v in lag.items()
        }
    return data


def render_json(name: str, healths: Sequence[ResourceHealth], now: datetime) -> str:
    """The machine-readable report of one pipeline."""
    return json.dumps(report_json(PipelineReport(name, list(healths)), now), indent=2)


def render_reports_json(reports: Sequence[PipelineReport], now: datetime) -> str:
    """The machine-readable report of every pipeline: a summary per pipeline and
    every resource (each names its pipeline)."""
    parts = [report_json(r, now) for r in reports]
    return json.dumps(
        {
            "checked_at": now.isoformat(),
            "alert": any(r.alert for r in reports),
            "pipelines": [
                {k: v for k, v in part.items() if k not in ("resources", "checked_at")}
                for part in parts
            ],
            "resources": [entry for part in parts for entry in part["resources"]],
        },
        indent=2,
    )


def inspect_pipeline(name: str, pipelines_dir: str, now: datetime, window: int) -> PipelineReport:
    """Reads one pipeline's ledger and judges it; failures become the report's error."""
    try:
        pipeline = attach(name, pipelines_dir)
        rows = normalized_rows(read_ledger(pipeline, pipeline_name=name))
    except Exception as exc:  # noqa: BLE001 - one pipeline's problem must not hide the others
        return PipelineReport(name, error=f"cannot read its {LEDGER_TABLE}: {explain(exc)}")
    if not rows:
        return PipelineReport(
            name, error=f"no runs recorded in {pipeline.dataset_name}.{LEDGER_TABLE}"
        )
    try:
        policies = sla_policies({str(r["source"]) for r in rows})
    except UserFacingError as exc:
        return PipelineReport(name, error=str(exc))
    return PipelineReport(
        name, assess(rows, policies, now, window=window), slot_lag=latest_lag(pipeline)
    )


def emit(text: str) -> None:
    """Prints the report; a reader that stops early (``| head``) ends it quietly.

    The exit code still tells the report's health. stdout is pointed at devnull so
    Python's flush at exit does not complain again (Python docs, signal module,
    "Note on SIGPIPE").
    """
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def report(args: argparse.Namespace, now: datetime) -> int:
    """Reads the ledgers, prints the report and returns the exit code (the worst)."""
    pipelines_dir = args.pipelines_dir or default_pipelines_dir()
    names = choose_pipelines(args.pipeline, list_pipelines(pipelines_dir), pipelines_dir)
    if not names:
        message = f"no pipelines in {pipelines_dir}: nothing has run (or set DLT_DATA_DIR)"
        empty = {"alert": True, "pipelines": [], "resources": [], "error": message}
        emit(json.dumps(empty) if args.json else message)
        return EXIT_ALERT
    reports = [inspect_pipeline(name, pipelines_dir, now, args.window) for name in names]
    if args.json:
        single = args.pipeline is not None
        emit(
            json.dumps(report_json(reports[0], now), indent=2)
            if single
            else render_reports_json(reports, now)
        )
    else:
        emit(render_reports_text(reports, now))
    return EXIT_ALERT if any(r.alert for r in reports) else EXIT_OK


def main(argv: Optional[Sequence[str]] = None, now: Optional[datetime] = None) -> int:
    """Entry point; ``now`` is injectable for tests."""
    args = parse_args(argv)
    try:
        return report(args, now or datetime.now(timezone.utc))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - one line for cron, never a traceback
        print(f"error: {explain(exc)}", file=sys.stderr)
        return EXIT_ALERT


if __name__ == "__main__":
    sys.exit(main())
