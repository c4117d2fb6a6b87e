"""``sluice models <connector>``: rebuild a connector's analyst models now, without a load.

sluice models stripe --sandbox        # the models of the sandbox runs' dataset
sluice models stripe --no-test        # build only, skip the schema tests

Runs after a load do the same automatically (see ``sources/kit/models.py``); this verb is
for a model changed by hand, or a refresh that failed.
"""

from __future__ import annotations

import argparse
from typing import Optional

from pipelines.common import make_pipeline, run_reporting_errors, setup_logging
from pipelines.reset import PIPELINES, pipeline_name
from sources.kit.models import models_dataset, run_models

EXIT_SKIPPED = 3
"""Exit status when nothing could run (dbt-duckdb missing, unsupported destination)."""


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        prog="sluice models",
        description="Build a connector's dbt models on its loaded tables (dlt's dbt runner).",
    )
    parser.add_argument("connector", choices=list(PIPELINES))
    parser.add_argument("--pipeline-name", help="the pipeline (default: the connector's)")
    parser.add_argument("--sandbox", action="store_true", help="the sandbox runs' pipeline")
    parser.add_argument("--destination", default="duckdb", help="dlt destination name")
    parser.add_argument("--no-test", action="store_true", help="skip the schema tests")
    parser.add_argument(
        "--as-of", help="evaluate the current month's MRR at this UTC time (default: now)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (redacted)")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> int:
    """Runs the models and prints one line per model; 3 when skipped."""
    name = pipeline_name(args)
    pipeline = make_pipeline(name, name, args.destination)
    variables = {f"{args.connector}_as_of": args.as_of} if args.as_of else {}
    outcome = run_models(pipeline, args.connector, test=not args.no_test, variables=variables)
    for line in outcome.lines():
        print(line)
    if outcome.skipped is not None:
        return EXIT_SKIPPED
    print(f"query them in dataset {models_dataset(pipeline.dataset_name)}")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: 0 when built, 3 when skipped, 1 when a model failed."""
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_reporting_errors(lambda: build(args))


if __name__ == "__main__":
    raise SystemExit(main())
