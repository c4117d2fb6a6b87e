"""Google's batch endpoint: inner HTTP requests in one multipart/mixed body, and back.

Format from https://developers.google.com/gmail/api/guides/batch: the body is
``multipart/mixed``, each part ``Content-Type: application/http`` holding one request
(request line, headers, body); headers of the outer request apply to every inner one unless
it sets its own; at most 100 calls; the answer is ``multipart/mixed`` with one
``application/http`` part per call whose ``Content-ID`` is ``response-`` + the request's.
googleapiclient's ``BatchHttpRequest`` (http.py ``_execute``, ``_header_to_id``) relies on it.
"""

from __future__ import annotations

import email.policy
import random
from collections.abc import Callable, Mapping
from email.message import Message
from email.parser import BytesParser
from http.client import responses
from urllib.parse import urlsplit

from .errors import Reply, bad_request

MAX_CALLS = 100
Inner = Callable[[str, str, str, Mapping[str, str], bytes], Reply]


def _parse_inner(text: str) -> tuple[str, str, dict[str, str], bytes]:
    """``(verb, target, headers, body)`` of one ``application/http`` request."""
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    lines = head.strip("\n").split("\n")
    verb, target = (lines[0].split(" ") + ["", ""])[:2]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return verb.upper(), target, headers, body.encode("utf-8")


def _response_part(content_id: str, reply: Reply) -> str:
    reason = responses.get(reply.status, "")
    lines = [
        "Content-Type: application/http",
        f"Content-ID: <response-{content_id}>",
        "",
        f"HTTP/1.1 {reply.status} {reason}",
        f"Content-Type: {reply.content_type}",
        *(f"{k}: {v}" for k, v in reply.headers.items()),
        f"Content-Length: {len(reply.body)}",
        "",
        reply.body.decode("utf-8"),
    ]
    return "\r\n".join(lines)


def _content_id(part: Message, index: int) -> str:
    value = str(part.get("Content-ID", "")).strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value or str(index + 1)


class BatchEndpoint:
    """Splits a batch, answers each call through ``inner``, joins the answers."""

    def __init__(self, inner: Inner, rng: random.Random) -> None:
        """``inner(verb, path, query, headers, body)`` answers one call."""
        self._inner = inner
        self._rng = rng

    def handle(self, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answers a POST to ``batch/gmail/v1`` (or ``batch``)."""
        content_type = headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/mixed"):
            return bad_request("Content-Type must be multipart/mixed for batch requests")
        message = BytesParser(policy=email.policy.compat32).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        parts = message.get_payload()
        if not message.is_multipart() or not isinstance(parts, list) or not parts:
            return bad_request("Batch request has no parts")
        if len(parts) > MAX_CALLS:
            return bad_request(f"A batch request cannot contain more than {MAX_CALLS} calls")
        outer = {k: v for k, v in headers.items() if k in ("authorization",)}
        answers = []
        for index, part in enumerate(parts):
            payload = part.get_payload()
            verb, target, inner_headers, inner_body = _parse_inner(str(payload))
            split = urlsplit(target)
            reply = self._inner(
                verb, split.path, split.query, {**outer, **inner_headers}, inner_body
            )
            answers.append(_response_part(_content_id(part, index), reply))
        boundary = "batch_" + self._rng.getrandbits(64).to_bytes(8, "big").hex()
        text = "".join(f"--{boundary}\r\n{a}\r\n" for a in answers) + f"--{boundary}--\r\n"
        return Reply(200, text.encode("utf-8"), f"multipart/mixed; boundary={boundary}")
