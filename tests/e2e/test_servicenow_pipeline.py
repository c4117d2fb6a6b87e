"""End to end: pipelines/servicenow_pipeline.py against its sandbox into a real DuckDB file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import servicenow_pipeline
from sandbox.servicenow import ServiceNowSandbox

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLES = ("incident", "change_request", "sys_user", "cmdb_ci")


@pytest.fixture
def point_at(
    monkeypatch: pytest.MonkeyPatch, dlt_home: Path, duckdb_path: Path
) -> Callable[..., None]:
    """Points the pipeline at a sandbox through the documented env variables."""

    def _point(sandbox: ServiceNowSandbox, auth: str = "basic", password: str = "") -> None:
        prefix = "SOURCES__SERVICENOW__"
        monkeypatch.setenv(prefix + "BASE_URL", sandbox.base_url)
        monkeypatch.setenv(prefix + "BACKOFF_BASE", "0.001")
        monkeypatch.setenv(prefix + "BACKOFF_CAP", "0.01")
        monkeypatch.setenv(prefix + "CREDENTIALS__AUTH_TYPE", auth)
        monkeypatch.setenv(prefix + "CREDENTIALS__USERNAME", sandbox.username)
        monkeypatch.setenv(prefix + "CREDENTIALS__PASSWORD", password or sandbox.password)
        monkeypatch.setenv(prefix + "CREDENTIALS__CLIENT_ID", sandbox.client_id)
        monkeypatch.setenv(prefix + "CREDENTIALS__CLIENT_SECRET", sandbox.client_secret)
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))

    return _point


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def loaded_ids(db: Path, table: str) -> list[str]:
    return [r[0] for r in query(db, f"SELECT sys_id FROM servicenow.{table}")]


def sandbox_ids(sandbox: ServiceNowSandbox, table: str) -> set[str]:
    return {r["sys_id"] for r in sandbox.store.records(table)}


@pytest.mark.e2e
@pytest.mark.parametrize(
    "auth", ["basic", "oauth_password", "oauth_client_credentials"], ids=["basic", "password", "cc"]
)
def test_first_run_loads_every_sandbox_record_once(
    servicenow_sandbox: ServiceNowSandbox,
    point_at: Callable[..., None],
    duckdb_path: Path,
    auth: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(servicenow_sandbox, auth=auth)

    assert servicenow_pipeline.main([]) == 0

    for table in TABLES:
        ids = loaded_ids(duckdb_path, table)
        assert len(ids) == len(set(ids)), table
        assert set(ids) == sandbox_ids(servicenow_sandbox, table), table
    assert "API requests:" in capsys.readouterr().out
    ledger = query(
        duckdb_path, "SELECT resource, status, records_loaded FROM servicenow._sync_runs"
    )
    by_table = {r[0]: r for r in ledger}
    assert by_table["incident"][1:] == ("success", len(sandbox_ids(servicenow_sandbox, "incident")))


@pytest.mark.e2e
def test_second_run_merges_updates_creates_and_deletes(
    servicenow_sandbox: ServiceNowSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    point_at(servicenow_sandbox)
    assert servicenow_pipeline.main([]) == 0
    store = servicenow_sandbox.store
    incidents = store.records("incident")
    servicenow_sandbox.advance(60)
    updated = store.update("incident", incidents[0]["sys_id"], state="7")
    deleted = store.delete("incident", incidents[1]["sys_id"])["documentkey"]
    created = store.create("incident", number="INC0099999", short_description="New", state="1")
    user = store.records("sys_user")[0]["sys_id"]
    store.audit.audit_deleted_tables.add("sys_user")  # sys_ tables audit deletes only if listed
    store.delete("sys_user", user)
    servicenow_sandbox.stats.reset()

    assert servicenow_pipeline.main([]) == 0

    rows = {
        r[0]: r[1:]
        for r in query(
            duckdb_path,
            "SELECT sys_id, state, deleted, deleted_at, number FROM servicenow.incident",
        )
    }
    assert rows[updated["sys_id"]][:2] == ("7", False)
    assert rows[deleted][1] is True and rows[deleted][2] is not None
    assert rows[deleted][3] == incidents[1]["number"]  # the row keeps its data
    assert rows[created["sys_id"]][0] == "1"
    assert len(rows) == len(incidents) + 1
    assert query(
        duckdb_path, f"SELECT deleted FROM servicenow.sys_user WHERE sys_id = '{user}'"
    ) == [(True,)]
    # the second run read only the changes (one page per table and one per delete scan)
    assert servicenow_sandbox.stats.by_table["incident"] == 1
    ledger = query(
        duckdb_path,
        "SELECT records_deleted FROM servicenow._sync_runs WHERE resource = 'incident' "
        "ORDER BY started_at DESC LIMIT 1",
    )
    assert ledger == [(1,)]


@pytest.mark.e2e
def test_token_expiry_mid_sync_and_429_storm_still_load_everything(
    servicenow_sandbox: ServiceNowSandbox,
    point_at: Callable[..., None],
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_at(servicenow_sandbox, auth="oauth_password")
    monkeypatch.setenv("SOURCES__SERVICENOW__PAGE_SIZE", "7")
    monkeypatch.setenv("SOURCES__SERVICENOW__TABLES", '["incident"]')
    monkeypatch.setenv("SOURCES__SERVICENOW__MAX_ATTEMPTS", "30")
    assert servicenow_pipeline.main([]) == 0
    servicenow_sandbox.auth.expire_tokens()
    servicenow_sandbox.faults.throttle_next(15, retry_after=0)
    servicenow_sandbox.advance(60)
    for record in servicenow_sandbox.store.records("incident")[:20]:
        servicenow_sandbox.store.update("incident", record["sys_id"], priority="1")

    assert servicenow_pipeline.main([]) == 0

    assert servicenow_sandbox.stats.throttled == 15
    assert servicenow_sandbox.auth.issued["password"] == 2
    priorities = query(duckdb_path, "SELECT COUNT(*) FROM servicenow.incident WHERE priority = '1'")
    expected = sum(1 for r in servicenow_sandbox.store.records("incident") if r["priority"] == "1")
    assert priorities == [(expected,)]


@pytest.mark.e2e
def test_malformed_records_go_to_dead_letters_and_the_rest_loads(
    servicenow_sandbox: ServiceNowSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    point_at(servicenow_sandbox)
    servicenow_sandbox.faults.malform_next(3, table="incident")

    assert servicenow_pipeline.main(["--tables", "incident"]) == 0

    dead = query(duckdb_path, "SELECT resource, reason FROM servicenow._dead_letters")
    assert len(dead) == 3 and all(r[0] == "incident" for r in dead)
    assert all("sys_updated_on" in r[1] for r in dead)
    assert (
        len(loaded_ids(duckdb_path, "incident"))
        == len(sandbox_ids(servicenow_sandbox, "incident")) - 3
    )


@pytest.mark.e2e
def test_canonical_customers_and_crosswalk_include_servicenow_users(
    servicenow_sandbox: ServiceNowSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    point_at(servicenow_sandbox)

    assert servicenow_pipeline.main(["--tables", "sys_user", "--canonical"]) == 0

    users = sandbox_ids(servicenow_sandbox, "sys_user")
    customers = query(
        duckdb_path,
        "SELECT source_id, customer_id FROM canonical.canonical_customers "
        "WHERE source_system = 'servicenow'",
    )
    assert {r[0] for r in customers} == users and all(r[1] for r in customers)
    links = query(
        duckdb_path,
        "SELECT external_id, canonical_id FROM canonical.crosswalk WHERE system = 'servicenow'",
    )
    assert {r[0] for r in links} == users
    assert dict(links) == dict(customers)


@pytest.mark.e2e
@pytest.mark.parametrize("auth", ["basic", "oauth_password"], ids=["basic", "password"])
def test_wrong_password_is_one_clear_line_without_the_secret(
    servicenow_sandbox: ServiceNowSandbox,
    point_at: Callable[..., None],
    auth: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "WrongPassword-0042-secret"
    point_at(servicenow_sandbox, auth=auth, password=wrong)

    assert servicenow_pipeline.main([]) == 1

    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "sources.servicenow.credentials" in err[0]
    assert wrong not in captured.out + captured.err


@pytest.mark.e2e
def test_sandbox_command_loads_the_sandbox(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "servicenow_data.duckdb"),
    }
    result = subprocess.run(
        [sys.executable, "pipelines/servicenow_pipeline.py", "--sandbox", "--canonical"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "sandbox-password" not in result.stdout + result.stderr
    counts = query(tmp_path / "servicenow_data.duckdb", "SELECT COUNT(*) FROM servicenow.incident")
    assert counts[0][0] == 60
    linked = query(
        tmp_path / "servicenow_data.duckdb",
        "SELECT COUNT(*) FROM canonical.crosswalk WHERE system = 'servicenow'",
    )
    assert linked[0][0] == 30


@pytest.mark.e2e
def test_instance_that_is_down_fails_fast_with_the_circuit_state(
    servicenow_sandbox: ServiceNowSandbox,
    point_at: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(servicenow_sandbox)
    servicenow_sandbox.faults.fail_next(1000, 503)

    assert servicenow_pipeline.main([]) == 1

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "circuit" in err[0].lower()
    assert servicenow_sandbox.stats.requests <= 12
