"""Dagster materialises one asset per Stripe resource against the sandbox, into DuckDB."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def point_at_salesforce(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    for key, value in sandbox.jwt_credentials().items():
        monkeypatch.setenv(f"SOURCES__SALESFORCE__CREDENTIALS__{key.upper()}", value)
    return {r["Id"] for r in sandbox.store.live("Account")}


def point_at_servicenow(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    prefix = "SOURCES__SERVICENOW__"
    monkeypatch.setenv(prefix + "BASE_URL", sandbox.base_url)
    monkeypatch.setenv(prefix + "CREDENTIALS__USERNAME", sandbox.username)
    monkeypatch.setenv(prefix + "CREDENTIALS__PASSWORD", sandbox.password)
    return {r["sys_id"] for r in sandbox.store.records("incident")}


CONNECTOR_CASES = [
    pytest.param(
        "salesforce", "salesforce_sandbox", point_at_salesforce, "account", "id", 5, id="salesforce"
    ),
    pytest.param(
        "servicenow",
        "servicenow_sandbox",
        point_at_servicenow,
        "incident",
        "sys_id",
        4,
        id="servicenow",
    ),
]


@pytest.mark.parametrize(
    ("name", "sandbox_fixture", "point_at", "table", "key", "resources"), CONNECTOR_CASES
)
def test_every_connector_materialises_with_ledger_and_status(
    dlt_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
    name: str,
    sandbox_fixture: str,
    point_at: Callable[[Any, pytest.MonkeyPatch], set[str]],
    table: str,
    key: str,
    resources: int,
) -> None:
    from dagster import DagsterInstance, materialize
    from dagster_dlt import DagsterDltResource

    from orchestration.connectors import CONNECTORS
    from orchestration.dagster_defs import build_assets, build_definitions
    from pipelines import status

    database = tmp_path / f"dagster_{name}.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(database))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    # Definitions load before any setting points at an instance: they must not need one.
    assets = build_assets(next(c for c in CONNECTORS if c.name == name))
    assert len(assets.keys) == resources
    assert build_definitions().get_schedule_def(f"{name}_sync_schedule") is not None
    expected = point_at(request.getfixturevalue(sandbox_fixture), monkeypatch)

    result = materialize(
        [assets], resources={"dlt": DagsterDltResource()}, instance=DagsterInstance.ephemeral()
    )
    assert result.success
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert materialized == set(assets.keys)
    with duckdb.connect(str(database), read_only=True) as con:
        loaded = {r[0] for r in con.execute(f"SELECT {key} FROM {name}.{table}").fetchall()}
        ledger = con.execute(
            f"SELECT resource, run_status, records_loaded FROM {name}._sync_runs "
            "WHERE resource <> '_source'"
        ).fetchall()
    assert loaded == expected and expected
    by_resource = {resource: (status_, rows) for resource, status_, rows in ledger}
    assert len(by_resource) == len(ledger) == resources
    assert {status_ for status_, _ in by_resource.values()} == {"success"}
    assert by_resource[table][1] == len(expected)

    capsys.readouterr()
    assert status.main(["--pipeline", name, "--json"]) == 0
    reported = capsys.readouterr().out
    assert table in reported and "healthy" in reported.lower()


@pytest.mark.parametrize(
    ("name", "missing"),
    [
        pytest.param("stripe", "SOURCES__STRIPE__API_KEY", id="stripe"),
        pytest.param("salesforce", "credentials", id="salesforce"),
        pytest.param("servicenow", "base_url", id="servicenow"),
    ],
)
def test_a_run_without_settings_fails_in_one_line(
    dlt_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    missing: str,
) -> None:
    from dagster import DagsterInstance, materialize
    from dagster_dlt import DagsterDltResource

    from orchestration.connectors import CONNECTORS
    from orchestration.dagster_defs import build_assets

    monkeypatch.chdir(tmp_path)  # no .dlt/secrets.toml of the project
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "none.duckdb"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    assets = build_assets(next(c for c in CONNECTORS if c.name == name))
    result = materialize(
        [assets],
        resources={"dlt": DagsterDltResource()},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert not result.success
    failures = [event for event in result.all_events if event.is_step_failure]
    assert len(failures) == 1
    error = failures[0].step_failure_data.error
    assert error is not None
    assert error.cls_name == "Failure" and error.cause is None and error.context is None
    assert missing in error.message and "\n" not in error.message.strip()
    assert error.message.startswith(f"dagster._core.definitions.events.Failure: {name}: ")
