"""End to end: Stripe, Salesforce and ServiceNow into one warehouse, one canonical dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import salesforce_pipeline, servicenow_pipeline, stripe_pipeline
from sandbox.salesforce import SalesforceSandbox
from sandbox.servicenow import ServiceNowSandbox
from sandbox.stripe import StripeSandbox

pytestmark = pytest.mark.e2e


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def point_all(
    monkeypatch: pytest.MonkeyPatch,
    stripe: StripeSandbox,
    salesforce: SalesforceSandbox,
    servicenow: ServiceNowSandbox,
    warehouse: Path,
) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(warehouse))
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe.api_key)
    for key, value in salesforce.jwt_credentials().items():
        monkeypatch.setenv(f"SOURCES__SALESFORCE__CREDENTIALS__{key.upper()}", value)
    prefix = "SOURCES__SERVICENOW__"
    monkeypatch.setenv(prefix + "BASE_URL", servicenow.base_url)
    monkeypatch.setenv(prefix + "CREDENTIALS__AUTH_TYPE", "basic")
    monkeypatch.setenv(prefix + "CREDENTIALS__USERNAME", servicenow.username)
    monkeypatch.setenv(prefix + "CREDENTIALS__PASSWORD", servicenow.password)


def run_all() -> None:
    assert (
        stripe_pipeline.main(["--resources", "customers,charges,subscriptions", "--canonical"]) == 0
    )
    assert salesforce_pipeline.main(["--canonical"]) == 0
    assert servicenow_pipeline.main(["--canonical"]) == 0


def test_canonical_customers_hold_every_system_with_stable_crosswalk_ids(
    stripe_sandbox: StripeSandbox,
    salesforce_sandbox: SalesforceSandbox,
    servicenow_sandbox: ServiceNowSandbox,
    dlt_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    point_all(monkeypatch, stripe_sandbox, salesforce_sandbox, servicenow_sandbox, warehouse)

    run_all()
    first = query(warehouse, "SELECT system, external_id, canonical_id FROM canonical.crosswalk")
    run_all()
    second = query(warehouse, "SELECT system, external_id, canonical_id FROM canonical.crosswalk")

    systems = {
        r[0] for r in query(warehouse, "SELECT source_system FROM canonical.canonical_customers")
    }
    assert systems == {"stripe", "salesforce", "servicenow"}
    assert {r[0] for r in first} == systems
    assert sorted(first) == sorted(second)  # the same canonical ids on the second run
    customers = query(
        warehouse,
        "SELECT source_system, COUNT(*) FROM canonical.canonical_customers GROUP BY 1",
    )
    crosswalk = query(warehouse, "SELECT system, COUNT(*) FROM canonical.crosswalk GROUP BY 1")
    assert dict(customers) == dict(crosswalk)


def test_enabling_canonical_after_plain_runs_maps_every_system_already_loaded(
    stripe_sandbox: StripeSandbox,
    salesforce_sandbox: SalesforceSandbox,
    servicenow_sandbox: ServiceNowSandbox,
    dlt_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    point_all(monkeypatch, stripe_sandbox, salesforce_sandbox, servicenow_sandbox, warehouse)
    assert stripe_pipeline.main(["--resources", "customers,charges,subscriptions"]) == 0
    assert salesforce_pipeline.main([]) == 0
    assert servicenow_pipeline.main([]) == 0
    assert not query(
        warehouse, "SELECT 1 FROM information_schema.schemata WHERE schema_name = 'canonical'"
    )

    # enabled later: runs that extract one small table each map everything loaded before
    assert stripe_pipeline.main(["--resources", "customers", "--canonical"]) == 0
    assert salesforce_pipeline.main(["--resources", "User", "--canonical"]) == 0
    assert servicenow_pipeline.main(["--resources", "incident", "--canonical"]) == 0

    def mapped(system: str) -> set[str]:
        return {
            r[0]
            for r in query(
                warehouse,
                "SELECT source_id FROM canonical.canonical_customers "  # noqa: S608
                f"WHERE source_system = '{system}'",
            )
        }

    def loaded(sql: str) -> set[str]:
        return {r[0] for r in query(warehouse, sql)}

    assert mapped("stripe") == loaded("SELECT id FROM stripe.customers")
    assert mapped("salesforce") == loaded(
        "SELECT id FROM salesforce.account UNION SELECT id FROM salesforce.contact"
    )
    assert mapped("servicenow") == loaded("SELECT sys_id FROM servicenow.sys_user")
    assert mapped("salesforce") and mapped("servicenow")
    payments = query(warehouse, "SELECT COUNT(*) FROM canonical.canonical_payments")
    assert payments == query(
        warehouse, "SELECT COUNT(*) FROM stripe.charges WHERE status IS NOT NULL"
    )
    links = query(warehouse, "SELECT system, COUNT(*) FROM canonical.crosswalk GROUP BY 1")
    customers = query(
        warehouse, "SELECT source_system, COUNT(*) FROM canonical.canonical_customers GROUP BY 1"
    )
    assert dict(links) == dict(customers)
