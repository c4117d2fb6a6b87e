"""Each setup problem stops the run with one line naming the fix."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from psycopg2.extras import LogicalReplicationConnection

from pipelines import postgres_cdc_pipeline
from sandbox.postgres import start_logical_postgres
from sandbox.postgres.server import SEED_SQL
from tests.postgres_server import PostgresServer

pytestmark = [pytest.mark.postgres]


def execute(dsn: str, statement: str) -> None:
    con = psycopg2.connect(dsn)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(statement)
    con.close()


@pytest.fixture
def source(
    postgres_server: PostgresServer,
    request: pytest.FixtureRequest,
    dlt_home: Path,
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    name = "er_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    dsn = postgres_server.create_database(name)
    execute(dsn, SEED_SQL)
    monkeypatch.setenv("SOURCES__POSTGRES_CDC__CREDENTIALS", dsn)
    monkeypatch.setenv("SOURCES__POSTGRES_CDC__SLOT_NAME", f"s_{name}")
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))
    return dsn


def one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str] | None = None) -> str:
    assert postgres_cdc_pipeline.main(argv or []) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_table_without_primary_key_is_refused_unless_replica_identity_full(
    source: str, capsys: pytest.CaptureFixture[str]
) -> None:
    execute(source, "CREATE TABLE events (id int, what text); INSERT INTO events VALUES (1, 'x')")
    line = one_error_line(capsys, ["--tables", "events"])
    assert "no primary key" in line and "REPLICA IDENTITY FULL" in line

    execute(source, "ALTER TABLE events REPLICA IDENTITY FULL")
    assert postgres_cdc_pipeline.main(["--tables", "events"]) == 0


def test_role_without_replication_names_alter_role(
    source: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    execute(
        source,
        "DO $$ BEGIN CREATE ROLE plain LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    )
    monkeypatch.setenv(
        "SOURCES__POSTGRES_CDC__CREDENTIALS", source.replace("postgres:", "plain:", 1)
    )
    line = one_error_line(capsys)
    assert "ALTER ROLE plain REPLICATION" in line


def test_slot_of_another_plugin_is_not_taken_over(
    source: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    execute(source, "SELECT pg_create_logical_replication_slot('foreign_slot', 'test_decoding')")
    monkeypatch.setenv("SOURCES__POSTGRES_CDC__SLOT_NAME", "foreign_slot")
    try:
        line = one_error_line(capsys)
        assert "belongs to something else" in line and "slot_name" in line
    finally:
        execute(source, "SELECT pg_drop_replication_slot('foreign_slot')")


@pytest.fixture
def consumer(source: str) -> Iterator[Callable[[str], Any]]:
    """Starts another process's stream on a slot (the slot is then active)."""
    opened: list[Any] = []

    def start(slot: str) -> Any:
        con = psycopg2.connect(source, connection_factory=LogicalReplicationConnection)
        cur = con.cursor()
        cur.start_replication(
            slot_name=slot,
            decode=False,
            options={"proto_version": "1", "publication_names": "sluice_cdc"},
        )
        opened.append(con)
        return cur

    yield start
    for con in opened:
        con.close()


def test_slot_in_use_by_another_process(
    source: str,
    consumer: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    assert postgres_cdc_pipeline.main([]) == 0
    slot = "s_er_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    consumer(slot)
    line = one_error_line(capsys)
    assert f"slot {slot} is in use by process" in line and "pg_terminate_backend" in line


def test_lost_slot_asks_for_a_full_refresh(
    source: str, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    assert postgres_cdc_pipeline.main([]) == 0
    slot = "s_er_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    execute(source, f"SELECT pg_drop_replication_slot('{slot}')")
    line = one_error_line(capsys)
    assert "is gone" in line and "--full-refresh" in line
    assert postgres_cdc_pipeline.main(["--full-refresh"]) == 0


def test_wal_level_not_logical_names_alter_system(
    tmp_path: Path,
    dlt_home: Path,
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with start_logical_postgres(tmp_path / "pg", settings=("wal_level=replica",)) as server:
        server.psql(SEED_SQL, database=server.database)
        monkeypatch.setenv("SOURCES__POSTGRES_CDC__CREDENTIALS", server.dsn)
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))
        line = one_error_line(capsys)
    assert "ALTER SYSTEM SET wal_level = logical" in line and "restart" in line


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (None, "set sources.postgres_cdc.credentials (SOURCES__POSTGRES_CDC__CREDENTIALS)"),
        ("postgresql://postgres:s3cret-pw@127.0.0.1:1/x", "cannot connect to the source database"),
    ],
    ids=["missing", "unreachable"],
)
def test_credentials_problems_are_one_line_without_the_password(
    dsn: str | None,
    expected: str,
    dlt_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("SOURCES__POSTGRES_CDC__CREDENTIALS", raising=False)
    if dsn:
        monkeypatch.setenv("SOURCES__POSTGRES_CDC__CREDENTIALS", dsn)
    line = one_error_line(capsys)
    assert expected in line and "s3cret-pw" not in line
