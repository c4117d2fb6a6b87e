"""kill -9 during extract, normalize or load of a file-drops run, run again: exact tables.

The pipeline runs as a real process (``pipelines/files_pipeline.py``) over a local folder;
the test watches the pipeline's working folder (as ``tests/e2e/test_kill9_resume.py``
does) and SIGKILLs the process by PID when a step is under way, then runs it again and
compares: every merged key holds its newest file's row, every appended row is there
once, every malformed row is one dead letter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from sandbox.files import write_csv, write_jsonl
from tests.load_hold import kill_when

REPO_ROOT = Path(__file__).resolve().parents[2]
FILES = 24
ROWS = 400
KEYS = 300
KILL_DEADLINE_S = 120.0


def write_folder(root: Path) -> None:
    """Order files whose keys overlap (later files win) and event files; one bad row each."""
    now = time.time()
    for n in range(FILES):
        when = now - 3600 + n * 10
        lines = ["order_id,status"]
        lines += [f"{(n * 37 + i) % KEYS},v{n}" for i in range(ROWS)]
        lines.append("broken")  # wrong column count
        write_csv(root / f"orders/o-{n:03d}.csv", lines, gz=n % 2 == 0, when=when)
        events = [{"event_id": f"{n}-{i}", "n": i} for i in range(ROWS)]
        write_jsonl(root / f"events/e-{n:03d}.jsonl", [*events, "{not json"], when=when)


def expected_orders() -> dict[int, str]:
    newest: dict[int, str] = {}
    for n in range(FILES):
        for i in range(ROWS):
            newest[(n * 37 + i) % KEYS] = f"v{n}"
    return newest


def env(root: Path) -> dict[str, str]:
    base = str(root / "drops")
    settings = {
        "SOURCES__FILES__DROPS__ORDERS__BUCKET_URL": base,
        "SOURCES__FILES__DROPS__ORDERS__FILE_GLOB": "orders/*",
        "SOURCES__FILES__DROPS__ORDERS__PRIMARY_KEY": "order_id",
        "SOURCES__FILES__DROPS__ORDERS__WRITE_DISPOSITION": "merge",
        "SOURCES__FILES__DROPS__ORDERS__COLUMNS": json.dumps({"order_id": "bigint"}),
        "SOURCES__FILES__DROPS__ORDERS__SETTLE_S": "0",
        "SOURCES__FILES__DROPS__EVENTS__BUCKET_URL": base,
        "SOURCES__FILES__DROPS__EVENTS__FILE_GLOB": "events/*",
        "SOURCES__FILES__DROPS__EVENTS__SETTLE_S": "0",
    }
    return {
        **os.environ,
        **settings,
        "DLT_DATA_DIR": str(root / "dlt"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "DESTINATION__DUCKDB__CREDENTIALS": str(root / "files_data.duckdb"),
    }


def spawn(root: Path) -> subprocess.Popen[bytes]:
    script = REPO_ROOT / "pipelines" / "files_pipeline.py"
    return subprocess.Popen(
        [sys.executable, str(script), "--resources", "orders,events", "--no-models"],
        cwd=root,
        env=env(root),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def package_glob(pattern: str) -> Callable[[Path], bool]:
    return lambda root: any(True for _ in (root / "dlt" / "pipelines" / "files").glob(pattern))


def extracting(root: Path) -> bool:
    """Extract is writing (its files not yet committed to ``normalize/extracted``)."""
    folder = root / "dlt" / "pipelines" / "files"
    return any(p.parts[-4] != "extracted" for p in folder.glob("normalize/*/*/new_jobs/*"))


KILL_POINTS = {
    "extract": extracting,
    "normalize": package_glob("load/new/*/new_jobs/*"),
    "load": package_glob("load/normalized/*/started_jobs/*"),
    "merge": package_glob("load/normalized/*/*_jobs/*.sql"),
}


@pytest.mark.parametrize("point", list(KILL_POINTS), ids=list(KILL_POINTS))
def test_kill9_then_rerun_is_exact(tmp_path: Path, point: str) -> None:
    write_folder(tmp_path / "drops")
    process = spawn(tmp_path)
    reached = KILL_POINTS[point]
    kill_when(process, lambda: reached(tmp_path), deadline_s=KILL_DEADLINE_S, poll_s=0.001)

    rerun = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "pipelines" / "files_pipeline.py"),
            "--resources",
            "orders,events",
            "--no-models",
        ],
        cwd=tmp_path,
        env=env(tmp_path),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr.decode()[-1500:]

    with duckdb.connect(str(tmp_path / "files_data.duckdb"), read_only=True) as con:
        orders = dict(con.sql("select order_id, status from files.orders").fetchall())
        events = con.sql("select count(*), count(distinct event_id) from files.events").fetchall()
        letters = con.sql(
            "select resource, count(*) from files._dead_letters group by 1 order by 1"
        ).fetchall()
    assert orders == expected_orders()
    assert events == [(FILES * ROWS, FILES * ROWS)]
    assert letters == [("events", FILES), ("orders", FILES)]
