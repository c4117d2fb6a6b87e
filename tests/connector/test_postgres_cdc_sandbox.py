"""``python -m sandbox.postgres``: a logical-replication server, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from sandbox.postgres.server import find_bin_dir

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres]


@pytest.mark.skipif(find_bin_dir() is None, reason="PostgreSQL server binaries not installed")
def test_standalone_sandbox_serves_a_logical_server_until_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.postgres"],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert process.stderr is not None
        dsn = ""
        for line in process.stderr:
            if "SOURCES__POSTGRES_CDC__CREDENTIALS=" in line:
                dsn = line.split("=", 1)[1].strip()
                break
        assert dsn.startswith("postgresql://")
        with psycopg2.connect(dsn) as con, con.cursor() as cur:
            cur.execute("SHOW wal_level")
            assert cur.fetchone() == ("logical",)
            cur.execute("SELECT count(*) FROM customers")
            assert cur.fetchone() == (3,)
        con.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(dsn, connect_timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
