"""sources/kit/models.py: the skip lines, the failure line and the summary lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import dlt
import pytest

from sources.kit import models
from sources.kit.errors import SluiceError
from sources.kit.models import (
    ModelResult,
    ModelsError,
    ModelsOutcome,
    failure_line,
    refresh_models,
    run_models,
)


@pytest.fixture(autouse=True)
def refresh_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite turns the refresh off (tests/conftest.py); these tests are about it."""
    monkeypatch.setenv("SLUICE__REFRESH_MODELS", "true")


def duckdb_pipeline(tmp_path: Path, name: str = "kit_models") -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(tmp_path / "data.duckdb")),
        dataset_name="raw",
    )


def test_without_dbt_the_refresh_is_one_line_saying_how_to_enable_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "dbt_installed", lambda: False)
    lines: list[str] = []

    outcome = refresh_models(duckdb_pipeline(tmp_path), "stripe", echo=lines.append)

    assert outcome is not None and outcome.skipped is not None
    assert lines == [
        "models: skipped (dbt-duckdb is not installed: pip install 'sluice[models]' "
        "to refresh the stripe models)"
    ]


def test_an_unsupported_destination_is_one_line(tmp_path: Path) -> None:
    pipeline = dlt.pipeline(
        pipeline_name="kit_models_pg",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination="postgres",
        dataset_name="raw",
    )
    if not models.dbt_installed():
        pytest.skip("the destination is checked after the dbt adapter")

    outcome = run_models(pipeline, "stripe")

    assert outcome.lines() == [
        "models: skipped (the stripe models are written for DuckDB, not postgres: "
        "query the raw dataset raw instead)"
    ]


def test_a_connector_without_models_prints_nothing(tmp_path: Path) -> None:
    lines: list[str] = []

    assert refresh_models(duckdb_pipeline(tmp_path), "salesforce", echo=lines.append) is None
    assert lines == []


def test_no_models_flag_skips_with_one_line(tmp_path: Path) -> None:
    lines: list[str] = []

    refresh_models(duckdb_pipeline(tmp_path), "stripe", enabled=False, echo=lines.append)

    assert lines == ["models: skipped (--no-models)"]


@pytest.mark.parametrize("value", ["false", "0", "no"], ids=["false", "zero", "no"])
def test_the_refresh_setting_off_skips_with_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SLUICE__REFRESH_MODELS", value)
    lines: list[str] = []

    refresh_models(duckdb_pipeline(tmp_path), "stripe", echo=lines.append)

    assert lines == ["models: skipped (sluice.refresh_models = false)"]


def test_a_failed_model_becomes_one_line_naming_it() -> None:
    from dlt.helpers.dbt.exceptions import DBTNodeResult, DBTProcessingError

    failed = DBTProcessingError(
        "run",
        [
            DBTNodeResult("stripe__daily_overview", "OK", 0.1, "success"),
            DBTNodeResult(
                "stripe__mrr_by_month",
                'Binder Error: Referenced column "amount"\nnot found in FROM clause!',
                0.2,
                "error",
            ),
        ],
        None,
    )

    line = failure_line("stripe", failed)

    assert "\n" not in line
    assert line.startswith(
        'stripe models: model stripe__mrr_by_month failed: Binder Error: Referenced column "amount"'
        " not found in FROM clause!"
    )
    assert line.endswith("(the load itself succeeded; rerun with `sluice models stripe`)")


def test_models_error_is_a_sluice_error() -> None:
    assert issubclass(ModelsError, SluiceError)


def test_summary_has_a_line_per_model_and_one_for_the_tests() -> None:
    outcome = ModelsOutcome(
        "stripe",
        dataset="stripe_models",
        models=(ModelResult("stripe__mrr_by_month", "success", "OK", 0.25),),
        tests=(
            ModelResult("unique_stripe__mrr_by_month_mrr_id", "pass", "", 0.1),
            ModelResult("not_null_stripe__mrr_by_month_month", "fail", "Got 1 result", 0.1),
        ),
    )

    lines = outcome.lines()

    assert lines[0] == "models (stripe, dataset stripe_models):"
    assert lines[1].split() == ["stripe__mrr_by_month", "success", "OK", "0.25s"]
    assert lines[2] == "  tests: 2 run, 1 failed: not_null_stripe__mrr_by_month_month"


@pytest.mark.skipif(not models.dbt_installed(), reason="needs dbt-duckdb (the models extra)")
def test_a_broken_model_raises_models_error_with_one_line(tmp_path: Path) -> None:
    projects = dbt_project(tmp_path, "1.0.0", "select * from no_such_table")

    with pytest.raises(ModelsError) as raised:
        run_models(duckdb_pipeline(tmp_path), "broken", root=projects)

    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("broken models: model nowhere failed:")
    assert "no_such_table" in message


@pytest.mark.skipif(not models.dbt_installed(), reason="needs dbt-duckdb (the models extra)")
def test_a_broken_project_says_what_dbt_said_in_one_line(tmp_path: Path) -> None:
    projects = dbt_project(tmp_path, "not-a-version", "select 1")

    with pytest.raises(ModelsError) as raised:
        run_models(duckdb_pipeline(tmp_path), "broken", root=projects)

    message = str(raised.value)
    assert "\n" not in message and "\x1b" not in message
    assert "'not-a-version' is not valid" in message, message


def dbt_project(tmp_path: Path, version: str, sql: str) -> Path:
    """A one-model dbt project ``broken`` with the stripe project's profile; returns its root."""
    project = tmp_path / "projects" / "broken"
    (project / "models").mkdir(parents=True)
    shutil.copy(models.MODELS_ROOT / "stripe" / "profiles.yml", project / "profiles.yml")
    (project / "dbt_project.yml").write_text(
        f"name: broken\nversion: '{version}'\nconfig-version: 2\nprofile: duckdb\n"
    )
    (project / "models" / "nowhere.sql").write_text(sql + "\n")
    return tmp_path / "projects"
