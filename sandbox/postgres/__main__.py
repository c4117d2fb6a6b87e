"""Run a throwaway PostgreSQL server for CDC standalone: ``python -m sandbox.postgres``.

It prints the DSN to set as ``sources.postgres_cdc.credentials``; ``--changes`` makes the
sandbox's demo changes and exits (against a server started before, with ``--dsn``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Optional

from .server import DEMO_CHANGES, seed_tables, start_logical_postgres

logger = logging.getLogger("sluice.sandbox.postgres")


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.postgres",
        description="Local PostgreSQL server with wal_level = logical and seeded tables.",
    )
    parser.add_argument("--dsn", help="with --changes: the server to change")
    parser.add_argument(
        "--changes", action="store_true", help="make the demo changes on --dsn and exit"
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Serves until interrupted (or makes the demo changes); returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.changes:
        if not args.dsn:
            logger.error("error: --changes needs --dsn (the DSN the sandbox printed)")
            return 2
        import psycopg2

        with psycopg2.connect(args.dsn) as con, con.cursor() as cur:
            cur.execute(DEMO_CHANGES)
        con.close()
        logger.info("changed customers and orders")
        return 0
    stop = threading.Event()

    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with start_logical_postgres() as server:
        seed_tables(server)
        logger.info("PostgreSQL CDC sandbox (wal_level = logical), seeded: customers, orders")
        logger.info("  SOURCES__POSTGRES_CDC__CREDENTIALS=%s", server.dsn)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
