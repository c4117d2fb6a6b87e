"""End to end into DuckDB: the deletes sys_audit_delete misses, CMDB classes, a 403 on the
audit table, and a run stopped by the hourly rate limit."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipelines import servicenow_pipeline
from sandbox.servicenow import ServiceNowSandbox
from sandbox.servicenow.audit import DeleteVia
from sandbox.servicenow.clock import ManualClock, glide_time

from .test_servicenow_pipeline import point_at, query  # noqa: F401 - the fixture

PREFIX = "SOURCES__SERVICENOW__"


def deleted_flags(db: Path, table: str) -> dict[str, tuple[Any, ...]]:
    rows = query(db, f"SELECT sys_id, deleted, deleted_at, sys_created_on FROM servicenow.{table}")
    return {r[0]: r[1:] for r in rows}


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("interval_hours", "found"), [("0", True), ("24", False)], ids=["scan-due", "scan-not-due"]
)
def test_the_sys_id_scan_marks_deletes_the_audit_never_saw(
    servicenow_sandbox: ServiceNowSandbox,
    point_at: Callable[..., None],  # noqa: F811 - the fixture
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interval_hours: str,
    found: bool,
) -> None:
    point_at(servicenow_sandbox)
    monkeypatch.setenv(PREFIX + "FULL_SCAN_INTERVAL_HOURS", interval_hours)
    monkeypatch.setenv(PREFIX + "TABLES", '["incident", "sys_user"]')
    assert servicenow_pipeline.main([]) == 0
    store = servicenow_sandbox.store
    user = store.records("sys_user")[2]["sys_id"]
    cleaned, purged = (r["sys_id"] for r in store.records("incident")[:2])
    servicenow_sandbox.advance(60)
    store.delete("incident", cleaned, via=DeleteVia.TABLE_CLEANER)  # leaves nothing
    store.delete("incident", purged)
    cut = glide_time(servicenow_sandbox.clock() + 1)
    store.purge_audit(before=cut)  # the instance purged both audit tables
    store.purge_audit(before=cut, table="sys_audit")
    servicenow_sandbox.advance(60)
    store.delete("sys_user", user)  # sys_ table: no sys_audit_delete row, a sys_audit one
    users_before = deleted_flags(duckdb_path, "sys_user")

    assert servicenow_pipeline.main([]) == 0

    incidents, users = (
        deleted_flags(duckdb_path, "incident"),
        deleted_flags(duckdb_path, "sys_user"),
    )
    assert (incidents[cleaned][0] is True) is found
    assert (incidents[purged][0] is True) is found
    assert users[user][0] is True  # from sys_audit's DELETED row, scan or not
    assert users[user][1] is not None and users[user][2] == users_before[user][2]  # data kept
    if found:
        assert incidents[cleaned][1] is not None and incidents[cleaned][2] is not None  # data kept
    live = {k for k, v in incidents.items() if v[0] is not True}
    on_instance = {r["sys_id"] for r in store.records("incident")}
    # not due: the unaudited deletes stay live until the next scan
    assert live == (on_instance if found else on_instance | {cleaned, purged})


@pytest.mark.e2e
def test_a_cmdb_subclass_delete_marks_the_cmdb_ci_row(
    servicenow_sandbox: ServiceNowSandbox,
    point_at: Callable[..., None],  # noqa: F811 - the fixture
    duckdb_path: Path,
) -> None:
    point_at(servicenow_sandbox)
    store = servicenow_sandbox.store
    linux = store.create("cmdb_ci", name="srv-linux-9", sys_class_name="cmdb_ci_linux_server")
    assert servicenow_pipeline.main(["--tables", "cmdb_ci"]) == 0
    servicenow_sandbox.advance(60)
    store.delete("cmdb_ci", linux["sys_id"])

    assert servicenow_pipeline.main(["--tables", "cmdb_ci"]) == 0

    rows = query(
        duckdb_path,
        f"SELECT deleted, name FROM servicenow.cmdb_ci WHERE sys_id = '{linux['sys_id']}'",
    )
    assert rows == [(True, "srv-linux-9")]


@pytest.mark.e2e
def test_without_read_access_to_sys_audit_delete_records_load_with_one_line(
    servicenow_sandbox_factory: Any,
    point_at: Callable[..., None],  # noqa: F811 - the fixture
    duckdb_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = servicenow_sandbox_factory(users={"reader": "pw"}, roles={"reader": {"itil"}})
    point_at(sandbox)

    assert servicenow_pipeline.main(["--tables", "incident,change_request"]) == 0

    loaded = query(duckdb_path, "SELECT COUNT(*) FROM servicenow.incident")
    assert loaded == [(len(sandbox.store.records("incident")),)]
    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text
    lines = [line for line in text.splitlines() if "sys_audit_delete (403)" in line]
    assert len({line.split("servicenow: ", 1)[-1] for line in lines}) == 1
    assert "read access to sys_audit_delete" in lines[0]
    assert "refused the credentials" not in text


@pytest.mark.e2e
def test_a_spent_hourly_limit_stops_cleanly_and_the_next_run_resumes(
    servicenow_sandbox_factory: Any,
    point_at: Callable[..., None],  # noqa: F811 - the fixture
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hour = (time.time() // 3600) * 3600 + 10
    sandbox = servicenow_sandbox_factory(rate_limit=4, clock=ManualClock(hour))
    point_at(sandbox)
    monkeypatch.setenv(PREFIX + "PAGE_SIZE", "10")
    monkeypatch.setenv(PREFIX + "MAX_WAIT_S", "5")
    monkeypatch.setenv(PREFIX + "TABLES", '["incident"]')

    assert servicenow_pipeline.main([]) == 0

    first = query(duckdb_path, "SELECT COUNT(*) FROM servicenow.incident")[0][0]
    total = len(sandbox.store.records("incident"))
    assert 0 < first < total  # what loaded is kept
    captured = capsys.readouterr()
    text = captured.out + captured.err + caplog.text
    assert "run again after" in text and "max_wait_s" in text
    assert "Traceback" not in text
    ledger = query(
        duckdb_path,
        "SELECT status, cursor_after FROM servicenow._sync_runs WHERE resource = 'incident'",
    )
    assert [row[0] for row in ledger] == ["partial"]
    loaded_newest = query(duckdb_path, "SELECT MAX(sys_updated_on) FROM servicenow.incident")
    assert ledger[0][1] is not None  # the cursor of what loaded was saved
    assert ledger[0][1] < str(loaded_newest[0][0])  # newest loaded, less the lookback
    sandbox.advance(3600)  # the next hour

    monkeypatch.setenv(PREFIX + "MAX_WAIT_S", "100000")
    sandbox.rate_rule.limit = None
    assert servicenow_pipeline.main([]) == 0

    ids = [r[0] for r in query(duckdb_path, "SELECT sys_id FROM servicenow.incident")]
    assert len(ids) == len(set(ids)) == total


@pytest.mark.e2e
def test_a_scan_missing_most_rows_marks_nothing(
    servicenow_sandbox: ServiceNowSandbox,
    point_at: Callable[..., None],  # noqa: F811 - the fixture
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    point_at(servicenow_sandbox)
    monkeypatch.setenv(PREFIX + "FULL_SCAN_INTERVAL_HOURS", "0")
    assert servicenow_pipeline.main(["--tables", "incident"]) == 0
    store = servicenow_sandbox.store
    for record in store.records("incident")[:40]:  # looks like lost read access, not deletes
        store.delete("incident", record["sys_id"], via=DeleteVia.TABLE_CLEANER)

    assert servicenow_pipeline.main(["--tables", "incident"]) == 0

    flags = deleted_flags(duckdb_path, "incident")
    assert not any(v[0] is True for v in flags.values())
    assert "the sys_id scan misses 40 of 60 loaded record(s)" in caplog.text
