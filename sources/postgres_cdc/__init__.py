"""Postgres change data capture: logical replication (``pgoutput``) into any dlt destination.

The first run creates a publication for the tables and a slot exporting its snapshot, and
loads that snapshot; every later run streams the slot from the position committed with
the previous load (dlt state) up to a marker it writes, so a run ends by itself.
Exactly once: the slot's confirmed position only advances at the start of the next run,
to the LSN saved in the state of the load that committed, and a re-sent transaction at
or before that LSN is skipped.

Beside dlt's verified ``pg_replication`` source (github:dlt-hub/verified-sources,
sources/pg_replication/helpers.py and schema_types.py), which also advances the slot at
the next run's start: there, an unchanged TOASTed value ('u') raises ``ValueError``,
truncates are ignored, key-only deletes carry dummy values, the snapshot is copied into
a new table in the source database, and every run peeks the whole slot to find its end.
Here TOASTed values and deleted rows keep their values, truncates delete, the snapshot
is read in place and a logical message marks the run's end.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any, Optional

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.sources.credentials import ConnectionStringCredentials

from sources.kit.connector import ConnectorSpec, ResourceSpec, start_run
from sources.kit.connector.resources import ConnectorRun
from sources.kit.monitor import SyncMonitor
from sources.kit.redact import global_redactor
from sources.kit.settings import ListSetting, str_list

from . import checks, replication
from .changes import ChangeApplier, Emitted, TableShape
from .destination import loaded_keys, loaded_rows
from .errors import CdcConfigurationError, SlotLostError
from .lag import LAG_TABLE
from .pgoutput import format_lsn
from .settings import (
    DEFAULT_PUBLICATION,
    DEFAULT_RESOURCES,
    DEFAULT_SLOT,
    DELETED_COLUMN,
    LSN_COLUMN,
    RESOURCE_NAME,
    RESOURCES,
    TABLES_SETTING,
)
from .values import column_hint, parse_value

logger = logging.getLogger("sluice.postgres_cdc")

NAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
"""Slot names: lower-case letters, digits and underscores (PostgreSQL's rule)."""

SPEC = ConnectorSpec(
    name="postgres_cdc",
    title="Postgres CDC",
    resources=tuple(
        ResourceSpec(t, primary_key=("id",), deletes=("change_stream",)) for t in RESOURCES
    ),
    default_resources=DEFAULT_RESOURCES,
    resources_key="tables",
)

__all__ = ["DEFAULT_RESOURCES", "LAG_TABLE", "RESOURCES", "SPEC", "postgres_cdc_source"]


def _check_name(value: str, setting: str) -> str:
    if not NAME_PATTERN.match(value):
        raise CdcConfigurationError(
            f"{setting} {value!r} is not a valid name: use lower-case letters, digits and _"
        )
    return value


def table_hints(shape: TableShape, columns: dict[str, int], hard_delete: bool) -> Any:
    """dlt hints of one table: merge on its key, newest ``_pg_lsn`` wins, deletes."""
    hints: dict[str, TColumnSchema] = {name: column_hint(oid) for name, oid in columns.items()}
    hints[LSN_COLUMN] = {"data_type": "bigint", "dedup_sort": "desc", "nullable": False}
    deleted: TColumnSchema = {"data_type": "bool"}
    if hard_delete:
        deleted["hard_delete"] = True
    hints[DELETED_COLUMN] = deleted
    return dlt.mark.make_hints(
        table_name=shape.name,
        primary_key=list(shape.key),
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=hints,
    )


class CdcRun:
    """One run over the slot: checks, then the snapshot (first run) or the stream."""

    def __init__(
        self,
        dsn: str,
        schema: str,
        tables: Sequence[str],
        slot: str,
        publication: str,
        hard_delete: bool,
        stream_timeout_s: float,
        lag_alert_bytes: int,
        run: ConnectorRun,
    ) -> None:
        self.dsn, self.schema, self.tables = dsn, schema, list(tables)
        self.slot, self.publication, self.hard_delete = slot, publication, hard_delete
        self.stream_timeout_s, self.lag_alert_bytes, self.run = (
            stream_timeout_s,
            lag_alert_bytes,
            run,
        )
        self.shapes: dict[str, TableShape] = {}
        self.hinted: set[str] = set()

    def rows(self) -> Iterator[Any]:
        """The dlt items of this run (rows routed to their tables, then the lag row)."""
        state = dlt.current.resource_state()
        conn = replication.connect(self.dsn)
        try:
            with conn.cursor() as cur:
                info = self._preflight(cur, conn.info.dbname, state)
            rconn = replication.connect(self.dsn, replication=True)
            try:
                rcur = rconn.cursor()
                if state.get("lsn") is None:
                    yield from self._snapshot(rcur, info is not None, state)
                else:
                    with conn.cursor() as cur:
                        yield from self._stream(rcur, cur, int(state["lsn"]), state)
                rcur.close()
            finally:
                rconn.close()
            with conn.cursor() as cur:
                yield self._lag_row(cur, state)
        finally:
            conn.close()

    def _preflight(self, cur: Any, database: str, state: Any) -> Optional[checks.SlotInfo]:
        checks.check_server(cur)
        for table in self.tables:
            key = checks.table_key(cur, self.schema, table)
            columns = replication.table_columns(cur, self.schema, table)
            self.shapes[table] = TableShape(table, key or tuple(columns), columns)
        info = checks.slot_info(cur, self.slot)
        if info is not None:
            checks.check_slot_ours(info, self.slot, database)
        if state.get("lsn") is not None:
            if info is None:
                raise SlotLostError(
                    f"replication slot {self.slot} is gone, changes since "
                    f"{format_lsn(int(state['lsn']))} may be lost: load again with --full-refresh"
                )
            if sorted(state.get("tables", [])) != sorted(self.tables):
                raise CdcConfigurationError(
                    f"{TABLES_SETTING} changed from {','.join(state.get('tables', []))}: the "
                    "slot's snapshot covers those; reload with --full-refresh to replicate these"
                )
        checks.ensure_publication(cur, self.publication, self.schema, self.tables)
        return info

    def _item(self, emitted: Emitted) -> Any:
        shape = self.shapes[emitted.table]
        self.run.monitor.record(
            shape.name, loaded=1, deleted=int(bool(emitted.row.get(DELETED_COLUMN)))
        )
        if shape.name not in self.hinted or emitted.new_columns:
            self.hinted.add(shape.name)
            hints = table_hints(shape, shape.columns, self.hard_delete)
            return dlt.mark.with_hints(emitted.row, hints, create_table_variant=True)
        return dlt.mark.with_table_name(emitted.row, shape.name)

    def _snapshot(self, rcur: Any, slot_exists: bool, state: Any) -> Iterator[Any]:
        if slot_exists:
            # a slot without a committed snapshot: a first run that did not finish
            logger.info("postgres_cdc: dropping slot %s of an unfinished first run", self.slot)
            rcur.drop_replication_slot(self.slot)
        new = replication.create_slot(rcur, self.slot)
        for table, columns, values in replication.snapshot_rows(
            self.dsn, new.snapshot_name, self.schema, self.tables
        ):
            row = {name: parse_value(columns[name], text) for name, text in values.items()}
            row[LSN_COLUMN], row[DELETED_COLUMN] = new.consistent_lsn, False
            yield self._item(Emitted(table, row))
        for table in self.tables:
            self.run.monitor.cursor(table, before=None, after=format_lsn(new.consistent_lsn))
        state["lsn"], state["tables"] = new.consistent_lsn, list(self.tables)
        logger.info("postgres_cdc: snapshot loaded; the stream starts at the next run")

    def _stream(self, rcur: Any, cur: Any, start_lsn: int, state: Any) -> Iterator[Any]:
        replication.start_stream(rcur, self.slot, self.publication, start_lsn)
        marker = replication.emit_marker(cur, self.run.run_id)
        logger.info(
            "postgres_cdc: streaming %s from %s to %s",
            self.slot,
            format_lsn(start_lsn),
            format_lsn(marker),
        )
        applier = ChangeApplier(self.shapes, start_lsn, loaded_rows, loaded_keys)
        for data_start, message in replication.read_until_marker(
            rcur, self.run.run_id, self.stream_timeout_s
        ):
            for emitted in applier.apply(data_start, message):
                yield self._item(emitted)
        end = applier.committed_lsn if applier.committed_lsn is not None else start_lsn
        for table in self.tables:
            self.run.monitor.cursor(table, before=format_lsn(start_lsn), after=format_lsn(end))
        state["lsn"] = max(end, start_lsn)

    def _lag_row(self, cur: Any, state: Any) -> Any:
        lag, confirmed = checks.slot_lag(cur, self.slot)
        now = time.time()
        # the position confirmed now is the previous load's: its age is since that run
        age = now - float(state.get("loaded_at", now))
        state["loaded_at"] = now
        alert = lag is not None and lag > self.lag_alert_bytes
        if alert:
            logger.warning(
                "postgres_cdc: slot %s retains %d bytes of WAL (alert above %d)",
                self.slot,
                lag,
                self.lag_alert_bytes,
            )
        # in _sync_runs too, on the row of the resource that reads the slot
        self.run.monitor.figures(
            RESOURCE_NAME,
            slot_lag_bytes=lag,
            slot_lag_age_s=round(age, 3),
            slot_lag_alert=alert,
        )
        row = {
            "run_id": self.run.run_id,
            "slot_name": self.slot,
            "lag_bytes": lag,
            "lag_age_s": round(age, 3),
            "confirmed_flush_lsn": confirmed,
            "alert": alert,
            "alert_threshold_bytes": self.lag_alert_bytes,
            "measured_at": now,
        }
        hints = dlt.mark.make_hints(
            table_name=LAG_TABLE,
            write_disposition="append",
            columns={"measured_at": {"data_type": "timestamp"}},
        )
        return dlt.mark.with_hints(row, hints, create_table_variant=True)


@dlt.source(name="postgres_cdc", max_table_nesting=0)
def postgres_cdc_source(
    credentials: ConnectionStringCredentials = dlt.secrets.value,
    tables: ListSetting = None,
    schema: str = "public",
    slot_name: str = DEFAULT_SLOT,
    publication_name: str = DEFAULT_PUBLICATION,
    hard_delete: bool = False,
    stream_timeout_s: float = 60.0,
    lag_alert_bytes: int = 1 << 30,
    run_id: Optional[str] = None,
    monitor: Optional[SyncMonitor] = None,
    client: Any = None,
    start_date: Optional[str] = None,
) -> Any:
    """Replicates Postgres tables through a logical replication slot.

    Args:
        credentials: The source database (``sources.postgres_cdc.credentials``, a DSN);
            the role needs ``REPLICATION`` and to own the tables (for the publication).
        tables: Tables to replicate (``sources.postgres_cdc.tables``); each needs a
            primary key or ``REPLICA IDENTITY FULL``.
        schema: Their schema.
        slot_name: The replication slot (``sources.postgres_cdc.slot_name``).
        publication_name: The publication.
        hard_delete: Remove deleted rows; by default they stay with ``deleted = true``.
        stream_timeout_s: Longest wait for the stream to reach this run's end marker.
        lag_alert_bytes: Retained WAL above which a run warns and ``sluice status`` alerts.
        run_id: Identifier of this run (ledger).
        monitor: Run ledger counters.
        client: Unused (the runner's slot for an HTTP client).
        start_date: Not supported: the snapshot is always complete.

    Returns:
        One resource reading the slot, routing rows to one table per source table.
    """
    if start_date:
        raise CdcConfigurationError("--start-date does not apply to Postgres CDC: drop it")
    if isinstance(credentials, str):
        credentials = ConnectionStringCredentials(credentials)
    if credentials.password:
        global_redactor().add_secret(str(credentials.password))
    selected = list(dict.fromkeys(str_list(tables, TABLES_SETTING) or list(DEFAULT_RESOURCES)))
    for table in selected:
        _check_name(table, TABLES_SETTING)
    started = start_run(SPEC, client, selected, run_id=run_id, monitor=monitor)
    cdc = CdcRun(
        credentials.to_native_representation(),
        schema,
        selected,
        _check_name(slot_name, "sources.postgres_cdc.slot_name"),
        _check_name(publication_name, "sources.postgres_cdc.publication_name"),
        hard_delete,
        stream_timeout_s,
        lag_alert_bytes,
        started,
    )
    return dlt.resource(cdc.rows(), name=RESOURCE_NAME)
