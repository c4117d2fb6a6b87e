"""A webhook sender that signs and posts events the way Stripe does, good and bad ones.

``WebhookSender`` signs a body with ``Stripe-Signature: t=<unix>,v1=<hex>`` (HMAC-SHA256
of ``"{t}.{body}"``), optionally adding a ``v1`` per extra secret as Stripe does while an
endpoint secret is rolled, and POSTs it. It also builds the deliveries a receiver must
refuse: forged (signed with a wrong secret), tampered (body changed after signing) and
stale (signed more than five minutes ago). ``delivery_mix`` shuffles valid deliveries,
duplicates and refusable ones into one burst.

Refusable deliveries carry *fabricated* events: a copy of a real event under a new event
id, created later than anything real, whose object gets ``metadata.forged`` set. If a
receiver wrongly accepted one, it would become the object's newest state and show.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import requests

from .embedded import api_view

Clock = Callable[[], float]
DeliveryKind = Literal["valid", "duplicate", "forged", "tampered", "stale"]

STALE_AGE_S = 600
"""How old a stale delivery's signature is: twice Stripe's five-minute tolerance."""

FABRICATED_OFFSET_S = 100_000
"""How much later than the real event a fabricated one claims to be created."""

FORGED_SECRET = "whsec_not_the_endpoint_secret"


@dataclass(frozen=True)
class Delivery:
    """One HTTP delivery: the exact body, its headers, and what it is meant to be.

    Attributes:
        body: Raw JSON body.
        headers: Request headers (``Stripe-Signature``, ``Content-Type``).
        event_id: Id of the event in the body.
        kind: ``valid``/``duplicate`` must be acknowledged; the others refused.
    """

    body: bytes
    headers: Mapping[str, str]
    event_id: str
    kind: DeliveryKind

    @property
    def acceptable(self) -> bool:
        """Whether a correct receiver answers 2xx."""
        return self.kind in ("valid", "duplicate")


@dataclass(frozen=True)
class DeliveryResult:
    """What the receiver answered to one delivery."""

    delivery: Delivery
    status: int
    answer: Optional[dict[str, Any]] = None
    seconds: float = 0.0


def encode_event(event: Mapping[str, Any]) -> bytes:
    """Serializes an event compactly, as a webhook body."""
    return json.dumps(api_view(event), separators=(",", ":")).encode("utf-8")


def sign(body: bytes, timestamp: int, secret: str) -> str:
    """The ``v1`` value Stripe sends: hex HMAC-SHA256 of ``"{timestamp}.{body}"``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def fabricate(event: Mapping[str, Any], marker: str) -> dict[str, Any]:
    """A copy of ``event`` under a new id, created later, its object marked ``forged``."""
    fake = copy.deepcopy(dict(event))
    fake["id"] = f"{event['id']}_{marker}"
    fake["created"] = int(event["created"]) + FABRICATED_OFFSET_S
    obj = fake.get("data", {}).get("object")
    if isinstance(obj, dict):
        obj["metadata"] = {**(obj.get("metadata") or {}), "forged": marker}
    return fake


@dataclass
class WebhookSender:
    """Signs events like Stripe and posts them to a receiver.

    Attributes:
        secret: The endpoint's signing secret (``whsec_...``).
        now: Wall clock for signature timestamps (injected in tests).
        extra_secrets: Also sign with these (one more ``v1`` each), as Stripe does while
            a rolled secret's old value is still valid.
        timeout: Seconds to wait for each answer.
    """

    secret: str
    now: Clock = time.time
    extra_secrets: Sequence[str] = ()
    timeout: float = 10.0
    _local: threading.local = field(default_factory=threading.local, init=False, repr=False)

    def __repr__(self) -> str:
        return f"WebhookSender(extra_secrets={len(self.extra_secrets)})"

    def signature_header(
        self,
        body: bytes,
        *,
        timestamp: Optional[int] = None,
        secrets: Optional[Sequence[str]] = None,
    ) -> str:
        """``t=<timestamp>,v1=<sig>[,v1=<sig>...]`` for ``body``."""
        ts = int(self.now()) if timestamp is None else int(timestamp)
        keys = list(secrets) if secrets is not None else [self.secret, *self.extra_secrets]
        return ",".join([f"t={ts}", *(f"v1={sign(body, ts, key)}" for key in keys)])

    def delivery(
        self,
        event: Mapping[str, Any],
        *,
        kind: DeliveryKind = "valid",
        timestamp: Optional[int] = None,
        secrets: Optional[Sequence[str]] = None,
    ) -> Delivery:
        """A signed delivery of ``event``."""
        body = encode_event(event)
        header = self.signature_header(body, timestamp=timestamp, secrets=secrets)
        return Delivery(body, headers_for(header), str(event["id"]), kind)

    def forged(self, event: Mapping[str, Any]) -> Delivery:
        """A fabricated event signed with a secret the endpoint does not know."""
        fake = fabricate(event, "forged")
        return self.delivery(fake, kind="forged", secrets=[FORGED_SECRET])

    def tampered(self, event: Mapping[str, Any]) -> Delivery:
        """A correctly signed fabricated event whose body was changed after signing."""
        fake = fabricate(event, "tampered")
        signed = self.delivery(fake)
        body = signed.body.replace(b'"forged":"tampered"', b'"forged":"tampered!"', 1)
        return Delivery(body, signed.headers, signed.event_id, "tampered")

    def stale(self, event: Mapping[str, Any], age_s: int = STALE_AGE_S) -> Delivery:
        """A fabricated event signed ``age_s`` seconds ago (a replay)."""
        fake = fabricate(event, "stale")
        return self.delivery(fake, kind="stale", timestamp=int(self.now()) - age_s)

    def post(self, url: str, delivery: Delivery) -> DeliveryResult:
        """POSTs one delivery and returns the receiver's answer."""
        started = time.perf_counter()
        response = self._session().post(
            url, data=delivery.body, headers=dict(delivery.headers), timeout=self.timeout
        )
        elapsed = time.perf_counter() - started
        try:
            answer = response.json()
        except ValueError:
            answer = None
        return DeliveryResult(delivery, response.status_code, answer, elapsed)

    def send(
        self, url: str, deliveries: Iterable[Delivery], *, concurrency: int = 1
    ) -> list[DeliveryResult]:
        """Posts deliveries (in order when ``concurrency`` is 1) and collects the answers."""
        items = list(deliveries)
        if concurrency <= 1:
            return [self.post(url, d) for d in items]
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            return list(pool.map(lambda d: self.post(url, d), items))

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session


def headers_for(signature: str) -> dict[str, str]:
    """Headers of a Stripe webhook delivery."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature,
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }


def delivery_mix(
    sender: WebhookSender,
    events: Sequence[Mapping[str, Any]],
    *,
    rng: random.Random,
    duplicates: int = 0,
    forged: int = 0,
    tampered: int = 0,
    stale: int = 0,
) -> list[Delivery]:
    """Every event once, validly signed, plus duplicates and refusable ones, shuffled.

    Args:
        sender: Signs the deliveries.
        events: The real events (each delivered validly exactly once, plus duplicates).
        rng: Chooses which events are duplicated or faked, and the order.
        duplicates: Valid re-deliveries of randomly chosen events.
        forged: Fabricated events signed with a wrong secret.
        tampered: Fabricated events changed after signing.
        stale: Fabricated events signed ten minutes ago.

    Returns:
        The deliveries in shuffled order (out of ``created`` order too).
    """
    pool = list(events)
    deliveries = [sender.delivery(e) for e in pool]
    deliveries += [sender.delivery(e, kind="duplicate") for e in pick(rng, pool, duplicates)]
    deliveries += [sender.forged(e) for e in pick(rng, pool, forged)]
    deliveries += [sender.tampered(e) for e in pick(rng, pool, tampered)]
    deliveries += [sender.stale(e) for e in pick(rng, pool, stale)]
    rng.shuffle(deliveries)
    return deliveries


def pick(rng: random.Random, events: Sequence[Mapping[str, Any]], count: int) -> list[Any]:
    """``count`` events chosen at random (with repeats when asking for more than exist)."""
    if not events or count <= 0:
        return []
    if count <= len(events):
        return rng.sample(list(events), count)
    return [rng.choice(list(events)) for _ in range(count)]
