"""Rate-limit benchmark: sluice's Stripe extraction vs dlt's plain retrying client.

Starts the Stripe sandbox in its own process, limited to 25 requests/s with 50 ms of
added latency per request, then lists every Stripe resource twice, each time in a fresh
process against a fresh sandbox:

- ``sluice``: the Stripe source (shared proactive limiter, time-sliced backfill,
  resources in parallel) extracted by a dlt pipeline;
- ``baseline``: dlt's ``RESTClient`` on dlt's default retrying session
  (``dlt.sources.helpers.requests``), every resource paged in its own thread, the way
  dlt's generic REST source runs parallelized resources.

Prints requests/s against the limit, the share of requests answered 429, records/s and
peak memory side by side. Target: sluice sustains >= 95% of the limit with <= 1% 429s.

    python benchmarks/stripe_ratelimit.py [--volume 400] [--limit 25] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from sandbox_process import start_stripe_sandbox  # noqa: E402

API_KEY = "sk_test_benchmark"


def start_sandbox(args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], str]:
    options = ["--seed", "7", "--volume", str(args.volume), "--api-key", API_KEY]
    options += ["--rate-limit", str(args.limit), "--latency-ms", str(args.latency_ms)]
    return start_stripe_sandbox(options)


def sandbox_stats(url: str) -> dict[str, Any]:
    import requests

    return dict(requests.get(f"{url}/_sandbox/stats", timeout=10).json())


def run_sluice(url: str, workdir: str) -> dict[str, Any]:
    """Extracts every Stripe resource with the sluice source."""
    import dlt

    from sources.stripe import make_client, stripe_source

    os.environ["DLT_DATA_DIR"] = workdir
    pipeline = dlt.pipeline(
        pipeline_name="bench_sluice",
        destination="duckdb",
        dataset_name="stripe",
        pipelines_dir=workdir,
    )
    source = stripe_source(client=make_client(api_key=API_KEY, base_url=url))
    started = time.monotonic()
    info = pipeline.extract(source)
    seconds = time.monotonic() - started
    records = sum(
        count
        for table, count in info.metrics[info.loads_ids[0]][0]["table_metrics"].items()
        if not table.startswith("_")
        for count in [count.items_count]
    )
    return {"seconds": seconds, "records": records}


def run_baseline(url: str, workdir: str) -> dict[str, Any]:
    """Pages every resource with dlt's RESTClient on dlt's retrying session, in parallel."""
    from dlt.sources.helpers.rest_client import RESTClient
    from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
    from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator

    from sources.stripe.settings import RESOURCES

    class StartingAfter(JSONResponseCursorPaginator):
        """Stripe's cursor: the id of the last object, while has_more."""

        def __init__(self) -> None:
            super().__init__(cursor_path="has_more", cursor_param="starting_after")

        def update_state(self, response: Any, data: Any = None) -> None:
            body = response.json()
            self._next_reference = body["data"][-1]["id"] if body.get("has_more") else None

    def list_all(name: str, params: dict[str, Any]) -> int:
        client = RESTClient(
            base_url=url,
            auth=BearerTokenAuth(API_KEY),
            paginator=StartingAfter(),
            data_selector="data",
        )
        return sum(
            len(page) for page in client.paginate(f"/v1/{name}", params={"limit": 100, **params})
        )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(RESOURCES)) as pool:
        counts = list(pool.map(lambda r: list_all(r.name, dict(r.list_params)), RESOURCES))
    return {"seconds": time.monotonic() - started, "records": sum(counts)}


def record_send_times() -> list[tuple[float, int]]:
    """Notes (time, status) of every HTTP exchange at the transport, for both variants."""
    import threading

    from requests.adapters import HTTPAdapter

    sent: list[tuple[float, int]] = []
    lock = threading.Lock()
    original = HTTPAdapter.send

    def timed_send(self: HTTPAdapter, request: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        response = original(self, request, *args, **kwargs)
        with lock:
            sent.append((started, response.status_code))
        return response

    HTTPAdapter.send = timed_send  # type: ignore[method-assign]
    return sent


def child(variant: str, url: str) -> None:
    sent = record_send_times()
    with tempfile.TemporaryDirectory() as workdir:
        result = run_sluice(url, workdir) if variant == "sluice" else run_baseline(url, workdir)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    starts = sorted(t for t, _ in sent)
    ok = sum(1 for _, code in sent if code < 400)
    window = (starts[-1] - starts[0]) if len(starts) > 1 else result["seconds"]
    result["sustained_ok_per_s"] = (ok - 1) / window if window > 0 else 0.0
    print(json.dumps(result))


def measure(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    proc, url = start_sandbox(args)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", variant, "--url", url],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=args.timeout,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{variant} failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        stats = sandbox_stats(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    requests_total = int(stats["requests"])
    throttled = int(stats["throttled"])
    result.update(
        requests=requests_total,
        throttled=throttled,
        req_per_s=requests_total / result["seconds"],
        ok_per_s=(requests_total - throttled) / result["seconds"],
    )
    return result


def report(results: dict[str, dict[str, Any]], limit: float) -> None:
    rows = [
        ("requests sent", "{requests:d}"),
        ("answered 429", "{throttled:d}"),
        ("429 share", None),
        ("duration (s)", "{seconds:.1f}"),
        ("requests/s", "{req_per_s:.1f}"),
        ("successful requests/s", "{ok_per_s:.1f}"),
        ("share of the limit", None),
        ("sustained ok req/s", "{sustained_ok_per_s:.1f}"),
        ("sustained share", None),
        ("records", "{records:d}"),
        ("records/s", None),
        ("peak memory (MB)", "{peak_rss_mb:.0f}"),
    ]
    names = list(results)
    print(f"\nStripe sandbox limited to {limit:g} req/s, 50 ms latency per request\n")
    print(f"{'':24}" + "".join(f"{n:>18}" for n in names))
    for label, fmt in rows:
        cells = []
        for name in names:
            r = results[name]
            if label == "429 share":
                cells.append(f"{100 * r['throttled'] / max(r['requests'], 1):.2f}%")
            elif label == "share of the limit":
                cells.append(f"{100 * r['ok_per_s'] / limit:.1f}%")
            elif label == "sustained share":
                cells.append(f"{100 * r['sustained_ok_per_s'] / limit:.1f}%")
            elif label == "records/s":
                cells.append(f"{r['records'] / r['seconds']:.0f}")
            else:
                cells.append((fmt or "").format(**r))
        print(f"{label:24}" + "".join(f"{c:>18}" for c in cells))
    s = results["sluice"]
    ok = s["sustained_ok_per_s"] / limit >= 0.95 and s["throttled"] <= 0.01 * s["requests"]
    print(
        "\n'share of the limit' counts the whole extraction (start-up and the last page's "
        "processing included); 'sustained' is first to last request."
    )
    print(f"target (>= 95% of the limit sustained, <= 1% 429s): {'met' if ok else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume", type=int, default=400)
    parser.add_argument("--limit", type=float, default=25)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--child", choices=["sluice", "baseline"])
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url)
        return
    results = {variant: measure(variant, args) for variant in ("sluice", "baseline")}
    report(results, args.limit)


if __name__ == "__main__":
    main()
