"""Dead letters end to end: a toy source into a real DuckDB file, then replay after a fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.dead_letters import main as dead_letters_main
from sources.kit.deadletters import (
    DEAD_LETTER_COLUMNS,
    DEAD_LETTERS_TABLE,
    RecordGuard,
    contract_for_dead_letters,
    register_replay_mapper,
    unregister_replay_mapper,
)
from sources.kit.redact import Redactor
from sources.kit.replay import (
    DEAD_LETTER_REPLAYS_TABLE,
    LOADED,
    STILL_INVALID,
    read_pending_dead_letters,
    replay_dead_letters,
)
from sources.kit.validation import RecordValidator, current_source_schema

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
PIPELINE = "toy_dead_letters"
T0 = 1_700_000_000
FAILED_AT = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
REPLAYED_AT = datetime(2024, 5, 2, 12, 0, tzinfo=timezone.utc)
DECLARED = {"created": {"data_type": "timestamp"}}
SECRET = "sk_test_e2esecretvalue"

GOOD_RUN_1 = [
    {"id": 1, "amount": 10, "created": T0},
    {"id": 2, "amount": 20, "created": T0 + 1},
]
BAD_RUN_1 = [
    {"ref": 101, "amount": 5, "created": T0 + 2},  # missing id
    {"id": 3, "amount": 1, "created": "yesterday"},  # cursor of the wrong type
    {"id": 4, "amount": 2, "created": T0 + 3, "legacy": True, "token": SECRET},  # mapper raises
]
GOOD_RUN_2 = [{"id": 8, "amount": 80, "created": T0 + 11}]
BAD_RUN_2 = [{"id": 7, "amount": "12.3x", "created": T0 + 10}]  # amount is bigint by now
BAD_EVENTS = ['{"id": "ev_5", "created": ']  # unparseable JSON, never fixable
GOOD_EVENTS = [{"id": "ev_1", "created": T0}, {"id": "ev_2", "created": T0 + 5}]

EXPECTED_REASONS = {
    "primary key 'id' is missing",
    "column 'created': text value is not coercible to timestamp",
    "mapping failed: ValueError: legacy record",
    "column 'amount': text value is not coercible to bigint",
}


def map_thing(raw: dict[str, Any]) -> dict[str, Any]:
    """The connector's mapping: legacy records are not supported yet."""
    if raw.get("legacy"):
        raise ValueError("legacy record")
    return raw


def repair_thing(payload: Any) -> Any:
    """The fix: the mapping learned legacy records and the payloads get repaired."""
    fixed = {key: value for key, value in payload.items() if key not in ("legacy", "token")}
    fixed.setdefault("id", fixed.pop("ref", None))
    if not isinstance(fixed.get("created"), int):
        fixed["created"] = T0 + 4
    if isinstance(fixed.get("amount"), str):
        fixed["amount"] = int(float(fixed["amount"].rstrip("x")))
    return fixed


def toy_source(
    things: list[Any],
    events: list[Any],
    run_id: str,
    schema_getter: Optional[Callable[[], Optional[dlt.Schema]]] = current_source_schema,
) -> Any:
    """A merge resource with dlt's incremental and one keeping its own cursor, both guarded."""
    redactor = Redactor([SECRET])

    def guard(resource: str, validator: RecordValidator, mapper: Any, pk: str) -> RecordGuard:
        return RecordGuard(
            "toy",
            resource,
            resource,
            validator,
            mapper,
            run_id=run_id,
            primary_key=[pk],
            write_disposition="merge",
            redactor=redactor,
            now=lambda: FAILED_AT,
        )

    @dlt.source(name="toy", schema_contract=contract_for_dead_letters())
    def toy() -> Any:
        @dlt.resource(primary_key="id", write_disposition="merge", columns=DECLARED)
        def things_resource(
            created: Any = dlt.sources.incremental("created", on_cursor_value_missing="include"),
        ) -> Iterator[Any]:
            validator = RecordValidator(["id"], DECLARED, schema_getter, "things", ["created"])
            yield from guard("things", validator, map_thing, "id").batches(things)

        @dlt.resource(primary_key="id", write_disposition="merge", columns=DECLARED)
        def events_resource() -> Iterator[Any]:
            state = dlt.current.resource_state()
            validator = RecordValidator(["id"], DECLARED, schema_getter, "events", ["created"])
            for item in guard("events", validator, None, "id").filter(events):
                if isinstance(item, dict):
                    state["cursor"] = max(state.get("cursor", 0), item["created"])
                yield item

        return (
            things_resource.with_name("things"),
            events_resource.with_name("events"),
        )

    return toy()


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dlt.Pipeline:
    database = tmp_path / "toy.duckdb"
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(database))
    return dlt.pipeline(
        PIPELINE,
        pipelines_dir=str(tmp_path / "pipelines"),
        destination="duckdb",
        dataset_name="toy_data",
    )


@pytest.fixture
def repaired() -> Iterator[None]:
    register_replay_mapper("toy", "things", repair_thing)
    yield
    unregister_replay_mapper("toy", "things")


def run(pipeline: dlt.Pipeline, source: Any) -> None:
    pipeline.run(source, loader_file_format="parquet").raise_on_failed_jobs()


def run_both(pipeline: dlt.Pipeline) -> None:
    run(pipeline, toy_source(GOOD_RUN_1 + BAD_RUN_1, GOOD_EVENTS + BAD_EVENTS, "run-1"))
    run(pipeline, toy_source(BAD_RUN_2 + GOOD_RUN_2, [], "run-2"))


def rows(pipeline: dlt.Pipeline, table: str, order_by: str) -> list[dict[str, Any]]:
    with pipeline.sql_client() as client:
        name = client.make_qualified_table_name(table)
        with client.execute_query(f"SELECT * FROM {name} ORDER BY {order_by}") as cursor:
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_good_rows_load_and_each_bad_record_is_dead_lettered_once(pipeline: dlt.Pipeline) -> None:
    run_both(pipeline)
    run(pipeline, toy_source(BAD_RUN_2 + GOOD_RUN_2, [], "run-3"))  # same extraction again

    things = rows(pipeline, "things", "id")
    letters = rows(pipeline, DEAD_LETTERS_TABLE, "resource, reason")

    assert [row["id"] for row in things] == [1, 2, 8]
    assert [row["resource"] for row in letters].count("things") == 4
    assert {row["reason"] for row in letters if row["resource"] == "things"} == EXPECTED_REASONS
    assert len({row["dead_letter_id"] for row in letters}) == len(letters) == 5
    assert [row["reason"][:16] for row in letters if row["resource"] == "events"] == [
        "unparseable JSON"
    ]


def test_dead_letter_rows_keep_payload_ids_and_hide_secrets(pipeline: dlt.Pipeline) -> None:
    run_both(pipeline)

    letters = {row["reason"]: row for row in rows(pipeline, DEAD_LETTERS_TABLE, "reason")}
    mapped = letters["mapping failed: ValueError: legacy record"]
    missing_id = letters["primary key 'id' is missing"]

    assert SECRET not in mapped["raw_payload"]
    assert '"token":"sk_test_****"' in mapped["raw_payload"]
    assert (mapped["record_id"], mapped["primary_key"], mapped["write_disposition"]) == (
        "4",
        "id",
        "merge",
    )
    assert (mapped["run_id"], mapped["table_name"], mapped["failed_at"]) == (
        "run-1",
        "things",
        FAILED_AT,
    )
    assert missing_id["record_id"] is None
    assert missing_id["raw_payload"] == '{"ref":101,"amount":5,"created":1700000002}'
    assert letters["column 'amount': text value is not coercible to bigint"]["run_id"] == "run-2"


def test_dead_letters_table_has_its_own_hints(pipeline: dlt.Pipeline) -> None:
    run_both(pipeline)

    table = pipeline.default_schema.get_table(DEAD_LETTERS_TABLE)
    data_columns = [name for name in table["columns"] if not name.startswith("_dlt")]

    assert data_columns == list(DEAD_LETTER_COLUMNS)
    assert table["write_disposition"] == "merge"
    assert [n for n, c in table["columns"].items() if c.get("primary_key")] == ["dead_letter_id"]
    assert {n: c["data_type"] for n, c in table["columns"].items() if n in DEAD_LETTER_COLUMNS} == {
        n: c["data_type"] for n, c in DEAD_LETTER_COLUMNS.items()
    }


def test_cursors_advance_over_good_records_only(pipeline: dlt.Pipeline) -> None:
    run_both(pipeline)

    resources = pipeline.state["sources"]["toy"]["resources"]

    assert resources["things"]["incremental"]["created"]["last_value"] == T0 + 11
    assert resources["events"]["cursor"] == T0 + 5


def test_a_type_the_guard_misses_fails_the_run_instead_of_vanishing(
    pipeline: dlt.Pipeline,
) -> None:
    run(pipeline, toy_source(GOOD_RUN_1, [], "run-1"))
    blind = toy_source(BAD_RUN_2, [], "run-2", schema_getter=None)

    with pytest.raises(PipelineStepFailed, match="frozen"):
        run(pipeline, blind)


def test_replay_loads_fixed_letters_once(pipeline: dlt.Pipeline, repaired: None) -> None:
    run_both(pipeline)

    first = replay_dead_letters(pipeline, "things", now=lambda: REPLAYED_AT)
    second = replay_dead_letters(pipeline, "things", now=lambda: REPLAYED_AT)

    replays = rows(pipeline, DEAD_LETTER_REPLAYS_TABLE, "dead_letter_id")
    things = {row["id"]: row for row in rows(pipeline, "things", "id")}
    assert (first.loaded, first.still_invalid, first.exit_code) == (4, 0, 0)
    assert second.outcomes == ()
    assert sorted(things) == [1, 2, 3, 4, 7, 8, 101]
    assert (things[7]["amount"], things[101]["amount"]) == (12, 5)
    assert {(row["outcome"], row["replayed_at"]) for row in replays} == {(LOADED, REPLAYED_AT)}
    assert len(replays) == 4
    assert read_pending_dead_letters(pipeline, "things") == []
    cursor = pipeline.state["sources"]["toy"]["resources"]["things"]["incremental"]["created"]
    assert cursor["last_value"] == T0 + 11  # replay leaves the resource's cursor alone


def test_dry_run_writes_nothing(pipeline: dlt.Pipeline, repaired: None) -> None:
    run_both(pipeline)

    report = replay_dead_letters(pipeline, "things", dry_run=True)

    assert (report.loaded, report.dry_run) == (4, True)
    assert len(read_pending_dead_letters(pipeline, "things")) == 4
    assert [row["id"] for row in rows(pipeline, "things", "id")] == [1, 2, 8]


def test_still_invalid_letters_stay_pending(pipeline: dlt.Pipeline) -> None:
    run_both(pipeline)

    report = replay_dead_letters(pipeline, "events", now=lambda: REPLAYED_AT)

    replays = rows(pipeline, DEAD_LETTER_REPLAYS_TABLE, "dead_letter_id")
    assert (report.loaded, report.still_invalid, report.exit_code) == (0, 1, 1)
    assert [(row["outcome"], row["reason"][:16]) for row in replays] == [
        (STILL_INVALID, "unparseable JSON")
    ]
    assert [letter.resource for letter in read_pending_dead_letters(pipeline, "events")] == [
        "events"
    ]


def test_replay_without_the_fix_keeps_letters_invalid(pipeline: dlt.Pipeline) -> None:
    run_both(pipeline)

    report = replay_dead_letters(pipeline, "things")

    assert (report.loaded, report.still_invalid) == (0, 4)
    assert len(read_pending_dead_letters(pipeline, "things")) == 4


def test_cli_lists_counts_without_payloads(
    pipeline: dlt.Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    run_both(pipeline)

    code = dead_letters_main(
        ["list", "--pipeline", PIPELINE, "--pipelines-dir", pipeline.pipelines_dir]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(f"5 pending dead letter(s) in pipeline '{PIPELINE}'")
    assert re.search(
        r"^things +1 +column 'amount': text value is not coercible to bigint$", out, re.M
    )
    assert "12.3x" not in out and SECRET not in out and "sk_test_" not in out


def test_cli_replay_reports_and_exits_with_outcome(
    pipeline: dlt.Pipeline, repaired: None, capsys: pytest.CaptureFixture[str]
) -> None:
    run_both(pipeline)
    args = ["replay", "--pipeline", PIPELINE, "--pipelines-dir", pipeline.pipelines_dir]

    code = dead_letters_main(args)

    out = capsys.readouterr().out
    assert code == 1  # the unparseable event stays invalid
    assert out.splitlines()[0] == "loaded 4, still invalid 1"


def test_cli_script_rejects_unknown_pipeline_in_one_line(tmp_path: Path) -> None:
    script = REPO_ROOT / "pipelines" / "dead_letters.py"
    args = ["list", "--pipeline", "no_such_pipeline", "--pipelines-dir", str(tmp_path)]

    result = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "DLT_DATA_DIR": str(tmp_path), "RUNTIME__DLTHUB_TELEMETRY": "false"},
        timeout=120,
    )

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: unknown pipeline 'no_such_pipeline' in {tmp_path}")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


COERCION_CASES = [
    ({"v": 1}, {"v": "12"}, False),
    ({"v": 1}, {"v": "12.3x"}, True),
    ({"v": 1}, {"v": 12.0}, False),
    ({"v": 1}, {"v": 12.5}, True),
    ({"v": 1}, {"v": True}, True),
    ({"v": 1.5}, {"v": "1e3"}, False),
    ({"v": 1.5}, {"v": "abc"}, True),
    ({"v": True}, {"v": "yes"}, False),
    ({"v": True}, {"v": "maybe"}, True),
    ({"v": "x"}, {"v": 5}, False),
    ({"v": "x"}, {"v": {"a": 1}}, False),
    ({"v": FAILED_AT}, {"v": "2024-01-01T00:00:00Z"}, False),
    ({"v": FAILED_AT}, {"v": "yesterday"}, True),
    ({"v": FAILED_AT}, {"v": T0}, False),
    ({"b": {"c": 1}}, {"b": {"c": "x"}}, True),
    ({"b": {"c": 1}}, {"b": {"c": "7"}}, False),
    ({"v": {"a": 1}}, {"v": "not json"}, True),
    ({"v": {"a": 1}}, {"v": '{"a": 2}'}, False),
]
JSON_HINT = {"v": {"data_type": "json"}}


@pytest.mark.parametrize(
    ("first", "second", "violates"),
    COERCION_CASES,
    ids=[
        "bigint-numeric-text",
        "bigint-garbage-text",
        "bigint-integral-double",
        "bigint-fractional-double",
        "bigint-bool",
        "double-exponent-text",
        "double-garbage-text",
        "bool-yes",
        "bool-maybe",
        "text-int",
        "text-dict-flattens",
        "timestamp-iso-text",
        "timestamp-garbage-text",
        "timestamp-unix-int",
        "nested-garbage",
        "nested-numeric-text",
        "json-garbage-text",
        "json-text",
    ],
)
def test_validator_agrees_with_dlt_normalizer(
    pipeline: dlt.Pipeline, first: dict[str, Any], second: dict[str, Any], violates: bool
) -> None:
    hints = JSON_HINT if isinstance(first.get("v"), dict) else None
    pipeline.extract([{"id": 1, **first}], table_name="probe", columns=hints)
    pipeline.normalize()
    validator = RecordValidator(["id"], hints, lambda: pipeline.default_schema, "probe")

    verdict = validator.check({"id": 2, **second})
    pipeline.extract([{"id": 2, **second}], table_name="probe", columns=hints)
    pipeline.normalize()

    columns = pipeline.default_schema.get_table("probe")["columns"]
    variants = [name for name, column in columns.items() if column.get("variant")]
    assert bool(variants) is violates
    assert (verdict is not None) is violates
