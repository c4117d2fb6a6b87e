"""End to end: ``sluice run slack`` against the Slack sandbox into a real DuckDB file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import slack_pipeline
from sandbox.slack import SlackSandbox
from tests.connector.test_slack_connector_http import FAST, SMALL

SLUICE = Path(sys.executable).with_name("sluice")
pytestmark = pytest.mark.e2e


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def point_at(
    monkeypatch: pytest.MonkeyPatch, dlt_home: Path, duckdb_path: Path
) -> Callable[[SlackSandbox], None]:
    """Points the pipeline at a sandbox through the documented env variables."""

    def _point(sandbox: SlackSandbox) -> None:
        monkeypatch.setenv("SOURCES__SLACK__BASE_URL", sandbox.base_url)
        monkeypatch.setenv("SOURCES__SLACK__BOT_TOKEN", sandbox.bot_token)
        monkeypatch.setenv("SOURCES__SLACK__METHOD_LIMITS", json.dumps(FAST))
        monkeypatch.setenv("SOURCES__SLACK__BACKOFF_BASE", "0.001")
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duckdb_path))
        monkeypatch.setenv("SLUICE__REFRESH_MODELS", "false")

    return _point


def test_sluice_run_slack_sandbox_loads_every_object(tmp_path: Path) -> None:
    db = tmp_path / "slack_data.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        {
            "DLT_DATA_DIR": str(tmp_path / "dlt"),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DESTINATION__DUCKDB__CREDENTIALS": str(db),
            "SLUICE__REFRESH_MODELS": "false",
        }
    )
    args = [
        "run",
        "slack",
        "--sandbox",
        "--resources",
        "channels,users,messages,replies,channel_members",
    ]

    done = subprocess.run(
        [str(SLUICE), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 0, done.stderr[-2000:]
    expected = SlackSandbox(seed=42)  # the same seeded workspace, not served
    readable = [c for c in expected.store.channels() if c["is_member"]]
    assert {r[0] for r in query(db, "SELECT id FROM slack.channels")} == {
        c["id"] for c in expected.store.channels()
    }
    assert query(db, "SELECT COUNT(*) FROM slack.users") == [(len(expected.store.users()),)]
    per_channel = dict(query(db, "SELECT channel_id, COUNT(*) FROM slack.messages GROUP BY 1"))
    assert per_channel == {c["id"]: len(expected.store.messages(c["id"])) for c in readable}
    assert query(db, "SELECT COUNT(*) FROM slack.replies")[0][0] > 0
    status = subprocess.run(
        [str(SLUICE), "status", "--json", "--pipeline", "slack"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    assert "slack" in status.stdout and "messages" in status.stdout


def test_revoked_token_mid_sync_is_one_line(
    slack_sandbox_factory: Any,
    point_at: Callable[[SlackSandbox], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox = slack_sandbox_factory(volume=SMALL, rate_limits=False)
    point_at(sandbox)
    # auth.test and the channel list pass; history then answers token_revoked.
    sandbox.faults.revoke_after(2)

    code = slack_pipeline.main(["--resources", "channels,messages"])

    err = capsys.readouterr().err.strip().splitlines()
    lines = [line for line in err if not line.startswith(("20", "WARNING", "INFO"))]
    assert code != 0
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "token_revoked" in lines[0]
    assert "sources.slack.bot_token" in lines[0] and sandbox.bot_token not in "\n".join(err)
    assert "Traceback" not in "\n".join(err)


def test_wrong_looking_token_is_one_config_line(
    slack_sandbox_factory: Any,
    point_at: Callable[[SlackSandbox], None],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox = slack_sandbox_factory(volume=SMALL, rate_limits=False)
    point_at(sandbox)
    monkeypatch.setenv("SOURCES__SLACK__BOT_TOKEN", "xoxp-a-user-token-42")

    code = slack_pipeline.main(["--resources", "channels"])

    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1, err
    assert "sources.slack.bot_token" in err[0] and "xoxp-a-user-token-42" not in err[0]
    assert sandbox.stats.total == 0
