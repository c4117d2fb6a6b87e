"""Salesforce connector pieces on bare values and hand-made responses (no HTTP)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
import requests

from sources.kit.errors import AuthenticationError, ConfigurationError, FatalError, ServerError
from sources.kit.mapping.transforms import TransformContext, TransformError
from sources.salesforce.auth import InstanceUrlRecorder, SalesforceCredentials
from sources.salesforce.budget import ApiBudgetExceededError, BudgetGuard
from sources.salesforce.canonical import salesforce_mappings, sf_datetime_to_timestamp
from sources.salesforce.errors import SalesforceRetryDecider, raise_for_salesforce
from sources.salesforce.helpers import (
    build_count_soql,
    build_soql,
    column_hints,
    newest_cursor,
    object_spec,
    parse_sf_datetime,
    query_start,
    select_objects,
    shape_row,
    typed_csv_row,
)

DESCRIBE: dict[str, Any] = {
    "name": "Account",
    "fields": [
        {"name": "Id", "type": "id", "nillable": False},
        {"name": "IsDeleted", "type": "boolean", "nillable": False},
        {"name": "SystemModstamp", "type": "datetime", "nillable": False},
        {"name": "Name", "type": "string", "nillable": False},
        {"name": "AnnualRevenue", "type": "currency", "nillable": True},
        {"name": "NumberOfEmployees", "type": "int", "nillable": True},
        {"name": "CloseDate", "type": "date", "nillable": True},
        {"name": "Probability", "type": "percent", "nillable": True},
        {"name": "BillingAddress", "type": "address", "nillable": True},
    ],
}


def response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> requests.Response:
    """A bare response with a JSON body."""
    r = requests.Response()
    r.status_code = status
    r._content = json.dumps(body if body is not None else {}).encode()
    r.headers.update(headers or {})
    r.url = "https://acme.my.salesforce.com/services/data/v59.0/query"
    return r


def sf_error(status: int, code: str, message: str) -> requests.Response:
    return response(status, [{"message": message, "errorCode": code}])


# --------------------------------------------------------------------- describe typing


@pytest.mark.parametrize(
    ("field", "data_type"),
    [
        ("Id", "text"),
        ("IsDeleted", "bool"),
        ("SystemModstamp", "timestamp"),
        ("AnnualRevenue", "decimal"),
        ("NumberOfEmployees", "bigint"),
        ("CloseDate", "date"),
        ("Probability", "double"),
    ],
    ids=["id", "boolean", "datetime", "currency", "int", "date", "percent"],
)
def test_columns_are_typed_from_describe(field: str, data_type: str) -> None:
    hints = column_hints(object_spec(DESCRIBE))
    assert hints[field]["data_type"] == data_type


def test_compound_fields_are_not_queried_and_nullability_follows_describe() -> None:
    spec = object_spec(DESCRIBE)
    hints = column_hints(spec)
    assert "BillingAddress" not in spec.fields
    assert hints["Name"]["nullable"] is False and hints["AnnualRevenue"]["nullable"] is True
    assert hints["deleted"] == {"data_type": "bool", "nullable": False}
    assert spec.deletable and spec.resource == "account"


def test_an_object_without_systemmodstamp_is_refused_with_the_setting() -> None:
    describe = {"name": "Odd__c", "fields": [{"name": "Id", "type": "id"}]}
    with pytest.raises(ConfigurationError, match="sources.salesforce.objects"):
        object_spec(describe)


# --------------------------------------------------------------------- SOQL and cursors


@pytest.mark.parametrize(
    ("since", "deleted_only", "where"),
    [
        (None, False, ""),
        (
            datetime(2024, 5, 1, 12, 0, 7, 500000, tzinfo=timezone.utc),
            False,
            " WHERE SystemModstamp >= 2024-05-01T12:00:07Z",
        ),
        (
            datetime(2024, 5, 1, tzinfo=timezone.utc),
            True,
            " WHERE IsDeleted = true AND SystemModstamp >= 2024-05-01T00:00:00Z",
        ),
    ],
    ids=["full", "incremental", "deleted"],
)
def test_soql_selects_every_described_field_in_modstamp_order(
    since: datetime | None, deleted_only: bool, where: str
) -> None:
    soql = build_soql(object_spec(DESCRIBE), since, deleted_only)
    fields = ", ".join(
        ["Id", "IsDeleted", "SystemModstamp", "Name", "AnnualRevenue", "NumberOfEmployees"]
        + ["CloseDate", "Probability"]
    )
    assert soql == f"SELECT {fields} FROM Account{where} ORDER BY SystemModstamp ASC, Id ASC"


@pytest.mark.parametrize(
    "text",
    ["2024-05-01T12:00:00.000+0000", "2024-05-01T12:00:00Z", "2024-05-01T14:00:00.000+02:00"],
    ids=["salesforce", "zulu", "offset"],
)
def test_salesforce_datetimes_parse_to_the_same_instant(text: str) -> None:
    assert parse_sf_datetime(text) == datetime(2024, 5, 1, 12, tzinfo=timezone.utc)


def test_incremental_query_starts_a_lookback_before_the_cursor() -> None:
    assert query_start(None, 300) is None
    start = query_start("2024-05-01T12:00:00.000+0000", 300)
    assert start == datetime(2024, 5, 1, 11, 55, tzinfo=timezone.utc)


def test_cursor_moves_to_the_newest_modstamp_only_forward() -> None:
    rows = [
        {"SystemModstamp": "2024-05-01T12:00:00.000+0000"},
        {"SystemModstamp": "2024-05-03T12:00:00.000+0000"},
        {"SystemModstamp": None},
    ]
    assert newest_cursor(None, rows) == "2024-05-03T12:00:00.000+0000"
    assert newest_cursor("2024-06-01T00:00:00.000+0000", rows) == "2024-06-01T00:00:00.000+0000"


@pytest.mark.parametrize(
    ("record", "deleted", "expected"),
    [
        ({"Id": "1", "IsDeleted": False}, False, False),
        ({"Id": "1", "IsDeleted": True}, False, True),
        ({"Id": "1"}, True, True),
    ],
    ids=["live", "flagged", "from-queryall"],
)
def test_rows_lose_attributes_and_carry_the_deleted_flag(
    record: dict[str, Any], deleted: bool, expected: bool
) -> None:
    row = shape_row({**record, "attributes": {"type": "Account"}}, deleted)
    assert "attributes" not in row and row["deleted"] is expected


def test_object_list_defaults_and_rejects_bad_names() -> None:
    assert select_objects(None) == ["Account", "Contact", "Lead", "Opportunity", "User"]
    assert select_objects(["Account", " Account", "My_Object__c"]) == ["Account", "My_Object__c"]
    with pytest.raises(ConfigurationError, match="sources.salesforce.objects"):
        select_objects(["Account; DROP"])


# --------------------------------------------------------------------- over-limit answers


@pytest.mark.parametrize(
    ("resp", "retry"),
    [
        (sf_error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."), True),
        (sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."), False),
        (sf_error(403, "INSUFFICIENT_ACCESS", "no access"), False),
        (sf_error(503, "SERVER_UNAVAILABLE", "down"), True),
        (sf_error(400, "MALFORMED_QUERY", "bad"), False),
    ],
    ids=["concurrent-limit", "daily-limit", "forbidden", "5xx", "bad-query"],
)
def test_retry_decider_retries_only_transient_over_limit_answers(
    resp: requests.Response, retry: bool
) -> None:
    assert SalesforceRetryDecider().should_retry("GET", resp, None, False) is retry


@pytest.mark.parametrize(
    ("resp", "error", "text"),
    [
        (
            sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
            FatalError,
            "daily API request limit",
        ),
        (
            sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid"),
            AuthenticationError,
            "INVALID_SESSION_ID",
        ),
        (sf_error(503, "SERVER_UNAVAILABLE", "down"), ServerError, "SERVER_UNAVAILABLE"),
    ],
    ids=["daily-limit", "session", "server"],
)
def test_error_answers_raise_one_clear_line(
    resp: requests.Response, error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=text):
        raise_for_salesforce(resp)


def test_success_answers_pass_the_error_hook() -> None:
    assert raise_for_salesforce(response(200, {"records": []})) is None


# --------------------------------------------------------------------- budget


@pytest.mark.parametrize(
    ("header", "stops"),
    [
        ("api-usage=79/100", False),
        ("api-usage=80/100", True),
        ("per-app-api-usage=99/100(appName=x), api-usage=10/100", False),
        (None, False),
    ],
    ids=["below", "at-share", "other-entry", "no-header"],
)
def test_budget_guard_stops_at_the_configured_share(header: str | None, stops: bool) -> None:
    guard = BudgetGuard(0.8)
    resp = response(200, headers={"Sforce-Limit-Info": header} if header else {})
    if stops:
        with pytest.raises(ApiBudgetExceededError, match="max_api_usage_share"):
            guard(resp)
    else:
        guard(resp)
    assert (guard.last_usage is None) is (header is None)


@pytest.mark.parametrize("share", [0, 1.5, -0.1], ids=["zero", "above-one", "negative"])
def test_budget_share_outside_the_unit_interval_is_refused(share: float) -> None:
    with pytest.raises(ConfigurationError, match="max_api_usage_share"):
        BudgetGuard(share)


# --------------------------------------------------------------------- auth pieces


def test_instance_url_is_taken_from_a_successful_token_answer_only() -> None:
    recorder = InstanceUrlRecorder()
    hook = recorder.session.hooks["response"][0]
    hook(response(400, {"error": "invalid_grant", "instance_url": "https://evil.example"}))
    assert recorder.instance_url is None
    hook(response(200, {"access_token": "x", "instance_url": "https://acme.my.salesforce.com/"}))
    assert recorder.instance_url == "https://acme.my.salesforce.com"


@pytest.mark.parametrize(
    ("fields", "flow"),
    [({"private_key": "pem"}, "jwt"), ({"refresh_token": "rt"}, "refresh_token")],
    ids=["jwt", "refresh"],
)
def test_the_flow_follows_the_configured_secret(fields: dict[str, str], flow: str) -> None:
    credentials = SalesforceCredentials()
    for key, value in fields.items():
        setattr(credentials, key, value)
    assert credentials.flow() == flow


def test_missing_credentials_name_both_settings() -> None:
    with pytest.raises(ConfigurationError) as caught:
        SalesforceCredentials().flow()
    assert "credentials.private_key" in str(caught.value)
    assert "credentials.refresh_token" in str(caught.value)


# --------------------------------------------------------------------- canonical


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:00.000+0000", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
        (None, None),
    ],
    ids=["datetime", "null"],
)
def test_sf_datetime_transform(value: str | None, expected: datetime | None) -> None:
    assert sf_datetime_to_timestamp(value, TransformContext()) == expected


def test_sf_datetime_transform_refuses_non_datetimes_without_the_value() -> None:
    with pytest.raises(TransformError) as caught:
        sf_datetime_to_timestamp("secret-looking-text", TransformContext())
    assert "secret-looking-text" not in str(caught.value)


def test_account_and_contact_map_into_canonical_customers() -> None:
    specs = {s.source_resource: s for s in salesforce_mappings()}
    assert set(specs) == {"account", "contact"}
    assert {s.target_model.name for s in specs.values()} == {"canonical_customers"}


# --------------------------------------------------------------------- bulk CSV


@pytest.mark.parametrize(
    ("column", "text", "value"),
    [
        ("IsDeleted", "true", True),
        ("IsDeleted", "false", False),
        ("NumberOfEmployees", "42", 42),
        ("AnnualRevenue", "1234.5", 1234.5),
        ("AnnualRevenue", "", None),
        ("Name", "Acme", "Acme"),
        ("NumberOfEmployees", "lots", "lots"),
    ],
    ids=["true", "false", "int", "currency", "empty-is-null", "text", "bad-int-kept-for-guard"],
)
def test_bulk_csv_values_are_typed_by_describe(column: str, text: str, value: Any) -> None:
    assert typed_csv_row({column: text}, object_spec(DESCRIBE)) == {column: value}


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        (None, "SELECT COUNT() FROM Account"),
        (
            datetime(2024, 5, 1, tzinfo=timezone.utc),
            "SELECT COUNT() FROM Account WHERE SystemModstamp >= 2024-05-01T00:00:00Z",
        ),
    ],
    ids=["full", "incremental"],
)
def test_count_query_covers_the_same_window(since: datetime | None, expected: str) -> None:
    assert build_count_soql(object_spec(DESCRIBE), since) == expected
