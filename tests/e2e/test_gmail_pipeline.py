"""End to end: ``sluice run gmail`` (the pipeline's ``main``) against the Gmail sandbox into
DuckDB: first load, incremental merge by history, expired history, token expiry, quota
storms and a revoked grant."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines import gmail_pipeline
from sandbox.gmail import GmailSandbox, Volume

pytestmark = pytest.mark.e2e

HIDDEN = {"SPAM", "TRASH"}
"""messages.list leaves these out unless includeSpamTrash."""


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def listable(sb: GmailSandbox) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in sb.store.messages() if not HIDDEN & set(m["labelIds"])}


@pytest.fixture
def point(
    monkeypatch: pytest.MonkeyPatch, dlt_home: Path, tmp_path: Path
) -> Callable[[GmailSandbox], Path]:
    """Points the pipeline at a sandbox through the documented settings; the DuckDB file."""
    db = tmp_path / "gmail_data.duckdb"

    def _point(sb: GmailSandbox) -> Path:
        prefix = "SOURCES__GMAIL__"
        monkeypatch.setenv(prefix + "BASE_URL", sb.base_url)
        monkeypatch.setenv(prefix + "RATE_LIMIT", "100000")  # unmetered emulator: no pacing
        monkeypatch.setenv(prefix + "CREDENTIALS__CLIENT_ID", sb.client_id)
        monkeypatch.setenv(prefix + "CREDENTIALS__CLIENT_SECRET", sb.client_secret)
        monkeypatch.setenv(prefix + "CREDENTIALS__REFRESH_TOKEN", sb.refresh_token)
        monkeypatch.setenv(prefix + "CREDENTIALS__TOKEN_URL", sb.token_url)
        monkeypatch.setenv(prefix + "CREDENTIALS__TOKEN_STORE_DIR", str(tmp_path / "tokens"))
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(db))
        return db

    return _point


@pytest.fixture
def sandbox(gmail_sandbox_factory: Callable[..., GmailSandbox]) -> GmailSandbox:
    return gmail_sandbox_factory(quota_units_per_s=None, volume=Volume(threads=40))


def test_first_run_loads_every_label_message_and_thread(
    sandbox: GmailSandbox, point: Callable[[GmailSandbox], Path]
) -> None:
    db = point(sandbox)
    expected = listable(sandbox)

    assert gmail_pipeline.main(["--no-models"]) == 0

    loaded = dict(rows(db, "SELECT id, subject FROM gmail.messages WHERE NOT deleted"))
    assert set(loaded) == set(expected)
    subjects = {
        i: next(h["value"] for h in m["payload"]["headers"] if h["name"] == "Subject")
        for i, m in expected.items()
    }
    assert loaded == subjects  # RFC 2047 headers decoded
    assert any(not s.isascii() for s in loaded.values())
    labels = {r[0] for r in rows(db, "SELECT id FROM gmail.labels")}
    assert labels == {label["id"] for label in sandbox.store.labels()}
    counts = dict(rows(db, "SELECT id, message_count FROM gmail.threads"))
    threads = {m["threadId"] for m in expected.values()}
    assert set(counts) == threads
    assert sum(counts.values()) == len(expected)
    ledger = rows(db, "SELECT resource, status FROM gmail._sync_runs WHERE resource <> ''")
    assert {r for r, _ in ledger} >= {"labels", "messages", "threads"}


def test_second_run_merges_new_relabelled_and_deleted_with_far_fewer_requests(
    sandbox: GmailSandbox, point: Callable[[GmailSandbox], Path]
) -> None:
    db = point(sandbox)
    assert gmail_pipeline.main(["--no-models"]) == 0
    first = sandbox.stats.total
    old = list(listable(sandbox))
    relabelled, deleted = old[3], old[4]
    new = sandbox.add_message(subject="Neu: Überprüfung", sender="ana@example.com")
    sandbox.modify_labels(relabelled, add=("STARRED",), remove=("INBOX",))
    sandbox.delete_message(deleted)
    sandbox.stats.reset()

    assert gmail_pipeline.main(["--no-models"]) == 0

    got = {
        i: (labels, gone, subject)
        for i, labels, gone, subject in rows(
            db, "SELECT id, label_ids, deleted, subject FROM gmail.messages"
        )
    }
    assert got[new][1:] == (False, "Neu: Überprüfung")
    assert "STARRED" in got[relabelled][0] and "INBOX" not in got[relabelled][0]
    assert got[deleted][1] is True and got[deleted][2] is not None  # the row kept, flagged
    assert len(got) == len(old) + 1
    assert sandbox.stats.count("messages.list") == 0  # history, not a re-list
    assert sandbox.stats.total <= 12 < first / 5  # only what history named


def test_expired_history_falls_back_to_a_full_sync_and_says_why(
    sandbox: GmailSandbox, point: Callable[[GmailSandbox], Path], caplog: pytest.LogCaptureFixture
) -> None:
    db = point(sandbox)
    assert gmail_pipeline.main(["--resources", "messages", "--no-models"]) == 0
    gone = list(listable(sandbox))[0]
    sandbox.delete_message(gone)
    sandbox.expire_history()
    sandbox.stats.reset()

    with caplog.at_level(logging.WARNING, logger="sluice.gmail"):
        assert gmail_pipeline.main(["--resources", "messages", "--no-models"]) == 0

    lines = [r.getMessage() for r in caplog.records if "older than the history" in r.getMessage()]
    assert len(lines) == 1 and "re-listing every message" in lines[0]
    assert sandbox.stats.count("history.list") == 1 and sandbox.stats.count("messages.list") >= 1
    flagged = rows(db, f"SELECT deleted FROM gmail.messages WHERE id = '{gone}'")  # noqa: S608
    assert flagged == [(True,)]  # found by the re-list


def test_token_expiry_and_a_quota_storm_mid_sync_recover(
    gmail_sandbox_factory: Callable[..., GmailSandbox], point: Callable[[GmailSandbox], Path]
) -> None:
    sb = gmail_sandbox_factory(quota_units_per_s=None, volume=Volume(threads=40), token_ttl_s=0.3)
    db = point(sb)
    handle = sb.api.handle

    def storm_at_first_batch(verb: str, path: str, *rest: Any) -> Any:
        if path.endswith("batch/gmail/v1") and sb.stats.count("batch") == 0:
            sb.faults.throttle_next(15, status=429, retry_after=0)  # its inner calls
        return handle(verb, path, *rest)

    setattr(sb.api, "handle", storm_at_first_batch)  # noqa: B010

    assert gmail_pipeline.main(["--resources", "messages", "--no-models"]) == 0

    assert rows(db, "SELECT count(*) FROM gmail.messages") == [(len(listable(sb)),)]
    assert sb.stats.count("token") >= 2  # the short-lived token was renewed during the run
    assert sb.stats.count("messages.get") > len(listable(sb))  # throttled calls sent again


def test_revoked_grant_is_one_line_and_a_failed_exit(
    sandbox: GmailSandbox, point: Callable[[GmailSandbox], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    point(sandbox)
    sandbox.revoke_grant()

    assert gmail_pipeline.main(["--no-models"]) != 0

    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("error:")]
    assert len(errors) == 1, err
    assert "re-authorize" in errors[0] and "sources.gmail.credentials.refresh_token" in errors[0]
    assert sandbox.refresh_token not in "\n".join(err)


def test_sandbox_flag_loads_bodies_and_attachments_when_configured(
    monkeypatch: pytest.MonkeyPatch, dlt_home: Path, tmp_path: Path
) -> None:
    db = tmp_path / "gmail_data.duckdb"
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(db))
    monkeypatch.setenv("SOURCES__GMAIL__RATE_LIMIT", "100000")  # the emulator runs unmetered
    monkeypatch.setenv("SOURCES__GMAIL__INCLUDE_BODIES", "true")
    monkeypatch.setenv("SOURCES__GMAIL__INCLUDE_ATTACHMENTS", "true")
    monkeypatch.setenv("SOURCES__GMAIL__MAX_BODY_BYTES", "200")

    code = gmail_pipeline.main(["--sandbox", "--sandbox-quota", "0", "--no-models"])

    assert code == 0
    (total, bodies, cut, files), *_ = rows(
        db,
        "SELECT count(*), count(body_text), count(*) FILTER (body_truncated), "
        "count(*) FILTER (json_array_length(attachments) > 0) FROM gmail.messages",
    )
    assert total > 100 and bodies == total and 0 < cut <= total and files > 0
    longest = rows(db, "SELECT max(octet_length(encode(body_text))) FROM gmail.messages")
    assert longest[0][0] <= 200
