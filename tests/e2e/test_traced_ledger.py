"""End to end: a sluice source run by plain ``pipeline.run`` (a notebook, ``dlt deploy``,
an orchestrator) leaves ``_sync_runs`` rows written from dlt's trace; the ``sluice``
runner's own runs are not recorded twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dlt
import duckdb
import pytest

from pipelines.common import make_destination
from sandbox.stripe import StripeSandbox
from sources.kit.ledger import SyncMonitor, run_with_ledger
from sources.stripe import make_client, stripe_source

pytestmark = pytest.mark.e2e

RESOURCES = ["customers", "products"]
BAD_KEY = "sk_test_rejectedrejected0000"


@pytest.fixture
def pipeline(dlt_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dlt.Pipeline:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "traced_data.duckdb"))
    return dlt.pipeline(
        pipeline_name="traced",
        destination=make_destination("duckdb", "traced", "traced"),
        dataset_name="traced",
    )


def ledger(tmp_path: Path) -> list[tuple[str, str, str, int]]:
    with duckdb.connect(str(tmp_path / "traced_data.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT run_id, resource, run_status, records_loaded FROM traced._sync_runs "
            "WHERE resource <> '_source' ORDER BY resource"
        ).fetchall()


def source(sandbox: StripeSandbox, api_key: str | None = None) -> object:
    client = make_client(api_key=api_key or sandbox.api_key, base_url=sandbox.base_url)
    return stripe_source(client=client, resources=RESOURCES)


def test_a_plain_pipeline_run_leaves_one_row_per_resource(
    pipeline: dlt.Pipeline, stripe_sandbox: StripeSandbox, tmp_path: Path
) -> None:
    pipeline.run(source(stripe_sandbox))
    rows = ledger(tmp_path)
    assert [(resource, status) for _, resource, status, _ in rows] == [
        ("customers", "success"),
        ("products", "success"),
    ]
    assert rows[0][3] == len(stripe_sandbox.store.listable("customers"))
    pipeline.run(source(stripe_sandbox))  # a second run: a second run id, nothing new
    again = ledger(tmp_path)
    assert len({run_id for run_id, *_ in again}) == 2 and len(again) == 4


def test_a_failed_plain_run_is_recorded_failed(
    pipeline: dlt.Pipeline, stripe_sandbox: StripeSandbox, tmp_path: Path
) -> None:
    pipeline.run(source(stripe_sandbox))  # creates the dataset and the ledger table
    with pytest.raises(Exception):  # noqa: B017 - whatever dlt wraps the 401 in
        pipeline.run(source(stripe_sandbox, api_key=BAD_KEY))
    statuses = [status for _, _, status, _ in ledger(tmp_path)]
    assert statuses.count("failed") == len(RESOURCES)


def test_the_runner_records_its_own_runs_once(
    pipeline: dlt.Pipeline, stripe_sandbox: StripeSandbox, tmp_path: Path
) -> None:
    monitor = SyncMonitor("stripe", "run-by-the-runner")
    client = make_client(api_key=stripe_sandbox.api_key, base_url=stripe_sandbox.base_url)
    built = stripe_source(client=client, resources=RESOURCES, monitor=monitor)
    run_with_ledger(pipeline, built, monitor, client.session)
    assert {run_id for run_id, *_ in ledger(tmp_path)} == {"run-by-the-runner"}
    assert len(ledger(tmp_path)) == len(RESOURCES)


def test_a_failed_plain_run_names_the_cause(
    pipeline: dlt.Pipeline, stripe_sandbox: StripeSandbox, tmp_path: Path
) -> None:
    pipeline.run(source(stripe_sandbox))
    with pytest.raises(Exception):  # noqa: B017 - whatever dlt wraps the 401 in
        pipeline.run(source(stripe_sandbox, api_key=BAD_KEY))
    with duckdb.connect(str(tmp_path / "traced_data.duckdb"), read_only=True) as con:
        errors = con.execute(
            "SELECT DISTINCT error_summary FROM traced._sync_runs WHERE run_status = 'failed'"
        ).fetchall()
    assert len(errors) == 1 and errors[0][0].startswith("extract: StepFailed: ")
    assert "401" in errors[0][0] or "API key" in errors[0][0]
    assert BAD_KEY not in errors[0][0]


def salesforce_run(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple:
    from sources.salesforce import salesforce_source

    sandbox = request.getfixturevalue("salesforce_sandbox")
    for key, value in sandbox.jwt_credentials().items():
        monkeypatch.setenv(f"SOURCES__SALESFORCE__CREDENTIALS__{key.upper()}", value)
    built = salesforce_source(objects=["Account", "Contact"])
    counts = {name.lower(): len(sandbox.store.live(name)) for name in ("Account", "Contact")}
    return built, counts


def servicenow_run(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple:
    from sources.servicenow import servicenow_source

    sandbox = request.getfixturevalue("servicenow_sandbox")
    monkeypatch.setenv("SOURCES__SERVICENOW__BASE_URL", sandbox.base_url)
    monkeypatch.setenv("SOURCES__SERVICENOW__CREDENTIALS__USERNAME", sandbox.username)
    monkeypatch.setenv("SOURCES__SERVICENOW__CREDENTIALS__PASSWORD", sandbox.password)
    built = servicenow_source(tables=["incident", "sys_user"])
    counts = {table: len(sandbox.store.records(table)) for table in ("incident", "sys_user")}
    return built, counts


@pytest.mark.parametrize(
    "build",
    [pytest.param(salesforce_run, id="salesforce"), pytest.param(servicenow_run, id="servicenow")],
)
def test_every_connector_run_plainly_leaves_its_rows(
    pipeline: dlt.Pipeline,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    build: Callable[[pytest.FixtureRequest, pytest.MonkeyPatch], tuple],
) -> None:
    built, counts = build(request, monkeypatch)
    pipeline.run(built)
    rows = ledger(tmp_path)
    assert [(resource, status) for _, resource, status, _ in rows] == [
        (resource, "success") for resource in sorted(counts)
    ]
    assert {resource: loaded for _, resource, _, loaded in rows} == counts
    assert len({run_id for run_id, *_ in rows}) == 1
    with duckdb.connect(str(tmp_path / "traced_data.duckdb"), read_only=True) as con:
        requests = con.execute(
            "SELECT min(api_requests) FROM traced._sync_runs WHERE resource <> '_source'"
        ).fetchone()
    assert requests is not None and requests[0] > 0  # counted on the client's root session
