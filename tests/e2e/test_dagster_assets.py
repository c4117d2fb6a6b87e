"""Dagster materialises one asset per Stripe resource against the sandbox, into DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from sandbox.stripe import StripeSandbox

pytestmark = pytest.mark.e2e


def test_assets_materialise_every_resource_into_duckdb(
    dlt_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stripe_sandbox: StripeSandbox,
) -> None:
    from dagster import DagsterInstance, materialize
    from dagster_dlt import DagsterDltResource

    from orchestration.dagster_defs import build_definitions, build_stripe_assets
    from sources.stripe import RESOURCE_NAMES

    database = tmp_path / "dagster_stripe.duckdb"
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(database))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))

    assets = build_stripe_assets()
    keys = {key.path[-1] for key in assets.keys}
    assert len(assets.keys) == len(RESOURCE_NAMES) == 17
    assert all(any(name in key for key in keys) for name in RESOURCE_NAMES)
    assert build_definitions().get_schedule_def("stripe_sync_schedule") is not None

    result = materialize(
        [assets], resources={"dlt": DagsterDltResource()}, instance=DagsterInstance.ephemeral()
    )
    assert result.success
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert materialized == set(assets.keys)

    store = stripe_sandbox.store
    with duckdb.connect(str(database), read_only=True) as con:
        for table in ("customers", "charges", "invoices"):
            loaded = {r[0] for r in con.execute(f"SELECT id FROM stripe.{table}").fetchall()}
            assert loaded == {obj["id"] for obj in store.listable(table)}, table
        ledger = con.execute(
            "SELECT resource, run_status, records_loaded FROM stripe._sync_runs"
        ).fetchall()
    # Dagster calls pipeline.run itself: the ledger comes from dlt's trace.
    by_resource = {resource: (status, rows) for resource, status, rows in ledger}
    assert set(RESOURCE_NAMES) <= set(by_resource)
    assert {status for status, _ in by_resource.values()} == {"success"}
    assert by_resource["customers"][1] == len(store.listable("customers"))
