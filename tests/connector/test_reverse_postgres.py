"""Postgres as the warehouse: source table, state table and dead letters through dlt's client."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import dlt
import psycopg2
import pytest

from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.schema import EXTERNAL_ID_FIELD
from sources.kit.reverse.engine import run_sync
from sources.salesforce.reverse import SalesforceTarget
from tests.connector.test_reverse_salesforce import by_code, client_for, sync_spec

DATASET = "analytics"


def execute(dsn: str, sql: str, rows: Sequence[tuple[Any, ...]] = ()) -> None:
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        if rows:
            cur.executemany(sql, rows)
        else:
            cur.execute(sql)


@pytest.mark.postgres
def test_postgres_warehouse_mirror_sync(
    postgres_dsn: str,
    tmp_path: Path,
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
) -> None:
    sandbox = salesforce_sandbox_factory()
    execute(postgres_dsn, f"CREATE SCHEMA {DATASET}")
    execute(
        postgres_dsn,
        f"CREATE TABLE {DATASET}.accounts (code TEXT, name TEXT, employees INTEGER)",
    )
    execute(
        postgres_dsn,
        f"INSERT INTO {DATASET}.accounts VALUES (%s, %s, %s)",
        [(f"ACC-{i:04d}", f"Account {i}", i) for i in range(40)],
    )
    pipeline = dlt.pipeline(
        pipeline_name="reverse_pg_test",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.postgres(postgres_dsn),
        dataset_name=DATASET,
    )
    spec = sync_spec(mode="mirror")

    first = run_sync(spec, pipeline, SalesforceTarget(client_for(sandbox)))
    execute(postgres_dsn, f"UPDATE {DATASET}.accounts SET employees = 0 WHERE employees < 3")
    execute(postgres_dsn, f"DELETE FROM {DATASET}.accounts WHERE code = 'ACC-0039'")
    second = run_sync(spec, pipeline, SalesforceTarget(client_for(sandbox)))

    assert first.sent["create"] == 40
    assert (second.sent["update"], second.sent["delete"]) == (2, 1)  # ACC-0000 is already 0
    records = by_code(sandbox)
    assert set(records) == {f"ACC-{i:04d}" for i in range(39)}
    assert records["ACC-0002"]["NumberOfEmployees"] == 0
    assert records["ACC-0002"][EXTERNAL_ID_FIELD] == "ACC-0002"
    with pipeline.sql_client() as client:
        state = client.execute_sql("SELECT count(*) FROM _reverse_sync_state") or []
        ledger = client.execute_sql("SELECT count(*) FROM _sync_runs") or []
    assert (state[0][0], ledger[0][0]) == (39, 2)
