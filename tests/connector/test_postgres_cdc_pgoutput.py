"""The pgoutput decoder against what a real server sends (SQL interface of the slot)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest

from sources.postgres_cdc import pgoutput
from tests.postgres_server import PostgresServer

pytestmark = [pytest.mark.postgres]


class Slot:
    """A cursor on a database with a pgoutput slot of that name."""

    def __init__(self, cursor: Any, name: str) -> None:
        self.cursor, self.name = cursor, name

    def execute(self, statement: str) -> None:
        self.cursor.execute(statement)


@pytest.fixture
def cur(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[Slot]:
    name = "po_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    con = psycopg2.connect(postgres_server.create_database(name))
    con.autocommit = True
    with con.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE t (id int PRIMARY KEY, small text, big text);"
            "ALTER TABLE t ALTER COLUMN big SET STORAGE EXTERNAL;"
            "CREATE PUBLICATION p FOR TABLE t;"
        )
        cursor.execute(f"SELECT pg_create_logical_replication_slot('{name}', 'pgoutput')")
        yield Slot(cursor, name)
        cursor.execute(f"SELECT pg_drop_replication_slot('{name}')")
    con.close()


def changes(slot: Slot) -> list[pgoutput.Message]:
    # https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-REPLICATION
    cur = slot.cursor
    cur.execute(
        "SELECT data FROM pg_logical_slot_get_binary_changes(%s, NULL, NULL,"
        " 'proto_version', '1', 'publication_names', 'p', 'messages', 'true')",
        (slot.name,),
    )
    return [pgoutput.decode(bytes(row[0])) for row in cur.fetchall()]


def test_insert_update_delete_truncate_and_messages_decode(cur: Slot) -> None:
    big = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(200))
    cur.execute(f"INSERT INTO t VALUES (1, 'a', '{big}'), (2, NULL, 'b')")
    cur.execute("UPDATE t SET small = 'z' WHERE id = 1")
    cur.execute("DELETE FROM t WHERE id = 2")
    cur.execute("SELECT pg_logical_emit_message(true, 'sluice_cdc', 'run-1')")
    cur.execute("TRUNCATE t")
    messages = [m for m in changes(cur) if m is not None]

    kinds = [type(m).__name__ for m in messages]
    assert kinds.count("Begin") == kinds.count("Commit") == 5
    relation = next(m for m in messages if isinstance(m, pgoutput.Relation))
    assert (relation.name, [c.name for c in relation.columns]) == ("t", ["id", "small", "big"])
    assert [c.is_key for c in relation.columns] == [True, False, False]
    rows = [m for m in messages if isinstance(m, pgoutput.Change)]
    assert [(r.kind, r.new) for r in rows[:2]] == [("I", ("1", "a", big)), ("I", ("2", None, "b"))]
    update, delete = rows[2], rows[3]
    # the TOASTed column the update did not touch is not sent
    assert update.new == ("1", "z", pgoutput.UNCHANGED_TOAST) and update.old is None
    assert delete.kind == "D" and delete.old_is_key and delete.old == ("2", None, None)
    marker = next(m for m in messages if isinstance(m, pgoutput.LogicalMessage))
    assert (marker.prefix, marker.content, marker.transactional) == ("sluice_cdc", b"run-1", True)
    truncate = next(m for m in messages if isinstance(m, pgoutput.Truncate))
    assert truncate.relids == (relation.relid,)
    commits = [m for m in messages if isinstance(m, pgoutput.Commit)]
    assert all(c.end_lsn > c.commit_lsn for c in commits)


def test_replica_identity_full_sends_the_old_row(cur: Slot) -> None:
    cur.execute("ALTER TABLE t REPLICA IDENTITY FULL")
    cur.execute("INSERT INTO t VALUES (1, 'a', 'b')")
    cur.execute("UPDATE t SET small = 'z' WHERE id = 1")
    update = [m for m in changes(cur) if isinstance(m, pgoutput.Change)][-1]
    assert (update.old, update.old_is_key, update.new) == (("1", "a", "b"), False, ("1", "z", "b"))


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"B\x00", "truncated"),
        (b"X", "unknown pgoutput message kind"),
        (b"R\x00\x00\x00\x01ns", "not terminated"),
    ],
    ids=["truncated", "unknown_kind", "unterminated_string"],
)
def test_bad_messages_raise_one_line(payload: bytes, error: str) -> None:
    with pytest.raises(pgoutput.PgOutputError, match=error):
        pgoutput.decode(payload)


@pytest.mark.parametrize("text", ["0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF"])
def test_lsn_text_round_trips(text: str) -> None:
    assert pgoutput.format_lsn(pgoutput.parse_lsn(text)) == text
