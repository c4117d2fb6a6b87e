"""RFC 822 source of a message and the Gmail ``payload`` tree parsed from it.

Gmail derives ``payload`` from the stored MIME message (reference ``users.messages`` →
``MessagePart``: ``partId``, ``mimeType``, ``filename``, ``headers``, ``body`` and ``parts``;
``MessagePartBody``: ``size``, ``data`` base64url, or ``attachmentId`` for attachments).
Header values in ``payload.headers`` are decoded (RFC 2047 encoded-words as text).
"""

from __future__ import annotations

import base64
import email.policy
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.header import Header, decode_header, make_header
from email.message import Message as MimeMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.utils import format_datetime
from typing import Any, Optional


def b64url(data: bytes) -> str:
    """URL-safe base64 as Gmail writes ``body.data`` and ``raw`` (with padding)."""
    return base64.urlsafe_b64encode(data).decode("ascii")


@dataclass
class Attachment:
    """One attached file."""

    attachment_id: str
    filename: str
    mime_type: str
    data: bytes


@dataclass
class Content:
    """What a message says: the parts the MIME source is built from."""

    subject: str
    sender: str
    to: str
    text: str
    html: Optional[str] = None
    attachments: list[Attachment] = field(default_factory=list)
    message_id: str = ""
    in_reply_to: Optional[str] = None


def _encoded(value: str) -> str:
    """A header value, RFC 2047 encoded when it is not ASCII."""
    if value.isascii():
        return value
    return Header(value, "utf-8").encode()


def build_source(content: Content, internal_date_ms: int, boundary_seed: str) -> bytes:
    """The message's RFC 822 bytes (boundaries derived from ``boundary_seed``)."""
    text = MIMEText(content.text, "plain", "utf-8")
    body: MimeMessage = text
    if content.html is not None:
        alternative = MIMEMultipart("alternative", boundary=f"alt-{boundary_seed}")
        alternative.attach(text)
        alternative.attach(MIMEText(content.html, "html", "utf-8"))
        body = alternative
    if content.attachments:
        mixed = MIMEMultipart("mixed", boundary=f"mix-{boundary_seed}")
        mixed.attach(body)
        for index, attachment in enumerate(content.attachments):
            maintype, _, subtype = attachment.mime_type.partition("/")
            part = MIMEApplication(attachment.data, subtype or "octet-stream")
            part.replace_header("Content-Type", f"{maintype}/{subtype}")
            part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
            # Short, as Gmail's own (``f_...``): a long value would be folded.
            part.add_header("X-Attachment-Id", f"f_{index}")
            mixed.attach(part)
        body = mixed
    for sub in body.walk():
        if sub is not body:
            del sub["MIME-Version"]  # only the top of a message carries it (RFC 2045 §4)
    date = datetime.fromtimestamp(internal_date_ms / 1000, tz=timezone.utc)
    headers = {
        "Date": format_datetime(date),
        "From": _encoded(content.sender),
        "To": _encoded(content.to),
        "Subject": _encoded(content.subject),
        "Message-ID": content.message_id,
    }
    if content.in_reply_to:
        headers["In-Reply-To"] = content.in_reply_to
        headers["References"] = content.in_reply_to
    for name, value in headers.items():
        body[name] = value
    return body.as_bytes(policy=email.policy.SMTP)


def _decoded(value: str) -> str:
    value = re.sub(r"\r?\n(?=[ \t])", "", value)  # unfolded, as Gmail lists header values
    try:
        return str(make_header(decode_header(value)))
    except (UnicodeDecodeError, LookupError, ValueError):
        return value


def _part(node: MimeMessage, part_id: str, attachments: dict[str, Attachment]) -> dict[str, Any]:
    headers = [{"name": k, "value": _decoded(str(v))} for k, v in node.items()]
    filename = node.get_filename() or ""
    result: dict[str, Any] = {
        "partId": part_id,
        "mimeType": node.get_content_type(),
        "filename": _decoded(filename),
        "headers": headers,
    }
    if node.is_multipart():
        result["body"] = {"size": 0}
        children = node.get_payload()
        assert isinstance(children, list)
        prefix = "" if part_id == "" else part_id + "."
        result["parts"] = [
            _part(child, f"{prefix}{index}", attachments) for index, child in enumerate(children)
        ]
        return result
    data = node.get_payload(decode=True)
    raw = data if isinstance(data, bytes) else b""
    attachment = attachments.get(str(node.get("X-Attachment-Id", "")))
    if filename and attachment is not None:
        result["body"] = {"attachmentId": attachment.attachment_id, "size": len(raw)}
    else:
        result["body"] = {"size": len(raw), "data": b64url(raw)}
    return result


def payload_of(source: bytes, attachments: list[Attachment]) -> dict[str, Any]:
    """The ``payload`` MessagePart tree of ``source`` (the top part has ``partId`` "")."""
    message = BytesParser(policy=email.policy.compat32).parsebytes(source)
    return _part(message, "", {f"f_{i}": a for i, a in enumerate(attachments)})
