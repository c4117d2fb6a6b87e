"""A Gmail ``Message`` resource as the row loaded: metadata, headers as columns, bodies.

Headers come as ``payload.headers`` (name, value); RFC 2047 encoded-words
(``=?utf-8?b?...?=``) are decoded (Python's ``email.header``). ``internalDate`` is epoch
milliseconds as text ("The internal message creation timestamp (epoch ms)", Message in
the discovery document); ``historyId`` is a uint64 as text. Body parts carry
``body.data`` base64url (MessagePartBody); attachments carry ``body.attachmentId``.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime
from typing import Any, Optional

from .settings import MAX_ATTACHMENT_BYTES, MAX_BODY_BYTES, METADATA_HEADERS

logger = logging.getLogger("sluice.gmail")


@dataclass(frozen=True)
class BodyOptions:
    """What of a message's content is loaded besides its metadata.

    Attributes:
        bodies: Load the text/plain and text/html bodies.
        attachments: List the attachments (name, type, size, id) with their content
            (base64url, as Gmail sends it) up to ``max_attachment_bytes``.
        max_body_bytes: Body text kept per message and type; longer is cut (flagged).
        max_attachment_bytes: Attachments above this are flagged ``too_large`` and
            their content is not read (0: never read content).
    """

    bodies: bool = False
    attachments: bool = False
    max_body_bytes: int = MAX_BODY_BYTES
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES

    @property
    def format(self) -> str:
        """The ``format`` messages.get is asked for: ``full`` only when content is loaded."""
        return "full" if self.bodies or self.attachments else "metadata"


def column_name(header: str) -> str:
    """``Message-ID`` → ``message_id``; ``From`` → ``from``."""
    return header.lower().replace("-", "_")


def decode_words(value: str) -> str:
    """Decodes RFC 2047 encoded-words; the text as is when they do not decode."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (UnicodeDecodeError, LookupError, ValueError, binascii.Error):
        return value


def epoch_ms(value: Any) -> Optional[datetime]:
    """An epoch-milliseconds string as an aware UTC datetime."""
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None


def header_date(value: Optional[str]) -> Optional[datetime]:
    """The ``Date`` header as UTC, or None when it is not an RFC 5322 date."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def as_int(value: Any) -> Optional[int]:
    """An integer sent as text (``historyId``), or None."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def headers_of(payload: Mapping[str, Any]) -> dict[str, str]:
    """Top-level headers by lower-case name (first occurrence), decoded."""
    found: dict[str, str] = {}
    for header in payload.get("headers") or ():
        if not isinstance(header, dict):
            continue
        name = str(header.get("name", "")).lower()
        if name and name not in found:
            found[name] = decode_words(str(header.get("value", "")))
    return found


def walk(part: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The part and every part below it, depth first."""
    yield part
    for child in part.get("parts") or ():
        if isinstance(child, dict):
            yield from walk(child)


def b64url_bytes(data: str) -> bytes:
    """base64url with or without padding."""
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def charset_of(part: Mapping[str, Any]) -> str:
    """The part's ``charset`` parameter (utf-8 when missing)."""
    content_type = headers_of(part).get("content-type", "")
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def text_bodies(payload: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """``body_text`` and ``body_html`` (first part of each type), cut at ``limit`` bytes."""
    found: dict[str, Any] = {"body_text": None, "body_html": None, "body_truncated": False}
    for part in walk(payload):
        column = {"text/plain": "body_text", "text/html": "body_html"}.get(
            str(part.get("mimeType"))
        )
        data = (part.get("body") or {}).get("data")
        if column is None or part.get("filename") or not data or found[column] is not None:
            continue
        try:
            raw = b64url_bytes(str(data))
        except (ValueError, binascii.Error):
            continue
        cut = len(raw) > limit
        if cut:
            raw, found["body_truncated"] = raw[:limit], True
        # a cut may split a character: drop its bytes rather than add a replacement mark
        errors = "ignore" if cut else "replace"
        try:
            found[column] = raw.decode(charset_of(part), errors=errors)
        except LookupError:
            found[column] = raw.decode("utf-8", errors=errors)
    return found


def attachments_of(payload: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
    """Every part with a file name: name, type, size, attachment id, and whether too large."""
    found = []
    for part in walk(payload):
        if not part.get("filename"):
            continue
        body = part.get("body") or {}
        size = as_int(body.get("size")) or 0
        found.append(
            {
                "part_id": part.get("partId"),
                "filename": decode_words(str(part["filename"])),
                "mime_type": part.get("mimeType"),
                "size": size,
                "attachment_id": body.get("attachmentId"),
                "too_large": size > limit,
                # small parts come inline (body.data); the others need attachments.get
                "data": body.get("data") if size <= limit else None,
            }
        )
    return found


def missing_content(row: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Attachments of a row whose content is within the cap but not yet read."""
    for attachment in row.get("attachments") or ():
        if attachment["data"] is None and not attachment["too_large"]:
            if attachment["attachment_id"]:
                yield attachment


def message_row(
    message: Mapping[str, Any],
    options: BodyOptions = BodyOptions(),
    headers: Sequence[str] = METADATA_HEADERS,
) -> dict[str, Any]:
    """The loaded row of one message resource (format metadata or full).

    Args:
        message: The API's ``Message``.
        options: Whether bodies and attachments are loaded, and their caps.
        headers: Headers loaded as columns.

    Returns:
        The row, ``deleted`` false.
    """
    payload = message.get("payload") or {}
    found = headers_of(payload)
    row: dict[str, Any] = {
        "id": message.get("id"),
        "thread_id": message.get("threadId"),
        "label_ids": list(message.get("labelIds") or []),
        "snippet": message.get("snippet"),
        "history_id": as_int(message.get("historyId")),
        "internal_date": epoch_ms(message.get("internalDate")),
        "size_estimate": as_int(message.get("sizeEstimate")),
        "deleted": False,
    }
    for header in headers:
        row[column_name(header)] = found.get(header.lower())
    row["sent_at"] = header_date(found.get("date"))
    if options.bodies:
        row.update(text_bodies(payload, options.max_body_bytes))
    if options.attachments:
        row["attachments"] = attachments_of(payload, options.max_attachment_bytes)
    return row


def thread_row(thread: Mapping[str, Any], message_count: Optional[int] = None) -> dict[str, Any]:
    """The loaded row of one thread (from threads.list, or threads.get with messages)."""
    messages = thread.get("messages")
    count = len(messages) if isinstance(messages, list) else message_count
    snippet = thread.get("snippet")
    if snippet is None and isinstance(messages, list) and messages:
        snippet = messages[-1].get("snippet")
    return {
        "id": thread.get("id"),
        "history_id": as_int(thread.get("historyId")),
        "snippet": snippet,
        "message_count": count,
        "deleted": False,
    }


def label_row(label: Mapping[str, Any]) -> dict[str, Any]:
    """The loaded row of one label (labels.list)."""
    return {
        "id": label.get("id"),
        "name": label.get("name"),
        "type": label.get("type"),
        "message_list_visibility": label.get("messageListVisibility"),
        "label_list_visibility": label.get("labelListVisibility"),
        "color": label.get("color"),
        "deleted": False,
    }
