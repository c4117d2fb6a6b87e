"""kill -9 anywhere in extract, normalize or load, run again: exactly the source's data.

The pipeline runs as a real process (``pipelines/stripe_pipeline.py``) against a sandbox served
from the test process; the test watches the pipeline's working folder and SIGKILLs the
process by PID when a step is under way, then runs the pipeline again and compares
every table and nested table with what the sandbox lists: each object once, each nested
row once, no nested row without its parent.

Where the kill lands inside the load is a race; one kill point is exact: a test-only
``sitecustomize`` (put on the pipeline's ``PYTHONPATH`` by this test, nothing in the
sources) holds dlt's worker threads right after the destination committed a job and
before dlt recorded it (``PackageStorage.save_pending_transition``), the window in which
a kill made dlt load those rows again (see ``sources/kit/resume.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pytest

from pipelines import stripe_pipeline
from sandbox.stripe import StripeSandbox
from sources.stripe import RESOURCE_NAMES
from tests.load_hold import hold_env, install_hook, kill_when

REPO_ROOT = Path(__file__).resolve().parents[2]
VOLUME = 10
KILL_DEADLINE_S = 120.0
POLL_S = 0.001


FIRST_SYNC_HOLD = (
    "events",  # append
    "charges",  # merge, declared deduplicated (columnar path)
    "balance_transactions__fee_details",  # nested table of an append table
    "customers__preferred_locales",  # nested table of a merge table
)
INCREMENTAL_HOLD = ("events", "customers", "customers__preferred_locales")


@dataclass
class Workspace:
    """One pipeline's folders and the sandbox it reads."""

    root: Path
    sandbox: StripeSandbox
    deleted: dict[str, set[str]] = field(default_factory=dict)

    @property
    def dlt_dir(self) -> Path:
        return self.root / "dlt"

    @property
    def db(self) -> Path:
        return self.root / "stripe_data.duckdb"

    @property
    def package_dir(self) -> Path:
        return self.dlt_dir / "pipelines" / "stripe"

    @property
    def signals(self) -> Path:
        return self.root / "signals"

    def env(self, hold: tuple[str, ...] = ()) -> dict[str, str]:
        env = {
            **os.environ,
            "DLT_DATA_DIR": str(self.dlt_dir),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "SOURCES__STRIPE__BASE_URL": self.sandbox.base_url,
            "SOURCES__STRIPE__API_KEY": self.sandbox.api_key,
            "DESTINATION__DUCKDB__CREDENTIALS": str(self.db),
        }
        if hold:
            env.update(hold_env(hold, self.signals, self.root / "hook", REPO_ROOT))
        return env


# -- kill points: what the working folder shows while a step is under way ----------------


def files(pattern: str) -> Callable[[Workspace], bool]:
    """True once a file matches ``pattern`` under the pipeline's folder."""
    return lambda ws: any(True for _ in ws.package_dir.glob(pattern))


def extracting(ws: Workspace) -> bool:
    """Extract is writing (its files are not yet committed to ``normalize/extracted``)."""
    return any(
        path.parts[-4] != "extracted" for path in ws.package_dir.glob("normalize/*/*/new_jobs/*")
    )


def held(tables: tuple[str, ...]) -> Callable[[Workspace], bool]:
    """Every held table has a committed, unrecorded job (see ``tests/load_hold.py``)."""
    return lambda ws: all((ws.signals / t).exists() for t in tables)


@dataclass(frozen=True)
class KillPoint:
    """When to kill, and whether the run needs the hold hook."""

    reached: Callable[[Workspace], bool]
    hold: tuple[str, ...] = ()


NORMALIZING = files("load/new/*/new_jobs/*")
LOAD_BEGUN = files("load/normalized/*/started_jobs/*")
LOAD_MIDWAY = files("load/normalized/*/completed_jobs/*")
MERGING = files("load/normalized/*/*_jobs/*.sql")


# -- running -----------------------------------------------------------------------------


def spawn(ws: Workspace, hold: tuple[str, ...], args: tuple[str, ...]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "pipelines" / "stripe_pipeline.py"), *args],
        cwd=ws.root,
        env=ws.env(hold),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def run_killed(ws: Workspace, point: KillPoint, *args: str) -> None:
    """Runs the pipeline process and SIGKILLs it by PID once ``point`` is reached."""
    process = spawn(ws, point.hold, args)
    kill_when(process, lambda: point.reached(ws), deadline_s=KILL_DEADLINE_S, poll_s=POLL_S)


@pytest.fixture
def workspace(
    tmp_path: Path,
    stripe_sandbox_factory: Callable[..., StripeSandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Workspace]:
    """A sandbox, the pipeline's folders, and the env for in-process runs."""
    ws = Workspace(tmp_path, stripe_sandbox_factory(volume=VOLUME))
    install_hook(tmp_path / "hook")
    ws.signals.mkdir()
    for name in ("DLT_DATA_DIR", "RUNTIME__DLTHUB_TELEMETRY", "SOURCES__STRIPE__BASE_URL"):
        monkeypatch.setenv(name, ws.env()[name])
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", ws.sandbox.api_key)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(ws.db))
    yield ws


def run_to_the_end(ws: Workspace) -> None:
    """The re-run (in this process: same code, no second interpreter start-up)."""
    assert stripe_pipeline.main([]) == 0


def change_the_account(ws: Workspace) -> None:
    """Updates, deletes and creates objects (events and merges for the next run)."""
    store = ws.sandbox.store
    customers = store.listable("customers")
    store.update("customer", customers[0]["id"], name="Renamed Customer")
    store.delete("customer", customers[1]["id"])
    ws.deleted["customers"] = {customers[1]["id"]}
    store.create(
        "customer", name="Brand New", email="new@example.com", preferred_locales=["de", "fr"]
    )
    subscription = next(s for s in store.listable("subscriptions") if s["status"] != "canceled")
    store.delete("subscription", subscription["id"])


# -- comparing with the source -------------------------------------------------------------


def assert_exactly_the_source(ws: Workspace) -> None:
    """Every table and nested table holds the sandbox's objects once; no orphans."""
    store = ws.sandbox.store
    with duckdb.connect(str(ws.db), read_only=True) as con:
        tables = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'stripe'"
            ).fetchall()
        }
        for table in sorted(tables):
            columns = {
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = 'stripe' AND table_name = ?",
                    [table],
                ).fetchall()
            }
            if "_dlt_id" in columns:
                copies = con.execute(
                    f'SELECT COUNT(*) - COUNT(DISTINCT _dlt_id) FROM stripe."{table}"'
                ).fetchone()
                assert copies == (0,), f"{table}: rows loaded twice"
        loads = con.execute("SELECT load_id, COUNT(*) FROM stripe._dlt_loads GROUP BY 1").fetchall()
        assert all(n == 1 for _, n in loads), loads
        for resource in RESOURCE_NAMES:
            assert resource in tables, f"{resource} missing"
            ids = Counter(r[0] for r in con.execute(f"SELECT id FROM stripe.{resource}").fetchall())
            twice = sorted(i for i, n in ids.items() if n > 1)
            assert not twice, f"{resource}: {len(twice)} object(s) twice, e.g. {twice[:3]}"
            listed = {o["id"] for o in store.listable(resource)}
            assert set(ids) == listed | ws.deleted.get(resource, set()), resource
        nested = [t for t in tables if "__" in t and not t.startswith("_")]
        assert len(nested) >= 4, nested
        for table in nested:
            assert_nested_rows(con, store, table)


def assert_nested_rows(con: Any, store: Any, table: str) -> None:
    """One nested row per list item of every listed parent; none without a parent."""
    parent = max((r for r in RESOURCE_NAMES if table.startswith(f"{r}__")), key=len)
    path = table[len(parent) + 2 :].split("__")
    orphans = con.execute(
        f'SELECT COUNT(*) FROM stripe."{table}" WHERE _dlt_parent_id NOT IN '  # noqa: S608
        f"(SELECT _dlt_id FROM stripe.{parent})"
    ).fetchone()
    assert orphans == (0,), f"{table}: nested rows without a parent"
    loaded = Counter(
        (parent_id, int(index))
        for parent_id, index in con.execute(
            f'SELECT p.id, c._dlt_list_idx FROM stripe."{table}" c '  # noqa: S608
            f"JOIN stripe.{parent} p ON c._dlt_parent_id = p._dlt_id"
        ).fetchall()
    )
    expected: Counter[tuple[str, int]] = Counter()
    for obj in store.listable(parent):
        value: Any = obj
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        expected.update((obj["id"], i) for i in range(len(value or [])))
    listed = {o["id"] for o in store.listable(parent)}
    loaded_listed = Counter({k: n for k, n in loaded.items() if k[0] in listed})
    assert loaded_listed == expected, f"{table}: nested rows differ from the source"


# -- the tests ---------------------------------------------------------------------------


FIRST_SYNC_POINTS = {
    "extract": KillPoint(extracting),
    "normalize": KillPoint(NORMALIZING),
    "load-begun": KillPoint(LOAD_BEGUN),
    "load-midway": KillPoint(LOAD_MIDWAY),
    "load-merging": KillPoint(MERGING),
    "load-committed-unrecorded": KillPoint(held(FIRST_SYNC_HOLD), FIRST_SYNC_HOLD),
}

INCREMENTAL_POINTS = {  # the racy load points run on the first sync only (time budget)
    "extract": KillPoint(extracting),
    "load-committed-unrecorded": KillPoint(held(INCREMENTAL_HOLD), INCREMENTAL_HOLD),
}


@pytest.mark.e2e
@pytest.mark.parametrize("point", list(FIRST_SYNC_POINTS.values()), ids=list(FIRST_SYNC_POINTS))
def test_first_sync_killed_then_rerun_loads_exactly_the_source(
    workspace: Workspace, point: KillPoint
) -> None:
    run_killed(workspace, point)

    run_to_the_end(workspace)

    assert_exactly_the_source(workspace)


@pytest.mark.e2e
def test_postgres_first_sync_killed_after_commits_then_rerun_loads_exactly_the_source(
    workspace: Workspace, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Postgres a re-run job's rows break dlt's UNIQUE row key: the resume used to fail
    on every run and the merge table of that job stayed empty."""
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_dsn)
    point = FIRST_SYNC_POINTS["load-committed-unrecorded"]

    run_killed(workspace, point, "--destination", "postgres")
    assert stripe_pipeline.main(["--destination", "postgres"]) == 0

    with psycopg2.connect(postgres_dsn) as con, con.cursor() as cur:
        for resource in RESOURCE_NAMES:
            cur.execute(f"SELECT id FROM stripe.{resource}")  # noqa: S608
            ids = [r[0] for r in cur.fetchall()]
            listed = {o["id"] for o in workspace.sandbox.store.listable(resource)}
            assert len(ids) == len(set(ids)) and set(ids) == listed, resource


@pytest.mark.e2e
@pytest.mark.parametrize("point", list(INCREMENTAL_POINTS.values()), ids=list(INCREMENTAL_POINTS))
def test_incremental_run_killed_then_rerun_loads_exactly_the_source(
    workspace: Workspace, point: KillPoint
) -> None:
    run_to_the_end(workspace)
    change_the_account(workspace)

    run_killed(workspace, point)
    run_to_the_end(workspace)

    assert_exactly_the_source(workspace)
    with duckdb.connect(str(workspace.db), read_only=True) as con:
        names = dict(con.execute("SELECT name, deleted FROM stripe.customers").fetchall())
    assert names.get("Renamed Customer") is False and names.get("Brand New") is False
