"""The shop's data, its mutations (each bumps ``updatedAt``) and its deletion events.

Deletion events exist for products and collections only (``DeletionEventSubjectType``
is ``COLLECTION | PRODUCT``,
https://shopify.dev/docs/api/admin-graphql/2025-01/enums/deletioneventsubjecttype);
customers and orders leave no trace but their ``*/delete`` webhook.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from typing import Any, Optional

from .clock import Clock, iso
from .seed import Record, ShopFactory, Volume, stamp

KINDS = ("product", "customer", "order", "collection")
_TYPE_NAMES = {
    "product": "Product",
    "customer": "Customer",
    "order": "Order",
    "collection": "Collection",
}
_DELETION_SUBJECTS = {"product": "PRODUCT", "collection": "COLLECTION"}

Listener = Callable[[str, str, Record], None]
"""``(kind, action, record)`` after a mutation; ``action`` is create, update or delete."""


class UnknownObjectError(KeyError):
    """No object of that kind has that id."""


class Store:
    """Every object of the shop by global id. Guard reads with ``lock`` (an RLock)."""

    def __init__(self, seed: int, clock: Clock, volume: Optional[Volume] = None) -> None:
        """Seeds the shop from ``seed``, its history ending at ``clock()``."""
        self.lock = threading.RLock()
        self.clock = clock
        self.volume = volume or Volume()
        self.factory = ShopFactory(seed, clock(), self.volume.max_variants)
        self.factory.max_line_items = max(1, self.volume.max_line_items)
        self.tables: dict[str, dict[str, Record]] = {kind: {} for kind in KINDS}
        self.locations: dict[str, Record] = {}
        self.deletions: list[Record] = []
        self.listeners: list[Listener] = []
        self._order_number = 1000
        self._seed()

    def _seed(self) -> None:
        volume, factory = self.volume, self.factory
        for _ in range(volume.products):
            self._put("product", factory.product())
        for _ in range(volume.customers):
            self._put("customer", factory.customer())
        customers = list(self.tables["customer"].values())
        products = list(self.tables["product"].values())
        for _ in range(volume.orders):
            customer = factory.rng.choice(customers) if customers else None
            self._put("order", self._new_order(customer, products))
        for _ in range(volume.collections):
            self._put("collection", factory.collection(products))
        for index in range(volume.locations):
            location = factory.location(index)
            self.locations[location["id"]] = location
        for product in products:
            self._stock(product)

    def _new_order(self, customer: Optional[Record], products: list[Record]) -> Record:
        self._order_number += 1
        return self.factory.order(self._order_number, customer, products)

    def _stock(self, product: Record) -> None:
        for location in self.locations.values():
            for variant in product["_variants"]:
                location["_levels"].append(self.factory.inventory_level(location, variant))

    def _put(self, kind: str, record: Record) -> None:
        self.tables[kind][record["id"]] = record

    # -- reads ------------------------------------------------------------------------

    def records(self, kind: str) -> list[Record]:
        """The live records of ``kind`` (not copies: hold ``lock``)."""
        return list(self.tables[kind].values())

    def get(self, kind: str, object_id: str) -> Optional[Record]:
        """One record of ``kind`` or None."""
        return self.tables[kind].get(object_id)

    def find(self, object_id: str) -> Optional[Record]:
        """Any object with global id ``object_id`` (for ``node``/``nodes``)."""
        for kind in KINDS:
            if object_id in self.tables[kind]:
                return self.tables[kind][object_id]
        if object_id in self.locations:
            return self.locations[object_id]
        for child in self._children():
            if child["id"] == object_id:
                return child
        return None

    def _children(self) -> Iterator[Record]:
        for product in self.tables["product"].values():
            for variant in product["_variants"]:
                yield variant
                yield variant["inventoryItem"]
        for order in self.tables["order"].values():
            yield from order["_line_items"]
            yield from order["_fulfillments"]
            yield from order["_refunds"]
        for location in self.locations.values():
            yield from location["_levels"]

    def inventory_levels(self) -> list[Record]:
        """Every inventory level, public fields only (copies)."""
        with self.lock:
            return [public(level) for loc in self.locations.values() for level in loc["_levels"]]

    def products(self) -> list[Record]:
        """Every product with its ``variants`` (copies, public fields)."""
        return self._public("product")

    def customers(self) -> list[Record]:
        """Every customer (copies)."""
        return self._public("customer")

    def orders(self) -> list[Record]:
        """Every order with ``lineItems``, ``refunds`` and ``fulfillments`` (copies)."""
        return self._public("order")

    def collections(self) -> list[Record]:
        """Every collection with its ``productIds`` (copies)."""
        return self._public("collection")

    def deletion_events(self) -> list[Record]:
        """Every deletion event so far (copies)."""
        with self.lock:
            return [public(event) for event in self.deletions]

    def _public(self, kind: str) -> list[Record]:
        with self.lock:
            return [public(record) for record in self.tables[kind].values()]

    # -- mutations --------------------------------------------------------------------

    def update(self, kind: str, object_id: str, **fields: Any) -> Record:
        """Sets ``fields`` (GraphQL names) on one object and bumps its ``updatedAt``.

        Raises:
            UnknownObjectError: No such object.
        """
        with self.lock:
            record = self._require(kind, object_id)
            record.update(fields)
            now = float(int(self.clock()))
            record.update(updatedAt=iso(now), _updated=now)
            snapshot = copy.deepcopy(record)
        self._notify(kind, "update", snapshot)
        return snapshot

    def create(self, kind: str, **fields: Any) -> str:
        """A new object of ``kind`` created now (``fields`` override); returns its id."""
        self._check_kind(kind)
        with self.lock:
            self.factory.now = self.clock()
            products = self.records("product")
            if kind == "product":
                record = self.factory.product(**fields)
            elif kind == "customer":
                record = self.factory.customer(**fields)
            elif kind == "order":
                customers = self.records("customer")
                record = self._new_order(customers[0] if customers else None, products)
                record.update(fields)
            else:
                record = self.factory.collection(products, **fields)
            now = float(int(self.clock()))
            stamp(record, now, now)
            if kind == "order":
                record["processedAt"] = iso(now)
            self._put(kind, record)
            if kind == "product":
                for variant in record["_variants"]:
                    stamp(variant, now, now)
                self._stock(record)
            snapshot = copy.deepcopy(record)
        self._notify(kind, "create", snapshot)
        return str(record["id"])

    def delete(self, kind: str, object_id: str) -> None:
        """Removes an object; products and collections leave a deletion event.

        Raises:
            UnknownObjectError: No such object.
        """
        with self.lock:
            record = self._require(kind, object_id)
            del self.tables[kind][object_id]
            if kind == "product":
                self._unlink_product(object_id)
            subject = _DELETION_SUBJECTS.get(kind)
            if subject is not None:
                now = float(int(self.clock()))
                self.deletions.append(
                    {
                        "subjectId": object_id,
                        "subjectType": subject,
                        "occurredAt": iso(now),
                        "_num": len(self.deletions) + 1,
                        "_created": now,
                        "_updated": now,
                    }
                )
            snapshot = copy.deepcopy(record)
        self._notify(kind, "delete", snapshot)

    def _unlink_product(self, product_id: str) -> None:
        for collection in self.tables["collection"].values():
            if product_id in collection["_product_ids"]:
                collection["_product_ids"].remove(product_id)
        for location in self.locations.values():
            location["_levels"] = [
                level
                for level in location["_levels"]
                if level["_item"]["id"] not in self._item_ids_gone()
            ]

    def _item_ids_gone(self) -> set[str]:
        live = {
            variant["inventoryItem"]["id"]
            for product in self.tables["product"].values()
            for variant in product["_variants"]
        }
        every = {
            level["_item"]["id"]
            for location in self.locations.values()
            for level in location["_levels"]
        }
        return every - live

    def _require(self, kind: str, object_id: str) -> Record:
        self._check_kind(kind)
        record = self.tables[kind].get(object_id)
        if record is None:
            raise UnknownObjectError(f"no {kind} {object_id}")
        return record

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")

    def _notify(self, kind: str, action: str, record: Record) -> None:
        for listener in list(self.listeners):
            listener(kind, action, record)


def type_name(kind: str) -> str:
    """The GraphQL type of a store kind (``product`` -> ``Product``)."""
    return _TYPE_NAMES[kind]


_RENAMED = {
    "_variants": "variants",
    "_line_items": "lineItems",
    "_refunds": "refunds",
    "_fulfillments": "fulfillments",
    "_product_ids": "productIds",
    "_customer_id": "customerId",
    "_levels": "inventoryLevels",
    "_quantities": "quantities",
    "_location_id": "locationId",
    "_item": "item",
}


def public(record: Record) -> Record:
    """A deep copy without the store's bookkeeping (``_`` keys; nested lists renamed)."""
    out: Record = {}
    for key, value in record.items():
        if key.startswith("_") and key not in _RENAMED:
            continue
        name = _RENAMED.get(key, key)
        if isinstance(value, dict):
            out[name] = public(value)
        elif isinstance(value, list):
            out[name] = [public(v) if isinstance(v, dict) else v for v in value]
        else:
            out[name] = copy.deepcopy(value)
    return out
