"""Starts a real PostgreSQL cluster on loopback with ``wal_level = logical``.

Uses the installed server binaries (Debian's ``postgresql`` package). PostgreSQL refuses
to run as root, so as root the cluster runs as the ``postgres`` user. Logical decoding
needs ``wal_level = logical`` and free slots and WAL senders:
https://www.postgresql.org/docs/current/logical-replication-config.html
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Optional

logger = logging.getLogger("sluice.sandbox.postgres")

LOGICAL_SETTINGS = ("wal_level=logical", "max_replication_slots=20", "max_wal_senders=20")


@dataclass
class PostgresSandbox:
    """A running cluster: connection details and how to stop it.

    Attributes:
        port: Loopback port it listens on.
        root: Folder holding the data directory, socket and log.
        bin_dir: Server binaries used.
        run_as: OS user the server runs as (``postgres`` when started as root).
        database: The database created at start.
    """

    port: int
    root: Path
    bin_dir: Path
    run_as: Optional[str]
    database: str = "sluice"
    owned_root: bool = field(default=False, repr=False)

    def dsn_for(self, database: str) -> str:
        """DSN of ``database``; trust auth ignores the password dlt insists on."""
        return f"postgresql://postgres:unused@127.0.0.1:{self.port}/{database}"

    @property
    def dsn(self) -> str:
        """DSN of the database created at start."""
        return self.dsn_for(self.database)

    def psql(self, sql: str, database: str = "postgres", check: bool = True) -> str:
        """Runs ``sql`` with psql and returns its output."""
        result = self.run(
            str(self.bin_dir / "psql"),
            *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database),
            *("-v", "ON_ERROR_STOP=1", "-At", "-c", sql),
            check=check,
        )
        return result.stdout

    def stop(self) -> None:
        """Stops the server immediately (and removes its folder if this made it)."""
        self.run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.root / "data"),
            "-m",
            "immediate",
            "stop",
            check=False,
        )
        if self.owned_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Runs a server binary as the cluster's user."""
        full = ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else list(cmd)
        return subprocess.run(full, check=check, capture_output=True, text=True, timeout=60)

    def __enter__(self) -> PostgresSandbox:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()


def find_bin_dir() -> Optional[Path]:
    """The newest installed PostgreSQL server bin directory, if any."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare_root(root: Path, run_as: Optional[str]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sock").mkdir(exist_ok=True)
    if run_as:
        shutil.chown(root, user=run_as)
        shutil.chown(root / "sock", user=run_as)
        os.chmod(root, 0o755)
        for parent in root.parents:  # the postgres user must traverse the parents
            if parent == Path("/"):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o011)


def start_logical_postgres(
    root: Optional[Path] = None, settings: tuple[str, ...] = LOGICAL_SETTINGS
) -> PostgresSandbox:
    """Initialises and starts a cluster configured for logical replication.

    Args:
        root: Folder for the cluster; a fresh temporary one (removed on stop) if None.
        settings: ``name=value`` server settings passed with ``-c``.

    Returns:
        The running server, with the database ``sluice`` created.

    Raises:
        RuntimeError: No server binaries, or the server did not start.
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    run_as = "postgres" if os.geteuid() == 0 else None
    owned = root is None
    root = root or Path(tempfile.mkdtemp(prefix="sluice-pg-"))
    _prepare_root(root, run_as)
    server = PostgresSandbox(_free_port(), root, bin_dir, run_as, owned_root=owned)
    server.run(
        str(bin_dir / "initdb"),
        "-D",
        str(root / "data"),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
    )
    options = " ".join(
        [f"-p {server.port} -k {root / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off"]
        + [f"-c {s}" for s in settings]
    )
    server.run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(root / "data"),
        "-w",
        "-l",
        str(root / "log"),
        "-o",
        options,
        "start",
    )
    deadline = time.monotonic() + 30
    while True:
        result = server.run(
            str(bin_dir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(server.port),
            "-U",
            "postgres",
            "-c",
            f"CREATE DATABASE {server.database}",
            check=False,
        )
        if result.returncode == 0:
            logger.info("PostgreSQL sandbox listening on 127.0.0.1:%d", server.port)
            return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()}")
        time.sleep(0.2)


SEED_SQL = """
CREATE TABLE IF NOT EXISTS customers (
    id integer PRIMARY KEY, name text NOT NULL, email text, notes text
);
CREATE TABLE IF NOT EXISTS orders (
    id bigint PRIMARY KEY, customer_id integer, amount numeric(12, 2),
    paid boolean DEFAULT false, created_at timestamptz DEFAULT '2026-01-01T00:00:00Z'
);
INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', NULL),
    (2, 'Grace', 'grace@example.com', 'VIP'), (3, 'Linus', NULL, NULL)
    ON CONFLICT DO NOTHING;
INSERT INTO orders (id, customer_id, amount, paid) VALUES (10, 1, 12.50, true),
    (11, 2, 99.99, false), (12, 2, 5.00, true) ON CONFLICT DO NOTHING;
"""
SEEDED_TABLES = ("customers", "orders")


def seed_tables(server: PostgresSandbox, database: Optional[str] = None) -> tuple[str, ...]:
    """Creates and fills the sandbox's tables; returns their names."""
    server.psql(SEED_SQL, database=database or server.database)
    return SEEDED_TABLES


DEMO_CHANGES = """
INSERT INTO customers VALUES (4, 'Edsger', 'edsger@example.com', NULL);
UPDATE customers SET email = 'ada@new.example' WHERE id = 1;
DELETE FROM customers WHERE id = 3;
UPDATE orders SET paid = true WHERE id = 11;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS note text;
INSERT INTO orders (id, customer_id, amount, note) VALUES (13, 4, 42.00, 'first order');
"""
"""Changes the sandbox makes between its snapshot run and its stream run."""


def make_changes(server: PostgresSandbox, database: Optional[str] = None) -> None:
    """Inserts, updates, deletes and adds a column in the seeded tables."""
    server.psql(DEMO_CHANGES, database=database or server.database)
