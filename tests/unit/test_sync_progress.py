"""ProgressReporter: dlt collectors when active, periodic log lines otherwise."""

from __future__ import annotations

import logging
from typing import Any, Optional

import pytest
from dlt.common.runtime.collector import DictCollector, LogCollector, NullCollector
from dlt.common.runtime.collector_base import Collector

from sources.kit.progress import (
    ProgressReporter,
    ResourceProgress,
    choose_progress,
    collector_is_active,
)


class ManualClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class RecordingCollector(Collector):
    """An active collector that remembers every update."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update(
        self,
        name: str,
        inc: int = 1,
        total: Optional[int] = None,
        inc_total: Optional[int] = None,
        message: Optional[str] = None,
        label: Optional[str] = None,
    ) -> None:
        self.updates.append(
            {"name": name, "inc": inc, "total": total, "message": message, "label": label}
        )

    def _start(self, step: str) -> None:
        pass

    def _stop(self) -> None:
        pass


def progress_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "sluice.progress"]


def test_rate_and_eta_from_injected_clock() -> None:
    clock = ManualClock(100.0)
    reporter = ProgressReporter(clock=clock)
    reporter.set_total("customers", 1000)
    reporter.page("customers", 100)
    clock.now = 110.0
    reporter.page("customers", 100)

    snapshot = reporter.snapshot("customers")

    assert (snapshot.records, snapshot.pages) == (200, 2)
    assert snapshot.rate == pytest.approx(20.0)
    assert snapshot.eta_s == pytest.approx(40.0)


def test_no_eta_without_total() -> None:
    clock = ManualClock(0.0)
    reporter = ProgressReporter(clock=clock)
    reporter.page("charges", 10)
    clock.now = 5.0

    assert reporter.snapshot("charges").eta_s is None
    assert reporter.snapshot("charges").rate == pytest.approx(2.0)


def test_log_lines_at_most_every_period(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sluice.progress")
    clock = ManualClock(0.0)
    reporter = ProgressReporter(clock=clock, log_every_s=10.0)

    for second in range(0, 25):
        clock.now = float(second)
        reporter.page("customers", 10)

    lines = progress_lines(caplog)
    assert len(lines) == 2  # at 10s and 20s: none for the first interval
    assert lines[-1].records == 210  # type: ignore[attr-defined]
    assert lines[-1].resource == "customers"  # type: ignore[attr-defined]
    assert "customers: 210 records, 21 pages" in lines[-1].getMessage()


def test_each_resource_has_its_own_period(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sluice.progress")
    clock = ManualClock(0.0)
    reporter = ProgressReporter(clock=clock, log_every_s=10.0)

    reporter.page("customers", 1)
    clock.now = 5.0
    reporter.page("charges", 1)
    clock.now = 10.0
    reporter.page("customers", 1)  # 10 s since its first page
    reporter.page("charges", 1)  # only 5 s

    assert [r.resource for r in progress_lines(caplog)] == ["customers"]  # type: ignore[attr-defined]


def test_finish_logs_a_final_line_per_resource_that_ran_long(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sluice.progress")
    clock = ManualClock(0.0)
    reporter = ProgressReporter(clock=clock, log_every_s=10.0)
    reporter.page("customers", 5)
    reporter.page("charges", 7)
    clock.now = 10.0
    reporter.page("charges", 1)
    reporter.page("quick", 2)  # one page, done at once: the summary tells its figures
    caplog.clear()

    reporter.finish()

    finals = progress_lines(caplog)
    assert [(r.resource, r.records) for r in finals] == [("charges", 8)]  # type: ignore[attr-defined]
    assert all(r.getMessage().startswith("done ") for r in finals)


def test_active_collector_gets_labelled_counters(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sluice.progress")
    collector = RecordingCollector()
    clock = ManualClock(0.0)
    reporter = ProgressReporter(collector=collector, clock=clock)
    reporter.set_total("customers", 300)
    reporter.page("customers", 100)
    clock.now = 10.0
    reporter.page("customers", 100)

    assert reporter.uses_collector
    records = [u for u in collector.updates if u["label"] == "records"]
    pages = [u for u in collector.updates if u["label"] == "pages"]
    assert [u["inc"] for u in records] == [0, 100, 100]
    assert all(u["total"] == 300 for u in records)
    assert records[-1]["message"] == "ETA 5s"  # 100 left at 20 rec/s
    assert sum(u["inc"] for u in pages) == 2
    assert progress_lines(caplog) == []


def test_collector_attached_later_takes_over() -> None:
    collector = RecordingCollector()
    reporter = ProgressReporter(clock=ManualClock(0.0))
    reporter.page("customers", 1)
    reporter.attach_collector(collector)
    reporter.page("customers", 2)

    assert [u["inc"] for u in collector.updates if u["label"] == "records"] == [2]


def test_failing_collector_falls_back_to_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sluice.progress")
    collector = LogCollector(log_period=1.0, logger="stdout", dump_system_stats=False)
    clock = ManualClock(0.0)
    reporter = ProgressReporter(collector=collector, clock=clock)

    reporter.page("customers", 3)  # collector not started: its update raises
    clock.now = 60.0
    reporter.page("customers", 4)

    assert not reporter.uses_collector
    assert progress_lines(caplog)[-1].records == 7  # type: ignore[attr-defined]


def test_real_log_collector_counts_inside_a_step() -> None:
    collector = LogCollector(
        log_period=1000.0, logger=logging.getLogger("x"), dump_system_stats=False
    )
    reporter = ProgressReporter(collector=collector, clock=ManualClock(0.0))
    with collector("Extract toy"):
        reporter.page("customers", 3)
        reporter.page("customers", 4)
        counters = dict(collector.counters)

    assert counters["customers_records"] == 7
    assert counters["customers_pages"] == 2


@pytest.mark.parametrize(
    ("collector", "expected"),
    [(None, False), (NullCollector(), False), (DictCollector(), True)],
    ids=["none", "null", "dict"],
)
def test_collector_is_active(collector: Any, expected: bool) -> None:
    assert collector_is_active(collector) is expected


@pytest.mark.parametrize(
    ("progress", "expected"),
    [
        (ResourceProgress("c", 10, 1, 5.0, 2.0), "c: 10 records, 1 pages, 2.0 rec/s"),
        (
            ResourceProgress("c", 250, 3, 5.0, 50.0, total=1000, eta_s=15.0),
            "c: 250/1000 records (25.0%), 3 pages, 50.0 rec/s, ETA 15s",
        ),
    ],
    ids=["no-total", "with-total"],
)
def test_describe(progress: ResourceProgress, expected: str) -> None:
    assert progress.describe() == expected


@pytest.mark.parametrize(
    ("requested", "interactive", "tqdm_installed", "expected"),
    [
        ("log", True, True, None),
        ("tqdm", False, False, "tqdm"),
        (None, True, True, "tqdm"),
        (None, True, False, None),
        (None, False, True, None),
    ],
    ids=["requested", "requested-wins", "terminal-tqdm", "terminal-no-tqdm", "cron"],
)
def test_choose_progress(
    mocker: Any,
    requested: Optional[str],
    interactive: bool,
    tqdm_installed: bool,
    expected: Optional[str],
) -> None:
    mocker.patch(
        "sources.kit.progress.importlib.util.find_spec",
        return_value=object() if tqdm_installed else None,
    )

    assert choose_progress(requested, interactive) == expected
