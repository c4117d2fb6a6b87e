"""Signed webhooks for the store's mutations, delivered the way Shopify delivers them.

Headers: https://shopify.dev/docs/apps/build/webhooks/delivery-structure#headers (the
body is the topic's REST resource). Signature:
https://shopify.dev/docs/apps/build/webhooks/verify-deliveries (``X-Shopify-Hmac-SHA256``
is the base64 HMAC-SHA256 of the raw body keyed with the app's client secret;
``X-Shopify-Webhook-Id`` identifies a delivery for de-duplication). Topics follow the
``WebhookSubscriptionTopic`` names (``products/update``, ``orders/updated``,
``*/delete``...); payloads are the REST representation (snake_case, numeric ``id``,
``admin_graphql_api_id``), a delete carrying only the ``id``
(https://shopify.dev/docs/api/webhooks?reference=toml#list-of-topics-products/delete).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import requests

from .clock import Clock, iso
from .seed import Record

logger = logging.getLogger("sluice.sandbox.shopify")

_PLURAL = {
    "product": "products",
    "customer": "customers",
    "order": "orders",
    "collection": "collections",
}
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def topic(kind: str, action: str) -> str:
    """The webhook topic of a mutation (orders use ``orders/updated``, the rest ``/update``)."""
    if kind == "order" and action == "update":
        return "orders/updated"
    return f"{_PLURAL[kind]}/{action}"


def sign(body: bytes, secret: str) -> str:
    """``X-Shopify-Hmac-Sha256``: base64 of the HMAC-SHA256 of ``body``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def rest_payload(action: str, record: Record) -> dict[str, Any]:
    """The REST-style body of a webhook about ``record``."""
    number = int(record["_num"])
    if action == "delete":
        return {"id": number}
    body: dict[str, Any] = {"id": number, "admin_graphql_api_id": record["id"]}
    for key, value in record.items():
        if (
            key.startswith("_")
            or key in ("id", "legacyResourceId")
            or isinstance(value, (dict, list))
        ):
            continue
        body[_CAMEL.sub("_", key).lower()] = value
    return body


@dataclass(frozen=True)
class Delivery:
    """One webhook POST: its topic, exact body, headers and the receiver's status."""

    topic: str
    body: bytes
    headers: dict[str, str]
    status: Optional[int]


class WebhookSender:
    """POSTs a signed webhook per mutation to the subscribed URL (synchronously)."""

    def __init__(
        self,
        secret: str,
        shop_domain: str,
        api_version: str,
        clock: Clock,
        *,
        seed: int = 42,
        post: Optional[Callable[..., requests.Response]] = None,
    ) -> None:
        """A sender with no subscription yet."""
        self.secret = secret
        self.shop_domain = shop_domain
        self.api_version = api_version
        self.clock = clock
        self.url: Optional[str] = None
        self.deliveries: list[Delivery] = []
        self._post = post or requests.post
        self._rng = random.Random(f"{seed}:webhooks")
        self._lock = threading.Lock()

    def headers(self, topic_name: str, body: bytes) -> dict[str, str]:
        """The delivery headers of ``body``."""
        with self._lock:
            webhook_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            event_id = str(self._rng.randrange(10**11, 10**12))
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic_name,
            "X-Shopify-Hmac-Sha256": sign(body, self.secret),
            "X-Shopify-Shop-Domain": self.shop_domain,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Event-Id": event_id,
            "X-Shopify-Triggered-At": iso(self.clock()),
            "X-Shopify-API-Version": self.api_version,
        }

    def on_change(self, kind: str, action: str, record: Record) -> None:
        """Store listener: delivers the mutation's webhook if a URL is subscribed."""
        if self.url is None:
            return
        name = topic(kind, action)
        body = json.dumps(rest_payload(action, record), separators=(",", ":")).encode()
        headers = self.headers(name, body)
        status: Optional[int] = None
        try:
            status = self._post(self.url, data=body, headers=headers, timeout=5).status_code
        except requests.RequestException as exc:
            logger.warning("shopify sandbox: webhook %s not delivered: %s", name, exc)
        self.deliveries.append(Delivery(name, body, headers, status))
