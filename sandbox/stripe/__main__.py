"""Run the sandbox standalone: ``python -m sandbox.stripe --port 12111``."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from .bulk import parse_bulk
from .faults import Faults
from .scenarios import SCENARIOS
from .server import StripeSandbox

DEFAULT_KEY = "sk_test_sandbox"


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.stripe", description="Local Stripe API v1 sandbox."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--volume", type=int, default=50, help="number of customers")
    parser.add_argument(
        "--api-key", action="append", dest="api_keys", help="accepted key (repeatable)"
    )
    parser.add_argument(
        "--rate-limit", type=int, default=None, help="requests/s per key (0: off; default 25/100)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument("--stall-rate", type=float, default=0.0)
    parser.add_argument("--stall-seconds", type=float, default=30.0)
    parser.add_argument("--malformed-rate", type=float, default=0.0)
    parser.add_argument(
        "--bulk",
        type=bulk_counts,
        default=None,
        help="extra historical customers, charges, invoices, balance_transactions and events "
        "held as JSON, for benchmarks (e.g. charges=110000,customers=30000,invoices=60000,"
        "balance_transactions=30000,events=30000)",
    )
    parser.add_argument(
        "--scenario", choices=SCENARIOS, default=None, help="scripted customers to add (mrr)"
    )
    parser.add_argument("--log-level", default="INFO")
    return parser


def bulk_counts(text: str) -> dict[str, int]:
    """Parse ``--bulk`` (see ``bulk.parse_bulk``) with argparse's error reporting."""
    try:
        return parse_bulk(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def faults_from(args: argparse.Namespace) -> Faults:
    """Return the fault switches given on the command line."""
    return Faults(
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        stall_rate=args.stall_rate,
        stall_seconds=args.stall_seconds,
        latency_ms=args.latency_ms,
        malformed_rate=args.malformed_rate,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Start the sandbox and serve until interrupted; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    sandbox = StripeSandbox(
        seed=args.seed,
        volume=args.volume,
        api_keys=args.api_keys or (DEFAULT_KEY,),
        rate_limit=args.rate_limit,
        faults=faults_from(args),
        host=args.host,
        port=args.port,
        bulk=args.bulk,
        scenario=args.scenario,
    )
    stopped = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with sandbox:
        print(f"Stripe sandbox: {sandbox.base_url}  api key: {sandbox.api_key}", flush=True)  # noqa: T201
        stopped.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
