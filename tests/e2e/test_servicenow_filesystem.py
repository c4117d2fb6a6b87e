"""End to end: ServiceNow into Delta tables on the filesystem destination, merged by upsert.

``--table-format`` is a flag of every connector's runner, not only Stripe's: a change
to a record loaded before replaces its row instead of adding a second one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines import servicenow_pipeline
from sandbox.servicenow import ServiceNowSandbox

pytestmark = pytest.mark.e2e

deltalake = pytest.importorskip("deltalake")


def test_delta_tables_merge_changed_records(
    tmp_path: Path,
    dlt_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    lake = tmp_path / "lake"
    prefix = "SOURCES__SERVICENOW__"
    monkeypatch.setenv(prefix + "BASE_URL", servicenow_sandbox.base_url)
    monkeypatch.setenv(prefix + "CREDENTIALS__USERNAME", servicenow_sandbox.username)
    monkeypatch.setenv(prefix + "CREDENTIALS__PASSWORD", servicenow_sandbox.password)
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", str(lake))
    monkeypatch.chdir(tmp_path)
    args = ["--destination", "filesystem", "--table-format", "delta", "--resources", "incident"]
    store = servicenow_sandbox.store

    assert servicenow_pipeline.main(args) == 0
    changed = store.records("incident")[0]["sys_id"]
    store.update("incident", changed, short_description="changed after the first load")
    assert servicenow_pipeline.main(args) == 0

    table = deltalake.DeltaTable(str(lake / "servicenow" / "incident")).to_pyarrow_table()
    ids = table.column("sys_id").to_pylist()
    assert sorted(ids) == sorted(r["sys_id"] for r in store.records("incident"))
    row = ids.index(changed)
    assert table.column("short_description")[row].as_py() == "changed after the first load"
