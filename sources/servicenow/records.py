"""Shaping Table API records into rows: timestamps, the soft-delete flag, delete payloads."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET  # noqa: S405 - DOCTYPE/ENTITY refused before parsing
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from .settings import CURSOR_FIELD, GLIDE_FORMAT, PRIMARY_KEY, TIMESTAMP_FIELDS

logger = logging.getLogger("sluice.servicenow")

UNSAFE_XML = ("<!DOCTYPE", "<!ENTITY")


def parse_glide(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM:SS`` (UTC) to an aware datetime.

    Raises:
        ValueError: The text is not in that format.
    """
    return datetime.strptime(text, GLIDE_FORMAT).replace(tzinfo=timezone.utc)


def is_glide(text: str) -> bool:
    """Whether ``text`` is ServiceNow's date-time text."""
    try:
        parse_glide(text)
    except ValueError:
        return False
    return True


def format_glide(moment: datetime) -> str:
    """An aware datetime as ServiceNow's UTC text."""
    return moment.astimezone(timezone.utc).strftime(GLIDE_FORMAT)


def minus_seconds(glide: str, seconds: float) -> str:
    """A glide timestamp moved back by ``seconds``."""
    return format_glide(parse_glide(glide) - timedelta(seconds=seconds))


def shape_live(raw: Any) -> dict[str, Any]:
    """A listed record as a row: timestamps parsed, ``deleted`` false.

    Used as the dead-letter guard's mapper: a record whose timestamp cannot be read
    raises, and the guard routes it to ``_dead_letters``.

    Raises:
        ValueError: A timestamp field is not ServiceNow's date-time text.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"record is a {type(raw).__name__}, not an object")
    row = dict(raw)
    for name in (*TIMESTAMP_FIELDS, "deleted_at"):
        value = row.get(name)
        if value not in (None, "") and not isinstance(value, datetime):
            try:
                row[name] = parse_glide(str(value))
            except ValueError:
                raise ValueError(f"{name} is not 'YYYY-MM-DD HH:MM:SS'") from None
    row.setdefault("deleted", False)
    row.setdefault("deleted_at", None)
    return deletion_is_newest(row)


def deletion_is_newest(row: dict[str, Any]) -> dict[str, Any]:
    """A deleted row's ``sys_updated_on`` moved up to its deletion time.

    A record read live and deleted later in the same run is in one load twice; the
    merge keeps the copy with the newest ``sys_updated_on`` (the ``dedup_sort`` hint),
    which must be the deletion.
    """
    deleted_at, updated = row.get("deleted_at"), row.get(CURSOR_FIELD)
    if row.get("deleted") is True and isinstance(deleted_at, datetime):
        if not isinstance(updated, datetime) or updated < deleted_at:
            row[CURSOR_FIELD] = deleted_at
    return row


def payload_fields(payload: str, table: str) -> dict[str, str]:
    """Fields of the deleted record from ``sys_audit_delete.payload`` (XML), best effort."""
    if not payload or any(marker in payload for marker in UNSAFE_XML):
        return {}
    try:
        root = ET.fromstring(payload)  # noqa: S314 - no DTD allowed (checked above)
    except ET.ParseError:
        logger.warning("servicenow %s: a delete payload is not XML; keeping the key only", table)
        return {}
    record = root.find(table)
    if record is None:
        return {}
    return {child.tag: child.text or "" for child in record}


def tombstone(audit: dict[str, Any], table: str) -> dict[str, Any]:
    """The raw row a ``sys_audit_delete`` entry stands for: the deleted record, ``deleted`` true.

    The dead-letter guard parses it like a listed record; an entry without ``documentkey``
    has no primary key and is dead-lettered there.
    """
    row: dict[str, Any] = dict(payload_fields(str(audit.get("payload") or ""), table))
    row[PRIMARY_KEY] = audit.get("documentkey") or None
    row["deleted"] = True
    row["deleted_at"] = audit.get("sys_created_on")
    return row


def newest(current: Optional[str], candidate: Any) -> Optional[str]:
    """The later of two glide timestamps (text compares in time order); unreadable ones skipped."""
    if not isinstance(candidate, str) or not is_glide(candidate):
        return current
    return candidate if current is None or candidate > current else current
