"""End to end: pipelines/salesforce_pipeline.py against the emulator into a real DuckDB file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from pipelines import salesforce_pipeline
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.changes import apply_demo_changes
from sources.kit.ledger import read_ledger
from sources.kit.monitor import FAILED, SOURCE_ROW, SUCCESS

OBJECTS = ("Account", "Contact", "Lead", "Opportunity", "User")


@pytest.fixture
def point_at(
    monkeypatch: pytest.MonkeyPatch, dlt_home: Path, duckdb_path: Path
) -> Callable[..., None]:
    """Points the pipeline at a sandbox through the documented environment variables."""

    def _point(sandbox: SalesforceSandbox, **settings: str) -> None:
        for key, value in sandbox.jwt_credentials().items():
            monkeypatch.setenv(f"SOURCES__SALESFORCE__CREDENTIALS__{key.upper()}", value)
        monkeypatch.setenv("SOURCES__SALESFORCE__BACKOFF_BASE", "0.01")
        monkeypatch.setenv("SOURCES__SALESFORCE__BACKOFF_CAP", "0.02")
        for key, value in settings.items():
            monkeypatch.setenv(f"SOURCES__SALESFORCE__{key.upper()}", value)
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))

    return _point


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def rows_by_id(db: Path, table: str, columns: str = "deleted") -> dict[str, tuple[Any, ...]]:
    return {r[0]: r[1:] for r in query(db, f"SELECT id, {columns} FROM salesforce.{table}")}


def ledger_rows() -> list[dict[str, Any]]:
    return read_ledger(dlt.attach(pipeline_name="salesforce"))


def last_run(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    newest = max(rows, key=lambda r: r["started_at"])["run_id"]
    return {r["resource"]: r for r in rows if r["run_id"] == newest}


@pytest.mark.e2e
def test_first_run_loads_every_record_with_describe_types_and_ledger_rows(
    salesforce_sandbox: SalesforceSandbox,
    point_at: Callable[..., None],
    duckdb_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(salesforce_sandbox)

    assert salesforce_pipeline.main([]) == 0

    for name in OBJECTS:
        loaded = rows_by_id(duckdb_path, name.lower())
        expected = {r["Id"] for r in salesforce_sandbox.store.live(name)}
        assert set(loaded) == expected, name
        assert not any(deleted for (deleted,) in loaded.values())
    types = dict(
        query(
            duckdb_path,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'salesforce' AND table_name = 'opportunity'",
        )
    )
    assert types["amount"].startswith("DECIMAL") and types["close_date"] == "DATE"
    assert types["system_modstamp"].startswith("TIMESTAMP") and types["probability"] == "DOUBLE"
    run = last_run(ledger_rows())
    assert {r["status"] for r in run.values()} == {SUCCESS}
    assert set(run) >= {name.lower() for name in OBJECTS}
    assert run["contact"]["records_loaded"] == len(salesforce_sandbox.store.live("Contact"))
    assert run["contact"]["cursor_after"] is not None
    assert "api-usage:" in capsys.readouterr().out


@pytest.mark.e2e
def test_second_run_merges_updates_and_deletes_with_few_requests(
    salesforce_sandbox: SalesforceSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    point_at(salesforce_sandbox)
    assert salesforce_pipeline.main([]) == 0
    first_queries = salesforce_sandbox.api.requests["query"]
    applied = apply_demo_changes(salesforce_sandbox.store)

    assert salesforce_pipeline.main([]) == 0

    accounts = rows_by_id(duckdb_path, "account", "name, deleted")
    renamed = [i for i in applied.updated if i.startswith("001")]
    assert all(accounts[i][0].endswith("(renamed)") for i in renamed)
    deleted_account = next(i for i in applied.deleted if i.startswith("001"))
    deleted_contact = next(i for i in applied.deleted if i.startswith("003"))
    assert accounts[deleted_account][1] is True
    assert rows_by_id(duckdb_path, "contact")[deleted_contact] == (True,)
    assert applied.created[0] in rows_by_id(duckdb_path, "lead")
    assert len(accounts) == len(salesforce_sandbox.store.rows("Account", include_deleted=True))
    # one COUNT() (bulk or not) and one page of changes per object
    assert salesforce_sandbox.api.requests["query"] - first_queries == 2 * len(OBJECTS)
    run = last_run(ledger_rows())
    cascaded = [i for i in applied.cascaded if i.startswith("003")]  # the account's contacts
    assert cascaded and all(rows_by_id(duckdb_path, "contact")[i] == (True,) for i in cascaded)
    assert run["account"]["records_deleted"] == 1
    assert run["contact"]["records_deleted"] == 1 + len(cascaded)
    assert run["account"]["records_updated"] >= len(renamed)


@pytest.mark.e2e
def test_canonical_customers_include_salesforce_with_crosswalk_rows(
    salesforce_sandbox: SalesforceSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    point_at(salesforce_sandbox)
    assert salesforce_pipeline.main(["--canonical"]) == 0
    applied = apply_demo_changes(salesforce_sandbox.store)
    assert salesforce_pipeline.main(["--canonical"]) == 0

    customers = {
        r[0]: r[1:]
        for r in query(
            duckdb_path,
            "SELECT source_id, email, is_deleted, customer_id FROM canonical.canonical_customers "
            "WHERE source_system = 'salesforce'",
        )
    }
    store = salesforce_sandbox.store
    expected = {r["Id"] for name in ("Account", "Contact") for r in store.rows(name, True)}
    assert set(customers) == expected
    assert all(customer_id for (_, _, customer_id) in customers.values())
    contact = store.live("Contact")[0]
    assert customers[contact["Id"]][0] == contact["Email"].lower()
    assert all(customers[i][1] is True for i in applied.deleted)
    links = query(
        duckdb_path,
        "SELECT COUNT(*), COUNT(DISTINCT external_id) FROM canonical.crosswalk "
        "WHERE system = 'salesforce'",
    )[0]
    assert links == (len(expected), len(expected))


@pytest.mark.e2e
def test_token_expiry_mid_sync_and_a_403_storm_still_load_everything_once(
    salesforce_sandbox: SalesforceSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    point_at(salesforce_sandbox, max_attempts="15")  # a storm longer than the default 8
    salesforce_sandbox.faults.expire_tokens_after = 7
    salesforce_sandbox.faults.throttle_next = 12

    assert salesforce_pipeline.main([]) == 0

    assert salesforce_sandbox.api.statuses[401] >= 1
    assert salesforce_sandbox.api.statuses[403] == 12
    for name in OBJECTS:
        loaded = [r[0] for r in query(duckdb_path, f"SELECT id FROM salesforce.{name.lower()}")]
        assert len(loaded) == len(set(loaded)) == len(salesforce_sandbox.store.live(name))
    run = last_run(ledger_rows())
    assert sum(r["retries"] for k, r in run.items() if k != SOURCE_ROW) >= 12


@pytest.mark.e2e
def test_budget_share_stops_the_run_with_one_line_and_a_failed_ledger_row(
    salesforce_sandbox: SalesforceSandbox,
    point_at: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(salesforce_sandbox, max_api_usage_share="0.5")
    salesforce_sandbox.set_api_usage(47, limit=100)

    assert salesforce_pipeline.main([]) == 1

    err = capsys.readouterr().err
    assert "sources.salesforce.max_api_usage_share" in err and "50 of 100" in err
    assert salesforce_sandbox.api.api_used == 50
    run = last_run(ledger_rows())
    assert {r["status"] for r in run.values()} == {FAILED}
    assert any("max_api_usage_share" in (r["error_summary"] or "") for r in run.values())


@pytest.mark.e2e
def test_a_record_that_does_not_fit_its_described_type_is_dead_lettered(
    salesforce_sandbox: SalesforceSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    point_at(salesforce_sandbox, objects='["Account"]')
    store = salesforce_sandbox.store
    bad = store.create("Account", Name="Broken Corp", NumberOfEmployees="lots")

    assert salesforce_pipeline.main([]) == 0

    letters = query(duckdb_path, "SELECT record_id, reason FROM salesforce._dead_letters")
    assert [r[0] for r in letters] == [bad["Id"]] and "number_of_employees" in letters[0][1]
    loaded = rows_by_id(duckdb_path, "account")
    assert bad["Id"] not in loaded and len(loaded) == len(store.live("Account")) - 1
    assert last_run(ledger_rows())["account"]["records_dead_lettered"] == 1


@pytest.mark.e2e
def test_sandbox_flag_loads_then_merges_the_sandbox_changes(
    dlt_home: Path,
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))
    small = ["--sandbox", "--sandbox-volume", "8", "--canonical"]

    assert salesforce_pipeline.main(small) == 0
    assert salesforce_pipeline.main([*small, "--sandbox-changes"]) == 0

    out = capsys.readouterr().out
    assert "canonical_customers" in out and "crosswalk" in out
    deleted = query(
        duckdb_path,
        "SELECT (SELECT COUNT(*) FROM salesforce.account WHERE deleted), "
        "(SELECT COUNT(*) FROM salesforce.contact WHERE deleted), "
        "(SELECT COUNT(*) FROM salesforce.account WHERE name LIKE '%(renamed)')",
    )[0]
    assert deleted == (1, 3, 2)  # the deleted account's two contacts went with it
    assert query(duckdb_path, "SELECT COUNT(*) FROM salesforce.account")[0][0] == 8


@pytest.mark.e2e
def test_objects_above_the_bulk_threshold_load_through_bulk_api_jobs(
    salesforce_sandbox: SalesforceSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    point_at(salesforce_sandbox, bulk_threshold="15")

    assert salesforce_pipeline.main([]) == 0

    contacts = rows_by_id(duckdb_path, "contact", "email, deleted")
    live = {r["Id"]: r for r in salesforce_sandbox.store.live("Contact")}
    assert set(contacts) == set(live)  # 24 contacts: above the threshold
    some = next(iter(live.values()))
    assert contacts[some["Id"]] == (some["Email"], False)
    assert salesforce_sandbox.api.bulk.created == 1  # accounts, leads... stay under 15
    accounts = query(duckdb_path, "SELECT COUNT(*) FROM salesforce.account")[0][0]
    assert accounts == len(salesforce_sandbox.store.live("Account"))
