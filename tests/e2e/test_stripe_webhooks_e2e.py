"""End to end: sandbox events sent as signed webhooks (good, forged, stale, duplicated,
shuffled) through the receiver over HTTP, drained into a real DuckDB file."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from pytest_mock import MockerFixture

from pipelines import stripe_webhooks as webhooks_cli
from sandbox.stripe import StripeSandbox
from sandbox.stripe.ids import BASE62
from sandbox.stripe.webhooks import WebhookSender, delivery_mix
from sources.kit.webhooks.inbox import Inbox
from sources.stripe import column_hints, make_client, stripe_source
from sources.stripe.client import StripeClient
from sources.stripe.settings import EVENT_OVERLAP_S, RESOURCES_BY_NAME, RESOURCES_BY_OBJECT
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


def current_objects(client: StripeClient, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
    """Each object as ``GET /v1/<resource>/<id>`` answers now (a deleted one: the stub)."""
    found: dict[Key, dict[str, Any]] = {}
    for object_type, object_id in keys:
        spec = RESOURCES_BY_OBJECT[object_type]
        obj = client.retrieve(spec.path, object_id, label="test")
        found[(object_type, object_id)] = obj or {"id": object_id, "deleted": True}
    return found


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


def scalar_fields(table: str, snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level scalar fields stored as-is (not timestamps, not the soft-delete pair)."""
    hinted = set(column_hints(RESOURCES_BY_NAME[table]))
    return {
        k: v
        for k, v in snapshot.items()
        if isinstance(v, (str, int, bool)) and k not in hinted and k not in ("deleted",)
    }


def assert_rows_match_current_state(
    db: Path, client: StripeClient, events: Sequence[Mapping[str, Any]]
) -> None:
    """Every object the events name has one row, as the API has the object now."""
    current = current_objects(client, {object_key(e) for e in events})
    dead: set[tuple[str, str]] = set()
    if "_dead_letters" in tables(db):
        dead = {
            (r[0], r[1])
            for r in query(db, "SELECT table_name, record_id FROM stripe._dead_letters")
        }
    by_table: dict[str, dict[str, dict[str, Any]]] = {}
    for (object_type, object_id), obj in current.items():
        table = RESOURCES_BY_OBJECT[object_type].name
        by_table.setdefault(table, {})[object_id] = obj
    for table, expected in by_table.items():
        cols = columns(db, table)
        rows = query(db, f"SELECT * FROM stripe.{table}") if table in tables(db) else []
        loaded = [dict(zip(cols_in_order(db, table), row, strict=True)) for row in rows]
        ids = [r["id"] for r in loaded]
        assert len(ids) == len(set(ids)), f"doubled rows in {table}"
        expected_ids = {i for i in expected if (table, i) not in dead}
        assert set(ids) == expected_ids, table
        for row in loaded:
            obj = expected[row["id"]]
            assert row["deleted"] is bool(obj.get("deleted")), (table, row["id"])
            if obj.get("deleted"):
                continue  # the stub has no other fields; the row keeps the event's
            for name, value in scalar_fields(table, obj).items():
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
    client = make_client(api_key=sandbox.api_key, base_url=sandbox.base_url)
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
        drain(receiver.inbox, pipeline(env), client=client)  # loaded, crashed before done
    mocker.stop(crash)
    assert receiver.inbox.counts().pending == len(first)
    report = drain(receiver.inbox, pipeline(env), client=client)  # same rows again: no doubles
    assert (report.events, receiver.inbox.counts().pending) == (len(first), 0)

    late_results = receiver.sender.send(receiver.url, [receiver.sender.delivery(e) for e in late])
    assert [r.status for r in late_results] == [200] * len(late)
    late_report = drain(receiver.inbox, pipeline(env), client=client)
    assert (late_report.events, late_report.rows, late_report.stale) == (len(late), 0, len(late))

    audit = [r[0] for r in query(env, "SELECT id FROM stripe.webhook_events")]
    assert sorted(audit) == sorted(e["id"] for e in events)  # exactly the N valid events
    assert_rows_match_current_state(env, client, events)
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
    # --sandbox loads the sandbox's own pipeline and dataset, never the real `stripe`
    assert query(env, "SELECT COUNT(*) FROM stripe_sandbox.webhook_events") == [(missed,)]
    assert f"drained {missed} event(s)" in out


def scramble_ids_within_each_second(
    events: list[dict[str, Any]], rng: random.Random
) -> list[dict[str, Any]]:
    """The events under new ids that keep their second but not their order within it.

    The sandbox's event ids happen to sort by change order within a second; Stripe's do
    not promise that (nor any order of same-second events: ``../shared/stripe/README.md``),
    so a drain must not rely on it. The id keeps its ``evt_1<time><account>`` prefix.
    """
    scrambled = []
    for event in events:
        prefix = event["id"][: len("evt_1") + 6 + 10]
        tail = "".join(rng.choice(BASE62) for _ in range(7))
        scrambled.append({**event, "id": prefix + tail})
    return scrambled


def same_second_history(sandbox: StripeSandbox, customers: int = 5) -> list[dict[str, Any]]:
    """45 events of 5 customers: created, then 8 changes each over 3 shared seconds; the
    last customer's final change, in the same second as an update, is its deletion."""
    store = sandbox.store
    start = store.now() - 7200
    ids = [
        store.create("customer", at=start, name=f"c{n} v0", email=f"c{n}@example.com")["id"]
        for n in range(customers)
    ]
    for version in range(1, 9):
        second = start + 1 + (version - 1) // 3  # three changes in a second, then three...
        for n, cid in enumerate(ids):
            if n == customers - 1 and version == 8:
                store.delete("customer", cid, at=second)
            else:
                changes = {"name": f"c{n} v{version}", "description": f"step {version}"}
                store.update("customer", cid, at=second, **changes)
    history = [e for e in store.listable("events") if e["data"]["object"]["id"] in ids]
    assert len(history) == 45
    return history


@pytest.mark.e2e
@pytest.mark.parametrize("drains", [1, 3], ids=["one-drain", "drained-between-deliveries"])
def test_shuffled_same_second_deliveries_end_at_the_apis_current_state(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
    receiver: Receiver,
    env: Path,
    drains: int,
) -> None:
    sandbox = stripe_sandbox_factory(volume=2)
    client = make_client(api_key=sandbox.api_key, base_url=sandbox.base_url)
    rng = random.Random(14)
    events = scramble_ids_within_each_second(same_second_history(sandbox), rng)
    deliveries = delivery_mix(receiver.sender, events, rng=rng, duplicates=15)
    assert all(
        "deleted" not in e["data"]["object"] for e in events
    )  # as on a real account: the delete event's object has no flag

    size = -(-len(deliveries) // drains)
    for start in range(0, len(deliveries), size):
        results = receiver.sender.send(receiver.url, deliveries[start : start + size])
        assert {r.status for r in results} == {200}
        drain(receiver.inbox, pipeline(env), client=client)

    assert receiver.inbox.counts().pending == 0
    assert_rows_match_current_state(env, client, events)
    deleted = query(env, "SELECT COUNT(*) FROM stripe.customers WHERE deleted")
    assert deleted == [(1,)]


@pytest.mark.e2e
@pytest.mark.parametrize(
    "delivered, expected",
    [("v1", "v4"), ("v3", "v4"), ("v5", "v5")],
    ids=["older-than-the-polls-scan", "within-the-scan-overlap", "after-the-scan"],
)
def test_never_drained_older_event_keeps_the_pollers_newer_row(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
    receiver: Receiver,
    env: Path,
    delivered: str,
    expected: str,
) -> None:
    sandbox = stripe_sandbox_factory(volume=2)
    client = make_client(api_key=sandbox.api_key, base_url=sandbox.base_url)
    store = sandbox.store
    scan = store.now() - 1000  # the poller's scan starts here; its cursor is 300 s before
    cid = store.create("customer", at=scan - 3000, name="v0")["id"]
    for name, at in (("v1", scan - 2000), ("v3", scan - 100), ("v4", scan - 50)):
        store.update("customer", cid, at=at, name=name)
    poll = stripe_source(resources=["customers"], client=client, clock=lambda: float(scan))
    pipeline(env).run(poll)
    cursor = pipeline(env).state["sources"]["stripe"]["resources"]["customers"]["events_cursor"]
    assert cursor == scan - EVENT_OVERLAP_S
    if delivered == "v5":
        store.update("customer", cid, at=scan + 10, name="v5")  # a change after the poll
    late = [
        e
        for e in store.listable("events")
        if e["data"]["object"]["id"] == cid and e["data"]["object"]["name"] == delivered
    ]
    results = receiver.sender.send(receiver.url, [receiver.sender.delivery(e) for e in late])
    assert [r.status for r in results] == [200]

    drain(receiver.inbox, pipeline(env), client=client)

    assert query(env, f"SELECT name FROM stripe.customers WHERE id = '{cid}'") == [(expected,)]
    assert client.retrieve("/v1/customers", cid, label="test")["name"] == expected  # type: ignore[index]
    assert receiver.inbox.counts().pending == 0
