"""End to end: pipelines/stripe_pipeline.py against the sandbox over HTTP into a DuckDB file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pendulum
import pytest

from pipelines import stripe_pipeline
from sandbox.stripe import StripeSandbox
from sources.stripe import RESOURCE_NAMES
from tests.stripe_compare import listed_ids

REPO_ROOT = Path(__file__).resolve().parents[2]
MUTABLE = [n for n in RESOURCE_NAMES if n not in ("balance_transactions", "events")]


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def ids_in(db: Path, table: str) -> list[str]:
    return [r[0] for r in query(db, f"SELECT id FROM stripe.{table}")]


def expire_events_cursor(resource: str) -> None:
    """Moves a resource's saved events cursor past Stripe's 30-day retention."""
    pipeline = dlt.attach(pipeline_name="stripe")
    with pipeline.managed_state(extract_state=False) as state:
        state["sources"]["stripe"]["resources"][resource]["events_cursor"] -= 31 * 24 * 3600


@pytest.mark.e2e
def test_first_run_loads_every_sandbox_object_exactly_once(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[..., None],
    duckdb_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(stripe_sandbox)

    assert stripe_pipeline.main([]) == 0

    for resource in RESOURCE_NAMES:
        loaded = ids_in(duckdb_path, resource)
        assert len(loaded) == len(set(loaded)), f"duplicates in {resource}"
        assert set(loaded) == listed_ids(stripe_sandbox, resource), resource
    out = capsys.readouterr().out
    assert "API requests:" in out and str(duckdb_path) in out


@pytest.mark.e2e
def test_canceled_subscriptions_are_loaded(
    stripe_sandbox: StripeSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    point_at(stripe_sandbox)
    assert stripe_pipeline.main(["--resources", "subscriptions"]) == 0

    statuses = {r[0] for r in query(duckdb_path, "SELECT status FROM stripe.subscriptions")}
    assert "canceled" in statuses


@pytest.mark.e2e
def test_second_run_merges_changes_from_events_with_few_requests(
    stripe_sandbox: StripeSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    point_at(stripe_sandbox)
    assert stripe_pipeline.main([]) == 0
    first_run_requests = stripe_sandbox.stats.requests
    store = stripe_sandbox.store
    customers = store.listable("customers")
    updated, deleted = customers[0]["id"], customers[1]["id"]
    store.update("customer", updated, name="Renamed Customer")
    store.delete("customer", deleted)
    created = store.create("customer", name="Brand New", email="new@example.com")
    subscription = next(s for s in store.listable("subscriptions") if s["status"] != "canceled")
    store.delete("subscription", subscription["id"])
    stripe_sandbox.stats.reset()

    assert stripe_pipeline.main([]) == 0

    second_run_requests = stripe_sandbox.stats.requests
    assert second_run_requests * 3 < first_run_requests
    assert stripe_sandbox.stats.by_path["/v1/customers"] <= 1  # the credential check only
    rows = dict(
        (r[0], r[1:])
        for r in query(duckdb_path, "SELECT id, name, deleted, deleted_at FROM stripe.customers")
    )
    assert rows[updated][0] == "Renamed Customer"
    assert rows[deleted][1] is True and rows[deleted][2] is not None
    assert rows[created["id"]][0] == "Brand New" and rows[created["id"]][1] is False
    assert len(rows) == len(customers) + 1
    status = query(
        duckdb_path, f"SELECT status FROM stripe.subscriptions WHERE id = '{subscription['id']}'"
    )
    assert status == [("canceled",)]


@pytest.mark.e2e
def test_run_through_5xx_and_dropped_connections_loads_each_object_once(
    stripe_sandbox: StripeSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    stripe_sandbox.set_faults(error_rate=0.10, drop_rate=0.02)
    point_at(stripe_sandbox)

    assert stripe_pipeline.main([]) == 0

    assert stripe_sandbox.stats.injected_errors + stripe_sandbox.stats.dropped > 0
    for resource in RESOURCE_NAMES:
        loaded = ids_in(duckdb_path, resource)
        assert len(loaded) == len(set(loaded)) == len(listed_ids(stripe_sandbox, resource))


@pytest.mark.e2e
def test_expired_events_cursor_triggers_a_full_resync(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[..., None],
    duckdb_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    point_at(stripe_sandbox)
    assert stripe_pipeline.main(["--resources", "customers"]) == 0
    expire_events_cursor("customers")
    stripe_sandbox.stats.reset()

    assert stripe_pipeline.main(["--resources", "customers"]) == 0

    pages = len(stripe_sandbox.store.listable("customers")) // 100 + 1
    assert stripe_sandbox.stats.by_path["/v1/customers"] >= pages + 1
    assert "re-listing every object" in caplog.text


@pytest.mark.e2e
def test_pipeline_loads_exactly_what_a_compatible_server_lists(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
    point_at: Callable[..., None],
    duckdb_path: Path,
) -> None:
    other = stripe_sandbox_factory(seed=7, volume=12)
    point_at(other)

    assert stripe_pipeline.main(["--resources", "customers,charges,events"]) == 0

    for resource in ("customers", "charges", "events"):
        assert set(ids_in(duckdb_path, resource)) == listed_ids(other, resource)


@pytest.mark.e2e
@pytest.mark.parametrize(
    "key",
    ["sk_test_wrongwrongwrong123", ""],
    ids=["wrong-key", "empty-key"],
)
def test_bad_api_key_is_one_clear_line(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[..., None],
    key: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(stripe_sandbox, api_key=key or " ")

    assert stripe_pipeline.main([]) == 1

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "sources.stripe.api_key" in err[0]
    assert "Traceback" not in err[0]
    if key:
        assert key not in err[0]


@pytest.mark.e2e
def test_duckdb_file_named_after_dataset_is_refused_clearly(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[..., None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(stripe_sandbox)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "stripe.duckdb"))

    assert stripe_pipeline.main(["--resources", "customers"]) == 1

    err = capsys.readouterr().err
    assert "same name as the dataset" in err and "Traceback" not in err


@pytest.mark.e2e
def test_readme_command_runs_the_sandbox_pipeline(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "stripe_sandbox_data.duckdb"),
    }
    env.pop("SOURCES__STRIPE__API_KEY", None)
    result = subprocess.run(
        [sys.executable, "pipelines/stripe_pipeline.py", "--sandbox", "--sandbox-volume", "10"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "customers" in result.stdout and "API requests:" in result.stdout
    assert "dataset stripe_sandbox" in result.stdout  # the sandbox's own, never `stripe`
    count = query(
        tmp_path / "stripe_sandbox_data.duckdb", "SELECT COUNT(*) FROM stripe_sandbox.charges"
    )
    assert count[0][0] > 0


@pytest.mark.e2e
def test_changed_data_type_is_caught_not_loaded_into_a_variant_column(
    stripe_sandbox: StripeSandbox, point_at: Callable[..., None], duckdb_path: Path
) -> None:
    point_at(stripe_sandbox)
    assert stripe_pipeline.main(["--resources", "charges"]) == 0
    expire_events_cursor("charges")
    stripe_sandbox.set_faults(malformed_rate=0.3)

    assert stripe_pipeline.main(["--resources", "charges"]) == 0

    columns = {
        r[0]
        for r in query(
            duckdb_path,
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'charges'",
        )
    }
    assert not any("__v_" in c for c in columns)
    dead = query(duckdb_path, "SELECT resource, record_id, reason FROM stripe._dead_letters")
    assert dead and all(r[0] == "charges" for r in dead)
    assert {r[1] for r in dead if r[1]} <= stripe_sandbox.stats.malformed_ids
    loaded = ids_in(duckdb_path, "charges")
    assert len(loaded) == len(set(loaded)) == len(listed_ids(stripe_sandbox, "charges"))


@pytest.mark.e2e
def test_debug_logging_never_prints_the_api_key(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
    point_at: Callable[..., None],
    tmp_path: Path,
) -> None:
    key = "sk_test_SuperSecretDebugKey0042"
    sandbox = stripe_sandbox_factory(api_keys=(key,), volume=5)
    point_at(sandbox)
    env = {
        **os.environ,
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "RUNTIME__LOG_LEVEL": "DEBUG",
    }

    result = subprocess.run(
        [sys.executable, "pipelines/stripe_pipeline.py", "-v", "--resources", "customers,charges"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert "DEBUG" in result.stderr  # debug logging really was on
    assert key not in result.stdout + result.stderr
    assert key[8:] not in result.stdout + result.stderr


@pytest.mark.e2e
def test_api_that_is_down_fails_fast_with_the_circuit_state(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(stripe_sandbox)
    monkeypatch.setenv("SOURCES__STRIPE__BACKOFF_BASE", "0.01")
    monkeypatch.setenv("SOURCES__STRIPE__BACKOFF_CAP", "0.05")
    assert stripe_pipeline.main(["--resources", "customers"]) == 0  # credentials check passes
    stripe_sandbox.set_faults(error_rate=1.0)
    stripe_sandbox.stats.reset()

    assert stripe_pipeline.main(["--resources", "customers,charges,products"]) == 1

    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "circuit" in err[0].lower()
    # the breaker opened after a handful of failures instead of 8 attempts per request
    assert stripe_sandbox.stats.requests <= 12


@pytest.mark.e2e
def test_reconcile_webhooks_loads_the_events_the_receiver_missed(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[..., None],
    duckdb_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    point_at(stripe_sandbox)
    monkeypatch.setenv("SOURCES__STRIPE__WEBHOOK_INBOX", str(tmp_path / "inbox.sqlite3"))
    listed_events = len(stripe_sandbox.store.listable("events"))

    assert stripe_pipeline.main(["--resources", "customers", "--reconcile-webhooks"]) == 0

    out = capsys.readouterr().out
    assert f"webhooks: {listed_events} event(s) missed by the receiver" in out
    drained = query(duckdb_path, "SELECT COUNT(*) FROM stripe.webhook_events")
    assert drained == [(listed_events,)]


@pytest.mark.e2e
def test_resources_and_start_date_come_from_dlt_config(
    stripe_sandbox: StripeSandbox,
    point_at: Callable[..., None],
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_at(stripe_sandbox)
    customers = stripe_sandbox.store.listable("customers")
    cutoff = customers[len(customers) // 2]["created"]
    monkeypatch.setenv("SOURCES__STRIPE__RESOURCES", '["customers", "coupons"]')
    monkeypatch.setenv("SOURCES__STRIPE__START_DATE", str(pendulum.from_timestamp(cutoff)))

    assert stripe_pipeline.main([]) == 0

    # /v1/account: the account fingerprint (pipelines/identity.py)
    assert set(stripe_sandbox.stats.by_path) == {"/v1/account", "/v1/customers", "/v1/coupons"}
    loaded = set(ids_in(duckdb_path, "customers"))
    assert loaded == {c["id"] for c in customers if c["created"] >= cutoff}
