"""Load Salesforce into DuckDB (or any dlt destination).

python pipelines/salesforce_pipeline.py            # real org, credentials from dlt config or env
python pipelines/salesforce_pipeline.py --sandbox  # bundled Salesforce emulator, over HTTP
python pipelines/salesforce_pipeline.py --sandbox --sandbox-changes   # ... after some changes
python pipelines/salesforce_pipeline.py --resources Account,Contact --canonical
python pipelines/salesforce_pipeline.py --start-date 2024-01-01   # first sync: changed since
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if not __package__ and importlib.util.find_spec("pipelines") is None:
    # sluice is not installed for this Python: reach only the check that says which to use.
    sys.path.append(str(Path(__file__).resolve().parents[1]))
from pipelines.environment import require_installed  # noqa: E402

require_installed(__file__)

from pipelines import runner  # noqa: E402
from sources.salesforce import DEFAULT_OBJECTS, make_client, salesforce_source  # noqa: E402
from sources.salesforce.auth import SalesforceCredentials  # noqa: E402
from sources.salesforce.canonical import CANONICAL  # noqa: E402
from sources.salesforce.client import SalesforceClient  # noqa: E402

SANDBOX_PAGE_SIZE = 25
logger = logging.getLogger("sluice.pipeline.salesforce")


def add_sandbox_flags(parser: argparse.ArgumentParser) -> None:
    """The emulator's size and seed, and a batch of changes before the load."""
    parser.add_argument(
        "--sandbox-volume", type=int, default=40, help="accounts the emulator seeds"
    )
    parser.add_argument("--sandbox-seed", type=int, default=42)
    parser.add_argument(
        "--sandbox-changes",
        action="store_true",
        help="with --sandbox: update, delete and create a few records before loading",
    )


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


def build_client(overrides: dict[str, Any]) -> SalesforceClient:
    """The client from ``sources.salesforce.*`` (its token is fetched by the source)."""
    return make_client(**overrides)


def api_usage_figure(client: SalesforceClient) -> str:
    """The daily API usage Salesforce last reported, for the summary."""
    usage = client.budget.last_usage
    return f"  api-usage: {int(usage.used)}/{int(usage.limit)}" if usage else ""


CONNECTOR = runner.ConnectorRunner(
    name="salesforce",
    title="Salesforce",
    pipeline_name="salesforce",
    endpoint=salesforce_endpoint,
    client=build_client,
    source=salesforce_source,
    canonical=CANONICAL,
    resources_help="comma-separated sObjects, any the org has "
    f"(default: {','.join(DEFAULT_OBJECTS)})",
    start_date_bound="records whose SystemModstamp (last change) is",
    canonical_help="after the load, map every load of accounts and contacts not mapped yet "
    "(this run's and any earlier one's) into canonical_customers (dataset canonical) with "
    "the crosswalk",
    resources_argument="objects",
    resource_aliases=("--objects",),
    add_sandbox_flags=add_sandbox_flags,
    summary_extra=api_usage_figure,
)

parse_args = CONNECTOR.parse_args
main = CONNECTOR.main


if __name__ == "__main__":
    sys.exit(main())
