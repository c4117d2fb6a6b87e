"""End to end: Stripe sandbox -> raw `stripe` dataset -> `canonical` dataset in real DuckDB."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pendulum
import pytest

from pipelines import stripe_pipeline
from sandbox.stripe import StripeSandbox
from sources.kit.mapping import currency_exponent


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


ARGS = ["--canonical", "--resources", "customers,charges,subscriptions"]


@pytest.mark.e2e
def test_stripe_loads_into_canonical_models_with_values_from_the_raw_rows(
    pointed: StripeSandbox, duckdb_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = pointed.store
    customer = store.listable("customers")[0]["id"]
    yen = store.create("charge", amount=500, currency="jpy", customer=customer)
    broken = store.create("charge", amount=1999, currency="usd", customer=customer, status=None)

    assert stripe_pipeline.main(ARGS) == 0

    raw = {r["id"]: r for r in store.listable("charges")}
    canonical = {
        r[0]: r[1:]
        for r in query(
            duckdb_path,
            "SELECT source_id, amount, currency, status, created_at, customer_source_id "
            "FROM canonical.canonical_payments",
        )
    }
    assert canonical[yen["id"]][:3] == (Decimal("500"), "JPY", "succeeded")
    assert broken["id"] not in canonical
    assert set(canonical) == set(raw) - {broken["id"]}
    for charge_id, (amount, currency, status, created_at, customer_ref) in canonical.items():
        source = raw[charge_id]
        exponent = 0 if source["currency"] == "jpy" else 2
        assert amount == Decimal(source["amount"]).scaleb(-exponent), charge_id
        assert currency == source["currency"].upper()
        assert status == source["status"]
        assert pendulum.instance(created_at) == pendulum.from_timestamp(source["created"])
        assert customer_ref == source["customer"]
    usd = next(i for i, r in raw.items() if r["currency"] == "usd" and i in canonical)
    assert canonical[usd][0] == Decimal(raw[usd]["amount"]) / 100

    letters = query(
        duckdb_path,
        "SELECT resource, table_name, reason, raw_payload FROM canonical._dead_letters",
    )
    assert len(letters) == 1
    resource, table, reason, payload = letters[0]
    assert (resource, table) == ("stripe_charges", "canonical_payments")
    assert "required field 'status' (source 'status', transform enum) is null" in reason
    assert broken["id"] in payload

    subs = {r["id"]: r for r in store.listable("subscriptions")}
    statuses = dict(
        query(duckdb_path, "SELECT source_id, status FROM canonical.canonical_subscriptions")
    )
    assert statuses == {i: s["status"] for i, s in subs.items()}
    items = {
        r[0]: r[1:]
        for r in query(
            duckdb_path,
            "SELECT source_id, subscription_source_id, unit_amount, billing_interval, quantity "
            "FROM canonical.canonical_subscription_items",
        )
    }
    expected = {
        item["id"]: (
            sub_id,
            Decimal(item["price"]["unit_amount"]).scaleb(
                -currency_exponent(item["price"]["currency"])
            ),
            item["price"]["recurring"]["interval"],
            item["quantity"],
        )
        for sub_id, sub in subs.items()
        for item in sub["items"]["data"]
    }
    assert items == expected  # every item of every subscription, not only the first

    out = capsys.readouterr().out
    assert "canonical_payments" in out and "crosswalk:" in out


def crosswalk_ids(db: Path) -> dict[str, str]:
    return dict(query(db, "SELECT external_id, canonical_id FROM canonical.crosswalk"))


def customer_ids(db: Path) -> dict[str, str]:
    return dict(query(db, "SELECT source_id, customer_id FROM canonical.canonical_customers"))


@pytest.mark.e2e
def test_canonical_ids_are_stable_across_runs(pointed: StripeSandbox, duckdb_path: Path) -> None:
    assert stripe_pipeline.main(ARGS) == 0
    first = crosswalk_ids(duckdb_path)
    customers = [c for c in pointed.store.listable("customers") if c.get("email")]
    assert set(first) == {c["id"] for c in pointed.store.listable("customers")}
    assert customer_ids(duckdb_path) == first
    payments = query(
        duckdb_path,
        "SELECT customer_source_id, customer_id FROM canonical.canonical_payments "
        "WHERE customer_source_id IS NOT NULL",
    )
    # Charges of customers deleted before the listing reference no listed customer.
    assert payments and all(first.get(ref) == cid for ref, cid in payments)
    assert any(ref in first for ref, _ in payments)

    changed = customers[0]["id"]
    pointed.store.update("customer", changed, email="someone.else@example.org")
    assert stripe_pipeline.main(ARGS) == 0
    assert crosswalk_ids(duckdb_path) == first
    assert customer_ids(duckdb_path)[changed] == first[changed]

    assert stripe_pipeline.main([*ARGS, "--full-refresh"]) == 0
    assert crosswalk_ids(duckdb_path) == first
    assert customer_ids(duckdb_path) == first
