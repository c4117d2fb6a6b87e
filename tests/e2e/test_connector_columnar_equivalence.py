"""Salesforce and ServiceNow load the same tables through the columnar step as without it.

Each connector runs twice against one sandbox, into two DuckDB files: with the kit's
columnar last step (Arrow tables) and with it switched off (``columnar = false``: dict
records through dlt's normalizer). A second run after changes and deletes merges into
both. Column names, types and every row value must be identical, dead letters included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from sandbox.salesforce import SalesforceSandbox
from sandbox.servicenow import ServiceNowSandbox
from sources.salesforce import salesforce_source
from sources.servicenow import servicenow_source

pytestmark = pytest.mark.e2e

DLT_IDS = ("_dlt_id", "_dlt_load_id")
DEAD_LETTER_VOLATILE = ("_dlt_id", "_dlt_load_id", "run_id", "failed_at", "received_at")
MODES = (("dict", False), ("arrow", True))


def columns_of(path: Path, dataset: str) -> dict[str, list[tuple[str, str]]]:
    """Per table of the dataset: its (column, DuckDB type) pairs, in name order."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name NOT LIKE '_dlt_%' ORDER BY 1, 2",
            [dataset],
        ).fetchall()
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        tables.setdefault(table, []).append((column, data_type))
    return tables


def rows_of(path: Path, dataset: str, table: str, drop: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """Every row without dlt's ids (and run-specific columns), columns in name order."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = sorted(
            r[0] for r in con.execute(f"DESCRIBE {dataset}.{table}").fetchall() if r[0] not in drop
        )
        listed = ", ".join(f'"{n}"' for n in names)
        query = f"SELECT {listed} FROM {dataset}.{table} ORDER BY ALL"  # noqa: S608 - test names
        return con.execute(query).fetchall()


def assert_same_tables(tmp_path: Path, dataset: str, tables: tuple[str, ...]) -> None:
    dict_db, arrow_db = tmp_path / "dict.duckdb", tmp_path / "arrow.duckdb"
    expected_columns = columns_of(dict_db, dataset)
    assert columns_of(arrow_db, dataset) == expected_columns
    for table in tables:
        expected = rows_of(dict_db, dataset, table, DLT_IDS)
        assert expected, f"{table} is empty"
        assert rows_of(arrow_db, dataset, table, DLT_IDS) == expected, table
    if "_dead_letters" in expected_columns:
        letters = rows_of(dict_db, dataset, "_dead_letters", DEAD_LETTER_VOLATILE)
        assert rows_of(arrow_db, dataset, "_dead_letters", DEAD_LETTER_VOLATILE) == letters


def parquet_tables(info: Any) -> set[str]:
    """Tables the load wrote from parquet files (what Arrow tables become)."""
    return {
        job.job_file_info.table_name
        for package in info.load_packages
        for job in package.jobs["completed_jobs"]
        if job.job_file_info.file_format == "parquet"
    }


def run_both(tmp_path: Path, name: str, source: Callable[[bool], Any], tables: Any) -> None:
    """One run of the connector per mode, each into its own pipeline and DuckDB file."""
    for mode, columnar in MODES:
        pipeline = dlt.pipeline(
            pipeline_name=f"eq_{name}_{mode}",
            destination=dlt.destinations.duckdb(str(tmp_path / f"{mode}.duckdb")),
            dataset_name=name,
        )
        info = pipeline.run(source(columnar))
        info.raise_on_failed_jobs()
        # The columnar step really shaped the pages (no silent fallback to dicts).
        written = parquet_tables(info)
        assert (bool(written) and written <= set(tables)) if columnar else not written, mode


def deleted_flag(tmp_path: Path, table: str, key_column: str, key: str) -> Any:
    """The ``deleted`` column of one row loaded on the columnar path."""
    with duckdb.connect(str(tmp_path / "arrow.duckdb"), read_only=True) as con:
        row = con.execute(f"SELECT deleted FROM {table} WHERE {key_column} = ?", [key]).fetchone()
    return row[0] if row else None


@pytest.fixture
def salesforce_env(
    salesforce_sandbox: SalesforceSandbox, monkeypatch: pytest.MonkeyPatch, dlt_home: Path
) -> Iterator[SalesforceSandbox]:
    for key, value in salesforce_sandbox.jwt_credentials().items():
        monkeypatch.setenv(f"SOURCES__SALESFORCE__CREDENTIALS__{key.upper()}", value)
    monkeypatch.setenv("SOURCES__SALESFORCE__BACKOFF_BASE", "0.01")
    monkeypatch.setenv("SOURCES__SALESFORCE__BACKOFF_CAP", "0.02")
    yield salesforce_sandbox


@pytest.mark.parametrize("bulk_threshold", [0, 1], ids=["rest-pages", "bulk-csv"])
def test_salesforce_columnar_and_dict_paths_load_identical_tables(
    salesforce_env: SalesforceSandbox, tmp_path: Path, bulk_threshold: int
) -> None:
    store = salesforce_env.store
    exact, huge = (r["Id"] for r in store.live("Opportunity")[:2])
    store.update("Opportunity", exact, Unit_Price__c=1234.5678, Amount=1234.56)
    store.update("Opportunity", huge, Amount=1e17)  # a dead letter on both paths
    objects = ["Account", "Contact", "Opportunity", "User"]

    def source(columnar: bool) -> Any:
        return salesforce_source(objects=objects, bulk_threshold=bulk_threshold, columnar=columnar)

    tables = ("account", "contact", "opportunity", "user")
    run_both(tmp_path, "salesforce", source, tables)
    assert_same_tables(tmp_path, "salesforce", tables)

    accounts = store.live("Account")
    store.update("Account", accounts[0]["Id"], Name="Renamed", AnnualRevenue=42)
    store.delete("Account", accounts[1]["Id"])
    run_both(tmp_path, "salesforce", source, tables)
    assert_same_tables(tmp_path, "salesforce", tables)
    assert deleted_flag(tmp_path, "salesforce.account", "id", accounts[1]["Id"]) is True


@pytest.fixture
def servicenow_env(
    servicenow_sandbox: ServiceNowSandbox, monkeypatch: pytest.MonkeyPatch, dlt_home: Path
) -> Iterator[ServiceNowSandbox]:
    prefix = "SOURCES__SERVICENOW__"
    monkeypatch.setenv(prefix + "BASE_URL", servicenow_sandbox.base_url)
    monkeypatch.setenv(prefix + "BACKOFF_BASE", "0.001")
    monkeypatch.setenv(prefix + "BACKOFF_CAP", "0.01")
    monkeypatch.setenv(prefix + "CREDENTIALS__AUTH_TYPE", "basic")
    monkeypatch.setenv(prefix + "CREDENTIALS__USERNAME", servicenow_sandbox.username)
    monkeypatch.setenv(prefix + "CREDENTIALS__PASSWORD", servicenow_sandbox.password)
    yield servicenow_sandbox


def test_servicenow_columnar_and_dict_paths_load_identical_tables(
    servicenow_env: ServiceNowSandbox, tmp_path: Path
) -> None:
    tables = ("incident", "change_request", "sys_user", "cmdb_ci")

    def source(columnar: bool) -> Any:
        return servicenow_source(tables=list(tables), columnar=columnar)

    run_both(tmp_path, "servicenow", source, tables)
    assert_same_tables(tmp_path, "servicenow", tables)

    store = servicenow_env.store
    incidents = store.records("incident")
    store.update("incident", incidents[0]["sys_id"], short_description="changed")
    store.delete("incident", incidents[1]["sys_id"])
    run_both(tmp_path, "servicenow", source, tables)
    assert_same_tables(tmp_path, "servicenow", tables)
    assert deleted_flag(tmp_path, "servicenow.incident", "sys_id", incidents[1]["sys_id"]) is True
