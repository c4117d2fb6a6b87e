"""Seeded Stripe sandbox data: determinism, realism, shapes, types and references."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox.stripe import SandboxClock, StripeSandbox
from sandbox.stripe.fixtures import fixture
from sandbox.stripe.resources import BY_LIST_NAME, OBJECT_TYPES, RESOURCES

from .conftest import StripeHttp

DAY = 86_400
LIST_NAMES = sorted(BY_LIST_NAME)


def listed(sandbox: StripeSandbox, list_name: str) -> list[dict[str, Any]]:
    return sandbox.store.listable(list_name)


def test_same_seed_volume_and_clock_give_identical_bytes(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
) -> None:
    first = stripe_sandbox_factory(seed=7, volume=30, now=SandboxClock())
    second = stripe_sandbox_factory(seed=7, volume=30, now=SandboxClock())

    for list_name in LIST_NAMES:
        raw = [
            b"".join(e.json() for e in sb.store.sorted_entries(list_name)) for sb in (first, second)
        ]
        assert raw[0] == raw[1], list_name
    pages = [
        StripeHttp(sb).get("/v1/charges", params={"limit": 100}).content for sb in (first, second)
    ]
    assert pages[0] == pages[1]


def test_another_seed_gives_another_account(
    stripe_sandbox_factory: Callable[..., StripeSandbox],
) -> None:
    clock = SandboxClock()
    one = stripe_sandbox_factory(seed=1, now=clock)
    two = stripe_sandbox_factory(seed=2, now=clock)

    assert {c["id"] for c in listed(one, "customers")}.isdisjoint(
        c["id"] for c in listed(two, "customers")
    )


@pytest.mark.parametrize("volume", [5, 40], ids=["small", "forty"])
def test_volume_is_the_number_of_customers(
    stripe_sandbox_factory: Callable[..., StripeSandbox], volume: int
) -> None:
    sandbox = stripe_sandbox_factory(volume=volume, now=SandboxClock())
    created = [
        e.obj for e in sandbox.store.sorted_entries("events") if e.obj["type"] == "customer.created"
    ]

    assert len(created) == volume
    assert len(listed(sandbox, "charges")) >= volume
    assert len(listed(sandbox, "products")) >= 3


def test_created_times_spread_over_120_days(stripe_readonly: StripeSandbox) -> None:
    now = stripe_readonly.store.now()
    times = [
        o["created"]
        for name in ("customers", "charges", "invoices")
        for o in listed(stripe_readonly, name)
    ]

    assert min(times) >= now - 121 * DAY and max(times) <= now
    assert min(times) < now - 90 * DAY
    assert sum(t < now - 30 * DAY for t in times) > len(times) // 3


ID_PATTERNS = {
    "customer": r"cus_[0-9A-Za-z]{14}",
    "product": r"prod_[0-9A-Za-z]{14}",
    "price": r"price_1[0-9A-Za-z]{23}",
    "plan": r"price_1[0-9A-Za-z]{23}",
    "coupon": r"\d+(OFF|USD)_[a-z0-9]{4}",
    "charge": r"ch_3[0-9A-Za-z]{23}",
    "payment_intent": r"pi_3[0-9A-Za-z]{23}",
    "invoice": r"in_1[0-9A-Za-z]{23}",
    "invoiceitem": r"ii_1[0-9A-Za-z]{23}",
    "subscription": r"sub_1[0-9A-Za-z]{23}",
    "balance_transaction": r"txn_1[0-9A-Za-z]{23}",
    "payout": r"po_1[0-9A-Za-z]{23}",
    "transfer": r"tr_1[0-9A-Za-z]{23}",
    "refund": r"re_1[0-9A-Za-z]{23}",
    "dispute": r"dp_1[0-9A-Za-z]{23}",
    "setup_intent": r"seti_1[0-9A-Za-z]{23}",
    "event": r"evt_1[0-9A-Za-z]{23}",
}


@pytest.mark.parametrize("type_name", sorted(ID_PATTERNS), ids=str)
def test_ids_look_like_stripe_ids(stripe_readonly: StripeSandbox, type_name: str) -> None:
    objects = listed(stripe_readonly, RESOURCES[type_name].list_name)

    assert objects
    assert all(re.fullmatch(ID_PATTERNS[type_name], o["id"]) for o in objects)
    assert len({o["id"] for o in objects}) == len(objects)


@pytest.mark.parametrize("type_name", OBJECT_TYPES, ids=str)
def test_objects_keep_the_fixture_shape(stripe_readonly: StripeSandbox, type_name: str) -> None:
    template = fixture(type_name)
    extra = {"invoice"} if type_name == "charge" else set()

    for obj in listed(stripe_readonly, RESOURCES[type_name].list_name):
        assert set(obj) == set(template) | extra
        assert obj["object"] == type_name and obj.get("livemode", False) is False


def walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, f"{path}[]")


def json_type(value: Any) -> str:
    return "bool" if isinstance(value, bool) else type(value).__name__


def test_no_fixture_placeholders_survive(stripe_readonly: StripeSandbox) -> None:
    placeholders = {"obj_123", "currency", "type", "status", "flow", 1234567890, 1028554472}
    found = [
        (path, value)
        for name in LIST_NAMES
        for obj in listed(stripe_readonly, name)
        for path, value in walk(obj, name)
        if isinstance(value, (str, int)) and value in placeholders
    ]

    assert found == []


def field_types(objects: list[dict[str, Any]], root: str) -> dict[str, set[str]]:
    """JSON types seen at each path (nulls aside)."""
    types: dict[str, set[str]] = defaultdict(set)
    for obj in objects:
        for path, value in walk(obj, root):
            if value is not None:
                types[path].add(json_type(value))
    return types


@pytest.mark.parametrize("list_name", [n for n in LIST_NAMES if n != "events"], ids=str)
def test_field_types_are_stable_across_objects(
    stripe_readonly: StripeSandbox, list_name: str
) -> None:
    types = field_types(listed(stripe_readonly, list_name), list_name)

    unstable = {path: kinds for path, kinds in types.items() if len(kinds) > 1}
    assert unstable == {}


def test_objects_created_through_the_api_have_the_seeded_types(
    stripe_sandbox: StripeSandbox,
) -> None:
    store = stripe_sandbox.store
    store.create("customer", email="api@example.com")
    customer = store.listable("customers")[0]["id"]
    price = next(p["id"] for p in store.listable("prices") if p["type"] == "recurring")
    store.create("subscription", customer=customer, items=[{"price": price}])

    for list_name in ("customers", "subscriptions"):
        types = field_types(listed(stripe_sandbox, list_name), list_name)
        assert {path: kinds for path, kinds in types.items() if len(kinds) > 1} == {}, list_name


def test_amounts_are_ints_and_percentages_floats(stripe_readonly: StripeSandbox) -> None:
    coupons = listed(stripe_readonly, "coupons")
    charges = listed(stripe_readonly, "charges")

    assert all(isinstance(c["percent_off"], float) for c in coupons if c["percent_off"] is not None)
    assert all(type(c["amount"]) is int and c["amount"] > 0 for c in charges)
    assert {c["currency"] for c in charges} <= {"usd", "eur", "gbp"}


def ids_at(obj: dict[str, Any], path: str) -> list[str]:
    """Values at a dotted path; ``[]`` walks lists; ``None`` values are skipped."""
    values: list[Any] = [obj]
    for part in path.split("."):
        step = []
        for value in values:
            if part.endswith("[]"):
                step.extend(value.get(part[:-2]) or [])
            elif value is not None:
                step.append(value.get(part))
        values = step
    return [value for value in values if value is not None]


RELATIONS = [
    ("prices", "product", "product"),
    ("plans", "product", "product"),
    ("products", "default_price", "price"),
    ("customers", "discount.source.coupon", "coupon"),
    ("subscriptions", "customer", "customer"),
    ("subscriptions", "items.data[].price.id", "price"),
    ("subscriptions", "latest_invoice", "invoice"),
    ("invoices", "customer", "customer"),
    ("invoices", "subscription", "subscription"),
    ("invoices", "lines.data[].pricing.price_details.price", "price"),
    ("invoiceitems", "customer", "customer"),
    ("invoiceitems", "invoice", "invoice"),
    ("invoiceitems", "pricing.price_details.price", "price"),
    ("payment_intents", "customer", "customer"),
    ("payment_intents", "latest_charge", "charge"),
    ("charges", "customer", "customer"),
    ("charges", "payment_intent", "payment_intent"),
    ("charges", "balance_transaction", "balance_transaction"),
    ("charges", "invoice", "invoice"),
    ("refunds", "charge", "charge"),
    ("refunds", "payment_intent", "payment_intent"),
    ("refunds", "balance_transaction", "balance_transaction"),
    ("disputes", "charge", "charge"),
    ("disputes", "payment_intent", "payment_intent"),
    ("setup_intents", "customer", "customer"),
    ("payouts", "balance_transaction", "balance_transaction"),
    ("transfers", "balance_transaction", "balance_transaction"),
]


@pytest.fixture(scope="module")
def larger_account() -> StripeSandbox:
    """A bigger seeded account, read through its store only (never started)."""
    return StripeSandbox(seed=3, volume=80, now=SandboxClock())


@pytest.mark.parametrize(
    "list_name, path, target", RELATIONS, ids=[f"{n}.{p}" for n, p, _ in RELATIONS]
)
def test_references_point_at_existing_objects(
    larger_account: StripeSandbox, list_name: str, path: str, target: str
) -> None:
    sandbox = larger_account
    references = [ref for obj in listed(sandbox, list_name) for ref in ids_at(obj, path)]

    missing = [ref for ref in references if sandbox.store.get(target, ref) is None]

    assert references, f"no {list_name}.{path} references to check"
    assert missing == []


def test_money_flows_agree(stripe_readonly: StripeSandbox) -> None:
    store = stripe_readonly.store
    for charge in listed(stripe_readonly, "charges"):
        intent = store.get("payment_intent", charge["payment_intent"])
        assert (intent["amount"], intent["currency"]) == (charge["amount"], charge["currency"])
        if charge["invoice"]:
            assert store.get("invoice", charge["invoice"])["total"] == charge["amount"]
        if charge["status"] == "succeeded":
            txn = store.get("balance_transaction", charge["balance_transaction"])
            assert txn["source"] == charge["id"] and txn["net"] == txn["amount"] - txn["fee"]
    for refund in listed(stripe_readonly, "refunds"):
        assert refund["amount"] <= store.get("charge", refund["charge"])["amount"]


def test_subscription_statuses_are_varied_and_consistent(larger_account: StripeSandbox) -> None:
    sandbox = larger_account
    subscriptions = listed(sandbox, "subscriptions")
    by_status = defaultdict(list)
    for subscription in subscriptions:
        by_status[subscription["status"]].append(subscription)

    assert set(by_status) >= {"active", "canceled", "past_due", "trialing"}
    assert all(s["canceled_at"] and s["ended_at"] for s in by_status["canceled"])
    assert all(s["trial_end"] > sandbox.store.now() for s in by_status["trialing"])
    assert all(s["canceled_at"] is None for s in by_status["active"])
