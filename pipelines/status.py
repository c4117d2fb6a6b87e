"""Sync health of a pipeline from its run ledger (``_sync_runs``), for people and cron.

    python pipelines/status.py                    # the only pipeline, or --pipeline NAME
    python pipelines/status.py --pipeline stripe --json

Prints Healthy / Degraded / Failed per source and resource with the last success, the
data's freshness against its SLA (``[sources.<source>.sla]`` in ``.dlt/config.toml``),
the error rate of recent runs and the throughput of the last load. Exit codes: 0 when
nothing needs attention, 1 when any SLA is breached or a resource's last run failed
(or no run was ever recorded), 2 on usage errors such as an unknown pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Optional

if __package__ in (None, ""):
    # Run as a script: put the project root on sys.path instead of this folder.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, os.path.dirname(here))

import dlt  # noqa: E402
from dlt.common.pipeline import get_dlt_pipelines_dir  # noqa: E402

from pipelines.common import UserFacingError, explain, format_table, make_destination  # noqa: E402
from sources.kit.health import (  # noqa: E402
    DEFAULT_WINDOW,
    ResourceHealth,
    SlaPolicy,
    assess,
    format_seconds,
    needs_alert,
)
from sources.kit.ledger import LEDGER_TABLE, is_ledger_pipeline, read_ledger  # noqa: E402

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
        "--pipeline", help="pipeline name (default: the only one in the dlt data dir)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--window",
        type=int,
        default=DEFAULT_WINDOW,
        help=f"recent runs per resource the error rate looks at (default {DEFAULT_WINDOW})",
    )
    parser.add_argument(
        "--pipelines-dir", help="where dlt keeps pipelines (default: $DLT_DATA_DIR/pipelines)"
    )
    return parser.parse_args(argv)


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


def choose_pipeline(requested: Optional[str], available: Sequence[str], where: str) -> str:
    """The pipeline to report on.

    Raises:
        UsageError: The requested one does not exist, or none was requested and
            there is not exactly one.
    """
    known = ", ".join(available) or "none"
    if requested:
        if requested not in available:
            raise UsageError(f"no pipeline named {requested!r} in {where} (known: {known})")
        return requested
    if len(available) != 1:
        raise UsageError(f"choose one with --pipeline: pipelines in {where}: {known}")
    return available[0]


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
            "; ".join(h.reasons),
        )
        for h in healths
    ]


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


def render_text(name: str, healths: Sequence[ResourceHealth], now: datetime) -> str:
    """The human-readable report."""
    counts = {
        state: sum(1 for h in healths if h.health == state)
        for state in ("Healthy", "Degraded", "Failed")
    }
    summary = ", ".join(f"{n} {state.lower()}" for state, n in counts.items())
    verdict = "ALERT" if needs_alert(healths) else "OK"
    return f"pipeline {name}: {verdict} ({summary})\n\n" + format_table(
        table_rows(healths, now), TABLE_HEADER
    )


def render_json(name: str, healths: Sequence[ResourceHealth], now: datetime) -> str:
    """The machine-readable report."""
    return json.dumps(
        {
            "pipeline": name,
            "checked_at": now.isoformat(),
            "alert": needs_alert(healths),
            "resources": [h.as_json() for h in healths],
        },
        indent=2,
    )


def report(args: argparse.Namespace, now: datetime) -> int:
    """Reads the ledger, prints the report and returns the exit code."""
    pipelines_dir = args.pipelines_dir or get_dlt_pipelines_dir()
    name = choose_pipeline(args.pipeline, list_pipelines(pipelines_dir), pipelines_dir)
    pipeline = attach(name, pipelines_dir)
    rows = normalized_rows(read_ledger(pipeline))
    if not rows:
        message = f"pipeline {name}: no runs recorded in {pipeline.dataset_name}.{LEDGER_TABLE}"
        print(
            json.dumps({"pipeline": name, "alert": True, "resources": [], "error": message})
            if args.json
            else message
        )
        return EXIT_ALERT
    policies = sla_policies({str(r["source"]) for r in rows})
    healths = assess(rows, policies, now, window=args.window)
    print(render_json(name, healths, now) if args.json else render_text(name, healths, now))
    return EXIT_ALERT if needs_alert(healths) else EXIT_OK


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
