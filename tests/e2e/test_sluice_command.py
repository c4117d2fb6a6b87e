"""End to end: the installed ``sluice`` command runs a sync, reports it and names mistakes.

The command is the console script pip installs from ``pyproject.toml``; it runs in a
fresh project folder as a new user would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import duckdb
import pytest
from dlt.pipeline.state_sync import decompress_state

from pipelines.cli import CONNECTORS
from sources.stripe.settings import RESOURCES

pytestmark = pytest.mark.e2e

SLUICE = Path(sys.executable).with_name("sluice")


@pytest.fixture
def project(dlt_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in list(os.environ):
        if key.startswith(("SOURCES__STRIPE__", "SOURCES__SALESFORCE__", "SOURCES__SERVICENOW__")):
            monkeypatch.delenv(key)
    folder = tmp_path / "project"
    (folder / ".dlt").mkdir(parents=True)
    (folder / ".dlt" / "config.toml").write_text("")
    return folder


def sluice(folder: Path, *args: str, env: Optional[dict[str, str]] = None) -> Any:
    assert SLUICE.exists(), "pip install -e . installs the sluice command"
    return subprocess.run(
        [str(SLUICE), *args],
        cwd=folder,
        env={**os.environ, **(env or {})},
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
    assert lines["salesforce"] == (
        "Account, Contact, Lead, Opportunity, User "
        "(defaults; --resources also takes any other sObject the org has)"
    )
    assert lines["servicenow"] == (
        "incident, change_request, sys_user, cmdb_ci "
        "(defaults; --resources also takes any other table the instance has)"
    )
    assert lines["slack"] == (
        "channels, users, messages, replies, channel_members "
        "(default: channels, users, messages, replies)"
    )


def sandbox_state_resources(project: Path) -> set[str]:
    """The resources whose state the destination keeps (the newest stored state)."""
    with duckdb.connect(str(project / "stripe_sandbox_data.duckdb"), read_only=True) as con:
        row = con.execute(
            "SELECT state FROM stripe_sandbox._dlt_pipeline_state ORDER BY version DESC LIMIT 1"
        ).fetchone()
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'stripe_sandbox' AND table_name IN ('customers', 'charges')"
        ).fetchall()
    assert row is not None
    state = decompress_state(row[0])
    assert {t for (t,) in tables} <= set(state["sources"]["stripe"]["resources"])
    return set(state["sources"]["stripe"]["resources"])


def test_reset_drops_one_resources_tables_and_state(project: Path) -> None:
    ran = sluice(project, "run", "stripe", "--sandbox", "--resources", "customers,charges")
    assert ran.returncode == 0, ran.stderr
    assert sandbox_state_resources(project) == {"customers", "charges"}

    wrong = sluice(project, "reset", "stripe", "--sandbox", "--resources", "customers,nosuch")
    assert (wrong.returncode, wrong.stderr.strip()) == (
        2,
        "error: pipeline stripe_sandbox has no resource nosuch: reset one of charges, customers",
    )
    reset = sluice(project, "reset", "stripe", "--sandbox", "--resources", "customers")
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.startswith("stripe_sandbox: reset customers (tables dropped: ")
    assert sandbox_state_resources(project) == {"charges"}
    with duckdb.connect(str(project / "stripe_sandbox_data.duckdb"), read_only=True) as con:
        charges = con.execute("SELECT count(*) FROM stripe_sandbox.charges").fetchone()
    assert charges is not None and charges[0] > 0


@pytest.mark.parametrize("connector", list(CONNECTORS), ids=list(CONNECTORS))
def test_check_against_the_sandbox_is_one_line(project: Path, connector: str) -> None:
    checked = sluice(project, "check", connector, "--sandbox")
    assert checked.returncode == 0, checked.stderr
    line = checked.stdout.strip()
    if connector == "files":  # the sandbox's drops are a local folder, not a server
        assert line.startswith("files: credentials accepted by file:///"), line
        return
    assert line.startswith(f"{connector}: credentials accepted by 127.0.0.1:"), line
    assert line.rsplit(":", 1)[1].isdigit()


@pytest.mark.parametrize(
    ("connector", "expected"),
    [
        pytest.param(
            "stripe",
            "error: Stripe API key missing: set sources.stripe.api_key in .dlt/secrets.toml or "
            "the SOURCES__STRIPE__API_KEY environment variable",
            id="stripe",
        ),
        pytest.param(
            "salesforce",
            "error: Salesforce credentials missing: set sources.salesforce.credentials."
            "private_key (JWT bearer flow, with issuer and subject) or sources.salesforce."
            "credentials.refresh_token (with client_id and client_secret)",
            id="salesforce",
        ),
    ],
)
def test_check_without_credentials_is_one_error_line(
    project: Path, connector: str, expected: str
) -> None:
    checked = sluice(project, "check", connector)
    assert (checked.returncode, checked.stdout, checked.stderr.strip()) == (1, "", expected)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def standalone(project: Path) -> Iterator[Any]:
    """``start(connector)``: ``sluice sandbox <connector> --port N`` as a subprocess."""
    started: list[subprocess.Popen[str]] = []

    def start(connector: str, port: int, lines: int) -> list[str]:
        process = subprocess.Popen(
            [str(SLUICE), "sandbox", connector, "--port", str(port), "--log-level", "WARNING"],
            cwd=project,
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        return [process.stdout.readline().strip() for _ in range(lines)]

    yield start
    for process in started:
        process.terminate()
        assert process.wait(timeout=10) == 0  # SIGTERM stops it cleanly


def settings_from(lines: list[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines if line.startswith("SOURCES__"))


@pytest.mark.parametrize(
    ("connector", "lines"),
    [
        pytest.param("salesforce", 5, id="salesforce"),
        pytest.param("servicenow", 6, id="servicenow"),
    ],
)
def test_standalone_sandbox_serves_the_credentials_it_prints(
    project: Path, standalone: Any, connector: str, lines: int
) -> None:
    port = free_port()
    printed = standalone(connector, port, lines)
    assert printed[0].endswith(f"sandbox: http://127.0.0.1:{port}")
    checked = sluice(project, "check", connector, env=settings_from(printed))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == f"{connector}: credentials accepted by 127.0.0.1:{port}\n"


def test_standalone_stripe_sandbox_serves_its_key(project: Path, standalone: Any) -> None:
    port = free_port()
    (printed,) = standalone("stripe", port, 1)
    base_url, key = printed.removeprefix("Stripe sandbox: ").split("  api key: ")
    assert base_url == f"http://127.0.0.1:{port}"
    env = {"SOURCES__STRIPE__BASE_URL": base_url, "SOURCES__STRIPE__API_KEY": key}
    checked = sluice(project, "check", "stripe", env=env)
    assert checked.stdout == f"stripe: credentials accepted by 127.0.0.1:{port}\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ("run", "nosuch"),
            f"error: unknown connector 'nosuch': use one of {', '.join(CONNECTORS)}",
            id="unknown-connector",
        ),
        pytest.param(
            ("webhooks", "drain", "salesforce"),
            "error: salesforce has no webhooks (these have: stripe, slack)",
            id="no-webhooks",
        ),
        pytest.param(
            ("check", "nosuch"),
            f"error: unknown connector 'nosuch': use one of {', '.join(CONNECTORS)}",
            id="check-unknown-connector",
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
