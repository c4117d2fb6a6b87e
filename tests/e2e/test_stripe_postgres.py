"""End to end: the Stripe pipeline into a real PostgreSQL server through dlt config."""

from __future__ import annotations

from pathlib import Path

import psycopg2
import pytest

from pipelines import stripe as stripe_pipeline
from sandbox.stripe import StripeSandbox
from tests.postgres_server import PostgresServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def pg_ids(server: PostgresServer, table: str) -> list[str]:
    with psycopg2.connect(server.dsn) as con, con.cursor() as cur:
        cur.execute(f"SELECT id FROM stripe.{table}")
        return [r[0] for r in cur.fetchall()]


def test_stripe_loads_and_merges_into_postgres(
    stripe_sandbox: StripeSandbox, postgres_server: PostgresServer, dlt_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_server.dsn)
    resources = "customers,subscriptions,events"

    assert stripe_pipeline.main(["--destination", "postgres", "--resources", resources]) == 0
    customer = stripe_sandbox.store.listable("customers")[0]["id"]
    stripe_sandbox.store.delete("customer", customer)
    assert stripe_pipeline.main(["--destination", "postgres", "--resources", resources]) == 0

    for table in ("subscriptions", "events"):
        loaded = pg_ids(postgres_server, table)
        listed = {o["id"] for o in stripe_sandbox.store.listable(table)}
        assert len(loaded) == len(set(loaded)) and set(loaded) == listed
    with psycopg2.connect(postgres_server.dsn) as con, con.cursor() as cur:
        cur.execute("SELECT deleted FROM stripe.customers WHERE id = %s", (customer,))
        assert cur.fetchall() == [(True,)]


def test_missing_postgres_credentials_name_the_setting(
    stripe_sandbox: StripeSandbox, dlt_home: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)
    monkeypatch.delenv("DESTINATION__POSTGRES__CREDENTIALS", raising=False)

    assert stripe_pipeline.main(["--destination", "postgres", "--resources", "coupons"]) == 1

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DESTINATION__POSTGRES__CREDENTIALS" in err[0]
