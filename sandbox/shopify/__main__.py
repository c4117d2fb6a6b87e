"""Run the Shopify emulator standalone: ``python -m sandbox.shopify --port 12114``.

It prints the GraphQL URL, the access token and the webhook secret as dlt config variables.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

from sandbox.serve import serve_until_signal

from .server import DEFAULT_API_VERSION, ShopifySandbox

DEFAULT_PORT = 12114


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.shopify", description="Local Shopify Admin GraphQL API emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bucket-size", type=float, default=1000.0)
    parser.add_argument("--restore-rate", type=float, default=50.0)
    parser.add_argument("--api-version", default=DEFAULT_API_VERSION)
    parser.add_argument("--log-level", default="INFO")
    return parser


def connection_lines(sandbox: ShopifySandbox) -> list[str]:
    """Where to connect and with what, as dlt config variables."""
    return [
        "Shopify sandbox: {base_url}",
        f"  GraphQL: {{base_url}}/admin/api/{sandbox.api_version}/graphql.json",
        "  SOURCES__SHOPIFY__SHOP_URL={base_url}",
        f"  SOURCES__SHOPIFY__API_VERSION={sandbox.api_version}",
        f"  SOURCES__SHOPIFY__ACCESS_TOKEN={sandbox.access_token}",
        f"  SOURCES__SHOPIFY__WEBHOOK_SECRET={sandbox.webhook_secret}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Start the sandbox and serve until interrupted; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    # Standalone, time runs: the bucket refills with the wall clock.
    sandbox = ShopifySandbox(
        seed=args.seed,
        bucket_size=args.bucket_size,
        restore_rate=args.restore_rate,
        clock=time.time,
        api_version=args.api_version,
        host=args.host,
        port=args.port,
    )
    return serve_until_signal(sandbox, connection_lines(sandbox))


if __name__ == "__main__":
    raise SystemExit(main())
