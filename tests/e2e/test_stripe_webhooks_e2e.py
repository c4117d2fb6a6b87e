"""End to end: sandbox events sent as signed webhooks (good, forged, stale, duplicated,
shuffled) through the receiver over HTTP, drained into a real DuckDB file."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from pytest_mock import MockerFixture

from pipelines import stripe_webhooks as webhooks_cli
from sandbox.stripe import StripeSandbox
from sandbox.stripe.webhooks import WebhookSender, delivery_mix
from sources.kit.webhooks.inbox import Inbox
from sources.stripe import column_hints, make_client, stripe_source
from sources.stripe.settings import RESOURCES_BY_OBJECT
from sources.stripe.webhooks import WEBHOOK_PATH, create_stripe_receiver, drain
from tests.webhook_helpers import serve_in_thread

SECRET = "whsec_e2e_endpoint_secret"
Key = tuple[str, str]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, dlt_home: Path, duckdb_path: Path) -> Path:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))
    return duckdb_path


@dataclass
class Receiver:
    url: str
    inbox: Inbox
    sender: WebhookSender


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    inbox = Inbox(tmp_path / "inbox.sqlite3")
    with serve_in_thread(create_stripe_receiver(inbox, [SECRET])) as base:
        yield Receiver(base + WEBHOOK_PATH, inbox, WebhookSender(SECRET))
    inbox.close()


def pipeline(db: Path) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name="stripe",
        dataset_name="stripe",
        destination=dlt.destinations.duckdb(str(db)),
    )


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def tables(db: Path) -> set[str]:
    rows = query(db, "SELECT table_name FROM information_schema.tables WHERE table_schema='stripe'")
    return {r[0] for r in rows}


def columns(db: Path, table: str) -> list[str]:
    sql = (
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_schema='stripe' AND table_name='{table}' ORDER BY column_name"
    )
    return [r[0] for r in query(db, sql)]


def object_key(event: Mapping[str, Any]) -> Key:
    obj = event["data"]["object"]
    return (obj["object"], obj["id"])


def newest_snapshots(events: Sequence[Mapping[str, Any]]) -> dict[Key, dict[str, Any]]:
    newest: dict[Key, tuple[tuple[int, str], dict[str, Any]]] = {}
    for event in events:
        order = (int(event["created"]), str(event["id"]))
        key = object_key(event)
        if key not in newest or order > newest[key][0]:
            newest[key] = (order, event["data"]["object"])
    return {key: snapshot for key, (_, snapshot) in newest.items()}


def add_history(sandbox: StripeSandbox) -> None:
    """Changes with several events per object, a second apart, plus a delete."""
    store = sandbox.store
    start = store.now() - 3600
    customer = store.create("customer", at=start, name="v0", email="v@example.com")
    for version in range(1, 4):
        store.update("customer", customer["id"], at=start + version, name=f"v{version}")
    doomed = store.create("customer", at=start + 10, name="doomed")
    store.delete("customer", doomed["id"], at=start + 20)


def hold_back_oldest(events: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The oldest event of ``count`` objects that have several events (sent late)."""
    by_object: dict[Key, list[dict[str, Any]]] = {}
    for event in events:
        by_object.setdefault(object_key(event), []).append(event)
    multi = [sorted(evs, key=lambda e: (e["created"], e["id"])) for evs in by_object.values()]
    return [evs[0] for evs in multi if len(evs) > 1][:count]


def scalar_fields(spec_name: str, snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level scalar fields stored as-is (not timestamps, not the soft-delete pair)."""
    hinted = set(column_hints(RESOURCES_BY_OBJECT[snapshot["object"]]))
    return {
        k: v
        for k, v in snapshot.items()
        if isinstance(v, (str, int, bool)) and k not in hinted and k not in ("deleted",)
    }


def assert_rows_match_newest_state(db: Path, events: Sequence[Mapping[str, Any]]) -> None:
    newest = newest_snapshots(events)
    dead: set[tuple[str, str]] = set()
    if "_dead_letters" in tables(db):
        dead = {
            (r[0], r[1])
            for r in query(db, "SELECT table_name, record_id FROM stripe._dead_letters")
        }
    by_table: dict[str, dict[str, dict[str, Any]]] = {}
    for (object_type, object_id), snapshot in newest.items():
        table = RESOURCES_BY_OBJECT[object_type].name
        by_table.setdefault(table, {})[object_id] = snapshot
    for table, expected in by_table.items():
        cols = columns(db, table)
        rows = query(db, f"SELECT * FROM stripe.{table}") if table in tables(db) else []
        loaded = [dict(zip(cols_in_order(db, table), row, strict=True)) for row in rows]
        ids = [r["id"] for r in loaded]
        assert len(ids) == len(set(ids)), f"doubled rows in {table}"
        expected_ids = {i for i in expected if (table, i) not in dead}
        assert set(ids) == expected_ids, table
        for row in loaded:
            snapshot = expected[row["id"]]
            assert row["deleted"] is bool(snapshot.get("deleted")), (table, row["id"])
            for name, value in scalar_fields(table, snapshot).items():
                if name in cols:
                    assert row[name] == value, (table, row["id"], name)


def cols_in_order(db: Path, table: str) -> list[str]:
    sql = (
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_schema='stripe' AND table_name='{table}' ORDER BY ordinal_position"
    )
    return [r[0] for r in query(db, sql)]


def assert_nothing_forged(db: Path) -> None:
    for table in tables(db):
        assert not any("forged" in c for c in columns(db, table)), table
        assert not any("__v_" in c for c in columns(db, table)), f"variant column in {table}"


@pytest.mark.e2e
def test_drain_reflects_exactly_the_valid_unique_events_at_newest_state(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
    receiver: Receiver,
    env: Path,
    mocker: MockerFixture,
) -> None:
    sandbox = stripe_sandbox_factory(volume=8)
    add_history(sandbox)
    events = sandbox.store.listable("events")
    late = hold_back_oldest(events, 4)
    late_ids = {e["id"] for e in late}
    first = [e for e in events if e["id"] not in late_ids]
    deliveries = delivery_mix(
        receiver.sender, first, rng=random.Random(7), duplicates=12, forged=5, tampered=5, stale=5
    )

    results = receiver.sender.send(receiver.url, deliveries, concurrency=8)

    assert all(r.status == 200 for r in results if r.delivery.acceptable)
    assert all(r.status == 400 for r in results if not r.delivery.acceptable)
    assert sum(1 for r in results if r.answer == {"received": True, "duplicate": True}) >= 12
    assert receiver.inbox.event_ids() == {e["id"] for e in first}

    crash = mocker.patch.object(Inbox, "mark_done", side_effect=RuntimeError("crash"))
    with pytest.raises(RuntimeError):
        drain(receiver.inbox, pipeline(env))  # loaded, then crashed before marking done
    mocker.stop(crash)
    assert receiver.inbox.counts().pending == len(first)
    report = drain(receiver.inbox, pipeline(env))  # loads the same rows again: no doubles
    assert (report.events, receiver.inbox.counts().pending) == (len(first), 0)

    late_results = receiver.sender.send(receiver.url, [receiver.sender.delivery(e) for e in late])
    assert [r.status for r in late_results] == [200] * len(late)
    late_report = drain(receiver.inbox, pipeline(env))
    assert (late_report.events, late_report.rows, late_report.stale) == (len(late), 0, len(late))

    audit = [r[0] for r in query(env, "SELECT id FROM stripe.webhook_events")]
    assert sorted(audit) == sorted(e["id"] for e in events)  # exactly the N valid events
    assert_rows_match_newest_state(env, events)
    assert_nothing_forged(env)
    deleted = query(env, "SELECT deleted, deleted_at IS NOT NULL FROM stripe.customers "
                         "WHERE name = 'doomed'")  # fmt: skip
    assert deleted == [(True, True)]
    assert query(env, "SELECT name FROM stripe.customers WHERE email = 'v@example.com'") == [
        ("v3",)
    ]


@pytest.mark.e2e
def test_webhook_rows_merge_into_the_polled_tables(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
    receiver: Receiver,
    env: Path,
) -> None:
    sandbox = stripe_sandbox_factory(volume=8)
    client = make_client(api_key=sandbox.api_key, base_url=sandbox.base_url)
    poll = stripe_source(resources=["customers", "charges"], client=client)
    pipeline(env).run(poll, loader_file_format="parquet")
    polled = {r[0] for r in query(env, "SELECT id FROM stripe.customers")}
    customer_columns = columns(env, "customers")
    before = len(sandbox.store.listable("events"))
    renamed, removed = sorted(polled)[:2]
    sandbox.store.update("customer", renamed, name="Renamed by webhook")
    sandbox.store.delete("customer", removed)
    changes = sandbox.store.listable("events")[: len(sandbox.store.listable("events")) - before]

    results = receiver.sender.send(receiver.url, [receiver.sender.delivery(e) for e in changes])
    assert [r.status for r in results] == [200] * len(changes)
    drain(receiver.inbox, pipeline(env))

    rows = query(env, "SELECT id, name, deleted FROM stripe.customers")
    assert {r[0] for r in rows} == polled  # merged on id: no new or doubled rows
    by_id = {r[0]: r for r in rows}
    assert by_id[renamed][1:] == ("Renamed by webhook", False)
    assert by_id[removed][2] is True
    assert columns(env, "customers") == customer_columns  # same columns as the poller's
    assert_nothing_forged(env)


@pytest.mark.e2e
def test_reconcile_cli_against_the_sandbox_loads_missed_events(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inbox = tmp_path / "cli_inbox.sqlite3"
    argv = ["reconcile", "--sandbox", "--sandbox-volume", "5", "--inbox", str(inbox)]
    assert webhooks_cli.main(argv) == 0
    out = capsys.readouterr().out
    missed = int(out.split("reconcile: ", 1)[1].split()[0])
    assert missed > 0
    assert query(env, "SELECT COUNT(*) FROM stripe.webhook_events") == [(missed,)]
    assert f"drained {missed} event(s)" in out
