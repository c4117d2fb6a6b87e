"""A throwaway PostgreSQL server on loopback for destination tests.

Uses the server binaries of Debian's ``postgresql`` package (``.ci/run`` installs it).
PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


@dataclass
class PostgresServer:
    """A running cluster: connection details and how to stop it."""

    port: int
    data_dir: Path
    bin_dir: Path
    run_as: Optional[str]
    database: str = "sluice"

    @property
    def dsn(self) -> str:
        return self.dsn_for(self.database)

    def dsn_for(self, database: str) -> str:
        # trust auth ignores the password, but dlt requires one in the credentials
        return f"postgresql://postgres:unused@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Creates an empty database and returns its DSN."""
        self._run(
            str(self.bin_dir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-c",
            f"CREATE DATABASE {name}",
        )
        return self.dsn_for(name)

    def stop(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-m",
            "immediate",
            "stop",
            check=False,
        )

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        full = ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else list(cmd)
        return subprocess.run(full, check=check, capture_output=True, text=True, timeout=60)


def find_bin_dir() -> Optional[Path]:
    """The newest installed PostgreSQL server bin directory, if any."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_postgres(root: Path) -> PostgresServer:
    """Initialises and starts a cluster under ``root``; raises if it cannot."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    run_as = "postgres" if os.geteuid() == 0 else None
    root.mkdir(parents=True, exist_ok=True)
    data_dir, socket_dir = root / "data", root / "sock"
    socket_dir.mkdir()
    if run_as:
        shutil.chown(root, user=run_as)
        shutil.chown(socket_dir, user=run_as)
        os.chmod(root, 0o755)
        # parents must be traversable by the postgres user
        for parent in root.parents:
            if parent == Path("/"):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o011)
    server = PostgresServer(port=free_port(), data_dir=data_dir, bin_dir=bin_dir, run_as=run_as)
    server._run(
        str(bin_dir / "initdb"),
        "-D",
        str(data_dir),
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-sync",
    )
    server._run(
        str(bin_dir / "pg_ctl"),
        "-D",
        str(data_dir),
        "-w",
        "-l",
        str(root / "log"),
        "-o",
        f"-p {server.port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        # logical replication for the Postgres CDC tests (sandbox/postgres)
        " -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20",
        "start",
    )
    deadline = time.monotonic() + 30
    while True:
        result = server._run(
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
            return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()}")
        time.sleep(0.2)
