"""Secret masking in text, headers, URLs and log records."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from sources.kit.redact import (
    RedactingFilter,
    Redactor,
    global_redactor,
    install_redaction,
    is_sensitive_header,
    mask,
)

STRIPE_KEY = "sk_test_51Habcdefghijklmnop"
OPAQUE = "opaque-secret-value-42"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor([STRIPE_KEY, OPAQUE])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sk_test_abcdef", "sk_test_****"),
        ("sk_live_abcdef", "sk_live_****"),
        ("rk_live_abcdef", "rk_live_****"),
        ("xoxb-123-456", "***"),
        ("sk_test_", "***"),
    ],
    ids=["sk_test", "sk_live", "rk_live", "unknown-prefix", "prefix-only"],
)
def test_mask_keeps_only_known_prefixes(value: str, expected: str) -> None:
    assert mask(value) == expected


def test_registered_secrets_are_masked_anywhere(redactor: Redactor) -> None:
    text = f"key={STRIPE_KEY};other {OPAQUE}!"
    assert redactor.redact_text(text) == "key=sk_test_****;other ***!"


def test_short_values_are_not_registered() -> None:
    redactor = Redactor(["abc", "", None])  # type: ignore[list-item]
    assert redactor.secret_count == 0
    assert redactor.redact_text("abc abc") == "abc abc"


def test_longest_secret_wins_when_secrets_overlap() -> None:
    redactor = Redactor(["secretvalue", "secretvalue-extended"])
    assert redactor.redact_text("x secretvalue-extended y") == "x *** y"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.DEF-123_xyz", "Authorization: Bearer ***"),
        ("bearer eyJhbGciOi.eyJzdWIi.sig123", "bearer ***"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic ***"),
        ("use Basic authentication here", "use Basic authentication here"),
        ("Bearer tokens are issued", "Bearer tokens are issued"),
        ("https://u:p@host/x", "https://***@host/x"),
        ("GET /v1/x?limit=3&access_token=tok123", "GET /v1/x?limit=3&access_token=***"),
    ],
    ids=["bearer", "bearer-jwt", "basic", "basic-word", "bearer-word", "userinfo", "query"],
)
def test_unregistered_credentials_are_caught(text: str, expected: str) -> None:
    assert Redactor().redact_text(text) == expected


def test_redaction_is_idempotent(redactor: Redactor) -> None:
    once = redactor.redact_text(f"Bearer {STRIPE_KEY}")
    assert once == "Bearer sk_test_****"
    assert redactor.redact_text(once) == once


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [
        ("Authorization", True),
        ("proxy-authorization", True),
        ("Cookie", True),
        ("Set-Cookie", True),
        ("X-Api-Key", True),
        ("Api-Key", True),
        ("X-Auth-Token", True),
        ("X-Hub-Signature", True),
        ("Client-Secret", True),
        ("X-Password", True),
        ("Idempotency-Key", False),
        ("Stripe-Version", False),
        ("Content-Type", False),
    ],
    ids=lambda v: str(v),
)
def test_sensitive_header_names(name: str, sensitive: bool) -> None:
    assert is_sensitive_header(name) is sensitive


def test_redact_headers_masks_values_and_keeps_scheme(redactor: Redactor) -> None:
    headers = {
        "Authorization": f"Bearer {STRIPE_KEY}",
        "X-Api-Key": "abcdefgh",
        "Idempotency-Key": "idem-1",
        "X-Echo": f"value {OPAQUE}",
    }
    assert redactor.redact_headers(headers) == {
        "Authorization": "Bearer sk_test_****",
        "X-Api-Key": "***",
        "Idempotency-Key": "idem-1",
        "X-Echo": "value ***",
    }


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.x.com/v1/a?api_key=k1&limit=5&client_secret=s",
            "https://api.x.com/v1/a?api_key=***&limit=5&client_secret=***",
        ),
        ("https://user:pw@api.x.com/a", "https://***@api.x.com/a"),
        ("https://api.x.com/oauth?code=abc&state=s1", "https://api.x.com/oauth?code=***&state=s1"),
        ("https://api.x.com/a?Signature=zz&sig=yy", "https://api.x.com/a?Signature=***&sig=***"),
        ("/v1/customers?starting_after=cus_1", "/v1/customers?starting_after=cus_1"),
        (f"https://api.x.com/keys/{STRIPE_KEY}", "https://api.x.com/keys/sk_test_****"),
    ],
    ids=["query", "userinfo", "code", "case", "relative-clean", "secret-in-path"],
)
def test_redact_url(redactor: Redactor, url: str, expected: str) -> None:
    assert redactor.redact_url(url) == expected


def _logger_with_stream(name: str) -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream, handler


@pytest.fixture
def isolated_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    logger, stream, handler = _logger_with_stream("sluice.test_redact")
    yield logger, stream
    logger.removeHandler(handler)
    logger.filters.clear()


def test_filter_formats_args_then_redacts(
    redactor: Redactor, isolated_logger: tuple[logging.Logger, io.StringIO]
) -> None:
    logger, stream = isolated_logger
    logger.addFilter(RedactingFilter(redactor))
    logger.info("calling with key %s and %d retries", STRIPE_KEY, 3)
    assert stream.getvalue().strip() == "calling with key sk_test_**** and 3 retries"


def test_filter_redacts_exception_text(
    redactor: Redactor, isolated_logger: tuple[logging.Logger, io.StringIO]
) -> None:
    logger, stream = isolated_logger
    logger.addFilter(RedactingFilter(redactor))
    try:
        raise ValueError(f"bad key {OPAQUE}")
    except ValueError:
        logger.exception("failed")
    output = stream.getvalue()
    assert "ValueError: bad key ***" in output
    assert OPAQUE not in output


def test_install_redaction_is_idempotent_and_covers_handlers(redactor: Redactor) -> None:
    logger, stream, handler = _logger_with_stream("sluice.test_install")
    try:
        install_redaction(redactor, loggers=("sluice.test_install",))
        install_redaction(redactor, loggers=("sluice.test_install",))
        logging.getLogger("sluice.test_install.child").propagate = True
        logging.getLogger("sluice.test_install.child").warning("child %s", OPAQUE)
        filters = [f for f in logger.filters if isinstance(f, RedactingFilter)]
        handler_filters = [f for f in handler.filters if isinstance(f, RedactingFilter)]
        assert (len(filters), len(handler_filters)) == (1, 1)
        assert stream.getvalue().strip() == "child ***"
    finally:
        logger.removeHandler(handler)
        logger.filters.clear()


def test_install_redaction_defaults_to_global_redactor() -> None:
    installed = install_redaction(loggers=("sluice.test_default",))
    try:
        assert installed is global_redactor()
    finally:
        logging.getLogger("sluice.test_default").filters.clear()


def test_repr_does_not_show_secrets(redactor: Redactor) -> None:
    assert STRIPE_KEY not in repr(redactor)


def test_userinfo_masking_does_not_run_across_json_fields() -> None:
    text = '{"u":"http://host","email":"me@x.com","p":"https://user:pw@api.example.com/x"}'

    redacted = Redactor().redact_text(text)

    assert '"email":"me@x.com"' in redacted
    assert "user:pw" not in redacted
