"""The throwaway PostgreSQL server of the destination and CDC tests.

It is the Postgres CDC sandbox's server (``sandbox/postgres``: Debian's ``postgresql``
binaries, which ``.ci/run`` installs, with ``wal_level = logical``), plus a fresh empty
database per test.
"""

from __future__ import annotations

from pathlib import Path

from sandbox.postgres.server import PostgresSandbox, find_bin_dir, start_logical_postgres

__all__ = ["PostgresServer", "find_bin_dir", "start_postgres"]


class PostgresServer(PostgresSandbox):
    """A running cluster the tests create databases on."""

    def create_database(self, name: str) -> str:
        """Creates an empty database and returns its DSN."""
        self.psql(f"CREATE DATABASE {name}")
        return self.dsn_for(name)


def start_postgres(root: Path) -> PostgresServer:
    """Initialises and starts a cluster under ``root``; raises if it cannot."""
    started = start_logical_postgres(root)
    return PostgresServer(
        started.port, started.root, started.bin_dir, started.run_as, started.database
    )
