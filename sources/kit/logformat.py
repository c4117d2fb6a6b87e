"""Log line formats: plain text with structured fields, or one JSON object per line.

Library code logs with ``extra={...}`` fields (``resource``, ``records``, ``pages``...);
the pipeline script picks how they are shown with :func:`apply_log_format`
(``"text"`` for people, ``"json"`` for log shippers). Both formats redact secrets in
the message, the structured fields and tracebacks.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any, Optional

from .redact import Redactor, global_redactor

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
"""Attributes every ``LogRecord`` has; anything else came from ``extra``."""


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra={...}`` fields of a log record."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in STANDARD_ATTRIBUTES and not key.startswith("_")
    }


def redact_value(value: Any, redactor: Redactor) -> Any:
    """Redacts strings (and strings inside lists and dicts); other values pass."""
    if isinstance(value, str):
        return redactor.redact_text(value)
    if isinstance(value, dict):
        return {str(k): redact_value(v, redactor) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, redactor) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redactor.redact_text(str(value))


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, extras, ``exc``."""

    def __init__(self, redactor: Optional[Redactor] = None) -> None:
        """Creates the formatter.

        Args:
            redactor: Masks secrets; the process-wide one by default.
        """
        super().__init__()
        self.redactor = redactor or global_redactor()

    def format(self, record: logging.LogRecord) -> str:
        """Renders the record as a JSON line."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redactor.redact_text(record.getMessage()),
        }
        for key, value in extra_fields(record).items():
            payload.setdefault(key, redact_value(value, self.redactor))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = self.redactor.redact_text(record.exc_text)
        return json.dumps(payload, default=str)


class TextLogFormatter(logging.Formatter):
    """``time LEVEL logger: message [key=value ...]`` with the extras appended."""

    def __init__(self, redactor: Optional[Redactor] = None, fmt: str = TEXT_FORMAT) -> None:
        """Creates the formatter.

        Args:
            redactor: Masks secrets; the process-wide one by default.
            fmt: ``logging`` format string of the line before the extras.
        """
        super().__init__(fmt)
        self.redactor = redactor or global_redactor()

    def format(self, record: logging.LogRecord) -> str:
        """Renders the record as text, extras as ``key=value`` pairs."""
        line = self.redactor.redact_text(super().format(record))
        extras = extra_fields(record)
        if not extras:
            return line
        pairs = " ".join(
            f"{key}={redact_value(value, self.redactor)}" for key, value in extras.items()
        )
        head, newline, rest = line.partition("\n")
        return f"{head} [{pairs}]{newline}{rest}"


def make_formatter(kind: str = "text", redactor: Optional[Redactor] = None) -> logging.Formatter:
    """The formatter for ``kind``.

    Args:
        kind: ``"text"`` or ``"json"``.
        redactor: Masks secrets; the process-wide one by default.

    Raises:
        ValueError: Unknown kind.
    """
    if kind == "json":
        return JsonLogFormatter(redactor)
    if kind == "text":
        return TextLogFormatter(redactor)
    raise ValueError(f"unknown log format {kind!r}: use one of {', '.join(LOG_FORMATS)}")


def apply_log_format(
    kind: str = "text",
    logger: Optional[logging.Logger] = None,
    redactor: Optional[Redactor] = None,
) -> None:
    """Sets the format on every handler of ``logger`` (the root logger by default).

    Call after ``logging.basicConfig``; handlers added later keep their own format.

    Args:
        kind: ``"text"`` or ``"json"``.
        logger: Whose handlers to change.
        redactor: Masks secrets; the process-wide one by default.
    """
    formatter = make_formatter(kind, redactor)
    for handler in (logger or logging.getLogger()).handlers:
        handler.setFormatter(formatter)


class PinnedFormatHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler whose formatter cannot be replaced once set.

    dlt's logger does not propagate: dlt gives it its own handler and, each time its
    runtime initializes, reuses the first handler it finds and sets dlt's formatter on
    it. Handing dlt this handler keeps dlt's lines in sluice's format (JSON included).
    """

    def setFormatter(self, fmt: Optional[logging.Formatter]) -> None:  # noqa: N802 - logging's name
        """Sets the formatter the first time only."""
        if self.formatter is None:
            super().setFormatter(fmt)


def route_dlt_logs(kind: str = "text", redactor: Optional[Redactor] = None) -> None:
    """Makes dlt's own log lines (warnings, mostly) use sluice's format on stderr.

    Args:
        kind: ``"text"`` or ``"json"``.
        redactor: Masks secrets; the process-wide one by default.
    """
    handler = PinnedFormatHandler()
    handler.setFormatter(make_formatter(kind, redactor))
    dlt_logger = logging.getLogger("dlt")
    for old in list(dlt_logger.handlers):
        dlt_logger.removeHandler(old)
    dlt_logger.addHandler(handler)
