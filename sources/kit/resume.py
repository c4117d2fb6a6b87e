"""Exact data after a kill: rewinds the load jobs dlt is about to run a second time.

Why a killed load doubles rows
------------------------------
dlt (1.31) loads a package job by job. A job's file moves to ``started_jobs``, a worker
thread runs it (on DuckDB one ``INSERT ... SELECT FROM read_parquet(...)``, on Postgres
the file's ``INSERT``/``COPY`` in one transaction) and only after the destination
committed dlt writes the job's pending-transition marker
(``<package>/.pending_transitions/<job file>``) and moves the file to ``completed_jobs``.
When the next run resumes the package (every run first loads the package left pending),
``Load.resume_started_jobs`` finishes a started job *with* a marker without running it
and runs one *without* a marker again. A SIGKILL between a job's commit and its marker
therefore loads that job's rows a second time:

- append tables (Stripe ``events``, ``balance_transactions`` and their nested tables,
  dlt's ``_dlt_pipeline_state``, the ``_sync_runs`` ledger) get the rows twice;
- merge tables load through the staging dataset, first load included (the SQL job
  clients' ``should_load_data_to_staging_dataset`` answers True for every merge table).
  A package's staging tables are truncated once, in ``init_client``, which runs only
  while the package's schema update is uncommitted, so on resume the staging table
  keeps the first copy and gets the second. The ``delete-insert`` merge would drop one
  (it deduplicates staging rows by primary key, nested rows by row key) but not when the
  package is declared deduplicated (``x-stage-data-deduplicated``, Stripe's columnar
  path): both copies reach the root or nested table;
- where dlt creates a UNIQUE constraint on the row key (Postgres, ``create_indexes``)
  the second copy is refused instead, and the resume fails on every run: the merge
  table of that job is never written.

A package killed after ``complete_load`` wrote its ``_dlt_loads`` row but before dlt
archived the package gets a second ``_dlt_loads`` row the same way. Killed extractions
and normalizations are exact: dlt commits those steps with atomic moves and an
interrupted step starts over.

What this module does
---------------------
:func:`resume_guard` runs before the step that finishes pending packages. For each
package whose load had begun, it removes from the destination the rows of every job dlt
will run again (started, no marker), read by their row key (``_dlt_id``, written into the
load file at normalize, or by ``sources.kit.columnar`` at extract) from the job's own load
file, in the dataset the job writes to (the staging dataset for merge tables), and the
package's ``_dlt_loads`` row. dlt then runs those jobs as on a first attempt: nothing
doubles, nothing a constraint refuses, and the rows of jobs that completed are left
alone. Deleting is idempotent, so a kill during the rewind or the resume is rewound again
by the next run. A run without such a package lists one folder and does nothing else.

Parquet, CSV, JSONL and INSERT-values load files are read; the filesystem destination
needs nothing (a re-run job replaces its own file) and jobs of other kinds (a staging
bucket's reference jobs) are named in a warning.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional

import dlt
from dlt.common.data_writers.escape import (
    escape_duckdb_literal,
    escape_postgres_literal,
    escape_redshift_literal,
)
from dlt.common.destination.client import WithStagingDataset
from dlt.common.schema import Schema
from dlt.common.schema.utils import get_first_column_name_with_prop
from dlt.common.storages import FileStorage
from dlt.common.storages.load_package import PackageStorage
from dlt.common.storages.load_storage import LoadStorage, ParsedLoadJobFileName
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.job_client_impl import SqlJobClientBase

from .errors import SluiceError

__all__ = [
    "HalfLoaded",
    "ResumeRewindError",
    "half_loaded_packages",
    "job_row_keys",
    "resume_guard",
    "rewind",
]

logger = logging.getLogger("sluice.resume")

ROW_KEY = "_dlt_id"
LOAD_ID_COLUMN = "_dlt_load_id"
LOADS_TABLE = "_dlt_loads"
DELETE_BATCH = 500
"""Row keys per ``DELETE ... IN (...)`` statement."""

FILE_DESTINATIONS = ("filesystem",)
"""Destinations whose re-run job replaces its own file (nothing to rewind)."""

BACKSLASH_ESCAPING = (escape_postgres_literal, escape_duckdb_literal, escape_redshift_literal)
"""dlt literal writers that double backslashes (so a backslash escapes the next char)."""


class ResumeRewindError(SluiceError):
    """The rows of a killed load's unrecorded jobs could not be removed; nothing resumed."""


@dataclass
class HalfLoaded:
    """A pending package whose loading had begun when its run stopped.

    Attributes:
        load_id: The package.
        schema: The package's schema (its tables and row keys).
        rerun: Load files of the jobs dlt will run again (started, without a marker).
    """

    load_id: str
    schema: Schema
    rerun: list[str] = field(default_factory=list)


@dataclass
class RewindReport:
    """What :func:`rewind` removed."""

    rows: dict[str, int] = field(default_factory=dict)
    loads: int = 0
    unreadable: list[str] = field(default_factory=list)


def half_loaded_packages(pipeline: dlt.Pipeline) -> list[HalfLoaded]:
    """Pending packages of ``pipeline`` whose load had begun, with the jobs dlt re-runs.

    Reads only the package folders (no destination query).

    Args:
        pipeline: The pipeline about to resume its pending packages.

    Returns:
        One entry per package with started or completed jobs; empty on a clean start.
    """
    folder = Path(pipeline.working_dir) / "load" / LoadStorage.NORMALIZED_FOLDER
    if not folder.is_dir():
        return []
    storage = PackageStorage(FileStorage(str(folder)), "normalized")
    found: list[HalfLoaded] = []
    for load_id in storage.list_packages():
        if storage.has_abort_flag(load_id):
            continue
        started = storage.list_started_jobs(load_id)
        if not started and not storage.get_load_package_jobs(load_id).get("completed_jobs"):
            continue
        # a started job with a marker is finished without running again: only those without
        marked = set(storage.list_pending_transitions(load_id))
        rerun = [str(folder / path) for path in started if os.path.basename(path) not in marked]
        found.append(HalfLoaded(load_id, storage.load_schema(load_id), rerun))
    return found


@contextlib.contextmanager
def resume_guard(pipeline: dlt.Pipeline) -> Iterator[None]:
    """Wraps the step that finishes ``pipeline``'s pending packages: rewinds them first.

    Args:
        pipeline: The pipeline whose pending packages the body loads.

    Yields:
        Nothing.

    Raises:
        ResumeRewindError: The rows could not be removed (the body does not run).
    """
    rewind(pipeline)
    yield


def rewind(pipeline: dlt.Pipeline) -> RewindReport:
    """Removes what the unrecorded jobs of half-loaded packages committed (module doc).

    Args:
        pipeline: The pipeline about to resume its pending packages.

    Returns:
        Rows removed per table, ``_dlt_loads`` rows removed, job files not read.

    Raises:
        ResumeRewindError: A destination query failed.
    """
    report = RewindReport()
    packages = half_loaded_packages(pipeline)
    if not packages or destination_kind(pipeline) in FILE_DESTINATIONS:
        return report
    for package in packages:
        try:
            rewind_package(pipeline, package, report)
        except Exception as exc:
            first_line = (str(exc).splitlines() or [""])[0]
            raise ResumeRewindError(
                f"cannot resume load package {package.load_id}: removing the rows a killed "
                f"load committed failed ({type(exc).__name__}: {first_line}); run the "
                "pipeline again once the destination is reachable"
            ) from exc
    if report.rows or report.loads:
        logger.warning(
            "resuming a load a stopped run left half-done: removed the rows of jobs it had "
            "committed but not recorded (dlt loads them again): %s",
            ", ".join(f"{t} {n}" for t, n in sorted(report.rows.items())) or "no data rows",
        )
    for path in report.unreadable:
        logger.warning(
            "resuming job %s: its rows cannot be read back; if the killed run had committed "
            "it, its rows are now in the destination twice",
            os.path.basename(path),
        )
    return report


def destination_kind(pipeline: dlt.Pipeline) -> str:
    """The destination type's short name (``duckdb``, ``postgres``...)."""
    destination = pipeline.destination
    return destination.destination_type.rsplit(".", 1)[-1] if destination else ""


def rewind_package(pipeline: dlt.Pipeline, package: HalfLoaded, report: RewindReport) -> None:
    """Rewinds one package: its unrecorded jobs' rows, then its ``_dlt_loads`` row."""
    schema = package.schema
    client = job_client_for(pipeline, schema)
    if not isinstance(client, SqlJobClientBase):
        report.unreadable.extend(package.rerun)
        return
    sql = client.sql_client
    with sql:
        for path in package.rerun:
            job = ParsedLoadJobFileName.parse(os.path.basename(path))
            if job.file_format == "sql":
                continue  # merge/replace SQL re-run from the staging tables: idempotent
            key = row_key_of(schema, job.table_name)
            keys = job_row_keys(path, key, client.capabilities.escape_literal)
            if keys is None:
                report.unreadable.append(path)
                continue
            staged = isinstance(
                client, WithStagingDataset
            ) and client.should_load_data_to_staging_dataset(job.table_name)
            with sql.with_staging_dataset() if staged else contextlib.nullcontext():
                by_load = LOAD_ID_COLUMN in schema.tables.get(job.table_name, {}).get("columns", {})
                removed = delete_keys(
                    sql, job.table_name, key, keys, package.load_id if by_load else None
                )
            if removed:
                label = f"{job.table_name} (staging)" if staged else job.table_name
                report.rows[label] = report.rows.get(label, 0) + removed
        report.loads += delete_keys(sql, LOADS_TABLE, "load_id", [package.load_id], None)


def job_client_for(pipeline: dlt.Pipeline, schema: Schema) -> Any:
    """The destination job client on the package's own schema (what dlt loads it with).

    dlt 1.31 has no public call taking a schema object; ``destination_client`` takes a
    name and would make an empty schema for one the pipeline does not hold.
    """
    make = getattr(pipeline, "_get_destination_clients", None)
    if make is not None:
        return make(schema)[0]
    return pipeline.destination_client(schema.name)


def row_key_of(schema: Schema, table: str) -> str:
    """The table's row key column (``_dlt_id`` unless the schema names another)."""
    schema_table = schema.tables.get(table)
    if schema_table is None:
        return ROW_KEY
    return get_first_column_name_with_prop(schema_table, "row_key") or ROW_KEY


def delete_keys(sql: Any, table: str, key: str, keys: Sequence[str], load_id: Optional[str]) -> int:
    """Deletes the rows of ``table`` whose ``key`` is among ``keys``; returns how many.

    Args:
        sql: An open dlt SQL client (on the dataset the job writes to).
        table: Table name.
        key: The key column.
        keys: Its values.
        load_id: Only rows of this load (tables with a ``_dlt_load_id`` column).

    Returns:
        Rows deleted (0 when the table does not exist yet).
    """
    if not keys:
        return 0
    qualified = sql.make_qualified_table_name(table)
    column = sql.escape_column_name(key)
    scope = f" AND {sql.escape_column_name(LOAD_ID_COLUMN)} = %s" if load_id else ""
    extra = (load_id,) if load_id else ()
    removed = 0
    try:
        with sql.begin_transaction():
            for start in range(0, len(keys), DELETE_BATCH):
                batch = list(keys[start : start + DELETE_BATCH])
                marks = ", ".join(["%s"] * len(batch))
                where = f"WHERE {column} IN ({marks}){scope}"
                counted = sql.execute_sql(
                    f"SELECT COUNT(*) FROM {qualified} {where}",  # noqa: S608 - quoted names
                    *batch,
                    *extra,
                )
                found = int(counted[0][0]) if counted else 0
                if found:
                    sql.execute_sql(f"DELETE FROM {qualified} {where}", *batch, *extra)  # noqa: S608
                    removed += found
    except DatabaseUndefinedRelation:
        return 0
    return removed


# -- reading a load file's row keys ----------------------------------------------------------


def job_row_keys(path: str, key: str, escape_literal: Any = None) -> Optional[list[str]]:
    """The ``key`` values of every row in a dlt load file.

    Args:
        path: The job file (``parquet``, ``csv``, ``jsonl``/``typed-jsonl`` or
            ``insert_values``, gzipped or not).
        key: The row key column.
        escape_literal: The destination's literal writer (how ``insert_values`` strings
            are escaped).

    Returns:
        The values, or None when the format is not readable or lacks the column.
    """
    file_format = ParsedLoadJobFileName.parse(os.path.basename(path)).file_format
    if file_format == "parquet":
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        if key not in names:
            return None
        return [str(v) for v in pq.read_table(path, columns=[key]).column(key).to_pylist()]
    readers = {
        "csv": csv_keys,
        "jsonl": jsonl_keys,
        "typed-jsonl": jsonl_keys,
        "insert_values": lambda f, k: insert_values_keys(
            f, k, backslash=escape_literal in BACKSLASH_ESCAPING
        ),
    }
    reader = readers.get(file_format)
    if reader is None:
        return None
    with open_text(path) as handle:
        return reader(handle, key)


def open_text(path: str) -> IO[str]:
    """Opens a load file as text, gzipped or not (dlt compresses most of them)."""
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def csv_keys(handle: IO[str], key: str) -> Optional[list[str]]:
    """Row keys from a dlt CSV file (header row; dlt's delimiter is configurable)."""
    header = handle.readline()
    for delimiter in (",", "|", ";", "\t"):
        names = next(csv.reader([header], delimiter=delimiter))
        if key in names:
            index = names.index(key)
            return [row[index] for row in csv.reader(handle, delimiter=delimiter) if row]
    return None


def jsonl_keys(handle: IO[str], key: str) -> Optional[list[str]]:
    """Row keys from a dlt JSON-lines file."""
    keys: list[str] = []
    for line in handle:
        if line.strip():
            value = json.loads(line).get(key)
            if value is None:
                return None
            keys.append(str(value))
    return keys


VALUE_TOKENS = {
    True: re.compile(r"[A-Za-z]?'(?:[^'\\]|\\.|'')*'|[(),]|[^'(),]+", re.DOTALL),
    False: re.compile(r"[A-Za-z]?'(?:[^']|'')*'|[(),]|[^'(),]+", re.DOTALL),
}
"""One literal, a bracket or comma, or a run of other text; by backslash escaping."""


def insert_values_keys(handle: IO[str], key: str, *, backslash: bool) -> Optional[list[str]]:
    """Row keys from a dlt INSERT-values file (``INSERT INTO {}(cols)`` / ``VALUES`` / rows).

    Rows are split on top-level commas between brackets, string literals skipped whole
    (quotes doubled, and backslash escapes where the destination's writer doubles
    backslashes), so no value in a row can shift the columns.
    """
    header = handle.readline()
    if handle.readline().strip() != "VALUES":
        return None  # dlt's select_union variant
    columns = header[header.index("(") + 1 : header.rindex(")")].split(",")
    names = [c.strip().strip('"`[]') for c in columns]
    if key not in names:
        return None
    index = names.index(key)
    keys: list[str] = []
    for row in top_level_rows(handle.read(), VALUE_TOKENS[backslash]):
        if len(row) != len(names):
            return None
        keys.append(literal_text(row[index]))
    return keys


def top_level_rows(text: str, tokens: re.Pattern[str]) -> Iterable[list[str]]:
    """The value texts of each ``( ... )`` row of an INSERT's VALUES list."""
    depth = 0
    values: list[str] = []
    current: list[str] = []
    for match in tokens.finditer(text):
        piece = match.group(0)
        if piece == "(":
            depth += 1
            if depth == 1:
                values, current = [], []
                continue
        elif piece == ")":
            depth -= 1
            if depth == 0:
                values.append("".join(current).strip())
                yield values
                continue
        elif piece == "," and depth == 1:
            values.append("".join(current).strip())
            current = []
            continue
        if depth >= 1:
            current.append(piece)


def literal_text(value: str) -> str:
    """The text of a SQL string literal (``E'a''b'`` -> ``a'b``); other values as written."""
    quote = value.find("'")
    if quote < 0 or not value.endswith("'"):
        return value
    return value[quote + 1 : -1].replace("''", "'")
