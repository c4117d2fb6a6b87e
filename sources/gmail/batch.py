"""Google's batch format on the client side: GET calls in one multipart/mixed POST, and back.

Format from https://developers.google.com/gmail/api/guides/batch: each part is
``Content-Type: application/http`` with a ``Content-ID`` and one request (request line,
blank line); the outer request's headers (``Authorization``) apply to every call; the
answer is ``multipart/mixed`` with one ``application/http`` part per call whose
``Content-ID`` is ``response-`` + the call's. Each call is metered as if sent alone.
"""

from __future__ import annotations

import email.policy
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from typing import Any, Optional
from urllib.parse import urlencode

from sources.kit.errors import ServerError

from .errors import error_reasons


@dataclass(frozen=True)
class Call:
    """One inner GET: its key (a message or thread id) and path with query."""

    key: str
    path: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def target(self) -> str:
        """Request target of the inner request line."""
        return f"{self.path}?{urlencode(self.params)}" if self.params else self.path


@dataclass(frozen=True)
class Answer:
    """One inner response."""

    status: int
    body: bytes
    retry_after: Optional[str] = None

    def json(self) -> Any:
        """The body as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def reasons(self) -> set[str]:
        """Google error reasons of an error answer."""
        return error_reasons(self.json())


def encode(calls: Sequence[Call], boundary: Optional[str] = None) -> tuple[bytes, str]:
    """The body and ``Content-Type`` of a batch of GET calls (Content-ID = list index)."""
    boundary = boundary or f"batch_{uuid.uuid4().hex}"
    parts = [
        f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item-{index}>\r\n\r\n"
        f"GET {call.target}\r\n\r\n"
        for index, call in enumerate(calls)
    ]
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode("utf-8"), f"multipart/mixed; boundary={boundary}"


def _answer(raw: bytes) -> tuple[int, Mapping[str, str], bytes]:
    head_bytes, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    lines = head_bytes.decode("latin-1").strip("\n").split("\n")
    status_line = lines[0].split(" ")
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise ValueError(f"not an HTTP status line: {lines[0][:60]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line[1]), headers, body.strip(b"\n")


def decode(content_type: str, body: bytes, count: int) -> dict[int, Answer]:
    """The answers of a batch response by call index.

    Raises:
        ServerError: The body is not a multipart answer (retried as a server fault).
    """
    message = BytesParser(policy=email.policy.compat32).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    parts = message.get_payload()
    if not message.is_multipart() or not isinstance(parts, list):
        raise ServerError(f"Gmail batch answer is not multipart ({content_type[:60]})")
    answers: dict[int, Answer] = {}
    for part in parts:
        if not isinstance(part, Message):
            continue
        content_id = str(part.get("Content-ID", "")).strip("<> ")
        index_text = content_id.rsplit("item-", 1)[-1]
        if not index_text.isdigit() or int(index_text) >= count:
            continue
        try:
            # decode=True gives the part's bytes as sent (UTF-8 JSON stays intact)
            raw = part.get_payload(decode=True)
            status, headers, inner = _answer(raw if isinstance(raw, bytes) else b"")
        except ValueError:
            continue  # an unreadable part counts as unanswered: the call is sent again
        answers[int(index_text)] = Answer(status, inner, headers.get("retry-after"))
    return answers
