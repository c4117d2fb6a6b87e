"""End to end: what a new user types by mistake gets one line naming what to fix.

Each case runs the real script in a fresh project folder, as a user would, and checks
the exact line (issue 16, "What a new user tripped over").
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sandbox.stripe import StripeSandbox

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(
    stripe_sandbox: StripeSandbox,
    monkeypatch: pytest.MonkeyPatch,
    dlt_home: Path,
    tmp_path: Path,
) -> Path:
    """A fresh project folder with an empty ``.dlt`` and the sandbox in the environment."""
    monkeypatch.setenv("SOURCES__STRIPE__BASE_URL", stripe_sandbox.base_url)
    monkeypatch.setenv("SOURCES__STRIPE__API_KEY", stripe_sandbox.api_key)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "data.duckdb"))
    for key in ("SOURCES__STRIPE__RESOURCES", "SLUICE__DUCKDB_MEMORY_LIMIT"):
        monkeypatch.delenv(key, raising=False)
    folder = tmp_path / "project"
    (folder / ".dlt").mkdir(parents=True)
    (folder / ".dlt" / "config.toml").write_text("")
    return folder


def run(folder: Path, *args: str, script: str = "stripe_pipeline.py", **env: str) -> Any:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "pipelines" / script), *args],
        cwd=folder,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def last_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        pytest.param(
            ("--destination", "nosuch"),
            {},
            "error: unknown destination 'nosuch': use a dlt destination (duckdb, postgres, "
            "bigquery, snowflake, redshift, databricks, filesystem, ...) or name a configured "
            "one with destination.nosuch.destination_type",
            id="unknown-destination",
        ),
        pytest.param(
            (),
            {"SLUICE__DUCKDB_MEMORY_LIMIT": "lots"},
            "error: sluice.duckdb_memory_limit 'lots' is not a size: use e.g. 512MB, 2GB or "
            "none (in .dlt/config.toml or SLUICE__DUCKDB_MEMORY_LIMIT)",
            id="memory-limit-not-a-size",
        ),
    ],
)
def test_a_bad_flag_or_setting_is_one_line_naming_it(
    project: Path, args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    result = run(project, *args, **env)
    assert result.returncode == 1
    assert last_error_line(result.stderr) == expected


def test_a_broken_secrets_file_is_named_with_its_line(project: Path) -> None:
    secrets = project / ".dlt" / "secrets.toml"
    secrets.write_text('[sources.stripe\napi_key = "sk_test_x"\n')
    result = run(project)
    assert result.returncode == 1
    line = last_error_line(result.stderr)
    assert line.startswith(f"error: {secrets.resolve()}: TOML syntax error:")
    assert "line 1" in line and line.endswith("fix the file and run again")


def test_start_date_on_a_pipeline_that_has_a_cursor_says_it_does_not_apply(
    project: Path,
) -> None:
    first = run(project, "--resources", "customers")
    assert first.returncode == 0, first.stderr
    again = run(project, "--resources", "customers", "--start-date", "2024-01-01")
    assert again.returncode == 0, again.stderr
    assert (
        "note: --start-date 2024-01-01 applies only to a first sync: customers already have a "
        "cursor and go on from it; add --full-refresh to reload them from that date"
    ) in again.stderr
    refreshed = run(
        project, "--resources", "customers", "--start-date", "2024-01-01", "--full-refresh"
    )
    assert refreshed.returncode == 0, refreshed.stderr
    assert "note: --start-date" not in refreshed.stderr


def test_mapping_docs_help_describes_and_writes_nothing(tmp_path: Path) -> None:
    docs = REPO_ROOT / "docs" / "mappings"
    before = {path: path.stat().st_mtime_ns for path in docs.glob("*.md")}
    result = run(tmp_path, "--help", script="mapping_docs.py")
    assert result.returncode == 0
    assert "Renders every connector's canonical mappings" in result.stdout
    assert {path: path.stat().st_mtime_ns for path in docs.glob("*.md")} == before


def test_status_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    # A report far larger than the pipe's buffer, read by a reader that stops at once.
    code = "from pipelines.status import emit; emit('x' * 2_000_000); print('after')"
    result = subprocess.run(
        f'{sys.executable} -c "{code}" | head -c 1',
        shell=True,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == "x"
    assert "BrokenPipeError" not in result.stderr and result.stderr == ""


def test_a_run_is_quiet_by_default_and_pure_json_when_asked(project: Path) -> None:
    quiet = run(project, "--resources", "customers")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""  # no INFO chatter; the summary says what happened
    assert quiet.stdout.startswith("table ") and "customers" in quiet.stdout

    as_json = run(project, "--resources", "customers", "--log-format", "json")
    assert as_json.returncode == 0, as_json.stderr
    lines = [*as_json.stdout.splitlines(), *as_json.stderr.splitlines()]
    parsed = [json.loads(line) for line in lines]  # every line is JSON
    summary = next(p for p in parsed if p.get("event") == "run_summary")
    assert summary["tables"]["customers"] > 0 and summary["api_requests"] > 0

    failed = run(project, "--destination", "nosuch", "--log-format", "json")
    assert failed.returncode == 1 and failed.stdout == ""
    error = json.loads(failed.stderr.strip())
    assert error["level"] == "ERROR" and error["message"].startswith("unknown destination")


def closed_port() -> int:
    """A loopback port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def no_servicenow(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ServiceNow setting leaks in from the developer's environment."""
    for key in [k for k in os.environ if k.startswith("SOURCES__SERVICENOW__")]:
        monkeypatch.delenv(key)


@pytest.mark.parametrize(
    ("script", "env", "expected"),
    [
        pytest.param(
            "stripe_pipeline.py",
            {"SOURCES__STRIPE__RATE_LIMIT": "fast"},
            "error: sources.stripe.rate_limit 'fast' is not a number: set a number of "
            "requests per second (SOURCES__STRIPE__RATE_LIMIT)",
            id="stripe-rate-limit-not-a-number",
        ),
        pytest.param(
            "stripe_pipeline.py",
            {"SOURCES__STRIPE__MAX_ATTEMPTS": "many"},
            "error: sources.stripe.max_attempts 'many' is not a whole number: set a whole "
            "number of attempts (SOURCES__STRIPE__MAX_ATTEMPTS)",
            id="stripe-max-attempts-not-a-whole-number",
        ),
        pytest.param(
            "servicenow_pipeline.py",
            {"SOURCES__SERVICENOW__READ_TIMEOUT": "slow"},
            "error: sources.servicenow.read_timeout 'slow' is not a number: set a number of "
            "seconds (SOURCES__SERVICENOW__READ_TIMEOUT)",
            id="servicenow-read-timeout-not-a-number",
        ),
        pytest.param(
            "servicenow_pipeline.py",
            {"SOURCES__SERVICENOW__PAGE_SIZE": "big"},
            "error: page_size 'big' is not a whole number: set a whole number "
            "(in .dlt/config.toml or the environment)",
            id="servicenow-page-size-not-a-whole-number",
        ),
        pytest.param(
            "salesforce_pipeline.py",
            {"SOURCES__SALESFORCE__RATE_LIMIT": "fast"},
            "error: sources.salesforce.rate_limit 'fast' is not a number: set a number of "
            "requests per second (SOURCES__SALESFORCE__RATE_LIMIT)",
            id="salesforce-rate-limit-not-a-number",
        ),
        pytest.param(
            "servicenow_pipeline.py",
            {},
            "error: ServiceNow instance missing: set sources.servicenow.base_url "
            "(https://<instance>.service-now.com) in .dlt/config.toml or "
            "SOURCES__SERVICENOW__BASE_URL",
            id="servicenow-no-instance",
        ),
        pytest.param(
            "servicenow_pipeline.py",
            {"SOURCES__SERVICENOW__BASE_URL": "https://dev1.service-now.com"},
            "error: ServiceNow credentials missing: set sources.servicenow.credentials.username, "
            "sources.servicenow.credentials.password (basic auth) in .dlt/secrets.toml or "
            "SOURCES__SERVICENOW__CREDENTIALS__USERNAME, "
            "SOURCES__SERVICENOW__CREDENTIALS__PASSWORD",
            id="servicenow-no-credentials",
        ),
        pytest.param(
            "servicenow_pipeline.py",
            {
                "SOURCES__SERVICENOW__BASE_URL": "https://dev1.service-now.com",
                "SOURCES__SERVICENOW__CREDENTIALS__CLIENT_ID": "abc",
            },
            "error: ServiceNow credentials missing: set "
            "sources.servicenow.credentials.client_secret (oauth_client_credentials auth) in "
            ".dlt/secrets.toml or SOURCES__SERVICENOW__CREDENTIALS__CLIENT_SECRET",
            id="servicenow-oauth-without-secret",
        ),
    ],
)
def test_a_bad_or_missing_connector_setting_is_one_line_naming_its_key(
    project: Path, no_servicenow: None, script: str, env: dict[str, str], expected: str
) -> None:
    result = run(project, script=script, **env)
    assert result.returncode == 1
    assert last_error_line(result.stderr) == expected


FAST_RETRIES = {"BACKOFF_BASE": "0.001", "BACKOFF_CAP": "0.001"}


@pytest.mark.parametrize(
    ("script", "section", "extra"),
    [
        pytest.param(
            "stripe_pipeline.py", "STRIPE", {"MAX_ATTEMPTS": "2"}, id="stripe-retries-spent"
        ),
        # More attempts than the breaker's threshold: the run ends on the open circuit.
        pytest.param(
            "stripe_pipeline.py",
            "STRIPE",
            {"MAX_ATTEMPTS": "4", "BREAKER_FAILURE_THRESHOLD": "2"},
            id="stripe-circuit-open",
        ),
        pytest.param(
            "servicenow_pipeline.py",
            "SERVICENOW",
            {
                "MAX_ATTEMPTS": "4",
                "BREAKER_FAILURE_THRESHOLD": "2",
                "CREDENTIALS__USERNAME": "admin",
                "CREDENTIALS__PASSWORD": "pw",
            },
            id="servicenow-circuit-open",
        ),
    ],
)
def test_an_unreachable_host_is_named_not_the_open_circuit(
    project: Path, no_servicenow: None, script: str, section: str, extra: dict[str, str]
) -> None:
    port = closed_port()
    settings = {"BASE_URL": f"http://127.0.0.1:{port}", **FAST_RETRIES, **extra}
    env = {f"SOURCES__{section}__{key}": value for key, value in settings.items()}
    result = run(project, script=script, **env)
    assert result.returncode == 1
    assert last_error_line(result.stderr) == (
        f"error: cannot reach 127.0.0.1:{port}: Connection refused "
        f"(check sources.{section.lower()}.base_url and the network)"
    )
