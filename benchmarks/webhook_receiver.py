"""Webhook receiver throughput and latency under wrk, beside a no-op endpoint on the same stack.

    python benchmarks/webhook_receiver.py                  # 4 runs of 10 s, 32 connections
    python benchmarks/webhook_receiver.py --duration 5 --connections 16

Starts ``pipelines/stripe_webhooks.py serve`` (the real CLI, so the same uvicorn settings)
on loopback with a fresh inbox, pre-signs unique Stripe-like events (timestamps fresh at
start), and drives ``POST /webhooks/stripe`` with wrk through a Lua script that cycles
through them; then the same against ``POST /noop``. Twice: at saturation (every
connection sends as soon as it has its answer) and paced (``--rate`` requests/s offered,
random pauses between requests, as a steady stream of deliveries arrives). Prints
accepted events/s and p50/p90/p99 latency side by side, then ``kill -9``s the receiver
and checks that the inbox holds at least every event wrk got a first-time 2xx for.

Needs wrk (Debian: ``apt-get install -y wrk``). Loopback only; bounded in time and count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from sandbox.stripe.webhooks import WebhookSender, encode_event  # noqa: E402
from sources.kit.webhooks.inbox import Inbox  # noqa: E402

SECRET = "whsec_benchmark_only_secret"
TARGET_EVENTS_PER_S = 1000
TARGET_P99_MS = 50.0
MAX_EVENTS = 200_000

LUA_SCRIPT = r"""
local threads = {}
local counter = 0
local items = {}
local index = 0
ok_new, ok_dup, refused, wrapped = 0, 0, 0, 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  pause_ms = tonumber(args[3])
  math.randomseed(tid + 1)
  local file = assert(io.open(args[1] .. "." .. tid, "r"))
  for line in file:lines() do
    local tab = line:find("\t", 1, true)
    items[#items + 1] = wrk.format("POST", args[2], {
      ["Content-Type"] = "application/json",
      ["Stripe-Signature"] = line:sub(1, tab - 1),
    }, line:sub(tab + 1))
  end
  file:close()
end

function request()
  index = index + 1
  if index > #items then
    index = 1
    wrapped = wrapped + 1
  end
  return items[index]
end

function delay()
  if pause_ms > 0 then
    return math.random() * 2 * pause_ms
  end
  return 0
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    if body:find('"duplicate":true', 1, true) then
      ok_dup = ok_dup + 1
    else
      ok_new = ok_new + 1
    end
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local new, dup, bad, wraps = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    new = new + thread:get("ok_new")
    dup = dup + thread:get("ok_dup")
    bad = bad + thread:get("refused")
    wraps = wraps + thread:get("wrapped")
  end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"ok_new":%d,"ok_dup":%d,"refused":%d,' ..
    '"wrapped":%d,"errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, new, dup, bad, wraps, errors,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass
class WrkResult:
    """What one wrk run measured."""

    label: str
    requests: int
    seconds: float
    ok_new: int
    ok_dup: int
    refused: int
    errors: int
    wrapped: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def per_second(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def accepted_per_second(self) -> float:
        """First-time 2xx answers per second (stored events for the receiver)."""
        return self.ok_new / self.seconds if self.seconds else 0.0


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--events",
        type=int,
        default=80_000,
        help=f"unique events for the saturation runs (at most {MAX_EVENTS})",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=1500.0,
        help="requests/s offered in the paced runs (default 1500)",
    )
    parser.add_argument("--commit-window-ms", type=float, default=0.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    return parser.parse_args(argv)


def event(n: int, now: int) -> dict[str, Any]:
    """A Stripe-like ``customer.updated`` event of typical size (about 1 KB)."""
    return {
        "id": f"evt_bench_{n:08d}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": now,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": f"req_{n:012d}", "idempotency_key": None},
        "type": "customer.updated",
        "data": {
            "object": {
                "id": f"cus_{n % 5000:08d}",
                "object": "customer",
                "address": {"city": "Berlin", "country": "DE", "line1": "Strasse 1",
                            "line2": None, "postal_code": "10115", "state": None},
                "balance": 0,
                "created": now - 86_400,
                "currency": "eur",
                "default_source": None,
                "delinquent": False,
                "description": "benchmark customer",
                "email": f"customer{n % 5000}@example.com",
                "invoice_prefix": "ABCD1234",
                "livemode": False,
                "metadata": {"n": str(n)},
                "name": f"Customer {n % 5000}",
                "phone": None,
                "preferred_locales": ["de"],
                "shipping": None,
                "tax_exempt": "none",
            },
            "previous_attributes": {"metadata": {"n": str(n - 1)}},
        },
    }  # fmt: skip


def write_bodies(stem: Path, first: int, count: int, threads: int, sender: WebhookSender) -> Path:
    """Writes ``<stem>.<thread>``: one ``signature<TAB>body`` line per unique event."""
    now = int(time.time())
    files = [open(f"{stem}.{t}", "w", encoding="utf-8") for t in range(threads)]  # noqa: SIM115
    try:
        for n in range(first, first + count):
            body = encode_event(event(n, now))
            header = sender.signature_header(body, timestamp=now)
            files[n % threads].write(f"{header}\t{body.decode()}\n")
    finally:
        for f in files:
            f.close()
    return stem


def start_receiver(
    folder: Path, inbox: Path, window_ms: float
) -> tuple[subprocess.Popen[str], str]:
    """Runs the ``serve`` CLI on a free loopback port; returns it and its base URL."""
    env = {
        **os.environ,
        "SOURCES__STRIPE__WEBHOOK_SECRET": SECRET,
        "DLT_DATA_DIR": str(folder / "dlt"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    command = [sys.executable, str(ROOT / "pipelines" / "stripe_webhooks.py"), "serve",
               "--host", "127.0.0.1", "--port", "0", "--inbox", str(inbox),
               "--commit-window-ms", str(window_ms)]  # fmt: skip
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise SystemExit(f"receiver did not start: {line!r}")
    base = line.split()[2].rsplit("/webhooks", 1)[0]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=1).ok:
                return process, base
        except requests.ConnectionError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("receiver did not become healthy")


def pause_ms(args: argparse.Namespace, rate: float) -> float:
    """Mean pause per connection between requests so all connections offer ``rate`` req/s."""
    return args.connections / rate * 1000.0 if rate > 0 else 0.0


def run_wrk(label: str, base: str, path: str, script: Path, stem: Path,
            args: argparse.Namespace, duration: int, rate: float = 0.0) -> WrkResult:  # fmt: skip
    """Runs wrk against ``base + path`` (paced to ``rate`` req/s when > 0), parses ``RESULT``."""
    command = ["wrk", "-t", str(args.threads), "-c", str(args.connections),
               "-d", f"{duration}s", "--timeout", "5s", "-s", str(script),
               f"{base}{path}", "--", str(stem), path, f"{pause_ms(args, rate):.3f}"]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60)
    line = next((x for x in output.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {output.stdout}\n{output.stderr}")
    data = json.loads(line[len("RESULT ") :])
    return WrkResult(
        label=label,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        ok_new=data["ok_new"],
        ok_dup=data["ok_dup"],
        refused=data["refused"],
        errors=data["errors"],
        wrapped=data["wrapped"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )


def print_table(title: str, results: list[WrkResult]) -> None:
    """Prints runs side by side under a title."""
    print(f"\n{title}")
    header = f"{'endpoint':<22}{'req/s':>9}{'accepted/s':>12}{'p50 ms':>9}{'p90 ms':>9}" \
             f"{'p99 ms':>9}{'max ms':>9}{'non-2xx':>9}{'errors':>8}"  # fmt: skip
    print(header)
    print("-" * len(header))
    for r in results:
        accepted = f"{r.accepted_per_second:.0f}" if r.label.startswith("POST /webhooks") else "-"
        print(f"{r.label:<22}{r.per_second:>9.0f}{accepted:>12}{r.p50_ms:>9.2f}{r.p90_ms:>9.2f}"
              f"{r.p99_ms:>9.2f}{r.max_ms:>9.2f}{r.refused:>9}{r.errors:>8}")  # fmt: skip


def meets_target(result: WrkResult) -> bool:
    """At least the target rate of stored events with p99 within the target."""
    return result.accepted_per_second >= TARGET_EVENTS_PER_S and result.p99_ms <= TARGET_P99_MS


@dataclass
class Runs:
    """The four measured runs."""

    receiver_max: WrkResult
    noop_max: WrkResult
    receiver_paced: WrkResult
    noop_paced: WrkResult


def measure(base: str, folder: Path, script: Path, args: argparse.Namespace) -> Runs:
    """Warm-up, then saturation and paced runs of receiver and no-op (fresh events each)."""
    sender = WebhookSender(SECRET)
    saturated = write_bodies(folder / "saturated", 0, args.events, args.threads, sender)
    paced_count = int(args.rate * args.duration * 1.5)
    paced = write_bodies(folder / "paced", args.events, paced_count, args.threads, sender)
    hook = "/webhooks/stripe"
    run_wrk("warm-up", base, "/noop", script, paced, args, 2)
    return Runs(
        receiver_max=run_wrk(f"POST {hook}", base, hook, script, saturated, args, args.duration),
        noop_max=run_wrk("POST /noop", base, "/noop", script, saturated, args, args.duration),
        receiver_paced=run_wrk(
            f"POST {hook}", base, hook, script, paced, args, args.duration, args.rate
        ),
        noop_paced=run_wrk(
            "POST /noop", base, "/noop", script, paced, args, args.duration, args.rate
        ),  # fmt: skip
    )


def main(argv: Optional[list[str]] = None) -> int:
    """Runs the measurements and the durability check; exit 1 if a target is missed."""
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    args.events = min(args.events, MAX_EVENTS)
    folder = Path(tempfile.mkdtemp(prefix="sluice-webhook-bench-"))
    inbox_path = folder / "inbox.sqlite3"
    script = folder / "cycle.lua"
    script.write_text(LUA_SCRIPT, encoding="utf-8")
    process, base = start_receiver(folder, inbox_path, args.commit_window_ms)
    try:
        runs = measure(base, folder, script, args)
        health = requests.get(f"{base}/healthz", timeout=5).json()
    finally:
        process.send_signal(signal.SIGKILL)  # the check below must hold without a clean stop
        process.wait(timeout=10)
    with Inbox(inbox_path) as inbox:
        stored = inbox.counts().total
    print(f"wrk {args.threads} threads, {args.connections} connections, {args.duration}s per run, "
          f"loopback, {os.cpu_count()} CPUs, ~1.1 KB signed events, "
          f"commit window {args.commit_window_ms} ms")  # fmt: skip
    print_table("saturation (as fast as wrk can send)", [runs.receiver_max, runs.noop_max])
    print_table(f"paced (offered ~{args.rate:.0f} req/s)", [runs.receiver_paced, runs.noop_paced])
    acknowledged = runs.receiver_max.ok_new + runs.receiver_paced.ok_new
    duplicates = runs.receiver_max.ok_dup + runs.receiver_paced.ok_dup
    commits = max(1, int(health.get("commits", 0)))
    print(f"\nreceiver: {acknowledged} first-time 2xx, {duplicates} duplicate 2xx; "
          f"{commits} group commits ({health.get('accepted', 0) / commits:.1f} events per "
          f"fsync); inbox after kill -9: {stored} event(s)")  # fmt: skip
    durable = stored >= acknowledged
    print(f"durability: {'OK' if durable else 'LOST EVENTS'} (every acknowledged event stored)")
    fast = meets_target(runs.receiver_paced) or meets_target(runs.receiver_max)
    print(f"target >= {TARGET_EVENTS_PER_S} events/s with p99 <= {TARGET_P99_MS:.0f} ms: "
          f"saturation {'met' if meets_target(runs.receiver_max) else 'missed'}, "
          f"paced {'met' if meets_target(runs.receiver_paced) else 'missed'}")  # fmt: skip
    if args.keep:
        print(f"kept {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if durable and fast else 1


if __name__ == "__main__":
    sys.exit(main())
