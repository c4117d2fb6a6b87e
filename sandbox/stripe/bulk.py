"""Bulk objects for throughput benchmarks: many realistic clones, held as JSON bytes.

``add_bulk`` adds customers, charges, invoices, balance transactions and events to a store
after its seeded history:
each one a clone of a seeded object of its type (Stripe's published examples as the
factory fills them in, so the nested structure is the real one) with a new id of the
same format, a distinct creation time within the history's 120 days and its own amounts,
customer, contact details, card, invoice number and URLs. Charges and invoices belong to
a customer (seeded or bulk) created before them, in that customer's currency. Balance
transactions are clones of seeded ones with fees (their ``fee_details`` list kept); events
are clones of seeded events, created within Stripe's 30-day listing window but at least an
hour before now, so a change feed read from a later cursor never sees them.

Each clone is stored only as its encoding (``Entry.encoded``): 200,000 objects cost about
their JSON size, list pages are served without building dicts, and retrieving, filtering,
updating or deleting one decodes it. Bulk objects are historical: they emit no creation
events, but later changes through the API emit events as for any object.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .embedded import is_truncated
from .factory import Card
from .generator import DAY, HISTORY_DAYS
from .ids import IdFactory
from .resources import resource
from .store import Entry, Store, decode, encode
from .vocabulary import (
    CARDS,
    COMPANY_SUFFIXES,
    COMPANY_WORDS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    ONE_OFF_DESCRIPTIONS,
    PLACES,
)

BulkCounts = Mapping[str, int]
"""Number of bulk objects per type (``charge``) or list name (``charges``)."""

BULK_TYPES = ("customer", "charge", "invoice", "balance_transaction", "event")
"""The types ``add_bulk`` makes, in the order it makes them."""

CHARGE_AMOUNTS = (1500, 2500, 4900, 9900, 15000, 50000)
_ASCII = str.maketrans({"é": "e", "ë": "e", "ü": "u", "í": "i", "á": "a", "'": "", " ": ""})
_INVOICE_TIMES = (
    "period_start",
    "period_end",
    "due_date",
    "next_payment_attempt",
    "automatically_finalizes_at",
)
_INVOICE_PAST_TIMES = ("effective_at", "webhooks_delivered_at")


def parse_bulk(text: str) -> dict[str, int]:
    """Parse ``charges=110000,customers=30000,invoices=60000`` (the CLI's ``--bulk``).

    Args:
        text: Comma-separated ``name=count`` pairs; names are object types or list names.

    Returns:
        Counts by object type (``{"charge": 110000, ...}``).

    Raises:
        ValueError: If a part is not ``name=count`` or names a type bulk mode cannot make.
    """
    counts: dict[str, int] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, sep, count = part.partition("=")
        if not sep or not count.strip().isdigit():
            raise ValueError(f"expected name=count pairs, got {part!r}")
        counts[bulk_type(name.strip())] = int(count)
    return counts


def bulk_type(name: str) -> str:
    """Return the object type named ``name`` (type or list name) if bulk mode makes it.

    Raises:
        ValueError: For any other name.
    """
    try:
        type_name = resource(name).name
    except KeyError:
        type_name = name
    if type_name not in BULK_TYPES:
        raise ValueError(f"bulk objects can be {', '.join(BULK_TYPES)}; not {name!r}")
    return type_name


def add_bulk(store: Store, counts: BulkCounts, rng: random.Random, now: int) -> dict[str, int]:
    """Add ``counts`` historical clones per type to a store holding a seeded history.

    Args:
        store: The store; it must hold seeded objects of each requested type, and customers.
        counts: Objects to add per type (``{"charges": 110_000}``); zero counts are skipped.
        rng: Seeded source of every choice (ids come from the store's factory).
        now: End of the history (unix seconds); creation times fall in its 120 days.

    Returns:
        How many objects were added per type.

    Raises:
        ValueError: For an unsupported type, a negative count, more objects than seconds in
            the history, or a type with nothing seeded to clone.
    """
    wanted = {bulk_type(name): count for name, count in counts.items()}
    if any(count < 0 for count in wanted.values()):
        raise ValueError(f"bulk counts must be >= 0: {dict(counts)}")
    maker = _BulkMaker(store, rng, now)
    added: dict[str, int] = {}
    for type_name in BULK_TYPES:
        if wanted.get(type_name, 0) > 0:
            entries = list(maker.make(type_name, wanted[type_name]))
            if type_name == "event":
                added[type_name] = _add_historical_events(store, entries)
            else:
                added[type_name] = store.add_historical(type_name, entries)
    return added


def _add_historical_events(store: Store, entries: Sequence[Entry]) -> int:
    """Add bulk events to the store's event log (the store writes events only on changes).

    Raises:
        ValueError: If an event id is already taken.
    """
    # The store has no public write for events (changes emit them); bulk events are
    # history, so they go straight into its log and sorted list, under its lock.
    with store._lock:
        events = store._events
        for entry in entries:
            if entry.key[1] in events:
                raise ValueError(f"event {entry.key[1]} already exists")
            events[entry.key[1]] = entry
        store._sorted["events"] = sorted(events.values(), key=lambda e: e.key)
    return len(entries)


# ------------------------------------------------------------------ customers


@dataclass
class _Profile:
    """What charges and invoices copy from their customer."""

    id: str
    created: int
    name: str
    email: str
    phone: str
    address: dict[str, Any]
    currency: str
    locale: str
    card: Card
    invoice_prefix: str
    invoices: int = 0

    def next_number(self) -> str:
        """Return the customer's next invoice number (``ABCD1234-0007``)."""
        self.invoices += 1
        return f"{self.invoice_prefix}-{self.invoices:04d}"


class _Customers:
    """Customers by creation time, to pick one that existed at a given moment."""

    def __init__(self) -> None:
        self._profiles: list[_Profile] = []
        self._times: list[int] = []

    def add(self, profiles: Sequence[_Profile]) -> None:
        """Add profiles (in any order)."""
        self._profiles = sorted([*self._profiles, *profiles], key=lambda p: (p.created, p.id))
        self._times = [profile.created for profile in self._profiles]

    def pick(self, rng: random.Random, at: int) -> _Profile:
        """Return a random customer created at or before ``at`` (not before ``first``)."""
        return self._profiles[rng.randrange(bisect.bisect_right(self._times, at))]

    def first(self) -> int:
        """Return when the first customer was created.

        Raises:
            ValueError: If there are no customers.
        """
        if not self._times:
            raise ValueError("bulk charges and invoices need customers; raise the volume")
        return self._times[0]


def _identity(rng: random.Random, ids: IdFactory) -> tuple[str, str]:
    """Return a person's or a company's name and billing email, as the generator makes them."""
    if rng.random() < 0.25:
        company = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}"
        return company, f"billing@{company.lower().replace(' ', '')}.com"
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{first.translate(_ASCII)}.{last.translate(_ASCII)}{ids.digits(4)}".lower()
    return f"{first} {last}", f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def _card(rng: random.Random, ids: IdFactory, payment_method: str, country: str, year: int) -> Card:
    model = rng.choice(CARDS)
    return Card(
        payment_method=payment_method,
        brand=model.brand,
        last4=model.last4,
        funding=model.funding,
        exp_month=rng.randint(1, 12),
        exp_year=year + rng.randint(1, 5),
        fingerprint=ids.random_chars(16),
        country=country,
    )


# ------------------------------------------------------------------ templates


@dataclass(frozen=True)
class _Template:
    """A seeded object to clone: its encoding, id and creation time."""

    data: bytes
    id: bytes
    created: int
    currency: str | None

    def clone(self, new_id: str) -> dict[str, Any]:
        """Return a fresh copy with every occurrence of the old id replaced by ``new_id``."""
        return decode(self.data.replace(self.id, new_id.encode()))


def _templates(store: Store, type_name: str) -> list[_Template]:
    spec = resource(type_name)
    found = []
    for entry in store.sorted_entries(spec.list_name):
        if is_truncated(entry.obj):
            # A truncated sub-list: a clone held only as JSON could not page the rest.
            continue
        currency = entry.obj.get("currency")
        found.append(
            _Template(entry.json(), entry.key[1].encode(), entry.key[0], currency and str(currency))
        )
    if not found:
        raise ValueError(f"no seeded {type_name} to clone for bulk objects; raise the volume")
    return found


# ------------------------------------------------------------------ the maker


class _BulkMaker:
    """Makes the bulk entries of each type, customers first."""

    def __init__(self, store: Store, rng: random.Random, now: int) -> None:
        self.store = store
        self.ids = store.factory.ids
        self.account_id = store.factory.account.id
        self.rng = rng
        self.now = now
        self.start = now - HISTORY_DAYS * DAY
        self.year = dt.datetime.fromtimestamp(now, dt.timezone.utc).year
        self.customers = _Customers()
        self.customers.add(self._seeded_profiles())
        self._makers: dict[str, Callable[[int], Iterator[Entry]]] = {
            "customer": self._customers,
            "charge": self._charges,
            "invoice": self._invoices,
            "balance_transaction": self._balance_transactions,
            "event": self._events,
        }

    def make(self, type_name: str, count: int) -> Iterator[Entry]:
        """Yield ``count`` new entries of ``type_name``, oldest first."""
        return self._makers[type_name](count)

    def _times(self, count: int, since: int | None = None) -> list[int]:
        """Return ``count`` distinct creation times in the history (from ``since``), ascending."""
        span = range(max(self.start, since or self.start), self.now)
        if count > len(span):
            raise ValueError(f"at most {len(span)} bulk objects per type")
        return sorted(self.rng.sample(span, count))

    # -------------------------------------------------------------- customers

    def _seeded_profiles(self) -> list[_Profile]:
        numbers: dict[str, int] = {}
        for entry in self.store.sorted_entries("invoices"):
            invoice = entry.obj
            if isinstance(invoice.get("number"), str) and isinstance(invoice["customer"], str):
                count = int(invoice["number"].rsplit("-", 1)[1])
                numbers[invoice["customer"]] = max(count, numbers.get(invoice["customer"], 0))
        profiles = []
        for entry in self.store.sorted_entries("customers"):
            customer = entry.obj
            address = customer["address"] or {"country": "US"}
            method = customer["invoice_settings"]["default_payment_method"]
            profiles.append(
                _Profile(
                    id=customer["id"],
                    created=customer["created"],
                    name=customer["name"] or "",
                    email=customer["email"] or "",
                    phone=customer["phone"] or "",
                    address=address,
                    currency=customer["currency"] or "usd",
                    locale=(customer["preferred_locales"] or ["en-US"])[0],
                    card=_card(
                        self.rng,
                        self.ids,
                        method or self.ids.timed("pm", customer["created"]),
                        address["country"],
                        self.year,
                    ),
                    invoice_prefix=customer["invoice_prefix"],
                    invoices=numbers.get(customer["id"], 0),
                )
            )
        return profiles

    def _customer_id(self, created: int, taken: set[str]) -> str:
        """Return a new customer id (random, like Stripe's) used by no customer yet."""
        while True:
            customer_id = self.store.factory.new_id("customer", created)
            if customer_id not in taken and self.store.cursor_key("customers", customer_id) is None:
                return customer_id

    def _new_profile(self, customer_id: str, created: int) -> _Profile:
        rng, ids = self.rng, self.ids
        place = rng.choice(PLACES)
        name, email = _identity(rng, ids)
        return _Profile(
            id=customer_id,
            created=created,
            name=name,
            email=email,
            phone=f"{place.phone_prefix}{ids.digits(7)}",
            address={
                "city": place.city,
                "country": place.country,
                "line1": f"{rng.randint(1, 980)} {place.street}",
                "line2": rng.choice((None, None, "Suite 200", "Floor 3")),
                "postal_code": place.postal_code,
                "state": place.state,
            },
            currency=place.currency,
            locale=place.locale,
            card=_card(rng, ids, ids.timed("pm", created), place.country, self.year),
            invoice_prefix=ids.random_chars(8).upper(),
        )

    def _customers(self, count: int) -> Iterator[Entry]:
        templates = _templates(self.store, "customer")
        made: list[_Profile] = []
        seen: set[str] = set()
        for created in self._times(count):
            profile = self._new_profile(self._customer_id(created, seen), created)
            seen.add(profile.id)
            made.append(profile)
            obj = self.rng.choice(templates).clone(profile.id)
            self._shape_customer(obj, profile)
            yield Entry.encoded((created, profile.id), encode(obj))
        self.customers.add(made)

    def _shape_customer(self, obj: dict[str, Any], profile: _Profile) -> None:
        rng, ids = self.rng, self.ids
        obj.update(
            address=profile.address,
            balance=rng.choice((0, 0, 0, 0, -500, 1500)),
            created=profile.created,
            currency=profile.currency,
            delinquent=False,
            description=rng.choice((None, None, "Signed up via website", "Sales-led")),
            discount=None,
            email=profile.email,
            invoice_prefix=profile.invoice_prefix,
            metadata={
                "crm_id": f"crm_{ids.digits(6)}",
                "signup_source": rng.choice(("web", "sales", "partner")),
            },
            name=profile.name,
            phone=profile.phone,
            preferred_locales=[profile.locale],
        )
        obj["invoice_settings"]["default_payment_method"] = profile.card.payment_method

    # ---------------------------------------------------------------- charges

    def _charges(self, count: int) -> Iterator[Entry]:
        templates = _templates(self.store, "charge")
        for created in self._times(count, since=self.customers.first()):
            profile = self.customers.pick(self.rng, created)
            charge_id = self.store.factory.new_id("charge", created)
            obj = self.rng.choice(templates).clone(charge_id)
            self._shape_charge(obj, profile, created)
            yield Entry.encoded((created, charge_id), encode(obj))

    def _shape_charge(self, obj: dict[str, Any], profile: _Profile, created: int) -> None:
        rng, ids = self.rng, self.ids
        amount = rng.choice((*CHARGE_AMOUNTS, rng.randint(5, 600) * 100))
        paid = bool(obj["paid"])
        obj.update(
            amount=amount,
            amount_captured=amount if paid and obj["captured"] else 0,
            amount_refunded=0,
            balance_transaction=ids.timed("txn", created) if paid else None,
            created=created,
            currency=profile.currency,
            customer=profile.id,
            description=f"{rng.choice(ONE_OFF_DESCRIPTIONS)} (order {ids.digits(6)})",
            disputed=False,
            invoice=None,
            payment_intent=ids.timed("pi", created - 1),
            payment_method=profile.card.payment_method,
            receipt_email=profile.email,
            receipt_url=(
                f"https://pay.stripe.com/receipts/payment/{ids.random_chars(96)}"
                if obj["receipt_url"]
                else None
            ),
            refunded=False,
        )
        obj["refunds"].update(data=[], has_more=False)
        obj["billing_details"].update(
            address=profile.address, email=profile.email, name=profile.name, phone=profile.phone
        )
        card = (obj["payment_method_details"] or {}).get("card")
        if card is not None:
            self._shape_card(card, profile.card, amount)

    def _shape_card(self, details: dict[str, Any], card: Card, amount: int) -> None:
        details.update(
            amount_authorized=amount,
            brand=card.brand,
            country=card.country,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            fingerprint=card.fingerprint,
            funding=card.funding,
            last4=card.last4,
            network=card.brand,
            network_transaction_id=self.ids.digits(15),
        )
        details["overcapture"]["maximum_amount_capturable"] = amount

    # --------------------------------------------------------------- invoices

    def _invoices(self, count: int) -> Iterator[Entry]:
        templates = _templates(self.store, "invoice")
        by_currency: dict[str | None, list[_Template]] = {}
        for template in templates:
            by_currency.setdefault(template.currency, []).append(template)
        for created in self._times(count, since=self.customers.first()):
            profile = self.customers.pick(self.rng, created)
            template = self.rng.choice(by_currency.get(profile.currency) or templates)
            invoice_id = self.store.factory.new_id("invoice", created)
            obj = template.clone(invoice_id)
            self._shape_invoice(obj, profile, created - template.created)
            yield Entry.encoded((created, invoice_id), encode(obj))

    def _shape_invoice(self, obj: dict[str, Any], profile: _Profile, shift: int) -> None:
        created = obj["created"] + shift
        obj["created"] = created
        self._shift_times(obj, shift)
        for line in obj["lines"]["data"]:
            line["id"] = self.ids.timed("il", created)
            period = line.get("period") or {}
            for name in ("start", "end"):
                if isinstance(period.get(name), int):
                    period[name] += shift
        obj.update(
            customer=profile.id,
            customer_address=profile.address,
            customer_email=profile.email,
            customer_name=profile.name,
            customer_phone=profile.phone,
        )
        if obj["default_payment_method"]:
            obj["default_payment_method"] = profile.card.payment_method
        if obj["number"]:
            obj["number"] = profile.next_number()
        if obj["hosted_invoice_url"]:
            token = f"test_{self.ids.random_chars(40)}"
            obj["hosted_invoice_url"] = f"https://invoice.stripe.com/i/{self.account_id}/{token}"
            obj["invoice_pdf"] = (
                f"https://pay.stripe.com/invoice/{self.account_id}/{token}/pdf?s=ap"
            )

    # ---------------------------------------------------- balance transactions

    def _balance_transactions(self, count: int) -> Iterator[Entry]:
        templates = [
            t
            for t in _templates(self.store, "balance_transaction")
            if decode(t.data).get("fee_details")
        ]
        if not templates:
            raise ValueError("no seeded balance transaction with fees; raise the volume")
        for created in self._times(count):
            txn_id = self.store.factory.new_id("balance_transaction", created)
            obj = self.rng.choice(templates).clone(txn_id)
            self._shape_balance_transaction(obj, created)
            yield Entry.encoded((created, txn_id), encode(obj))

    def _shape_balance_transaction(self, obj: dict[str, Any], created: int) -> None:
        # Stripe's BalanceTransaction: net = amount - fee, fee = the sum of fee_details'
        # amounts, available_on a later date (stripe-node types/BalanceTransactions.d.ts).
        amount = self.rng.choice((*CHARGE_AMOUNTS, self.rng.randint(5, 600) * 100))
        fees = obj["fee_details"]
        for fee in fees:
            fee["amount"] = max(1, round(amount * 0.029) + 30) if fee is fees[0] else 0
        fee_total = sum(int(fee["amount"]) for fee in fees)
        obj.update(
            amount=amount,
            fee=fee_total,
            net=amount - fee_total,
            created=created,
            available_on=created + 2 * DAY,
            status="available" if created + 2 * DAY <= self.now else "pending",
        )

    # ----------------------------------------------------------------- events

    def _events(self, count: int) -> Iterator[Entry]:
        templates = _templates(self.store, "event")
        # Listed events go back 30 days; the last hour stays clear of bulk events, which a
        # change feed reading from a recent cursor would otherwise take for new changes.
        start = max(self.start, self.now - 30 * DAY + 3600)
        span = range(start, self.now - 3600)
        if count > len(span):
            raise ValueError(f"at most {len(span)} bulk events")
        for created in sorted(self.rng.sample(span, count)):
            event_id = self.store.factory.new_id("event", created)
            obj = self.rng.choice(templates).clone(event_id)
            obj["created"] = created
            yield Entry.encoded((created, event_id), encode(obj))

    def _shift_times(self, obj: dict[str, Any], shift: int) -> None:
        """Move the invoice's timestamps with its creation; past events stay in the past."""
        for name in _INVOICE_TIMES:
            if isinstance(obj.get(name), int):
                obj[name] += shift
        transitions = obj.get("status_transitions") or {}
        for times, names in ((obj, _INVOICE_PAST_TIMES), (transitions, tuple(transitions))):
            for name in names:
                if isinstance(times.get(name), int):
                    times[name] = min(times[name] + shift, self.now)
