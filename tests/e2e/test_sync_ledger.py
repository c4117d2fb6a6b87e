"""End to end: run_with_ledger with a toy source into a real DuckDB file, and status.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import dlt
import duckdb
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.kit.ledger import (
    LEDGER_TABLE,
    LedgerWriteError,
    SyncMonitor,
    ledger_pipeline_name,
    read_ledger,
    run_with_ledger,
    write_ledger,
)
from sources.kit.monitor import FAILED, SUCCESS
from sources.kit.redact import global_redactor

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk_test_ledgere2esecret0123456789"
PAGES = 3
PAGE_SIZE = 10


class FakeSession:
    """Stands in for ResilientSession: fixed request counters per label."""

    def __init__(self, stats: dict[str, dict[str, Any]]) -> None:
        self.stats = stats

    def stats_by_label(self) -> dict[str, dict[str, Any]]:
        return self.stats


def toy_source(
    monitor: SyncMonitor,
    *,
    fail_after_pages: Optional[int] = None,
    bad_gadget: bool = False,
    offset: int = 0,
) -> Any:
    """widgets (merge, cursor in resource state) and gadgets (incremental append)."""

    @dlt.source(name="toy")
    def source() -> Any:
        @dlt.resource(write_disposition="merge", primary_key="id")
        def widgets() -> Iterator[list[dict[str, Any]]]:
            state = dlt.current.resource_state()
            monitor.cursor("widgets", before=state.get("events_cursor"))
            for page in range(PAGES):
                if fail_after_pages is not None and page == fail_after_pages:
                    raise RuntimeError(f"API broke, key {SECRET}")
                rows = [{"id": offset + page * PAGE_SIZE + i} for i in range(PAGE_SIZE)]
                monitor.record("widgets", loaded=len(rows), pages=1)
                yield rows
            state["events_cursor"] = 1_700_000_000 + offset
            monitor.cursor("widgets", after=state["events_cursor"])

        @dlt.resource(
            write_disposition="append",
            columns={"size": {"data_type": "bigint"}},
            schema_contract={"data_type": "freeze"},
        )
        def gadgets(
            created: dlt.sources.incremental[int] = dlt.sources.incremental(
                "created", initial_value=0
            ),
        ) -> Iterator[list[dict[str, Any]]]:
            rows: list[dict[str, Any]] = [
                {"id": offset + i, "created": offset + i, "size": i} for i in range(5)
            ]
            if bad_gadget:
                rows.append({"id": 999, "created": 999, "size": "huge"})
            monitor.record("gadgets", loaded=len(rows), pages=1)
            yield rows

        return widgets, gadgets

    return source()


@pytest.fixture
def toy_db(tmp_path: Path) -> Path:
    return tmp_path / "toy_data.duckdb"


@pytest.fixture
def pipeline(dlt_home: Path, toy_db: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name="toy",
        destination=dlt.destinations.duckdb(credentials=str(toy_db)),
        dataset_name="toy",
    )


@pytest.fixture(autouse=True)
def register_secret() -> None:
    global_redactor().add_secret(SECRET)


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def ledger(pipeline: dlt.Pipeline, run_id: str) -> dict[str, dict[str, Any]]:
    return {r["resource"]: r for r in read_ledger(pipeline) if r["run_id"] == run_id}


def run_toy(pipeline: dlt.Pipeline, run_id: str, **kwargs: Any) -> SyncMonitor:
    monitor = SyncMonitor("toy", run_id)
    session = FakeSession({"widgets": {"requests": 4, "retries": 1, "throttled_429": 1}})
    run_with_ledger(pipeline, toy_source(monitor, **kwargs), monitor, session)
    return monitor


@pytest.mark.e2e
def test_successful_run_ledgers_truthful_figures(pipeline: dlt.Pipeline, toy_db: Path) -> None:
    run_toy(pipeline, "run-ok")

    rows = ledger(pipeline, "run-ok")
    assert set(rows) == {"widgets", "gadgets"}
    widgets, gadgets = rows["widgets"], rows["gadgets"]
    assert widgets["status"] == gadgets["status"] == SUCCESS
    assert widgets["run_status"] == SUCCESS
    assert widgets["records_loaded"] == query(toy_db, "SELECT COUNT(*) FROM toy.widgets")[0][0]
    assert gadgets["records_loaded"] == query(toy_db, "SELECT COUNT(*) FROM toy.gadgets")[0][0]
    assert widgets["pages"] == PAGES
    assert (widgets["api_requests"], widgets["retries"], widgets["throttled_429"]) == (4, 1, 1)
    assert (widgets["cursor_before"], widgets["cursor_after"]) == (None, "1700000000")
    assert gadgets["cursor_after"] == "4"  # from dlt's incremental state
    assert widgets["finished_at"] >= widgets["started_at"]
    assert widgets["error_summary"] is None


@pytest.mark.e2e
def test_ledger_table_has_explicit_types(pipeline: dlt.Pipeline, toy_db: Path) -> None:
    run_toy(pipeline, "run-types")

    types = dict(
        query(
            toy_db,
            "SELECT column_name, data_type FROM information_schema.columns "
            f"WHERE table_schema = 'toy' AND table_name = '{LEDGER_TABLE}'",
        )
    )
    assert types["started_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["records_loaded"] == "BIGINT"
    assert types["cursor_before"] == "VARCHAR"
    assert types["error_summary"] == "VARCHAR"


@pytest.mark.e2e
def test_resource_raising_mid_run_leaves_failed_rows(pipeline: dlt.Pipeline, toy_db: Path) -> None:
    run_toy(pipeline, "run-1")

    with pytest.raises(PipelineStepFailed):
        run_toy(pipeline, "run-2", fail_after_pages=1, offset=1000)

    rows = ledger(pipeline, "run-2")
    assert {r["status"] for r in rows.values()} == {FAILED}
    assert rows["widgets"]["records_loaded"] == 0
    assert rows["widgets"]["records_extracted"] == PAGE_SIZE
    assert rows["widgets"]["cursor_before"] == rows["widgets"]["cursor_after"] == "1700000000"
    assert "RuntimeError: API broke" in rows["widgets"]["error_summary"]
    assert SECRET not in rows["widgets"]["error_summary"]
    assert query(toy_db, "SELECT COUNT(*) FROM toy.widgets")[0][0] == PAGES * PAGE_SIZE
    stored = query(toy_db, f"SELECT string_agg(error_summary, ' ') FROM toy.{LEDGER_TABLE}")
    assert SECRET not in str(stored)


@pytest.mark.e2e
def test_failed_normalize_keeps_package_and_still_ledgers(
    pipeline: dlt.Pipeline, toy_db: Path
) -> None:
    run_toy(pipeline, "run-1")

    with pytest.raises(PipelineStepFailed):
        run_toy(pipeline, "run-bad", bad_gadget=True, offset=100)

    assert pipeline.has_pending_data  # not dropped: dlt retries it on the next run
    rows = ledger(pipeline, "run-bad")
    assert {r["status"] for r in rows.values()} == {FAILED}
    assert rows["gadgets"]["error_summary"].startswith("normalize: ")
    assert "next run retries it first" in rows["gadgets"]["error_summary"]

    with pytest.raises(PipelineStepFailed):
        run_toy(pipeline, "run-after", offset=200)  # the pending package fails again, loudly

    assert {r["status"] for r in ledger(pipeline, "run-after").values()} == {FAILED}


@pytest.mark.e2e
def test_pending_package_is_loaded_before_new_data(pipeline: dlt.Pipeline, toy_db: Path) -> None:
    run_toy(pipeline, "run-1")
    leftover = SyncMonitor("toy", "extract-only")
    pipeline.extract(toy_source(leftover, offset=500))  # a run that stopped after extract
    assert pipeline.has_pending_data

    run_toy(pipeline, "run-2", offset=900)

    assert not pipeline.has_pending_data
    ids = {r[0] for r in query(toy_db, "SELECT id FROM toy.widgets")}
    assert {500, 900} <= ids  # both the pending package and this run's data loaded
    assert ledger(pipeline, "run-2")["widgets"]["records_loaded"] == PAGES * PAGE_SIZE


@pytest.mark.e2e
def test_source_factory_failure_is_ledgered(pipeline: dlt.Pipeline, toy_db: Path) -> None:
    run_toy(pipeline, "run-1")
    monitor = SyncMonitor("toy", "run-setup")

    def broken_source() -> Any:
        raise PermissionError(f"key {SECRET} rejected")

    with pytest.raises(PermissionError):
        run_with_ledger(pipeline, broken_source, monitor)

    rows = ledger(pipeline, "run-setup")
    assert list(rows) == ["_source"]
    assert rows["_source"]["status"] == FAILED
    assert SECRET not in rows["_source"]["error_summary"]


@pytest.mark.e2e
def test_ledger_lives_in_the_pipelines_dataset_through_its_own_pipeline(
    pipeline: dlt.Pipeline, toy_db: Path, dlt_home: Path
) -> None:
    run_toy(pipeline, "run-1")

    assert dlt.current.pipeline().pipeline_name == "toy"  # main pipeline active again
    assert (dlt_home / "pipelines" / ledger_pipeline_name("toy")).is_dir()
    schemas = {r[0] for r in query(toy_db, "SELECT schema_name FROM toy._dlt_version")}
    assert {"toy", "sync_ledger"} <= schemas


@pytest.mark.e2e
def test_write_ledger_after_failed_main_run(pipeline: dlt.Pipeline) -> None:
    run_toy(pipeline, "run-1")
    with pytest.raises(PipelineStepFailed):
        run_toy(pipeline, "run-bad", bad_gadget=True)
    monitor = SyncMonitor("toy", "extra")
    monitor.record("widgets", loaded=1, pages=1)

    info = write_ledger(pipeline, monitor.ledger_rows(SUCCESS))

    assert info is not None and not info.has_failed_jobs
    assert ledger(pipeline, "extra")["widgets"]["records_loaded"] == 1
    assert pipeline.has_pending_data


# -- status.py ------------------------------------------------------------------------------


def run_status(
    tmp_path: Path, dlt_home: Path, toy_db: Path, *args: str, config: str = ""
) -> subprocess.CompletedProcess[str]:
    workdir = tmp_path / "cwd"
    (workdir / ".dlt").mkdir(parents=True, exist_ok=True)
    (workdir / ".dlt" / "config.toml").write_text(config)
    env = {
        **os.environ,
        "DLT_DATA_DIR": str(dlt_home),
        "DESTINATION__DUCKDB__CREDENTIALS": str(toy_db),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "pipelines" / "status.py"), *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.e2e
def test_status_exit_codes(
    pipeline: dlt.Pipeline, tmp_path: Path, dlt_home: Path, toy_db: Path
) -> None:
    run_toy(pipeline, "run-1")

    healthy = run_status(tmp_path, dlt_home, toy_db)
    breached = run_status(
        tmp_path, dlt_home, toy_db, "--json", config='[sources.toy.sla]\nwidgets = "1s"\n'
    )
    unknown = run_status(tmp_path, dlt_home, toy_db, "--pipeline", "nope")

    assert healthy.returncode == 0, healthy.stderr
    assert "Healthy" in healthy.stdout and "widgets" in healthy.stdout
    assert breached.returncode == 1, breached.stderr
    report = json.loads(breached.stdout)
    by_resource = {r["resource"]: r for r in report["resources"]}
    assert by_resource["widgets"]["sla_breached"] is True
    assert by_resource["gadgets"]["health"] == "Healthy"
    assert unknown.returncode == 2
    assert unknown.stderr.strip().startswith("error: no pipeline named 'nope'")
    assert len(unknown.stderr.strip().splitlines()) == 1


@pytest.mark.e2e
def test_status_fails_after_a_failed_run(
    pipeline: dlt.Pipeline, tmp_path: Path, dlt_home: Path, toy_db: Path
) -> None:
    run_toy(pipeline, "run-1")
    with pytest.raises(PipelineStepFailed):
        run_toy(pipeline, "run-2", fail_after_pages=0)

    result = run_status(tmp_path, dlt_home, toy_db, "--pipeline", "toy")

    assert result.returncode == 1
    assert "last run failed" in result.stdout
    assert SECRET not in result.stdout


@pytest.mark.e2e
def test_unwritable_ledger_after_a_good_run_raises(
    pipeline: dlt.Pipeline, toy_db: Path, mocker: Any
) -> None:
    mocker.patch("sources.kit.ledger.write_ledger", side_effect=OSError("disk full"))

    with pytest.raises(LedgerWriteError):
        run_toy(pipeline, "run-ok")

    assert query(toy_db, "SELECT COUNT(*) FROM toy.widgets")[0][0] == PAGES * PAGE_SIZE


@pytest.mark.e2e
def test_unwritable_ledger_never_masks_the_runs_error(
    pipeline: dlt.Pipeline, mocker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    mocker.patch("sources.kit.ledger.write_ledger", side_effect=OSError("disk full"))

    with pytest.raises(PipelineStepFailed):
        run_toy(pipeline, "run-bad", fail_after_pages=0)

    assert any(
        "could not write _sync_runs" in r.getMessage() and "disk full" in r.getMessage()
        for r in caplog.records
    )
