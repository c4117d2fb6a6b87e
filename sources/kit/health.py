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

SLAs come from ``[sources.<source>.sla]`` in ``.dlt/config.toml``: ``default`` and
per-resource overrides, as durations such as ``"26h"``, ``"90m"``, ``"1d12h"``,
``"45s"`` or ISO 8601 ``"PT2H"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Optional

import pendulum

from .monitor import FAILED, PARTIAL, SOURCE_ROW, SUCCESS

HEALTHY = "Healthy"
DEGRADED = "Degraded"
UNHEALTHY = "Failed"

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
        health: ``Healthy``, ``Degraded`` or ``Failed``.
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


def assess(
    rows: Iterable[Mapping[str, Any]],
    policies: Mapping[str, SlaPolicy],
    now: datetime,
    window: int = DEFAULT_WINDOW,
) -> list[ResourceHealth]:
    """Health of every source and resource found in the ledger.

    Args:
        rows: ``_sync_runs`` rows (``_source`` rows, which hold shared HTTP traffic,
            are skipped).
        policies: SLA policy per source; sources without one get the defaults.
        now: Current time, timezone-aware.
        window: How many recent runs the error rate looks at.

    Returns:
        One entry per (source, resource), sorted by source and resource.
    """
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("resource") == SOURCE_ROW:
            continue
        grouped.setdefault((str(row["source"]), str(row["resource"])), []).append(row)
    results = []
    for (source, resource), group in sorted(grouped.items()):
        sla_s = policies.get(source, SlaPolicy()).for_resource(resource)
        results.append(assess_resource(group, sla_s, now, window))
    return results


def needs_alert(healths: Iterable[ResourceHealth]) -> bool:
    """Whether any resource breached its SLA or failed its last run."""
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
