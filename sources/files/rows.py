"""One file's rows into the guard: provenance columns, dead letters with file and line."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Optional

from sources.kit.deadletters import DEFAULT_MAX_BATCH, RecordGuard

from .config import Drop
from .manifest import Listed
from .newest import Key, key_of, superseded
from .readers import ParsedRow, read_csv, read_jsonl, read_parquet
from .settings import EXTENSIONS, FILE_MODIFIED_AT, FILE_NAME, LINE, LOADED_AT, ROW_ORDER


@dataclass
class FileCounts:
    """What one file gave."""

    loaded: int = 0
    dead_lettered: int = 0
    superseded: int = 0


def file_format(drop: Drop, path: str) -> Optional[str]:
    """The drop's format, else the one its extension (after ``.gz``) names."""
    if drop.format:
        return drop.format
    stem = path[:-3] if path.lower().endswith(".gz") else path
    return EXTENSIONS.get(posixpath.splitext(stem)[1].lower())


def parse(
    drop: Drop, fmt: str, stream: IO[bytes]
) -> tuple[Optional[list[str]], Iterator[ParsedRow]]:
    """The header (None for JSONL) and the rows of a file.

    Raises:
        FileUnreadableError: The file as a whole cannot be parsed.
    """
    if fmt == "csv":
        header, rows = read_csv(
            stream, encoding=drop.encoding, delimiter=drop.delimiter, columns=drop.columns
        )
        return header, rows
    if fmt == "parquet":
        header, rows = read_parquet(stream, columns=drop.columns)
        return header, rows
    return None, read_jsonl(stream, encoding=drop.encoding, columns=drop.columns)


def guarded_rows(
    drop: Drop,
    listed: Listed,
    rows: Iterator[ParsedRow],
    guard: RecordGuard,
    *,
    loaded_at: datetime,
    newer: Mapping[Key, datetime],
    counts: FileCounts,
    order: Iterator[int],
) -> Iterator[Any]:
    """Yields batches of good rows and a dead letter per bad one, counting both."""
    batch: list[dict[str, Any]] = []
    for parsed in rows:
        where = f"{listed.path} line {parsed.line}"
        if parsed.values is None:
            counts.dead_lettered += 1
            yield from guard.reject(parsed.raw, f"{where}: {parsed.reason}")
            continue
        row = {
            **parsed.values,
            FILE_NAME: listed.path,
            FILE_MODIFIED_AT: listed.modified,
            LOADED_AT: loaded_at,
            LINE: parsed.line,
            ROW_ORDER: next(order),
        }
        record, reason = guard.admit(row)
        if record is None:
            counts.dead_lettered += 1
            yield from guard.reject(parsed.raw or row, f"{where}: {reason}")
            continue
        if drop.merges and superseded(newer, key_of(record, drop.primary_key), listed.modified):
            counts.superseded += 1
            continue
        batch.append(record)
        counts.loaded += 1
        if len(batch) >= DEFAULT_MAX_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
