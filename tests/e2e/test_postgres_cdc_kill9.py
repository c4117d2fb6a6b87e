"""Kill -9 during the change stream and during the load, re-run: the tables are exact.

The runs are real processes killed by PID (as ``tests/e2e/test_kill9_resume.py``): mid
stream by a test-only ``sitecustomize`` that stops after a few changes, mid load by
``tests/load_hold.py``'s hold after a job's commit.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest

from pipelines import postgres_cdc_pipeline
from sandbox.postgres.server import SEED_SQL
from tests.load_hold import hold_env, install_hook, kill_when
from tests.postgres_server import PostgresServer

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

REPO_ROOT = Path(__file__).resolve().parents[2]
COLUMNS = {
    "customers": "id, name, email, notes, deleted",
    "orders": "id, customer_id, amount, paid",
}

STREAM_HOOK = '''\
"""Test-only (tests/e2e/test_postgres_cdc_kill9.py): stops the stream after N changes."""
import os
import threading

_after = int(os.environ.get("SLUICE_TEST_CDC_STOP_AFTER", "0"))
if _after:
    from sources.postgres_cdc import changes

    _emit = changes.ChangeApplier._emit

    def _stopping_emit(self, *args, **kwargs):
        emitted = _emit(self, *args, **kwargs)
        if self.changes >= _after:
            open(os.environ["SLUICE_TEST_CDC_SIGNAL"], "w").close()
            threading.Event().wait()
        return emitted

    changes.ChangeApplier._emit = _stopping_emit
'''

CHANGES = [
    "INSERT INTO customers VALUES (4, 'Edsger', 'ed@example.com', NULL)",
    "UPDATE customers SET email = 'ada@new.example' WHERE id = 1",
    "DELETE FROM customers WHERE id = 3",
    "UPDATE orders SET paid = true WHERE id = 11",
    "INSERT INTO orders (id, customer_id, amount) VALUES (20, 4, 7.00)",
    "UPDATE customers SET notes = 'late' WHERE id = 2",
]


def execute(dsn: str, statement: str) -> list[tuple[Any, ...]]:
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(statement)
        rows = cur.fetchall() if cur.description else []
    con.close()
    return rows


def wait_slot_released(dsn: str, slot: str) -> None:
    """The server notices the killed walsender's client within milliseconds; wait for it."""
    deadline = time.monotonic() + 10
    query = f"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}'"  # noqa: S608
    while execute(dsn, query) not in ([], [(None,)]):
        assert time.monotonic() < deadline, "slot still active after the kill"
        time.sleep(0.005)


def exact(dsn: str, db: Path) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        for table, columns in COLUMNS.items():
            where = "WHERE deleted IS NOT TRUE"
            loaded = con.execute(
                f"SELECT {columns.replace(', deleted', '')} FROM postgres_cdc.{table} {where} ORDER BY id"  # noqa: S608, E501
            ).fetchall()
            source = execute(
                dsn, f"SELECT {columns.replace(', deleted', '')} FROM {table} ORDER BY id"
            )  # noqa: S608, E501
            assert loaded == source, table
            keys = con.execute(
                f"SELECT count(*), count(DISTINCT id) FROM postgres_cdc.{table}"
            ).fetchone()  # noqa: S608, E501
            assert keys is not None and keys[0] == keys[1], f"{table}: a key loaded twice"


@pytest.mark.parametrize("point", ["stream", "load"])
def test_killed_run_then_rerun_is_exact(
    point: str,
    postgres_server: PostgresServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    name = "k9_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    dsn = postgres_server.create_database(name)
    execute(dsn, SEED_SQL)
    slot = f"s_{name}"
    db = tmp_path / "cdc.duckdb"
    env = {
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "SOURCES__POSTGRES_CDC__CREDENTIALS": dsn,
        "SOURCES__POSTGRES_CDC__SLOT_NAME": slot,
        "DESTINATION__DUCKDB__CREDENTIALS": str(db),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert postgres_cdc_pipeline.main([]) == 0  # the snapshot
    for statement in CHANGES:
        execute(dsn, statement)

    signal = tmp_path / "signals" / "stream"
    if point == "stream":
        hook = tmp_path / "stream_hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(STREAM_HOOK)
        extra = {
            "PYTHONPATH": os.pathsep.join([str(hook), str(REPO_ROOT)]),
            "SLUICE_TEST_CDC_STOP_AFTER": "3",
            "SLUICE_TEST_CDC_SIGNAL": str(signal),
        }
        signal.parent.mkdir()
        reached: Callable[[], bool] = signal.exists
    else:
        extra = hold_env(
            ("customers",), tmp_path / "signals", install_hook(tmp_path / "hook"), REPO_ROOT
        )
        reached = (tmp_path / "signals" / "customers").exists
    confirmed = (
        f"SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '{slot}'"  # noqa: S608, E501
    )
    before = execute(dsn, confirmed)
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "pipelines" / "postgres_cdc_pipeline.py")],
        cwd=tmp_path,
        env={**os.environ, **env, **extra},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    kill_when(process, reached, deadline_s=120.0, poll_s=0.001)
    wait_slot_released(dsn, slot)
    # the killed run confirmed nothing it had read: the slot re-sends all of it
    assert execute(dsn, confirmed) == before

    execute(dsn, "UPDATE customers SET name = 'Ada L.' WHERE id = 1")
    assert postgres_cdc_pipeline.main([]) == 0
    exact(dsn, db)
    assert postgres_cdc_pipeline.main([]) == 0
    exact(dsn, db)
