"""Load a Gmail mailbox (labels, messages, threads) into DuckDB (or any dlt destination).

python pipelines/gmail_pipeline.py             # OAuth client and refresh token from dlt secrets
python pipelines/gmail_pipeline.py --sandbox   # bundled Gmail emulator, over HTTP
python pipelines/gmail_pipeline.py --resources messages --start-date 2024-01-01
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if not __package__ and importlib.util.find_spec("pipelines") is None:
    # sluice is not installed for this Python: reach only the check that says which to use.
    sys.path.append(str(Path(__file__).resolve().parents[1]))
from pipelines.environment import require_installed  # noqa: E402

require_installed(__file__)

from pipelines import runner  # noqa: E402
from sources.gmail import DEFAULT_RESOURCES, gmail_source, make_auth, make_client  # noqa: E402
from sources.gmail.canonical import CANONICAL  # noqa: E402
from sources.gmail.client import GmailClient  # noqa: E402
from sources.kit.auth import MemoryTokenStore  # noqa: E402

logger = logging.getLogger("sluice.pipeline.gmail")


def add_sandbox_flags(parser: argparse.ArgumentParser) -> None:
    """The emulator's seed and quota."""
    parser.add_argument("--sandbox-seed", type=int, default=42)
    parser.add_argument(
        "--sandbox-quota",
        type=int,
        default=250,
        help="the emulator's quota units per user per second (0: unmetered)",
    )


@contextlib.contextmanager
def gmail_endpoint(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Client overrides: the emulator's URL and OAuth grant with --sandbox, else none."""
    if not args.sandbox:
        yield {}
        return
    from sandbox.gmail import GmailSandbox

    # The real clock: the emulator's quota window then moves as the run goes.
    quota = int(args.sandbox_quota) or None
    with GmailSandbox(seed=args.sandbox_seed, clock=time.time, quota_units_per_s=quota) as sb:
        logger.info("Gmail sandbox listening on %s", sb.base_url)
        auth = make_auth(
            client_id=sb.client_id,
            client_secret=sb.client_secret,
            refresh_token=sb.refresh_token,
            token_url=sb.token_url,
            token_store=MemoryTokenStore(),  # the emulator's grant is not worth keeping
        )
        yield {"base_url": sb.base_url, "auth": auth}


def build_client(overrides: dict[str, Any]) -> GmailClient:
    """The client from ``sources.gmail.*``, credentials checked (getProfile) before any work."""
    client = make_client(**overrides)
    client.check_credentials()
    return client


CONNECTOR = runner.ConnectorRunner(
    name="gmail",
    title="Gmail",
    pipeline_name="gmail",
    endpoint=gmail_endpoint,
    client=build_client,
    source=gmail_source,
    canonical=CANONICAL,
    resources_help=f"comma-separated resources (default: {','.join(DEFAULT_RESOURCES)})",
    start_date_bound="messages whose internal date (receipt) is",
    canonical_help="after the load, run Gmail's canonical mappings (none yet)",
    known_resources=DEFAULT_RESOURCES,
    add_sandbox_flags=add_sandbox_flags,
)

parse_args = CONNECTOR.parse_args
main = CONNECTOR.main


if __name__ == "__main__":
    sys.exit(main())
