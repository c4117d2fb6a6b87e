"""Exception hierarchy, status mapping and provider message extraction."""

from __future__ import annotations

import pickle

import pytest

from sources.kit.errors import (
    AuthenticationError,
    CircuitOpenError,
    ClientError,
    ConfigurationError,
    FatalError,
    MissingCursorError,
    PaginationLoopError,
    RateLimitedError,
    RetriableError,
    RetryBudgetExhaustedError,
    ServerError,
    SkippableError,
    SluiceError,
    TransientNetworkError,
    UnsafeRedirectError,
    error_from_response,
    message_from_payload,
)
from sources.kit.redact import Redactor, global_redactor
from tests.unit._kit_fakes import make_response

SECRET = "sk_test_errorsSECRET123456"


@pytest.mark.parametrize(
    ("cls", "parent"),
    [
        (AuthenticationError, FatalError),
        (ConfigurationError, FatalError),
        (ClientError, FatalError),
        (CircuitOpenError, FatalError),
        (RetryBudgetExhaustedError, FatalError),
        (PaginationLoopError, FatalError),
        (MissingCursorError, FatalError),
        (UnsafeRedirectError, FatalError),
        (RateLimitedError, RetriableError),
        (ServerError, RetriableError),
        (TransientNetworkError, RetriableError),
        (SkippableError, SluiceError),
        (FatalError, SluiceError),
        (RetriableError, SluiceError),
    ],
    ids=lambda v: v.__name__,
)
def test_hierarchy_names_what_to_do(cls: type, parent: type) -> None:
    assert issubclass(cls, parent)


def test_fatal_and_retriable_are_disjoint() -> None:
    assert not issubclass(ServerError, FatalError)
    assert not issubclass(AuthenticationError, RetriableError)


def test_status_and_request_id_come_from_response() -> None:
    response = make_response(503, headers={"X-Request-Id": "req_abc"})
    error = ServerError("down", response=response)
    assert (error.status, error.request_id, error.response) == (503, "req_abc", response)


def test_explicit_request_id_wins_over_header() -> None:
    response = make_response(400, headers={"Request-Id": "req_header"})
    assert ClientError("bad", response=response, request_id="req_given").request_id == "req_given"


def test_str_is_one_line_with_request_id() -> None:
    error = SluiceError("first line\nsecond   line", request_id="req_1")
    assert str(error) == "first line second line (request id req_1)"


def test_message_is_redacted_with_global_redactor() -> None:
    global_redactor().add_secret(SECRET)
    error = FatalError(f"key {SECRET} rejected")
    assert SECRET not in str(error) and SECRET not in repr(error)
    assert "sk_test_****" in str(error)


def test_pickles_without_response() -> None:
    error = RateLimitedError("slow down", response=make_response(429), request_id="req_9")
    restored = pickle.loads(pickle.dumps(error))
    assert type(restored) is RateLimitedError
    assert (restored.message, restored.request_id, restored.response) == (
        "slow down",
        "req_9",
        None,
    )


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (403, AuthenticationError),
        (429, RateLimitedError),
        (500, ServerError),
        (503, ServerError),
        (599, ServerError),
        (400, ClientError),
        (404, ClientError),
        (409, ClientError),
    ],
    ids=["401", "403", "429", "500", "503", "599", "400", "404", "409"],
)
def test_error_from_response_maps_status(status: int, cls: type) -> None:
    error = error_from_response(make_response(status), Redactor())
    assert type(error) is cls
    assert error.status == status


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"error": {"message": "No such customer", "type": "invalid_request_error"}},
            "invalid_request_error: No such customer",
        ),
        (
            [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
            "INVALID_SESSION_ID: Session expired or invalid",
        ),
        (
            {"error": {"message": "No Record found", "detail": "Record doesn't exist"}},
            "No Record found: Record doesn't exist",
        ),
        ({"ok": False, "error": "invalid_auth"}, "invalid_auth"),
        (
            {"error": "invalid_grant", "error_description": "expired"},
            "invalid_grant: expired",
        ),
        ({"errors": [{"message": "a"}, {"message": "b"}]}, "a; b"),
        ({"unexpected": 1}, None),
        ("plain string", None),
    ],
    ids=["stripe", "salesforce", "servicenow", "slack", "oauth", "errors-list", "unknown", "str"],
)
def test_message_from_payload_shapes(payload: object, expected: str | None) -> None:
    assert message_from_payload(payload) == expected


def test_error_from_response_includes_redacted_provider_message_and_url() -> None:
    redactor = Redactor([SECRET])
    response = make_response(
        401,
        body={"error": {"message": f"Invalid API Key provided: {SECRET}"}},
        url="https://api.example.com/v1/customers?api_key=abc123&limit=1",
    )
    error = error_from_response(response, redactor)
    text = str(error)
    assert text.startswith("HTTP 401 from GET https://api.example.com/v1/customers?api_key=***")
    assert "Invalid API Key provided: sk_test_****" in text
    assert SECRET not in text and "abc123" not in text


def test_error_from_response_falls_back_to_reason_for_non_json() -> None:
    error = error_from_response(make_response(500, body=b"<html>oops</html>"), Redactor())
    assert str(error).endswith(": Internal Server Error")


def test_error_from_response_truncates_huge_messages() -> None:
    response = make_response(400, body={"message": "x" * 5000})
    assert len(str(error_from_response(response, Redactor()))) < 500
