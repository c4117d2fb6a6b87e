"""End to end: status.py tells the truth about real runs of stripe_pipeline.py on the sandbox.

A run rejected before loading fails the status, every pipeline is reported (never exit
2), a resource no longer selected stops alerting, a typo never leaves a row behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import status, stripe_pipeline
from sandbox.stripe import StripeSandbox
from sources.stripe.settings import RESOURCES

REPO_ROOT = Path(__file__).resolve().parents[2]
BAD_KEY = "sk_test_rejectedrejected0000"


@pytest.fixture
def env(
    stripe_sandbox: StripeSandbox,
    monkeypatch: pytest.MonkeyPatch,
    dlt_home: Path,
    duckdb_path: Path,
    tmp_path: Path,
) -> dict[str, str]:
    """The sandbox, the DuckDB file and the state folder, through the documented variables;
    also set in this process (for in-process runs) and a clean working directory."""
    values = {
        "SOURCES__STRIPE__BASE_URL": stripe_sandbox.base_url,
        "SOURCES__STRIPE__API_KEY": stripe_sandbox.api_key,
        "DESTINATION__DUCKDB__CREDENTIALS": str(duckdb_path),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SOURCES__STRIPE__RESOURCES", raising=False)
    workdir = tmp_path / "cwd"
    (workdir / ".dlt").mkdir(parents=True)
    (workdir / ".dlt" / "config.toml").write_text("")
    monkeypatch.chdir(workdir)
    return dict(os.environ)


def script(name: str, env: dict[str, str], *args: str, **extra: str) -> Any:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "pipelines" / name), *args],
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=300,
    )


def ledger(db: Path) -> list[tuple[str, str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT pipeline_name, resource, status FROM stripe._sync_runs ORDER BY finished_at"
        ).fetchall()


@pytest.mark.e2e
def test_a_run_rejected_before_loading_fails_the_status_until_a_run_loads(
    env: dict[str, str], duckdb_path: Path
) -> None:
    resources = {"SOURCES__STRIPE__RESOURCES": "customers,events"}
    assert script("stripe_pipeline.py", env, **resources).returncode == 0
    healthy = script("status.py", env)
    rejected = script("stripe_pipeline.py", env, **resources, SOURCES__STRIPE__API_KEY=BAD_KEY)

    after = script("status.py", env)
    assert script("stripe_pipeline.py", env, **resources).returncode == 0
    recovered = script("status.py", env)

    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert ": OK (2 healthy, 0 degraded, 0 failed)" in healthy.stdout
    assert rejected.returncode == 1
    assert after.returncode == 1, after.stdout + after.stderr
    assert ": ALERT (2 healthy, 0 degraded, 1 failed)" in after.stdout
    assert "last run failed before loading any resource" in after.stdout
    assert "sources.stripe.api_key" in after.stdout
    assert BAD_KEY not in after.stdout
    assert recovered.returncode == 0, recovered.stdout
    assert "failed before loading" not in recovered.stdout


@pytest.mark.e2e
def test_every_pipeline_is_reported_and_the_exit_code_is_the_worst(
    env: dict[str, str], dlt_home: Path
) -> None:
    # --canonical makes a second pipeline (the canonical one) next to the raw one
    args = ["--resources", "customers", "--canonical"]
    assert stripe_pipeline.main(args) == 0
    names = status.list_pipelines(str(dlt_home / "pipelines"))

    both_fine = script("status.py", env)
    assert (
        script("stripe_pipeline.py", env, *args, SOURCES__STRIPE__API_KEY=BAD_KEY).returncode == 1
    )
    one_failed = script("status.py", env)

    assert len(names) == 2, names
    assert both_fine.returncode == 0, both_fine.stdout + both_fine.stderr
    assert one_failed.returncode == 1, one_failed.stdout + one_failed.stderr
    for result in (both_fine, one_failed):
        for name in names:
            assert f"pipeline {name}: " in result.stdout
    assert both_fine.stdout.rstrip().endswith("overall: OK, 2 pipelines")
    assert "overall: ALERT, 2 pipelines (alerting: " in one_failed.stdout


@pytest.mark.e2e
def test_a_dropped_resource_or_a_typo_leaves_no_failed_row(
    env: dict[str, str], duckdb_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert stripe_pipeline.main(["--resources", "customers,charges"]) == 0
    assert stripe_pipeline.main(["--resources", "customers"]) == 0
    dropped = script("status.py", env, "--json")

    # a typo on the command line stops before any run: no row at all
    rows_before = ledger(duckdb_path)
    with pytest.raises(SystemExit) as usage:
        stripe_pipeline.main(["--resources", "custmers"])
    assert usage.value.code == 2
    assert "unknown resource(s) custmers" in capsys.readouterr().err
    assert ledger(duckdb_path) == rows_before

    # a typo in the configuration fails that run (it is broken), never a row of its own
    typo = script("stripe_pipeline.py", env, SOURCES__STRIPE__RESOURCES="custmers")
    during = script("status.py", env)
    assert stripe_pipeline.main(["--resources", "customers"]) == 0
    fixed = script("status.py", env)

    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    health = {r["resource"]: r["health"] for r in json.loads(dropped.stdout)["resources"]}
    assert health == {"charges": "Not scheduled", "customers": "Healthy"}
    assert typo.returncode == 1
    assert "sources.stripe.resources" in typo.stderr
    assert during.returncode == 1
    assert "custmers" in during.stdout
    assert "custmers" not in {resource for _, resource, _ in ledger(duckdb_path)}
    assert fixed.returncode == 0, fixed.stdout
    assert "1 healthy, 0 degraded, 0 failed, 1 not scheduled" in fixed.stdout


@pytest.mark.e2e
def test_comma_list_of_resources_from_the_environment_loads_just_those(
    env: dict[str, str],
    stripe_sandbox: StripeSandbox,
    duckdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__RESOURCES", "customers,events")

    assert stripe_pipeline.main([]) == 0

    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        tables = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'stripe'"
            ).fetchall()
        }
    # top-level tables: dlt's own and sluice's start with "_", child tables hold "__"
    loaded = {t for t in tables if not t.startswith("_") and "__" not in t}
    assert loaded == {"customers", "events"}
    listed = {spec.path for spec in RESOURCES} & set(stripe_sandbox.stats.by_path)
    # besides the credential check and GET /v1/account (the account fingerprint)
    assert listed == {"/v1/customers", "/v1/events"}
