"""Reads the slot lag the last run recorded (``_pg_slot_lag``), for ``sluice status``.

A slot nobody reads keeps all WAL since its confirmed position, until the disk fills
(https://www.postgresql.org/docs/current/warm-standby.html#STREAMING-REPLICATION-SLOTS).
"""

from __future__ import annotations

from typing import Any, Optional

from dlt.destinations.exceptions import DatabaseUndefinedRelation

LAG_TABLE = "_pg_slot_lag"
LAG_COLUMNS = (
    "slot_name",
    "lag_bytes",
    "lag_age_s",
    "alert",
    "alert_threshold_bytes",
    "measured_at",
)


def latest_lag(pipeline: Any) -> Optional[dict[str, Any]]:
    """The newest lag row of a pipeline's dataset, or None when it has none."""
    # only pipelines whose schema has the table (status also attaches other connectors')
    schema = pipeline.default_schema if getattr(pipeline, "default_schema_name", None) else None
    if schema is None or LAG_TABLE not in schema.tables:
        return None
    try:
        with pipeline.sql_client() as client:
            names = ", ".join(client.escape_column_name(c) for c in LAG_COLUMNS)
            table = client.make_qualified_table_name(LAG_TABLE)
            rows = client.execute_sql(
                f"SELECT {names} FROM {table} ORDER BY measured_at DESC LIMIT 1"  # noqa: S608
            )
    except DatabaseUndefinedRelation:
        return None
    return dict(zip(LAG_COLUMNS, rows[0], strict=True)) if rows else None


def lag_line(lag: dict[str, Any]) -> str:
    """``slot sluice_cdc: 4096 bytes of WAL retained, confirmed 3 s before the last run...``."""
    size = lag.get("lag_bytes")
    retained = "unknown" if size is None else f"{int(size)} bytes"
    threshold = int(lag.get("alert_threshold_bytes") or 0)
    verdict = "ALERT " if lag.get("alert") else ""
    return (
        f"{verdict}slot {lag.get('slot_name')}: {retained} of WAL retained, confirmed "
        f"{float(lag.get('lag_age_s') or 0):.0f} s before the last run "
        f"(alert above {threshold} bytes)"
    )
