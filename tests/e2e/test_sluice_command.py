"""End to end: the installed ``sluice`` command runs a sync, reports it and names mistakes.

The command is the console script pip installs from ``pyproject.toml``; it runs in a
fresh project folder as a new user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.cli import CONNECTORS
from sources.stripe.settings import RESOURCES

pytestmark = pytest.mark.e2e

SLUICE = Path(sys.executable).with_name("sluice")


@pytest.fixture
def project(dlt_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("SOURCES__STRIPE__RESOURCES", "SOURCES__STRIPE__API_KEY"):
        monkeypatch.delenv(key, raising=False)
    folder = tmp_path / "project"
    (folder / ".dlt").mkdir(parents=True)
    (folder / ".dlt" / "config.toml").write_text("")
    return folder


def sluice(folder: Path, *args: str) -> Any:
    assert SLUICE.exists(), "pip install -e . installs the sluice command"
    return subprocess.run(
        [str(SLUICE), *args],
        cwd=folder,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_run_then_status_through_one_command(project: Path) -> None:
    ran = sluice(project, "run", "stripe", "--sandbox", "--resources", "customers,charges")
    assert ran.returncode == 0, ran.stderr
    with duckdb.connect(str(project / "stripe_sandbox_data.duckdb"), read_only=True) as con:
        customers = con.execute("SELECT count(*) FROM stripe_sandbox.customers").fetchone()
        ledger = con.execute(
            "SELECT DISTINCT status FROM stripe_sandbox._sync_runs WHERE resource = 'charges'"
        ).fetchall()
    assert customers is not None and customers[0] > 0
    assert ledger == [("success",)]
    status = sluice(project, "status", "--pipeline", "stripe_sandbox")
    assert "stripe_sandbox" in status.stdout and "customers" in status.stdout


def test_list_names_every_connector_and_stripe_resource(project: Path) -> None:
    listed = sluice(project, "list")
    assert listed.returncode == 0
    lines = dict(line.split(": ", 1) for line in listed.stdout.splitlines())
    assert set(lines) == set(CONNECTORS)
    assert lines["stripe"].split(", ") == [resource.name for resource in RESOURCES]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ("run", "nosuch"),
            "error: unknown connector 'nosuch': use one of stripe, salesforce, servicenow",
            id="unknown-connector",
        ),
        pytest.param(
            ("webhooks", "drain", "salesforce"),
            "error: salesforce has no webhooks (only stripe has)",
            id="no-webhooks",
        ),
        pytest.param(
            ("sandbox", "servicenow"),
            "error: servicenow's emulator runs in-process only: sluice run servicenow --sandbox",
            id="no-standalone-emulator",
        ),
    ],
)
def test_a_wrong_name_is_a_usage_line(project: Path, args: tuple[str, ...], expected: str) -> None:
    result = sluice(project, *args)
    assert result.returncode == 2
    assert result.stderr.strip() == expected


def test_version_and_the_runners_usage_line(project: Path) -> None:
    assert sluice(project, "--version").stdout.startswith("sluice ")
    usage = sluice(project, "run", "stripe", "--help").stdout
    assert usage.startswith("usage: sluice run stripe ")
