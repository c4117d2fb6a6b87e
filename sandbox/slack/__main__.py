"""Run the Slack emulator standalone: ``python -m sandbox.slack --port 12114``.

It prints the base URL, the bot token and the signing secret a client connects with
(``sources.slack.base_url``, ``sources.slack.credentials``).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from sandbox.serve import serve_until_signal

from .server import SlackSandbox

DEFAULT_PORT = 12114


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.slack", description="Local Slack Web API emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--marketplace-limits",
        action="store_true",
        help="non-Marketplace limits: history/replies 1 request a minute, 15 per page",
    )
    parser.add_argument(
        "--minute-s", type=float, default=60.0, help="seconds in a rate-limit minute"
    )
    parser.add_argument("--no-rate-limits", action="store_true", help="turn the tier limits off")
    parser.add_argument("--log-level", default="INFO")
    return parser


def connection_lines(sandbox: SlackSandbox) -> list[str]:
    """The base URL, bot token and signing secret, as dlt config variables."""
    return [
        "Slack sandbox: {base_url}",
        "  SOURCES__SLACK__BASE_URL={base_url}",
        f"  SOURCES__SLACK__CREDENTIALS__BOT_TOKEN={sandbox.bot_token}",
        f"  SOURCES__SLACK__SIGNING_SECRET={sandbox.signing_secret}",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Start the sandbox and serve until interrupted; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    sandbox = SlackSandbox(
        seed=args.seed,
        marketplace_limits=args.marketplace_limits,
        minute_s=args.minute_s,
        rate_limits=not args.no_rate_limits,
        host=args.host,
        port=args.port,
    )
    return serve_until_signal(sandbox, connection_lines(sandbox))


if __name__ == "__main__":
    raise SystemExit(main())
