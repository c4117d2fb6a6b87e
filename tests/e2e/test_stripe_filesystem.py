"""A lake on files: dlt's filesystem destination, as plain Parquet files and as Delta tables.

``pipelines/stripe_pipeline.py --destination filesystem`` writes into a local folder
(``DESTINATION__FILESYSTEM__BUCKET_URL``); DuckDB reads it back: ``read_parquet`` for
plain files, and Delta tables through ``deltalake`` as Arrow (DuckDB's ``delta``
extension is downloaded on first use, which an offline machine cannot do).

What dlt 1.31 does with the Stripe source's ``merge`` tables:

- Delta tables merge (the source asks for dlt's ``upsert``): one row per id, nested
  rows replaced with their root, deletes kept as ``deleted = true``.
- Plain Parquet files cannot be merged: dlt logs "Falling back to `append`" and appends
  every changed object, so a reader takes the newest row per id by ``_dlt_load_id``
  and the nested rows of that row (by ``_dlt_parent_id``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from deltalake import DeltaTable

from pipelines import stripe_pipeline
from sandbox.stripe import StripeSandbox
from sources.stripe import RESOURCE_NAMES
from tests.stripe_compare import COMPARE_SQL, listed_ids, rows_by_id

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
FORMATS = ["parquet", "delta"]
NEWEST_PER_ID = "QUALIFY row_number() OVER (PARTITION BY id ORDER BY _dlt_load_id DESC) = 1"
LOCALES_SQL = """
    SELECT c.id, l.value FROM stripe.customers c
    JOIN stripe.customers__preferred_locales l ON l._dlt_parent_id = c._dlt_id
    ORDER BY c.id, l._dlt_list_idx
"""


def open_lake(folder: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB over the lake's dataset: ``raw.<table>`` as written, ``stripe.<table>`` as read.

    ``stripe.<table>`` keeps the newest row per id for tables with an ``id`` (a no-op on
    merged Delta tables; the reader's deduplication on appended Parquet files).
    """
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA stripe")
    for table_dir in sorted(p for p in (folder / "stripe").iterdir() if p.is_dir()):
        name = table_dir.name
        if (table_dir / "_delta_log").is_dir():
            con.register(f"arrow_{name}", DeltaTable(str(table_dir)).to_pyarrow_table())
            con.execute(f'CREATE VIEW raw."{name}" AS SELECT * FROM "arrow_{name}"')
        elif any(table_dir.glob("*.parquet")):
            files = f"{table_dir}/*.parquet"
            con.execute(
                f'CREATE VIEW raw."{name}" AS '
                f"SELECT * FROM read_parquet('{files}', union_by_name = true)"
            )
        else:
            continue  # dlt's own jsonl tables
        columns = {r[0] for r in con.execute(f'DESCRIBE raw."{name}"').fetchall()}
        newest = NEWEST_PER_ID if {"id", "_dlt_load_id"} <= columns else ""
        con.execute(f'CREATE VIEW stripe."{name}" AS SELECT * FROM raw."{name}" {newest}')
    return con


def tables_in(con: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = ?"
    return {r[0] for r in con.execute(sql, [schema]).fetchall()}


def nested_tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return sorted(t for t in tables_in(con, schema) if "__" in t and t[0] != "_")


def nested_rows(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, int]:
    """Rows of every nested table that belong to a current root row (joined by parent)."""
    counts = {}
    for child in nested_tables(con, schema):
        root = child.split("__")[0]
        counts[child] = con.execute(
            f'SELECT count(*) FROM {schema}."{child}" c '  # noqa: S608
            f'JOIN {schema}."{root}" r ON c._dlt_parent_id = r._dlt_id'
        ).fetchone()[0]
    return counts


def all_nested_rows(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows of every nested table as written, current root or not."""
    tables = nested_tables(con, "raw")
    return {t: con.execute(f'SELECT count(*) FROM raw."{t}"').fetchone()[0] for t in tables}


@pytest.fixture
def lake(
    tmp_path: Path, dlt_home: Path, monkeypatch: pytest.MonkeyPatch, stripe_sandbox: StripeSandbox
) -> Path:
    """The sandbox as source, a local lake folder and a reference DuckDB file as targets."""
    folder = tmp_path / "lake"
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", str(folder))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "reference.duckdb"))
    monkeypatch.chdir(tmp_path)
    return folder


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Runs pipelines/stripe_pipeline.py into one destination, each with its own dlt working dir."""

    def _load(destination: str, *args: str) -> None:
        monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / f"dlt_{destination}"))
        assert stripe_pipeline.main(["--destination", destination, *args]) == 0

    return _load


def format_args(table_format: str) -> list[str]:
    return ["--table-format", "delta"] if table_format == "delta" else []


@pytest.mark.parametrize("table_format", FORMATS, ids=FORMATS)
def test_full_then_incremental_sync_reads_like_duckdb(
    lake: Path,
    load: Callable[..., None],
    stripe_sandbox: StripeSandbox,
    tmp_path: Path,
    table_format: str,
) -> None:
    def load_both() -> None:
        load("filesystem", *format_args(table_format))
        load("duckdb")

    load_both()  # full sync

    con = open_lake(lake)
    for resource in RESOURCE_NAMES:
        loaded = [r[0] for r in con.execute(f"SELECT id FROM raw.{resource}").fetchall()]
        assert len(loaded) == len(set(loaded)), f"duplicates in {resource}"
        assert set(loaded) == listed_ids(stripe_sandbox, resource), resource
        is_delta = (lake / "stripe" / resource / "_delta_log").is_dir()
        assert is_delta is (table_format == "delta"), resource
    with duckdb.connect(str(tmp_path / "reference.duckdb"), read_only=True) as reference:
        expected_nested = nested_rows(reference, "stripe")
    assert "customers__preferred_locales" in expected_nested
    assert nested_rows(con, "raw") == expected_nested  # same nested tables and rows
    assert all_nested_rows(con) == expected_nested  # none orphaned
    con.close()

    store = stripe_sandbox.store
    customers = store.listable("customers")
    renamed, deleted = customers[0]["id"], customers[1]["id"]
    store.update("customer", renamed, name="Renamed In The Lake", preferred_locales=["fr", "de"])
    store.delete("customer", deleted)
    subscription = next(s for s in store.listable("subscriptions") if s["status"] != "canceled")
    store.delete("subscription", subscription["id"])
    broken = store.listable("charges")[0]["id"]
    store.update("charge", broken, amount="12.3x")  # a type the table cannot take
    load_both()  # incremental: changes from events

    con = open_lake(lake)
    with duckdb.connect(str(tmp_path / "reference.duckdb"), read_only=True) as reference:
        expected = {t: rows_by_id(reference.execute(q).fetchall()) for t, q in COMPARE_SQL.items()}
        expected_locales = reference.execute(LOCALES_SQL).fetchall()
        expected_dead = reference.execute("SELECT record_id FROM stripe._dead_letters").fetchall()
        expected_nested = nested_rows(reference, "stripe")
    got = {t: rows_by_id(con.execute(q).fetchall()) for t, q in COMPARE_SQL.items()}
    assert got == expected
    assert got["customers"][renamed][0] == "Renamed In The Lake"
    assert got["customers"][deleted][2] is True
    assert got["subscriptions"][subscription["id"]][0] == "canceled"
    assert con.execute(LOCALES_SQL).fetchall() == expected_locales
    assert [v for i, v in expected_locales if i == renamed] == ["fr", "de"]
    assert con.execute("SELECT record_id FROM stripe._dead_letters").fetchall() == [(broken,)]
    assert expected_dead == [(broken,)]
    assert nested_rows(con, "stripe") == expected_nested  # nested rows of the current rows

    raw_customers = con.execute("SELECT count(*), count(DISTINCT id) FROM raw.customers")
    total, distinct = raw_customers.fetchone()
    assert distinct == len(customers)
    if table_format == "delta":
        assert total == distinct  # merged in place
        for table in ("subscriptions", "charges"):
            counts = con.execute(f"SELECT count(*), count(DISTINCT id) FROM raw.{table}")
            assert len(set(counts.fetchone())) == 1, table
        assert all_nested_rows(con) == expected_nested  # old nested rows deleted
    else:
        appended = con.execute(
            "SELECT id FROM raw.customers WHERE _dlt_load_id = "
            "(SELECT max(_dlt_load_id) FROM raw.customers)"
        ).fetchall()
        assert sorted(r[0] for r in appended) == sorted([renamed, deleted])
        assert total == len(customers) + 2  # the two changed customers, appended
        stale = con.execute(
            "SELECT count(*) FROM raw.customers__preferred_locales "
            "WHERE _dlt_parent_id NOT IN (SELECT _dlt_id FROM stripe.customers)"
        ).fetchone()[0]
        # the old versions' nested rows stay in their files, joined to no current row
        assert stale == sum(len(c["preferred_locales"]) for c in customers[:2]) > 0
        pipeline = dlt.attach(
            pipeline_name="stripe", pipelines_dir=str(tmp_path / "dlt_filesystem" / "pipelines")
        )
        with pipeline.destination_client() as client:
            assert client.prepare_load_table("customers")["write_disposition"] == "append"


def test_cli_writes_delta_tables_chosen_in_dlt_config(tmp_path: Path) -> None:
    bucket = tmp_path / "lake"
    env = {
        **os.environ,
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DESTINATION__FILESYSTEM__BUCKET_URL": str(bucket),
        "SOURCES__STRIPE__TABLE_FORMAT": "delta",
    }
    env.pop("SOURCES__STRIPE__API_KEY", None)
    result = subprocess.run(
        [
            sys.executable,
            "pipelines/stripe_pipeline.py",
            "--sandbox",
            "--sandbox-volume",
            "5",
            "--destination",
            "filesystem",
            "--resources",
            "customers,charges",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    summary: dict[str, Any] = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("customers", "charges"):
            summary[parts[0]] = int(parts[1])
    # --sandbox: dataset stripe_sandbox, apart from a real account's `stripe`
    delta_rows = {t: DeltaTable(str(bucket / "stripe_sandbox" / t)).count() for t in summary}
    assert summary.keys() == {"customers", "charges"} and summary == delta_rows
    assert all(summary.values())
    assert f"data: filesystem file://{bucket}, dataset stripe_sandbox" in result.stdout


def test_missing_bucket_url_is_one_line_naming_the_key(
    stripe_sandbox: StripeSandbox,
    dlt_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)
    monkeypatch.delenv("DESTINATION__FILESYSTEM__BUCKET_URL", raising=False)

    assert stripe_pipeline.main(["--destination", "filesystem", "--resources", "coupons"]) == 1

    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: filesystem destination configuration missing: set "
        "destination.filesystem.bucket_url in .dlt/config.toml or "
        "DESTINATION__FILESYSTEM__BUCKET_URL"
    ]
