"""Readers that tell, for each row of a dropped file, its line and what is wrong with it.

dlt's own readers (``dlt.sources.filesystem.readers``: pandas ``read_csv``, ``read_jsonl``,
pyarrow ``read_parquet``) yield whole chunks and stop on the first bad row, so they cannot
say which line failed; these parse row by row and let a bad row through as a reason.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Optional

import pyarrow.parquet as pq
from dlt.common.json import json

from .coerce import coerce_row

BAD_BYTE = "\udc80"
"""Undecodable bytes become lone surrogates (``surrogateescape``) from here up."""


@dataclass(frozen=True)
class ParsedRow:
    """One row of a file.

    Attributes:
        line: 1-based line (CSV, JSONL: where the record starts; Parquet: row number).
        raw: The row's text as in the file (bad bytes shown as U+FFFD).
        values: The parsed row, or None when it is malformed.
        reason: Why it is malformed (no values in it).
    """

    line: int
    raw: str
    values: Optional[dict[str, Any]]
    reason: Optional[str] = None


class FileUnreadableError(Exception):
    """The file as a whole cannot be parsed (not Parquet, no header)."""


def has_bad_bytes(text: str) -> bool:
    """Whether decoding with ``surrogateescape`` met bytes invalid in the encoding."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def shown(text: str) -> str:
    """Text for ``raw_payload``: undecodable bytes as U+FFFD, no line ending."""
    cleaned = "".join("\ufffd" if "\udc80" <= ch <= "\udcff" else ch for ch in text)
    return cleaned.rstrip("\r\n")


class _Lines:
    """Decoded physical lines, remembering those the CSV reader consumed for one record."""

    def __init__(self, stream: IO[bytes], encoding: str) -> None:
        self._text = io.TextIOWrapper(
            stream, encoding=encoding, errors="surrogateescape", newline=""
        )
        self.taken: list[str] = []
        self.number = 0

    def __iter__(self) -> Iterator[str]:
        for line in self._text:
            self.number += 1
            self.taken.append(line)
            yield line

    def take(self) -> str:
        text = "".join(self.taken)
        self.taken = []
        return text


def read_csv(
    stream: IO[bytes],
    *,
    encoding: str,
    delimiter: str,
    columns: Mapping[str, str],
) -> tuple[list[str], Iterator[ParsedRow]]:
    """The header and the rows of a CSV file (RFC 4180 quoting, multi-line fields).

    Raises:
        FileUnreadableError: The file has no header line.
    """
    lines = _Lines(stream, encoding)
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise FileUnreadableError("empty file, no header line") from None
    except csv.Error as exc:
        raise FileUnreadableError(f"unreadable header: {exc}") from None
    lines.take()
    if has_bad_bytes("".join(header)):
        raise FileUnreadableError(f"header is not valid {encoding}")
    names = [name.strip() for name in header]
    return names, _csv_rows(reader, lines, names, encoding, columns)


def _csv_rows(
    reader: Any, lines: _Lines, names: list[str], encoding: str, columns: Mapping[str, str]
) -> Iterator[ParsedRow]:
    while True:
        start = lines.number + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield ParsedRow(start, shown(lines.take()), None, f"unparseable CSV: {exc}")
            continue
        raw = lines.take()
        if not fields:  # a blank line is no row
            continue
        if has_bad_bytes(raw):
            yield ParsedRow(start, shown(raw), None, f"not valid {encoding}")
        elif len(fields) != len(names):
            reason = f"wrong column count: {len(fields)} fields, header has {len(names)}"
            yield ParsedRow(start, shown(raw), None, reason)
        else:
            yield typed(start, shown(raw), dict(zip(names, fields, strict=True)), columns)


def read_jsonl(
    stream: IO[bytes], *, encoding: str, columns: Mapping[str, str]
) -> Iterator[ParsedRow]:
    """The rows of a JSON Lines file (one object per line, blank lines skipped)."""
    text = io.TextIOWrapper(stream, encoding=encoding, errors="surrogateescape", newline="")
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        raw = shown(line)
        if has_bad_bytes(line):
            yield ParsedRow(number, raw, None, f"not valid {encoding}")
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            yield ParsedRow(number, raw, None, f"unparseable JSON: {' '.join(str(exc).split())}")
            continue
        if not isinstance(value, dict):
            yield ParsedRow(number, raw, None, "expected a JSON object")
            continue
        yield typed(number, raw, value, columns)


def read_parquet(
    stream: IO[bytes], *, columns: Mapping[str, str]
) -> tuple[list[str], Iterator[ParsedRow]]:
    """The column names and rows of a Parquet file (pyarrow, read in record batches).

    Raises:
        FileUnreadableError: Not a Parquet file (or cut short: the footer is missing).
    """
    try:
        parquet = pq.ParquetFile(stream)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError...
        raise FileUnreadableError(f"not a readable Parquet file: {exc}") from None
    names = list(parquet.schema_arrow.names)
    return names, _parquet_rows(parquet, columns)


def _parquet_rows(parquet: Any, columns: Mapping[str, str]) -> Iterator[ParsedRow]:
    number = 0
    for batch in parquet.iter_batches():
        for row in batch.to_pylist():
            number += 1
            yield typed(number, "", row, columns, raw_from_values=True)


def typed(
    line: int,
    raw: str,
    values: dict[str, Any],
    columns: Mapping[str, str],
    *,
    raw_from_values: bool = False,
) -> ParsedRow:
    """The row with its declared columns parsed, or the reason one does not parse."""
    text = json.dumps(values) if raw_from_values else raw
    row, reason = coerce_row(values, columns)
    if reason is not None:
        return ParsedRow(line, text, None, reason)
    return ParsedRow(line, text, row)
