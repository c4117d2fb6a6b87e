"""The webhook receiver: an ASGI app (Starlette) that verifies, stores durably, then answers.

``POST <path>`` reads the raw body (refusing more than ``max_body_bytes`` with 413),
hands it with the headers to the provider's verifier, parses the JSON, and stores the
event in the :class:`~sources.kit.webhooks.inbox.Inbox`. It answers
``200 {"received": true, "duplicate": false}`` only after the inbox committed the
event (``duplicate: true`` when the id was stored before); nothing is stored for a
refused request.

Refusals are 400 for a missing or bad signature, a stale timestamp, malformed JSON or
an event without ``id``/``created``/``type``: Stripe's own integration guide answers
400 when signature verification fails, and any non-2xx makes the provider retry, so
401 would only add a second code for the same outcome. 413 means too large, 503 that
the inbox could not store the event (the provider retries).

``POST /noop`` answers at once on the same stack (the benchmark baseline) and
``GET /healthz`` reports liveness and counters.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .inbox import Inbox, InboxEvent, InboxUnavailableError
from .signatures import WebhookVerificationError

logger = logging.getLogger("sluice.webhooks.receiver")

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Largest accepted body; Stripe events are far smaller."""

DEFAULT_PATH = "/webhook"

ACCEPTED = b'{"received":true,"duplicate":false}'
DUPLICATE = b'{"received":true,"duplicate":true}'
NOOP = b'{"received":true}'
JSON_TYPE = "application/json"

Verifier = Callable[[bytes, Mapping[str, str]], None]
"""Checks a request's signature from the raw body and headers; raises
:class:`WebhookVerificationError` when the request is not authentic."""


@dataclass(frozen=True)
class EventIdentity:
    """What the inbox needs to know about an event besides its raw body."""

    event_id: str
    created: int
    type: str


Identifier = Callable[[Any], EventIdentity]
"""Reads an event's identity from its decoded JSON; raises ValueError when absent."""

Responder = Callable[[Any], Optional[Response]]
"""Answers a verified request that is not an event to store (Slack's ``url_verification``
challenge), or returns None to store it as an event."""


class BodyTooLargeError(Exception):
    """The request body exceeds the receiver's limit."""


@dataclass
class ReceiverStats:
    """Counters since start, reported by ``GET /healthz``."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a JSON-ready mapping."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "failed": self.failed,
        }


@dataclass
class WebhookReceiver:
    """Request handlers of the receiver; :meth:`app` builds the ASGI application.

    Attributes:
        inbox: Where verified events are stored.
        verifier: The provider's signature check.
        identify: Reads id, created and type from the decoded event.
        path: Route of the webhook endpoint.
        max_body_bytes: Larger bodies get 413.
        clock: Wall clock for ``received_at`` (injected in tests).
        respond: Answers verified requests that are not events (None: none are).
    """

    inbox: Inbox
    verifier: Verifier
    identify: Identifier
    path: str = DEFAULT_PATH
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    clock: Callable[[], float] = time.time
    stats: ReceiverStats = field(default_factory=ReceiverStats)
    respond: Optional[Responder] = None

    def app(self) -> Starlette:
        """The Starlette application serving the webhook, no-op and health routes."""
        return Starlette(
            routes=[
                Route(self.path, self.receive, methods=["POST"]),
                Route("/noop", self.noop, methods=["POST"]),
                Route("/healthz", self.healthz, methods=["GET"]),
            ]
        )

    async def receive(self, request: Request) -> Response:
        """Verifies, stores durably, then acknowledges one webhook delivery."""
        try:
            body = await read_body(request, self.max_body_bytes)
        except BodyTooLargeError:
            return self.refuse(413, f"body larger than {self.max_body_bytes} bytes")
        try:
            self.verifier(body, request.headers)
        except WebhookVerificationError as exc:
            return self.refuse(400, exc.message)
        try:
            payload = json.loads(body)
            answer = self.respond(payload) if self.respond is not None else None
            if answer is not None:
                return answer
            identity = self.identify(payload)
        except (ValueError, TypeError, KeyError) as exc:
            return self.refuse(400, f"not a valid event: {type(exc).__name__}")
        return await self.store(identity, body)

    async def store(self, identity: EventIdentity, body: bytes) -> Response:
        """Waits for the inbox's group commit, then answers."""
        event = InboxEvent(identity.event_id, identity.created, identity.type, body, self.clock())
        try:
            stored = await asyncio.wrap_future(self.inbox.submit(event))
        except InboxUnavailableError as exc:
            self.stats.failed += 1
            logger.error("webhook %s not stored: %s", identity.event_id, exc)
            return json_error(503, "could not store the event; retry later")
        if stored:
            self.stats.accepted += 1
            return Response(ACCEPTED, media_type=JSON_TYPE)
        self.stats.duplicates += 1
        return Response(DUPLICATE, media_type=JSON_TYPE)

    def refuse(self, status: int, reason: str) -> Response:
        """Counts and logs a refused request; the reason never carries a secret."""
        self.stats.rejected += 1
        logger.info("webhook refused (%d): %s", status, reason)
        return json_error(status, reason)

    async def noop(self, request: Request) -> Response:
        """Reads the body and answers 200 at once: the benchmark's baseline."""
        await request.body()
        return Response(NOOP, media_type=JSON_TYPE)

    async def healthz(self, request: Request) -> Response:
        """Liveness, the request counters and the inbox's group commits so far."""
        return JSONResponse(
            {"status": "ok", **self.stats.as_dict(), "commits": self.inbox.batches_committed}
        )


async def read_body(request: Request, limit: int) -> bytes:
    """Reads the raw body, refusing a declared or actual size above ``limit``.

    Raises:
        BodyTooLargeError: The body is larger than ``limit`` bytes.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def json_error(status: int, message: str) -> Response:
    """A small JSON error response."""
    return JSONResponse({"error": message}, status_code=status)


def create_receiver_app(
    *,
    inbox: Inbox,
    verifier: Verifier,
    identify: Identifier,
    path: str = DEFAULT_PATH,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    clock: Callable[[], float] = time.time,
    respond: Optional[Responder] = None,
) -> Starlette:
    """Builds the receiver's ASGI app.

    Args:
        inbox: Where verified events are stored.
        verifier: ``(raw_body, headers) -> None``; raises WebhookVerificationError.
        identify: Reads the event identity from the decoded JSON body.
        path: Route of the webhook endpoint.
        max_body_bytes: Larger bodies are refused with 413.
        clock: Wall clock for ``received_at``.
        respond: Answers verified requests that are not events (Slack's challenge).

    Returns:
        A Starlette app; its ``state.receiver`` holds the handlers and counters.
    """
    receiver = WebhookReceiver(
        inbox=inbox,
        verifier=verifier,
        identify=identify,
        path=path,
        max_body_bytes=max_body_bytes,
        clock=clock,
        respond=respond,
    )
    app = receiver.app()
    app.state.receiver = receiver
    return app
