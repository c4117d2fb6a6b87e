"""Running the ``sluice`` command in an isolated project and reading what it loaded.

Every run is a real ``sluice`` process (the console script ``pip install -e .`` puts next
to the venv's Python) whose dlt data dir, project folder and DuckDB file live in the
test's ``tmp_path``; the emulator runs in the test process, so the test reads the same
records the connector was served.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import duckdb

from tests.load_hold import hold_env, install_hook, kill_when

SLUICE = Path(sys.executable).with_name("sluice")
REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 120.0
KILL_DEADLINE_S = 60.0
POLL_S = 0.005
ISOLATED_PREFIXES = ("SOURCES__", "DESTINATION__", "DLT_", "RUNTIME__", "SLUICE__", "NORMALIZE__")


class RequestGate:
    """Holds the emulator's ``nth`` request once armed, so a kill lands mid-extract.

    An emulator calls :meth:`passing` as it starts answering each request; the armed
    request waits there for good (its client is killed meanwhile, so no answer is due;
    the emulators serve each request on a daemon thread, which stopping does not join).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._remaining: Optional[int] = None
        self.reached = threading.Event()
        self._never = threading.Event()

    def arm(self, nth: int) -> None:
        """Holds the ``nth`` request from now on (1 = the next one)."""
        with self._lock:
            self._remaining = nth

    def passing(self) -> None:
        """Called for every request; blocks the armed one."""
        with self._lock:
            if self._remaining is None:
                return
            self._remaining -= 1
            hold = self._remaining == 0
            if hold:
                self._remaining = None
        if hold:
            self.reached.set()
            # Answering after the kill would only print a BrokenPipeError traceback.
            self._never.wait()

    def sleep(self, seconds: float) -> None:
        """A ``sleep`` for emulators that wait through an injectable sleep: never sleeps."""
        self.passing()

    def wrap(self, handle: Callable[..., Any]) -> Callable[..., Any]:
        """``handle`` passing through the gate first."""

        def gated(*args: Any, **kwargs: Any) -> Any:
            self.passing()
            return handle(*args, **kwargs)

        return gated


@dataclass
class Project:
    """A fresh project folder, dlt data dir and DuckDB file for one connector's pipeline."""

    root: Path
    connector: str
    settings: Mapping[str, str]
    """Environment pointing the connector at its emulator (``SOURCES__<NAME>__*``)."""

    @property
    def folder(self) -> Path:
        return self.root / "project"

    @property
    def dlt_dir(self) -> Path:
        return self.root / "dlt"

    @property
    def db(self) -> Path:
        # not named after the dataset: dlt would refuse a file that shadows it
        return self.root / f"{self.connector}_data.duckdb"

    @property
    def working_dir(self) -> Path:
        return self.dlt_dir / "pipelines" / self.connector

    @property
    def hold_signals(self) -> Path:
        """Where the hold hook signals each held table (``held/<table>``)."""
        return self.root / "held"

    def held(self, table: str) -> Callable[[], bool]:
        """True once the hook holds the run after ``table``'s job was committed."""
        return (self.hold_signals / table).exists

    def env(
        self, overrides: Optional[Mapping[str, str]] = None, hold: tuple[str, ...] = ()
    ) -> dict[str, str]:
        """This process's environment without any dlt or sluice setting, plus the project's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(ISOLATED_PREFIXES)}
        env.update(
            {
                "DLT_DATA_DIR": str(self.dlt_dir),
                "RUNTIME__DLTHUB_TELEMETRY": "false",
                "DESTINATION__DUCKDB__CREDENTIALS": str(self.db),
                **self.settings,
                **(overrides or {}),
            }
        )
        if hold:
            hook = install_hook(self.root / "hook")
            env.update(hold_env(hold, self.hold_signals, hook, REPO_ROOT))
        return env

    def command(self, *args: str) -> list[str]:
        assert SLUICE.exists(), "pip install -e . installs the sluice command next to python"
        return [str(SLUICE), *args]

    def sluice(
        self, *args: str, overrides: Optional[Mapping[str, str]] = None
    ) -> subprocess.CompletedProcess[str]:
        """Runs ``sluice <args>`` in the project folder to the end."""
        return subprocess.run(
            self.command(*args),
            cwd=self.folder,
            env=self.env(overrides),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )

    def run_ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``sluice run <connector> <args>``, which must succeed."""
        done = self.sluice("run", self.connector, *args)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    def run_killed(
        self, reached: Callable[[], bool], *args: str, hold: tuple[str, ...] = ()
    ) -> None:
        """Runs ``sluice run <connector>`` and SIGKILLs it by PID once ``reached()``."""
        process = subprocess.Popen(
            self.command("run", self.connector, *args),
            cwd=self.folder,
            env=self.env(hold=hold),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        kill_when(process, reached, deadline_s=KILL_DEADLINE_S, poll_s=POLL_S)

    def status(self) -> dict[str, Any]:
        """``sluice status --json`` for this connector's pipeline."""
        done = self.sluice("status", "--json", "--pipeline", self.connector)
        assert done.returncode == 0, done.stderr
        report: dict[str, Any] = json.loads(done.stdout)
        return report

    # -- reading the loaded file ---------------------------------------------------------

    def query(self, sql: str, params: Optional[list[Any]] = None) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def columns(self, table: str) -> set[str]:
        return {
            r[0]
            for r in self.query(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ?",
                [self.connector, table],
            )
        }

    def rows(self, table: str, key: str, *columns: str) -> dict[Any, tuple[Any, ...]]:
        """Rows of ``table`` by primary key; fails on a key loaded twice."""
        selected = ", ".join([key, *columns])
        found = self.query(f'SELECT {selected} FROM {self.connector}."{table}"')  # noqa: S608
        twice = sorted(k for k, n in Counter(r[0] for r in found).items() if n > 1)
        assert not twice, f"{table}: {len(twice)} primary key(s) loaded twice, e.g. {twice[:3]}"
        return {r[0]: r[1:] for r in found}

    def rows_anywhere(self, table: str) -> int:
        """Rows of ``table`` in the dataset and its staging dataset (merge jobs load there)."""
        schemas = self.query(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = ? "
            "AND table_schema IN (?, ?)",
            [table, self.connector, f"{self.connector}_staging"],
        )
        counts = [self.query(f'SELECT COUNT(*) FROM {s}."{table}"')[0][0] for (s,) in schemas]  # noqa: S608
        return int(sum(counts))

    def keys(self, table: str, key: str) -> set[Any]:
        return set(self.rows(table, key))


def no_row_loaded_twice(project: Project) -> Iterator[str]:
    """Tables (of this dataset) holding a dlt row id twice, and loads recorded twice."""
    tables = [
        r[0]
        for r in project.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
            [project.connector],
        )
    ]
    for table in tables:
        if "_dlt_id" in project.columns(table):
            copies = project.query(
                f'SELECT COUNT(*) - COUNT(DISTINCT _dlt_id) FROM {project.connector}."{table}"'  # noqa: S608
            )
            if copies != [(0,)]:
                yield table
    loads = project.query(
        f"SELECT load_id FROM {project.connector}._dlt_loads GROUP BY 1 HAVING COUNT(*) > 1"  # noqa: S608
    )
    if loads:
        yield "_dlt_loads"
