"""Reverse ETL into the Salesforce sandbox: upsert, diff, mirror, rejections, bulk ingest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.schema import EXTERNAL_ID_FIELD, SYNC_TOKEN_FIELD
from sources.kit.http import HttpSettings
from sources.kit.reverse.engine import run_sync
from sources.kit.reverse.spec import SyncSpec, SyncSpecError, parse_sync
from sources.salesforce.budget import ApiBudgetExceededError
from sources.salesforce.client import ClientOptions, SalesforceClient, connect
from sources.salesforce.reverse import SalesforceTarget
from tests.connector.test_salesforce_connector_http import Sleeps, credentials

DATASET = "analytics"
ROWS = 1000


def sync_spec(**overrides: Any) -> SyncSpec:
    doc: dict[str, Any] = {
        "name": "accounts_to_salesforce",
        "mode": "upsert",
        "source": {"table": "accounts", "dataset": DATASET},
        "target": {"connector": "salesforce", "object": "Account", "token_field": SYNC_TOKEN_FIELD},
        "key": {"column": "code", "field": EXTERNAL_ID_FIELD},
        "fields": [
            {"source": "name", "target": "Name", "transform": "trim"},
            {"source": "employees", "target": "NumberOfEmployees"},
        ],
        **overrides,
    }
    return parse_sync(doc)


def make_warehouse(tmp_path: Path, rows: list[tuple[str, str, int]]) -> dlt.Pipeline:
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {DATASET}")
        con.execute(
            f"CREATE OR REPLACE TABLE {DATASET}.accounts "
            "(code VARCHAR, name VARCHAR, employees INTEGER)"
        )
        con.executemany(f"INSERT INTO {DATASET}.accounts VALUES (?, ?, ?)", rows)
    return dlt.pipeline(
        pipeline_name="reverse_sf_test",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(path)),
        dataset_name=DATASET,
    )


def client_for(sandbox: SalesforceSandbox) -> SalesforceClient:
    options = ClientOptions(
        rate_limit=10_000,
        settings=HttpSettings(max_attempts=3, backoff_base=0.001, backoff_cap=0.002),
    )
    return connect(credentials(sandbox.jwt_credentials()), options, sleep=Sleeps())


def by_code(sandbox: SalesforceSandbox) -> dict[str, dict[str, Any]]:
    return {
        str(r[EXTERNAL_ID_FIELD]): r
        for r in sandbox.store.live("Account")
        if r.get(EXTERNAL_ID_FIELD)
    }


@pytest.fixture
def sandbox(salesforce_sandbox_factory: Callable[..., SalesforceSandbox]) -> SalesforceSandbox:
    return salesforce_sandbox_factory()


def source_rows(count: int = ROWS) -> list[tuple[str, str, int]]:
    return [(f"ACC-{i:04d}", f" Account {i} ", i) for i in range(count)]


def execute(pipeline: dlt.Pipeline, sql: str) -> Any:
    with pipeline.sql_client() as client:
        return client.execute_sql(sql)


def test_upsert_of_1000_rows_creates_and_updates_exactly_the_right_records(
    sandbox: SalesforceSandbox, tmp_path: Path
) -> None:
    seeded = sorted(r["Id"] for r in sandbox.store.live("Account"))[:5]
    for i, rid in enumerate(seeded):  # 5 existing records already carry a code
        sandbox.store.update("Account", rid, **{EXTERNAL_ID_FIELD: f"ACC-{i:04d}"})
    before = len(sandbox.store.live("Account"))
    pipeline = make_warehouse(tmp_path, source_rows())

    first = run_sync(sync_spec(), pipeline, SalesforceTarget(client_for(sandbox)))

    records = by_code(sandbox)
    assert (first.sent["create"], first.rejected, first.batches) == (ROWS, 0, 5)
    assert len(sandbox.store.live("Account")) == before + ROWS - 5
    assert [records[f"ACC-{i:04d}"]["Id"] for i in range(5)] == seeded
    assert records["ACC-0999"]["Name"] == "Account 999"
    assert records["ACC-0999"]["NumberOfEmployees"] == 999
    assert len(records["ACC-0999"][SYNC_TOKEN_FIELD]) == 16

    execute(pipeline, "UPDATE accounts SET employees = employees + 1 WHERE employees < 10")
    client = client_for(sandbox)
    second = run_sync(sync_spec(), pipeline, SalesforceTarget(client))
    third = run_sync(sync_spec(), pipeline, SalesforceTarget(client_for(sandbox)))

    assert (second.sent["update"], second.sent["create"], second.plan.unchanged) == (10, 0, 990)
    assert client.session.stats_by_label()["Account"]["requests"] == 1
    assert by_code(sandbox)["ACC-0003"]["NumberOfEmployees"] == 4
    assert sum(third.sent.values()) == 0 and third.batches == 0


def test_mirror_deletes_the_records_whose_rows_vanished(
    sandbox: SalesforceSandbox, tmp_path: Path
) -> None:
    pipeline = make_warehouse(tmp_path, source_rows(30))
    run_sync(sync_spec(mode="mirror"), pipeline, SalesforceTarget(client_for(sandbox)))
    execute(pipeline, "DELETE FROM accounts WHERE code IN ('ACC-0001', 'ACC-0002')")

    result = run_sync(sync_spec(mode="mirror"), pipeline, SalesforceTarget(client_for(sandbox)))

    assert result.sent["delete"] == 2
    assert set(by_code(sandbox)) == {f"ACC-{i:04d}" for i in range(30)} - {"ACC-0001", "ACC-0002"}
    state = execute(pipeline, "SELECT count(*) FROM _reverse_sync_state")
    assert state[0][0] == 28


def test_rejected_rows_land_in_dead_letters_while_the_rest_commit(
    sandbox: SalesforceSandbox, tmp_path: Path
) -> None:
    sandbox.validation_rules.add(
        "Account",
        "Employees_Below_Limit",
        lambda r: (r.get("NumberOfEmployees") or 0) >= 45,
        "Too many employees",
        field="NumberOfEmployees",
    )
    pipeline = make_warehouse(tmp_path, source_rows(50))

    result = run_sync(sync_spec(), pipeline, SalesforceTarget(client_for(sandbox)))

    assert (result.sent["create"], result.rejected) == (45, 5)
    dead = execute(pipeline, "SELECT record_id, reason, raw_payload FROM _dead_letters")
    assert sorted(d[0] for d in dead) == [f"ACC-{i:04d}" for i in range(45, 50)]
    assert all("Too many employees" in d[1] for d in dead)
    assert '"NumberOfEmployees":47' in next(d[2] for d in dead if d[0] == "ACC-0047")
    assert execute(pipeline, "SELECT count(*) FROM _reverse_sync_state")[0][0] == 45
    ledger = execute(
        pipeline, "SELECT source, records_loaded, records_dead_lettered FROM _sync_runs"
    )
    assert ("sync:accounts_to_salesforce", 45, 5) in [tuple(r) for r in ledger]
    # once the rule is gone, the next run sends only the five rejected rows
    sandbox.validation_rules.remove("Employees_Below_Limit")
    again = run_sync(sync_spec(), pipeline, SalesforceTarget(client_for(sandbox)))
    assert (again.sent["create"], again.rejected) == (5, 0)


def test_above_the_threshold_rows_go_through_a_bulk_ingest_job(
    sandbox: SalesforceSandbox, tmp_path: Path
) -> None:
    sandbox.validation_rules.add(
        "Account", "No_Seven", lambda r: r.get("NumberOfEmployees") == 7, "No seven"
    )
    pipeline = make_warehouse(tmp_path, source_rows(300))
    spec = sync_spec(options={"bulk_threshold": 250})
    client = client_for(sandbox)

    result = run_sync(spec, pipeline, SalesforceTarget(client, poll_interval_s=0.0))

    assert (result.sent["create"], result.rejected, result.batches) == (299, 1, 1)
    assert len(by_code(sandbox)) == 299
    assert sandbox.api.ingest.created == 1
    dead = execute(pipeline, "SELECT record_id, reason FROM _dead_letters")
    assert [(d[0], "No seven" in d[1]) for d in dead] == [("ACC-0007", True)]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mode": "update"}, "key.field"),
        ({"mode": "upsert", "key": {"column": "code", "field": "Id"}}, "external id"),
    ],
    ids=["update-needs-id", "upsert-needs-external-id"],
)
def test_salesforce_refuses_unsupported_syncs(
    sandbox: SalesforceSandbox, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(SyncSpecError, match=message):
        SalesforceTarget(client_for(sandbox)).check(sync_spec(**overrides))


def test_a_failed_ingest_job_defers_its_rows_to_the_next_run(
    sandbox: SalesforceSandbox, tmp_path: Path
) -> None:
    pipeline = make_warehouse(tmp_path, source_rows(260))
    spec = sync_spec(options={"bulk_threshold": 250})
    sandbox.api.ingest.end_next = ("Failed", "InvalidBatch : simulated")

    failed = run_sync(spec, pipeline, SalesforceTarget(client_for(sandbox), poll_interval_s=0.0))
    again = run_sync(spec, pipeline, SalesforceTarget(client_for(sandbox), poll_interval_s=0.0))

    assert (failed.sent["create"], failed.rejected, failed.deferred) == (0, 0, 260)
    assert execute(pipeline, "SELECT count(*) FROM _reverse_sync_state")[0][0] == 260
    assert again.sent["create"] == 260 and len(by_code(sandbox)) == 260


def test_the_daily_api_budget_guard_stops_the_sync_and_keeps_earlier_batches(
    sandbox: SalesforceSandbox, tmp_path: Path
) -> None:
    pipeline = make_warehouse(tmp_path, source_rows(400))
    client = client_for(sandbox)
    sandbox.set_api_usage(78, 100)  # the second batch's answer reports 80%: the guard's share

    with pytest.raises(ApiBudgetExceededError, match="max_api_usage_share"):
        run_sync(sync_spec(), pipeline, SalesforceTarget(client))

    state = execute(pipeline, "SELECT count(*) FROM _reverse_sync_state")
    ledger = execute(pipeline, "SELECT status, error_summary FROM _sync_runs")
    assert state[0][0] == 200  # the first batch stays committed, the second raised
    assert ledger[0][0] == "failed" and "API budget" in ledger[0][1]
