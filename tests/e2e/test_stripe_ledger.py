"""End to end: the Stripe source under run_with_ledger; _sync_runs vs the sandbox's own counts."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from sandbox.stripe import StripeSandbox
from sandbox.stripe.faults import Faults
from sources.kit.ledger import SyncMonitor, read_ledger, run_with_ledger
from sources.kit.monitor import FAILED, PARTIAL, SOURCE_ROW, SUCCESS
from sources.stripe import RESOURCE_NAMES, make_client, stripe_source
from sources.stripe.client import StripeClient
from sources.stripe.settings import RESOURCES_BY_NAME


def fast_client(sandbox: StripeSandbox, **overrides: Any) -> StripeClient:
    """A client without backoff sleeps whose breaker opens quickly and stays open."""
    options: dict[str, Any] = {
        "rate_limit": 500,
        "backoff_base": 0.0,
        "backoff_cap": 0.0,
        "max_attempts": 3,
        "breaker_failure_threshold": 3,
        "breaker_recovery_timeout": 600.0,
        "connect_timeout": 5.0,
        "read_timeout": 5.0,
    }
    options.update(overrides)
    return make_client(api_key=sandbox.api_key, base_url=sandbox.base_url, **options)


def make_stripe_pipeline(duckdb_path: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name="stripe",
        destination=dlt.destinations.duckdb(credentials=str(duckdb_path)),
        dataset_name="stripe",
    )


def sync(
    pipeline: dlt.Pipeline, sandbox: StripeSandbox, client: StripeClient
) -> tuple[SyncMonitor, dict[str, dict[str, Any]]]:
    """One run with a fresh monitor; returns it and the run's ledger rows by resource."""
    monitor = SyncMonitor("stripe", uuid.uuid4().hex)
    source = stripe_source(client=client, run_id=monitor.run_id)
    try:
        run_with_ledger(pipeline, source, monitor, client.session, loader_file_format="parquet")
    finally:
        rows = {r["resource"]: r for r in read_ledger(pipeline) if r["run_id"] == monitor.run_id}
    return monitor, rows


def count(db: Path, sql: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return int(con.execute(sql).fetchone()[0])


@pytest.mark.e2e
def test_ledger_figures_match_the_sandbox(
    stripe_sandbox_factory: Any, dlt_home: Path, duckdb_path: Path
) -> None:
    sandbox = stripe_sandbox_factory(rate_limit=10)
    # Faster than the sandbox allows: some requests get 429s and are retried after
    # short backoffs (Stripe's 429 carries no Retry-After).
    client = fast_client(
        sandbox, rate_limit=30, max_attempts=10, backoff_base=0.05, backoff_cap=0.5
    )
    pipeline = make_stripe_pipeline(duckdb_path)

    _, rows = sync(pipeline, sandbox, client)

    resources = {name: row for name, row in rows.items() if name != SOURCE_ROW}
    assert set(resources) == set(RESOURCE_NAMES)
    assert sum(r["api_requests"] for r in rows.values()) == sandbox.stats.requests
    assert sum(r["throttled_429"] for r in rows.values()) == sandbox.stats.throttled
    assert sandbox.stats.throttled > 0, "the test means to exercise 429s"
    by_path = sandbox.stats.by_path
    for name, row in resources.items():
        assert row["api_requests"] == by_path[RESOURCES_BY_NAME[name].path], name
        assert row["status"] in (SUCCESS, PARTIAL), name
        loaded = count(duckdb_path, f'SELECT COUNT(*) FROM stripe."{name}"')  # noqa: S608
        assert row["records_loaded"] == loaded, name
        dead = (
            count(
                duckdb_path,
                "SELECT COUNT(*) FROM stripe._dead_letters "  # noqa: S608
                f"WHERE resource = '{name}' AND run_id = '{row['run_id']}'",
            )
            if row["records_dead_lettered"]
            else 0
        )
        assert row["records_dead_lettered"] == dead, name
        assert (row["status"] == PARTIAL) == (dead > 0), name


@pytest.mark.e2e
def test_second_run_continues_from_the_first_runs_cursors(
    stripe_sandbox_factory: Any, dlt_home: Path, duckdb_path: Path
) -> None:
    sandbox = stripe_sandbox_factory()
    pipeline = make_stripe_pipeline(duckdb_path)
    _, first = sync(pipeline, sandbox, fast_client(sandbox))
    sandbox.stats.reset()

    _, second = sync(pipeline, sandbox, fast_client(sandbox))

    assert sum(r["api_requests"] for r in second.values()) == sandbox.stats.requests
    for name in RESOURCE_NAMES:
        assert first[name]["cursor_after"] is not None, name
        assert second[name]["cursor_before"] == first[name]["cursor_after"], name
        assert second[name]["status"] in (SUCCESS, PARTIAL), name


@pytest.mark.e2e
def test_run_killed_by_an_open_circuit_leaves_failed_rows(
    stripe_sandbox_factory: Any, dlt_home: Path, duckdb_path: Path
) -> None:
    sandbox = stripe_sandbox_factory(faults=Faults(error_rate=1.0))
    # Far more attempts than the breaker tolerates: the open circuit, not an exhausted
    # retry, is what stops the run.
    client = fast_client(sandbox, max_attempts=10, breaker_failure_threshold=3)
    pipeline = make_stripe_pipeline(duckdb_path)
    started = time.monotonic()

    with pytest.raises(Exception) as raised:  # noqa: B017 - dlt wraps the kit's error
        sync(pipeline, sandbox, client)

    assert "circuit" in str(raised.value).lower()
    rows = {r["resource"]: r for r in read_ledger(pipeline) if r["resource"] != SOURCE_ROW}
    assert set(rows) == set(RESOURCE_NAMES)
    assert {r["status"] for r in rows.values()} == {FAILED}
    assert {r["run_status"] for r in rows.values()} == {FAILED}
    assert all(r["records_loaded"] == 0 for r in rows.values())
    assert sum(r["circuit_trips"] for r in rows.values()) >= 1
    assert {r["circuit_state"] for r in rows.values()} == {"open"}
    assert any("CircuitOpenError" in (r["error_summary"] or "") for r in rows.values())
    assert sum(r["server_errors"] for r in rows.values()) == sandbox.stats.injected_errors
    assert time.monotonic() - started < 60
