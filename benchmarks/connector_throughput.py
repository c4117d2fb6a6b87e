"""Throughput benchmark: Salesforce (Bulk API 2.0 CSV) and ServiceNow into DuckDB.

For each connector, two contenders load the same ``--records`` records from the same
sandbox into a fresh DuckDB file, each in its own fresh process (peak RSS and CPU are
that process's own; the sandbox serves from this parent process):

- ``sluice``: the connector's source as ``sluice run`` builds it (columnar last step
  on: describe-typed Arrow tables; ``--no-columnar`` switches it off);
- ``plain dlt``: a ``dlt.resource`` that reads the same endpoint pages with
  ``requests`` and yields the dict records, dlt defaults, merged on the same key.

Salesforce: ``Contact`` records (the sandbox seeds two per account) read as one Bulk
API 2.0 query job, results in CSV chunks of 50,000 records by locator. ServiceNow: the
``incident`` table through Table API pages of 1,000 records.

    python benchmarks/connector_throughput.py [--records 50000] [--only salesforce]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SF_OBJECT = "Contact"
SF_TABLE = "contact"
SN_TABLE = "incident"
SN_PAGE = 1000
BULK_POLL_S = 2.0
"""Both Salesforce contenders poll the query job as often as sluice does by default."""
CONNECTORS = ("salesforce", "servicenow")


# ------------------------------------------------------------------ child side


def pipeline_for(name: str, workdir: str, dataset: str) -> Any:
    import dlt

    os.environ["DLT_DATA_DIR"] = workdir
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(Path(workdir) / f"{name}.duckdb")),
        dataset_name=dataset,
        pipelines_dir=workdir,
    )


def count_rows(pipeline: Any, table: str) -> int:
    with pipeline.sql_client() as client:
        return int(client.execute_sql(f"SELECT COUNT(*) FROM {table}")[0][0])  # noqa: S608


def run_pipeline(pipeline: Any, source: Any, table: str) -> dict[str, Any]:
    from sources.kit.destinations import loader_file_format

    started = time.monotonic()
    info = pipeline.run(source, loader_file_format=loader_file_format(pipeline))
    seconds = time.monotonic() - started
    info.raise_on_failed_jobs()
    return {"seconds": seconds, "records": count_rows(pipeline, table)}


def sluice_salesforce(config: dict[str, Any], workdir: str, columnar: bool) -> dict[str, Any]:
    """The Salesforce source, Bulk API 2.0 above its default threshold."""
    for key, value in config["credentials"].items():
        os.environ[f"SOURCES__SALESFORCE__CREDENTIALS__{key.upper()}"] = value
    from sources.salesforce import salesforce_source

    source = salesforce_source(objects=[SF_OBJECT], columnar=columnar)
    return run_pipeline(pipeline_for("sluice_sf", workdir, "salesforce"), source, SF_TABLE)


def plain_salesforce(config: dict[str, Any], workdir: str) -> dict[str, Any]:
    """One Bulk API 2.0 query job read with requests, CSV rows yielded as dicts."""
    import dlt
    import requests

    credentials = config["credentials"]
    session = requests.Session()
    token = session.post(
        credentials["token_url"],
        data={
            "grant_type": "refresh_token",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
            "refresh_token": credentials["refresh_token"],
        },
        timeout=30,
    ).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    data = f"{token['instance_url']}{config['data_path']}"

    def contacts() -> Iterator[list[dict[str, str]]]:
        describe = session.get(f"{data}/sobjects/{SF_OBJECT}/describe", timeout=60).json()
        fields = [f["name"] for f in describe["fields"] if f["type"] not in ("address", "location")]
        soql = f"SELECT {', '.join(fields)} FROM {SF_OBJECT}"  # noqa: S608 - describe names
        job = session.post(
            f"{data}/jobs/query", json={"operation": "query", "query": soql}, timeout=60
        ).json()
        while session.get(f"{data}/jobs/query/{job['id']}", timeout=60).json()["state"] != (
            "JobComplete"
        ):
            time.sleep(BULK_POLL_S)
        locator = ""
        while True:
            params: dict[str, Any] = {"maxRecords": 50_000}
            if locator:
                params["locator"] = locator
            answer = session.get(
                f"{data}/jobs/query/{job['id']}/results", params=params, timeout=300
            )
            yield list(csv.DictReader(io.StringIO(answer.text, newline="")))
            locator = answer.headers.get("Sforce-Locator", "null")
            if locator in ("", "null"):
                return

    resource = dlt.resource(contacts, name=SF_TABLE, write_disposition="merge", primary_key="Id")
    pipeline = pipeline_for("plain_sf", workdir, "salesforce")
    return run_pipeline(pipeline, resource(), SF_TABLE)


def sluice_servicenow(config: dict[str, Any], workdir: str, columnar: bool) -> dict[str, Any]:
    """The ServiceNow source on one table (audit reads and the sys_id scan included)."""
    prefix = "SOURCES__SERVICENOW__"
    os.environ[prefix + "BASE_URL"] = config["base_url"]
    os.environ[prefix + "CREDENTIALS__AUTH_TYPE"] = "basic"
    os.environ[prefix + "CREDENTIALS__USERNAME"] = config["username"]
    os.environ[prefix + "CREDENTIALS__PASSWORD"] = config["password"]
    os.environ[prefix + "RATE_LIMIT"] = "1000"
    from sources.servicenow import servicenow_source

    source = servicenow_source(tables=[SN_TABLE], columnar=columnar)
    return run_pipeline(pipeline_for("sluice_sn", workdir, "servicenow"), source, SN_TABLE)


def plain_servicenow(config: dict[str, Any], workdir: str) -> dict[str, Any]:
    """Table API pages read with requests (offset paging), records yielded as dicts."""
    import dlt
    import requests

    session = requests.Session()
    session.auth = (config["username"], config["password"])
    url = f"{config['base_url']}/api/now/table/{SN_TABLE}"

    def incidents() -> Iterator[list[dict[str, Any]]]:
        offset = 0
        while True:
            params: dict[str, Any] = {
                "sysparm_limit": SN_PAGE,
                "sysparm_offset": offset,
                "sysparm_query": "ORDERBYsys_updated_on^ORDERBYsys_id",
                "sysparm_exclude_reference_link": "true",
            }
            page = session.get(url, params=params, timeout=60).json()["result"]
            yield page
            if len(page) < SN_PAGE:
                return
            offset += len(page)

    resource = dlt.resource(
        incidents, name=SN_TABLE, write_disposition="merge", primary_key="sys_id"
    )
    pipeline = pipeline_for("plain_sn", workdir, "servicenow")
    return run_pipeline(pipeline, resource(), SN_TABLE)


def child(args: argparse.Namespace) -> None:
    config = json.loads(args.config)
    if args.child == "salesforce-sluice":
        result = sluice_salesforce(config, args.workdir, not args.no_columnar)
    elif args.child == "salesforce-plain":
        result = plain_salesforce(config, args.workdir)
    elif args.child == "servicenow-sluice":
        result = sluice_servicenow(config, args.workdir, not args.no_columnar)
    else:
        result = plain_servicenow(config, args.workdir)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["cpu_s"] = time.process_time()
    print(json.dumps(result))


# ------------------------------------------------------------------ parent side


def measure(variant: str, config: dict[str, Any], no_columnar: bool = False) -> dict[str, Any]:
    """Runs one contender in a fresh process and a fresh work folder."""
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as workdir:
        command = [
            sys.executable,
            __file__,
            "--child",
            variant,
            "--workdir",
            workdir,
            "--config",
            json.dumps(config),
        ]
        if no_columnar:
            command.append("--no-columnar")
        out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["records_per_s"] = result["records"] / result["seconds"]
    return result


def salesforce_figures(records: int, no_columnar: bool) -> dict[str, Any]:
    from sandbox.salesforce import SalesforceSandbox
    from sources.salesforce.settings import data_path

    # Two contacts per seeded account.
    with SalesforceSandbox(seed=11, volume=max(1, (records + 1) // 2)) as sandbox:
        held = len(sandbox.store.live(SF_OBJECT))
        results: dict[str, Any] = {"held": held}
        for contender, variant in (("sluice", "salesforce-sluice"), ("plain", "salesforce-plain")):
            config = {"credentials": sandbox.refresh_credentials(), "data_path": data_path()}
            results[contender] = measure(variant, config, no_columnar)
    return results


def servicenow_figures(records: int, no_columnar: bool) -> dict[str, Any]:
    from sandbox.servicenow import ServiceNowSandbox
    from sandbox.servicenow.seed import Volume

    volume = Volume(sys_user=30, cmdb_ci=20, incident=records, change_request=0)
    with ServiceNowSandbox(seed=11, volume=volume) as sandbox:
        config = {
            "base_url": sandbox.base_url,
            "username": sandbox.username,
            "password": sandbox.password,
        }
        results: dict[str, Any] = {"held": len(sandbox.store.records(SN_TABLE))}
        for contender, variant in (("sluice", "servicenow-sluice"), ("plain", "servicenow-plain")):
            results[contender] = measure(variant, config, no_columnar)
    return results


def report(name: str, figures: dict[str, Any]) -> None:
    sluice, plain = figures["sluice"], figures["plain"]
    print(f"\n{name}: {figures['held']} records held by the sandbox")
    print(f"  {'':22}{'sluice':>14}{'plain dlt':>14}{'sluice/plain':>14}")
    rows = (
        ("records loaded", "records", "{:.0f}"),
        ("seconds", "seconds", "{:.1f}"),
        ("records/s", "records_per_s", "{:.0f}"),
        ("peak RSS (MB)", "peak_rss_mb", "{:.0f}"),
        ("CPU (s)", "cpu_s", "{:.1f}"),
    )
    for label, key, fmt in rows:
        ratio = sluice[key] / plain[key] if plain[key] else float("nan")
        print(
            f"  {label:22}{fmt.format(sluice[key]):>14}{fmt.format(plain[key]):>14}{ratio:>14.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000, help="records per connector")
    parser.add_argument("--only", choices=CONNECTORS, help="one connector only")
    parser.add_argument(
        "--no-columnar", action="store_true", help="sluice without its columnar last step"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    started = time.monotonic()
    for name in CONNECTORS:
        if args.only and name != args.only:
            continue
        build = salesforce_figures if name == "salesforce" else servicenow_figures
        report(name, build(args.records, args.no_columnar))
    print(f"\nwhole benchmark: {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
