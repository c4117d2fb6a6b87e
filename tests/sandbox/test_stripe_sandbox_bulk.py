"""Stripe sandbox bulk mode: many cloned customers, charges and invoices held as JSON."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.stripe import StripeSandbox
from sandbox.stripe.__main__ import build_parser
from sandbox.stripe.bulk import parse_bulk
from sandbox.stripe.clock import SandboxClock
from sandbox.stripe.store import Entry, encode

from .conftest import StripeHttp

BULK = {"charges": 2_000, "customers": 500, "invoices": 1_000}
SEED, VOLUME = 7, 20
ID_FORMATS = {
    "charges": re.compile(r"ch_3[0-9A-Za-z]{23}"),
    "customers": re.compile(r"cus_[0-9A-Za-z]{14}"),
    "invoices": re.compile(r"in_1[0-9A-Za-z]{23}"),
}
LIST_NAMES = sorted(BULK)


def make_sandbox(**bulk: int) -> StripeSandbox:
    return StripeSandbox(seed=SEED, volume=VOLUME, rate_limit=0, now=SandboxClock(), bulk=bulk)


def shape(value: Any) -> Any:
    """The nesting of ``value``: dict keys and list lengths, scalars reduced to ``None``."""
    if isinstance(value, dict):
        return tuple(sorted((key, shape(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(shape(item) for item in value)
    return None


def bulk_ids(sandbox: StripeSandbox, list_name: str, seeded: StripeSandbox) -> set[str]:
    everything = {entry.key[1] for entry in sandbox.store.sorted_entries(list_name)}
    return everything - {entry.key[1] for entry in seeded.store.sorted_entries(list_name)}


@pytest.fixture(scope="module")
def seeded_only() -> StripeSandbox:
    """The same account without bulk objects (not started)."""
    return make_sandbox()


@pytest.fixture(scope="module")
def bulk_sandbox() -> Iterator[StripeSandbox]:
    """A started sandbox with ``BULK`` objects, shared by read-only tests."""
    with make_sandbox(**BULK) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def bulk_http(bulk_sandbox: StripeSandbox) -> Iterator[StripeHttp]:
    client = StripeHttp(bulk_sandbox)
    yield client
    client.session.close()


@pytest.fixture
def small_bulk_http() -> Iterator[StripeHttp]:
    """A fresh started sandbox with a few bulk objects, for tests that change it."""
    with make_sandbox(charges=200, customers=100, invoices=100) as sandbox:
        client = StripeHttp(sandbox)
        yield client
        client.session.close()


# ------------------------------------------------------------------ contents


@pytest.mark.parametrize("list_name", LIST_NAMES)
def test_bulk_adds_the_requested_number_of_unique_stripe_ids(
    bulk_sandbox: StripeSandbox, seeded_only: StripeSandbox, list_name: str
) -> None:
    ids = [entry.key[1] for entry in bulk_sandbox.store.sorted_entries(list_name)]
    added = bulk_ids(bulk_sandbox, list_name, seeded_only)

    assert len(added) == BULK[list_name]
    assert len(set(ids)) == len(ids)
    assert all(ID_FORMATS[list_name].fullmatch(obj_id) for obj_id in ids)


@pytest.mark.parametrize("list_name", LIST_NAMES)
def test_bulk_objects_have_the_nested_structure_of_seeded_ones(
    bulk_sandbox: StripeSandbox, seeded_only: StripeSandbox, list_name: str
) -> None:
    seeded_shapes = {shape(entry.obj) for entry in seeded_only.store.sorted_entries(list_name)}
    added = bulk_ids(bulk_sandbox, list_name, seeded_only)
    bulk = [e.obj for e in bulk_sandbox.store.sorted_entries(list_name) if e.key[1] in added]

    assert {shape(obj) for obj in bulk} <= seeded_shapes
    assert all(obj["object"] == list_name[:-1] for obj in bulk)


@pytest.mark.parametrize("list_name", LIST_NAMES)
def test_bulk_objects_vary_and_have_distinct_creation_times_in_the_history(
    bulk_sandbox: StripeSandbox, seeded_only: StripeSandbox, list_name: str
) -> None:
    added = bulk_ids(bulk_sandbox, list_name, seeded_only)
    bulk = [e.obj for e in bulk_sandbox.store.sorted_entries(list_name) if e.key[1] in added]
    now = int(bulk_sandbox.clock())
    varied = {"charges": "amount", "customers": "email", "invoices": "customer"}[list_name]

    assert len({obj["created"] for obj in bulk}) == len(bulk)
    assert all(now - 120 * 86_400 <= obj["created"] < now for obj in bulk)
    assert len({obj[varied] for obj in bulk}) > len(bulk) // 20


def test_bulk_charges_and_invoices_belong_to_earlier_customers(
    bulk_sandbox: StripeSandbox, seeded_only: StripeSandbox
) -> None:
    store = bulk_sandbox.store
    customers = {e.key[1]: e.obj for e in store.sorted_entries("customers")}
    for list_name, email_field in (("charges", "receipt_email"), ("invoices", "customer_email")):
        added = bulk_ids(bulk_sandbox, list_name, seeded_only)
        for obj in (e.obj for e in store.sorted_entries(list_name) if e.key[1] in added):
            customer = customers[obj["customer"]]
            assert obj["created"] >= customer["created"]
            assert obj[email_field] == customer["email"]
            assert list_name == "invoices" or obj["currency"] == customer["currency"]


def test_bulk_charges_copy_their_customer_and_invoices_number_per_customer(
    bulk_sandbox: StripeSandbox, seeded_only: StripeSandbox
) -> None:
    store = bulk_sandbox.store
    customers = {e.key[1]: e.obj for e in store.sorted_entries("customers")}
    added = bulk_ids(bulk_sandbox, "charges", seeded_only)
    charges = [e.obj for e in store.sorted_entries("charges") if e.key[1] in added]
    numbers = Counter(
        (e.obj["customer"], e.obj["number"])
        for e in store.sorted_entries("invoices")
        if e.obj["number"]
    )

    for charge in charges:
        customer = customers[charge["customer"]]
        assert charge["billing_details"]["email"] == customer["email"]
        assert charge["billing_details"]["address"] == customer["address"]
        assert charge["refunds"]["url"] == f"/v1/charges/{charge['id']}/refunds"
    assert max(numbers.values()) == 1


def test_bulk_is_deterministic_and_emits_no_creation_events(
    bulk_sandbox: StripeSandbox, seeded_only: StripeSandbox
) -> None:
    again = make_sandbox(**BULK)

    for list_name in LIST_NAMES:
        first = bulk_sandbox.store.sorted_entries(list_name)
        second = again.store.sorted_entries(list_name)
        assert [e.json() for e in first] == [e.json() for e in second]
    assert len(bulk_sandbox.store.listable("events")) == len(seeded_only.store.listable("events"))


# ------------------------------------------------------------------ over HTTP


@pytest.mark.parametrize("list_name", LIST_NAMES)
def test_lists_page_through_bulk_objects_newest_first(
    bulk_http: StripeHttp, bulk_sandbox: StripeSandbox, list_name: str
) -> None:
    records = bulk_http.list_all(list_name)

    keys = [(record["created"], record["id"]) for record in records]
    assert keys == sorted(keys, reverse=True)
    assert [key[1] for key in keys] == [
        e.key[1] for e in reversed(bulk_sandbox.store.sorted_entries(list_name))
    ]


def test_created_slices_cover_every_charge_exactly_once(
    bulk_http: StripeHttp, bulk_sandbox: StripeSandbox
) -> None:
    entries = bulk_sandbox.store.sorted_entries("charges")
    low, high = entries[0].key[0], entries[-1].key[0] + 1
    bounds = [low + (high - low) * index // 4 for index in range(5)]

    ids: list[str] = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        records = bulk_http.list_all("charges", **{"created[gte]": start, "created[lt]": end})
        assert all(start <= record["created"] < end for record in records)
        ids += [record["id"] for record in records]

    assert len(ids) == len(set(ids)) == len(entries)


def test_ending_before_pages_back_over_bulk_charges(
    bulk_http: StripeHttp, bulk_sandbox: StripeSandbox
) -> None:
    newest_first = [e.key[1] for e in reversed(bulk_sandbox.store.sorted_entries("charges"))]
    cursor = newest_first[1_500]

    page = bulk_http.get("/v1/charges", params={"ending_before": cursor, "limit": 100}).json()

    assert [c["id"] for c in page["data"]] == newest_first[1_400:1_500]
    assert page["has_more"] is True


def test_retrieve_returns_the_listed_json(
    bulk_http: StripeHttp, bulk_sandbox: StripeSandbox
) -> None:
    for list_name in LIST_NAMES:
        page = bulk_http.get(f"/v1/{list_name}", params={"limit": 100}).json()
        for record in page["data"][::10]:
            retrieved = bulk_http.get(f"/v1/{list_name}/{record['id']}")
            assert retrieved.status_code == 200
            assert retrieved.json() == record
            assert retrieved.content == encode(record)


def test_filters_and_expand_work_on_bulk_objects(
    bulk_http: StripeHttp, bulk_sandbox: StripeSandbox
) -> None:
    newest = bulk_http.get("/v1/invoices", params={"limit": 1}).json()["data"][0]
    customer = newest["customer"]

    mine = bulk_http.list_all("invoices", customer=customer)
    expanded = bulk_http.get(
        "/v1/invoices", params={"limit": 1, "expand[]": "data.customer"}
    ).json()["data"][0]

    assert newest["id"] in {invoice["id"] for invoice in mine}
    assert all(invoice["customer"] == customer for invoice in mine)
    assert expanded["customer"]["id"] == customer


def test_updating_a_bulk_charge_emits_an_event_and_lists_the_new_version(
    small_bulk_http: StripeHttp,
) -> None:
    charges = small_bulk_http.list_all("charges")
    charge = charges[len(charges) // 2]

    response = small_bulk_http.post(
        f"/v1/charges/{charge['id']}", data={"metadata[benchmark]": "changed"}
    )
    event = small_bulk_http.get("/v1/events", params={"limit": 1}).json()["data"][0]
    listed = small_bulk_http.list_all("charges")

    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated == {**charge, "metadata": {"benchmark": "changed"}}
    assert event["type"] == "charge.updated"
    assert event["data"]["object"] == updated
    assert event["data"]["previous_attributes"] == {"metadata": {"benchmark": None}}
    assert listed[len(charges) // 2] == updated
    assert [c["id"] for c in listed] == [c["id"] for c in charges]
    assert small_bulk_http.get(f"/v1/charges/{charge['id']}").json() == updated


def test_deleting_a_bulk_customer(small_bulk_http: StripeHttp) -> None:
    customers = small_bulk_http.list_all("customers")
    customer = customers[3]

    deleted = small_bulk_http.delete(f"/v1/customers/{customer['id']}")
    event = small_bulk_http.get("/v1/events", params={"limit": 1}).json()["data"][0]
    retrieved = small_bulk_http.get(f"/v1/customers/{customer['id']}").json()

    assert deleted.json() == {"deleted": True, "id": customer["id"], "object": "customer"}
    assert event["type"] == "customer.deleted"
    # The full object as it was, no ``deleted`` field (stripe/stripe-dotnet#1870).
    assert event["data"]["object"] == customer
    assert retrieved == {"deleted": True, "id": customer["id"], "object": "customer"}
    remaining = small_bulk_http.list_all("customers")
    assert [c["id"] for c in remaining] == [c["id"] for c in customers if c != customer]


# ------------------------------------------------------------------ parts


def test_encoded_entries_decode_a_fresh_copy_each_time() -> None:
    entry = Entry.encoded((1, "cus_A"), b'{"id":"cus_A","created":1,"metadata":{}}')

    first = entry.obj
    first["metadata"]["x"] = "y"

    assert entry.obj == {"id": "cus_A", "created": 1, "metadata": {}}
    assert entry.snapshot() is not entry.snapshot()


@pytest.mark.parametrize(
    "value",
    [
        {"name": "Zoë", "nested": [1, 2.5, None, True], "emoji": "\U0001f600"},
        {1: "int key"},
        {"huge": 2**70},
    ],
)
def test_encode_matches_compact_stdlib_json(value: Any) -> None:
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    assert encode(value) == expected


def test_parse_bulk_accepts_types_and_list_names() -> None:
    assert parse_bulk("charges=110000, customer=30000,invoices=0") == {
        "charge": 110_000,
        "customer": 30_000,
        "invoice": 0,
    }
    assert build_parser().parse_args(["--bulk", "invoices=5"]).bulk == {"invoice": 5}


@pytest.mark.parametrize("text", ["charges", "charges=-1", "refunds=10", "nope=1"])
def test_parse_bulk_rejects_bad_input(text: str) -> None:
    with pytest.raises(ValueError, match=r"name=count|bulk objects can be"):
        parse_bulk(text)


def test_bulk_needs_seeded_objects_to_clone() -> None:
    with pytest.raises(ValueError, match="raise the volume"):
        StripeSandbox(seed=1, volume=0, rate_limit=0, bulk={"charges": 10})


# ------------------------------------------- balance transactions and events

LEDGER_BULK = {"balance_transactions": 300, "events": 300}


@pytest.fixture(scope="module")
def ledger_sandbox() -> Iterator[StripeSandbox]:
    """A started sandbox with bulk balance transactions and events."""
    with make_sandbox(**LEDGER_BULK) as sandbox:
        yield sandbox


@pytest.mark.parametrize(
    ("list_name", "id_format"),
    [
        pytest.param("balance_transactions", r"txn_[0-9A-Za-z]{24}", id="balance_transactions"),
        pytest.param("events", r"evt_[0-9A-Za-z]{24}", id="events"),
    ],
)
def test_bulk_ledger_objects_are_unique_clones_with_distinct_times(
    ledger_sandbox: StripeSandbox, seeded_only: StripeSandbox, list_name: str, id_format: str
) -> None:
    added = bulk_ids(ledger_sandbox, list_name, seeded_only)
    bulk = [e.obj for e in ledger_sandbox.store.sorted_entries(list_name) if e.key[1] in added]
    seeded_ids = {e.key[1] for e in seeded_only.store.sorted_entries(list_name)}
    now = int(ledger_sandbox.clock())

    assert len(bulk) == LEDGER_BULK[list_name]
    assert all(re.fullmatch(id_format, obj["id"]) for obj in bulk)
    assert not added & seeded_ids
    assert len({obj["created"] for obj in bulk}) == len(bulk)
    assert all(obj["object"] == list_name[:-1] for obj in bulk)
    assert all(obj["created"] < now - 3600 for obj in bulk)  # clear of a recent feed cursor


def test_bulk_balance_transactions_keep_their_fee_details_and_add_up(
    ledger_sandbox: StripeSandbox, seeded_only: StripeSandbox
) -> None:
    added = bulk_ids(ledger_sandbox, "balance_transactions", seeded_only)
    bulk = [
        e.obj
        for e in ledger_sandbox.store.sorted_entries("balance_transactions")
        if e.key[1] in added
    ]

    assert all(obj["fee_details"] for obj in bulk)
    assert all(obj["fee"] == sum(f["amount"] for f in obj["fee_details"]) for obj in bulk)
    assert all(obj["net"] == obj["amount"] - obj["fee"] for obj in bulk)
    assert len({obj["amount"] for obj in bulk}) > 5


def test_bulk_events_are_listed_and_deterministic(
    ledger_sandbox: StripeSandbox, seeded_only: StripeSandbox
) -> None:
    listed = {obj["id"] for obj in ledger_sandbox.store.listable("events")}
    added = bulk_ids(ledger_sandbox, "events", seeded_only)
    again = make_sandbox(**LEDGER_BULK)

    assert added <= listed  # inside Stripe's 30-day listing window
    assert [e.json() for e in again.store.sorted_entries("events")] == [
        e.json() for e in ledger_sandbox.store.sorted_entries("events")
    ]


def test_parse_bulk_accepts_ledger_types() -> None:
    assert parse_bulk("balance_transactions=3,events=4") == {"balance_transaction": 3, "event": 4}
