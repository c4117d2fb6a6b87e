"""Replicate Postgres tables (logical replication) into DuckDB or any dlt destination.

python pipelines/postgres_cdc_pipeline.py              # sources.postgres_cdc.* from dlt config
python pipelines/postgres_cdc_pipeline.py --sandbox    # a throwaway local server, seeded
python pipelines/postgres_cdc_pipeline.py --tables customers,orders --hard-delete
python pipelines/postgres_cdc_pipeline.py --drop-slot  # drop the slot and publication
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

if not __package__ and importlib.util.find_spec("pipelines") is None:
    sys.path.append(str(Path(__file__).resolve().parents[1]))
from pipelines.environment import require_installed  # noqa: E402

require_installed(__file__)

import dlt  # noqa: E402

from pipelines.common import (  # noqa: E402
    count_rows,
    format_table,
    make_pipeline,
    run_reporting_errors,
    setup_logging,
)
from pipelines.flags import name_list  # noqa: E402
from sources.kit.destinations import loader_file_format  # noqa: E402
from sources.kit.ledger import SyncMonitor, run_with_ledger  # noqa: E402
from sources.postgres_cdc import LAG_TABLE, postgres_cdc_source  # noqa: E402
from sources.postgres_cdc.drop import drop_slot_and_publication  # noqa: E402
from sources.postgres_cdc.errors import CdcConfigurationError  # noqa: E402
from sources.postgres_cdc.settings import (  # noqa: E402
    CREDENTIALS_SETTING,
    DEFAULT_PUBLICATION,
    DEFAULT_SLOT,
    RESOURCE_NAME,
)

PIPELINE_NAME = "postgres_cdc"


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """The script's flags."""
    parser = argparse.ArgumentParser(
        description="Replicate Postgres tables into DuckDB or another dlt destination."
    )
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="start a throwaway local PostgreSQL server configured for logical "
        "replication, seed it and replicate it",
    )
    parser.add_argument(
        "--destination", default="duckdb", help="dlt destination name (duckdb, postgres, ...)"
    )
    parser.add_argument(
        "--tables",
        "--resources",
        dest="tables",
        type=name_list,
        help="comma-separated tables (default: sources.postgres_cdc.tables)",
    )
    parser.add_argument(
        "--hard-delete",
        action="store_true",
        default=None,
        help="remove deleted rows instead of keeping them with deleted = true",
    )
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="drop the loaded tables and state; the next run takes a new snapshot",
    )
    parser.add_argument(
        "--drop-slot",
        action="store_true",
        help="drop the replication slot and publication, then exit",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (redacted)")
    return parser.parse_args(argv)


@contextlib.contextmanager
def source_dsn(args: argparse.Namespace) -> Iterator[tuple[Optional[str], Optional[Any]]]:
    """With --sandbox, the sandbox server's DSN and its change maker; else (None, None)."""
    if not args.sandbox:
        yield None, None
        return
    from sandbox.postgres import seed_tables, start_logical_postgres
    from sandbox.postgres.server import make_changes

    with start_logical_postgres() as server:
        seed_tables(server)
        print(f"sandbox: PostgreSQL on 127.0.0.1:{server.port}", file=sys.stderr)
        yield server.dsn, lambda: make_changes(server)


def configured_dsn() -> str:
    """``sources.postgres_cdc.credentials`` as a DSN."""
    from dlt.sources.credentials import ConnectionStringCredentials

    value: Any = dlt.secrets["sources.postgres_cdc.credentials"]
    return (
        ConnectionStringCredentials(value).to_native_representation()
        if isinstance(value, str)
        else ConnectionStringCredentials(dict(value)).to_native_representation()
    )


def drop(dsn: Optional[str]) -> int:
    """``--drop-slot``: drops the configured slot and publication."""
    slot: str = dlt.config.get("sources.postgres_cdc.slot_name") or DEFAULT_SLOT
    publication: str = (
        dlt.config.get("sources.postgres_cdc.publication_name") or DEFAULT_PUBLICATION
    )
    dropped = drop_slot_and_publication(dsn or configured_dsn(), slot, publication)
    print(f"dropped: {', '.join(dropped) or 'nothing (no slot or publication)'}")
    return 0


def run(args: argparse.Namespace) -> int:
    """The command: ``--drop-slot``, or a load (two with ``--sandbox``: snapshot, stream)."""
    with source_dsn(args) as (dsn, make_changes):
        if args.drop_slot:
            return drop(dsn)
        load(args, dsn)
        if make_changes is not None:
            # the sandbox shows the stream too: changes after the snapshot, then a run
            make_changes()
            print("sandbox: changed the tables; streaming the changes", file=sys.stderr)
            load(args, dsn)
    return 0


def load(args: argparse.Namespace, dsn: Optional[str]) -> None:
    """One load through the run ledger (snapshot on the first run, then the stream)."""
    started = time.monotonic()
    run_id = uuid.uuid4().hex
    pipeline = make_pipeline(PIPELINE_NAME, PIPELINE_NAME, args.destination)
    monitor = SyncMonitor("postgres_cdc", run_id)
    given: dict[str, Any] = {
        "tables": args.tables,
        "hard_delete": args.hard_delete,
        "credentials": dsn,
    }
    refresh = "drop_sources" if args.full_refresh else None
    if dsn is None and dlt.secrets.get(CREDENTIALS_SETTING) is None:
        raise CdcConfigurationError(
            f"set {CREDENTIALS_SETTING} (SOURCES__POSTGRES_CDC__CREDENTIALS) to the source "
            "database's DSN, or use --sandbox"
        )

    def build_source() -> Any:
        chosen = {k: v for k, v in given.items() if v is not None}
        return postgres_cdc_source(run_id=run_id, monitor=monitor, **chosen)

    run_with_ledger(
        pipeline,
        build_source,
        monitor,
        refresh=refresh,
        loader_file_format=loader_file_format(pipeline),
    )
    tables = [t for t in pipeline.default_schema.data_table_names() if t != LAG_TABLE]
    counts = count_rows(pipeline, tables)
    print(format_table([(c.table, str(c.rows)) for c in counts], ("table", "rows")))
    print(f"{RESOURCE_NAME}: done in {time.monotonic() - started:.1f} s")


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: one clear line and exit code 1 on any error."""
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_reporting_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
