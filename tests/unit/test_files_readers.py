"""File drops: readers (line numbers, malformed rows), gzip, manifest verdicts, drift."""

from __future__ import annotations

import gzip
import io
from datetime import datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sources.files.config import resolve_drop
from sources.files.content import download
from sources.files.drift import header_drift, record_drift
from sources.files.manifest import Listed, Verdict, is_marker, marker_url, verdict
from sources.files.readers import FileUnreadableError, read_csv, read_jsonl, read_parquet
from sources.files.rows import file_format
from sources.kit.errors import ConfigurationError

COLUMNS = {"id": "bigint", "amount": "double", "at": "timestamp"}
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


def csv_rows(data: bytes, encoding: str = "utf-8") -> list[Any]:
    _, rows = read_csv(io.BytesIO(data), encoding=encoding, delimiter=",", columns=COLUMNS)
    return list(rows)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"3,4", "wrong column count: 2 fields, header has 3"),
        (b"3,4,5,6", "wrong column count: 4 fields, header has 3"),
        (b"3,x,2026-01-01", "column amount: cannot parse the value as double"),
        (b"x,1,2026-01-01", "column id: cannot parse the value as bigint"),
        (b"3,1,not a date", "column at: cannot parse the value as timestamp"),
        (b"3,\xff\xfe,2026-01-01", "not valid utf-8"),
    ],
    ids=["too-few", "too-many", "bad-double", "bad-bigint", "bad-timestamp", "bad-encoding"],
)
def test_csv_malformed_row_has_its_line_and_the_rest_parses(line: bytes, reason: str) -> None:
    data = b"id,amount,at\n1,2.5,2026-01-01T00:00:00Z\n" + line + b"\n2,3,2026-01-02\n"
    rows = csv_rows(data)
    assert [(r.line, r.reason) for r in rows] == [(2, None), (3, reason), (4, None)]
    assert rows[1].values is None
    assert rows[1].raw == line.decode("utf-8", errors="replace")
    assert rows[0].values == {
        "id": 1,
        "amount": 2.5,
        "at": datetime(2026, 1, 1, tzinfo=timezone.utc),
    }


def test_csv_multiline_field_keeps_the_line_it_starts_on() -> None:
    rows = csv_rows(b'id,amount,at\n1,"2\n",2026-01-01\n2,3,2026-01-02\n')
    assert [r.line for r in rows] == [2, 4]
    assert rows[1].values is not None and rows[1].values["id"] == 2


def test_csv_empty_value_of_a_typed_column_is_null() -> None:
    rows = csv_rows(b"id,amount,at\n1,,2026-01-01\n")
    assert rows[0].values is not None and rows[0].values["amount"] is None


def test_csv_without_header_is_unreadable() -> None:
    with pytest.raises(FileUnreadableError, match="no header"):
        read_csv(io.BytesIO(b""), encoding="utf-8", delimiter=",", columns={})


def test_jsonl_bad_lines_are_reasons_with_their_line() -> None:
    data = b'{"id": 1}\n\n{"id": \n[1]\n{"id": "x"}\n{"id": 2}\n'
    rows = list(read_jsonl(io.BytesIO(data), encoding="utf-8", columns={"id": "bigint"}))
    assert [(r.line, r.reason is None) for r in rows] == [
        (1, True),
        (3, False),
        (4, False),
        (5, False),
        (6, True),
    ]
    assert rows[1].reason is not None and rows[1].reason.startswith("unparseable JSON")
    assert rows[2].reason == "expected a JSON object"
    assert rows[3].reason == "column id: cannot parse the value as bigint"


def test_parquet_rows_are_numbered_and_a_cut_file_is_unreadable() -> None:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{"id": 1}, {"id": 2}]), sink)
    names, rows = read_parquet(io.BytesIO(sink.getvalue()), columns={"id": "bigint"})
    assert names == ["id"]
    assert [(r.line, r.values) for r in rows] == [(1, {"id": 1}), (2, {"id": 2})]
    with pytest.raises(FileUnreadableError, match="Parquet"):
        read_parquet(io.BytesIO(sink.getvalue()[:-20]), columns={})


@pytest.mark.parametrize("gz", [True, False], ids=["gzip", "plain"])
def test_download_hashes_the_stored_bytes_and_detects_gzip_by_magic(gz: bool) -> None:
    text = b"id\n1\n"
    stored = gzip.compress(text) if gz else text
    content = download(io.BytesIO(stored))
    assert content.gzipped is gz
    assert content.size == len(stored)
    assert content.open().read() == text
    import hashlib

    assert content.sha256 == hashlib.sha256(stored).hexdigest()


def listed(path: str = "a/x.csv", size: int = 10, age_s: float = 3600) -> Listed:
    return Listed(path, f"file:///b/{path}", size, NOW - timedelta(seconds=age_s))


@pytest.mark.parametrize(
    ("manifest", "file", "marker", "expected"),
    [
        ({}, listed(), True, Verdict.NEW),
        ({}, listed(age_s=5), True, Verdict.UNSETTLED),
        ({}, listed(), False, Verdict.UNSETTLED),
        (
            {"a/x.csv": {"size": 10, "modified": listed().modified.isoformat()}},
            listed(),
            True,
            Verdict.UNCHANGED,
        ),
        (
            {"a/x.csv": {"size": 9, "modified": listed().modified.isoformat()}},
            listed(),
            True,
            Verdict.CHANGED,
        ),
        ({"a/x.csv": {"size": 9, "modified": "x"}}, listed(age_s=1), True, Verdict.UNSETTLED),
    ],
    ids=["new", "too-young", "no-marker", "unchanged", "rewritten", "rewrite-in-progress"],
)
def test_verdict(manifest: dict[str, Any], file: Listed, marker: bool, expected: Verdict) -> None:
    outcome, why = verdict(file, manifest, now=NOW, settle_s=60, marker_present=lambda _: marker)
    assert outcome is expected, why


@pytest.mark.parametrize(
    ("marker", "expected", "is_data_marker"),
    [
        ("_SUCCESS", "file:///b/a/_SUCCESS", "a/_SUCCESS"),
        ("{name}.done", "file:///b/a/x.csv.done", "a/x.csv.done"),
    ],
    ids=["folder-marker", "per-file-marker"],
)
def test_markers(marker: str, expected: str, is_data_marker: str) -> None:
    assert marker_url(listed(), marker) == expected
    assert is_marker(is_data_marker, marker)
    assert not is_marker("a/x.csv", marker)


def test_drift_names_added_and_removed_columns_and_is_kept_in_state() -> None:
    assert header_drift(None, ["a"], "f1") is None
    assert header_drift(["a", "b"], ["b", "a"], "f2") is None
    state: dict[str, Any] = {}
    assert record_drift(state, "orders", ["a", "b"], "f1", NOW) is None
    drift = record_drift(state, "orders", ["a", "c"], "f2", NOW)
    assert drift is not None and (drift.added, drift.removed) == (("c",), ("b",))
    assert state["header"] == ["a", "c"]
    assert state["drift"] == [
        {"file": "f2", "added": ["c"], "removed": ["b"], "seen_at": NOW.isoformat()}
    ]


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("a.csv", "csv"),
        ("a.CSV.gz", "csv"),
        ("a.jsonl.gz", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.parquet", "parquet"),
        ("a.bin", None),
    ],
    ids=["csv", "csv-gz", "jsonl-gz", "ndjson", "parquet", "unknown"],
)
def test_format_by_extension(path: str, fmt: str | None) -> None:
    drop = resolve_drop("t", {"bucket_url": "/tmp/drops"})
    assert file_format(drop, path) == fmt


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"write_disposition": "replace"}, "write_disposition must be one of append, merge"),
        ({"write_disposition": "merge"}, "primary_key is required to merge"),
        ({"format": "xml"}, "format must be one of csv, jsonl, parquet"),
        ({"columns": {"a": "number"}}, "unknown data type for a"),
        ({"settle_s": -1}, "settle_s must be 0 or more"),
    ],
    ids=["disposition", "merge-without-key", "format", "column-type", "settle"],
)
def test_bad_settings_are_one_line_naming_the_key(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        resolve_drop("orders", {"bucket_url": "/tmp/drops", **settings})
    assert "sources.files.drops.orders." in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_bucket_url_is_one_line() -> None:
    with pytest.raises(ConfigurationError, match="sources.files.drops.nowhere.bucket_url"):
        resolve_drop("nowhere")
