"""Run the Gmail emulator standalone: ``python -m sandbox.gmail --port 12114``.

It prints the API root, the token endpoint and the OAuth client and grant to connect with.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

from sandbox.serve import serve_until_signal

from .server import GmailSandbox

DEFAULT_PORT = 12114


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.gmail", description="Local Gmail API v1 emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quota", type=int, default=250, help="quota units per user per second")
    parser.add_argument("--log-level", default="INFO")
    return parser


def connection_lines(sandbox: GmailSandbox) -> list[str]:
    """The API root, token URL and credentials, as dlt config variables."""
    return [
        "Gmail sandbox: {base_url}",
        "  SOURCES__GMAIL__BASE_URL={base_url}",
        "  SOURCES__GMAIL__CREDENTIALS__TOKEN_URL={base_url}token",
        f"  SOURCES__GMAIL__CREDENTIALS__CLIENT_ID={sandbox.client_id}",
        f"  SOURCES__GMAIL__CREDENTIALS__CLIENT_SECRET={sandbox.client_secret}",
        f"  SOURCES__GMAIL__CREDENTIALS__REFRESH_TOKEN={sandbox.refresh_token}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Start the sandbox and serve until interrupted; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    # Standalone, time runs: tokens expire and the quota window moves with the wall clock.
    sandbox = GmailSandbox(
        seed=args.seed,
        clock=time.time,
        quota_units_per_s=args.quota,
        host=args.host,
        port=args.port,
    )
    return serve_until_signal(sandbox, connection_lines(sandbox))


if __name__ == "__main__":
    raise SystemExit(main())
