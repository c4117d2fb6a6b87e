"""Decoder of the ``pgoutput`` logical replication protocol, version 1 (text values).

Message layouts: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
Only what a consumer of one publication needs: Begin, Commit, Relation, Insert, Update,
Delete, Truncate and (``messages 'true'``, PostgreSQL 14+) logical decoding Message; Type
and Origin are read past.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Optional, Union

UNCHANGED_TOAST = object()
"""A TupleData 'u' column: a TOASTed value the update did not change (not sent)."""


@dataclass(frozen=True)
class Column:
    """One column of a Relation message."""

    name: str
    type_oid: int
    is_key: bool


@dataclass(frozen=True)
class Relation:
    """'R': the table a following change refers to (sent before its first change and
    again after its definition changes, e.g. ``ALTER TABLE ADD COLUMN``)."""

    relid: int
    namespace: str
    name: str
    replica_identity: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Begin:
    """'B': a transaction starts; ``final_lsn`` is its commit record's LSN."""

    final_lsn: int
    commit_ts: int
    xid: int


@dataclass(frozen=True)
class Commit:
    """'C': a transaction ends; ``end_lsn`` is where the slot resumes after it."""

    commit_lsn: int
    end_lsn: int
    commit_ts: int


@dataclass(frozen=True)
class Change:
    """'I', 'U' or 'D': one row changed.

    ``new`` is the new tuple (insert, update); ``old`` the key ('K') or full old row
    ('O', REPLICA IDENTITY FULL) of an update or delete, if sent. Values are text (or
    None, or :data:`UNCHANGED_TOAST`), in the relation's column order.
    """

    kind: str
    relid: int
    new: Optional[tuple[object, ...]]
    old: Optional[tuple[object, ...]]
    old_is_key: bool = False
    """The old tuple is 'K': only the key columns carry values (the rest are null)."""


@dataclass(frozen=True)
class Truncate:
    """'T': tables emptied."""

    relids: tuple[int, ...]


@dataclass(frozen=True)
class LogicalMessage:
    """'M': a ``pg_logical_emit_message`` record."""

    transactional: bool
    lsn: int
    prefix: str
    content: bytes


Message = Union[Begin, Commit, Relation, Change, Truncate, LogicalMessage, None]


class PgOutputError(ValueError):
    """A message this decoder cannot read (truncated, or a newer protocol)."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple[int, ...]:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise PgOutputError("pgoutput message truncated")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def num(self, fmt: str) -> int:
        return int(self.take(fmt)[0])

    def byte(self) -> str:
        return chr(self.num("!B"))

    def string(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise PgOutputError("pgoutput string not terminated")
        text = self.data[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return text

    def raw(self, length: int) -> bytes:
        if self.pos + length > len(self.data):
            raise PgOutputError("pgoutput message truncated")
        chunk = self.data[self.pos : self.pos + length]
        self.pos += length
        return chunk

    def tuple_data(self) -> tuple[object, ...]:
        values: list[object] = []
        for _ in range(self.num("!h")):
            kind = self.byte()
            if kind == "n":
                values.append(None)
            elif kind == "u":
                values.append(UNCHANGED_TOAST)
            elif kind in ("t", "b"):
                chunk = self.raw(self.num("!i"))
                values.append(chunk.decode("utf-8") if kind == "t" else chunk)
            else:
                raise PgOutputError(f"unknown TupleData column kind {kind!r}")
        return tuple(values)


def _relation(r: _Reader) -> Relation:
    relid, namespace, name = r.num("!I"), r.string(), r.string()
    identity = r.byte()
    columns = []
    for _ in range(r.num("!h")):
        flags, col_name, type_oid, _typmod = r.num("!B"), r.string(), r.num("!I"), r.num("!i")
        columns.append(Column(col_name, type_oid, bool(flags & 1)))
    return Relation(relid, namespace, name, identity, tuple(columns))


def _change(kind: str, r: _Reader) -> Change:
    relid = r.num("!I")
    old: Optional[tuple[object, ...]] = None
    new: Optional[tuple[object, ...]] = None
    marker = r.byte()
    old_is_key = marker == "K"
    if kind != "I" and marker in ("K", "O"):
        old = r.tuple_data()
        if kind == "U":
            marker = r.byte()
    if kind != "D":
        if marker != "N":
            raise PgOutputError(f"expected new tuple in {kind!r} message, got {marker!r}")
        new = r.tuple_data()
    return Change(kind, relid, new, old, old_is_key)


def decode(payload: bytes) -> Message:
    """Decodes one pgoutput message; None for the kinds a consumer skips (Type, Origin).

    Raises:
        PgOutputError: The message is truncated or of an unknown kind.
    """
    r = _Reader(payload)
    kind = r.byte()
    if kind == "B":
        return Begin(r.num("!Q"), r.num("!q"), r.num("!I"))
    if kind == "C":
        r.num("!B")
        return Commit(r.num("!Q"), r.num("!Q"), r.num("!q"))
    if kind == "R":
        return _relation(r)
    if kind in ("I", "U", "D"):
        return _change(kind, r)
    if kind == "T":
        count, _options = r.num("!I"), r.num("!B")
        return Truncate(tuple(r.num("!I") for _ in range(count)))
    if kind == "M":
        flags, lsn, prefix = r.num("!B"), r.num("!Q"), r.string()
        return LogicalMessage(bool(flags & 1), lsn, prefix, r.raw(r.num("!i")))
    if kind in ("Y", "O"):
        return None
    raise PgOutputError(f"unknown pgoutput message kind {kind!r}")


def format_lsn(lsn: int) -> str:
    """``X/Y`` text of an LSN, as PostgreSQL prints it."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """The integer of an ``X/Y`` LSN text."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)
