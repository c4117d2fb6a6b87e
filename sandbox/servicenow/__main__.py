"""Run the ServiceNow emulator standalone: ``python -m sandbox.servicenow --port 12113``.

It prints the base URL and the user and OAuth client a client connects with
(``sources.servicenow.base_url`` and ``sources.servicenow.credentials``).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

from sandbox.serve import serve_until_signal

from .server import ServiceNowSandbox

DEFAULT_PORT = 12113


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.servicenow", description="Local ServiceNow instance emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--rate-limit", type=int, default=None, help="requests per hour per user (default: off)"
    )
    parser.add_argument("--log-level", default="INFO")
    return parser


def connection_lines(sandbox: ServiceNowSandbox) -> list[str]:
    """The base URL and the sandbox's user and OAuth client, as dlt config variables."""
    return [
        "ServiceNow sandbox: {base_url}",
        "  SOURCES__SERVICENOW__BASE_URL={base_url}",
        f"  SOURCES__SERVICENOW__CREDENTIALS__USERNAME={sandbox.username}",
        f"  SOURCES__SERVICENOW__CREDENTIALS__PASSWORD={sandbox.password}",
        f"  SOURCES__SERVICENOW__CREDENTIALS__CLIENT_ID={sandbox.client_id}",
        f"  SOURCES__SERVICENOW__CREDENTIALS__CLIENT_SECRET={sandbox.client_secret}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Start the sandbox and serve until interrupted; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    # Standalone, time runs: tokens expire and new records get the wall-clock time.
    sandbox = ServiceNowSandbox(
        seed=args.seed, rate_limit=args.rate_limit, clock=time.time, host=args.host, port=args.port
    )
    return serve_until_signal(sandbox, connection_lines(sandbox))


if __name__ == "__main__":
    raise SystemExit(main())
