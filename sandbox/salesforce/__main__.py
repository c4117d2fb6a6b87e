"""Run the Salesforce emulator standalone: ``python -m sandbox.salesforce --port 12112``.

It prints the base URL and the refresh token flow's settings
(``sources.salesforce.credentials``) a client connects with.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from sandbox.serve import serve_until_signal

from .server import SalesforceSandbox

DEFAULT_PORT = 12112


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.salesforce", description="Local Salesforce org emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--volume", type=int, default=40, help="number of accounts")
    parser.add_argument("--log-level", default="INFO")
    return parser


def connection_lines(sandbox: SalesforceSandbox) -> list[str]:
    """The base URL and the refresh token settings, as dlt config environment variables."""
    settings = sandbox.refresh_credentials()
    return [
        "Salesforce sandbox: {base_url}",
        *(
            f"  SOURCES__SALESFORCE__CREDENTIALS__{key.upper()}={value}"
            for key, value in settings.items()
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Start the sandbox and serve until interrupted; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    sandbox = SalesforceSandbox(seed=args.seed, volume=args.volume, host=args.host, port=args.port)
    # The token URL needs the bound port: the lines are built once the server listens.
    sandbox.start()
    try:
        return serve_until_signal(sandbox, connection_lines(sandbox))
    finally:
        sandbox.stop()


if __name__ == "__main__":
    raise SystemExit(main())
