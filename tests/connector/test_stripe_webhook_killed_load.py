"""A drain after a load killed mid-way (a drain's or a poller's) loads every acknowledged event.

dlt's ``pipeline.run`` loads a pipeline's pending package *instead of* extracting the data
it is given. A drain that trusted it loaded the killed run's package, then marked its own
plan done: the events received since were acknowledged to Stripe, marked drained, and in
no table. These tests leave a pending package with a real ``SIGKILL`` during the load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from sandbox.stripe import StripeSandbox
from sandbox.stripe.webhooks import WebhookSender
from sources.kit.webhooks.inbox import Inbox
from sources.stripe.webhooks import WEBHOOK_PATH, create_stripe_receiver, drain
from tests.webhook_helpers import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_killed_load_secret"
EVENTS = 310
OBJECTS = 100
FIRST = 150


def pipeline(db: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name="stripe", dataset_name="stripe", destination=dlt.destinations.duckdb(str(db))
    )


def customer_events(start: int) -> list[dict[str, Any]]:
    """310 events for 100 customers, one second apart, so each object's newest is plain."""
    return [
        {
            "id": f"evt_kl{n:04d}",
            "object": "event",
            "type": "customer.updated",
            "created": start + n,
            "data": {
                "object": {
                    "id": f"cus_kl{n % OBJECTS:03d}",
                    "object": "customer",
                    "created": start,
                    "name": f"version {n}",
                }
            },
        }
        for n in range(EVENTS)
    ]


def run_killed(dlt_home: Path, tmp_path: Path, *args: str) -> int:
    """Runs ``tests/connector/_killed_load.py`` and returns its exit status."""
    env = {
        **os.environ,
        "DLT_DATA_DIR": str(dlt_home),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "tests.connector._killed_load", *args]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    return done.returncode


def deliver(url: str, events: Sequence[dict[str, Any]]) -> None:
    sender = WebhookSender(SECRET)
    results = sender.send(url, [sender.delivery(e) for e in events], concurrency=8)
    assert [r.status for r in results] == [200] * len(events)  # all acknowledged


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox(tmp_path / "inbox.sqlite3")
    with serve_in_thread(create_stripe_receiver(inbox, [SECRET])) as base:
        yield base + WEBHOOK_PATH, inbox
    inbox.close()


def assert_every_acknowledged_event_loaded(
    db: Path, inbox: Inbox, events: list[dict[str, Any]]
) -> None:
    newest: dict[str, str] = {}
    for event in events:  # created grows with n: the last event of an object is its newest
        newest[event["data"]["object"]["id"]] = event["data"]["object"]["name"]
    loaded = dict(rows(db, "SELECT id, name FROM stripe.customers WHERE id LIKE 'cus_kl%'"))
    missing = sorted(set(newest) - set(loaded))
    assert not missing, f"{len(missing)} object(s) of acknowledged events not loaded"
    assert loaded == newest
    (count,) = rows(db, "SELECT COUNT(*) FROM stripe.customers WHERE id LIKE 'cus_kl%'")[0]
    assert count == OBJECTS  # merged on id: the resumed package doubled nothing
    audited = {r[0] for r in rows(db, "SELECT id FROM stripe.webhook_events")}
    assert audited == {e["id"] for e in events}
    assert inbox.counts().pending == 0


def test_drain_after_a_drain_killed_during_its_load_loads_every_event(
    receiver: tuple[str, Inbox], dlt_home: Path, tmp_path: Path, duckdb_path: Path
) -> None:
    url, inbox = receiver
    events = customer_events(int(time.time()))
    deliver(url, events[:FIRST])
    run_killed(dlt_home, tmp_path, "drain", str(inbox.path), str(duckdb_path))
    assert pipeline(duckdb_path).has_pending_data  # the killed drain's package
    assert inbox.counts().pending == FIRST  # the killed drain marked nothing done
    deliver(url, events[FIRST:])  # received while nothing drained

    report = drain(inbox, pipeline(duckdb_path))

    assert report.events == EVENTS
    assert not pipeline(duckdb_path).has_pending_data
    assert_every_acknowledged_event_loaded(duckdb_path, inbox, events)


def test_drain_after_a_poller_run_killed_during_its_load_loads_every_event(
    receiver: tuple[str, Inbox],
    stripe_sandbox_factory: Callable[..., StripeSandbox],
    dlt_home: Path,
    tmp_path: Path,
    duckdb_path: Path,
) -> None:
    url, inbox = receiver
    sandbox = stripe_sandbox_factory(volume=5)
    run_killed(dlt_home, tmp_path, "poll", sandbox.base_url, sandbox.api_key, str(duckdb_path))
    assert pipeline(duckdb_path).has_pending_data  # the killed poller run's package
    events = customer_events(int(time.time()) + 1)  # after the poller's scan began
    deliver(url, events)

    report = drain(inbox, pipeline(duckdb_path))

    assert report.events == EVENTS
    assert_every_acknowledged_event_loaded(duckdb_path, inbox, events)
    polled = {c["id"] for c in sandbox.store.listable("customers")}
    loaded = {r[0] for r in rows(duckdb_path, "SELECT id FROM stripe.customers")}
    assert polled <= loaded  # the poller's pending package was loaded too, not dropped
