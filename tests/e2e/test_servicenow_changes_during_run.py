"""End to end: records changing between two page requests, and ACLs, into a real DuckDB file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines import servicenow_pipeline
from sandbox.servicenow import ServiceNowSandbox
from tests.e2e.test_servicenow_pipeline import point_at, query  # noqa: F401 - fixture

PAGE_SIZE = "10"


@pytest.fixture
def incidents_by_page(
    servicenow_sandbox: ServiceNowSandbox,
    point_at: Callable[..., None],  # noqa: F811 - the imported fixture
    monkeypatch: pytest.MonkeyPatch,
) -> list[dict[str, str]]:
    """Points the pipeline at the sandbox, incident only, 10 a page; incidents in list order."""
    point_at(servicenow_sandbox)
    monkeypatch.setenv("SOURCES__SERVICENOW__PAGE_SIZE", PAGE_SIZE)
    monkeypatch.setenv("SOURCES__SERVICENOW__TABLES", '["incident"]')
    records = servicenow_sandbox.store.records("incident")
    return sorted(records, key=lambda r: (r["sys_updated_on"], r["sys_id"]))


def loaded(db: Path) -> dict[str, tuple[object, ...]]:
    rows = query(db, "SELECT sys_id, state, short_description, deleted FROM servicenow.incident")
    return {r[0]: r[1:] for r in rows}


@pytest.mark.e2e
def test_a_record_updated_after_its_page_was_read_lands_in_its_newest_version(
    servicenow_sandbox: ServiceNowSandbox,
    incidents_by_page: list[dict[str, str]],
    duckdb_path: Path,
) -> None:
    target = incidents_by_page[0]["sys_id"]  # read on the first page

    def update() -> None:
        servicenow_sandbox.advance(60)
        servicenow_sandbox.store.update(
            "incident", target, state="6", short_description="changed during the run"
        )

    servicenow_sandbox.faults.after_page("incident", 1, update)

    assert servicenow_pipeline.main([]) == 0

    rows = loaded(duckdb_path)
    assert rows[target] == ("6", "changed during the run", False)
    assert len(rows) == len(incidents_by_page)
    count = query(
        duckdb_path, f"SELECT COUNT(*) FROM servicenow.incident WHERE sys_id = '{target}'"
    )
    assert count == [(1,)]


@pytest.mark.e2e
def test_a_delete_after_the_first_page_skips_no_live_record(
    servicenow_sandbox: ServiceNowSandbox,
    incidents_by_page: list[dict[str, str]],
    duckdb_path: Path,
) -> None:
    gone = incidents_by_page[3]["sys_id"]  # already read: offsets would shift by one
    servicenow_sandbox.faults.after_page(
        "incident", 1, lambda: servicenow_sandbox.store.delete("incident", gone)
    )

    assert servicenow_pipeline.main([]) == 0

    rows = loaded(duckdb_path)
    live = {r["sys_id"] for r in servicenow_sandbox.store.records("incident")}
    assert {k for k, v in rows.items() if v[2] is False} == live
    assert rows[gone][2] is True  # the audited delete marks the row read before it


@pytest.mark.e2e
def test_a_field_acl_on_the_cursor_fails_the_run_with_one_line_naming_it(
    servicenow_sandbox: ServiceNowSandbox,
    incidents_by_page: list[dict[str, str]],
    duckdb_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    servicenow_sandbox.faults.hide_field("incident", "sys_updated_on")

    assert servicenow_pipeline.main([]) == 1

    err = capsys.readouterr().err
    line = (
        "ServiceNow returned no sys_updated_on on incident: a field-level ACL hides it; "
        "grant read on incident.sys_updated_on to the integration user"
    )
    assert line in err and "Traceback" not in err
    tables = query(
        duckdb_path,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'servicenow'",
    )
    assert ("incident",) not in tables
    if ("_dead_letters",) in tables:  # nothing was dead-lettered instead of failing
        assert query(duckdb_path, "SELECT COUNT(*) FROM servicenow._dead_letters") == [(0,)]


@pytest.mark.e2e
def test_rows_hidden_by_a_row_acl_are_counted_once_and_the_rest_loads_in_one_listing(
    servicenow_sandbox: ServiceNowSandbox,
    incidents_by_page: list[dict[str, str]],
    duckdb_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # hide a whole page worth of rows plus a few more, so one page comes back empty
    hidden = {r["sys_id"] for r in incidents_by_page[10:23]}
    servicenow_sandbox.faults.row_acl("incident", lambda r: r["sys_id"] not in hidden)
    caplog.set_level(logging.INFO, logger="sluice")

    assert servicenow_pipeline.main([]) == 0

    readable = {r["sys_id"] for r in incidents_by_page} - hidden
    assert set(loaded(duckdb_path)) == readable
    warnings = [r.getMessage() for r in caplog.records if "row-level ACLs" in r.getMessage()]
    assert len(warnings) == 1 and "13 of 60" in warnings[0]
    # one keyset pass, no re-listing: 5 pages with rows and the empty one stepped over
    changes = [q for t, q in servicenow_sandbox.faults.listings if "ORDERBYsys_updated_on" in q]
    assert len(changes) == 6
