"""Writes the sandbox's drop folder with fixed contents and modification times."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SETTLE_S = 60.0
"""The sandbox drops' settle time."""

DAY = 86_400.0
HALF_WRITTEN = "orders/orders-2026-12-02.csv"
"""Still being written: modified seconds before the run, cut mid-row."""

ORDER_COLUMNS = {"order_id": "bigint", "amount": "double", "ordered_at": "timestamp"}
EVENT_COLUMNS = {"occurred_at": "timestamp"}
PRODUCT_COLUMNS = {"price": "double"}


@dataclass(frozen=True)
class DropFolder:
    """The folder written and the time its files are relative to."""

    root: Path
    now: float

    def path(self, relative: str) -> Path:
        """A file of the folder."""
        return self.root / relative


def set_mtime(path: Path, when: float) -> None:
    """Sets a file's access and modification time (unix seconds)."""
    os.utime(path, (when, when))


def write_csv(path: Path, lines: Sequence[str], *, gz: bool = False, when: float) -> Path:
    """Writes CSV lines (header first), gzipped when asked, modified at ``when``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(f"{line}\n" for line in lines).encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    set_mtime(path, when)
    return path


def write_jsonl(path: Path, lines: Sequence[Any], *, gz: bool = False, when: float) -> Path:
    """Writes one JSON object (or raw text, for broken lines) per line."""
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    set_mtime(path, when)
    return path


def write_parquet(path: Path, rows: Sequence[dict[str, Any]], *, when: float) -> Path:
    """Writes rows as one Parquet file (pyarrow infers the schema)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(list(rows)), path)
    set_mtime(path, when)
    return path


def write_drop_folder(root: Path, now: float) -> DropFolder:
    """Writes the three drops under ``root``; times relative to ``now`` (unix seconds)."""
    folder = DropFolder(root, now)
    write_csv(
        folder.path("orders/orders-2026-11-30.csv"),
        [
            "order_id,customer,amount,status,ordered_at",
            "1,acme,120.50,paid,2026-11-30T09:00:00Z",
            "2,globex,80.00,paid,2026-11-30T10:00:00Z",
            "3,initech,15.25,open",  # wrong column count: dead letter
            "4,umbrella,42.00,open,2026-11-30T12:00:00Z",
        ],
        when=now - 3 * DAY,
    )
    write_csv(
        folder.path("orders/orders-2026-12-01.csv.gz"),
        [
            "order_id,customer,amount,status,ordered_at,currency",  # drift: currency added
            "2,globex,80.00,shipped,2026-11-30T10:00:00Z,EUR",
            "5,hooli,n/a,open,2026-12-01T08:00:00Z,USD",  # unparseable amount: dead letter
            "6,stark,999.99,paid,2026-12-01T09:30:00Z,USD",
        ],
        gz=True,
        when=now - 2 * DAY,
    )
    half = folder.path(HALF_WRITTEN)
    half.parent.mkdir(parents=True, exist_ok=True)
    half.write_text("order_id,customer,amount,status,ordered_at,currency\n7,wayne,10", "utf-8")
    set_mtime(half, now - 5)
    write_jsonl(
        folder.path("events/events-1.jsonl"),
        [
            {"event_id": "e1", "type": "signup", "occurred_at": "2026-12-01T08:00:00Z"},
            {"event_id": "e2", "type": "login", "occurred_at": "2026-12-01T08:05:00Z"},
            '{"event_id": "e3", "type": ',  # not JSON: dead letter
            {"event_id": "e4", "type": "logout", "occurred_at": "2026-12-01T09:00:00Z"},
        ],
        when=now - DAY,
    )
    write_jsonl(
        folder.path("events/events-2.jsonl.gz"),
        [
            {"event_id": "e5", "type": "login", "occurred_at": "2026-12-02T08:00:00Z"},
            {"event_id": "e6", "type": "purchase", "occurred_at": "2026-12-02T08:10:00Z"},
        ],
        gz=True,
        when=now - DAY + 3600,
    )
    write_parquet(
        folder.path("products/products.parquet"),
        [
            {"sku": "A-1", "name": "anvil", "price": 19.5},
            {"sku": "B-2", "name": "bucket", "price": 4.25},
            {"sku": "C-3", "name": "crate", "price": 12.0},
        ],
        when=now - DAY,
    )
    return folder


def drop_settings(root: Path, settle_s: float = SETTLE_S) -> dict[str, dict[str, Any]]:
    """The drops' settings over ``root`` (what ``sources.files.drops.<name>`` would say)."""
    base = str(root)
    return {
        "orders": {
            "bucket_url": base,
            "file_glob": "orders/*.csv*",
            "primary_key": "order_id",
            "write_disposition": "merge",
            "columns": dict(ORDER_COLUMNS),
            "settle_s": settle_s,
        },
        "events": {
            "bucket_url": base,
            "file_glob": "events/*.jsonl*",
            "write_disposition": "append",
            "columns": dict(EVENT_COLUMNS),
            "settle_s": settle_s,
        },
        "products": {
            "bucket_url": base,
            "file_glob": "products/*.parquet",
            "primary_key": "sku",
            "write_disposition": "merge",
            "columns": dict(PRODUCT_COLUMNS),
            "settle_s": settle_s,
        },
    }
