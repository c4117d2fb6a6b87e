"""The diff: what a run sends per mode, from the rows and the state."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.sync import plan_lines
from sources.kit.reverse.engine import SyncResult
from sources.kit.reverse.plan import (
    CREATE,
    DELETE,
    UPDATE,
    Op,
    StateEntry,
    batches,
    build_plan,
    map_row,
    value_hash,
)
from sources.kit.reverse.spec import SyncSpec, parse_sync
from sources.stripe.reverse import TOKEN_KEY, form_fields, idempotency_key


def spec(mode: str = "upsert", token: bool = False) -> SyncSpec:
    source: dict[str, Any] = {"table": "t"}
    if token:
        source["token_column"] = "tok"
    return parse_sync(
        {
            "name": "s",
            "mode": mode,
            "source": source,
            "target": {"connector": "salesforce", "object": "Account"},
            "key": {"column": "k", "field": "Ext__c"},
            "fields": [
                {"source": "name", "target": "Name", "transform": "upper"},
                {"source": "n", "target": "Count"},
            ],
        }
    )


def state_of(rows: list[dict[str, Any]], mode: str = "upsert") -> dict[str, StateEntry]:
    s = spec(mode)
    out = {}
    for row in rows:
        payload = map_row(s, row)
        out[str(row["k"])] = StateEntry(
            value_hash(str(row["k"]), payload), payload, f"id{row['k']}"
        )
    return out


ROWS = [{"k": 1, "name": "a", "n": 1}, {"k": 2, "name": "b", "n": 2}]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("upsert", [(CREATE, "3"), (UPDATE, "2")]),
        ("update", [(CREATE, "3"), (UPDATE, "2")]),
        ("append", [(CREATE, "3")]),
        ("mirror", [(CREATE, "3"), (UPDATE, "2"), (DELETE, "1")]),
    ],
    ids=["upsert", "update", "append", "mirror"],
)
def test_only_new_changed_and_for_mirror_vanished_rows_are_sent(
    mode: str, expected: list[tuple[str, str]]
) -> None:
    rows = [{"k": 2, "name": "b", "n": 20}, {"k": 3, "name": "c", "n": 3}]
    plan = build_plan(spec(mode), rows, state_of(ROWS))
    assert [(op.kind, op.key) for op in plan.ops] == expected


def test_nothing_changed_sends_nothing() -> None:
    plan = build_plan(spec(), ROWS, state_of(ROWS))
    assert (plan.ops, plan.unchanged) == ([], 2)


def test_a_matching_change_token_adopts_the_row_without_sending() -> None:
    payload = map_row(spec(), ROWS[0])
    token = value_hash("1", payload)[:16]
    rows = [{**ROWS[0], "tok": token}, {**ROWS[1], "tok": "stale"}]
    plan = build_plan(spec(token=True), rows, {})
    assert [op.key for op in plan.adopted] == ["1"]
    assert [(op.kind, op.key) for op in plan.ops] == [(CREATE, "2")]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"k": None, "name": "a", "n": 1}, "key column k is null"),
        ({"k": 1, "name": 5, "n": 1}, "mapping failed"),
    ],
    ids=["null-key", "transform"],
)
def test_unmappable_rows_are_rejected_not_sent(row: dict[str, Any], reason: str) -> None:
    plan = build_plan(spec(), [row], {})
    assert plan.ops == [] and reason in plan.rejected[0][1]


def test_a_duplicated_key_is_sent_once() -> None:
    plan = build_plan(spec(), [ROWS[0], dict(ROWS[0])], {})
    assert len(plan.ops) == 1 and "duplicated" in plan.rejected[0][1]


def test_changed_fields_and_the_dry_run_lines() -> None:
    rows = [{"k": 2, "name": "b", "n": 20}, {"k": 3, "name": "c", "n": 3}]
    plan = build_plan(spec("mirror"), rows, state_of(ROWS))
    assert plan.ops[1].changed_fields() == {"Count": (2, 20)}
    lines = plan_lines(SyncResult("s", "r", plan, dry_run=True))
    assert lines[0].startswith("sync s: would send 1 create(s), 1 update(s), 1 delete(s)")
    assert "  update 2: Count: 2 -> 20" in lines
    assert "  create 3: Count: null -> 3, Name: null -> 'C'" in lines
    assert "  delete 1: delete record" in lines


def test_batches_hold_one_kind_and_at_most_the_size() -> None:
    ops = [Op(CREATE, str(i), {}, "h") for i in range(5)] + [Op(DELETE, "9", {}, "h")]
    assert [len(b) for b in batches(ops, 2)] == [2, 2, 1, 1]


def test_stripe_idempotency_key_is_stable_and_changes_with_the_values() -> None:
    one = Op(UPDATE, "cus_1", {"metadata.a": "1"}, value_hash("cus_1", {"metadata.a": "1"}))
    same = Op(UPDATE, "cus_1", {"metadata.a": "1"}, value_hash("cus_1", {"metadata.a": "1"}))
    other = Op(UPDATE, "cus_1", {"metadata.a": "2"}, value_hash("cus_1", {"metadata.a": "2"}))
    assert idempotency_key("s", one) == idempotency_key("s", same)
    assert idempotency_key("s", one) != idempotency_key("s", other)
    assert form_fields({"metadata.a": 1, "email": "x@y"}, "tok") == {
        "metadata[a]": "1",
        "email": "x@y",
        f"metadata[{TOKEN_KEY}]": "tok",
    }
    assert form_fields({"metadata.a": 1}, "", unset=True)["metadata[a]"] == ""
