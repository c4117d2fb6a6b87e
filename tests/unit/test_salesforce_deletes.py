"""Salesforce deletes, formula fields and query locators on bare responses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import pytest
from requests import Response

from sources.kit.errors import ConfigurationError, FatalError
from sources.kit.monitor import SyncMonitor
from sources.salesforce import deletes, locators
from sources.salesforce.codes import QueryLocatorInvalid, ReplicationDateInvalid, raise_for_code
from sources.salesforce.deletes import DeleteLog, missed_deletes, read_delete_log, reconcile_due
from sources.salesforce.formulas import check_mode, refresh_due, same, stale_ids
from sources.salesforce.helpers import (
    RunContext,
    object_spec,
    parse_sf_datetime,
    without_formulas,
)

SINCE = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
NOW = SINCE + timedelta(hours=6)


def response(status: int, body: Any) -> Response:
    reply = Response()
    reply.status_code = status
    reply._content = json.dumps(body).encode()
    return reply


class FakeClient:
    """Answers ``get_json`` and ``query`` from canned values."""

    def __init__(self, body: Any = None, pages: Optional[list[Any]] = None) -> None:
        self.body = body
        self.pages = pages or []
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.queries: list[str] = []

    def get_json(self, path: str, params: dict[str, str], *, label: str) -> Any:
        self.calls.append((path, params))
        if isinstance(self.body, Exception):
            raise self.body
        return self.body

    def query(self, soql: str, *, label: str, include_deleted: bool = False) -> Iterator[Any]:
        self.queries.append(soql)
        for page in self.pages:
            if isinstance(page, Exception):
                raise page
            yield page


def run_with(client: Any) -> RunContext:
    monitor = SyncMonitor("salesforce", "run")
    return RunContext("run", monitor, client=client, lookback_s=0, now=lambda: NOW)


ACCOUNT = object_spec(
    {
        "name": "Account",
        "fields": [
            {"name": "Id", "type": "id", "nillable": False},
            {"name": "SystemModstamp", "type": "datetime", "nillable": False},
            {"name": "IsDeleted", "type": "boolean", "nillable": False},
            {"name": "Tier__c", "type": "string", "calculated": True, "calculatedFormula": "x"},
        ],
    }
)


@pytest.mark.parametrize(
    ("earliest", "incomplete"),
    [
        ("2024-05-01T11:00:00.000+0000", False),
        ("2024-05-01T12:00:00.000+0000", False),
        ("2024-05-01T12:30:00.000+0000", True),
        ("yesterday", True),
        (None, False),
    ],
    ids=[
        "purged-before-window",
        "purged-at-window-start",
        "purged-inside-window",
        "unreadable",
        "absent",
    ],
)
def test_earliest_date_available_inside_the_window_asks_for_a_re_list(
    earliest: Optional[str], incomplete: bool
) -> None:
    body = {
        "deletedRecords": [{"id": "001A", "deletedDate": "2024-05-01T13:00:00.000+0000"}],
        "earliestDateAvailable": earliest,
        "latestDateCovered": "2024-05-01T18:00:00.000+0000",
    }
    client = FakeClient(body)

    log = read_delete_log(ACCOUNT, run_with(client), SINCE)

    assert log.incomplete is incomplete
    assert log.deleted == {"001A": "2024-05-01T13:00:00.000+0000"}
    path, params = client.calls[0]
    assert path == "sobjects/Account/deleted/" and params["start"] == "2024-05-01T12:00:00+00:00"
    assert parse_sf_datetime(params["end"]) > NOW


def test_a_refused_window_asks_for_a_re_list() -> None:
    refused = ReplicationDateInvalid("too old")

    log = read_delete_log(ACCOUNT, run_with(FakeClient(refused)), SINCE)

    assert log.incomplete and not log.deleted and "older" in log.reason


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        ("INVALID_QUERY_LOCATOR", QueryLocatorInvalid),
        ("INVALID_REPLICATION_DATE", ReplicationDateInvalid),
    ],
    ids=["locator", "replication-date"],
)
def test_salesforce_error_codes_become_their_own_exceptions(
    code: str, raised: type[Exception]
) -> None:
    reply = response(400, [{"message": "invalid query locator", "errorCode": code}])

    with pytest.raises(raised):
        raise_for_code(reply)


def test_other_errors_are_left_to_the_kit() -> None:
    raise_for_code(response(400, [{"message": "bad", "errorCode": "MALFORMED_QUERY"}]))
    raise_for_code(response(500, [{"message": "x", "errorCode": "INVALID_QUERY_LOCATOR"}]))


def rec(rid: str, stamp: str) -> dict[str, str]:
    return {"Id": rid, "SystemModstamp": f"2024-05-01T12:00:{stamp}.000+0000"}


def test_resume_skips_what_was_yielded_at_the_last_stamp_only() -> None:
    resume = locators.Resume()
    resume.fresh([rec("a", "01"), rec("b", "02"), rec("c", "02")], parse_sf_datetime)

    again = resume.fresh(
        [rec("b", "02"), rec("c", "02"), rec("d", "02"), rec("e", "03")], parse_sf_datetime
    )

    assert [r["Id"] for r in again] == ["d", "e"]


def test_a_re_issued_query_starts_at_the_last_stamp_and_yields_each_record_once() -> None:
    dead = QueryLocatorInvalid("gone")
    client: Any = FakeClient(pages=[[rec("a", "01"), rec("b", "02")], dead])
    built: list[Optional[datetime]] = []

    def build(start: Optional[datetime]) -> str:
        built.append(start)
        if len(built) == 2:
            client.pages = [[rec("b", "02"), rec("c", "03")]]
        return "SELECT"

    pages = list(
        locators.resumable_pages(client, build, None, label="account", parse=parse_sf_datetime)
    )

    assert [r["Id"] for page in pages for r in page] == ["a", "b", "c"]
    assert built == [None, parse_sf_datetime("2024-05-01T12:00:02.000+0000")]


def test_a_locator_dying_without_progress_stops_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(locators, "MAX_REISSUES", 3)
    client: Any = FakeClient(pages=[QueryLocatorInvalid("gone")])

    with pytest.raises(FatalError, match="died 3 times in a row") as failure:
        list(
            locators.resumable_pages(
                client, lambda s: "SELECT", None, label="x", parse=parse_sf_datetime
            )
        )

    assert "batch_size" in str(failure.value) and len(client.queries) == 4


def test_describe_calculated_fields_are_formulas_and_can_be_left_out() -> None:
    assert ACCOUNT.formulas == frozenset({"Tier__c"})

    bare = without_formulas(ACCOUNT)

    assert "Tier__c" not in bare.fields and "Tier__c" not in bare.types and not bare.formulas


@pytest.mark.parametrize(
    ("loaded", "fresh", "equal"),
    [
        (1.0, 1, True),
        (2.0, 3.0, False),
        ("Retail", "Retail", True),
        (None, "Retail", False),
        (datetime(2024, 5, 1, tzinfo=timezone.utc), "2024-05-01T00:00:00.000+0000", True),
        (True, False, False),
    ],
    ids=["number", "changed-number", "text", "was-null", "datetime", "bool"],
)
def test_loaded_and_fresh_values_compare_by_value(loaded: Any, fresh: Any, equal: bool) -> None:
    assert same(loaded, fresh) is equal


def test_only_rows_with_changed_formula_values_and_not_emitted_this_run_are_stale() -> None:
    fresh = {"a": {"Tier__c": "Gold"}, "b": {"Tier__c": "Gold"}, "c": {"Tier__c": "Gold"}}
    loaded = {"a": {"Tier__c": "Silver"}, "b": {"Tier__c": "Gold"}, "c": {"Tier__c": "Bronze"}}

    assert stale_ids(fresh, loaded, ["Tier__c"], skip={"c"}) == ["a"]


def test_an_unknown_formula_mode_names_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="sources.salesforce.formula_fields"):
        check_mode("sometimes")
    assert check_mode(" Exclude ") == "exclude"


@pytest.mark.parametrize(
    ("last", "hours", "due_formulas", "due_reconcile"),
    [
        (None, 24.0, True, True),
        (NOW - timedelta(hours=1), 24.0, False, False),
        (NOW - timedelta(hours=25), 24.0, True, True),
        (NOW, 0.0, True, True),
        (None, -1.0, True, False),
    ],
    ids=["never-done", "recent", "overdue", "zero-hours", "negative-hours"],
)
def test_periodic_work_is_due_by_its_interval(
    last: Optional[datetime], hours: float, due_formulas: bool, due_reconcile: bool
) -> None:
    stamp = last.isoformat() if last else None
    state = {"formulas_refreshed_at": stamp, "reconciled_at": stamp}

    assert refresh_due(state, NOW, hours) is due_formulas
    assert reconcile_due(state, NOW, hours) is due_reconcile


@pytest.mark.parametrize(
    ("log", "state", "relisted"),
    [
        (DeleteLog(), {"reconciled_at": NOW.isoformat()}, False),
        (DeleteLog(incomplete=True, reason="purged"), {"reconciled_at": NOW.isoformat()}, True),
        (DeleteLog(), {"reconciled_at": (NOW - timedelta(days=8)).isoformat()}, True),
    ],
    ids=["log-complete-recently-reconciled", "log-incomplete", "weekly-reconcile-due"],
)
def test_ids_are_re_listed_when_the_log_is_incomplete_or_the_interval_is_up(
    monkeypatch: pytest.MonkeyPatch, log: DeleteLog, state: dict[str, Any], relisted: bool
) -> None:
    listings: list[str] = []

    def listed(spec: Any, run: Any) -> set[str]:
        listings.append("x")
        return {"001A"}

    monkeypatch.setattr(deletes, "read_delete_log", lambda spec, run, since: log)
    monkeypatch.setattr(deletes, "listed_ids", listed)
    marked: list[Optional[set[str]]] = []

    def fake_rows(spec: Any, **kwargs: Any) -> list[dict[str, Any]]:
        marked.append(kwargs["listed"])
        return [{"Id": "001B", "deleted": True}]

    monkeypatch.setattr(deletes, "deleted_rows", fake_rows)

    out = list(missed_deletes(ACCOUNT, run_with(FakeClient()), state, SINCE, emitted=set()))

    assert (listings == ["x"]) is relisted
    if relisted:
        assert marked == [{"001A"}] and out == [[{"Id": "001B", "deleted": True}]]
        assert state["reconciled_at"] == NOW.isoformat()
    else:
        assert marked == [] and out == []


def test_a_re_list_the_destination_could_not_answer_is_tried_again_next_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers: list[Optional[list[dict[str, Any]]]] = [None, []]
    listings: list[str] = []

    def listed(spec: Any, run: Any) -> set[str]:
        listings.append("x")
        return set()

    monkeypatch.setattr(deletes, "listed_ids", listed)
    monkeypatch.setattr(deletes, "deleted_rows", lambda spec, **kwargs: answers.pop(0))
    state: dict[str, Any] = {"reconciled_at": NOW.isoformat()}
    incomplete = DeleteLog(incomplete=True, reason="purged")
    monkeypatch.setattr(deletes, "read_delete_log", lambda spec, run, since: incomplete)
    list(missed_deletes(ACCOUNT, run_with(FakeClient()), state, SINCE, emitted=set()))
    monkeypatch.setattr(deletes, "read_delete_log", lambda spec, run, since: DeleteLog())

    list(missed_deletes(ACCOUNT, run_with(FakeClient()), state, SINCE, emitted=set()))

    assert listings == ["x", "x"] and state["reconcile_pending"] is False
