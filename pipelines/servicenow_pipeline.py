"""Load ServiceNow tables into DuckDB (or any dlt destination).

python pipelines/servicenow_pipeline.py            # instance and credentials from dlt config
python pipelines/servicenow_pipeline.py --sandbox  # bundled ServiceNow emulator, over HTTP
python pipelines/servicenow_pipeline.py --resources incident,sys_user --canonical
python pipelines/servicenow_pipeline.py --start-date 2024-01-01 --progress   # first sync
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
from sources.servicenow import DEFAULT_TABLES, make_auth, make_client, servicenow_source  # noqa: E402
from sources.servicenow.canonical import CANONICAL  # noqa: E402
from sources.servicenow.client import ServiceNowClient  # noqa: E402

SANDBOX_AUTH = ("basic", "oauth_password", "oauth_client_credentials")
logger = logging.getLogger("sluice.pipeline.servicenow")


def add_sandbox_flags(parser: argparse.ArgumentParser) -> None:
    """The emulator's seed and the auth flow to use against it."""
    parser.add_argument("--sandbox-seed", type=int, default=42)
    parser.add_argument(
        "--sandbox-auth",
        choices=SANDBOX_AUTH,
        default="oauth_password",
        help="auth flow against the sandbox",
    )


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


def build_client(overrides: dict[str, Any]) -> ServiceNowClient:
    """The client from ``sources.servicenow.*``, credentials checked before any work."""
    client = make_client(**overrides)
    client.check_credentials()
    return client


CONNECTOR = runner.ConnectorRunner(
    name="servicenow",
    title="ServiceNow",
    pipeline_name="servicenow",
    endpoint=servicenow_endpoint,
    client=build_client,
    source=servicenow_source,
    canonical=CANONICAL,
    resources_help="comma-separated tables, any the instance has "
    f"(default: {','.join(DEFAULT_TABLES)})",
    start_date_bound="records whose sys_updated_on (last change) is",
    canonical_help="after the load, map every load of sys_user not mapped yet (this run's "
    "and any earlier one's) into canonical_customers with the crosswalk",
    resources_argument="tables",
    resource_aliases=("--tables",),
    add_sandbox_flags=add_sandbox_flags,
)

parse_args = CONNECTOR.parse_args
main = CONNECTOR.main


if __name__ == "__main__":
    sys.exit(main())
