"""End to end into DuckDB: describe-typed decimals, a wide object, Bulk API 2.0 jobs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines import salesforce_pipeline
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.wide import WIDE_OBJECT, wide_values
from tests.e2e.test_salesforce_pipeline import (  # noqa: F401 - point_at is a fixture
    last_run,
    ledger_rows,
    point_at,
    query,
    rows_by_id,
)


@pytest.mark.e2e
def test_decimals_load_at_describe_scale_and_a_value_that_does_not_fit_is_a_dead_letter(
    salesforce_sandbox: SalesforceSandbox,
    point_at: Callable[..., None],  # noqa: F811 - the imported fixture
    duckdb_path: Path,
) -> None:
    point_at(salesforce_sandbox, objects='["Opportunity"]')
    store = salesforce_sandbox.store
    exact, huge = (r["Id"] for r in store.live("Opportunity")[:2])
    store.update("Opportunity", exact, Unit_Price__c=1234.5678, Amount=1234.56)
    store.update("Opportunity", huge, Amount=1e17)

    assert salesforce_pipeline.main([]) == 0

    loaded = rows_by_id(duckdb_path, "opportunity", "unit_price__c, amount")
    assert loaded[exact] == (Decimal("1234.5678"), Decimal("1234.56"))
    assert huge not in loaded and len(loaded) == len(store.live("Opportunity")) - 1
    types = dict(
        query(
            duckdb_path,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'opportunity' AND column_name IN ('amount', 'unit_price__c')",
        )
    )
    assert types == {"amount": "DECIMAL(18,2)", "unit_price__c": "DECIMAL(16,4)"}
    letters = query(duckdb_path, "SELECT record_id, reason FROM salesforce._dead_letters")
    assert [r[0] for r in letters] == [huge] and "decimal(18,2)" in letters[0][1]
    assert last_run(ledger_rows())["opportunity"]["records_dead_lettered"] == 1


@pytest.mark.e2e
def test_a_wide_object_loads_completely_through_split_queries(
    salesforce_sandbox: SalesforceSandbox,
    point_at: Callable[..., None],  # noqa: F811 - the imported fixture
    duckdb_path: Path,
) -> None:
    point_at(salesforce_sandbox, objects=f'["{WIDE_OBJECT}"]')
    store = salesforce_sandbox.store
    made = [store.create(WIDE_OBJECT, Name=f"Wide {n}", **wide_values(n)) for n in range(15)]

    assert salesforce_pipeline.main([]) == 0

    columns = [
        r[0]
        for r in query(
            duckdb_path,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'salesforce' AND table_name = 'wide__c' "
            "AND column_name LIKE 'customer_attribute_field_%'",
        )
    ]
    assert len(columns) == 500
    nulls = " + ".join(f'("{c}" IS NULL)::INT' for c in columns)
    rows = query(duckdb_path, f"SELECT id, {nulls} FROM salesforce.wide__c")  # noqa: S608
    assert sorted(rows) == sorted((m["Id"], 0) for m in made)
    last = query(
        duckdb_path,
        "SELECT customer_attribute_field_500__c FROM salesforce.wide__c "  # noqa: S608
        f"WHERE id = '{made[3]['Id']}'",
    )
    assert last == [(Decimal("300.25"),)]


@pytest.mark.e2e
def test_bulk_jobs_have_no_order_by_and_leave_compound_fields_out(
    salesforce_sandbox: SalesforceSandbox,
    point_at: Callable[..., None],  # noqa: F811 - the imported fixture
    duckdb_path: Path,
) -> None:
    point_at(salesforce_sandbox, objects='["Account", "Contact"]', bulk_threshold="5")

    assert salesforce_pipeline.main([]) == 0

    bulk = salesforce_sandbox.api.bulk
    assert bulk.created == 2 and bulk.ordered == 0
    accounts = rows_by_id(duckdb_path, "account", "billing_city")
    live = {r["Id"]: r["BillingCity"] for r in salesforce_sandbox.store.live("Account")}
    assert {k: v[0] for k, v in accounts.items()} == live


@pytest.mark.e2e
def test_a_failed_bulk_job_falls_back_to_rest_pages_and_says_so_in_one_line(
    salesforce_sandbox: SalesforceSandbox,
    point_at: Callable[..., None],  # noqa: F811 - the imported fixture
    duckdb_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    point_at(salesforce_sandbox, objects='["Contact"]', bulk_threshold="5")
    salesforce_sandbox.api.bulk.end_next = ("Failed", "InvalidBatch : query timed out")

    with caplog.at_level(logging.WARNING, logger="sluice.salesforce"):
        assert salesforce_pipeline.main([]) == 0

    contacts = rows_by_id(duckdb_path, "contact")
    assert set(contacts) == {r["Id"] for r in salesforce_sandbox.store.live("Contact")}
    warned = [r.getMessage() for r in caplog.records if "ended Failed" in r.getMessage()]
    assert len(warned) == 1 and "query timed out" in warned[0] and "REST" in warned[0]
