"""sluice's DuckDB destination caps DuckDB's memory (configurable), default file or not."""

from __future__ import annotations

from pathlib import Path

import dlt
import pytest

from pipelines.common import make_destination

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("setting", "configured_file", "expected"),
    [
        pytest.param(None, False, "122.0 MiB", id="default-file-default-cap"),
        pytest.param(None, True, "122.0 MiB", id="configured-file-default-cap"),
        pytest.param("1GB", False, "953.6 MiB", id="configured-cap"),
        pytest.param("none", True, None, id="no-cap"),
    ],
)
def test_duckdb_connections_carry_the_memory_cap(
    dlt_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setting: str | None,
    configured_file: bool,
    expected: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)
    if setting is not None:
        monkeypatch.setenv("SLUICE__DUCKDB_MEMORY_LIMIT", setting)
    if configured_file:
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "mine.duckdb"))
    pipeline = dlt.pipeline(
        pipeline_name="memcap",
        destination=make_destination("duckdb", "memcap", "memcap_ds"),
        dataset_name="memcap_ds",
    )
    pipeline.run([{"id": 1}], table_name="rows")
    with pipeline.sql_client() as client:
        limit = client.execute_sql("SELECT current_setting('memory_limit')")[0][0]
    if expected is None:
        assert limit not in ("122.0 MiB", "953.6 MiB")
    else:
        assert limit == expected
    expected_file = "mine.duckdb" if configured_file else "memcap_data.duckdb"
    assert (tmp_path / expected_file).exists()


def test_running_out_of_the_cap_names_the_setting_and_the_load_resumes(
    dlt_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.common import explain

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLUICE__DUCKDB_MEMORY_LIMIT", "4MB")
    pipeline = dlt.pipeline(
        pipeline_name="oom",
        destination=make_destination("duckdb", "oom", "oom_ds"),
        dataset_name="oom_ds",
    )
    rows = [{"id": i, "payload": "x" * 200, "n": i * 2} for i in range(200_000)]
    with pytest.raises(Exception) as failure:
        pipeline.run(rows, table_name="rows", loader_file_format="parquet")
    line = explain(failure.value)
    assert line.startswith("DuckDB ran out of memory while loading (cap: 4MB)")
    assert "SLUICE__DUCKDB_MEMORY_LIMIT" in line

    monkeypatch.setenv("SLUICE__DUCKDB_MEMORY_LIMIT", "none")
    pipeline = dlt.pipeline(
        pipeline_name="oom",
        destination=make_destination("duckdb", "oom", "oom_ds"),
        dataset_name="oom_ds",
    )
    pipeline.load()  # the pending package, nothing extracted again
    with pipeline.sql_client() as client:
        assert client.execute_sql("SELECT count(*) FROM rows")[0][0] == len(rows)
