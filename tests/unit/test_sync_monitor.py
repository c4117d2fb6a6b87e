"""SyncMonitor counters and the _sync_runs rows built from them."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

import pytest

from sources.kit.errors import CircuitOpenError
from sources.kit.monitor import (
    FAILED,
    LEDGER_COLUMNS,
    MAX_ERROR_SUMMARY,
    PARTIAL,
    SOURCE_ROW,
    SUCCESS,
    SyncMonitor,
    cursor_text,
    failed_resource_names,
    overall_status,
    resource_status,
    summarize_error,
    worst_breaker_state,
)
from sources.kit.progress import ProgressReporter
from sources.kit.redact import Redactor


class StepClock:
    """Wall clock that returns fixed instants in order, then repeats the last."""

    def __init__(self, *instants: float) -> None:
        self.instants = list(instants)

    def __call__(self) -> float:
        return self.instants.pop(0) if len(self.instants) > 1 else self.instants[0]


def make_monitor(*instants: float, redactor: Redactor | None = None) -> SyncMonitor:
    clock = StepClock(*(instants or (1_700_000_000.0,)))
    progress = ProgressReporter(clock=lambda: 0.0)
    return SyncMonitor("toy", "run-1", clock=clock, progress=progress, redactor=redactor)


def rows_by_resource(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["resource"]: row for row in rows}


def test_record_adds_up_per_resource() -> None:
    monitor = make_monitor()
    monitor.record("customers", loaded=100, pages=1)
    monitor.record("customers", loaded=40, updated=5, deleted=2, dead_lettered=1, pages=1)
    monitor.record("charges", loaded=7, pages=1)

    customers = monitor.counters("customers")
    assert (customers.loaded, customers.updated, customers.deleted) == (140, 5, 2)
    assert (customers.dead_lettered, customers.pages) == (1, 2)
    assert monitor.counters("charges").loaded == 7
    assert monitor.resources() == ["charges", "customers"]


def test_record_is_thread_safe() -> None:
    monitor = make_monitor()

    def work() -> None:
        for _ in range(1000):
            monitor.record("events", loaded=1, pages=1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert monitor.counters("events").loaded == 8000
    assert monitor.counters("events").pages == 8000


def test_record_feeds_progress() -> None:
    monitor = make_monitor()
    monitor.record("customers", loaded=100, pages=1)
    monitor.record("customers", loaded=50, pages=1)

    snapshot = monitor.progress.snapshot("customers")
    assert (snapshot.records, snapshot.pages) == (150, 2)


def test_rows_have_every_ledger_column_and_times() -> None:
    monitor = make_monitor(1_700_000_000.0, 1_700_000_030.5)
    monitor.expect(["customers", "charges"])
    monitor.record("customers", loaded=3, pages=1)
    monitor.finish()

    rows = monitor.ledger_rows(SUCCESS, pipeline_name="toy_pipeline")

    assert [row["resource"] for row in rows] == ["charges", "customers"]
    for row in rows:
        assert set(row) == set(LEDGER_COLUMNS)
        assert row["run_id"] == "run-1"
        assert row["source"] == "toy"
        assert row["pipeline_name"] == "toy_pipeline"
        assert row["started_at"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
        assert row["duration_s"] == 30.5
        assert row["status"] == SUCCESS
        assert row["run_status"] == SUCCESS
    assert rows_by_resource(rows)["customers"]["records_loaded"] == 3
    assert rows_by_resource(rows)["charges"]["records_loaded"] == 0
    assert monitor.last_rows == rows


def test_destination_counts_win_over_monitor_counts() -> None:
    monitor = make_monitor()
    monitor.record("customers", loaded=10, pages=1)

    rows = monitor.ledger_rows(SUCCESS, loaded_by_resource={"customers": 9})

    row = rows_by_resource(rows)["customers"]
    assert row["records_loaded"] == 9
    assert row["records_extracted"] == 10


def test_http_stats_fill_their_resource_and_the_rest_goes_to_source_row() -> None:
    monitor = make_monitor()
    monitor.expect(["customers", "charges"])
    stats = {
        "customers": {"requests": 5, "retries": 2, "throttled_429": 1, "rate_limit_wait_s": 0.25},
        "charges": {"requests": 3, "server_errors": 1, "circuit_trips": 1},
        "_credentials": {"requests": 1},
        "events_feed": {"requests": 4, "throttled_429": 2},
    }

    rows = rows_by_resource(monitor.ledger_rows(SUCCESS, http_stats_by_label=stats))

    assert rows["customers"]["api_requests"] == 5
    assert rows["customers"]["retries"] == 2
    assert rows["customers"]["throttled_429"] == 1
    assert rows["customers"]["rate_limit_wait_s"] == 0.25
    assert rows["charges"]["server_errors"] == 1
    assert rows["charges"]["circuit_trips"] == 1
    assert rows[SOURCE_ROW]["api_requests"] == 5
    assert rows[SOURCE_ROW]["throttled_429"] == 2
    assert sum(row["api_requests"] for row in rows.values()) == 13


def test_no_source_row_without_unclaimed_traffic() -> None:
    monitor = make_monitor()
    monitor.expect(["customers"])

    rows = monitor.ledger_rows(SUCCESS, http_stats_by_label={"customers": {"requests": 2}})

    assert [row["resource"] for row in rows] == ["customers"]


def test_failed_run_marks_every_resource_failed_with_nothing_loaded() -> None:
    monitor = make_monitor()
    monitor.expect(["customers", "charges"])
    monitor.record("customers", loaded=200, pages=2)
    error = CircuitOpenError("stripe 127.0.0.1 is failing: circuit open")

    rows = rows_by_resource(
        monitor.ledger_rows(
            FAILED,
            http_stats_by_label={"customers": {"requests": 7, "circuit_trips": 1}},
            breaker_snapshot=[{"state": "open", "trips": 1}],
            error=error,
        )
    )

    assert {row["status"] for row in rows.values()} == {FAILED}
    assert {row["run_status"] for row in rows.values()} == {FAILED}
    assert rows["customers"]["records_loaded"] == 0
    assert rows["customers"]["records_extracted"] == 200
    assert rows["customers"]["circuit_trips"] == 1
    assert rows["customers"]["circuit_state"] == "open"
    assert "CircuitOpenError" in rows["charges"]["error_summary"]


def test_resource_failure_with_others_loaded_is_partial_run() -> None:
    monitor = make_monitor()
    monitor.expect(["customers", "charges"])
    monitor.record("customers", loaded=5, pages=1)
    monitor.resource_failed("charges", RuntimeError("listing broke"))

    rows = rows_by_resource(monitor.ledger_rows(SUCCESS))

    assert rows["customers"]["status"] == SUCCESS
    assert rows["charges"]["status"] == FAILED
    assert rows["charges"]["error_summary"] == "RuntimeError: listing broke"
    assert {row["run_status"] for row in rows.values()} == {PARTIAL}


def test_dead_letters_make_a_resource_partial() -> None:
    monitor = make_monitor()
    monitor.record("customers", loaded=5, dead_lettered=9, pages=1)

    rows = rows_by_resource(monitor.ledger_rows(SUCCESS, dead_letters_by_resource={"customers": 2}))

    assert rows["customers"]["status"] == PARTIAL
    assert rows["customers"]["records_dead_lettered"] == 2
    assert "2 record(s) dead-lettered" in rows["customers"]["error_summary"]


def test_dead_letters_fall_back_to_monitor_counts_when_unknown() -> None:
    monitor = make_monitor()
    monitor.record("customers", loaded=5, dead_lettered=3, pages=1)

    rows = rows_by_resource(monitor.ledger_rows(SUCCESS, dead_letters_by_resource=None))

    assert rows["customers"]["records_dead_lettered"] == 3


def test_dlt_extraction_error_names_the_failing_resource() -> None:
    class ResourceExtractionError(Exception):
        pipe_name = "charges"

    class PipelineStepFailed(Exception):
        step = "extract"

        def __init__(self, inner: BaseException) -> None:
            super().__init__("Pipeline execution failed")
            self.exception = inner

    inner = ResourceExtractionError("extraction of resource charges caused an exception")
    inner.__cause__ = ValueError("bad page")
    monitor = make_monitor()
    monitor.expect(["customers"])

    rows = rows_by_resource(monitor.ledger_rows(FAILED, error=PipelineStepFailed(inner)))

    assert set(rows) == {"charges", "customers"}
    assert rows["charges"]["error_summary"] == "extract: ValueError: bad page"
    assert failed_resource_names(PipelineStepFailed(inner)) == {"charges"}


def test_failed_setup_without_resources_still_leaves_a_row() -> None:
    monitor = make_monitor()

    rows = monitor.ledger_rows(FAILED, error=RuntimeError("credentials rejected"))

    assert len(rows) == 1
    assert rows[0]["resource"] == SOURCE_ROW
    assert rows[0]["status"] == FAILED
    assert rows[0]["error_summary"] == "RuntimeError: credentials rejected"


@pytest.mark.parametrize(
    ("reported", "status_hint", "expected"),
    [
        ({"before": 100, "after": 200}, SUCCESS, ("100", "200")),
        ({"before": 100, "after": 200}, FAILED, ("100", "100")),
        ({"before": None}, SUCCESS, (None, None)),
        (None, SUCCESS, ("5", "9")),
        (None, FAILED, ("5", "5")),
    ],
    ids=["reported", "failed-keeps-old", "first-run-no-after", "from-state", "state-failed"],
)
def test_cursors(reported: dict[str, Any] | None, status_hint: str, expected: tuple) -> None:
    monitor = make_monitor()
    monitor.record("customers", loaded=1, pages=1)
    if reported is not None:
        monitor.cursor("customers", **reported)
    error = RuntimeError("x") if status_hint == FAILED else None

    rows = monitor.ledger_rows(status_hint, error=error, state_cursors={"customers": ("5", "9")})

    row = rows_by_resource(rows)["customers"]
    assert (row["cursor_before"], row["cursor_after"]) == expected


def test_cursor_before_is_the_first_report() -> None:
    monitor = make_monitor()
    monitor.cursor("customers", before=1)
    monitor.cursor("customers", before=2, after=3)

    counters = monitor.counters("customers")
    assert (counters.cursor_before, counters.cursor_after) == ("1", "3")


def test_error_summaries_are_redacted_one_line_and_bounded() -> None:
    redactor = Redactor(["sk_test_supersecretvalue"])
    monitor = make_monitor(redactor=redactor)
    long_tail = "x" * 2000
    monitor.resource_failed(
        "customers", RuntimeError(f"auth sk_test_supersecretvalue\nfailed {long_tail}")
    )

    row = monitor.ledger_rows(SUCCESS)[0]

    assert "supersecretvalue" not in row["error_summary"]
    assert "sk_test_****" in row["error_summary"]
    assert "\n" not in row["error_summary"]
    assert len(row["error_summary"]) <= MAX_ERROR_SUMMARY


def test_summary_notes_pending_packages() -> None:
    class PipelineStepFailed(Exception):
        step = "normalize"
        has_pending_data = True

    text = summarize_error(PipelineStepFailed("x" * 1000), Redactor())

    assert text.startswith("normalize: PipelineStepFailed: ")
    assert text.endswith("the next run retries it first]")
    assert len(text) <= MAX_ERROR_SUMMARY


def test_bad_status_hint_is_rejected() -> None:
    with pytest.raises(ValueError, match="status_hint"):
        make_monitor().ledger_rows("partial")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"run_failed": False, "resource_failed": False, "loaded": 5, "dead_lettered": 0}, SUCCESS),
        ({"run_failed": False, "resource_failed": False, "loaded": 0, "dead_lettered": 0}, SUCCESS),
        ({"run_failed": False, "resource_failed": False, "loaded": 5, "dead_lettered": 1}, PARTIAL),
        ({"run_failed": False, "resource_failed": True, "loaded": 5, "dead_lettered": 0}, PARTIAL),
        ({"run_failed": False, "resource_failed": True, "loaded": 0, "dead_lettered": 0}, FAILED),
        ({"run_failed": True, "resource_failed": False, "loaded": 0, "dead_lettered": 0}, FAILED),
        ({"run_failed": True, "resource_failed": False, "loaded": 3, "dead_lettered": 0}, PARTIAL),
    ],
    ids=[
        "loaded",
        "nothing-new",
        "dead-letters",
        "gave-up-after-loading",
        "gave-up",
        "run-failed",
        "run-failed-after-partial-load",
    ],
)
def test_resource_status(kwargs: dict[str, Any], expected: str) -> None:
    assert resource_status(**kwargs) == expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([SUCCESS, SUCCESS], SUCCESS),
        ([SUCCESS, PARTIAL], PARTIAL),
        ([SUCCESS, FAILED], PARTIAL),
        ([FAILED, FAILED], FAILED),
        ([], SUCCESS),
    ],
    ids=["all-ok", "one-partial", "one-failed", "all-failed", "empty"],
)
def test_overall_status(statuses: list[str], expected: str) -> None:
    assert overall_status(statuses) == expected


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        ([], None),
        ([{"state": "closed"}], "closed"),
        ([{"state": "closed"}, {"state": "open"}, {"state": "half_open"}], "open"),
        ([{"state": "half_open"}, {"state": "closed"}], "half_open"),
    ],
    ids=["none", "closed", "open-wins", "half-open"],
)
def test_worst_breaker_state(snapshot: list[dict[str, Any]], expected: str | None) -> None:
    assert worst_breaker_state(snapshot) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (1700000000, "1700000000"),
        (datetime(2024, 1, 2, tzinfo=timezone.utc), "2024-01-02T00:00:00+00:00"),
        ("cus_123", "cus_123"),
    ],
    ids=["none", "unix", "datetime", "text"],
)
def test_cursor_text(value: Any, expected: str | None) -> None:
    assert cursor_text(value) == expected
