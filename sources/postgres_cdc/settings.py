"""Postgres CDC constants: the declaration's resources, names and column names."""

from __future__ import annotations

from sandbox.postgres.server import SEEDED_TABLES

RESOURCES: tuple[str, ...] = SEEDED_TABLES
"""The sandbox's seeded tables; against a real server any configured table loads."""

DEFAULT_RESOURCES: tuple[str, ...] = SEEDED_TABLES
"""Tables a run replicates when ``sources.postgres_cdc.tables`` is not set (the sandbox's)."""

SECTION = "sources.postgres_cdc"
TABLES_SETTING = f"{SECTION}.tables"
CREDENTIALS_SETTING = f"{SECTION}.credentials"

DEFAULT_SLOT = "sluice_cdc"
DEFAULT_PUBLICATION = "sluice_cdc"

LSN_COLUMN = "_pg_lsn"
"""WAL position of a row's change (the snapshot's consistent point for snapshot rows):
the newest version of a key wins within one load (dlt ``dedup_sort``)."""

DELETED_COLUMN = "deleted"
"""True on rows deleted in the source (soft delete); a ``hard_delete`` hint otherwise."""

MARKER_PREFIX = "sluice_cdc"
"""Prefix of the logical message a run emits to know where the stream it reads ends."""

RESOURCE_NAME = "postgres_cdc"
"""The one dlt resource reading the slot; it routes rows to one table per source table."""

SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO -c bytea_output=hex"
"""Value text in one form for the snapshot and the walsender (output functions use them)."""
