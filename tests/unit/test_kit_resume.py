"""sources.kit.resume: rewinding the jobs dlt runs again when it resumes a killed load.

The real kill is in ``tests/e2e/test_kill9_resume.py``. Here a loaded package is put back
the way a SIGKILL between a job's commit and dlt's record of it leaves it (the job's rows
in the destination, its file in ``started_jobs`` without a marker), on DuckDB and on
PostgreSQL, and resumed through ``sources.kit.ledger.finish_pending_packages``.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dlt.common.data_writers.escape import escape_mssql_literal, escape_postgres_literal
from dlt.common.storages.load_storage import ParsedLoadJobFileName

from sources.kit.ledger import finish_pending_packages
from sources.kit.resume import (
    ResumeRewindError,
    half_loaded_packages,
    job_row_keys,
    resume_guard,
)

ROWS = [{"id": n, "tags": [f"t{n}", "x"]} for n in range(5)]
DATA_TABLES = ("appended", "appended__tags", "merged", "merged__tags")
EXACT = {"appended": 5, "appended__tags": 10, "merged": 5, "merged__tags": 10}
NASTY = ["it's", "a,b", "(x)", "back\\slash'", "new\nline", "E'", "''", ""]


def source() -> list[Any]:
    """An append table and a merge table declared deduplicated, both with a nested table."""
    appended = dlt.resource(ROWS, name="appended", write_disposition="append")
    merged = dlt.resource(
        ROWS,
        name="merged",
        primary_key="id",
        write_disposition={
            "disposition": "merge",
            "strategy": "delete-insert",
            "deduplicated": True,
        },
    )
    return [appended, merged]


Factory = Callable[[], dlt.Pipeline]


@pytest.fixture(params=["duckdb-parquet", "duckdb-insert_values", "postgres"])
def loaded(request: pytest.FixtureRequest, dlt_home: Path, tmp_path: Path) -> dlt.Pipeline:
    """A pipeline that loaded :func:`source` once (Postgres with dlt's UNIQUE row keys)."""
    kind, _, file_format = str(request.param).partition("-")
    if kind == "duckdb":
        destination: Any = dlt.destinations.duckdb(str(tmp_path / "resume.duckdb"))
    else:
        destination = dlt.destinations.postgres(request.getfixturevalue("postgres_dsn"))
    pipeline = dlt.pipeline(
        pipeline_name="resume", destination=destination, dataset_name="resume_data"
    )
    pipeline.run(source(), loader_file_format=file_format or None)  # type: ignore[arg-type]
    return pipeline


def counts(pipeline: dlt.Pipeline, tables: tuple[str, ...] = DATA_TABLES) -> dict[str, int]:
    with pipeline.sql_client() as client:
        return {
            table: int(
                client.execute_sql(
                    f"SELECT COUNT(*) FROM {client.make_qualified_table_name(table)}"
                )[  # noqa: S608
                    0
                ][0]
            )
            for table in tables
        }


def loads(pipeline: dlt.Pipeline) -> list[str]:
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name("_dlt_loads")
        return [str(r[0]) for r in client.execute_sql(f"SELECT load_id FROM {table}")]  # noqa: S608


def killed_after_commit(pipeline: dlt.Pipeline, tables: tuple[str, ...]) -> str:
    """Puts the last loaded package back as a kill after these tables' commits leaves it.

    The jobs of ``tables`` go back to ``started_jobs`` without a marker (their rows stay in
    the destination, staging included); the merge SQL of their chains had not run yet.
    """
    load_dir = Path(pipeline.working_dir) / "load"
    (load_id,) = [p.name for p in (load_dir / "loaded").iterdir()]
    package = load_dir / "normalized" / load_id
    shutil.move(str(load_dir / "loaded" / load_id), package)
    (package / "package_completed.json").unlink()
    roots = {t.split("__")[0] for t in tables}
    for job in (package / "completed_jobs").iterdir():
        parsed = ParsedLoadJobFileName.parse(job.name)
        if parsed.table_name in tables and parsed.file_format != "sql":
            job.rename(package / "started_jobs" / job.name)
        elif parsed.file_format == "sql" and parsed.table_name in roots:
            job.unlink()
    return load_id


KILLED = ("appended", "appended__tags", "merged", "merged__tags")


def test_dlt_alone_loads_the_unrecorded_jobs_again(dlt_home: Path, tmp_path: Path) -> None:
    """Why sources.kit.resume exists (if dlt changes this, revisit the module)."""
    pipeline = dlt.pipeline(
        pipeline_name="resume",
        destination=dlt.destinations.duckdb(str(tmp_path / "resume.duckdb")),
        dataset_name="resume_data",
    )
    pipeline.run(source(), loader_file_format="parquet")
    killed_after_commit(pipeline, KILLED)

    pipeline.run(None)

    assert counts(pipeline) == {table: 2 * n for table, n in EXACT.items()}
    assert len(loads(pipeline)) == 2


def test_a_resumed_package_loads_each_row_once(loaded: dlt.Pipeline) -> None:
    load_id = killed_after_commit(loaded, KILLED)
    assert [(p.load_id, len(p.rerun)) for p in half_loaded_packages(loaded)] == [(load_id, 4)]

    finish_pending_packages(loaded)

    assert counts(loaded) == EXACT
    assert loads(loaded) == [load_id]
    assert not loaded.has_pending_data


def test_a_package_killed_after_its_loads_row_gets_one(loaded: dlt.Pipeline) -> None:
    load_id = killed_after_commit(loaded, ())

    finish_pending_packages(loaded)

    assert loads(loaded) == [load_id]
    assert counts(loaded) == EXACT


def test_rows_of_completed_jobs_and_other_loads_stay(loaded: dlt.Pipeline) -> None:
    loaded.run(source())  # a second load: appended rows twice, merged rows replaced
    killed_after_commit_of_last(loaded, ("appended__tags",))

    finish_pending_packages(loaded)

    assert counts(loaded) == {**EXACT, "appended": 10, "appended__tags": 20}


def killed_after_commit_of_last(pipeline: dlt.Pipeline, tables: tuple[str, ...]) -> None:
    """Like :func:`killed_after_commit`, for the newest of several loaded packages."""
    loaded_dir = Path(pipeline.working_dir) / "load" / "loaded"
    older = sorted(p.name for p in loaded_dir.iterdir())[:-1]
    parked = loaded_dir.parent / "parked"
    parked.mkdir()
    for name in older:
        shutil.move(str(loaded_dir / name), parked / name)
    killed_after_commit(pipeline, tables)
    for name in older:
        shutil.move(str(parked / name), loaded_dir / name)


def test_a_package_not_yet_loading_is_left_alone_without_a_query(
    dlt_home: Path, tmp_path: Path
) -> None:
    unreachable = dlt.pipeline(
        pipeline_name="resume",
        destination=dlt.destinations.postgres("postgresql://u:p@127.0.0.1:9/nowhere"),
        dataset_name="resume_data",
    )
    unreachable.extract(source())
    unreachable.normalize()

    with resume_guard(unreachable):
        entered = True

    assert entered and half_loaded_packages(unreachable) == []


def test_an_unreachable_destination_stops_the_resume_in_one_line(
    dlt_home: Path, tmp_path: Path
) -> None:
    database = tmp_path / "resume.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="resume",
        destination=dlt.destinations.duckdb(str(database)),
        dataset_name="resume_data",
    )
    pipeline.run(source())
    killed_after_commit(pipeline, ("appended",))
    database.unlink()
    database.mkdir()  # DuckDB cannot open a folder

    with pytest.raises(ResumeRewindError) as raised, resume_guard(pipeline):
        pytest.fail("the resume must not start")

    assert "\n" not in str(raised.value) and "run the pipeline again" in str(raised.value)
    assert half_loaded_packages(pipeline)  # still pending, rewound on the next run


# -- reading row keys back from load files ---------------------------------------------------


def insert_values_file(path: Path, escape: Any, rows: list[tuple[str, str]]) -> Path:
    """An INSERT-values load file as dlt writes one (header, VALUES, one row a line)."""
    lines = [f"({escape(text)},{escape(key)},{escape({'j': text})},NULL,42)" for text, key in rows]
    body = 'INSERT INTO {}("text","_dlt_id","doc","none","n")\nVALUES\n' + ",\n".join(lines) + ";"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(body)
    return path


@pytest.mark.parametrize(
    "escape", [escape_postgres_literal, escape_mssql_literal], ids=["postgres", "mssql"]
)
def test_insert_values_keys_survive_any_string(tmp_path: Path, escape: Any) -> None:
    rows = [(text, f"id{n}") for n, text in enumerate(NASTY)]
    path = insert_values_file(tmp_path / "t.abc.0.insert_values.gz", escape, rows)

    assert job_row_keys(str(path), "_dlt_id", escape) == [key for _, key in rows]


def test_parquet_csv_and_jsonl_keys(tmp_path: Path) -> None:
    table = pa.table({"text": NASTY, "_dlt_id": [f"id{n}" for n in range(len(NASTY))]})
    parquet = tmp_path / "t.abc.0.parquet"
    pq.write_table(table, parquet)
    jsonl = tmp_path / "t.abc.0.jsonl.gz"
    with gzip.open(jsonl, "wt", encoding="utf-8") as handle:
        handle.writelines(
            f'{{"text": {text!r}, "_dlt_id": "{key}"}}\n'.replace("'", '"')
            for text, key in zip(["a", "b"], ["id0", "id1"], strict=True)
        )
    csv_file = tmp_path / "t.abc.0.csv"
    import pyarrow.csv as pcsv

    pcsv.write_csv(table, csv_file)

    expected = [f"id{n}" for n in range(len(NASTY))]
    assert job_row_keys(str(parquet), "_dlt_id") == expected
    assert job_row_keys(str(csv_file), "_dlt_id") == expected
    assert job_row_keys(str(jsonl), "_dlt_id") == ["id0", "id1"]
    assert job_row_keys(str(parquet), "_no_such_key") is None
