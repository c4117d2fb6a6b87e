"""``sluice reset <connector> --resources a,b``: drop some resources' tables and state.

python -m pipelines.reset stripe --sandbox --resources customers

The next run loads those resources from the start; the others keep their tables and
cursors. The drop is dlt's own (``dlt.pipeline.helpers.pipeline_drop``, what ``dlt
pipeline <name> drop`` runs): it drops the tables in the destination, removes the
resources' state and stores the new schema and state there, so another checkout
restoring the state from the destination sees the reset too.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

import dlt
from dlt.pipeline.helpers import pipeline_drop

from pipelines.common import (
    UserFacingError,
    loaded_resources,
    make_pipeline,
    run_reporting_errors,
    setup_logging,
)
from pipelines.flags import name_list

EXIT_USAGE = 2

PIPELINES: dict[str, tuple[str, str]] = {
    # connector: (pipeline of the real system, pipeline of --sandbox runs)
    "stripe": ("stripe", "stripe_sandbox"),
    # Their runners load the emulator through the connector's own pipeline.
    "salesforce": ("salesforce", "salesforce"),
    "servicenow": ("servicenow", "servicenow"),
    "slack": ("slack", "slack"),
    "gmail": ("gmail", "gmail"),
    "shopify": ("shopify", "shopify"),
    "files": ("files", "files"),
    "postgres_cdc": ("postgres_cdc", "postgres_cdc"),
}


class ResetUsageError(Exception):
    """A resource the pipeline does not have."""


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        prog="sluice reset",
        description="Drop the tables and state of some resources; the next run reloads them.",
    )
    parser.add_argument("connector", choices=list(PIPELINES))
    parser.add_argument(
        "--resources", type=name_list, required=True, help="comma-separated resources to reset"
    )
    parser.add_argument("--pipeline-name", help="the pipeline (default: the connector's)")
    parser.add_argument("--sandbox", action="store_true", help="reset the sandbox runs' pipeline")
    parser.add_argument("--destination", default="duckdb", help="dlt destination name")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (redacted)")
    return parser.parse_args(argv)


def pipeline_name(args: argparse.Namespace) -> str:
    """``--pipeline-name``, else the connector's (sandbox) pipeline."""
    if args.pipeline_name:
        return str(args.pipeline_name)
    real, sandbox = PIPELINES[args.connector]
    return sandbox if args.sandbox else real


def resource_names(connector: str, names: list[str]) -> list[str]:
    """Salesforce resources are the sObject names in lower case (``Account``: account)."""
    if connector == "salesforce":
        return [name.lower() for name in names]
    return names


def check_known(pipeline: dlt.Pipeline, names: list[str]) -> None:
    """Refuses names the pipeline has not loaded, before anything is dropped.

    Raises:
        UserFacingError: The pipeline has never loaded anything.
        ResetUsageError: A name is none of its resources.
    """
    loaded = loaded_resources(pipeline)
    if not loaded:
        raise UserFacingError(
            f"pipeline {pipeline.pipeline_name} has loaded nothing yet: nothing to reset"
        )
    unknown = [name for name in names if name not in loaded]
    if unknown:
        raise ResetUsageError(
            f"pipeline {pipeline.pipeline_name} has no resource {', '.join(unknown)}: "
            f"reset one of {', '.join(sorted(loaded))}"
        )


def reset(args: argparse.Namespace) -> int:
    """Drops the resources' tables and state; prints what went."""
    name = pipeline_name(args)
    names = resource_names(args.connector, args.resources)
    pipeline = make_pipeline(name, name, args.destination)
    # A fresh checkout has no local state: take the destination's first.
    pipeline.sync_destination()
    check_known(pipeline, names)
    drop = pipeline_drop(pipeline, resources=names)
    drop()
    tables = ", ".join(drop.info["tables"]) or "none"
    print(
        f"{name}: reset {', '.join(names)} (tables dropped: {tables}); "
        "the next run loads them from the start"
    )
    return 0


def reset_or_usage(args: argparse.Namespace) -> int:
    """Resets; a resource the pipeline lacks is a usage line and exit code 2."""
    try:
        return reset(args)
    except ResetUsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: exit 0 when reset, 2 for a resource the pipeline lacks, 1 on errors."""
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_reporting_errors(lambda: reset_or_usage(args))


if __name__ == "__main__":
    sys.exit(main())
