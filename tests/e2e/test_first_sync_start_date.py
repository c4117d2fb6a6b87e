"""End to end: ``--start-date`` bounds the first sync of Salesforce and ServiceNow.

Each connector's cursor is a change stamp, so a first sync from a date loads the records
changed on or after it; a second run with the flag goes on from its cursor and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from pipelines import salesforce_pipeline, servicenow_pipeline
from sandbox.salesforce import SalesforceSandbox
from sandbox.servicenow import ServiceNowSandbox
from sources.salesforce.helpers import parse_sf_datetime
from sources.servicenow.records import parse_glide

pytestmark = pytest.mark.e2e


def count(db: Path, table: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def notice(date: str, resource: str) -> str:
    return (
        f"note: --start-date {date} applies only to a first sync: {resource} already have a "
        "cursor and go on from it; add --full-refresh to reload them from that date"
    )


def test_servicenow_first_sync_loads_the_records_changed_since_the_date(
    servicenow_sandbox: ServiceNowSandbox,
    monkeypatch: pytest.MonkeyPatch,
    dlt_home: Path,
    duckdb_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = "SOURCES__SERVICENOW__"
    monkeypatch.setenv(prefix + "BASE_URL", servicenow_sandbox.base_url)
    monkeypatch.setenv(prefix + "CREDENTIALS__AUTH_TYPE", "basic")
    monkeypatch.setenv(prefix + "CREDENTIALS__USERNAME", servicenow_sandbox.username)
    monkeypatch.setenv(prefix + "CREDENTIALS__PASSWORD", servicenow_sandbox.password)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))
    stamps = sorted(
        parse_glide(r["sys_updated_on"]) for r in servicenow_sandbox.store.records("incident")
    )
    start = stamps[len(stamps) // 2]
    date = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    expected = sum(1 for s in stamps if s >= start)

    assert servicenow_pipeline.main(["--resources", "incident", "--start-date", date]) == 0
    assert 0 < count(duckdb_path, "servicenow.incident") == expected < len(stamps)

    capsys.readouterr()
    assert servicenow_pipeline.main(["--resources", "incident", "--start-date", date]) == 0
    assert notice(date, "incident") in capsys.readouterr().err.splitlines()


def test_salesforce_first_sync_loads_the_records_changed_since_the_date(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
    monkeypatch: pytest.MonkeyPatch,
    dlt_home: Path,
    duckdb_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox = salesforce_sandbox_factory(volume=30)
    for key, value in sandbox.jwt_credentials().items():
        monkeypatch.setenv(f"SOURCES__SALESFORCE__CREDENTIALS__{key.upper()}", value)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))
    stamps = sorted(parse_sf_datetime(r["SystemModstamp"]) for r in sandbox.store.live("Account"))
    start = stamps[len(stamps) // 2]
    date = start.isoformat()
    expected = sum(1 for s in stamps if s >= start)

    assert salesforce_pipeline.main(["--resources", "Account", "--start-date", date]) == 0
    assert 0 < count(duckdb_path, "salesforce.account") == expected < len(stamps)

    capsys.readouterr()
    assert salesforce_pipeline.main(["--resources", "Account", "--start-date", date]) == 0
    assert notice(date, "account") in capsys.readouterr().err.splitlines()
