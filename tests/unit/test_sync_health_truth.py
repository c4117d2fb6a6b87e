"""Health that tells the truth: runs that failed before loading, resources no longer selected."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from sources.kit.health import (
    HEALTHY,
    NOT_SCHEDULED,
    UNHEALTHY,
    SlaPolicy,
    assess,
    needs_alert,
)
from sources.kit.monitor import FAILED, SOURCE_ROW, SUCCESS

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)
BAD_KEY = "fetch: AuthenticationError: Invalid API Key provided; check sources.stripe.api_key"


def run_rows(
    run_id: str,
    hours_ago: float,
    resources: dict[str, str],
    *,
    run_status: str | None = None,
    error: str | None = None,
    source: str = "stripe",
) -> list[dict[str, Any]]:
    """The ledger rows of one run: ``resources`` maps a resource (or _source) to its status."""
    finished = NOW - timedelta(hours=hours_ago)
    statuses = list(resources.values())
    overall = run_status or (FAILED if all(s == FAILED for s in statuses) else SUCCESS)
    return [
        {
            "run_id": run_id,
            "source": source,
            "resource": resource,
            "status": status,
            "run_status": overall,
            "started_at": finished - timedelta(seconds=30),
            "finished_at": finished,
            "duration_s": 30.0,
            "records_loaded": 0 if status == FAILED else 10,
            "error_summary": error if status == FAILED else None,
        }
        for resource, status in resources.items()
    ]


def good_run(run_id: str, hours_ago: float, *names: str) -> list[dict[str, Any]]:
    return run_rows(run_id, hours_ago, dict.fromkeys(names or ("customers", "charges"), SUCCESS))


def rejected_run(run_id: str, hours_ago: float) -> list[dict[str, Any]]:
    """A run whose key was rejected: only its _source row, failed."""
    return run_rows(run_id, hours_ago, {SOURCE_ROW: FAILED}, error=BAD_KEY)


def by_resource(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {h.resource: h for h in assess(rows, {}, NOW)}


def test_a_run_rejected_before_loading_fails_the_source() -> None:
    rows = good_run("r1", 3) + rejected_run("r2", 1)

    healths = by_resource(rows)

    source = healths[SOURCE_ROW]
    assert source.health == UNHEALTHY
    assert source.reasons == ("last run failed before loading any resource",)
    assert source.last_error == BAD_KEY
    assert source.last_success_at == NOW - timedelta(hours=3)
    assert healths["customers"].health == HEALTHY  # its data is still fresh
    assert needs_alert(healths.values())


def test_consecutive_rejected_runs_are_counted_and_the_first_run_never_loaded() -> None:
    rows = rejected_run("r1", 3) + rejected_run("r2", 2) + rejected_run("r3", 1)

    healths = assess(rows, {}, NOW)

    assert [h.resource for h in healths] == [SOURCE_ROW]
    assert healths[0].reasons == (
        "last 3 runs failed before loading any resource",
        "never loaded",
    )
    assert healths[0].error_rate == 1.0
    assert needs_alert(healths)


def test_a_later_run_that_loads_clears_the_failure() -> None:
    rows = good_run("r1", 5) + rejected_run("r2", 3) + good_run("r3", 1)

    healths = assess(rows, {}, NOW)

    assert SOURCE_ROW not in {h.resource for h in healths}
    assert not needs_alert(healths)


def test_a_source_row_of_a_run_that_loaded_is_not_an_entry() -> None:
    rows = run_rows("r1", 1, {"customers": SUCCESS, SOURCE_ROW: SUCCESS})

    assert [h.resource for h in assess(rows, {}, NOW)] == ["customers"]


def test_a_resource_dropped_from_the_selection_stops_alerting() -> None:
    # charges failed, then was removed from sources.stripe.resources
    rows = run_rows("r1", 3, {"customers": SUCCESS, "charges": FAILED}, error="boom")
    rows += good_run("r2", 1, "customers")

    healths = by_resource(rows)

    assert healths["charges"].health == NOT_SCHEDULED
    assert healths["charges"].scheduled is False
    assert healths["charges"].reasons[0].startswith("not selected by the latest run")
    assert healths["customers"].health == HEALTHY
    assert not needs_alert(healths.values())


def test_a_dropped_resource_never_turns_stale() -> None:
    policies = {"stripe": SlaPolicy.from_config({"charges": "2h"})}
    rows = good_run("r1", 30, "customers", "charges") + good_run("r2", 1, "customers")

    healths = {h.resource: h for h in assess(rows, policies, NOW)}

    assert healths["charges"].health == NOT_SCHEDULED
    assert not needs_alert(healths.values())


def test_a_typo_fixed_since_leaves_no_failed_row() -> None:
    # ServiceNow accepts any table name until the API refuses it during the run
    rows = run_rows(
        "r1", 2, {"incident": SUCCESS, "incidnt": FAILED}, error="Invalid table", source="sn"
    )
    rows += run_rows("r2", 1, {"incident": SUCCESS}, source="sn")

    healths = by_resource(rows)

    assert healths["incidnt"].health == NOT_SCHEDULED
    assert not needs_alert(healths.values())


@pytest.mark.parametrize(
    ("latest", "health"),
    [(FAILED, UNHEALTHY), (SUCCESS, HEALTHY)],
    ids=["selected-again-and-failed", "selected-again-and-loaded"],
)
def test_a_resource_selected_again_is_judged_again(latest: str, health: str) -> None:
    rows = good_run("r1", 5, "customers", "charges") + good_run("r2", 3, "customers")
    rows += run_rows("r3", 1, {"customers": SUCCESS, "charges": latest}, error="boom")

    assert by_resource(rows)["charges"].health == health


def test_a_rejected_run_does_not_change_the_selection() -> None:
    rows = good_run("r1", 3, "customers", "charges") + rejected_run("r2", 1)

    healths = by_resource(rows)

    assert healths["charges"].health == HEALTHY
    assert healths[SOURCE_ROW].health == UNHEALTHY
