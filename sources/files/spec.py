"""The file-drops connector declared on the kit: each configured drop is one resource."""

from __future__ import annotations

from dlt.common.schema.typing import TColumnSchema

from sources.kit.connector import ConnectorSpec, ResourceSpec

from .config import Drop
from .settings import DEFAULT_RESOURCES, FILE_MODIFIED_AT, FILE_NAME, LINE, LOADED_AT, ROW_ORDER

SPEC = ConnectorSpec(
    name="files",
    title="File drops",
    default_resources=DEFAULT_RESOURCES,
)
"""No HTTP: the kit gives selection, dead letters and the run ledger."""

APPEND_KEY = (FILE_NAME, LINE)
"""An appended row is identified by where it was read."""


def row_columns(drop: Drop) -> dict[str, TColumnSchema]:
    """The declared columns, then the provenance columns every row carries.

    On a merge, ``_row_order`` is dlt's ``dedup_sort`` column: of the rows one load
    stages for a key, the one with the highest order is kept
    (https://dlthub.com/docs/general-usage/merge-loading, ``gen_select_from_dedup_sql`` in
    dlt/destinations/sql_jobs.py).
    A run numbers rows in the order it reads them (files by modification time, then
    path; lines in file order), so the newest file wins and, within a file, the last
    line: ``ORDER BY _file_modified_at`` alone would leave those ties to chance.
    """
    columns: dict[str, TColumnSchema] = {
        name: {"name": name, "data_type": data_type}  # type: ignore[typeddict-item]
        for name, data_type in drop.columns.items()
    }
    stamp: TColumnSchema = {"name": FILE_MODIFIED_AT, "data_type": "timestamp", "nullable": False}
    columns[FILE_NAME] = {"name": FILE_NAME, "data_type": "text", "nullable": False}
    columns[FILE_MODIFIED_AT] = stamp
    columns[LOADED_AT] = {"name": LOADED_AT, "data_type": "timestamp", "nullable": False}
    columns[LINE] = {"name": LINE, "data_type": "bigint", "nullable": False}
    order: TColumnSchema = {"name": ROW_ORDER, "data_type": "bigint", "nullable": False}
    if drop.merges:
        order["dedup_sort"] = "desc"
    columns[ROW_ORDER] = order
    return columns


def drop_resource(drop: Drop) -> ResourceSpec:
    """The resource of one drop."""
    return ResourceSpec(
        name=drop.name,
        primary_key=drop.primary_key if drop.merges else APPEND_KEY,
        write_disposition=drop.write_disposition,
        columns=row_columns(drop),
    )
