"""Load Stripe into DuckDB (or any dlt destination).

python pipelines/stripe.py                # real API, key from dlt config or env
python pipelines/stripe.py --sandbox      # bundled Stripe emulator, over HTTP
python pipelines/stripe.py --resources customers,charges --full-refresh
python pipelines/stripe.py --pipeline-name stripe_eu   # a second account, kept apart

The real account loads through pipeline ``stripe`` into dataset ``stripe``; ``--sandbox``
through pipeline ``stripe_sandbox`` into dataset ``stripe_sandbox`` (DuckDB file
``stripe_sandbox_data.duckdb``), so the emulator never touches a real account's state or
data. A pipeline remembers the account it was built from and refuses another one.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Optional

if __package__ in (None, ""):
    # Run as a script: this folder is on sys.path (and would shadow the `stripe` SDK);
    # put the project root there instead.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, os.path.dirname(here))
    from pipelines.environment import require_installed

    require_installed(__file__)

import dlt  # noqa: E402

from pipelines.common import (  # noqa: E402
    ClientSlot,
    UserFacingError,
    full_refresh_mode,
    loaded_resources,
    make_pipeline,
    print_canonical_summary,
    print_run_summary,
    resolve_table_format,
    run_reporting_errors,
    setup_logging,
)
from pipelines.flags import (  # noqa: E402
    add_progress_flag,
    add_resources_flag,
    add_staging_flag,
    name_list,
)
from pipelines.identity import check_account  # noqa: E402
from pipelines.stripe_endpoint import (  # noqa: E402
    PIPELINE_NAME,
    SANDBOX_PIPELINE_NAME,
    build_client,
    default_inbox,
    stripe_endpoint,
)
from pipelines.user_errors import start_date_notice  # noqa: E402
from sources.kit.destinations import loader_file_format  # noqa: E402
from sources.kit.ledger import SyncMonitor, run_with_ledger  # noqa: E402
from sources.kit.mapping import RecordSpool, tee_mapped_resources  # noqa: E402
from sources.kit.webhooks.inbox import Inbox  # noqa: E402
from sources.stripe import RESOURCE_NAMES, stripe_source  # noqa: E402
from sources.stripe.canonical import (  # noqa: E402
    run_stripe_canonical,
    stripe_mappings,
)
from sources.stripe.client import StripeClient  # noqa: E402
from sources.stripe.webhooks import drain, reconcile  # noqa: E402

SANDBOX_BASE_URL = "the bundled sandbox"
"""The base URL recorded for ``--sandbox`` runs: the emulator gets a new port every run."""
PIPELINE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ACCOUNT_REMEDY = (
    "use --pipeline-name NAME for a second account, or --full-refresh (all resources) "
    "to rebuild this one"
)
logger = logging.getLogger("sluice.pipeline.stripe")


def resource_list(text: str) -> list[str]:
    """``--resources``: known names only, so a typo stops before any run is ledgered."""
    names = name_list(text)
    unknown = [n for n in names if n not in RESOURCE_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown resource(s) {', '.join(unknown)}; choose from: {', '.join(RESOURCE_NAMES)}"
        )
    return names


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        description="Load Stripe into DuckDB or another dlt destination."
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="start the bundled Stripe emulator in-process and load from it",
    )
    parser.add_argument(
        "--sandbox-volume",
        type=int,
        default=50,
        help="customers the emulator seeds (other objects scale with it)",
    )
    parser.add_argument("--sandbox-seed", type=int, default=42)
    parser.add_argument(
        "--destination",
        default="duckdb",
        help="dlt destination name: duckdb (default), postgres, filesystem, snowflake, "
        "bigquery, motherduck, clickhouse, databricks, ... (configured through dlt config)",
    )
    add_resources_flag(
        parser, f"comma-separated subset of: {','.join(RESOURCE_NAMES)}", parse=resource_list
    )
    parser.add_argument(
        "--pipeline-name",
        help="pipeline (and dataset, and default DuckDB file stem) to load into; one per "
        f"account (default: {PIPELINE_NAME}, {SANDBOX_PIPELINE_NAME} with --sandbox)",
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="drop the selected resources' tables and state (all of this source's with "
        "every resource), then load them again",
    )
    add_progress_flag(parser)
    parser.add_argument("--start-date", help="only objects created on or after (ISO 8601)")
    add_staging_flag(parser)
    parser.add_argument(
        "--table-format",
        choices=["delta"],
        help="write Delta tables (filesystem destination; merges become upserts)",
    )
    parser.add_argument(
        "--reconcile-webhooks",
        action="store_true",
        help="after the poll, load the events the webhook receiver missed "
        "into its inbox and drain the inbox (hybrid mode)",
    )
    parser.add_argument(
        "--canonical",
        action="store_true",
        help="also map this run's customers, charges and subscriptions into the "
        "canonical models (dataset canonical) with the crosswalk",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (redacted)")
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="log lines as text or one JSON object per line",
    )
    return parser.parse_args(argv)


def pipeline_name(args: argparse.Namespace) -> str:
    """``--pipeline-name``, else ``stripe_sandbox`` with ``--sandbox``, else ``stripe``.

    Raises:
        UserFacingError: The name cannot name a dataset and a file.
    """
    name = getattr(args, "pipeline_name", None)
    if not name:
        return SANDBOX_PIPELINE_NAME if getattr(args, "sandbox", False) else PIPELINE_NAME
    if not PIPELINE_NAME_PATTERN.match(name):
        raise UserFacingError(
            f"--pipeline-name {name!r}: use lowercase letters, digits and _ (starting with a "
            "letter); it also names the dataset and the default DuckDB file"
        )
    return str(name)


def account_fingerprint(client: StripeClient, sandbox: bool) -> dict[str, Optional[str]]:
    """This run's account fingerprint; the emulator's changing port is not part of it."""
    fingerprint = client.account_fingerprint()
    if sandbox:
        fingerprint["base_url"] = SANDBOX_BASE_URL
    return fingerprint


def run(args: argparse.Namespace) -> int:
    """Builds and runs the pipeline, writes the run ledger, then prints the summary."""
    started = time.monotonic()
    run_id = uuid.uuid4().hex
    specs = stripe_mappings() if args.canonical else []
    table_format = resolve_table_format(args.table_format, "stripe")
    name = pipeline_name(args)
    with stripe_endpoint(args) as overrides:
        pipeline = make_pipeline(
            name,
            name,
            args.destination,
            staging=args.staging,
            table_format=table_format,
            progress=args.progress,
        )
        # Durable: a run whose canonical load fails leaves its records for the next run.
        spool = RecordSpool(Path(pipeline.working_dir) / "canonical_spool")
        monitor = SyncMonitor("stripe", run_id)
        slot: ClientSlot[StripeClient] = ClientSlot()

        def build_source() -> Any:
            # Built inside the run so a rejected key still leaves a `failed` ledger row.
            slot.client = build_client(overrides)
            # Only flags the user gave: the rest resolves from sources.stripe.* config.
            given = {
                "resources": args.resources,
                "start_date": args.start_date,
                "table_format": table_format,
            }
            source = stripe_source(
                client=slot.client,
                run_id=run_id,
                monitor=monitor,
                **{k: v for k, v in given.items() if v is not None},
            )
            selected = list(source.resources.selected.keys())
            slot.tables = [*selected, "_dead_letters"]
            # dlt reads the pipeline's refresh when run() is given none; it depends on
            # the selection, known only now.
            pipeline.refresh = (
                full_refresh_mode(pipeline, selected, RESOURCE_NAMES) if args.full_refresh else None
            )
            notice = start_date_notice(
                args.start_date, selected, loaded_resources(pipeline), args.full_refresh
            )
            if notice:
                print(f"note: {notice}", file=sys.stderr)
            check_account(
                pipeline,
                account_fingerprint(slot.client, args.sandbox),
                rebuild=pipeline.refresh == "drop_sources",
                remedy=ACCOUNT_REMEDY,
            )
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
            pipeline.refresh = None  # the webhook drain below runs on the same pipeline
        assert slot.client is not None
        if args.reconcile_webhooks:
            reconcile_webhooks(pipeline, slot.client)
        print_run_summary(pipeline, slot.client.session, slot.tables, time.monotonic() - started)
        if args.canonical:
            outcome = run_stripe_canonical(pipeline, spool, specs, run_id=run_id)
            spool.clear()
            print_canonical_summary(outcome)
        spool.close()
    return 0


def reconcile_webhooks(pipeline: dlt.Pipeline, client: StripeClient) -> None:
    """Hybrid mode: events the receiver missed go to its inbox, then the inbox drains."""
    path = default_inbox(pipeline.pipeline_name)
    with Inbox(path) as inbox:
        missed = reconcile(inbox, client)
        drained = drain(inbox, pipeline, client=client)
    print(
        f"webhooks: {missed} event(s) missed by the receiver, {drained.events} drained from {path}"
    )


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: one clear line and a non-zero exit on any error."""
    args = parse_args(argv)
    setup_logging(args.verbose, args.log_format)
    return run_reporting_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
