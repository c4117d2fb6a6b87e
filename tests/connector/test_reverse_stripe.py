"""Reverse ETL into the Stripe sandbox: metadata updates applied once, under 5xx and re-runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from sandbox.stripe import StripeSandbox
from sources.kit.reverse.engine import run_sync
from sources.kit.reverse.spec import SyncSpec, SyncSpecError, parse_sync
from sources.stripe.client import make_client
from sources.stripe.reverse import TOKEN_KEY, StripeTarget

DATASET = "analytics"


def sync_spec(**overrides: Any) -> SyncSpec:
    doc: dict[str, Any] = {
        "name": "scores_to_stripe",
        "mode": "update",
        "source": {"table": "customer_scores", "dataset": DATASET},
        "target": {"connector": "stripe", "object": "customer"},
        "key": {"column": "customer_id", "field": "id"},
        "fields": [
            {"source": "score", "target": "metadata.score", "transform": "to_text"},
            {"source": "tier", "target": "metadata.tier", "transform": "lower"},
        ],
        "options": {"batch_size": 4},
        **overrides,
    }
    return parse_sync(doc)


def warehouse(tmp_path: Path, rows: list[tuple[str, int, str]]) -> dlt.Pipeline:
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {DATASET}")
        con.execute(
            f"CREATE OR REPLACE TABLE {DATASET}.customer_scores "
            "(customer_id VARCHAR, score INTEGER, tier VARCHAR)"
        )
        con.executemany(f"INSERT INTO {DATASET}.customer_scores VALUES (?, ?, ?)", rows)
    return dlt.pipeline(
        pipeline_name="reverse_stripe_test",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(path)),
        dataset_name=DATASET,
    )


def customer_updates(sandbox: StripeSandbox) -> Counter[str]:
    events = sandbox.store.listable("events")
    return Counter(e["data"]["object"]["id"] for e in events if e["type"] == "customer.updated")


def metadata_of(sandbox: StripeSandbox, customer_id: str) -> dict[str, Any]:
    customer = sandbox.store.get("customer", customer_id)
    assert customer is not None
    return dict(customer["metadata"])


def query(pipeline: dlt.Pipeline, sql: str) -> list[Any]:
    with pipeline.sql_client() as client:
        return list(client.execute_sql(sql) or [])


def target_for(sandbox: StripeSandbox) -> StripeTarget:
    client = make_client(
        api_key=sandbox.api_key, base_url=sandbox.base_url, backoff_base=0.001, backoff_cap=0.01
    )
    return StripeTarget(client)


@pytest.fixture
def sandbox(stripe_sandbox_factory: Callable[..., StripeSandbox]) -> StripeSandbox:
    return stripe_sandbox_factory(volume=8)


def customer_ids(sandbox: StripeSandbox) -> list[str]:
    return sorted(c["id"] for c in sandbox.store.listable("customers"))


def test_metadata_sync_under_injected_5xx_applies_each_update_once(
    sandbox: StripeSandbox, tmp_path: Path
) -> None:
    ids = customer_ids(sandbox)
    pipeline = warehouse(tmp_path, [(cid, i * 10, "GOLD") for i, cid in enumerate(ids)])
    before = customer_updates(sandbox)
    sandbox.set_faults(error_rate=0.3)

    result = run_sync(sync_spec(), pipeline, target_for(sandbox))

    sandbox.set_faults(error_rate=0.0)
    assert result.sent["create"] == len(ids)
    assert sandbox.stats.snapshot()["injected_errors"] > 0
    after = customer_updates(sandbox)
    assert {cid: after[cid] - before[cid] for cid in ids} == dict.fromkeys(ids, 1)
    for i, cid in enumerate(ids):
        metadata = metadata_of(sandbox, cid)
        assert (metadata["score"], metadata["tier"]) == (str(i * 10), "gold")
        assert len(metadata[TOKEN_KEY]) == 16


def test_second_run_sends_only_changed_rows_and_replays_resent_writes(
    sandbox: StripeSandbox, tmp_path: Path
) -> None:
    ids = customer_ids(sandbox)
    pipeline = warehouse(tmp_path, [(cid, 1, "a") for cid in ids])
    run_sync(sync_spec(), pipeline, target_for(sandbox))
    with pipeline.sql_client() as client:
        client.execute_sql(f"UPDATE customer_scores SET score = 2 WHERE customer_id = '{ids[0]}'")

    again = run_sync(sync_spec(), pipeline, target_for(sandbox))
    idle = run_sync(sync_spec(), pipeline, target_for(sandbox))

    assert (again.sent["update"], again.sent["create"]) == (1, 0)
    assert sum(idle.sent.values()) == 0
    # the state is lost: the re-sent writes carry the same idempotency keys and replay
    with pipeline.sql_client() as client:
        client.execute_sql("DELETE FROM _reverse_sync_state")
    before = customer_updates(sandbox)
    run_sync(sync_spec(), pipeline, target_for(sandbox))
    assert customer_updates(sandbox) - before == Counter()


def test_unknown_customer_is_dead_lettered_while_the_rest_commit(
    sandbox: StripeSandbox, tmp_path: Path
) -> None:
    ids = customer_ids(sandbox)
    rows = [(cid, 5, "x") for cid in ids] + [("cus_missing", 1, "x"), (None, 1, "x")]
    pipeline = warehouse(tmp_path, rows)  # type: ignore[arg-type]

    result = run_sync(sync_spec(), pipeline, target_for(sandbox))

    assert (result.sent["create"], result.rejected) == (len(ids), 2)
    dead = query(pipeline, "SELECT record_id, reason FROM _dead_letters ORDER BY record_id")
    state = query(pipeline, "SELECT count(*) FROM _reverse_sync_state")
    assert [d[0] for d in dead] == ["cus_missing", None]
    assert "404" in dead[0][1] and "key column customer_id is null" in dead[1][1]
    assert state[0][0] == len(ids)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mode": "append"}, "mode append"),
        ({"key": {"column": "customer_id", "field": "email"}}, "key.field"),
        ({"target": {"connector": "stripe", "object": "charge"}}, "target.object"),
    ],
    ids=["append", "key-field", "object"],
)
def test_stripe_refuses_unsupported_syncs_before_sending(
    sandbox: StripeSandbox, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(SyncSpecError, match=message):
        target_for(sandbox).check(sync_spec(**overrides))
    assert sandbox.stats.snapshot()["requests"] == 0


def test_subscription_metadata_sync_updates_each_subscription_once(
    sandbox: StripeSandbox, tmp_path: Path
) -> None:
    ids = sorted(s["id"] for s in sandbox.store.listable("subscriptions"))[:5]
    assert ids
    pipeline = warehouse(tmp_path, [(sid, 3, "Plus") for sid in ids])
    spec = sync_spec(target={"connector": "stripe", "object": "subscription"})
    events = sandbox.store.listable("events")
    before = Counter(
        e["data"]["object"]["id"] for e in events if e["type"] == "customer.subscription.updated"
    )

    result = run_sync(spec, pipeline, target_for(sandbox))

    events = sandbox.store.listable("events")
    after = Counter(
        e["data"]["object"]["id"] for e in events if e["type"] == "customer.subscription.updated"
    )
    assert result.sent["create"] == len(ids)
    assert after - before == Counter(dict.fromkeys(ids, 1))
    for sid in ids:
        subscription = sandbox.store.get("subscription", sid)
        assert subscription is not None and subscription["metadata"]["tier"] == "plus"
