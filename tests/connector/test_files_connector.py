"""File drops end to end in process: a local folder and an S3-compatible server on loopback.

Each test runs the real dlt pipeline into DuckDB and asserts on the loaded rows and on
which files each run read (``FilesClient.reports``).
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from sandbox.files import HALF_WRITTEN, drop_settings, set_mtime, write_csv, write_drop_folder
from sources.files import FilesClient, files_source, make_client

NOW = 1_796_300_000.0  # 2026-12-03 (files' times and the settle check use this clock)
DAY = 86_400.0


class Runner:
    """One pipeline over one DuckDB file; ``run`` loads with an injected clock."""

    def __init__(self, root: Path) -> None:
        self.db = root / "files_data.duckdb"
        self.pipeline = dlt.pipeline(
            "files_test",
            destination=dlt.destinations.duckdb(str(self.db)),
            dataset_name="files",
            pipelines_dir=str(root / "pipelines"),
        )

    def run(self, client: FilesClient, now: float, **kwargs: Any) -> FilesClient:
        self.pipeline.run(files_source(client=client, now=now, **kwargs))
        return client

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.sql(sql).fetchall()

    def state(self, drop: str) -> dict[str, Any]:
        return dict(self.pipeline.state["sources"]["files"]["resources"][drop])


@pytest.fixture
def runner(tmp_path: Path, dlt_home: Path) -> Runner:
    return Runner(tmp_path)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "drops"
    write_drop_folder(root, NOW)
    return root


def test_first_run_loads_each_file_once(runner: Runner, folder: Path) -> None:
    client = runner.run(make_client(drop_settings(folder)), NOW)
    orders = client.reports["orders"]
    assert orders.read == ["orders/orders-2026-11-30.csv", "orders/orders-2026-12-01.csv.gz"]
    assert orders.unsettled == [HALF_WRITTEN]
    assert client.reports["events"].read == ["events/events-1.jsonl", "events/events-2.jsonl.gz"]
    assert client.reports["products"].read == ["products/products.parquet"]
    # newest file wins within the load: order 2 from the gzipped file of 12-01
    assert runner.rows(
        "select order_id, status, currency, _file_name from files.orders order by 1"
    ) == [
        (1, "paid", None, "orders/orders-2026-11-30.csv"),
        (2, "shipped", "EUR", "orders/orders-2026-12-01.csv.gz"),
        (4, "open", None, "orders/orders-2026-11-30.csv"),
        (6, "paid", "USD", "orders/orders-2026-12-01.csv.gz"),
    ]
    assert runner.rows("select event_id, _line from files.events order by 1") == [
        ("e1", 1),
        ("e2", 2),
        ("e4", 4),
        ("e5", 1),
        ("e6", 2),
    ]
    assert runner.rows("select count(*) from files.products") == [(3,)]
    loaded_at = runner.rows("select distinct _loaded_at from files.orders")
    assert [row[0].timestamp() for row in loaded_at] == [NOW]


def test_malformed_rows_are_dead_lettered_with_file_line_and_raw_text(
    runner: Runner, folder: Path
) -> None:
    runner.run(make_client(drop_settings(folder)), NOW)
    letters = runner.rows(
        "select resource, reason, raw_payload from files._dead_letters order by reason"
    )
    assert [(r, reason.split(":")[0], raw) for r, reason, raw in letters] == [
        ("events", "events/events-1.jsonl line 3", '{"event_id": "e3", "type": '),
        ("orders", "orders/orders-2026-11-30.csv line 4", "3,initech,15.25,open"),
        (
            "orders",
            "orders/orders-2026-12-01.csv.gz line 3",
            "5,hooli,n/a,open,2026-12-01T08:00:00Z,USD",
        ),
    ]
    assert "wrong column count" in letters[1][1]
    assert "cannot parse the value as double" in letters[2][1]


def test_header_drift_is_recorded(runner: Runner, folder: Path) -> None:
    runner.run(make_client(drop_settings(folder)), NOW)
    drift = runner.state("orders")["drift"]
    assert [(d["file"], d["added"], d["removed"]) for d in drift] == [
        ("orders/orders-2026-12-01.csv.gz", ["currency"], [])
    ]


def test_second_run_new_rewritten_half_written_and_touched(runner: Runner, folder: Path) -> None:
    settings = drop_settings(folder)
    runner.run(make_client(settings), NOW)
    later = NOW + DAY
    # rewritten in place with new content: order 1 refunded
    write_csv(
        folder / "orders/orders-2026-11-30.csv",
        [
            "order_id,customer,amount,status,ordered_at",
            "1,acme,120.50,refunded,2026-11-30T09:00:00Z",
        ],
        when=later - 3600,
    )
    # the half-written file is complete now
    write_csv(
        folder / HALF_WRITTEN,
        [
            "order_id,customer,amount,status,ordered_at,currency",
            "7,wayne,10.00,paid,2026-12-02T10:00:00Z,USD",
        ],
        when=later - 1800,
    )
    # a new file, and one still being written
    write_csv(
        folder / "orders/orders-2026-12-03.csv",
        [
            "order_id,customer,amount,status,ordered_at,currency",
            "8,tyrell,5.00,open,2026-12-03T08:00:00Z,USD",
        ],
        when=later - 600,
    )
    (folder / "orders/orders-2026-12-04.csv").write_text("order_id,cust", "utf-8")
    set_mtime(folder / "orders/orders-2026-12-04.csv", later - 1)
    # touched: same bytes, new time (a copy, a sync tool)
    set_mtime(folder / "events/events-1.jsonl", later - 3600)

    client = runner.run(make_client(settings), later)

    orders = client.reports["orders"]
    assert orders.read == [
        "orders/orders-2026-11-30.csv",
        HALF_WRITTEN,
        "orders/orders-2026-12-03.csv",
    ]
    assert orders.unchanged == ["orders/orders-2026-12-01.csv.gz"]
    assert orders.unsettled == ["orders/orders-2026-12-04.csv"]
    assert client.reports["events"].same_content == ["events/events-1.jsonl"]
    assert client.reports["events"].read == []
    assert client.reports["products"].unchanged == ["products/products.parquet"]
    assert runner.rows("select order_id, status from files.orders order by 1") == [
        (1, "refunded"),
        (2, "shipped"),
        (4, "open"),  # the rewrite dropped order 4's line; merged rows are not deleted
        (6, "paid"),
        (7, "paid"),
        (8, "open"),
    ]
    assert runner.rows("select count(*) from files.events") == [(5,)]
    # a third run reads nothing: every file is in the manifest
    third = runner.run(make_client(settings), later + 30)
    assert third.reports["orders"].read == []
    assert third.reports["orders"].unsettled == ["orders/orders-2026-12-04.csv"]


def test_an_older_file_loaded_later_does_not_win(runner: Runner, tmp_path: Path) -> None:
    root = tmp_path / "late"
    settings = {
        "orders": {
            "bucket_url": str(root),
            "file_glob": "*.csv",
            "primary_key": "order_id",
            "write_disposition": "merge",
            "columns": {"order_id": "bigint"},
            "settle_s": 60,
        }
    }
    write_csv(root / "b.csv", ["order_id,status", "1,new"], when=NOW - 600)
    runner.run(make_client(settings), NOW)
    # a.csv was written before b.csv but arrives (is listed) only now
    write_csv(root / "a.csv", ["order_id,status", "1,old", "9,only-in-a"], when=NOW - 900)
    client = runner.run(make_client(settings), NOW + 60)
    assert client.reports["orders"].read == ["a.csv"]
    assert runner.rows("select order_id, status, _file_name from files.orders order by 1") == [
        (1, "new", "b.csv"),
        (9, "only-in-a", "a.csv"),
    ]


def test_marker_file_gates_reading(runner: Runner, tmp_path: Path) -> None:
    root = tmp_path / "marked"
    settings = {
        "events": {
            "bucket_url": str(root),
            "file_glob": "*",
            "marker": "{name}.done",
            "settle_s": 0,
        }
    }
    write_csv(root / "a.csv", ["id", "1"], when=NOW - 600)
    first = runner.run(make_client(settings), NOW)
    assert first.reports["events"].unsettled == ["a.csv"]
    (root / "a.csv.done").write_text("", "utf-8")
    second = runner.run(make_client(settings), NOW + 1)
    assert second.reports["events"].read == ["a.csv"]  # the marker itself is no data file
    assert runner.rows("select id, _file_name from files.events") == [("1", "a.csv")]


def test_sync_runs_ledger_row_per_drop(runner: Runner, folder: Path) -> None:
    runner.run(make_client(drop_settings(folder)), NOW)
    rows = runner.rows(
        "select resource, records_loaded, records_dead_lettered from files._sync_runs "
        "where resource is not null and resource <> '' order by resource"
    )
    assert [r for r in rows if r[0] in ("events", "orders", "products")] == [
        ("events", 5, 1),
        ("orders", 5, 2),  # rows read; the merge keeps 4 keys
        ("products", 3, 0),
    ]


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's standalone S3 server on loopback; the drop's credentials point at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    prefix = "SOURCES__FILES__DROPS__ORDERS__CREDENTIALS__"
    monkeypatch.setenv(prefix + "ENDPOINT_URL", endpoint)
    monkeypatch.setenv(prefix + "AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv(prefix + "AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv(prefix + "REGION_NAME", "us-east-1")
    yield endpoint
    server.stop()


def test_s3_bucket_through_dlt_s3_support(runner: Runner, s3_endpoint: str) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket="drops")
    body = b"order_id,status\n1,paid\n2,open,extra\n3,open\n"
    s3.put_object(Bucket="drops", Key="in/orders-1.csv.gz", Body=gzip.compress(body, mtime=0))
    s3.put_object(Bucket="drops", Key="other/x.csv", Body=b"order_id\n99\n")
    settings = {
        "orders": {
            "bucket_url": "s3://drops/in",
            "file_glob": "*.csv*",
            "primary_key": "order_id",
            "write_disposition": "merge",
            "columns": {"order_id": "bigint"},
            "settle_s": 60,
        }
    }
    uploaded = time.time()
    young = runner.run(make_client(settings), uploaded)
    assert young.reports["orders"].unsettled == ["orders-1.csv.gz"]
    first = runner.run(make_client(settings), uploaded + 120)
    assert first.reports["orders"].read == ["orders-1.csv.gz"]
    s3.put_object(
        Bucket="drops", Key="in/orders-1.csv.gz", Body=gzip.compress(body, mtime=0)
    )  # same
    s3.put_object(Bucket="drops", Key="in/orders-2.csv", Body=b"order_id,status\n3,paid\n")
    second = runner.run(make_client(settings), time.time() + 120)
    assert second.reports["orders"].read == ["orders-2.csv"]
    assert second.reports["orders"].same_content == ["orders-1.csv.gz"]
    assert runner.rows("select order_id, status from files.orders order by 1") == [
        (1, "paid"),
        (3, "paid"),
    ]
    reasons = runner.rows("select reason from files._dead_letters")
    assert reasons == [("orders-1.csv.gz line 3: wrong column count: 3 fields, header has 2",)]


def test_within_one_load_newest_file_then_last_line_wins(runner: Runner, tmp_path: Path) -> None:
    root = tmp_path / "ties"
    settings = {
        "orders": {
            "bucket_url": str(root),
            "file_glob": "*.csv",
            "primary_key": "order_id",
            "write_disposition": "merge",
            "settle_s": 0,
        }
    }
    write_csv(root / "c.csv", ["order_id,status", "1,newest-file", "3,c"], when=NOW - 100)
    write_csv(root / "a.csv", ["order_id,status", "1,old", "2,first", "2,last"], when=NOW - 900)
    write_csv(root / "b.csv", ["order_id,status", "3,b-same-time"], when=NOW - 100)
    runner.run(make_client(settings), NOW)
    assert runner.rows("select order_id, status from files.orders order by 1") == [
        ("1", "newest-file"),
        ("2", "last"),  # the same key twice in a file: the later line
        ("3", "c"),  # the same time: the later path
    ]


def test_a_cut_gzip_file_is_one_dead_letter(runner: Runner, tmp_path: Path) -> None:
    root = tmp_path / "cut"
    lines = "".join(f"{i},ok\n" for i in range(2000)).encode()
    data = gzip.compress(b"order_id,status\n" + lines, mtime=0)
    root.mkdir()
    (root / "a.csv.gz").write_bytes(data[: len(data) // 2])
    set_mtime(root / "a.csv.gz", NOW - 600)
    settings = {"orders": {"bucket_url": str(root), "file_glob": "*", "settle_s": 60}}
    client = runner.run(make_client(settings), NOW)
    assert client.reports["orders"].unreadable == ["a.csv.gz"]
    reasons = runner.rows("select reason from files._dead_letters")
    assert len(reasons) == 1 and reasons[0][0].startswith("a.csv.gz line 0: unreadable file")


def test_no_drop_configured_is_one_line(runner: Runner) -> None:
    from sources.kit.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"no file drops configured: add \[sources"):
        files_source(client=make_client({}), now=NOW)


def test_start_date_bounds_the_first_sync_only(runner: Runner, folder: Path) -> None:
    settings = drop_settings(folder)
    first = runner.run(make_client(settings), NOW, start_date="2026-12-01T00:00:00Z")
    # orders-2026-11-30.csv is modified on 11-30: before the start
    assert first.reports["orders"].before_start == ["orders/orders-2026-11-30.csv"]
    assert first.reports["orders"].read == ["orders/orders-2026-12-01.csv.gz"]
    again = runner.run(make_client(settings), NOW + 1, start_date="2025-01-01")
    # the first sync's bound stays (a later start date does not move it)
    assert again.reports["orders"].before_start == ["orders/orders-2026-11-30.csv"]
    assert again.reports["orders"].read == []
