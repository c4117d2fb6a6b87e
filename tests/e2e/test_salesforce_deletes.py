"""End to end into DuckDB: deletes the recycle bin lost, and stale formula fields."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import salesforce_pipeline
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.clock import ManualClock

DAY = 86400.0


@pytest.fixture
def point_at(
    monkeypatch: pytest.MonkeyPatch, dlt_home: Path, duckdb_path: Path, tmp_path: Path
) -> Callable[..., None]:
    """Points the pipeline at a sandbox with the refresh-token flow (no JWT clock skew)."""

    def _point(sandbox: SalesforceSandbox, **settings: str) -> None:
        values = {**sandbox.refresh_credentials(), "token_store_dir": str(tmp_path / "tokens")}
        for key, value in values.items():
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


def loaded(db: Path, table: str, columns: str) -> dict[str, tuple[Any, ...]]:
    return {r[0]: r[1:] for r in query(db, f"SELECT id, {columns} FROM salesforce.{table}")}


def purge(sandbox: SalesforceSandbox, clock: ManualClock, how: str, account_id: str) -> None:
    """Deletes the account (its contacts cascade) so that queryAll no longer shows it."""
    store = sandbox.store
    store.delete("Account", account_id, hard=how == "hard-deleted")
    if how == "emptied-by-user":
        store.empty_recycle_bin("Account", [account_id])
    elif how == "expired-after-15-days":
        clock.advance(16 * DAY)
    elif how == "cursor-older-than-30-days":
        clock.advance(31 * DAY)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "how",
    [
        "emptied-by-user",
        "expired-after-15-days",
        "hard-deleted",
        "objects-without-recycle-bin",
        "cursor-older-than-30-days",
    ],
)
def test_a_delete_purged_before_the_next_run_is_still_marked_deleted_with_its_children(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
    point_at: Callable[..., None],
    duckdb_path: Path,
    how: str,
) -> None:
    clock = ManualClock()
    hard = frozenset({"Account", "Contact"}) if how == "objects-without-recycle-bin" else None
    sandbox = salesforce_sandbox_factory(now=clock, hard_delete_objects=hard or frozenset())
    point_at(sandbox, objects='["Account", "Contact"]')
    assert salesforce_pipeline.main([]) == 0
    account = sandbox.store.live("Account")[0]
    contacts = [c["Id"] for c in sandbox.store.live("Contact") if c["AccountId"] == account["Id"]]

    purge(sandbox, clock, how, account["Id"])
    assert sandbox.store.get("Account", account["Id"]) is None  # not even queryAll sees it
    assert salesforce_pipeline.main([]) == 0

    accounts = loaded(duckdb_path, "account", "deleted, name")
    assert accounts[account["Id"]] == (True, account["Name"])  # the rest of the row kept
    people = loaded(duckdb_path, "contact", "deleted, last_name")
    assert len(contacts) == 2 and all(people[c][0] is True for c in contacts)
    others = [r for i, r in accounts.items() if i != account["Id"]]
    assert len(others) == len(sandbox.store.live("Account")) and not any(r[0] for r in others)
    assert loaded(duckdb_path, "account", "deleted_at")[account["Id"]][0] is not None


@pytest.mark.e2e
def test_a_delete_still_in_the_recycle_bin_needs_no_re_list(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
    point_at: Callable[..., None],
    duckdb_path: Path,
) -> None:
    sandbox = salesforce_sandbox_factory(now=ManualClock())
    point_at(sandbox, objects='["Account", "Contact"]')
    assert salesforce_pipeline.main([]) == 0
    account = sandbox.store.live("Account")[0]
    queries = sandbox.api.requests["query"]

    sandbox.store.delete("Account", account["Id"])
    assert salesforce_pipeline.main([]) == 0

    assert loaded(duckdb_path, "account", "deleted")[account["Id"]] == (True,)
    # per object: the changes page and the queryAll page; no SELECT Id re-list
    assert sandbox.api.requests["query"] - queries == 2 * 2


def account_industry_column(db: Path) -> str:
    names = [
        r[0]
        for r in query(
            db,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'salesforce' AND table_name = 'contact'",
        )
    ]
    return next((n for n in names if n.startswith("account_industry")), "")


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("mode", "fresh"),
    [("refresh", True), ("incremental", False)],
    ids=["refresh-every-run", "incremental-stays-stale"],
)
def test_a_formula_value_that_changed_without_system_modstamp_is_refreshed(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
    point_at: Callable[..., None],
    duckdb_path: Path,
    mode: str,
    fresh: bool,
) -> None:
    sandbox = salesforce_sandbox_factory(now=ManualClock())
    point_at(
        sandbox,
        objects='["Account", "Contact"]',
        formula_fields=mode,
        formula_refresh_interval_hours="0",
    )
    assert salesforce_pipeline.main([]) == 0
    contact = sandbox.store.live("Contact")[0]
    new = "Aerospace" if contact["Account_Industry__c"] != "Aerospace" else "Energy"
    sandbox.store.update("Account", contact["AccountId"], Industry=new)  # the contact is untouched

    assert salesforce_pipeline.main([]) == 0

    column = account_industry_column(duckdb_path)
    rows = loaded(duckdb_path, "contact", f"{column}, email, deleted")
    expected = new if fresh else contact["Account_Industry__c"]
    assert rows[contact["Id"]] == (expected, contact["Email"], False)


@pytest.mark.e2e
def test_excluded_formula_fields_are_not_loaded(
    salesforce_sandbox: SalesforceSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    point_at(salesforce_sandbox, objects='["Contact"]', formula_fields="exclude")

    assert salesforce_pipeline.main([]) == 0

    assert account_industry_column(duckdb_path) == ""
    assert query(duckdb_path, "SELECT COUNT(*) FROM salesforce.contact")[0][0] == 24


@pytest.mark.e2e
def test_an_unknown_formula_mode_is_one_line_naming_the_setting(
    salesforce_sandbox: SalesforceSandbox,
    point_at: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(salesforce_sandbox, objects='["Contact"]', formula_fields="sometimes")

    assert salesforce_pipeline.main([]) == 1

    err = capsys.readouterr().err
    assert "sources.salesforce.formula_fields" in err and "Traceback" not in err


@pytest.mark.e2e
def test_a_re_list_above_the_bulk_threshold_runs_as_a_bulk_api_job(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
    point_at: Callable[..., None],
    duckdb_path: Path,
) -> None:
    sandbox = salesforce_sandbox_factory(now=ManualClock())
    point_at(sandbox, objects='["Account", "Contact"]', bulk_threshold="15")
    assert salesforce_pipeline.main([]) == 0  # 24 contacts: one Bulk API job
    account = sandbox.store.live("Account")[0]
    contacts = [c["Id"] for c in sandbox.store.live("Contact") if c["AccountId"] == account["Id"]]
    sandbox.store.delete("Account", account["Id"])
    sandbox.store.empty_recycle_bin("Account", [account["Id"]])

    assert salesforce_pipeline.main([]) == 0

    people = loaded(duckdb_path, "contact", "deleted")
    assert contacts and all(people[c] == (True,) for c in contacts)
    assert sum(1 for (deleted,) in people.values() if deleted) == len(contacts)
    assert sandbox.api.bulk.created == 2  # the first load and the contacts' re-list
