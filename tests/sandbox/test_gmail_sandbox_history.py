"""The Gmail sandbox's changes and ``history.list``: records, filters, paging and expiry."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.gmail import GmailSandbox
from tests.sandbox.test_gmail_sandbox import Gmail


def history(gmail: Gmail, start: int | str, **params: Any) -> dict[str, Any]:
    return gmail.ok("history", startHistoryId=str(start), **params)


def all_history(gmail: Gmail, start: int, **params: Any) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    while True:
        page = history(gmail, start, **params)
        records += page.get("history", [])
        if "nextPageToken" not in page:
            return records
        params["pageToken"] = page["nextPageToken"]


@pytest.fixture
def gmail(gmail_sandbox: GmailSandbox) -> Gmail:
    return Gmail(gmail_sandbox)


def test_no_changes_answers_only_the_current_history_id(
    gmail_sandbox: GmailSandbox, gmail: Gmail
) -> None:
    start = gmail_sandbox.store.history_id
    assert history(gmail, start) == {"historyId": str(start)}


def test_every_change_is_a_record_with_a_larger_id(
    gmail_sandbox: GmailSandbox, gmail: Gmail
) -> None:
    start = gmail_sandbox.store.history_id
    victim = gmail_sandbox.store.stored()[5].id
    new_id = gmail_sandbox.add_message(subject="Fresh", label_ids=("INBOX", "UNREAD"))
    gmail_sandbox.modify_labels(new_id, remove=("UNREAD",), add=("STARRED",))
    gmail_sandbox.delete_message(victim)
    records = history(gmail, start)["history"]
    kinds = [sorted(k for k in r if k not in ("id", "messages")) for r in records]
    assert kinds == [["messagesAdded"], ["labelsAdded", "labelsRemoved"], ["messagesDeleted"]]
    ids = [int(r["id"]) for r in records]
    assert ids == sorted(ids) and ids[0] > start and len(set(ids)) == len(ids)
    added = records[0]["messagesAdded"][0]["message"]
    assert added["id"] == new_id and added["labelIds"] == ["INBOX", "UNREAD"]
    assert records[1]["labelsAdded"][0]["labelIds"] == ["STARRED"]
    assert records[1]["labelsRemoved"][0]["labelIds"] == ["UNREAD"]
    assert records[2]["messages"][0]["id"] == victim
    assert gmail.get(f"messages/{victim}").status_code == 404
    fresh = gmail.ok(f"messages/{new_id}")
    assert fresh["historyId"] == str(ids[1]) and "STARRED" in fresh["labelIds"]
    assert gmail.ok("profile")["historyId"] == str(gmail_sandbox.store.history_id)


def test_ids_have_gaps(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    start = gmail_sandbox.store.history_id
    for number in range(10):
        gmail_sandbox.add_message(subject=f"n{number}")
    ids = [int(r["id"]) for r in history(gmail, start)["history"]]
    assert any(b - a > 1 for a, b in zip(ids, ids[1:], strict=False))


def test_reply_joins_the_thread(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    thread_id = gmail_sandbox.store.threads()[0]["id"]
    before = len(gmail_sandbox.store.thread_messages(thread_id))
    reply = gmail_sandbox.add_message(thread_id=thread_id, subject="Re: it")
    thread = gmail.ok(f"threads/{thread_id}", format="minimal")
    assert len(thread["messages"]) == before + 1 and thread["messages"][-1]["id"] == reply


@pytest.mark.parametrize(
    ("types", "kinds"),
    [
        (["messageAdded"], {"messagesAdded"}),
        (["labelAdded", "labelRemoved"], {"labelsAdded", "labelsRemoved"}),
        (["messageDeleted"], {"messagesDeleted"}),
    ],
    ids=["added", "labels", "deleted"],
)
def test_history_types_filter(
    gmail_sandbox: GmailSandbox, gmail: Gmail, types: list[str], kinds: set[str]
) -> None:
    start = gmail_sandbox.store.history_id
    new_id = gmail_sandbox.add_message()
    gmail_sandbox.modify_labels(new_id, add=("STARRED",), remove=("UNREAD",))
    gmail_sandbox.delete_message(new_id)
    records = history(gmail, start, historyTypes=types)["history"]
    assert {k for r in records for k in r if k not in ("id", "messages")} == kinds


def test_label_id_filter(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    start = gmail_sandbox.store.history_id
    label = gmail_sandbox.create_label("Invoices")
    tagged = gmail_sandbox.add_message(label_ids=("INBOX", label))
    gmail_sandbox.add_message(label_ids=("INBOX",))
    records = history(gmail, start, labelId=label)["history"]
    assert [r["messages"][0]["id"] for r in records] == [tagged]


def test_history_pages(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    start = gmail_sandbox.store.history_id
    made = [gmail_sandbox.add_message(subject=f"m{n}") for n in range(23)]
    records = all_history(gmail, start, maxResults=5)
    assert [r["messages"][0]["id"] for r in records] == made
    assert gmail_sandbox.stats.count("history.list") == 5


def test_expired_history_answers_404(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    start = gmail_sandbox.store.history_id
    gmail_sandbox.add_message()
    gmail_sandbox.expire_history()
    answer = gmail.get("history", startHistoryId=str(start))
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert (error["status"], error["errors"][0]["reason"]) == ("NOT_FOUND", "notFound")
    assert error["message"] == "Requested entity was not found."
    current = gmail.ok("profile")["historyId"]
    assert history(gmail, current) == {"historyId": current}


def test_history_older_than_the_seed_is_gone(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    oldest = min(m.history_id for m in gmail_sandbox.store.stored())
    assert gmail.get("history", startHistoryId=str(oldest)).status_code == 404


def test_history_retention_follows_the_clock(gmail_sandbox_factory: Any) -> None:
    sb: GmailSandbox = gmail_sandbox_factory(history_retention=3600.0)
    gmail = Gmail(sb)
    start = sb.store.history_id
    sb.add_message()
    sb.advance(1800)
    second = sb.add_message()
    assert len(history(gmail, start)["history"]) == 2
    sb.advance(2000)
    gmail = Gmail(sb)  # the first token expired meanwhile
    assert gmail.get("history", startHistoryId=str(start)).status_code == 404
    mid = int(gmail.ok(f"messages/{second}")["historyId"]) - 1
    assert [r["messages"][0]["id"] for r in history(gmail, mid)["history"]] == [second]


@pytest.mark.parametrize(
    ("params", "location"),
    [({}, "startHistoryId"), ({"startHistoryId": "abc"}, "startHistoryId")],
    ids=["missing", "not-a-number"],
)
def test_bad_start_is_400(gmail: Gmail, params: dict[str, str], location: str) -> None:
    answer = gmail.get("history", **params)
    assert answer.status_code == 400
    assert answer.json()["error"]["errors"][0]["location"] == location


def test_mutations_refuse_unknown_ids(gmail_sandbox: GmailSandbox) -> None:
    with pytest.raises(KeyError):
        gmail_sandbox.delete_message("nope")
    with pytest.raises(KeyError):
        gmail_sandbox.modify_labels(gmail_sandbox.store.stored()[0].id, add=("Label_404",))
    with pytest.raises(KeyError):
        gmail_sandbox.add_message(thread_id="nope")
    with pytest.raises(ValueError, match="exists"):
        gmail_sandbox.create_label("Work")


def test_a_no_op_label_change_makes_no_record(gmail_sandbox: GmailSandbox, gmail: Gmail) -> None:
    message = gmail_sandbox.store.stored()[0]
    start = gmail_sandbox.store.history_id
    gmail_sandbox.modify_labels(message.id, add=tuple(message.label_ids))
    assert history(gmail, start) == {"historyId": str(start)}
