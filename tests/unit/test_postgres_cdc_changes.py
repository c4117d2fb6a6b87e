"""ChangeApplier: decoded pgoutput messages to whole rows, without a server."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from sources.postgres_cdc import pgoutput
from sources.postgres_cdc.changes import ChangeApplier, Key, Row, TableShape
from sources.postgres_cdc.values import column_hint, parse_value

TEXT, INT = 25, 23
RELATION = pgoutput.Relation(
    7,
    "public",
    "t",
    "d",
    (
        pgoutput.Column("id", INT, True),
        pgoutput.Column("a", TEXT, False),
        pgoutput.Column("b", TEXT, False),
    ),
)
U = pgoutput.UNCHANGED_TOAST


class Loaded:
    """A destination stand-in: rows by key, and which lookups were asked."""

    def __init__(self, rows: dict[Key, Row]) -> None:
        self.rows = rows
        self.asked: list[Key] = []

    def rows_of(self, table: str, key: Sequence[str], keys: Sequence[Key]) -> dict[Key, Row]:
        self.asked.extend(keys)
        return {k: self.rows[k] for k in keys if k in self.rows}

    def keys_of(self, table: str, key: Sequence[str]) -> list[Key]:
        return list(self.rows)


def applier(loaded: Loaded, start_lsn: int = 0) -> ChangeApplier:
    shape = TableShape("t", ("id",), {"id": INT, "a": TEXT, "b": TEXT})
    return ChangeApplier({"t": shape}, start_lsn, loaded.rows_of, loaded.keys_of)


def run(
    app: ChangeApplier, *changes: Any, final_lsn: int = 100
) -> list[tuple[Row, dict[str, int] | None]]:
    out: list[tuple[Row, dict[str, int] | None]] = []
    messages = [
        pgoutput.Begin(final_lsn, 0, 1),
        RELATION,
        *changes,
        pgoutput.Commit(final_lsn, final_lsn + 8, 0),
    ]
    for lsn, message in enumerate(messages, start=final_lsn - len(messages)):
        out.extend((e.row, e.new_columns) for e in app.apply(lsn, message))
    return out


def rows(result: list[tuple[Row, Any]]) -> list[tuple[Any, ...]]:
    return [(r["id"], r.get("a"), r.get("b"), r["deleted"]) for r, _ in result]


def test_unchanged_toast_comes_from_this_run_then_from_the_destination() -> None:
    loaded = Loaded({(2,): {"id": 2, "a": "x", "b": "loaded-big"}})
    app = applier(loaded)
    out = run(
        app,
        pgoutput.Change("I", 7, ("1", "a", "big"), None),
        pgoutput.Change("U", 7, ("1", "a2", U), None),
        pgoutput.Change("U", 7, ("2", "y", U), None),
    )
    assert rows(out) == [
        (1, "a", "big", False),
        (1, "a2", "big", False),
        (2, "y", "loaded-big", False),
    ]
    assert loaded.asked == [(2,)]  # key 1 was known from this run
    assert app.committed_lsn == 108


def test_key_only_delete_keeps_the_row_values_for_the_soft_delete() -> None:
    app = applier(Loaded({(3,): {"id": 3, "a": "p", "b": "q"}}))
    out = run(app, pgoutput.Change("D", 7, None, ("3", None, None), old_is_key=True))
    assert rows(out) == [(3, "p", "q", True)]


def test_full_identity_delete_uses_the_old_row_as_sent() -> None:
    loaded = Loaded({})
    out = run(applier(loaded), pgoutput.Change("D", 7, None, ("3", None, "q"), old_is_key=False))
    assert rows(out) == [(3, None, "q", True)] and loaded.asked == []


def test_key_change_deletes_the_old_key() -> None:
    app = applier(Loaded({(1,): {"id": 1, "a": "a", "b": "b"}}))
    out = run(app, pgoutput.Change("U", 7, ("9", "a", "b"), ("1", None, None), old_is_key=True))
    assert rows(out) == [(1, "a", "b", True), (9, "a", "b", False)]


def test_transactions_before_the_start_lsn_are_skipped() -> None:
    app = applier(Loaded({}), start_lsn=500)
    assert run(app, pgoutput.Change("I", 7, ("1", "a", "b"), None), final_lsn=400) == []
    assert app.committed_lsn is None
    assert rows(run(app, pgoutput.Change("I", 7, ("2", "a", "b"), None), final_lsn=500)) == [
        (2, "a", "b", False)
    ]


def test_truncate_deletes_loaded_and_this_runs_keys() -> None:
    app = applier(Loaded({(1,): {"id": 1, "a": "a", "b": "b"}}))
    out = run(app, pgoutput.Change("I", 7, ("2", "c", "d"), None), pgoutput.Truncate((7,)))
    assert rows(out) == [(2, "c", "d", False), (1, "a", "b", True), (2, "c", "d", True)]
    assert out[-1][0]["_pg_lsn"] > out[0][0]["_pg_lsn"]


def test_added_column_hints_travel_with_the_next_row() -> None:
    app = applier(Loaded({}))
    run(app, pgoutput.Change("I", 7, ("1", "a", "b"), None))
    wider = pgoutput.Relation(
        7, "public", "t", "d", (*RELATION.columns, pgoutput.Column("c", INT, False))
    )
    out = run(
        app,
        wider,
        pgoutput.Change("I", 7, ("2", "a", "b", "5"), None),
        pgoutput.Change("I", 7, ("3", "a", "b", None), None),
        final_lsn=200,
    )
    assert [hints for _, hints in out] == [{"c": INT}, None]
    assert out[0][0]["c"] == 5


@pytest.mark.parametrize(
    ("oid", "text", "value"),
    [
        (16, "t", True),
        (16, "true", True),
        (16, "f", False),
        (20, "12", 12),
        (1700, "1.50", Decimal("1.50")),
        (1184, "2026-01-02 03:04:05+00", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)),
        (3802, '{"a": [1]}', {"a": [1]}),
        (17, "\\x0aff", b"\n\xff"),
        (1082, "infinity", "infinity"),
        (25, None, None),
        (9999, "anything", "anything"),
    ],
    ids=[
        "bool_t",
        "bool_true",
        "bool_f",
        "int8",
        "numeric",
        "timestamptz",
        "jsonb",
        "bytea",
        "infinity_date",
        "null",
        "unknown_type",
    ],
)
def test_values_parse_as_postgres_writes_them(oid: int, text: Any, value: Any) -> None:
    assert parse_value(oid, text) == value


def test_timestamptz_hint_keeps_the_timezone() -> None:
    assert column_hint(1184) == {"data_type": "timestamp", "timezone": True}
    assert column_hint(9999) == {"data_type": "text"}


def test_monitor_figures_become_ledger_columns_of_their_resource() -> None:
    from sources.kit.monitor import SyncMonitor

    monitor = SyncMonitor("postgres_cdc", "run-1", clock=lambda: 1000.0)
    monitor.expect(["customers", "postgres_cdc"])
    monitor.figures("postgres_cdc", slot_lag_bytes=4096, slot_lag_alert=False)
    rows = {r["resource"]: r for r in monitor.ledger_rows("success")}
    assert rows["postgres_cdc"]["slot_lag_bytes"] == 4096
    assert rows["postgres_cdc"]["slot_lag_alert"] is False
    assert "slot_lag_bytes" not in rows["customers"]
