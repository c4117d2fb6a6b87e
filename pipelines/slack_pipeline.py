"""Load a Slack workspace into DuckDB (or any dlt destination).

python pipelines/slack_pipeline.py            # bot token from dlt secrets (sources.slack.bot_token)
python pipelines/slack_pipeline.py --sandbox  # bundled Slack emulator, over HTTP
python pipelines/slack_pipeline.py --sandbox --sandbox-marketplace   # 1 request/min regime
python pipelines/slack_pipeline.py --resources channels,users --full-refresh
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
from sources.kit.mapping.system import CanonicalSystem  # noqa: E402
from sources.slack import SlackClient, make_client, slack_source  # noqa: E402
from sources.slack.client import method_budget  # noqa: E402
from sources.slack.settings import DEFAULT_RESOURCES, RESOURCES  # noqa: E402

logger = logging.getLogger("sluice.pipeline.slack")

CANONICAL = CanonicalSystem("slack", Path(__file__).resolve().parents[1] / "sources" / "slack")
"""Slack maps into no canonical model yet (its folder holds no mapping file)."""

SANDBOX_MINUTE_S = 1.0
"""The emulator's rate-limit minute with --sandbox: tiers keep their shape, runs take seconds."""


def add_sandbox_flags(parser: argparse.ArgumentParser) -> None:
    """The emulator's seed, its rate-limit minute and the non-Marketplace regime."""
    parser.add_argument("--sandbox-seed", type=int, default=42)
    parser.add_argument(
        "--sandbox-minute-s",
        type=float,
        default=SANDBOX_MINUTE_S,
        help="seconds in the emulator's rate-limit minute (60 is Slack's real pace)",
    )
    parser.add_argument(
        "--sandbox-marketplace",
        action="store_true",
        help="the emulator applies the 2025 limits of apps outside the Marketplace",
    )


@contextlib.contextmanager
def slack_endpoint(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Client overrides: the emulator's URL, token and scaled budgets with --sandbox."""
    if not args.sandbox:
        yield {}
        return
    from sandbox.slack import SlackSandbox

    minute_s = float(args.sandbox_minute_s)
    marketplace = bool(args.sandbox_marketplace)
    with SlackSandbox(
        seed=args.sandbox_seed, minute_s=minute_s, marketplace_limits=marketplace
    ) as sandbox:
        logger.info("Slack sandbox listening on %s", sandbox.base_url)
        # The emulator's minute is minute_s long: pace each method to its scaled minute.
        scaled = {m: v * 60.0 / minute_s for m, v in method_budget(marketplace, {}).items()}
        yield {
            "base_url": sandbox.base_url,
            "bot_token": sandbox.bot_token,
            "marketplace_limits": marketplace,
            "method_limits": scaled,
            "rate_limit": max(5.0, max(scaled.values()) / 60.0),
        }


def summary_notes(client: SlackClient) -> str:
    """What stopped early or was skipped, on the summary's request line."""
    return f"  {'; '.join(client.notes)}" if client.notes else ""


def build_client(overrides: dict[str, Any]) -> SlackClient:
    """The client from ``sources.slack.*``, the token checked (auth.test) before any work."""
    client = make_client(**overrides)
    client.check_credentials()
    return client


CONNECTOR = runner.ConnectorRunner(
    name="slack",
    title="Slack",
    pipeline_name="slack",
    endpoint=slack_endpoint,
    client=build_client,
    source=slack_source,
    canonical=CANONICAL,
    resources_help=f"comma-separated, from {','.join(RESOURCES)} "
    f"(default: {','.join(DEFAULT_RESOURCES)})",
    start_date_bound="messages whose ts (posting time) is",
    canonical_help="(Slack maps into no canonical model yet: nothing to map)",
    known_resources=RESOURCES,
    add_sandbox_flags=add_sandbox_flags,
    summary_extra=summary_notes,
)

parse_args = CONNECTOR.parse_args
main = CONNECTOR.main


if __name__ == "__main__":
    sys.exit(main())
