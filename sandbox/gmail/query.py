"""A useful subset of Gmail's search operators for ``messages.list`` / ``threads.list`` ``q``.

Operators from https://support.google.com/mail/answer/7190 ("Search operators you can use
with Gmail") and https://developers.google.com/gmail/api/guides/filtering: ``after:`` /
``before:`` take ``yyyy/mm/dd`` (midnight Pacific time, the guide says) or epoch seconds,
``newer_than:`` / ``older_than:`` take ``<n>d|m|y``, plus ``label:``, ``in:``, ``is:``,
``from:``, ``to:``, ``subject:``, ``has:attachment``, ``-`` negation and bare words.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from .store import Mailbox, StoredMessage

Predicate = Callable[[StoredMessage], bool]

PACIFIC = ZoneInfo("America/Los_Angeles")
UNIT_DAYS = {"d": 1, "m": 30, "y": 365}
IS_LABELS = {"unread": "UNREAD", "starred": "STARRED", "important": "IMPORTANT"}


class QueryError(ValueError):
    """A ``q`` the sandbox cannot read (Gmail answers 400 ``invalidArgument``)."""


def _epoch_s(value: str) -> float:
    if value.isdigit():
        return float(value)
    parts = re.split(r"[/-]", value)
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise QueryError(f"Invalid date in query: {value}")
    year, month, day = (int(p) for p in parts)
    return datetime(year, month, day, tzinfo=PACIFIC).timestamp()


def _text(message: StoredMessage) -> str:
    c = message.content
    return " ".join((c.subject, c.sender, c.to, c.text)).lower()


def _term(mailbox: Mailbox, term: str, now_s: float) -> Predicate:
    key, colon, value = term.partition(":")
    key, value = key.lower(), value.strip()
    if not colon or not value:
        word = term.lower()
        return lambda m: word in _text(m)
    if key in ("after", "before"):
        bound_ms = _epoch_s(value) * 1000
        if key == "after":
            return lambda m: m.internal_date_ms >= bound_ms
        return lambda m: m.internal_date_ms < bound_ms
    if key in ("newer_than", "older_than"):
        match = re.fullmatch(r"(\d+)([dmy])", value.lower())
        if match is None:
            raise QueryError(f"Invalid {key} value: {value}")
        edge_ms = (now_s - int(match[1]) * UNIT_DAYS[match[2]] * 86400) * 1000
        if key == "newer_than":
            return lambda m: m.internal_date_ms >= edge_ms
        return lambda m: m.internal_date_ms < edge_ms
    if key in ("label", "in"):
        if value.lower() == "anywhere":
            return lambda m: True
        ids = mailbox.label_ids_named(value)
        return lambda m: bool(ids & set(m.label_ids))
    if key == "is":
        if value.lower() == "read":
            return lambda m: "UNREAD" not in m.label_ids
        label = IS_LABELS.get(value.lower())
        if label is None:
            raise QueryError(f"Unsupported is: value: {value}")
        return lambda m: label in m.label_ids
    if key == "has" and value.lower() == "attachment":
        return lambda m: bool(m.content.attachments)
    fields: dict[str, Callable[[StoredMessage], str]] = {
        "from": lambda m: m.content.sender,
        "to": lambda m: m.content.to,
        "subject": lambda m: m.content.subject,
    }
    if key in fields:
        get, needle = fields[key], value.lower()
        return lambda m: needle in get(m).lower()
    word = term.lower()
    return lambda m: word in _text(m)


def compile_query(mailbox: Mailbox, q: str, now_s: float) -> Predicate:
    """The predicate ``q`` stands for (all terms must hold, ``-term`` must not).

    Raises:
        QueryError: An operator value the sandbox cannot read.
    """
    try:
        terms = shlex.split(q)
    except ValueError as exc:
        raise QueryError(f"Invalid query: {exc}") from exc
    checks: list[tuple[bool, Predicate]] = []
    for term in terms:
        negate = term.startswith("-") and len(term) > 1
        checks.append((negate, _term(mailbox, term[1:] if negate else term, now_s)))
    return lambda m: all(check(m) != negate for negate, check in checks)
