"""ServiceNow connector pieces with bare responses: records, queries, auth choice, paging."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
import requests

from sources.kit.auth import BasicAuth, OAuth2ClientCredentials, TokenRetry
from sources.kit.auth.password_grant import OAuth2PasswordGrant
from sources.kit.connector import select_names
from sources.kit.errors import (
    AuthenticationError,
    ConfigurationError,
    PaginationLoopError,
    RateLimitedError,
    ServerError,
)
from sources.kit.mapping.transforms import TransformContext
from sources.servicenow.canonical import servicenow_datetime, servicenow_mappings
from sources.servicenow.client import make_auth, total_count
from sources.servicenow.deletes import deletes_queries
from sources.servicenow.errors import raise_for_servicenow
from sources.servicenow.helpers import Listing, changes_query, check_display_value, remember
from sources.servicenow.paginator import LoopSafeHeaderLinkPaginator
from sources.servicenow.records import (
    minus_seconds,
    newest,
    parse_glide,
    payload_fields,
    shape_live,
    tombstone,
)
from sources.servicenow.spec import SPEC, check_table_name
from tests.unit._kit_fakes import make_response

URL = "https://acme.service-now.com/api/now/table/incident"
PAYLOAD = (
    '<?xml version="1.0" encoding="UTF-8"?><record_update table="incident">'
    '<incident action="DELETE"><sys_id>abc</sys_id><number>INC1</number>'
    "<sys_updated_on>2024-05-01 10:00:00</sys_updated_on></incident></record_update>"
)


def test_glide_time_round_trip_and_lookback() -> None:
    parsed = parse_glide("2024-05-01 10:00:00")
    assert parsed == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    assert minus_seconds("2024-05-01 00:00:30", 300) == "2024-04-30 23:55:30"


@pytest.mark.parametrize(
    ("current", "candidate", "expected"),
    [
        (None, "2024-01-01 00:00:00", "2024-01-01 00:00:00"),
        ("2024-01-02 00:00:00", "2024-01-01 00:00:00", "2024-01-02 00:00:00"),
        ("2024-01-01 00:00:00", "not a date", "2024-01-01 00:00:00"),
        ("2024-01-01 00:00:00", None, "2024-01-01 00:00:00"),
    ],
    ids=["first", "older-ignored", "garbage-ignored", "missing-ignored"],
)
def test_newest_cursor(current: Any, candidate: Any, expected: str) -> None:
    assert newest(current, candidate) == expected


def test_shape_live_parses_timestamps_and_marks_live() -> None:
    row = shape_live({"sys_id": "a", "sys_updated_on": "2024-05-01 10:00:00", "sys_created_on": ""})
    assert row["sys_updated_on"] == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    assert row["deleted"] is False and row["deleted_at"] is None
    assert shape_live(row) == row  # idempotent


@pytest.mark.parametrize("bad", ["yesterday", "2024-05-01T10:00:00Z"], ids=["word", "iso"])
def test_shape_live_rejects_unreadable_timestamps(bad: str) -> None:
    with pytest.raises(ValueError, match="sys_updated_on"):
        shape_live({"sys_id": "a", "sys_updated_on": bad})


def test_tombstone_keeps_the_deleted_record_from_the_payload() -> None:
    audit = {"documentkey": "abc", "payload": PAYLOAD, "sys_created_on": "2024-05-02 00:00:00"}
    row = shape_live(tombstone(audit, "incident"))
    assert row["sys_id"] == "abc" and row["number"] == "INC1"
    assert row["deleted"] is True
    assert row["deleted_at"] == datetime(2024, 5, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "payload",
    ['<!DOCTYPE x [<!ENTITY a "b">]><record_update/>', "<<not xml", ""],
    ids=["doctype-refused", "broken", "empty"],
)
def test_unusable_payloads_give_no_fields(payload: str) -> None:
    assert payload_fields(payload, "incident") == {}
    assert tombstone({"documentkey": "k", "payload": payload}, "incident")["sys_id"] == "k"


def test_queries_are_ordered_and_bounded() -> None:
    assert changes_query(None) == "ORDERBYsys_updated_on^ORDERBYsys_id"
    assert changes_query("2024-01-01 00:00:00") == (
        "sys_updated_on>=2024-01-01 00:00:00^ORDERBYsys_updated_on^ORDERBYsys_id"
    )
    [query] = deletes_queries(["incident"], "2024-01-01 00:00:00")
    assert query.startswith("tablename=incident^sys_created_on>=2024-01-01 00:00:00^")


@pytest.mark.parametrize("value", ["true", "all"], ids=["true", "all"])
def test_display_values_other_than_false_are_refused(value: str) -> None:
    assert check_display_value(None) == "false"
    with pytest.raises(ConfigurationError, match="display_value"):
        check_display_value(value)


@pytest.mark.parametrize(
    "name", ["incident; drop", "../sys_user", "Incident"], ids=["semi", "dots", "upper"]
)
def test_table_names_are_checked(name: str) -> None:
    assert select_names(SPEC, None, check_table_name) == [
        "incident",
        "change_request",
        "sys_user",
        "cmdb_ci",
    ]
    with pytest.raises(ConfigurationError) as caught:
        select_names(SPEC, ["incident", name], check_table_name)
    assert (
        str(caught.value) == f"{name!r} in sources.servicenow.tables is not a ServiceNow table name"
    )


def test_listing_counts_rereads_and_rows_the_total_announced_but_never_sent() -> None:
    listing = Listing(total=4)
    for key in ("a", "b", "a"):
        remember({"sys_id": key, "sys_updated_on": "2024-05-01 10:00:00"}, listing)
    assert (listing.again, listing.hidden()) == (1, 2)
    remember({"sys_id": "c"}, listing)
    assert listing.hidden() == 1 and listing.newest == "2024-05-01 10:00:00"


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthenticationError), (429, RateLimitedError), (503, ServerError)],
    ids=["401", "429", "503"],
)
def test_error_responses_become_kit_errors(status: int, error: type[Exception]) -> None:
    body = {"error": {"message": "nope", "detail": "d"}, "status": "failure"}
    with pytest.raises(error):
        raise_for_servicenow(make_response(status, body=body, url=URL))


def test_total_count_header() -> None:
    assert total_count(make_response(200, body={}, headers={"X-Total-Count": "42"})) == 42
    assert total_count(make_response(200, body={})) is None


def test_link_paginator_follows_next_and_refuses_a_loop() -> None:
    paginator = LoopSafeHeaderLinkPaginator()
    request = requests.Request("GET", URL)
    paginator.init_request(request)
    link = {"Link": f'<{URL}?sysparm_offset=0>;rel="first",<{URL}?sysparm_offset=10>;rel="next"'}
    paginator.update_state(make_response(200, body={}, headers=link, url=URL))
    assert paginator.has_next_page
    paginator.update_request(request)
    assert request.url.endswith("sysparm_offset=10")
    with pytest.raises(PaginationLoopError):
        paginator.update_state(make_response(200, body={}, headers=link, url=URL))
    last = {"Link": f'<{URL}?sysparm_offset=0>;rel="first"'}
    fresh = LoopSafeHeaderLinkPaginator()
    fresh.init_request(requests.Request("GET", URL))
    fresh.update_state(make_response(200, body={}, headers=last, url=URL))
    assert not fresh.has_next_page


@pytest.mark.parametrize(
    ("given", "kind"),
    [
        ({"username": "u", "password": "p"}, BasicAuth),
        ({"client_id": "c", "client_secret": "s"}, OAuth2ClientCredentials),
        (
            {"client_id": "c", "client_secret": "s", "username": "u", "password": "p"},
            OAuth2PasswordGrant,
        ),
    ],
    ids=["basic", "client-credentials", "password"],
)
def test_auth_flow_is_chosen_from_the_credentials(given: dict[str, Any], kind: type) -> None:
    assert isinstance(make_auth(base_url="https://acme.service-now.com", **given), kind)


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"auth_type": "basic", "username": "u"}, "credentials.password"),
        (
            {"auth_type": "oauth_password", "client_id": "c", "client_secret": "s"},
            "credentials.username",
        ),
        ({"auth_type": "magic"}, "auth_type"),
    ],
    ids=["basic-no-password", "password-no-user", "unknown"],
)
def test_missing_credentials_name_the_setting(given: dict[str, Any], missing: str) -> None:
    with pytest.raises(ConfigurationError, match=missing):
        make_auth(base_url="https://acme.service-now.com", **given)


class TokenSession:
    """Answers token posts with bare responses and records the forms."""

    def __init__(self, *responses: requests.Response) -> None:
        self.responses = list(responses)
        self.forms: list[dict[str, str]] = []

    def post(self, url: str, data: dict[str, str], **kwargs: Any) -> requests.Response:
        self.forms.append(dict(data))
        return self.responses.pop(0)


def grant(session: TokenSession) -> OAuth2PasswordGrant:
    return OAuth2PasswordGrant(
        "https://acme.service-now.com/oauth_token.do",
        "cid",
        "csecret",
        "svc",
        "Pw-123456",
        session=session,  # type: ignore[arg-type]
        retry=TokenRetry(sleep=lambda s: None),
    )


def test_password_grant_posts_the_password_form() -> None:
    session = TokenSession(make_response(200, body={"access_token": "tok-1", "expires_in": 1800}))
    token = grant(session).fetch_token()
    assert token.access_token == "tok-1"
    assert session.forms == [
        {
            "grant_type": "password",
            "username": "svc",
            "password": "Pw-123456",
            "client_id": "cid",
            "client_secret": "csecret",
        }
    ]


def test_password_grant_refusal_names_the_user_settings() -> None:
    refusal = make_response(400, body={"error": "invalid_grant", "error_description": "bad"})
    with pytest.raises(AuthenticationError) as raised:
        grant(TokenSession(refusal)).fetch_token()
    assert "credentials.username" in str(raised.value)
    assert "Pw-123456" not in str(raised.value)
    assert "Pw-123456" not in repr(grant(TokenSession()))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01 10:00:00", "2024-05-01T10:00:00+00:00"),
        ("2024-05-01T10:00:00+00:00", "2024-05-01T10:00:00+00:00"),
        (datetime(2024, 5, 1, 10, tzinfo=timezone.utc), "2024-05-01T10:00:00+00:00"),
    ],
    ids=["glide", "iso", "datetime"],
)
def test_servicenow_datetime_transform(value: Any, expected: str) -> None:
    assert servicenow_datetime(value, TransformContext()).isoformat() == expected


def test_customers_mapping_reads_sys_user() -> None:
    specs = servicenow_mappings()
    assert [(s.source_resource, s.target_model.name) for s in specs] == [
        ("sys_user", "canonical_customers")
    ]
