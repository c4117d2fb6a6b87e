"""Constants of the file-drops connector and the drops its sandbox writes."""

from __future__ import annotations

SECTION = "sources.files"
DROPS_SECTION = ("sources", "files", "drops")
"""Each drop is configured under ``sources.files.drops.<name>``."""

RESOURCES: tuple[str, ...] = ("orders", "events", "products")
"""The drops the sandbox writes (configured drops are any names under ``drops``)."""

DEFAULT_RESOURCES: tuple[str, ...] = RESOURCES
"""What ``sluice list`` shows as the default selection."""

DEFAULT_SETTLE_S = 60.0
"""A file modified less than this many seconds ago may still be being written."""

FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet")
EXTENSIONS: dict[str, str] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
"""Format by extension (after ``.gz``) when a drop does not configure one."""

FILE_NAME = "_file_name"
FILE_MODIFIED_AT = "_file_modified_at"
LOADED_AT = "_loaded_at"
LINE = "_line"
ROW_ORDER = "_row_order"
"""Columns every row carries: where it came from and when it was loaded."""

SPOOL_MEMORY_BYTES = 16 * 1024 * 1024
"""Downloads up to this size stay in memory; larger ones spill to a temporary file."""

MAX_DRIFT_RECORDS = 50
"""Header changes kept in a drop's state (the newest ones)."""
