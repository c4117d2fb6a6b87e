"""Load Stripe into DuckDB (or any dlt destination).

python pipelines/stripe_pipeline.py                # real API, key from dlt config or env
python pipelines/stripe_pipeline.py --sandbox      # bundled Stripe emulator, over HTTP
python pipelines/stripe_pipeline.py --resources customers,charges --full-refresh
python pipelines/stripe_pipeline.py --pipeline-name stripe_eu   # a second account, kept apart

The real account loads through pipeline ``stripe`` into dataset ``stripe``; ``--sandbox``
through pipeline ``stripe_sandbox`` into dataset ``stripe_sandbox`` (DuckDB file
``stripe_sandbox_data.duckdb``), so the emulator never touches a real account's state or
data. A pipeline remembers the account it was built from and refuses another one.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path
from typing import Optional

if not __package__ and importlib.util.find_spec("pipelines") is None:
    # sluice is not installed for this Python: reach only the check that says which to use.
    sys.path.append(str(Path(__file__).resolve().parents[1]))
from pipelines.environment import require_installed  # noqa: E402

require_installed(__file__)

import dlt  # noqa: E402

from pipelines import runner  # noqa: E402
from pipelines.common import UserFacingError  # noqa: E402
from pipelines.flags import name_list  # noqa: E402
from pipelines.identity import check_account  # noqa: E402
from pipelines.stripe_endpoint import (  # noqa: E402
    PIPELINE_NAME,
    SANDBOX_PIPELINE_NAME,
    build_client,
    default_inbox,
    stripe_endpoint,
)
from sandbox.stripe.scenarios import SCENARIOS  # noqa: E402
from sources.kit.webhooks.inbox import Inbox  # noqa: E402
from sources.stripe import RESOURCE_NAMES, stripe_source  # noqa: E402
from sources.stripe.canonical import CANONICAL  # noqa: E402
from sources.stripe.client import StripeClient  # noqa: E402
from sources.stripe.webhooks import drain, reconcile  # noqa: E402

SANDBOX_BASE_URL = "the bundled sandbox"
"""The base URL recorded for ``--sandbox`` runs: the emulator gets a new port every run."""
PIPELINE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ACCOUNT_REMEDY = (
    "use --pipeline-name NAME for a second account, or --full-refresh (all resources) "
    "to rebuild this one"
)


def resource_list(text: str) -> list[str]:
    """``--resources``: known names only, so a typo stops before any run is ledgered."""
    names = name_list(text)
    unknown = [n for n in names if n not in RESOURCE_NAMES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown resource(s) {', '.join(unknown)}; choose from: {', '.join(RESOURCE_NAMES)}"
        )
    return names


def add_sandbox_flags(parser: argparse.ArgumentParser) -> None:
    """The emulator's size, seed and scripted scenario."""
    parser.add_argument(
        "--sandbox-volume",
        type=int,
        default=50,
        help="customers the emulator seeds (other objects scale with it)",
    )
    parser.add_argument("--sandbox-seed", type=int, default=42)
    parser.add_argument(
        "--sandbox-scenario",
        choices=SCENARIOS,
        help="scripted customers added to the seeded account (mrr: upgrades, downgrades, "
        "cancels, reactivations, EUR, JPY and an annual plan)",
    )


def add_flags(parser: argparse.ArgumentParser) -> None:
    """A second account's pipeline, and the hybrid webhook mode."""
    parser.add_argument(
        "--pipeline-name",
        help="pipeline (and dataset, and default DuckDB file stem) to load into; one per "
        f"account (default: {PIPELINE_NAME}, {SANDBOX_PIPELINE_NAME} with --sandbox)",
    )
    parser.add_argument(
        "--reconcile-webhooks",
        action="store_true",
        help="after the poll, load the events the webhook receiver missed "
        "into its inbox and drain the inbox (hybrid mode)",
    )


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


def check_same_account(context: runner.RunContext) -> None:
    """A pipeline loads the account it was built from, unless all of it is rebuilt."""
    check_account(
        context.pipeline,
        account_fingerprint(context.client, context.args.sandbox),
        rebuild=context.pipeline.refresh == "drop_sources",
        remedy=ACCOUNT_REMEDY,
    )


def reconcile_after_load(context: runner.RunContext) -> None:
    """``--reconcile-webhooks``: the hybrid mode's catch-up after the poll."""
    if context.args.reconcile_webhooks:
        reconcile_webhooks(context.pipeline, context.client)


def reconcile_webhooks(pipeline: dlt.Pipeline, client: StripeClient) -> None:
    """Hybrid mode: events the receiver missed go to its inbox, then the inbox drains."""
    path = default_inbox(pipeline.pipeline_name)
    with Inbox(path) as inbox:
        missed = reconcile(inbox, client)
        drained = drain(inbox, pipeline, client=client)
    print(
        f"webhooks: {missed} event(s) missed by the receiver, {drained.events} drained from {path}"
    )


CONNECTOR = runner.ConnectorRunner(
    name="stripe",
    title="Stripe",
    pipeline_name=PIPELINE_NAME,
    endpoint=stripe_endpoint,
    client=build_client,
    source=stripe_source,
    canonical=CANONICAL,
    resources_help=f"comma-separated subset of: {','.join(RESOURCE_NAMES)}",
    start_date_bound="objects created",
    canonical_help="after the load, map every load not mapped yet (this run's, earlier "
    "runs', the webhook drain's) of customers, charges, payment intents and subscriptions "
    "into the canonical models (dataset canonical) with the crosswalk",
    parse_resources=resource_list,
    known_resources=RESOURCE_NAMES,
    source_takes_table_format=True,
    add_sandbox_flags=add_sandbox_flags,
    add_flags=add_flags,
    choose_pipeline_name=pipeline_name,
    check_source=check_same_account,
    after_load=reconcile_after_load,
)

parse_args = CONNECTOR.parse_args
main = CONNECTOR.main


if __name__ == "__main__":
    sys.exit(main())
