"""Health rules over _sync_runs rows, with an injected now."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from sources.kit.health import (
    DEGRADED,
    HEALTHY,
    UNHEALTHY,
    SlaPolicy,
    assess,
    assess_resource,
    format_seconds,
    needs_alert,
    parse_duration,
)
from sources.kit.monitor import FAILED, PARTIAL, SOURCE_ROW, SUCCESS

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
HOUR = 3600.0


def run(
    hours_ago: float,
    status: str = SUCCESS,
    resource: str = "customers",
    source: str = "stripe",
    loaded: int = 100,
    duration_s: float = 10.0,
    error: str | None = None,
) -> dict[str, Any]:
    finished = NOW - timedelta(hours=hours_ago)
    return {
        "run_id": f"r{hours_ago}",
        "source": source,
        "resource": resource,
        "status": status,
        "started_at": finished - timedelta(seconds=duration_s),
        "finished_at": finished,
        "duration_s": duration_s,
        "records_loaded": loaded,
        "error_summary": error,
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("26h", 26 * HOUR),
        ("90m", 5400.0),
        ("45s", 45.0),
        ("1d12h", 36 * HOUR),
        ("1h 30m", 5400.0),
        ("2w", 14 * 24 * HOUR),
        ("1.5h", 5400.0),
        ("PT2H", 2 * HOUR),
        ("P1D", 24 * HOUR),
        ("600", 600.0),
        (3600, 3600.0),
    ],
    ids=[
        "hours",
        "minutes",
        "seconds",
        "days-hours",
        "spaced",
        "weeks",
        "fraction",
        "iso-hours",
        "iso-day",
        "numeric-text",
        "number",
    ],
)
def test_parse_duration(text: Any, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", "soon", "26x", "h", "-5", "0", "1h and 2m", "P"],
    ids=["empty", "word", "unit", "no-number", "negative", "zero", "words-between", "iso-empty"],
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_sla_policy_from_config() -> None:
    policy = SlaPolicy.from_config({"default": "26h", "charges": "2h"})

    assert policy.for_resource("charges") == 2 * HOUR
    assert policy.for_resource("customers") == 26 * HOUR


def test_sla_policy_defaults_without_config() -> None:
    assert SlaPolicy.from_config(None).for_resource("anything") == 26 * HOUR


def test_sla_policy_names_the_bad_key() -> None:
    with pytest.raises(ValueError, match=r"sla\.charges"):
        SlaPolicy.from_config({"charges": "often"})


@pytest.mark.parametrize(
    ("runs", "sla_h", "health", "reason"),
    [
        ([run(5), run(1)], 26, HEALTHY, None),
        ([run(1, FAILED)], 26, UNHEALTHY, "never loaded"),
        ([run(5), run(1, FAILED)], 26, UNHEALTHY, "last run failed"),
        ([run(30)], 26, UNHEALTHY, "stale"),
        ([run(3)], 2, UNHEALTHY, "stale"),
        ([run(5), run(1, PARTIAL)], 26, DEGRADED, "last run partial"),
        ([run(5, FAILED), run(1)], 26, DEGRADED, "1 failed or partial run(s) recently"),
    ],
    ids=[
        "healthy",
        "never-loaded",
        "last-failed",
        "stale-default",
        "stale-override",
        "partial",
        "recent-failure",
    ],
)
def test_health_rules(
    runs: list[dict[str, Any]], sla_h: float, health: str, reason: str | None
) -> None:
    result = assess_resource(runs, sla_h * HOUR, NOW)

    assert result.health == health
    if reason is None:
        assert result.reasons == ()
    else:
        assert any(reason in r for r in result.reasons)
    assert result.alerts is (health == UNHEALTHY)


def test_partial_run_counts_as_fresh_data() -> None:
    result = assess_resource([run(30), run(1, PARTIAL)], 2 * HOUR, NOW)

    assert result.last_success_at == NOW - timedelta(hours=1)
    assert result.freshness_s == pytest.approx(HOUR)
    assert not result.sla_breached


def test_figures_of_a_resource() -> None:
    rows = [run(9, FAILED, error="boom"), run(5, loaded=500, duration_s=50.0), run(1, PARTIAL)]

    result = assess_resource(rows, 26 * HOUR, NOW, window=10)

    assert result.error_rate == pytest.approx(2 / 3)
    assert result.runs == 3
    assert result.throughput_rps == pytest.approx(10.0)  # last loaded run: 100 in 10 s
    assert result.last_status == PARTIAL
    assert result.last_run_at == NOW - timedelta(hours=1)


def test_error_rate_looks_at_the_window_only() -> None:
    rows = [run(10, FAILED), run(9, FAILED), run(3), run(2), run(1)]

    result = assess_resource(rows, 26 * HOUR, NOW, window=3)

    assert result.error_rate == 0.0
    assert result.runs == 3
    assert result.health == HEALTHY


def test_rows_in_any_order() -> None:
    result = assess_resource([run(1, FAILED), run(5)], 26 * HOUR, NOW)

    assert result.last_status == FAILED


def test_assess_groups_by_source_and_resource_and_skips_source_rows() -> None:
    rows = [
        run(1, resource="customers"),
        run(1, resource="charges"),
        run(1, resource="deals", source="hubspot"),
        run(1, resource=SOURCE_ROW, status=FAILED),
    ]
    policies = {"stripe": SlaPolicy.from_config({"default": "26h", "charges": "30m"})}

    results = assess(rows, policies, NOW)

    assert [(h.source, h.resource) for h in results] == [
        ("hubspot", "deals"),
        ("stripe", "charges"),
        ("stripe", "customers"),
    ]
    by_name = {h.resource: h for h in results}
    assert by_name["charges"].health == UNHEALTHY
    assert by_name["customers"].health == HEALTHY
    assert by_name["deals"].sla_s == 26 * HOUR
    assert needs_alert(results)


def test_no_alert_when_all_healthy_or_degraded() -> None:
    # one run: a resource absent from the latest run would be Not scheduled
    results = assess([run(1), run(1, resource="charges", status=PARTIAL)], {}, NOW)

    assert {h.health for h in results} == {HEALTHY, DEGRADED}
    assert not needs_alert(results)


def test_as_json_is_serialisable() -> None:
    import json

    data = assess_resource([run(1)], 26 * HOUR, NOW).as_json()

    assert json.loads(json.dumps(data))["last_success_at"] == "2024-06-01T11:00:00+00:00"
    assert data["health"] == HEALTHY


def test_assess_resource_needs_rows() -> None:
    with pytest.raises(ValueError):
        assess_resource([], HOUR, NOW)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (12, "12s"), (450, "7m30s"), (7500, "2h05m"), (93600, "1d2h")],
    ids=["none", "seconds", "minutes", "hours", "days"],
)
def test_format_seconds(seconds: float | None, text: str) -> None:
    assert format_seconds(seconds) == text
