"""Sync health from the run ledger: Healthy / Degraded / Failed per source and resource.

Pure functions over ``_sync_runs`` rows (dicts with the ledger's columns) and an
injected ``now``; ``pipelines/status.py`` is the command-line face.

Rules, per resource, over its most recent runs (``window``, 10 by default):

* **Failed**: the last run failed, or the data is older than the resource's SLA
  (``now`` - finish of the last run that loaded, ``success`` or ``partial``), or no
  run ever loaded it. Any Failed resource makes the status command exit non-zero.
* **Degraded**: the last run was ``partial`` (dead letters, a resource gave up after
  loading some records), or an earlier run in the window failed or was partial.
* **Healthy**: otherwise.

Two rules per source, over its runs:

* **A run that failed before loading** (rejected key, API unreachable, a bad setting:
  the ledger has only its ``_source`` row) is the source's last word until a later run
  gets further: while it is the source's latest run, a ``_source`` entry is **Failed**
  ("last run failed before loading any resource"), whatever the resources' older rows say.
* **Only the current selection is judged**: the resources of the source's latest run
  that got as far as selecting resources (every selected resource has a row in it, even
  when it failed). A resource absent from that run (dropped from ``resources`` /
  ``tables`` / ``objects``, a typo fixed since, one left out by ``--resources``) is
  **Not scheduled**: listed with its last figures, never alerting, until a run
  selects it again.

SLAs come from ``[sources.<source>.sla]`` in ``.dlt/config.toml``: ``default`` and
per-resource overrides, as durations such as ``"26h"``, ``"90m"``, ``"1d12h"``,
``"45s"`` or ISO 8601 ``"PT2H"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Optional

import pendulum

from .monitor import FAILED, PARTIAL, SOURCE_ROW, SUCCESS

HEALTHY = "Healthy"
DEGRADED = "Degraded"
UNHEALTHY = "Failed"
NOT_SCHEDULED = "Not scheduled"
"""A resource the source's latest run did not select: shown, never alerting."""

DEFAULT_SLA = "26h"
"""Freshness SLA when a source configures none: a daily sync plus slack."""

DEFAULT_WINDOW = 10
"""Runs per resource the error rate looks at."""

_UNIT_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])")


def parse_duration(text: Any) -> float:
    """Parses an SLA duration into seconds.

    Args:
        text: ``"26h"``, ``"90m"``, ``"1d12h"``, ``"1h 30m"``, ``"45s"``, ``"2w"``,
            ISO 8601 (``"PT2H"``, ``"P1D"``) or a number of seconds.

    Returns:
        Seconds (positive).

    Raises:
        ValueError: The text is not a positive duration.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        seconds = _parse_duration_text(str(text).strip())
    if seconds <= 0:
        raise ValueError(f"duration must be positive, got {text!r}")
    return seconds


def _parse_duration_text(value: str) -> float:
    lowered = value.lower()
    if lowered.startswith("p"):
        try:
            parsed = pendulum.parse(value.upper())
        except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
            raise ValueError(f"not an ISO 8601 duration: {value!r}") from exc
        if not isinstance(parsed, pendulum.Duration):
            raise ValueError(f"not an ISO 8601 duration: {value!r}")
        return float(parsed.total_seconds())
    try:
        return float(lowered)
    except ValueError:
        pass
    compact = lowered.replace(" ", "")
    parts = _DURATION.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ValueError(
            f"not a duration: {value!r} (use e.g. 26h, 90m, 1d12h, 45s or ISO 8601 PT2H)"
        )
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


@dataclass(frozen=True)
class SlaPolicy:
    """Freshness SLAs of one source.

    Attributes:
        default_s: SLA in seconds of resources without an override.
        overrides_s: SLA in seconds per resource.
    """

    default_s: float = parse_duration(DEFAULT_SLA)
    overrides_s: Mapping[str, float] = field(default_factory=dict)

    def for_resource(self, resource: str) -> float:
        """The SLA in seconds of one resource."""
        return self.overrides_s.get(resource, self.default_s)

    @classmethod
    def from_config(cls, table: Optional[Mapping[str, Any]]) -> SlaPolicy:
        """Builds the policy from a ``[sources.<source>.sla]`` table.

        Args:
            table: ``{"default": "26h", "charges": "2h", ...}``; None for the defaults.

        Raises:
            ValueError: A value is not a duration (the message names the key).
        """
        table = dict(table or {})
        default = table.pop("default", DEFAULT_SLA)
        try:
            default_s = parse_duration(default)
        except ValueError as exc:
            raise ValueError(f"sla.default: {exc}") from exc
        overrides: dict[str, float] = {}
        for resource, value in table.items():
            try:
                overrides[str(resource)] = parse_duration(value)
            except ValueError as exc:
                raise ValueError(f"sla.{resource}: {exc}") from exc
        return cls(default_s=default_s, overrides_s=overrides)


@dataclass(frozen=True)
class ResourceHealth:
    """Health of one resource of one source.

    Attributes:
        source: Source name.
        resource: Resource name.
        health: ``Healthy``, ``Degraded``, ``Failed`` or ``Not scheduled``.
        reasons: Why it is not Healthy (empty when Healthy).
        last_status: Status of the most recent run.
        last_run_at: When the most recent run finished.
        last_success_at: When the last run that loaded data finished.
        freshness_s: Seconds since ``last_success_at`` (None when it never loaded).
        sla_s: The freshness SLA in seconds.
        sla_breached: Freshness over SLA, or never loaded.
        error_rate: Share of failed or partial runs among the last ``runs``.
        runs: Runs considered for the error rate.
        throughput_rps: Records per second of the last run that loaded data.
        last_error: Redacted error summary of the most recent run, if any.
        scheduled: Whether the source's latest run selected it (False: Not scheduled).
    """

    source: str
    resource: str
    health: str
    reasons: tuple[str, ...]
    last_status: str
    last_run_at: datetime
    last_success_at: Optional[datetime]
    freshness_s: Optional[float]
    sla_s: float
    sla_breached: bool
    error_rate: float
    runs: int
    throughput_rps: Optional[float]
    last_error: Optional[str]
    scheduled: bool = True

    @property
    def alerts(self) -> bool:
        """Whether this resource should page someone (Failed)."""
        return self.health == UNHEALTHY

    def as_json(self) -> dict[str, Any]:
        """JSON-ready dict (ISO timestamps, rounded figures)."""
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        for key in ("last_run_at", "last_success_at"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        for key in ("freshness_s", "error_rate", "throughput_rps"):
            if data[key] is not None:
                data[key] = round(float(data[key]), 3)
        return data


def is_loaded(row: Mapping[str, Any]) -> bool:
    """Whether a run's row says data reached the destination (success or partial)."""
    return row.get("status") in (SUCCESS, PARTIAL)


def throughput(row: Mapping[str, Any]) -> Optional[float]:
    """Records loaded per second of a run (None without duration)."""
    duration = float(row.get("duration_s") or 0.0)
    if duration <= 0:
        return None
    return float(row.get("records_loaded") or 0) / duration


def assess_resource(
    rows: Sequence[Mapping[str, Any]],
    sla_s: float,
    now: datetime,
    window: int = DEFAULT_WINDOW,
) -> ResourceHealth:
    """Health of one resource from its ledger rows.

    Args:
        rows: The resource's rows, any order (at least one).
        sla_s: Its freshness SLA in seconds.
        now: Current time, timezone-aware.
        window: How many recent runs the error rate looks at.

    Raises:
        ValueError: ``rows`` is empty.
    """
    if not rows:
        raise ValueError("assess_resource needs at least one ledger row")
    ordered = sorted(rows, key=lambda r: r["finished_at"])
    last = ordered[-1]
    recent = ordered[-window:]
    loaded = [r for r in ordered if is_loaded(r)]
    last_success = loaded[-1] if loaded else None
    freshness = (now - last_success["finished_at"]).total_seconds() if last_success else None
    breached = freshness is None or freshness > sla_s
    troubled = [r for r in recent if r.get("status") in (FAILED, PARTIAL)]
    error_rate = len(troubled) / len(recent)
    health, reasons = classify(last.get("status", FAILED), breached, freshness, sla_s, troubled)
    return ResourceHealth(
        source=str(last["source"]),
        resource=str(last["resource"]),
        health=health,
        reasons=reasons,
        last_status=str(last.get("status")),
        last_run_at=last["finished_at"],
        last_success_at=last_success["finished_at"] if last_success else None,
        freshness_s=freshness,
        sla_s=sla_s,
        sla_breached=breached,
        error_rate=error_rate,
        runs=len(recent),
        throughput_rps=throughput(last_success) if last_success else None,
        last_error=last.get("error_summary"),
    )


def classify(
    last_status: str,
    breached: bool,
    freshness_s: Optional[float],
    sla_s: float,
    troubled: Sequence[Mapping[str, Any]],
) -> tuple[str, tuple[str, ...]]:
    """Applies the health rules (see the module doc); returns (health, reasons)."""
    failed: list[str] = []
    if last_status == FAILED:
        failed.append("last run failed")
    if freshness_s is None:
        failed.append("never loaded")
    elif breached:
        failed.append(f"stale: {format_seconds(freshness_s)} old, SLA {format_seconds(sla_s)}")
    if failed:
        return UNHEALTHY, tuple(failed)
    if last_status == PARTIAL:
        return DEGRADED, ("last run partial",)
    if troubled:
        return DEGRADED, (f"{len(troubled)} failed or partial run(s) recently",)
    return HEALTHY, ()


@dataclass(frozen=True)
class RunSummary:
    """One run of one source, from its ledger rows.

    Attributes:
        run_id: The run's id.
        finished_at: When it finished.
        resources: Resources it has rows for (``_source`` excluded): its selection.
        status: The run's status (``run_status``: failed when every row failed).
        loaded: Whether any of its resources loaded (``success`` or ``partial``).
        error: The error summary of its ``_source`` row, if any.
    """

    run_id: str
    finished_at: datetime
    resources: frozenset[str]
    status: str
    loaded: bool
    error: Optional[str]

    @property
    def failed_before_loading(self) -> bool:
        """The run failed before any resource was known (only a ``_source`` row)."""
        return not self.resources and self.status == FAILED


def summarize_runs(rows: Iterable[Mapping[str, Any]]) -> list[RunSummary]:
    """The runs of one source's rows, oldest first."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(str(row["run_id"]), []).append(row)
    runs = []
    for run_id, group in grouped.items():
        resources = [r for r in group if r.get("resource") != SOURCE_ROW]
        shared = [r for r in group if r.get("resource") == SOURCE_ROW]
        statuses = [str(r.get("status")) for r in group]
        errors = [str(r["error_summary"]) for r in shared if r.get("error_summary")]
        runs.append(
            RunSummary(
                run_id=run_id,
                finished_at=max(r["finished_at"] for r in group),
                resources=frozenset(str(r["resource"]) for r in resources),
                status=str(group[0].get("run_status") or _run_status(statuses)),
                loaded=any(is_loaded(r) for r in resources),
                error=errors[0] if errors else None,
            )
        )
    return sorted(runs, key=lambda run: (run.finished_at, run.run_id))


def _run_status(statuses: Sequence[str]) -> str:
    """A run's status from its rows' statuses (for rows without ``run_status``)."""
    if statuses and all(s == FAILED for s in statuses):
        return FAILED
    return SUCCESS if all(s == SUCCESS for s in statuses) else PARTIAL


def assess_failed_start(
    runs: Sequence[RunSummary],
    source: str,
    sla_s: float,
    now: datetime,
    window: int = DEFAULT_WINDOW,
) -> ResourceHealth:
    """The ``_source`` entry of a source whose latest run failed before loading.

    Args:
        runs: The source's runs, oldest first; the last one failed before loading.
        source: Source name.
        sla_s: The source's default SLA in seconds (freshness of its last load).
        now: Current time, timezone-aware.
        window: How many recent runs the error rate looks at.
    """
    last = runs[-1]
    streak = 0
    for run in reversed(runs):
        if not run.failed_before_loading:
            break
        streak += 1
    loaded = [run for run in runs if run.loaded]
    last_success = loaded[-1].finished_at if loaded else None
    freshness = (now - last_success).total_seconds() if last_success else None
    reasons = [
        "last run failed before loading any resource"
        if streak == 1
        else f"last {streak} runs failed before loading any resource"
    ]
    if freshness is None:
        reasons.append("never loaded")
    elif freshness > sla_s:
        reasons.append(f"stale: {format_seconds(freshness)} old, SLA {format_seconds(sla_s)}")
    recent = runs[-window:]
    return ResourceHealth(
        source=source,
        resource=SOURCE_ROW,
        health=UNHEALTHY,
        reasons=tuple(reasons),
        last_status=FAILED,
        last_run_at=last.finished_at,
        last_success_at=last_success,
        freshness_s=freshness,
        sla_s=sla_s,
        sla_breached=freshness is None or freshness > sla_s,
        error_rate=sum(1 for r in recent if r.status in (FAILED, PARTIAL)) / len(recent),
        runs=len(recent),
        throughput_rps=None,
        last_error=last.error,
    )


def not_scheduled(health: ResourceHealth, selected_at: datetime) -> ResourceHealth:
    """``health`` of a resource the source's latest selecting run left out."""
    return replace(
        health,
        health=NOT_SCHEDULED,
        reasons=(
            "not selected by the latest run "
            f"({selected_at.strftime('%Y-%m-%d %H:%M UTC')}); not judged",
        ),
        scheduled=False,
    )


def assess_source(
    rows: Sequence[Mapping[str, Any]],
    policy: SlaPolicy,
    now: datetime,
    window: int = DEFAULT_WINDOW,
) -> list[ResourceHealth]:
    """Health of one source: its resources and, if its latest run failed before
    loading, a ``_source`` entry (see the module doc).

    Args:
        rows: The source's ``_sync_runs`` rows (at least one).
        policy: The source's SLA policy.
        now: Current time, timezone-aware.
        window: How many recent runs the error rate looks at.

    Returns:
        The ``_source`` entry first (if any), then one entry per resource by name.
    """
    source = str(rows[0]["source"])
    runs = summarize_runs(rows)
    results: list[ResourceHealth] = []
    if runs[-1].failed_before_loading:
        results.append(assess_failed_start(runs, source, policy.default_s, now, window))
    selecting = [run for run in runs if run.resources]
    current = selecting[-1] if selecting else None
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("resource") != SOURCE_ROW:
            grouped.setdefault(str(row["resource"]), []).append(row)
    for resource, group in sorted(grouped.items()):
        health = assess_resource(group, policy.for_resource(resource), now, window)
        if current is not None and resource not in current.resources:
            health = not_scheduled(health, current.finished_at)
        results.append(health)
    return results


def assess(
    rows: Iterable[Mapping[str, Any]],
    policies: Mapping[str, SlaPolicy],
    now: datetime,
    window: int = DEFAULT_WINDOW,
) -> list[ResourceHealth]:
    """Health of every source and resource found in the ledger.

    Args:
        rows: ``_sync_runs`` rows. ``_source`` rows (shared HTTP traffic, or the only
            row of a run that failed before loading) only count as runs of the source.
        policies: SLA policy per source; sources without one get the defaults.
        now: Current time, timezone-aware.
        window: How many recent runs the error rate looks at.

    Returns:
        Entries sorted by source; per source the ``_source`` entry of a run that failed
        before loading first, then the resources by name (see :func:`assess_source`).
    """
    by_source: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_source.setdefault(str(row["source"]), []).append(row)
    results = []
    for source, group in sorted(by_source.items()):
        results.extend(assess_source(group, policies.get(source, SlaPolicy()), now, window))
    return results


def needs_alert(healths: Iterable[ResourceHealth]) -> bool:
    """Whether any entry is Failed: a scheduled resource breached its SLA or failed its
    last run, or the source's latest run failed before loading."""
    return any(h.alerts for h in healths)


def format_seconds(seconds: Optional[float]) -> str:
    """``3d4h``, ``2h05m``, ``7m30s``, ``12s`` (``-`` for None)."""
    if seconds is None:
        return "-"
    total = int(round(max(0.0, seconds)))
    delta = timedelta(seconds=total)
    days, rest = delta.days, delta.seconds
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
