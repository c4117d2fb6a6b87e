"""``kill -9`` of the receiver mid-burst loses no event it acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.stripe.webhooks import WebhookSender
from sources.kit.webhooks.inbox import Inbox

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_kill9_endpoint_secret"
BURST = 3000
KILL_AFTER_ACKS = 400
CONCURRENCY = 32


@contextmanager
def receiver_process(
    inbox: Path, tmp_path: Path, window_ms: float = 0.0
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``pipelines/stripe_webhooks.py serve`` as a child process; yields it and its URL."""
    env = {
        **os.environ,
        "SOURCES__STRIPE__WEBHOOK_SECRET": SECRET,
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    command = [sys.executable, str(ROOT / "pipelines" / "stripe_webhooks.py"), "serve",
               "--host", "127.0.0.1", "--port", "0", "--inbox", str(inbox),
               "--commit-window-ms", str(window_ms)]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on "), line + (
            process.stderr.read() if process.stderr else ""
        )
        url = line.split()[2]
        wait_until_healthy(url.rsplit("/webhooks", 1)[0])
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def wait_until_healthy(base: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.02)
    raise AssertionError("receiver did not become healthy")


def event(n: int) -> dict[str, Any]:
    return {
        "id": f"evt_burst_{n:05d}",
        "object": "event",
        "type": "customer.updated",
        "created": int(time.time()),
        "data": {"object": {"id": f"cus_{n % 50}", "object": "customer", "n": n}},
    }


@pytest.mark.parametrize("window_ms", [0.0, 5.0], ids=["commit-at-once", "5ms-commit-window"])
def test_kill9_mid_burst_loses_no_acknowledged_event(tmp_path: Path, window_ms: float) -> None:
    inbox_path = tmp_path / "inbox.sqlite3"
    sender = WebhookSender(SECRET)
    deliveries = [sender.delivery(event(n)) for n in range(BURST)]
    acked: set[str] = set()
    lock = threading.Lock()
    killed = threading.Event()

    with receiver_process(inbox_path, tmp_path, window_ms) as (process, url):

        def post(index: int) -> None:
            if killed.is_set():
                return
            try:
                result = sender.post(url, deliveries[index])
            except requests.RequestException:
                return  # the receiver is gone: not acknowledged
            if result.status == 200:
                with lock:
                    acked.add(deliveries[index].event_id)
                    if len(acked) >= KILL_AFTER_ACKS and not killed.is_set():
                        process.send_signal(signal.SIGKILL)
                        killed.set()

        with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            list(pool.map(post, range(BURST)))
        process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL

    assert KILL_AFTER_ACKS <= len(acked) < BURST  # killed in the middle of the burst

    with receiver_process(inbox_path, tmp_path) as (_, url):  # restart on the same inbox
        assert sender.post(url, deliveries[0]).status == 200

    with Inbox(inbox_path) as inbox:
        stored = inbox.event_ids()
    assert acked <= stored, f"{len(acked - stored)} acknowledged event(s) lost"
