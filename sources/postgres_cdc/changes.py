"""Turns decoded pgoutput messages into the rows merged into the destination.

Every row carries ``_pg_lsn`` (its change's WAL position: the XLogData start psycopg2
reports, ``ReplicationMessage.data_start``) and ``deleted``. Rows are whole: a value the
stream leaves out (an unchanged TOASTed column, the non-key columns of a delete without
``REPLICA IDENTITY FULL``) is taken from this run's newest row of that key, else from the
destination, because dlt's delete-insert merge replaces a row with what it is given.
TOAST: https://www.postgresql.org/docs/current/storage-toast.html ('u' in TupleData).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from . import pgoutput
from .settings import DELETED_COLUMN, LSN_COLUMN
from .values import parse_value

logger = logging.getLogger("sluice.postgres_cdc")

Row = dict[str, Any]
Key = tuple[Any, ...]
LoadedRows = Callable[[str, Sequence[str], Sequence[Key]], dict[Key, Row]]
"""Reads rows of given keys from the destination: (table, key columns, keys) -> rows."""
LoadedKeys = Callable[[str, Sequence[str]], list[Key]]
"""Keys of the live (not deleted) rows of a table in the destination."""


@dataclass
class TableShape:
    """What the stream knows of one replicated table."""

    name: str
    key: tuple[str, ...]
    columns: dict[str, int] = field(default_factory=dict)
    """Column name to type OID, in table order."""


@dataclass
class Emitted:
    """A row for ``table``; ``new_columns`` set when the table's columns changed."""

    table: str
    row: Row
    new_columns: Optional[dict[str, int]] = None


@dataclass
class ChangeApplier:
    """Folds the messages of one run into rows, transaction by transaction.

    Attributes:
        tables: The replicated tables by name.
        start_lsn: Transactions committing before it are in the destination already.
        loaded_rows: Destination reader for values the stream does not send.
        loaded_keys: Destination reader of live keys (truncates).
    """

    tables: dict[str, TableShape]
    start_lsn: int
    loaded_rows: LoadedRows
    loaded_keys: LoadedKeys
    relations: dict[int, pgoutput.Relation] = field(default_factory=dict)
    latest: dict[tuple[str, Key], Row] = field(default_factory=dict)
    pending_hints: dict[str, dict[str, int]] = field(default_factory=dict)
    skipping: bool = False
    committed_lsn: Optional[int] = None
    changes: int = 0

    def apply(self, data_start: int, message: pgoutput.Message) -> Iterator[Emitted]:
        """The rows one message yields (none for Begin, Commit and skipped transactions)."""
        if isinstance(message, pgoutput.Begin):
            # The slot resends from its confirmed position: skip what the state has loaded.
            self.skipping = message.final_lsn < self.start_lsn
        elif isinstance(message, pgoutput.Commit):
            if not self.skipping:
                self.committed_lsn = message.end_lsn
            self.skipping = False
        elif isinstance(message, pgoutput.Relation):
            yield from self._relation(message)
        elif self.skipping:
            return
        elif isinstance(message, pgoutput.Change):
            yield from self._change(data_start, message)
        elif isinstance(message, pgoutput.Truncate):
            yield from self._truncate(data_start, message)

    def _relation(self, relation: pgoutput.Relation) -> Iterator[Emitted]:
        self.relations[relation.relid] = relation
        shape = self.tables.get(relation.name)
        if shape is None:
            return
        added = {c.name: c.type_oid for c in relation.columns if c.name not in shape.columns}
        if added:
            logger.info("postgres_cdc %s: new column(s) %s", shape.name, ", ".join(added))
            shape.columns.update(added)
            # the column hints travel with the table's next row
            self.pending_hints.setdefault(shape.name, {}).update(added)
        yield from ()

    def _shape(self, relid: int) -> tuple[pgoutput.Relation, Optional[TableShape]]:
        relation = self.relations[relid]
        return relation, self.tables.get(relation.name)

    def _values(self, relation: pgoutput.Relation, values: Sequence[object]) -> Row:
        row: Row = {}
        for column, value in zip(relation.columns, values, strict=False):
            if value is pgoutput.UNCHANGED_TOAST:
                continue
            row[column.name] = parse_value(column.type_oid, value)
        return row

    def _key_of(self, shape: TableShape, row: Row) -> Key:
        return tuple(row.get(k) for k in shape.key)

    def _complete(self, shape: TableShape, row: Row, expected: Sequence[str]) -> Row:
        """Fills the ``expected`` columns the stream left out from the newest known version.

        ``expected``: the columns the change's relation has (a column added later is not
        missing from an older change).
        """
        missing = [c for c in expected if c not in row]
        if not missing:
            return row
        key = self._key_of(shape, row)
        known = self.latest.get((shape.name, key))
        if known is None:
            known = self.loaded_rows(shape.name, shape.key, [key]).get(key)
        if known is None:
            logger.warning(
                "postgres_cdc %s: no earlier version of key %s for column(s) %s",
                shape.name,
                key,
                ", ".join(missing),
            )
            return row
        return {**{c: known.get(c) for c in missing}, **row}

    def _emit(
        self, shape: TableShape, row: Row, lsn: int, deleted: bool, expected: Sequence[str]
    ) -> Emitted:
        full = self._complete(shape, row, expected)
        full[LSN_COLUMN] = lsn
        full[DELETED_COLUMN] = deleted
        self.latest[(shape.name, self._key_of(shape, full))] = full
        self.changes += 1
        hints = self.pending_hints.pop(shape.name, None)
        return Emitted(shape.name, full, hints)

    def _change(self, lsn: int, change: pgoutput.Change) -> Iterator[Emitted]:
        relation, shape = self._shape(change.relid)
        if shape is None:
            return
        expected = [c.name for c in relation.columns]
        old: Optional[Row] = None
        if change.old is not None:
            old = self._values(relation, change.old)
            if change.old_is_key:
                # a 'K' tuple sends nulls for the non-key columns: they are unknown, not null
                old = {k: v for k, v in old.items() if k in shape.key}
        if change.kind == "D":
            assert old is not None  # a delete always sends the key or the old row
            yield self._emit(shape, old, lsn, True, expected)
            return
        assert change.new is not None
        new = self._values(relation, change.new)
        if old is not None and self._key_of(shape, old) != self._key_of(shape, new):
            # the key changed: the old key's row is gone
            yield self._emit(shape, old, lsn, True, expected)
        yield self._emit(shape, new, lsn, False, expected)

    def _truncate(self, lsn: int, truncate: pgoutput.Truncate) -> Iterator[Emitted]:
        for relid in truncate.relids:
            relation = self.relations.get(relid)
            shape = self.tables.get(relation.name) if relation else None
            if shape is None:
                continue
            keys = set(self.loaded_keys(shape.name, shape.key))
            keys.update(
                k
                for (t, k), row in self.latest.items()
                if t == shape.name and not row[DELETED_COLUMN]
            )
            logger.info("postgres_cdc %s: truncated, %d row(s) deleted", shape.name, len(keys))
            for key in sorted(keys, key=repr):
                row = dict(zip(shape.key, key, strict=True))
                yield self._emit(shape, row, lsn, True, list(shape.columns))
