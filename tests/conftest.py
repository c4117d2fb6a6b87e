"""Shared fixtures: the Stripe sandbox plugin and an isolated dlt working area."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.postgres_server import PostgresServer

pytest_plugins = [
    "sandbox.stripe.pytest_plugin",
    "sandbox.servicenow.pytest_plugin",
    "sandbox.salesforce.pytest_plugin",
    "sandbox.slack.pytest_plugin",
    "sandbox.gmail.pytest_plugin",
    "sandbox.shopify.pytest_plugin",
]


@pytest.fixture
def dlt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Points dlt's data dir (pipelines, state) at a fresh temp folder."""
    home = tmp_path / "dlt_home"
    home.mkdir()
    monkeypatch.setenv("DLT_DATA_DIR", str(home))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    yield home


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    """A DuckDB file in the test's temp folder (named apart from the dataset)."""
    return tmp_path / "stripe_data.duckdb"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on loopback for the whole session."""
    from tests.postgres_server import find_bin_dir, start_postgres

    if find_bin_dir() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    # Outside pytest's base temp: every pytest session resets /tmp/pytest-of-<user> to
    # 0700, and a second session on the machine then locked the postgres user out of its
    # data directory mid-run (PANIC at the next checkpoint).
    root = Path(tempfile.mkdtemp(prefix="sluice-postgres-"))
    server = start_postgres(root)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    import re

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50]
    return postgres_server.create_database(name)


def pytest_configure(config: pytest.Config) -> None:
    """dbt after every load costs ~10 s a run: tests that check the models turn it back on."""
    os.environ.setdefault("SLUICE__REFRESH_MODELS", "false")


_EXIT_STATUS: list[int] = []


_SKIPPED_ON_CI: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """On CI, remembers every skipped test: CI must run them all (Postgres, the lake...)."""
    if report.skipped and os.environ.get("CI"):
        _SKIPPED_ON_CI.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fails a CI run that skipped tests; remembers the exit status for unconfigure."""
    if _SKIPPED_ON_CI and int(exitstatus) == 0:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(
                f"CI=true but {len(_SKIPPED_ON_CI)} test(s) were skipped "
                f"(first: {_SKIPPED_ON_CI[0]}); install what they need (see .ci/run)",
                red=True,
            )
        session.exitstatus = 1
        exitstatus = 1
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Exits without interpreter teardown once pytest has finished everything.

    duckdb 2.0's nanobind bindings print dozens of "leaked type/function" lines at
    interpreter shutdown after some combinations of tests (no thread or connection is
    left open; the order of module teardown triggers it), burying pytest's summary line.
    Every other plugin has unconfigured by now (this hook runs last), so nothing is lost.
    """
    if _EXIT_STATUS:
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
