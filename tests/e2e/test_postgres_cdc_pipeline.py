"""End to end: Postgres CDC from a real server (logical replication) into DuckDB and Postgres."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest

from pipelines import postgres_cdc_pipeline
from sandbox.postgres.server import SEED_SQL
from tests.postgres_server import PostgresServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

COLUMNS = {"customers": "id, name, email, notes", "orders": "id, customer_id, amount, paid"}


def execute(dsn: str, statement: str) -> None:
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(statement)
    con.close()


def source_rows(dsn: str, table: str, columns: str) -> list[tuple[Any, ...]]:
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(f"SELECT {columns} FROM {table} ORDER BY id")
        rows = cur.fetchall()
    con.close()
    return rows


def unique_name(prefix: str, request: pytest.FixtureRequest) -> str:
    """A database name unique to the test (parametrized ids included)."""
    return f"{prefix}_{hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]}"


@pytest.fixture
def source_dsn(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A fresh source database, seeded, with its own slot name."""
    name = unique_name("cdc", request)
    dsn = postgres_server.create_database(name)
    execute(dsn, SEED_SQL)
    return dsn


@pytest.fixture
def cdc_env(
    source_dsn: str,
    dlt_home: Path,
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> str:
    monkeypatch.setenv("SOURCES__POSTGRES_CDC__CREDENTIALS", source_dsn)
    slot = "s_" + source_dsn.rsplit("/", 1)[1][:50]
    monkeypatch.setenv("SOURCES__POSTGRES_CDC__SLOT_NAME", slot)
    return source_dsn


Reader = Callable[[str, str, bool], list[tuple[Any, ...]]]


@pytest.fixture(params=["duckdb", "postgres"])
def destination(
    request: pytest.FixtureRequest,
    postgres_server: PostgresServer,
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[str, Reader]:
    """The destination name and a reader of its loaded rows (live only by default)."""

    def query(table: str, columns: str, live_only: bool) -> str:
        where = "WHERE deleted IS NOT TRUE" if live_only else ""
        return f"SELECT {columns} FROM postgres_cdc.{table} {where} ORDER BY id"  # noqa: S608

    if request.param == "duckdb":
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))

        def read_duck(table: str, columns: str, live_only: bool = True) -> list[tuple[Any, ...]]:
            with duckdb.connect(str(duckdb_path), read_only=True) as con:
                return con.execute(query(table, columns, live_only)).fetchall()

        return "duckdb", read_duck
    name = unique_name("dest", request)
    dest = postgres_server.create_database(name)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", dest)

    def read_pg(table: str, columns: str, live_only: bool = True) -> list[tuple[Any, ...]]:
        with psycopg2.connect(dest) as con, con.cursor() as cur:
            cur.execute(query(table, columns, live_only))
            rows = cur.fetchall()
        con.close()
        return rows

    return "postgres", read_pg


CHANGES = [
    "INSERT INTO customers VALUES (4, 'Edsger', 'ed@example.com', NULL)",
    "UPDATE customers SET email = 'ada@new.example' WHERE id = 1",
    "DELETE FROM customers WHERE id = 3",
    "BEGIN; UPDATE orders SET paid = true WHERE id = 11;"
    " UPDATE orders SET amount = 1.25 WHERE id = 11; COMMIT",
    "TRUNCATE orders",
    "INSERT INTO orders (id, customer_id, amount) VALUES (20, 4, 7.00)",
    "ALTER TABLE customers ADD COLUMN tier text",
    "UPDATE customers SET tier = 'gold' WHERE id = 2",
]


@pytest.mark.parametrize("hard", [False, True], ids=["soft_delete", "hard_delete"])
def test_snapshot_then_stream_equals_the_source(
    cdc_env: str, destination: tuple[str, Reader], hard: bool
) -> None:
    name, read = destination
    argv = ["--destination", name, *(["--hard-delete"] if hard else [])]
    assert postgres_cdc_pipeline.main(argv) == 0
    for table, cols in COLUMNS.items():
        assert read(table, cols, True) == source_rows(cdc_env, table, cols)

    for statement in CHANGES:
        execute(cdc_env, statement)
    assert postgres_cdc_pipeline.main(argv) == 0

    wider = {**COLUMNS, "customers": COLUMNS["customers"] + ", tier"}
    for table, cols in wider.items():
        assert read(table, cols, not hard) == source_rows(cdc_env, table, cols)
    deleted = read("customers", "id, name, deleted", False)
    # soft: the deleted row stays, flagged, with its values; hard: it is gone
    assert ((3, "Linus", True) in deleted) is not hard
    assert [r for r in deleted if r[0] == 3] == ([] if hard else [(3, "Linus", True)])

    # a run with no changes loads nothing new and keeps the tables equal
    assert postgres_cdc_pipeline.main(argv) == 0
    for table, cols in wider.items():
        assert read(table, cols, not hard) == source_rows(cdc_env, table, cols)


def big_text(seed: str) -> str:
    """~8 kB that does not compress: stored out of line (TOAST) with STORAGE EXTERNAL."""
    return "".join(hashlib.sha256(f"{seed}{i}".encode()).hexdigest() for i in range(256))


def test_unchanged_toasted_column_is_kept(cdc_env: str, destination: tuple[str, Reader]) -> None:
    name, read = destination
    execute(cdc_env, "ALTER TABLE customers ALTER COLUMN notes SET STORAGE EXTERNAL")
    execute(cdc_env, f"UPDATE customers SET notes = '{big_text('a')}' WHERE id = 1")
    execute(cdc_env, f"UPDATE customers SET notes = '{big_text('b')}' WHERE id = 2")
    argv = ["--destination", name]
    assert postgres_cdc_pipeline.main(argv) == 0  # snapshot
    # loaded before: the value comes from the destination
    execute(cdc_env, "UPDATE customers SET email = 'x@example.com' WHERE id = 1")
    # changed in this run, then an update leaving it: the value comes from this run
    execute(cdc_env, f"UPDATE customers SET notes = '{big_text('c')}' WHERE id = 2")
    execute(cdc_env, "UPDATE customers SET email = 'y@example.com' WHERE id = 2")
    assert postgres_cdc_pipeline.main(argv) == 0

    cols = COLUMNS["customers"]
    loaded = read("customers", cols, True)
    assert loaded == source_rows(cdc_env, "customers", cols)
    assert loaded[0][3] == big_text("a") and loaded[1][3] == big_text("c")


@pytest.mark.parametrize("threshold", [None, 0], ids=["below_threshold", "above_threshold"])
def test_slot_lag_is_shown_by_sluice_status(
    cdc_env: str,
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    threshold: int | None,
) -> None:
    from pipelines import status

    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))
    if threshold is not None:
        monkeypatch.setenv("SOURCES__POSTGRES_CDC__LAG_ALERT_BYTES", str(threshold))
    assert postgres_cdc_pipeline.main([]) == 0
    execute(cdc_env, "UPDATE customers SET email = NULL WHERE id = 2")
    assert postgres_cdc_pipeline.main([]) == 0
    capsys.readouterr()

    code = status.main(["--pipeline", "postgres_cdc"])
    out = capsys.readouterr().out
    slot = os.environ["SOURCES__POSTGRES_CDC__SLOT_NAME"]
    line = next(x for x in out.splitlines() if f"slot {slot}:" in x)
    lag = int(line.split(": ", 1)[1].split(" bytes", 1)[0])
    assert lag > 0  # at least this run's end marker is past the confirmed position
    assert line.startswith("ALERT ") is (threshold == 0)
    assert code == (1 if threshold == 0 else 0)
    assert status.main(["--pipeline", "postgres_cdc", "--json"]) == code
    data = json.loads(capsys.readouterr().out)
    assert data["slot_lag"]["lag_bytes"] == lag and data["alert"] is (threshold == 0)
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        ledger = con.execute(
            "SELECT slot_lag_bytes, slot_lag_alert FROM postgres_cdc._sync_runs"
            " WHERE resource = 'postgres_cdc' ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
    assert ledger == (lag, threshold == 0)  # the same figures in the run ledger


def test_drop_slot_removes_slot_and_publication(
    cdc_env: str,
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))
    slot = os.environ["SOURCES__POSTGRES_CDC__SLOT_NAME"]
    assert postgres_cdc_pipeline.main([]) == 0
    capsys.readouterr()

    assert postgres_cdc_pipeline.main(["--drop-slot"]) == 0
    assert capsys.readouterr().out.strip() == f"dropped: slot {slot}, publication sluice_cdc"
    with psycopg2.connect(cdc_env) as con, con.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (slot,))
        assert cur.fetchone() == (0,)
        cur.execute("SELECT count(*) FROM pg_publication WHERE pubname = 'sluice_cdc'")
        assert cur.fetchone() == (0,)
    con.close()
    assert postgres_cdc_pipeline.main(["--drop-slot"]) == 0
    assert "nothing" in capsys.readouterr().out


def test_sandbox_snapshots_then_streams(
    dlt_home: Path, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))
    assert postgres_cdc_pipeline.main(["--sandbox"]) == 0
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        customers = con.execute(
            "SELECT id, email, deleted FROM postgres_cdc.customers ORDER BY id"
        ).fetchall()
        notes = con.execute(
            "SELECT id, note FROM postgres_cdc.orders WHERE note IS NOT NULL"
        ).fetchall()
    assert customers[0] == (1, "ada@new.example", False) and customers[2][2] is True
    assert notes == [(13, "first order")]


def test_changes_during_the_snapshot_are_streamed_once(
    cdc_env: str, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sources.postgres_cdc import replication

    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))
    real = replication.snapshot_rows
    during = [
        "UPDATE customers SET name = 'Ada (during)' WHERE id = 1",
        "INSERT INTO customers VALUES (5, 'Barbara', NULL, NULL)",
        "DELETE FROM orders WHERE id = 12",
    ]

    def snapshot_while_writing(*args: Any, **kwargs: Any) -> Any:
        # committed after the slot's consistent point, while the snapshot is being read
        for index, row in enumerate(real(*args, **kwargs)):
            if index == 0:
                for statement in during:
                    execute(cdc_env, statement)
            yield row

    monkeypatch.setattr(replication, "snapshot_rows", snapshot_while_writing)
    assert postgres_cdc_pipeline.main([]) == 0
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        names = con.execute("SELECT name FROM postgres_cdc.customers ORDER BY id").fetchall()
    assert names == [("Ada",), ("Grace",), ("Linus",)]  # the snapshot's instant

    assert postgres_cdc_pipeline.main([]) == 0
    for table, cols in COLUMNS.items():
        with duckdb.connect(str(duckdb_path), read_only=True) as con:
            loaded = con.execute(
                f"SELECT {cols} FROM postgres_cdc.{table} WHERE NOT deleted ORDER BY id"  # noqa: S608
            ).fetchall()
            lsns = con.execute(
                f"SELECT count(*), count(DISTINCT id) FROM postgres_cdc.{table}"
            ).fetchone()  # noqa: S608, E501
        assert loaded == source_rows(cdc_env, table, cols)
        assert lsns is not None and lsns[0] == lsns[1]
