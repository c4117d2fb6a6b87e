"""Text and JSON log formats: structured fields shown, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from sources.kit.logformat import (
    JsonLogFormatter,
    TextLogFormatter,
    apply_log_format,
    make_formatter,
)
from sources.kit.redact import Redactor

SECRET = "sk_test_51abcdefghijklmnop"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor([SECRET])


def make_record(message: str, extra: dict | None = None, exc: bool = False) -> logging.LogRecord:
    logger = logging.getLogger("sluice.test")
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"failed with {SECRET}")
        except RuntimeError:
            import sys

            exc_info = sys.exc_info()
    return logger.makeRecord(
        "sluice.test", logging.INFO, __file__, 1, message, None, exc_info, extra=extra
    )


def test_json_line_has_message_level_logger_and_extras(redactor: Redactor) -> None:
    record = make_record("page of 100 object(s)", {"resource": "customers", "records": 100})

    payload = json.loads(JsonLogFormatter(redactor).format(record))

    assert payload["message"] == "page of 100 object(s)"
    assert payload["level"] == "INFO"
    assert payload["logger"] == "sluice.test"
    assert payload["resource"] == "customers"
    assert payload["records"] == 100
    assert payload["ts"].endswith("+00:00")


def test_json_redacts_message_extras_and_traceback(redactor: Redactor) -> None:
    record = make_record(
        f"calling with {SECRET}",
        {"url": f"https://x/?api_key={SECRET}", "nested": {"k": [SECRET]}},
        exc=True,
    )

    line = JsonLogFormatter(redactor).format(record)

    assert SECRET not in line
    payload = json.loads(line)
    assert "RuntimeError" in payload["exc"]
    assert payload["nested"] == {"k": ["sk_test_****"]}


def test_text_appends_extras(redactor: Redactor) -> None:
    record = make_record("page", {"resource": "charges", "token": SECRET})

    line = TextLogFormatter(redactor).format(record)

    assert "sluice.test: page [resource=charges token=sk_test_****]" in line
    assert SECRET not in line


def test_text_without_extras_is_the_plain_line(redactor: Redactor) -> None:
    line = TextLogFormatter(redactor).format(make_record("hello"))

    assert line.endswith("INFO sluice.test: hello")


@pytest.mark.parametrize(
    ("kind", "cls"),
    [("text", TextLogFormatter), ("json", JsonLogFormatter)],
    ids=["text", "json"],
)
def test_make_formatter(kind: str, cls: type) -> None:
    assert isinstance(make_formatter(kind), cls)


def test_make_formatter_rejects_unknown() -> None:
    with pytest.raises(ValueError, match="unknown log format"):
        make_formatter("xml")


@pytest.fixture
def isolated_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    logger = logging.getLogger("sluice.test.isolated")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_apply_log_format_switches_handlers(
    isolated_logger: tuple[logging.Logger, io.StringIO], redactor: Redactor
) -> None:
    logger, stream = isolated_logger
    apply_log_format("json", logger, redactor)

    logger.info("stripe %s: page of %d object(s)", "customers", 3, extra={"resource": "customers"})

    payload = json.loads(stream.getvalue().strip())
    assert payload["message"] == "stripe customers: page of 3 object(s)"
    assert payload["resource"] == "customers"


@pytest.mark.parametrize("kind", ["json", "text"], ids=["json", "text"])
def test_dlt_lines_keep_sluices_format_when_dlt_reinitializes_its_logger(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from dlt.common import logger as dlt_logger

    from sources.kit.logformat import route_dlt_logs

    route_dlt_logs(kind)
    # what dlt does whenever its runtime initializes: reuse the first handler, set its format
    created = dlt_logger._create_logger("dlt", "WARNING", "{asctime}|{message}", "x", {})
    created.warning("a dlt warning")
    err = capsys.readouterr().err.strip()
    if kind == "json":
        assert json.loads(err)["message"] == "a dlt warning"
    else:
        assert err.endswith("WARNING dlt: a dlt warning") and "|" not in err
