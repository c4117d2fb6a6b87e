"""``*/delete`` webhooks: received into the kit's inbox, drained as tombstone rows.

Shopify signs the raw body with the app's client secret (``X-Shopify-Hmac-Sha256``,
base64 HMAC-SHA256, https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook)
and names the delivery and topic in headers (``X-Shopify-Webhook-Id``,
``X-Shopify-Topic``, ``X-Shopify-Triggered-At``,
https://shopify.dev/docs/apps/build/webhooks/delivery-structure#headers); a delete's body
is ``{"id": <numeric id>}`` (https://shopify.dev/docs/api/webhooks#list-of-topics).

TODO(kit): the kit's ``WebhookReceiver`` reads an event's identity from the body only;
Shopify puts it in headers, so this route stores into the same :class:`Inbox` itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sources.kit.webhooks.inbox import Inbox, InboxEvent
from sources.kit.webhooks.signatures import WebhookVerificationError, verify_shopify_hmac

from .rows import make_gid, tombstone

PATH = "/webhooks/shopify"
DELETE_TYPES = {
    "products": "Product",
    "customers": "Customer",
    "orders": "Order",
    "collections": "Collection",
}
"""Resource to the GraphQL type its ``<resource>/delete`` topic's ids belong to."""


def _created(header: str) -> int:
    try:
        return int(datetime.fromisoformat(header.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def receiver_app(inbox: Inbox, secret: str, clock: Any = None) -> Starlette:
    """The ASGI app verifying Shopify webhooks and storing them in ``inbox``."""
    import time  # noqa: PLC0415 - only the receiver needs the wall clock

    now = clock or time.time

    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            verify_shopify_hmac(body, request.headers.get("x-shopify-hmac-sha256", ""), secret)
        except WebhookVerificationError as exc:
            return JSONResponse({"error": exc.message}, status_code=401)
        event_id = request.headers.get("x-shopify-webhook-id") or ""
        topic = request.headers.get("x-shopify-topic") or ""
        if not event_id or not topic:
            return JSONResponse({"error": "missing X-Shopify-Webhook-Id/Topic"}, status_code=400)
        created = _created(request.headers.get("x-shopify-triggered-at", ""))
        event = InboxEvent(event_id, created, topic, body, now())
        await asyncio.wrap_future(inbox.submit(event))
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route(PATH, receive, methods=["POST"])])


def delete_tombstones(inbox: Inbox, resource: str, limit: int = 10_000) -> Iterator[Any]:
    """``(rows, event ids)`` of the pending ``<resource>/delete`` events."""
    type_name = DELETE_TYPES.get(resource)
    if type_name is None:
        return
    rows, ids = [], []
    for event in inbox.pending(limit):
        if event.type != f"{resource}/delete":
            continue
        try:
            number = json.loads(event.payload)["id"]
        except (ValueError, KeyError, TypeError):
            continue
        when = datetime.fromtimestamp(event.created or event.received_at, timezone.utc)
        rows.append(tombstone(make_gid(type_name, number), when.strftime("%Y-%m-%dT%H:%M:%SZ")))
        ids.append(event.event_id)
    yield rows, ids
