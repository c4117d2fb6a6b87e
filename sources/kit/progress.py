"""Live progress of a sync, per resource: records, pages, rate and ETA.

When the pipeline runs with a dlt progress collector (``dlt.pipeline(progress="tqdm")``,
the default in a terminal), :class:`ProgressReporter` feeds
it two counters per resource, ``<resource> (records)`` (with the total when one is
known, so bars show a percentage and an ETA) and ``<resource> (pages)``. Without one
(non-interactive runs) it writes an INFO log line per resource every ``log_every_s``
seconds once it has run that long, and a last one when it ends, with the figures also
as structured ``extra`` fields.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional, cast

from dlt.common.runtime.collector import NullCollector
from dlt.common.runtime.collector_base import Collector

logger = logging.getLogger("sluice.progress")

DEFAULT_LOG_EVERY_S = 10.0
"""Seconds between two progress log lines of the same resource."""

RECORDS_LABEL = "records"
PAGES_LABEL = "pages"


@dataclass(frozen=True)
class ResourceProgress:
    """Progress of one resource at one moment.

    Attributes:
        resource: Resource name.
        records: Records yielded so far.
        pages: Pages read so far.
        elapsed_s: Seconds since its first page.
        rate: Records per second since its first page (0 before any time passed).
        total: Records expected in all, when the API says.
        eta_s: Seconds left at the current rate, when a total is known.
    """

    resource: str
    records: int
    pages: int
    elapsed_s: float
    rate: float
    total: Optional[int] = None
    eta_s: Optional[float] = None

    def describe(self) -> str:
        """``customers: 1200/5000 records (24.0%), 12 pages, 240.0 rec/s, ETA 16s``."""
        done = f"{self.records}/{self.total}" if self.total else f"{self.records}"
        share = f" ({100.0 * self.records / self.total:.1f}%)" if self.total else ""
        eta = f", ETA {self.eta_s:.0f}s" if self.eta_s is not None else ""
        return (
            f"{self.resource}: {done} records{share}, {self.pages} pages, "
            f"{self.rate:.1f} rec/s{eta}"
        )

    def as_extra(self) -> dict[str, Any]:
        """The figures as ``logging`` ``extra`` fields."""
        return {
            "resource": self.resource,
            "records": self.records,
            "pages": self.pages,
            "rate": round(self.rate, 3),
            "total": self.total,
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
        }


@dataclass
class _Tally:
    records: int = 0
    pages: int = 0
    total: Optional[int] = None
    first_at: Optional[float] = None
    last_log_at: Optional[float] = None


LOG_LINES = "log"
"""``--progress log``: periodic lines on stderr, as in a run without a terminal."""

PROGRESS_KINDS = (LOG_LINES, "tqdm")
"""What ``--progress`` offers (both installed with the core package)."""


def choose_progress(requested: Optional[str], interactive: bool) -> Optional[str]:
    """The dlt ``progress=`` argument for a pipeline script.

    Args:
        requested: What the user asked for (``--progress``), if anything.
        interactive: Whether a person watches a terminal (``sys.stderr.isatty()``).

    Returns:
        ``"tqdm"`` when asked for, or by default in a terminal (tqdm is a core
        dependency); else None: no collector, and :class:`ProgressReporter` writes
        periodic log lines instead (``--progress log`` asks for those).
    """
    if requested == LOG_LINES:
        # sluice's own lines on stderr; dlt's "log" collector prints each stage to stdout
        return None
    if requested:
        return requested
    if interactive and importlib.util.find_spec("tqdm") is not None:
        return "tqdm"
    return None


def collector_is_active(collector: Optional[Collector]) -> bool:
    """Whether a dlt collector displays anything (dlt's default counts nothing)."""
    return collector is not None and not isinstance(collector, NullCollector)


def estimate(resource: str, tally: _Tally, now: float) -> ResourceProgress:
    """Computes rate and ETA of one resource from its tally."""
    elapsed = 0.0 if tally.first_at is None else max(0.0, now - tally.first_at)
    rate = tally.records / elapsed if elapsed > 0 else 0.0
    eta: Optional[float] = None
    if tally.total is not None and rate > 0:
        eta = max(0, tally.total - tally.records) / rate
    return ResourceProgress(resource, tally.records, tally.pages, elapsed, rate, tally.total, eta)


class ProgressReporter:
    """Per-resource progress through a dlt collector, or periodic log lines.

    Thread-safe: parallelized resources report from dlt's worker threads. Progress
    never breaks a sync: a collector that fails is dropped for log lines.
    """

    def __init__(
        self,
        *,
        collector: Optional[Collector] = None,
        clock: Callable[[], float] = time.monotonic,
        log_every_s: float = DEFAULT_LOG_EVERY_S,
        log: Optional[logging.Logger] = None,
    ) -> None:
        """Creates the reporter.

        Args:
            collector: The pipeline's collector (``pipeline.collector``); log lines
                when None or dlt's null collector. :meth:`attach_collector` sets it later.
            clock: Monotonic clock (injected in tests).
            log_every_s: Seconds between two log lines of the same resource.
            log: Logger for the log lines; ``sluice.progress`` by default.
        """
        self._collector = collector
        self._clock = clock
        self._log_every_s = log_every_s
        self._log = log or logger
        self._lock = threading.Lock()
        self._tallies: dict[str, _Tally] = {}

    @property
    def uses_collector(self) -> bool:
        """True when progress goes to a dlt collector rather than log lines."""
        return collector_is_active(self._collector)

    def attach_collector(self, collector: Optional[Collector]) -> None:
        """Sends progress to ``collector`` (typically ``pipeline.collector``) from now on."""
        with self._lock:
            self._collector = collector

    def set_total(self, resource: str, total: Optional[int]) -> None:
        """Sets how many records a resource will yield in all (None: unknown)."""
        with self._lock:
            self._tallies.setdefault(resource, _Tally()).total = total
            if total is not None and self.uses_collector:
                self._update_collector(resource, RECORDS_LABEL, 0, total=total)

    def page(self, resource: str, records: int) -> None:
        """Reports one page of ``records`` records; call once per page."""
        self.advance(resource, records=records, pages=1)

    def advance(self, resource: str, *, records: int = 0, pages: int = 0) -> None:
        """Adds records and pages to a resource's progress."""
        if not records and not pages:
            return
        now = self._clock()
        with self._lock:
            tally = self._tallies.setdefault(resource, _Tally())
            if tally.first_at is None:
                tally.first_at = now
            tally.records += records
            tally.pages += pages
            current = estimate(resource, tally, now)
            if self.uses_collector:
                self._feed_collector(current, records, pages)
                return
            # A resource done within the first interval logs nothing: the run's summary
            # tells its figures; lines are for what runs long enough to be watched.
            since = tally.last_log_at if tally.last_log_at is not None else tally.first_at
            due = now - since >= self._log_every_s
            if due:
                tally.last_log_at = now
        if due:
            self._log_line(current, "progress")

    def snapshot(self, resource: str) -> ResourceProgress:
        """Current progress of one resource (zeros for an unknown one)."""
        with self._lock:
            return estimate(resource, self._tallies.get(resource, _Tally()), self._clock())

    def finish(self) -> None:
        """Logs a final line per resource that logged progress (log mode only)."""
        if self.uses_collector:
            return
        now = self._clock()
        with self._lock:
            finals = [
                estimate(name, t, now)
                for name, t in sorted(self._tallies.items())
                if t.last_log_at is not None
            ]
        for current in finals:
            self._log_line(current, "done")

    def _feed_collector(self, current: ResourceProgress, records: int, pages: int) -> None:
        message = f"ETA {current.eta_s:.0f}s" if current.eta_s is not None else None
        if records:
            self._update_collector(
                current.resource, RECORDS_LABEL, records, total=current.total, message=message
            )
        if pages:
            self._update_collector(current.resource, PAGES_LABEL, pages)

    def _update_collector(
        self,
        resource: str,
        label: str,
        inc: int,
        *,
        total: Optional[int] = None,
        message: Optional[str] = None,
    ) -> None:
        collector = self._collector
        if collector is None:
            return
        try:
            collector.update(
                resource,
                inc=inc,
                total=cast(int, total),
                message=cast(str, message),
                label=label,
            )
        except Exception:  # noqa: BLE001 - progress must never break a sync
            self._log.debug("progress collector failed; falling back to log lines", exc_info=True)
            self._collector = None

    def _log_line(self, current: ResourceProgress, kind: str) -> None:
        self._log.info(
            "%s %s", kind, current.describe(), extra={"progress": kind, **current.as_extra()}
        )
