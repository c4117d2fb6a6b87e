"""A local folder of dropped files, as other systems leave them, for ``--sandbox`` and tests.

Three drops: ``orders`` (CSV merged on ``order_id``; a gzipped file whose header gained
``currency``; one row with a wrong column count, one with an unparseable amount; one file
still being written), ``events`` (JSON Lines appended; one gzipped, one line not JSON)
and ``products`` (Parquet merged on ``sku``).
"""

from __future__ import annotations

from .writer import (
    HALF_WRITTEN,
    SETTLE_S,
    DropFolder,
    drop_settings,
    set_mtime,
    write_csv,
    write_drop_folder,
    write_jsonl,
    write_parquet,
)

__all__ = [
    "HALF_WRITTEN",
    "SETTLE_S",
    "DropFolder",
    "drop_settings",
    "set_mtime",
    "write_csv",
    "write_drop_folder",
    "write_jsonl",
    "write_parquet",
]
