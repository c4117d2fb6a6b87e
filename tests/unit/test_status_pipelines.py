"""pipelines/status.py with several pipelines: every one reported, exit code by the worst."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pipelines import status
from sources.kit.monitor import FAILED, SOURCE_ROW, SUCCESS

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


def ledger_row(
    pipeline: str, resource: str, status_: str = SUCCESS, hours_ago: float = 1.0, run: str = "r1"
) -> dict[str, Any]:
    finished = NOW - timedelta(hours=hours_ago)
    return {
        "run_id": f"{pipeline}-{run}",
        "pipeline_name": pipeline,
        "source": pipeline,
        "resource": resource,
        "status": status_,
        "run_status": status_,
        "started_at": finished - timedelta(seconds=10),
        "finished_at": finished,
        "duration_s": 10.0,
        "records_loaded": 0 if status_ == FAILED else 5,
        "error_summary": "AuthenticationError: key rejected" if status_ == FAILED else None,
    }


@pytest.fixture
def ledgers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[dict[str, Any]]]:
    """Pipelines in tmp_path whose ledgers are the lists in the returned dict."""
    tables: dict[str, list[dict[str, Any]]] = {}

    def attach(name: str, pipelines_dir: str) -> Any:
        if name not in tables:
            raise RuntimeError(f"destination of {name} unreachable")
        return SimpleNamespace(pipeline_name=name, dataset_name=name)

    def read_ledger(pipeline: Any, *, pipeline_name: str | None = None) -> list[dict[str, Any]]:
        return list(tables[pipeline.pipeline_name])

    monkeypatch.setattr(status, "attach", attach)
    monkeypatch.setattr(status, "read_ledger", read_ledger)
    monkeypatch.setattr(status, "sla_policies", lambda sources: {})
    return tables


def add_pipeline(root: Path, name: str) -> None:
    (root / name).mkdir()
    (root / name / "state.json").write_text("{}")


def run_status(tmp_path: Path, *args: str) -> int:
    return status.main([*args, "--pipelines-dir", str(tmp_path)], now=NOW)


@pytest.mark.parametrize(
    ("beta_status", "code", "verdict"),
    [
        (SUCCESS, status.EXIT_OK, "overall: OK, 2 pipelines"),
        (FAILED, 1, "overall: ALERT, 2 pipelines (alerting: beta)"),
    ],
    ids=["both-healthy", "one-failed"],
)
def test_every_pipeline_is_reported_and_the_worst_decides(
    tmp_path: Path,
    ledgers: dict[str, list[dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
    beta_status: str,
    code: int,
    verdict: str,
) -> None:
    for name in ("alpha", "beta"):
        add_pipeline(tmp_path, name)
    ledgers["alpha"] = [ledger_row("alpha", "customers")]
    ledgers["beta"] = [ledger_row("beta", "incident", beta_status)]

    assert run_status(tmp_path) == code

    out = capsys.readouterr().out
    assert "pipeline alpha: OK (1 healthy, 0 degraded, 0 failed)" in out
    assert ("pipeline beta: ALERT" in out) == (beta_status == FAILED)
    assert out.rstrip().endswith(verdict)


def test_json_lists_each_pipeline_and_every_resource(
    tmp_path: Path, ledgers: dict[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("alpha", "beta"):
        add_pipeline(tmp_path, name)
    ledgers["alpha"] = [ledger_row("alpha", "customers")]
    ledgers["beta"] = [ledger_row("beta", "incident", hours_ago=2, run="r1")] + [
        ledger_row("beta", SOURCE_ROW, FAILED, run="r2")
    ]

    assert run_status(tmp_path, "--json") == 1

    report = json.loads(capsys.readouterr().out)
    assert report["alert"] is True
    assert [(p["pipeline"], p["alert"]) for p in report["pipelines"]] == [
        ("alpha", False),
        ("beta", True),
    ]
    assert [(r["pipeline"], r["resource"], r["health"]) for r in report["resources"]] == [
        ("alpha", "customers", "Healthy"),
        ("beta", SOURCE_ROW, "Failed"),
        ("beta", "incident", "Healthy"),
    ]


def test_one_unreadable_pipeline_does_not_hide_the_others(
    tmp_path: Path, ledgers: dict[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("alpha", "broken", "empty"):
        add_pipeline(tmp_path, name)
    ledgers["alpha"] = [ledger_row("alpha", "customers")]
    ledgers["empty"] = []

    assert run_status(tmp_path) == 1

    out = capsys.readouterr().out
    assert "pipeline alpha: OK" in out
    assert "pipeline broken: ALERT (cannot read its _sync_runs: " in out
    assert "destination of broken unreachable" in out
    assert "pipeline empty: ALERT (no runs recorded in empty._sync_runs)" in out


def test_pipeline_flag_still_reports_one(
    tmp_path: Path, ledgers: dict[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("alpha", "beta"):
        add_pipeline(tmp_path, name)
    ledgers["alpha"] = [ledger_row("alpha", "customers")]
    ledgers["beta"] = [ledger_row("beta", "incident", FAILED)]

    assert run_status(tmp_path, "--pipeline", "alpha", "--json") == 0

    report = json.loads(capsys.readouterr().out)
    assert report["pipeline"] == "alpha"
    assert [r["resource"] for r in report["resources"]] == ["customers"]


def test_no_pipeline_at_all_alerts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_status(tmp_path) == 1

    assert capsys.readouterr().out.startswith(f"no pipelines in {tmp_path}")


def test_failed_before_loading_shows_the_error_in_the_table(
    tmp_path: Path, ledgers: dict[str, list[dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    add_pipeline(tmp_path, "alpha")
    ledgers["alpha"] = [ledger_row("alpha", "customers", hours_ago=3)] + [
        ledger_row("alpha", SOURCE_ROW, FAILED, run="r2")
    ]

    assert run_status(tmp_path) == 1

    out = capsys.readouterr().out
    assert out.startswith("pipeline alpha: ALERT (1 healthy, 0 degraded, 1 failed)")
    assert "last run failed before loading any resource: AuthenticationError: key rejected" in out


@pytest.mark.parametrize("window", ["0", "-3", "x"], ids=["zero", "negative", "text"])
def test_window_must_be_a_positive_number(window: str) -> None:
    with pytest.raises(SystemExit) as raised:
        status.parse_args(["--window", window])

    assert raised.value.code == status.EXIT_USAGE
