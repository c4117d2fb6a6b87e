"""Dead-letter rows, the dlt items that route them, and RecordGuard."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, Optional

import pytest
from dlt.extract.hints import HintsMeta
from dlt.extract.items import DataItemWithMeta, TableNameMeta

from sources.kit.deadletters import (
    DEAD_LETTER_COLUMNS,
    DEAD_LETTERS_TABLE,
    RecordGuard,
    contract_for_dead_letters,
    dead_letter_columns_item,
    dead_letter_id,
    dead_letter_item,
    dead_letter_row,
    is_dead_letter_row,
    payload_text,
    record_id_of,
    register_replay_mapper,
    replay_mapper_for,
    route_dead_letters,
    unregister_replay_mapper,
)
from sources.kit.redact import Redactor
from sources.kit.validation import RecordValidator

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
LATER = datetime(2024, 5, 2, 12, 0, tzinfo=timezone.utc)
SECRET = "sk_live_abcdefghijkl1234"
DECLARED: dict[str, Any] = {"amount": {"data_type": "bigint"}}


def row_for(payload: Any, reason: str = "primary key 'id' is missing", **overrides: Any) -> dict:
    fields: dict[str, Any] = {
        "source": "stripe",
        "resource": "charges",
        "table_name": "charges",
        "payload": payload,
        "reason": reason,
        "run_id": "run-1",
        "primary_key": ["id"],
        "write_disposition": "merge",
        "redactor": Redactor([SECRET]),
        "now": lambda: NOW,
    }
    fields.update(overrides)
    return dead_letter_row(**fields)


def explode(record: dict[str, Any]) -> dict[str, Any]:
    if record.get("explode"):
        raise KeyError(f"no mapping for {SECRET}")
    return {**record, "mapped": True}


def guard(
    mapper: Any = explode,
    on_dead_letter: Optional[Any] = None,
    validator: Optional[RecordValidator] = None,
) -> RecordGuard:
    return RecordGuard(
        "stripe",
        "charges",
        "charges",
        validator or RecordValidator(["id"], DECLARED, None, "charges"),
        mapper,
        run_id="run-1",
        primary_key=["id"],
        write_disposition="merge",
        redactor=Redactor([SECRET]),
        on_dead_letter=on_dead_letter,
        now=lambda: NOW,
    )


def dead_letters(items: list[Any]) -> list[dict[str, Any]]:
    return [item.data for item in items if isinstance(item, DataItemWithMeta) and item.data]


class TestDeadLetterRow:
    def test_has_exactly_the_declared_columns(self) -> None:
        row = row_for({"id": "ch_1", "amount": 1})

        assert list(row) == list(DEAD_LETTER_COLUMNS)
        assert row["failed_at"] == NOW
        assert (row["source"], row["resource"], row["table_name"]) == ("stripe",) + ("charges",) * 2
        assert (row["primary_key"], row["write_disposition"], row["run_id"]) == (
            "id",
            "merge",
            "run-1",
        )

    @pytest.mark.parametrize(
        ("payload", "raw_payload"),
        [
            ({"id": "ch_1", "amount": 1}, '{"id":"ch_1","amount":1}'),
            ('{"id": "ch_1", ', '{"id": "ch_1", '),
            (b'{"id":"ch_1"}', '{"id":"ch_1"}'),
            ([1, 2], "[1,2]"),
            ({1, 2}, "{1, 2}"),
        ],
        ids=["dict", "broken-json-text", "bytes", "list", "not-serializable"],
    )
    def test_raw_payload_is_the_record_as_received(self, payload: Any, raw_payload: str) -> None:
        assert row_for(payload)["raw_payload"] == raw_payload

    def test_id_is_deterministic_across_runs_and_times(self) -> None:
        first = row_for({"id": "ch_1"})
        again = row_for({"id": "ch_1"}, run_id="run-2", now=lambda: LATER)

        assert first["dead_letter_id"] == again["dead_letter_id"]
        assert len(first["dead_letter_id"]) == 64

    @pytest.mark.parametrize(
        "change",
        [
            {"payload": {"id": "ch_2"}},
            {"reason": "another reason"},
            {"source": "other"},
            {"resource": "refunds"},
        ],
        ids=["payload", "reason", "source", "resource"],
    )
    def test_id_changes_with_identity_fields(self, change: dict[str, Any]) -> None:
        base = row_for({"id": "ch_1"})
        fields = {"payload": {"id": "ch_1"}, **change}

        assert row_for(**fields)["dead_letter_id"] != base["dead_letter_id"]

    def test_id_is_sha256_of_source_resource_payload_reason(self) -> None:
        row = row_for({"id": "ch_1"})

        expected = dead_letter_id("stripe", "charges", row["raw_payload"], row["reason"])
        assert row["dead_letter_id"] == expected

    def test_registered_secret_is_masked_everywhere(self) -> None:
        row = row_for(
            {"id": SECRET, "card": {"token": SECRET}},
            reason=f"mapping failed: KeyError: {SECRET}",
        )

        assert SECRET not in repr(row)
        assert row["raw_payload"] == '{"id":"sk_live_****","card":{"token":"sk_live_****"}}'
        assert row["record_id"] == "sk_live_****"
        assert row["reason"] == "mapping failed: KeyError: sk_live_****"

    def test_reason_is_one_line(self) -> None:
        assert row_for({}, reason="line one\n  line two")["reason"] == "line one line two"

    @pytest.mark.parametrize(
        ("payload", "primary_key", "record_id"),
        [
            ({"id": 7}, ["id"], "7"),
            ({"a": 1, "b": "x"}, ["a", "b"], "1,x"),
            ({"a": 1}, ["a", "b"], None),
            ({"id": None}, ["id"], None),
            ("text", ["id"], None),
            ('{"id": "ch_9"}', ["id"], "ch_9"),
            ({"id": 7}, [], None),
        ],
        ids=["single", "compound", "partial", "null", "not-a-dict", "json-text", "no-key"],
    )
    def test_record_id(self, payload: Any, primary_key: list[str], record_id: Any) -> None:
        assert record_id_of(payload, primary_key) == record_id

    @pytest.mark.parametrize(
        ("primary_key", "stored"),
        [("id", "id"), (["a", "b"], "a,b"), ("a, b", "a,b"), ([], None)],
        ids=["str", "list", "comma-str", "none"],
    )
    def test_primary_key_is_comma_joined(self, primary_key: Any, stored: Any) -> None:
        assert row_for({}, primary_key=primary_key)["primary_key"] == stored


class TestItems:
    def test_item_routes_the_row_to_a_fresh_table_variant(self) -> None:
        row = row_for({"id": "ch_1"})

        item = dead_letter_item(row)

        assert isinstance(item.meta, HintsMeta) and item.meta.create_table_variant
        hints = item.meta.hints
        assert item.data == row
        assert (hints["table_name"], hints["write_disposition"]) == (DEAD_LETTERS_TABLE, "merge")
        assert (hints["primary_key"], hints["merge_key"]) == ("dead_letter_id", "")
        assert hints["columns"] == {}
        assert hints["schema_contract"] == contract_for_dead_letters()

    def test_item_builds_the_row_from_fields(self) -> None:
        item = dead_letter_item(
            source="stripe",
            resource="charges",
            table_name="charges",
            payload={"id": "ch_1"},
            reason="bad",
            run_id="run-1",
            primary_key="id",
            write_disposition="merge",
            now=lambda: NOW,
        )

        assert item.data["record_id"] == "ch_1"
        assert is_dead_letter_row(item.data)

    def test_item_refuses_a_row_and_fields(self) -> None:
        with pytest.raises(TypeError):
            dead_letter_item(row_for({}), reason="x")  # type: ignore[call-overload]

    def test_columns_item_declares_types_and_carries_no_rows(self) -> None:
        item = dead_letter_columns_item()

        assert item.data == []
        declared = {
            name: column["data_type"] for name, column in item.meta.hints["columns"].items()
        }
        assert declared == {
            name: column["data_type"] for name, column in DEAD_LETTER_COLUMNS.items()
        }

    @pytest.mark.parametrize(
        ("item", "expected"),
        [
            (row_for({}), True),
            ({"dead_letter_id": "x"}, False),
            ({"id": 1}, False),
            ("text", False),
        ],
        ids=["row", "partial", "record", "text"],
    )
    def test_is_dead_letter_row(self, item: Any, expected: bool) -> None:
        assert is_dead_letter_row(item) is expected

    def test_contract_freezes_data_types_only(self) -> None:
        assert contract_for_dead_letters() == {
            "tables": "evolve",
            "columns": "evolve",
            "data_type": "freeze",
        }


class TestRecordGuard:
    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            ({"amount": 1}, "primary key 'id' is missing"),
            (
                {"id": "ch_1", "amount": "12.3x"},
                "column 'amount': text value is not coercible to bigint",
            ),
            ('{"id": "ch_1", ', "unparseable JSON: unexpected end of data"),
            (
                {"id": "ch_1", "explode": True},
                "mapping failed: KeyError: 'no mapping for sk_live_****'",
            ),
            ([1], "expected a JSON object, got array"),
        ],
        ids=["missing-pk", "wrong-type", "unparseable-json", "mapper-raises", "not-an-object"],
    )
    def test_bad_records_become_dead_letters(self, raw: Any, reason: str) -> None:
        items = list(guard().filter([raw]))

        [letter] = dead_letters(items)
        assert letter["reason"].startswith(reason)
        assert letter["raw_payload"] == row_for(raw)["raw_payload"]

    def test_good_records_are_mapped_and_yielded_in_order(self) -> None:
        records = [{"id": "a", "amount": 1}, '{"id": "b", "amount": "2"}']

        items = list(guard().filter(records))

        assert items == [
            {"id": "a", "amount": 1, "mapped": True},
            {"id": "b", "amount": "2", "mapped": True},
        ]

    def test_first_dead_letter_declares_the_table_later_ones_only_name_it(self) -> None:
        items = list(guard().filter([{"amount": 1}, {"id": "a"}, {"amount": 2}]))

        kinds = [
            type(item.meta).__name__ if isinstance(item, DataItemWithMeta) else "record"
            for item in items
        ]
        assert kinds == ["HintsMeta", "HintsMeta", "record", "TableNameMeta"]
        assert items[1].data == [] and items[1].meta.hints["columns"]
        assert isinstance(items[3].meta, TableNameMeta)
        assert items[3].meta.table_name == DEAD_LETTERS_TABLE

    def test_batches_group_good_records_between_dead_letters(self) -> None:
        records = [{"id": "a"}, {"id": "b"}, {"amount": 1}, {"id": "c"}]

        items = list(guard(mapper=None).batches(records))

        assert items[0] == [{"id": "a"}, {"id": "b"}]
        assert [type(item).__name__ for item in items[1:3]] == ["DataItemWithMeta"] * 2
        assert items[3] == [{"id": "c"}]

    def test_batches_are_capped(self) -> None:
        records = [{"id": str(n)} for n in range(5)]

        items = list(guard(mapper=None).batches(records, max_batch=2))

        assert [len(item) for item in items] == [2, 2, 1]

    def test_batches_look_the_schema_up_once_per_batch_not_per_record(self) -> None:
        lookups: list[int] = []

        def schema() -> None:
            lookups.append(1)

        validator = RecordValidator(["id"], DECLARED, schema, "charges")
        records = [{"id": str(n)} for n in range(50)]

        items = list(guard(mapper=None, validator=validator).batches(records, max_batch=20))

        assert [len(item) for item in items] == [20, 20, 10]
        # once at the start, then again after each yield (dlt may have changed it)
        assert len(lookups) == 3

    def test_counts_and_reports_each_dead_letter(self) -> None:
        reasons: list[str] = []
        watched = guard(on_dead_letter=reasons.append)

        list(watched.filter([{"amount": 1}, {"id": "a"}, {"id": "b", "explode": True}]))

        assert watched.dead_lettered == 2
        assert reasons == [
            "primary key 'id' is missing",
            "mapping failed: KeyError: 'no mapping for sk_live_****'",
        ]

    def test_logs_one_redacted_warning_without_payload(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.WARNING, logger="sources.kit.deadletters")

        list(guard().filter([{"id": SECRET, "explode": True, "card": "4242-payload-marker"}]))

        [record] = caplog.records
        assert record.levelno == logging.WARNING
        assert "mapping failed" in record.getMessage()
        assert SECRET not in caplog.text
        assert "4242-payload-marker" not in caplog.text

    def test_count_is_thread_safe(self) -> None:
        shared = guard(mapper=None)
        bad = [{"amount": n} for n in range(200)]

        def drain() -> None:
            for _ in shared.filter(bad):
                pass

        threads = [threading.Thread(target=drain) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert shared.dead_lettered == 1600

    def test_repr_hides_everything_but_names_and_count(self) -> None:
        assert repr(guard()) == "RecordGuard(source='stripe', resource='charges', dead_lettered=0)"


class TestReplayMappers:
    @pytest.fixture
    def registered(self) -> Iterator[None]:
        register_replay_mapper("stripe", "charges", dict)
        yield
        unregister_replay_mapper("stripe", "charges")

    def test_registered_mapper_is_found_by_source_and_resource(self, registered: None) -> None:
        assert replay_mapper_for("stripe", "charges") is dict
        assert replay_mapper_for("stripe", "refunds") is None

    def test_unregister_removes_it(self, registered: None) -> None:
        unregister_replay_mapper("stripe", "charges")

        assert replay_mapper_for("stripe", "charges") is None


@pytest.mark.parametrize(
    ("payload", "text"),
    [("raw", "raw"), (b"\xffok", "\ufffdok"), ({"a": NOW}, '{"a":"2024-05-01T12:00:00+00:00"}')],
    ids=["str", "invalid-utf8", "datetime"],
)
def test_payload_text(payload: Any, text: str) -> None:
    assert payload_text(payload) == text


@pytest.mark.parametrize(
    ("payload", "raw_payload"),
    [
        (
            {"url": "http://host", "email": "me@example.com", "key": SECRET},
            '{"url":"http://host","email":"me@example.com","key":"sk_live_****"}',
        ),
        (
            '{"url": "http://host", "email": "me@example.com", "key": "' + SECRET + '"}',
            '{"url":"http://host","email":"me@example.com","key":"sk_live_****"}',
        ),
        ('{"untouched":  "spacing kept"}', '{"untouched":  "spacing kept"}'),
        (f"not json {SECRET}", "not json sk_live_****"),
    ],
    ids=["decoded", "json-text-with-secret", "json-text-without-secret", "plain-text"],
)
def test_masking_keeps_json_payloads_valid(payload: Any, raw_payload: str) -> None:
    assert row_for(payload)["raw_payload"] == raw_payload


@pytest.mark.parametrize(
    ("item", "table"),
    [(row_for({}), DEAD_LETTERS_TABLE), ({"type": "charge"}, "charge")],
    ids=["dead-letter", "record"],
)
def test_route_dead_letters_wraps_dynamic_table_names(item: Any, table: str) -> None:
    route = route_dead_letters(lambda record: record["type"])

    assert route(item) == table
