"""pipelines/status.py: choosing the pipeline and rendering the report."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipelines import status
from sources.kit.health import SlaPolicy, assess

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=timezone.utc)


def make_pipeline_dir(root: Path, name: str, with_state: bool = True) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    if with_state:
        (folder / "state.json").write_text("{}")


def test_list_pipelines_skips_ledger_writers_and_stateless_dirs(tmp_path: Path) -> None:
    make_pipeline_dir(tmp_path, "stripe")
    make_pipeline_dir(tmp_path, "stripe__sync_runs")
    make_pipeline_dir(tmp_path, "half_made", with_state=False)

    assert status.list_pipelines(str(tmp_path)) == ["stripe"]
    assert status.list_pipelines(str(tmp_path / "missing")) == []


@pytest.mark.parametrize(
    ("requested", "available", "expected"),
    [
        (None, ["stripe"], ["stripe"]),
        ("hubspot", ["hubspot", "stripe"], ["hubspot"]),
        (None, ["salesforce", "stripe"], ["salesforce", "stripe"]),
        (None, [], []),
    ],
    ids=["only-one", "named", "several-all", "none"],
)
def test_choose_pipelines(requested: str | None, available: list[str], expected: list[str]) -> None:
    assert status.choose_pipelines(requested, available, "/dir") == expected


def test_choose_pipelines_rejects_an_unknown_name() -> None:
    with pytest.raises(status.UsageError) as raised:
        status.choose_pipelines("nope", ["stripe"], "/dir")

    assert str(raised.value) == "no pipeline named 'nope' in /dir (known: stripe)"


def test_main_exits_2_on_unknown_pipeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_pipeline_dir(tmp_path, "stripe")

    code = status.main(["--pipeline", "nope", "--pipelines-dir", str(tmp_path)], now=NOW)

    assert code == status.EXIT_USAGE
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: no pipeline named 'nope' in {tmp_path} (known: stripe)"
    ]


def rows() -> list[dict]:
    finished = NOW - timedelta(hours=3)
    return [
        {
            "run_id": "r1",
            "source": "stripe",
            "resource": resource,
            "status": "success",
            "started_at": finished - timedelta(seconds=20),
            "finished_at": finished,
            "duration_s": 20.0,
            "records_loaded": 400,
            "error_summary": None,
        }
        for resource in ("charges", "customers")
    ]


def test_render_text_and_json() -> None:
    healths = assess(rows(), {"stripe": SlaPolicy.from_config({"charges": "2h"})}, NOW)

    text = status.render_text("stripe", healths, NOW)
    report = json.loads(status.render_json("stripe", healths, NOW))

    assert text.startswith("pipeline stripe: ALERT (1 healthy, 0 degraded, 1 failed)")
    assert "stale: 3h00m old, SLA 2h00m" in text
    assert "20.0/s" in text
    assert report["alert"] is True
    assert [r["health"] for r in report["resources"]] == ["Failed", "Healthy"]


def test_sla_config_errors_name_the_key() -> None:
    import dlt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dlt.config, "get", lambda key: {"charges": "often"})
        with pytest.raises(status.UserFacingError, match=r"sources\.stripe\.sla\.charges"):
            status.sla_policies({"stripe"})
