"""A lake on files: dlt's filesystem destination, as Parquet files and as Delta tables.

``pipelines/stripe.py --destination filesystem`` writes into a local folder; DuckDB reads
the result back. Delta tables merge (dlt's ``upsert``); plain Parquet files cannot be
merged by dlt, so a second run appends the changed objects and readers take the newest
row per id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from deltalake import DeltaTable

from pipelines import stripe as stripe_pipeline
from sandbox.stripe import StripeSandbox

pytestmark = pytest.mark.e2e


def read_table(lake: Path, table: str, table_format: str) -> duckdb.DuckDBPyRelation:
    con = duckdb.connect()
    folder = lake / "stripe" / table
    if table_format == "delta":
        con.register("t", DeltaTable(str(folder)).to_pyarrow_table())
    else:
        con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet('{folder}/*.parquet')")
    return con.sql("SELECT * FROM t")


def rows(relation: duckdb.DuckDBPyRelation, sql: str) -> list[tuple[Any, ...]]:
    return relation.query("t_rel", sql).fetchall()


@pytest.fixture
def lake(
    tmp_path: Path, dlt_home: Path, monkeypatch: pytest.MonkeyPatch, stripe_sandbox: StripeSandbox
) -> Path:
    folder = tmp_path / "lake"
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", str(folder))
    monkeypatch.chdir(tmp_path)
    return folder


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_full_then_incremental_sync_into_files(
    lake: Path, stripe_sandbox: StripeSandbox, table_format: str
) -> None:
    args = ["--destination", "filesystem", "--resources", "customers,charges,invoices"]
    if table_format == "delta":
        args += ["--table-format", "delta"]
    assert stripe_pipeline.main(args) == 0

    store = stripe_sandbox.store
    customers = store.listable("customers")
    first = read_table(lake, "customers", table_format)
    assert sorted(r[0] for r in rows(first, "SELECT id FROM t_rel")) == sorted(
        c["id"] for c in customers
    )
    charges = read_table(lake, "charges", table_format)
    assert rows(charges, "SELECT count(*), count(DISTINCT id) FROM t_rel")[0] == (
        len(store.listable("charges")),
        len(store.listable("charges")),
    )
    assert (lake / "stripe" / "invoices").is_dir()

    changed, gone = customers[0]["id"], customers[1]["id"]
    store.update("customer", changed, email="lake@example.com")
    store.delete("customer", gone)
    assert stripe_pipeline.main(args) == 0

    second = read_table(lake, "customers", table_format)
    newest = """
        SELECT id, email, deleted FROM t_rel
        QUALIFY row_number() OVER (PARTITION BY id ORDER BY _dlt_load_id DESC) = 1
    """
    latest = {r[0]: (r[1], r[2]) for r in rows(second, newest)}
    assert latest[changed] == ("lake@example.com", False)
    assert latest[gone][1] is True
    assert len(latest) == len(customers)
    total = rows(second, "SELECT count(*) FROM t_rel")[0][0]
    if table_format == "delta":
        assert total == len(customers)  # merged in place: one row per customer
    else:
        assert total > len(customers)  # appended: dlt cannot merge plain Parquet files
