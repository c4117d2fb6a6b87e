"""``sluice sync <name> [--dry-run]``: run a declared reverse-ETL sync (``syncs/<name>.toml``).

The dry run prints the plan (creates, updates and deletes, per field) and writes
nothing; a run sends the diff, commits it per batch, dead-letters rejected rows and
leaves ``_sync_runs`` rows (``sluice status`` shows them under ``sync:<name>``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import dlt

from pipelines.common import make_destination, run_reporting_errors, setup_logging
from sources.kit.reverse.engine import SyncResult, run_sync
from sources.kit.reverse.plan import CREATE, DELETE, UPDATE, Op
from sources.kit.reverse.spec import DEFAULT_SYNCS_DIR, SyncSpec, SyncSpecError, find_sync
from sources.kit.reverse.target import Target

MAX_PLAN_LINES = 50
"""Writes listed per kind in a dry run (the counts are always complete)."""


def make_target(spec: SyncSpec) -> Target:
    """The connector's write side, its client configured from ``sources.<connector>.*``.

    Raises:
        SyncSpecError: No reverse target for ``target.connector``.
    """
    if spec.connector == "stripe":
        from sources.stripe.client import make_client as stripe_client
        from sources.stripe.reverse import StripeTarget

        return StripeTarget(stripe_client())
    if spec.connector == "salesforce":
        from sources.salesforce.client import make_client as salesforce_client
        from sources.salesforce.reverse import SalesforceTarget

        return SalesforceTarget(salesforce_client())
    raise SyncSpecError(f"target.connector must be salesforce or stripe, got {spec.connector!r}")


def make_warehouse(spec: SyncSpec) -> dlt.Pipeline:
    """The pipeline on the sync's warehouse (destination and dataset of the source).

    With ``source.pipeline`` it is that inbound pipeline (only its SQL client, ledger and
    dead-letter siblings are used: nothing is extracted or loaded through it), so the
    sync reads its default DuckDB file and its ledger rows appear in ``sluice status``
    of that pipeline; otherwise a pipeline ``sync_<name>`` on the configured warehouse.
    """
    name = spec.warehouse_pipeline or f"sync_{spec.name}"
    destination = make_destination(spec.destination, name, spec.dataset)
    return dlt.pipeline(pipeline_name=name, destination=destination, dataset_name=spec.dataset)


def syncs_dir(given: Optional[str]) -> Path:
    """``--syncs-dir``, else ``sluice.syncs_dir`` from dlt config, else ``./syncs``."""
    configured = given or dlt.config.get("sluice.syncs_dir")
    return Path(str(configured)) if configured else Path.cwd() / DEFAULT_SYNCS_DIR


def _value(value: Any) -> str:
    return "null" if value is None else repr(value)


def plan_lines(result: SyncResult) -> list[str]:
    """The dry-run report: per write kind, each key with its changed fields."""
    lines = [result.summary()]
    for kind in (CREATE, UPDATE, DELETE):
        ops = [op for op in result.plan.ops if op.kind == kind]
        for op in ops[:MAX_PLAN_LINES]:
            lines.append(f"  {kind} {op.key}: {_changes(op)}")
        if len(ops) > MAX_PLAN_LINES:
            lines.append(f"  ... and {len(ops) - MAX_PLAN_LINES} more {kind}(s)")
    for _row, reason in result.plan.rejected[:MAX_PLAN_LINES]:
        lines.append(f"  reject: {reason}")
    return lines


def _changes(op: Op) -> str:
    changes = op.changed_fields()
    if op.kind == DELETE:
        return "delete record"
    return ", ".join(
        f"{name}: {_value(old)} -> {_value(new)}" for name, (old, new) in changes.items()
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``sluice sync`` arguments."""
    parser = argparse.ArgumentParser(
        prog="sluice sync",
        description="Run a declared reverse-ETL sync (syncs/<name>.toml): warehouse rows to "
        "Salesforce or Stripe; --dry-run prints the plan and writes nothing.",
    )
    parser.add_argument("name", help="sync name: syncs/<name>.toml")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    parser.add_argument("--syncs-dir", help="folder of the declarations (default ./syncs)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``sluice sync``.

    Returns:
        0 on success, 1 on an error (one line on stderr), 2 when rows were rejected.
    """
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)

    def run() -> int:
        spec = find_sync(args.name, syncs_dir(args.syncs_dir))
        target = make_target(spec)
        started = time.monotonic()
        result = run_sync(spec, make_warehouse(spec), target, dry_run=args.dry_run)
        if args.dry_run:
            print("\n".join(plan_lines(result)))
            return 0
        print(
            f"{result.summary()} in {time.monotonic() - started:.1f}s ({result.batches} batch(es))"
        )
        return 2 if result.rejected else 0

    return run_reporting_errors(run)


if __name__ == "__main__":
    sys.exit(main())
