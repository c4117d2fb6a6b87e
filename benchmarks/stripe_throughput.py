"""Throughput benchmark: Stripe objects end to end into DuckDB, sluice vs two baselines.

One command prints every figure issue 9 asks for, each contender measured in its own
fresh process (peak RSS is that process's own) against the same sandbox process:

1. Throughput: a sandbox holding ``--objects`` realistic charges, customers and
   invoices (bulk clones of Stripe's published examples; 55/15/30 split), no rate
   limit, loopback. Loaded into a fresh DuckDB file by
   - ``sluice``: the Stripe source as ``pipelines/stripe_pipeline.py`` runs it (rate limit off);
   - ``rest_api``: dlt's declarative ``rest_api`` source configured for Stripe, dlt
     defaults everywhere else (nesting, file format, workers);
   - ``stripe_sdk``: the official ``stripe`` SDK's ``auto_paging_iter()`` feeding dlt
     resources, the way dlt's verified Stripe source reads Stripe.
2. Memory: sluice again at ``--small-objects`` (peak RSS must stay flat).
3. Incremental cost: after the small load, ``k`` objects per resource are changed
   through the sandbox's API; the next sluice run's API requests are compared with the
   minimum, ``ceil(k/100) + 1`` per resource.
4. Rate-limited: a sandbox limited to 100 requests/s with 100 ms of latency per request
   and a live-mode key; share of the limit sluice sustains.

    python benchmarks/stripe_throughput.py [--objects 200000] [--small-objects 20000]
        [--skip-baselines] [--skip-rate-limited]
"""

from __future__ import annotations

import argparse
import json
import math
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
sys.path.insert(0, str(REPO / "benchmarks"))

from sandbox_process import start_stripe_sandbox  # noqa: E402
from stripe_ratelimit import record_send_times, sandbox_stats  # noqa: E402

TEST_KEY = "sk_test_throughput"
LIVE_KEY = "sk_live_throughput"
RESOURCES = ("charges", "customers", "invoices")
SPLIT = {"charges": 0.55, "customers": 0.15, "invoices": 0.30}
INCREMENTAL_CHANGES = {"charges": 250, "customers": 120, "invoices": 40}


# ------------------------------------------------------------------ sandbox


def bulk_argument(objects: int) -> str:
    return ",".join(f"{name}={round(objects * share)}" for name, share in SPLIT.items())


def start_sandbox(
    objects: int,
    *,
    key: str = TEST_KEY,
    rate_limit: int = 0,
    latency_ms: int = 0,
    startup_timeout: float = 300,
) -> tuple[subprocess.Popen[bytes], str, float]:
    """Starts the sandbox with bulk objects; returns (process, url, start-up seconds)."""
    started = time.monotonic()
    options = ["--seed", "9", "--volume", "40", "--bulk", bulk_argument(objects)]
    options += ["--api-key", key, "--rate-limit", str(rate_limit), "--latency-ms", str(latency_ms)]
    proc, url = start_stripe_sandbox(options, timeout=startup_timeout)
    return proc, url, time.monotonic() - started


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


# ------------------------------------------------------------------ contenders (child side)


def pipeline_for(name: str, workdir: str) -> Any:
    import dlt

    os.environ["DLT_DATA_DIR"] = workdir
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(Path(workdir) / f"{name}.duckdb")),
        dataset_name="stripe",
        pipelines_dir=workdir,
    )


def run_sluice(url: str, workdir: str, key: str, rate_limit: float | None) -> dict[str, Any]:
    """The Stripe source and DuckDB destination as pipelines/stripe_pipeline.py builds them."""
    import dlt

    from pipelines.common import make_destination
    from sources.kit.destinations import loader_file_format
    from sources.kit.memory import release_freed_memory
    from sources.stripe import make_client, stripe_source

    release_freed_memory()  # as the runner does before every run
    os.environ["DLT_DATA_DIR"] = workdir
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["DESTINATION__DUCKDB__CREDENTIALS"] = str(Path(workdir) / "sluice.duckdb")
    pipeline = dlt.pipeline(
        pipeline_name="sluice",
        destination=make_destination("duckdb", "sluice", "stripe"),
        dataset_name="stripe",
        pipelines_dir=workdir,
    )
    client = make_client(api_key=key, base_url=url, rate_limit=rate_limit)
    source = stripe_source(resources=list(RESOURCES), client=client)
    started = time.monotonic()
    info = pipeline.run(source, loader_file_format=loader_file_format(pipeline))
    seconds = time.monotonic() - started
    info.raise_on_failed_jobs()
    return {"seconds": seconds, **root_counts(pipeline)}


def run_rest_api(url: str, workdir: str, key: str) -> dict[str, Any]:
    """dlt's rest_api source for Stripe, dlt's defaults for everything else."""
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(
        {
            "client": {
                "base_url": f"{url}/v1/",
                "auth": {"type": "bearer", "token": key},
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "data[-1].id",
                    "cursor_param": "starting_after",
                    "has_more_path": "has_more",
                },
            },
            "resource_defaults": {
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {"params": {"limit": 100}, "data_selector": "data"},
            },
            "resources": list(RESOURCES),
        }
    )
    pipeline = pipeline_for("rest_api", workdir)
    started = time.monotonic()
    pipeline.run(source).raise_on_failed_jobs()
    return {"seconds": time.monotonic() - started, **root_counts(pipeline)}


def run_stripe_sdk(url: str, workdir: str, key: str) -> dict[str, Any]:
    """The official SDK's auto-pagination feeding dlt resources (dlt defaults)."""
    import dlt
    import stripe

    stripe.api_key = key
    stripe.api_base = url
    stripe.max_network_retries = 2
    listers = {
        "charges": stripe.Charge.list,
        "customers": stripe.Customer.list,
        "invoices": stripe.Invoice.list,
    }

    def objects(name: str) -> Iterator[dict[str, Any]]:
        for obj in listers[name](limit=100).auto_paging_iter():
            yield obj.to_dict()

    @dlt.source(name="stripe_sdk")
    def source() -> Any:
        return [
            dlt.resource(objects(name), name=name, write_disposition="merge", primary_key="id")
            for name in RESOURCES
        ]

    pipeline = pipeline_for("stripe_sdk", workdir)
    started = time.monotonic()
    pipeline.run(source()).raise_on_failed_jobs()
    return {"seconds": time.monotonic() - started, **root_counts(pipeline)}


def root_counts(pipeline: Any) -> dict[str, Any]:
    with pipeline.sql_client() as client:
        counts = {
            name: int(client.execute_sql(f"SELECT COUNT(*) FROM {name}")[0][0])  # noqa: S608
            for name in RESOURCES
        }
        tables = len(pipeline.default_schema.data_table_names())
    return {"records": sum(counts.values()), "counts": counts, "tables": tables}


def child(args: argparse.Namespace) -> None:
    sent = record_send_times()
    rate_limit = None if args.rate_limit is None else float(args.rate_limit)
    if args.child == "sluice":
        result = run_sluice(args.url, args.workdir, args.key, rate_limit)
    elif args.child == "rest_api":
        result = run_rest_api(args.url, args.workdir, args.key)
    else:
        result = run_stripe_sdk(args.url, args.workdir, args.key)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["cpu_s"] = time.process_time()
    starts = sorted(t for t, _ in sent)
    ok = sum(1 for _, code in sent if code < 400)
    window = (starts[-1] - starts[0]) if len(starts) > 1 else result["seconds"]
    result["sustained_ok_per_s"] = (ok - 1) / window if window > 0 else 0.0
    result["client_requests"] = len(sent)
    print(json.dumps(result))


# ------------------------------------------------------------------ parent side


def measure(
    variant: str,
    url: str,
    workdir: str,
    *,
    key: str = TEST_KEY,
    rate_limit: float | None = 0,
    timeout: int = 3600,
) -> dict[str, Any]:
    """Runs one contender in a fresh process; adds the sandbox's request counts."""
    before = sandbox_stats(url)
    command = [
        sys.executable,
        __file__,
        "--child",
        variant,
        "--url",
        url,
        "--workdir",
        workdir,
        "--key",
        key,
    ]
    if rate_limit is not None:
        command += ["--rate-limit", str(rate_limit)]
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    after = sandbox_stats(url)
    result["requests"] = int(after["requests"]) - int(before["requests"])
    result["throttled"] = int(after["throttled"]) - int(before["throttled"])
    result["records_per_s"] = result["records"] / result["seconds"]
    result["charges_per_s"] = result["counts"]["charges"] / result["seconds"]
    return result


def change_objects(url: str, key: str, changes: dict[str, int]) -> dict[str, int]:
    """Updates the newest ``k`` objects of each resource through the sandbox's API."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    changed: dict[str, int] = {}
    for name, count in changes.items():
        ids: list[str] = []
        params: dict[str, Any] = {"limit": 100}
        while len(ids) < count:
            body = session.get(f"{url}/v1/{name}", params=params, timeout=30).json()
            ids += [obj["id"] for obj in body["data"]]
            if not body["has_more"]:
                break
            params["starting_after"] = ids[-1]
        for obj_id in ids[:count]:
            response = session.post(
                f"{url}/v1/{name}/{obj_id}",
                data={"metadata[benchmark]": "changed"},
                timeout=30,
            )
            response.raise_for_status()
        changed[name] = min(count, len(ids))
    return changed


def throughput_section(args: argparse.Namespace) -> dict[str, Any]:
    proc, url, startup = start_sandbox(args.objects)
    results: dict[str, Any] = {"sandbox_startup_s": startup}
    try:
        variants = ["sluice"]
        if not args.skip_baselines:
            variants += ["rest_api"] if args.skip_sdk else ["rest_api", "stripe_sdk"]
        for variant in variants:
            with tempfile.TemporaryDirectory() as workdir:
                print(f"  {variant}: loading {args.objects:,} objects ...", flush=True)
                results[variant] = measure(variant, url, workdir)
    finally:
        stop(proc)
    return results


def small_and_incremental_section(args: argparse.Namespace) -> dict[str, Any]:
    proc, url, _ = start_sandbox(args.small_objects)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            print(f"  sluice: loading {args.small_objects:,} objects ...", flush=True)
            small = measure("sluice", url, workdir)
            changed = change_objects(url, TEST_KEY, INCREMENTAL_CHANGES)
            print(f"  sluice: incremental run after changing {changed} ...", flush=True)
            incremental = measure("sluice", url, workdir)
    finally:
        stop(proc)
    minimum = sum(math.ceil(k / 100) + 1 for k in changed.values())
    return {"small": small, "incremental": incremental, "changed": changed, "minimum": minimum}


def large_section(args: argparse.Namespace) -> dict[str, Any]:
    """sluice alone at ``--large-objects`` (peak RSS must stay flat from 20k)."""
    proc, url, startup = start_sandbox(args.large_objects, startup_timeout=1800)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            print(f"  sluice: loading {args.large_objects:,} objects ...", flush=True)
            result = measure("sluice", url, workdir, timeout=7200)
    finally:
        stop(proc)
    result["sandbox_startup_s"] = startup
    return result


def rate_limited_section(args: argparse.Namespace) -> dict[str, Any]:
    proc, url, _ = start_sandbox(
        args.rate_limited_objects, key=LIVE_KEY, rate_limit=100, latency_ms=100
    )
    try:
        with tempfile.TemporaryDirectory() as workdir:
            print(
                f"  sluice: {args.rate_limited_objects:,} objects at 100 req/s, 100 ms ...",
                flush=True,
            )
            return measure("sluice", url, workdir, key=LIVE_KEY, rate_limit=None)
    finally:
        stop(proc)


# ------------------------------------------------------------------ report


def row(label: str, cells: list[str]) -> str:
    return f"{label:28}" + "".join(f"{c:>16}" for c in cells)


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    section = results["throughput"]
    names = [n for n in ("sluice", "rest_api", "stripe_sdk") if n in section]
    print(
        f"\n1. Throughput: {args.objects:,} objects (charges/customers/invoices), "
        "no rate limit, loopback, into DuckDB\n"
    )
    print(row("", names))
    lines = [
        ("records loaded", lambda r: f"{r['records']:,}"),
        ("seconds", lambda r: f"{r['seconds']:.1f}"),
        ("objects/s (all three)", lambda r: f"{r['records_per_s']:,.0f}"),
        ("charges among them/s", lambda r: f"{r['charges_per_s']:,.0f}"),
        ("API requests", lambda r: f"{r['requests']:,}"),
        ("tables created", lambda r: f"{r['tables']}"),
        ("peak RSS (MB)", lambda r: f"{r['peak_rss_mb']:.0f}"),
        ("client CPU (s)", lambda r: f"{r['cpu_s']:.1f}"),
    ]
    for label, fmt in lines:
        print(row(label, [fmt(section[n]) for n in names]))
    sluice = section["sluice"]
    if "rest_api" in section:
        speedup = sluice["records_per_s"] / section["rest_api"]["records_per_s"]
        print(
            row(
                "sluice vs this",
                [f"{sluice['records_per_s'] / section[n]['records_per_s']:.1f}x" for n in names],
            )
        )
    else:
        speedup = float("nan")
    print(f"\n(sandbox start-up {section['sandbox_startup_s']:.0f} s, not counted)")

    small = results["small"]
    large = results.get("large")
    points = [(args.small_objects, small["small"]), (args.objects, sluice)]
    if large:
        points.append((args.large_objects, large))
    print("\n2. Memory: sluice's peak RSS as the account grows\n")
    print(row("", [f"{n:,}" for n, _ in points]))
    print(row("records/s", [f"{r['records_per_s']:,.0f}" for _, r in points]))
    print(row("peak RSS (MB)", [f"{r['peak_rss_mb']:.0f}" for _, r in points]))
    peak = max(r["peak_rss_mb"] for _, r in points)

    inc = small["incremental"]
    print(f"\n3. Incremental: changed {small['changed']} of {args.small_objects:,}\n")
    print(row("API requests made", [f"{inc['requests']}"]))
    print(row("minimum sum(ceil(k/100)+1)", [f"{small['minimum']}"]))
    print(row("ratio", [f"{inc['requests'] / small['minimum']:.2f}"]))
    print(row("seconds", [f"{inc['seconds']:.1f}"]))

    limited = results.get("rate_limited")
    if limited:
        share = limited["sustained_ok_per_s"] / 100
        print(
            f"\n4. Rate-limited: {args.rate_limited_objects:,} objects, 100 req/s, 100 ms latency\n"
        )
        print(row("API requests", [f"{limited['requests']:,}"]))
        print(row("answered 429", [f"{limited['throttled']:,}"]))
        print(row("sustained ok requests/s", [f"{limited['sustained_ok_per_s']:.1f}"]))
        print(row("share of the limit", [f"{100 * share:.1f}%"]))
        print(row("records/s", [f"{limited['records_per_s']:,.0f}"]))

    print("\nTargets")
    checks = [
        (
            ">= 10,000 objects/s",
            sluice["records_per_s"] >= 10_000,
            f"{sluice['records_per_s']:,.0f}",
        ),
        (">= 10x rest_api", speedup >= 10, f"{speedup:.1f}x"),
        ("peak RSS <= 500 MB", peak <= 500, f"{peak:.0f} MB at most"),
        (
            "RSS flat (<= +20%)",
            peak <= 1.2 * small["small"]["peak_rss_mb"],
            " -> ".join(f"{r['peak_rss_mb']:.0f}" for _, r in points) + " MB",
        ),
        (
            "incremental <= 1.1x minimum",
            inc["requests"] <= 1.1 * small["minimum"],
            f"{inc['requests']} vs {small['minimum']}",
        ),
    ]
    if limited:
        share = limited["sustained_ok_per_s"] / 100
        checks.append((">= 95% of rate limit", share >= 0.95, f"{100 * share:.1f}%"))
    for label, ok, figure in checks:
        print(f"  {'met    ' if ok else 'MISSED '} {label:30} {figure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=200_000)
    parser.add_argument("--small-objects", type=int, default=20_000)
    parser.add_argument("--large-objects", type=int, default=2_000_000)
    parser.add_argument("--rate-limited-objects", type=int, default=60_000)
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--skip-sdk", action="store_true", help="rest_api baseline only")
    parser.add_argument("--skip-large", action="store_true", help="no --large-objects point")
    parser.add_argument("--skip-rate-limited", action="store_true")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--child", choices=["sluice", "rest_api", "stripe_sdk"])
    parser.add_argument("--url")
    parser.add_argument("--workdir")
    parser.add_argument("--key", default=TEST_KEY)
    parser.add_argument("--rate-limit")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    print("Stripe throughput benchmark (each contender in a fresh process)")
    results: dict[str, Any] = {"throughput": throughput_section(args)}
    results["small"] = small_and_incremental_section(args)
    if not args.skip_large:
        results["large"] = large_section(args)
    if not args.skip_rate_limited:
        results["rate_limited"] = rate_limited_section(args)
    report(results, args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
