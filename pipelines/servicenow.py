"""Load ServiceNow tables into DuckDB (or any dlt destination).

python pipelines/servicenow.py                 # instance and credentials from dlt config or env
python pipelines/servicenow.py --sandbox       # bundled ServiceNow emulator, over HTTP
python pipelines/servicenow.py --resources incident,sys_user --canonical
python pipelines/servicenow.py --start-date 2024-01-01 --progress   # first sync: since then
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
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, os.path.dirname(here))
    from pipelines.environment import require_installed

    require_installed(__file__)

import dlt  # noqa: E402

from pipelines.common import (  # noqa: E402
    ClientSlot,
    count_rows,
    destination_location,
    format_table,
    full_refresh_mode,
    loaded_resources,
    make_pipeline,
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
from sources.servicenow import DEFAULT_TABLES, make_auth, make_client, servicenow_source  # noqa: E402
from sources.servicenow.client import ServiceNowClient  # noqa: E402

PIPELINE_NAME = "servicenow"
DATASET_NAME = "servicenow"
SANDBOX_AUTH = ("basic", "oauth_password", "oauth_client_credentials")
logger = logging.getLogger("sluice.pipeline.servicenow")


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        description="Load ServiceNow into DuckDB or another dlt destination."
    )
    parser.add_argument(
        "--sandbox", action="store_true", help="start the bundled emulator and load from it"
    )
    parser.add_argument("--sandbox-seed", type=int, default=42)
    parser.add_argument(
        "--sandbox-auth",
        choices=SANDBOX_AUTH,
        default="oauth_password",
        help="auth flow against the sandbox",
    )
    parser.add_argument(
        "--destination", default="duckdb", help="dlt destination name; default duckdb"
    )
    add_resources_flag(
        parser,
        f"comma-separated tables, any the instance has (default: {','.join(DEFAULT_TABLES)})",
        aliases=("--tables",),
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="drop the selected tables and their state (all of this source's when every "
        "one is selected), then load them again",
    )
    add_progress_flag(parser)
    add_staging_flag(parser)
    add_start_date_flag(parser, "records whose sys_updated_on (last change) is")
    parser.add_argument(
        "--canonical",
        action="store_true",
        help="also map sys_user into canonical_customers with the crosswalk",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (redacted)")
    parser.add_argument("--log-format", choices=["text", "json"], default="text")
    return parser.parse_args(argv)


@contextlib.contextmanager
def servicenow_endpoint(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Client overrides: the emulator's URL and credentials with --sandbox, else none."""
    if not args.sandbox:
        yield {}
        return
    from sandbox.servicenow import ServiceNowSandbox

    with ServiceNowSandbox(seed=args.sandbox_seed) as sandbox:
        logger.info("ServiceNow sandbox listening on %s", sandbox.base_url)
        auth = make_auth(
            base_url=sandbox.base_url,
            auth_type=args.sandbox_auth,
            username=sandbox.username,
            password=sandbox.password,
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
        )
        yield {"base_url": sandbox.base_url, "auth": auth}


def run(args: argparse.Namespace) -> int:
    """Builds and runs the pipeline, writes the run ledger, prints the summary."""
    started = time.monotonic()
    run_id = uuid.uuid4().hex
    with servicenow_endpoint(args) as overrides:
        pipeline = make_pipeline(
            PIPELINE_NAME,
            DATASET_NAME,
            args.destination,
            staging=args.staging,
            progress=args.progress,
        )
        spool = RecordSpool(Path(pipeline.working_dir) / "canonical_spool")
        monitor = SyncMonitor("servicenow", run_id)
        slot: ClientSlot[ServiceNowClient] = ClientSlot()

        def build_source() -> Any:
            slot.client = make_client(**overrides)
            slot.client.check_credentials()
            given = {"tables": args.resources, "start_date": args.start_date}
            source = servicenow_source(
                client=slot.client,
                run_id=run_id,
                monitor=monitor,
                **{k: v for k, v in given.items() if v is not None},
            )
            selected = list(source.resources.selected.keys())
            slot.tables = [*selected, "_dead_letters"]
            # Only the selected tables are refreshed (dlt reads the pipeline's refresh).
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
            if args.canonical:
                tee_canonical(source, spool)
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
        print_run_summary(pipeline, slot.client.session, slot.tables, time.monotonic() - started)
        if args.canonical:
            canonical(pipeline, spool, run_id)
        spool.close()
    return 0


def tee_canonical(source: Any, spool: RecordSpool) -> None:
    """Copies mapped records to the spool during the raw load."""
    from sources.servicenow.canonical import servicenow_mappings

    tee_mapped_resources(source, spool, servicenow_mappings())


def canonical(pipeline: dlt.Pipeline, spool: RecordSpool, run_id: str) -> None:
    """Maps the spooled sys_user records into canonical_customers and the crosswalk."""
    from sources.servicenow.canonical import run_servicenow_canonical, servicenow_mappings

    outcome = run_servicenow_canonical(pipeline, spool, servicenow_mappings(), run_id=run_id)
    spool.clear()
    counts = count_rows(outcome.pipeline, outcome.tables)
    print()
    print(format_table([(c.table, str(c.rows)) for c in counts], ("canonical table", "rows")))
    print(
        f"crosswalk: {outcome.linked} new link(s), "
        f"{len(outcome.ambiguous)} ambiguous record(s) left unlinked"
    )
    for drift in outcome.drift:
        for line in drift.lines():
            print(f"drift: {line}")
    print(f"canonical: {destination_location(outcome.pipeline)}")


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: one clear line and a non-zero exit on any error."""
    args = parse_args(argv)
    setup_logging(args.verbose, args.log_format)
    return run_reporting_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
