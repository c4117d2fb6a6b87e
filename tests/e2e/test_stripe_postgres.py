"""End to end: the Stripe pipeline into a real PostgreSQL server through dlt config."""

from __future__ import annotations

from pathlib import Path

import duckdb
import psycopg2
import pytest

from pipelines import stripe_pipeline
from sandbox.stripe import StripeSandbox
from tests.stripe_compare import COMPARE_SQL, rows_by_id

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def pg_ids(dsn: str, table: str) -> list[str]:
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(f"SELECT id FROM stripe.{table}")
        return [r[0] for r in cur.fetchall()]


def test_stripe_loads_and_merges_into_postgres(
    stripe_sandbox: StripeSandbox,
    postgres_dsn: str,
    dlt_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    resources = "customers,subscriptions,events"

    assert stripe_pipeline.main(["--destination", "postgres", "--resources", resources]) == 0
    customer = stripe_sandbox.store.listable("customers")[0]["id"]
    stripe_sandbox.store.delete("customer", customer)
    assert stripe_pipeline.main(["--destination", "postgres", "--resources", resources]) == 0

    for table in ("subscriptions", "events"):
        loaded = pg_ids(postgres_dsn, table)
        listed = {o["id"] for o in stripe_sandbox.store.listable(table)}
        assert len(loaded) == len(set(loaded)) and set(loaded) == listed
    with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
        cur.execute("SELECT deleted FROM stripe.customers WHERE id = %s", (customer,))
        assert cur.fetchall() == [(True,)]


def test_missing_postgres_credentials_name_the_setting(
    stripe_sandbox: StripeSandbox,
    dlt_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)
    monkeypatch.delenv("DESTINATION__POSTGRES__CREDENTIALS", raising=False)

    assert stripe_pipeline.main(["--destination", "postgres", "--resources", "coupons"]) == 1

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DESTINATION__POSTGRES__CREDENTIALS" in err[0]


def test_postgres_gets_the_same_rows_as_duckdb_through_full_incremental_and_dead_letters(
    stripe_sandbox: StripeSandbox,
    postgres_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    duck = tmp_path / "compare_data.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duck))
    resources = ["--resources", "customers,subscriptions,charges,events"]

    def run_both() -> None:
        for destination in ("duckdb", "postgres"):
            monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / f"dlt_{destination}"))
            assert stripe_pipeline.main(["--destination", destination, *resources]) == 0

    run_both()  # full sync
    store = stripe_sandbox.store
    customers = store.listable("customers")
    store.update("customer", customers[0]["id"], name="Renamed Everywhere")
    store.delete("customer", customers[1]["id"])
    subscription = next(s for s in store.listable("subscriptions") if s["status"] != "canceled")
    store.delete("subscription", subscription["id"])
    run_both()  # incremental: updates and deletes from events
    broken = store.listable("charges")[0]["id"]
    store.update("charge", broken, amount="12.3x")  # a type the table cannot take
    run_both()  # the broken change goes to dead letters on both, the rest merges

    with duckdb.connect(str(duck), read_only=True) as con:
        duck_rows = {t: rows_by_id(con.execute(q).fetchall()) for t, q in COMPARE_SQL.items()}
        duck_dead = con.execute("SELECT record_id FROM stripe._dead_letters").fetchall()
    with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
        pg_rows = {}
        for table, sql in COMPARE_SQL.items():
            cur.execute(sql)
            pg_rows[table] = rows_by_id(cur.fetchall())
        cur.execute("SELECT record_id FROM stripe._dead_letters")
        pg_dead = cur.fetchall()

    assert pg_rows == duck_rows
    assert duck_rows["customers"][customers[0]["id"]][0] == "Renamed Everywhere"
    assert duck_rows["customers"][customers[1]["id"]][2] is True
    assert duck_rows["subscriptions"][subscription["id"]][0] == "canceled"
    assert pg_dead == duck_dead == [(broken,)]


def test_postgres_loads_without_parquet_fallback_warnings(
    stripe_sandbox: StripeSandbox,
    postgres_dsn: str,
    dlt_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)

    assert stripe_pipeline.main(["--destination", "postgres", "--resources", "coupons"]) == 0

    assert "parquet file format was requested" not in caplog.text
    assert pg_ids(postgres_dsn, "coupons")
