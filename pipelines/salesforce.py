"""Load Salesforce into DuckDB (or any dlt destination).

python pipelines/salesforce.py                     # real org, credentials from dlt config or env
python pipelines/salesforce.py --sandbox           # bundled Salesforce emulator, over HTTP
python pipelines/salesforce.py --sandbox --sandbox-changes   # ... after a batch of changes
python pipelines/salesforce.py --resources Account,Contact --canonical
python pipelines/salesforce.py --start-date 2024-01-01   # first sync: changed since then
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

if __package__ in (None, ""):
    # Run as a script: put the project root on sys.path instead of this folder.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, os.path.dirname(here))
    from pipelines.environment import require_installed

    require_installed(__file__)


from pipelines.common import (  # noqa: E402
    ClientSlot,
    full_refresh_mode,
    loaded_resources,
    make_pipeline,
    print_canonical_summary,
    print_run_summary,
    run_reporting_errors,
    setup_logging,
)
from pipelines.flags import (  # noqa: E402
    add_progress_flag,
    add_resources_flag,
    add_staging_flag,
    add_start_date_flag,
)
from pipelines.user_errors import start_date_notice  # noqa: E402
from sources.kit.destinations import loader_file_format  # noqa: E402
from sources.kit.ledger import SyncMonitor, run_with_ledger  # noqa: E402
from sources.kit.mapping import RecordSpool, tee_mapped_resources  # noqa: E402
from sources.salesforce import DEFAULT_OBJECTS, make_client, salesforce_source  # noqa: E402
from sources.salesforce.auth import SalesforceCredentials  # noqa: E402
from sources.salesforce.canonical import (  # noqa: E402
    run_salesforce_canonical,
    salesforce_mappings,
)
from sources.salesforce.client import SalesforceClient  # noqa: E402

PIPELINE_NAME = "salesforce"
DATASET_NAME = "salesforce"
SANDBOX_PAGE_SIZE = 25
logger = logging.getLogger("sluice.pipeline.salesforce")


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        description="Load Salesforce into DuckDB or another dlt destination."
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="start the bundled Salesforce emulator in-process and load from it",
    )
    parser.add_argument(
        "--sandbox-volume", type=int, default=40, help="accounts the emulator seeds"
    )
    parser.add_argument("--sandbox-seed", type=int, default=42)
    parser.add_argument(
        "--sandbox-changes",
        action="store_true",
        help="with --sandbox: update, delete and create a few records before loading",
    )
    parser.add_argument("--destination", default="duckdb", help="dlt destination name")
    add_resources_flag(
        parser,
        f"comma-separated sObjects, any the org has (default: {','.join(DEFAULT_OBJECTS)})",
        aliases=("--objects",),
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="drop the selected objects' tables and state (all of this source's when "
        "every one is selected), then load them again",
    )
    add_progress_flag(parser)
    add_staging_flag(parser)
    add_start_date_flag(parser, "records whose SystemModstamp (last change) is")
    parser.add_argument(
        "--canonical",
        action="store_true",
        help="also map this run's accounts and contacts into canonical_customers "
        "(dataset canonical) with the crosswalk",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (redacted)")
    parser.add_argument("--log-format", choices=["text", "json"], default="text")
    return parser.parse_args(argv)


@contextlib.contextmanager
def salesforce_endpoint(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Yields client overrides: the emulator's credentials with --sandbox, else none."""
    if not args.sandbox:
        yield {}
        return
    from sandbox.salesforce import SalesforceSandbox
    from sandbox.salesforce.changes import apply_demo_changes

    sandbox = SalesforceSandbox(
        seed=args.sandbox_seed, volume=args.sandbox_volume, page_size=SANDBOX_PAGE_SIZE
    )
    with sandbox:
        logger.info("Salesforce sandbox listening on %s", sandbox.base_url)
        if args.sandbox_changes:
            applied = apply_demo_changes(sandbox.store)
            logger.info(
                "sandbox changes: %d updated, %d deleted, %d created",
                len(applied.updated),
                len(applied.deleted),
                len(applied.created),
            )
        credentials = SalesforceCredentials()
        for key, value in sandbox.jwt_credentials().items():
            setattr(credentials, key, value)
        yield {"credentials": credentials}


def api_usage_figure(client: SalesforceClient) -> str:
    """The daily API usage Salesforce last reported, for the summary."""
    usage = client.budget.last_usage
    return f"  api-usage: {int(usage.used)}/{int(usage.limit)}" if usage else ""


def run(args: argparse.Namespace) -> int:
    """Builds and runs the pipeline, writes the run ledger, then prints the summary."""
    started = time.monotonic()
    run_id = uuid.uuid4().hex
    specs = salesforce_mappings() if args.canonical else []
    with salesforce_endpoint(args) as overrides:
        pipeline = make_pipeline(
            PIPELINE_NAME,
            DATASET_NAME,
            args.destination,
            staging=args.staging,
            progress=args.progress,
        )
        spool = RecordSpool(Path(pipeline.working_dir) / "canonical_spool")
        monitor = SyncMonitor("salesforce", run_id)
        slot: ClientSlot[SalesforceClient] = ClientSlot()

        def build_source() -> Any:
            # Built inside the run so refused credentials still leave a `failed` ledger row.
            slot.client = make_client(**overrides)
            given = {"objects": args.resources, "start_date": args.start_date}
            source = salesforce_source(
                client=slot.client,
                run_id=run_id,
                monitor=monitor,
                **{k: v for k, v in given.items() if v is not None},
            )
            selected = list(source.resources.selected.keys())
            slot.tables = [*selected, "_dead_letters"]
            # Only the selected objects are refreshed (dlt reads the pipeline's refresh).
            pipeline.refresh = (
                full_refresh_mode(pipeline, selected, loaded_resources(pipeline))
                if args.full_refresh
                else None
            )
            notice = start_date_notice(
                args.start_date, selected, loaded_resources(pipeline), args.full_refresh
            )
            if notice:
                print(f"note: {notice}", file=sys.stderr)
            tee_mapped_resources(source, spool, specs)
            return source

        try:
            run_with_ledger(
                pipeline,
                build_source,
                monitor,
                slot,
                breakers=slot,
                loader_file_format=loader_file_format(pipeline),
            )
        finally:
            pipeline.refresh = None
        assert slot.client is not None
        print_run_summary(
            pipeline,
            slot.client.session,
            slot.tables,
            time.monotonic() - started,
            extra=api_usage_figure(slot.client),
        )
        if args.canonical:
            outcome = run_salesforce_canonical(pipeline, spool, specs, run_id=run_id)
            spool.clear()
            print_canonical_summary(outcome)
        spool.close()
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: one clear line and a non-zero exit on any error."""
    args = parse_args(argv)
    setup_logging(args.verbose, args.log_format)
    return run_reporting_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
