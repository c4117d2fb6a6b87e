"""Cost-budget benchmark: sluice's GraphQL cost limiter vs a naive fixed-page client.

Against the Shopify sandbox with a 1,000-point bucket restoring 50 points/s (the classic
plan figures; neither client is told them), both clients page products with their
variants for the same simulated duration:

- ``sluice``: the kit's :class:`~sources.kit.graphql.CostLimiter` (learns the bucket from
  ``extensions.cost``, waits for a page's requested cost, sizes pages to fit);
- ``naive``: fixed pages of ``--naive-page`` products sent as fast as it can, a THROTTLED
  answer retried at once.

The sandbox runs on a manual clock: every request advances it by ``--latency-ms`` and a
client's waits advance it too: two simulated minutes take about a minute of real time,
measured exactly.
Printed: the share of the restore rate sustained (points the bucket restored during the
run that the client spent: ``(spent - start + end level) / (rate x duration)``) and the
share of THROTTLED answers. Target: sluice >= 95% sustained, <= 1% THROTTLED.

    python benchmarks/graphql_cost.py [--seconds 120] [--latency-ms 100] [--products 400]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from sandbox.shopify import ShopifySandbox, Volume  # noqa: E402
from sources.kit.graphql import CostLimiter, GraphQLClient, PageSizer, paginate  # noqa: E402
from sources.shopify.cost import MAX_QUERY_COST, shopify_cost_reader  # noqa: E402
from sources.shopify.queries import SHAPES, paged_query  # noqa: E402

BUCKET, RATE = 1000.0, 50.0
QUERY = paged_query(SHAPES["products"])


@dataclass
class Outcome:
    """What one client did in its run."""

    requests: int
    throttled: int
    spent: float
    level_end: float
    seconds: float
    products: int

    def sustained(self) -> float:
        """Share of the points restored during the run that the client spent."""
        restored = self.spent - BUCKET + self.level_end
        return restored / (RATE * self.seconds)


def sandbox(args: argparse.Namespace) -> ShopifySandbox:
    """A fresh sandbox with the benchmark's bucket and shop size."""
    volume = Volume(products=args.products, customers=1, orders=1, collections=1)
    return ShopifySandbox(seed=7, bucket_size=BUCKET, restore_rate=RATE, volume=volume).start()


def latency_session(sb: ShopifySandbox, latency_s: float) -> requests.Session:
    """A session whose every answer costs ``latency_s`` of the sandbox's clock."""
    session = requests.Session()
    session.headers["X-Shopify-Access-Token"] = sb.access_token

    def advance(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        sb.advance(latency_s)

    session.hooks["response"].append(advance)
    return session


def level_now(sb: ShopifySandbox) -> float:
    """The bucket's level as the sandbox reports it (a 1-point query, refunded to 0)."""
    answer = sb.post("{ shop { id } }").json()
    status = answer["extensions"]["cost"]["throttleStatus"]
    return float(status["currentlyAvailable"])


def measure(args: argparse.Namespace, run: Callable[[ShopifySandbox, float], int]) -> Outcome:
    """Runs one client until the simulated duration is over; the sandbox's figures."""
    sb = sandbox(args)
    try:
        start = sb.clock()
        products = run(sb, start + args.seconds)
        seconds = sb.clock() - start
        stats = sb.stats
        requests_, throttled, spent = stats.requests, stats.throttled, stats.points_spent
        return Outcome(requests_, throttled, spent, level_now(sb), seconds, products)
    finally:
        sb.stop()


def run_sluice(latency_s: float) -> Callable[[ShopifySandbox, float], int]:
    """The kit's client and limiter, paging products until ``until``."""

    def run(sb: ShopifySandbox, until: float) -> int:
        limiter = CostLimiter(clock=sb.clock, sleep=sb.advance)
        client = GraphQLClient(
            latency_session(sb, latency_s), sb.graphql_url, limiter, shopify_cost_reader
        )
        sizer = PageSizer(QUERY)
        count = 0
        while sb.clock() < until:
            for page in paginate(
                client, QUERY, ("products",), label="p", sizer=sizer, ceiling=MAX_QUERY_COST
            ):
                count += len(page.nodes)
                if sb.clock() >= until:
                    break
        return count

    return run


def run_naive(latency_s: float, page: int) -> Callable[[ShopifySandbox, float], int]:
    """Fixed pages as fast as possible; THROTTLED retried at once."""

    def run(sb: ShopifySandbox, until: float) -> int:
        session = latency_session(sb, latency_s)
        count, after = 0, None
        while sb.clock() < until:
            body = {"query": QUERY, "variables": {"first": page, "after": after}}
            answer = session.post(sb.graphql_url, json=body, timeout=10).json()
            codes = {e.get("extensions", {}).get("code") for e in answer.get("errors") or []}
            if codes == {"THROTTLED"}:
                continue  # try again straight away
            if codes:
                raise SystemExit(f"naive client: query failed ({codes}); lower --naive-page")
            connection = answer["data"]["products"]
            count += len(connection["nodes"])
            info = connection["pageInfo"]
            after = info["endCursor"] if info["hasNextPage"] else None
        return count

    return run


def report(results: dict[str, Outcome], args: argparse.Namespace) -> bool:
    """Prints the table; whether sluice met the target."""
    print(
        f"\nShopify sandbox: bucket {BUCKET:g} points, {RATE:g} points/s, "
        f"{args.latency_ms:g} ms per request, {args.seconds:g} simulated seconds\n"
    )
    names = list(results)
    print(f"{'':32}" + "".join(f"{n:>18}" for n in names))
    lines: list[tuple[str, Callable[[Outcome], str]]] = [
        ("requests", lambda o: f"{o.requests}"),
        ("THROTTLED answers", lambda o: f"{o.throttled} ({o.throttled / o.requests:.2%})"),
        ("points spent (actual)", lambda o: f"{o.spent:,.0f}"),
        ("share of restore rate sustained", lambda o: f"{o.sustained():.1%}"),
        ("products read", lambda o: f"{o.products:,}"),
        ("products per simulated s", lambda o: f"{o.products / o.seconds:,.1f}"),
    ]
    for label, cell in lines:
        print(f"{label:32}" + "".join(f"{cell(results[n]):>18}" for n in names))
    ours = results["sluice"]
    ok = ours.sustained() >= 0.95 and ours.throttled <= 0.01 * ours.requests
    print(f"\ntarget (>= 95% of the restore rate, <= 1% THROTTLED): {'met' if ok else 'NOT met'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    """Measures both clients and prints their figures side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=120.0, help="simulated duration")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--products", type=int, default=400)
    parser.add_argument("--naive-page", type=int, default=25, help="naive client's page size")
    args = parser.parse_args(argv)
    latency = args.latency_ms / 1000.0
    results = {
        "sluice": measure(args, run_sluice(latency)),
        f"naive (first={args.naive_page})": measure(args, run_naive(latency, args.naive_page)),
    }
    return 0 if report(results, args) else 1


if __name__ == "__main__":
    sys.exit(main())
