"""Load a Shopify store into DuckDB (or any dlt destination).

python pipelines/shopify_pipeline.py            # shop URL and token from dlt config/secrets
python pipelines/shopify_pipeline.py --sandbox  # bundled Shopify emulator, over HTTP
python pipelines/shopify_pipeline.py --sandbox --sandbox-real-time   # its bucket in real time
python pipelines/shopify_pipeline.py --resources products,orders --full-refresh
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
from sources.kit.mapping.system import CanonicalSystem  # noqa: E402
from sources.shopify import ShopifyClient, make_client, shopify_source  # noqa: E402
from sources.shopify.settings import DEFAULT_RESOURCES, RESOURCES  # noqa: E402

logger = logging.getLogger("sluice.pipeline.shopify")

CANONICAL = CanonicalSystem("shopify", Path(__file__).resolve().parents[1] / "sources" / "shopify")
"""Shopify maps into no canonical model yet (its folder holds no mapping file)."""


def add_sandbox_flags(parser: argparse.ArgumentParser) -> None:
    """The emulator's seed, plan figures and clock."""
    parser.add_argument("--sandbox-seed", type=int, default=42)
    parser.add_argument("--sandbox-bucket", type=float, default=1000.0, help="bucket points")
    parser.add_argument(
        "--sandbox-restore-rate", type=float, default=50.0, help="points restored per second"
    )
    parser.add_argument(
        "--sandbox-real-time",
        action="store_true",
        help="the emulator's bucket restores in real time (default: its clock moves when "
        "the connector waits, so a run takes seconds)",
    )


@contextlib.contextmanager
def shopify_endpoint(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Client overrides: the emulator's URL and token with --sandbox, else none."""
    if not args.sandbox:
        yield {}
        return
    from sandbox.shopify import ShopifySandbox

    real_time = bool(args.sandbox_real_time)
    with ShopifySandbox(
        seed=args.sandbox_seed,
        bucket_size=args.sandbox_bucket,
        restore_rate=args.sandbox_restore_rate,
        clock=time.time if real_time else None,
    ) as sandbox:
        logger.info("Shopify sandbox listening on %s", sandbox.base_url)
        overrides: dict[str, Any] = {
            "shop_url": sandbox.base_url,
            "access_token": sandbox.access_token,
            "api_version": sandbox.api_version,
        }
        if not real_time:
            # the limiter's waits move the emulator's clock: same pacing, no real sleep
            overrides.update(clock=sandbox.clock, sleep=sandbox.advance)
        yield overrides


def build_client(overrides: dict[str, Any]) -> ShopifyClient:
    """The client from ``sources.shopify.*``, the token checked before any work."""
    client = make_client(**overrides)
    client.check_credentials()
    return client


def cost_summary(client: ShopifyClient) -> str:
    """The cost bucket's figures for the summary's request line."""
    snapshot = client.graphql.limiter.snapshot()
    return (
        f"  cost bucket {snapshot['maximum']:.0f} pts @ {snapshot['restore_rate']:.0f}/s, "
        f"waited {snapshot['waited_s']:.1f}s, {snapshot['throttled']} throttled"
        if snapshot["maximum"]
        else ""
    )


CONNECTOR = runner.ConnectorRunner(
    name="shopify",
    title="Shopify",
    pipeline_name="shopify",
    endpoint=shopify_endpoint,
    client=build_client,
    source=shopify_source,
    canonical=CANONICAL,
    resources_help=f"comma-separated, from {','.join(RESOURCES)} "
    f"(default: {','.join(DEFAULT_RESOURCES)})",
    start_date_bound="records whose updated_at (last change) is",
    canonical_help="(Shopify maps into no canonical model yet: nothing to map)",
    known_resources=RESOURCES,
    add_sandbox_flags=add_sandbox_flags,
    summary_extra=cost_summary,
)

parse_args = CONNECTOR.parse_args
main = CONNECTOR.main


if __name__ == "__main__":
    sys.exit(main())
