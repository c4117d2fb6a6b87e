"""kill -9 mid-sync, run again: every Stripe update applied exactly once.

``pipelines/sync.py`` runs as a real process against a sandbox served from the test
process. A test-only ``sitecustomize`` (on the process's ``PYTHONPATH`` only) holds the
sync in the one window that matters: Stripe accepted a batch, its hashes are not yet
committed to the state table. The test SIGKILLs the process there, runs the sync again
and counts the sandbox's ``customer.updated`` events: the re-sent batch carries the same
idempotency keys and replays, so each customer was updated once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from sandbox.stripe import StripeSandbox
from tests.load_hold import kill_when

REPO_ROOT = Path(__file__).resolve().parents[2]
HOLD_AT_BATCH = 3

HOOK = '''\
"""Test-only (tests/e2e/test_reverse_kill9.py): holds a sync before a batch's commit."""
import os
import threading

_at = os.environ.get("SLUICE_TEST_SYNC_HOLD_AT")
if _at:
    from sources.kit.reverse import warehouse

    _commit = warehouse.commit
    _calls = []

    def _held_commit(pipeline, sync_name, accepted, now=None):
        if accepted:
            _calls.append(1)
            if len(_calls) == int(_at):
                # the target accepted this batch; its hashes are not committed yet
                open(os.environ["SLUICE_TEST_SYNC_SIGNAL"], "w").close()
                threading.Event().wait()
        return _commit(pipeline, sync_name, accepted, now)

    warehouse.commit = _held_commit
'''

SYNC = """
name = "scores"
mode = "update"

[source]
table = "customer_scores"
dataset = "analytics"

[target]
connector = "stripe"
object = "customer"

[key]
column = "customer_id"
field = "id"

[[fields]]
source = "score"
target = "metadata.score"
transform = "to_text"

[options]
batch_size = 2
"""


def updates(sandbox: StripeSandbox) -> Counter[str]:
    events = sandbox.store.listable("events")
    return Counter(e["data"]["object"]["id"] for e in events if e["type"] == "customer.updated")


def env(root: Path, sandbox: StripeSandbox, hold: bool) -> dict[str, str]:
    values = {
        **os.environ,
        "DLT_DATA_DIR": str(root / "dlt"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "SOURCES__STRIPE__BASE_URL": sandbox.base_url,
        "SOURCES__STRIPE__API_KEY": sandbox.api_key,
        "DESTINATION__DUCKDB__CREDENTIALS": str(root / "wh.duckdb"),
    }
    if hold:
        values["PYTHONPATH"] = os.pathsep.join([str(root / "hook"), str(REPO_ROOT)])
        values["SLUICE_TEST_SYNC_HOLD_AT"] = str(HOLD_AT_BATCH)
        values["SLUICE_TEST_SYNC_SIGNAL"] = str(root / "held")
    return values


def spawn(root: Path, sandbox: StripeSandbox, hold: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "pipelines" / "sync.py"), "scores"],
        cwd=root,
        env=env(root, sandbox, hold),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.e2e
def test_kill9_between_accept_and_commit_then_rerun_writes_each_update_once(
    tmp_path: Path, stripe_sandbox: StripeSandbox
) -> None:
    root = tmp_path / "checkout"
    (root / "syncs").mkdir(parents=True)
    (root / "hook").mkdir()
    (root / "hook" / "sitecustomize.py").write_text(HOOK)
    (root / "syncs" / "scores.toml").write_text(SYNC)
    ids = sorted(c["id"] for c in stripe_sandbox.store.listable("customers"))
    with duckdb.connect(str(root / "wh.duckdb")) as con:
        con.execute("CREATE SCHEMA analytics")
        con.execute("CREATE TABLE analytics.customer_scores (customer_id VARCHAR, score INT)")
        con.executemany(
            "INSERT INTO analytics.customer_scores VALUES (?, ?)",
            [(cid, i) for i, cid in enumerate(ids)],
        )
    before = updates(stripe_sandbox)

    killed = spawn(root, stripe_sandbox, hold=True)
    kill_when(killed, (root / "held").exists, deadline_s=120.0, poll_s=0.005)
    posted = stripe_sandbox.stats.snapshot()["requests"]
    assert posted == 2 * HOLD_AT_BATCH  # three batches of two were accepted

    rerun = spawn(root, stripe_sandbox, hold=False)
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()[-1500:]

    # the held batch was sent again (replayed), the two committed ones were not
    assert stripe_sandbox.stats.snapshot()["requests"] - posted == len(ids) - 2 * 2
    assert updates(stripe_sandbox) - before == Counter(dict.fromkeys(ids, 1))
    for i, cid in enumerate(ids):
        customer = stripe_sandbox.store.get("customer", cid)
        assert customer is not None and customer["metadata"]["score"] == str(i)
    with duckdb.connect(str(root / "wh.duckdb"), read_only=True) as con:
        state = con.execute("SELECT count(*) FROM analytics._reverse_sync_state").fetchone()
    assert state is not None and state[0] == len(ids)
