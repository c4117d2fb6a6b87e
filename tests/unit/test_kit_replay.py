"""Replay logic without a destination: re-validation, summaries, report and CLI rendering."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, Optional

import pytest
from pytest_mock import MockerFixture

from pipelines.dead_letters import format_report, format_summary, format_table
from sources.kit.deadletters import register_replay_mapper, unregister_replay_mapper
from sources.kit.redact import Redactor
from sources.kit.replay import (
    LOADED,
    STILL_INVALID,
    DeadLetter,
    ReplayConfigError,
    ReplayOutcome,
    ReplayReport,
    import_mapper_modules,
    replay_dead_letters,
    replay_disposition,
    revalidate,
    summarize_dead_letters,
)
from sources.kit.validation import RecordValidator

T1 = datetime(2024, 5, 1, tzinfo=timezone.utc)
T2 = datetime(2024, 5, 2, tzinfo=timezone.utc)
VALIDATOR = RecordValidator(["id"], {"amount": {"data_type": "bigint"}}, None, "charges")


def letter(
    raw_payload: str = '{"id": "ch_1", "amount": "12.3x"}',
    reason: str = "column 'amount': text value is not coercible to bigint",
    resource: str = "charges",
    failed_at: Optional[datetime] = T1,
    dead_letter_id: str = "a" * 64,
) -> DeadLetter:
    return DeadLetter(
        dead_letter_id=dead_letter_id,
        source="replaytest",
        resource=resource,
        table_name="charges",
        primary_key=("id",),
        write_disposition="merge",
        record_id="ch_1",
        raw_payload=raw_payload,
        reason=reason,
        run_id="run-1",
        failed_at=failed_at,
    )


@pytest.fixture
def fixed_amounts() -> Iterator[None]:
    def repair(payload: Any) -> Any:
        if isinstance(payload, str):
            raise ValueError("still text")
        return {**payload, "amount": 12}

    register_replay_mapper("replaytest", "charges", repair)
    yield
    unregister_replay_mapper("replaytest", "charges")


def test_from_row_parses_the_stored_columns() -> None:
    row = {
        "dead_letter_id": "x",
        "source": "stripe",
        "resource": "charges",
        "table_name": "charges",
        "primary_key": "a,b",
        "write_disposition": "merge",
        "record_id": 7,
        "raw_payload": "{}",
        "reason": "r",
        "run_id": "run-1",
        "failed_at": T1,
    }

    parsed = DeadLetter.from_row(row)

    assert (parsed.primary_key, parsed.record_id, parsed.failed_at) == (("a", "b"), "7", T1)


def test_from_row_tolerates_missing_optional_columns() -> None:
    parsed = DeadLetter.from_row({"dead_letter_id": "x", "resource": "charges"})

    assert (parsed.table_name, parsed.primary_key, parsed.write_disposition) == (
        "charges",
        (),
        "append",
    )
    assert parsed.record_id is None


def test_repr_of_a_letter_hides_the_payload() -> None:
    assert "12.3x" not in repr(letter())


@pytest.mark.parametrize(
    ("stored", "mapper", "outcome", "reason"),
    [
        (letter(), False, STILL_INVALID, "column 'amount': text value is not coercible to bigint"),
        (letter(), True, LOADED, None),
        (letter('{"id": "ch_1", "amount": 3}'), False, LOADED, None),
        (letter("{broken"), False, STILL_INVALID, "unparseable JSON: "),
        (letter("{broken"), True, STILL_INVALID, "mapping failed: ValueError: still text"),
        (
            letter('{"id": "ch_1", "amount": 3}', reason="mapping failed: KeyError: 'x'"),
            False,
            STILL_INVALID,
            "no replay mapper registered for replaytest/charges",
        ),
        (letter('{"amount": 3}'), False, STILL_INVALID, "primary key 'id' is missing"),
    ],
    ids=[
        "still-wrong-type",
        "fixed-by-mapper",
        "valid-now",
        "unparseable",
        "mapper-gets-raw-text",
        "mapping-failed-needs-a-mapper",
        "still-missing-pk",
    ],
)
def test_revalidate(
    request: pytest.FixtureRequest,
    stored: DeadLetter,
    mapper: bool,
    outcome: str,
    reason: Optional[str],
) -> None:
    if mapper:
        request.getfixturevalue("fixed_amounts")

    result = revalidate(stored, VALIDATOR)

    assert result.outcome == outcome
    assert (result.reason or "").startswith(reason or "")
    assert (result.record is not None) is (outcome == LOADED)


@pytest.mark.parametrize(
    ("stored", "used"),
    [("merge", "merge"), ("append", "append"), ("replace", "append"), ("skip", "append")],
    ids=["merge", "append", "replace-never-wipes", "other"],
)
def test_replay_disposition(stored: str, used: str) -> None:
    assert replay_disposition(stored) == used


@pytest.mark.parametrize(
    ("outcomes", "exit_code"),
    [((), 0), ((LOADED, LOADED), 0), ((LOADED, STILL_INVALID), 1)],
    ids=["nothing", "all-loaded", "some-invalid"],
)
def test_report_exit_code(outcomes: tuple[str, ...], exit_code: int) -> None:
    report = ReplayReport(tuple(ReplayOutcome(letter(), outcome) for outcome in outcomes))

    assert report.exit_code == exit_code
    assert report.loaded + report.still_invalid == len(outcomes)


def test_summary_counts_by_resource_and_reason_and_keeps_the_newest() -> None:
    letters = [
        letter(failed_at=T1, dead_letter_id="1"),
        letter(failed_at=T2, dead_letter_id="2"),
        letter(resource="refunds", reason="other", failed_at=T1, dead_letter_id="3"),
    ]

    summary = summarize_dead_letters(letters, newest=2)

    assert summary.total == 3
    assert [(c.resource, c.reason, c.count) for c in summary.counts] == [
        ("charges", "column 'amount': text value is not coercible to bigint", 2),
        ("refunds", "other", 1),
    ]
    assert [item.dead_letter_id for item in summary.newest] == ["2", "3"]


def test_optional_mapper_modules_that_do_not_exist_are_skipped() -> None:
    assert import_mapper_modules(["sources.no_such_connector", "json"], optional=True) == ["json"]


def test_required_mapper_module_must_import() -> None:
    with pytest.raises(ReplayConfigError, match="sources.no_such_connector"):
        import_mapper_modules(["sources.no_such_connector"])


def test_replay_refuses_a_pipeline_with_pending_packages(mocker: MockerFixture) -> None:
    pipeline = mocker.Mock(has_pending_data=True, pipeline_name="stripe")

    with pytest.raises(ReplayConfigError, match="pending load packages"):
        replay_dead_letters(pipeline)


def test_table_cells_are_redacted_and_cut(mocker: MockerFixture) -> None:
    redactor = Redactor(["sk_test_tablecellsecret"])
    mocker.patch("pipelines.dead_letters.global_redactor", return_value=redactor)

    lines = format_table(("A", "B"), [("sk_test_tablecellsecret", "x" * 200)])

    assert "tablecellsecret" not in "\n".join(lines)
    assert lines[1].endswith("...") and len(lines[1]) < 120


def test_report_lists_one_line_per_letter() -> None:
    report = ReplayReport((ReplayOutcome(letter(), STILL_INVALID, "why"),), dry_run=True)

    lines = format_report(report).splitlines()

    assert lines[0] == "loaded 0, still invalid 1 (dry run, nothing written)"
    assert lines[3].split() == ["aaaaaaaaaaaa", "charges", "ch_1", "still_invalid", "why"]


def test_empty_summary_is_one_line() -> None:
    assert format_summary("stripe", summarize_dead_letters([])) == (
        "0 pending dead letter(s) in pipeline 'stripe'"
    )
