"""Kill -9 test helpers: a ``sitecustomize`` that holds dlt after a job commit, and the kill.

Put on a pipeline process's ``PYTHONPATH`` only (nothing in the sources), it stops the
process in the one window where a re-run could load rows twice: the destination holds a
table's job, dlt has not yet recorded it. The test then kills the process with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

HOLD_HOOK = '''\
"""Test-only (tests/load_hold.py): holds dlt after a job's commit."""
import os
import threading

_tables = os.environ.get("SLUICE_TEST_HOLD_TABLES")
if _tables:
    from dlt.common.storages.load_package import PackageStorage
    from dlt.common.storages.load_storage import ParsedLoadJobFileName

    _hold = set(_tables.split(","))
    _signals = os.environ["SLUICE_TEST_HOLD_SIGNALS"]
    _save = PackageStorage.save_pending_transition

    def _held_save(self, load_id, file_name, state, failed_message=None):
        job = ParsedLoadJobFileName.parse(file_name)
        if state == "completed" and job.table_name in _hold and job.file_format != "sql":
            # the destination committed this job; dlt has not recorded it yet
            open(os.path.join(_signals, job.table_name), "w").close()
            threading.Event().wait()
        return _save(self, load_id, file_name, state, failed_message)

    PackageStorage.save_pending_transition = _held_save
'''


def install_hook(folder: Path) -> Path:
    """Writes the hook as ``folder/sitecustomize.py``; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(HOLD_HOOK)
    return folder


def hold_env(tables: Sequence[str], signals: Path, hook: Path, repo_root: Path) -> dict[str, str]:
    """Environment that holds the given tables' jobs, signalling ``signals/<table>``."""
    signals.mkdir(parents=True, exist_ok=True)
    return {
        "PYTHONPATH": os.pathsep.join([str(hook), str(repo_root)]),
        "SLUICE_TEST_HOLD_TABLES": ",".join(tables),
        "SLUICE_TEST_HOLD_SIGNALS": str(signals),
    }


def kill_when(
    process: subprocess.Popen[bytes],
    reached: Callable[[], bool],
    *,
    deadline_s: float,
    poll_s: float,
) -> None:
    """SIGKILLs ``process`` by PID once ``reached()``; fails if it ends or times out first."""
    deadline = time.monotonic() + deadline_s
    try:
        while not reached():
            if process.poll() is not None:
                err = process.stderr.read().decode()[-1500:] if process.stderr else ""
                pytest.fail(f"run ended (rc {process.returncode}) before the kill point\n{err}")
            if time.monotonic() > deadline:
                pytest.fail("kill point not reached in time")
            time.sleep(poll_s)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stderr:
            process.stderr.close()
    assert process.returncode == -signal.SIGKILL
