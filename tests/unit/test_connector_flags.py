"""Unit: every connector's runner takes the same flags (``--resources``, ``--start-date``,
``--progress``); the old subset names still work, hidden, with a deprecation note."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Optional

import pytest

from pipelines import salesforce_pipeline, servicenow_pipeline, stripe_pipeline
from sources.kit.errors import ConfigurationError
from sources.kit.first_sync import parse_start

Parse = Callable[[Optional[list[str]]], argparse.Namespace]
RUNNERS = [
    pytest.param(
        stripe_pipeline.parse_args, "customers,charges", ["customers", "charges"], id="stripe"
    ),
    pytest.param(
        salesforce_pipeline.parse_args, "Account, Lead", ["Account", "Lead"], id="salesforce"
    ),
    pytest.param(
        servicenow_pipeline.parse_args,
        "incident,,sys_user",
        ["incident", "sys_user"],
        id="servicenow",
    ),
]


@pytest.mark.parametrize(("parse", "given", "expected"), RUNNERS)
def test_every_runner_takes_the_same_flags(
    parse: Parse, given: str, expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse(
        ["--resources", given, "--start-date", "2024-01-01", "--progress", "tqdm"]
        + ["--staging", "filesystem"]
    )
    assert (args.resources, args.start_date, args.progress, args.staging) == (
        expected,
        "2024-01-01",
        "tqdm",
        "filesystem",
    )
    assert parse([]).progress is None and parse(["--progress"]).progress == "log"
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("parse", "alias"),
    [
        pytest.param(salesforce_pipeline.parse_args, "--objects", id="salesforce-objects"),
        pytest.param(servicenow_pipeline.parse_args, "--tables", id="servicenow-tables"),
    ],
)
def test_the_old_subset_flag_still_works_with_a_note(
    parse: Parse, alias: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert parse([alias, "a,b"]).resources == ["a", "b"]
    assert capsys.readouterr().err == f"note: {alias} is deprecated: use --resources\n"


@pytest.mark.parametrize(
    "parser",
    [
        pytest.param(salesforce_pipeline.parse_args, id="salesforce"),
        pytest.param(servicenow_pipeline.parse_args, id="servicenow"),
    ],
)
def test_the_old_subset_flag_is_hidden_from_help(
    parser: Parse, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parser(["--help"])
    usage = capsys.readouterr().out
    assert "--resources" in usage and "--start-date" in usage and "--progress" in usage
    assert "--objects" not in usage and "--tables" not in usage


def test_an_unknown_progress_kind_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        servicenow_pipeline.parse_args(["--progress", "fancy"])
    assert exit_info.value.code == 2
    assert "argument --progress: invalid choice: 'fancy'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("2024-01-01", "2024-01-01T00:00:00+00:00", id="date-is-utc-midnight"),
        pytest.param("2024-01-01T10:00:00+02:00", "2024-01-01T08:00:00+00:00", id="offset"),
        pytest.param(None, None, id="unset"),
    ],
)
def test_a_start_date_is_read_as_utc(given: Optional[str], expected: Optional[str]) -> None:
    parsed = parse_start(given, "sources.servicenow.start_date")
    assert (parsed.isoformat() if parsed else None) == expected


@pytest.mark.parametrize(
    "parse",
    [
        pytest.param(salesforce_pipeline.parse_args, id="salesforce"),
        pytest.param(servicenow_pipeline.parse_args, id="servicenow"),
    ],
)
def test_a_bad_start_date_flag_is_a_usage_line(
    parse: Parse, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["--start-date", "2024-13-45"])
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .endswith(
            "error: argument --start-date: --start-date '2024-13-45' is not an ISO 8601 date "
            "(e.g. 2024-01-01)"
        )
    )


def test_a_bad_start_date_names_the_setting() -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_start("yesterday", "sources.salesforce.start_date")
    assert str(error.value) == (
        "sources.salesforce.start_date 'yesterday' is not an ISO 8601 date (e.g. 2024-01-01)"
    )
