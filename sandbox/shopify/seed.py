"""A seeded shop: products with variants, customers, orders, collections, locations.

Values are plausible for a small apparel shop; every one comes from ``random.Random(seed)``
so two sandboxes with the same seed serve the same shop. Numeric ids grow with creation
order, as Shopify's do (the ``id:>`` search and ``sortKey: ID`` rely on it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .clock import iso

Record = dict[str, Any]

DAY_S = 86_400.0
SHOP_DOMAIN = "sluice-sandbox.myshopify.com"

_ADJECTIVES = ("Classic", "Organic", "Vintage", "Everyday", "Merino", "Linen", "Canvas", "Alpine")
_NOUNS = ("T-Shirt", "Hoodie", "Beanie", "Tote Bag", "Sneaker", "Scarf", "Jacket", "Sock Pack")
_VENDORS = ("Northwind Apparel", "Harbor & Co", "Fjord Goods", "Maple Supply")
_SIZES = ("XS", "S", "M", "L", "XL")
_FIRST = ("Ada", "Grace", "Linus", "Maya", "Noah", "Olivia", "Ravi", "Sofia", "Tom", "Yuki")
_LAST = ("Lovelace", "Hopper", "Nguyen", "Schmidt", "Okafor", "Rossi", "Kim", "Silva")
_CITIES = ("Montreal Warehouse", "Berlin Store", "Austin Pop-up", "Leeds Depot")


@dataclass(frozen=True)
class Volume:
    """How many objects the seeded shop holds."""

    products: int = 30
    max_variants: int = 4
    customers: int = 25
    orders: int = 40
    max_line_items: int = 3
    collections: int = 4
    locations: int = 2


class Ids:
    """Numeric ids per resource type, increasing with a seeded step (like Shopify's)."""

    def __init__(self, rng: random.Random) -> None:
        """Starts every type at a realistic 13-digit id."""
        self._rng = rng
        self._next: dict[str, int] = {}

    def next(self, kind: str) -> int:
        """The next id of ``kind`` (``Product``, ``ProductVariant``...)."""
        current = self._next.get(kind, 7_000_000_000_000 + self._rng.randrange(10**9))
        self._next[kind] = current + self._rng.randint(1, 97)
        return current


def gid(kind: str, number: int) -> str:
    """``gid://shopify/<kind>/<number>``: a global id (https://shopify.dev/docs/api/usage/gids)."""
    return f"gid://shopify/{kind}/{number}"


def money(amount: float, currency: str = "USD") -> Record:
    """A ``MoneyV2``."""
    return {"amount": f"{amount:.2f}", "currencyCode": currency}


def money_bag(amount: float, currency: str = "USD") -> Record:
    """A ``MoneyBag`` (shop and presentment money equal: a single-currency shop)."""
    return {"shopMoney": money(amount, currency), "presentmentMoney": money(amount, currency)}


def stamp(record: Record, created: float, updated: float) -> Record:
    """Sets ``createdAt``/``updatedAt`` and the numeric times the search filters compare."""
    record.update(
        createdAt=iso(created), updatedAt=iso(updated), _created=created, _updated=updated
    )
    return record


def _base(ids: Ids, kind: str) -> Record:
    number = ids.next(kind)
    return {"id": gid(kind, number), "legacyResourceId": str(number), "_num": number}


class ShopFactory:
    """Builds records; the seed and later ``create()`` calls share it."""

    def __init__(self, seed: int, now: float, max_variants: int = 4) -> None:
        """A factory whose history ends at ``now``."""
        self.max_variants = max(1, max_variants)
        self.max_line_items = 3
        self.rng = random.Random(f"{seed}:shop")
        self.ids = Ids(self.rng)
        self.now = now

    def _times(self) -> tuple[float, float]:
        created = self.now - self.rng.uniform(5, 400) * DAY_S
        updated = min(self.now - 60, created + self.rng.uniform(0, 30) * DAY_S)
        return float(int(created)), float(int(updated))

    def variant(self, product: Record, position: int, created: float) -> Record:
        """A variant of ``product`` with its inventory item."""
        record = _base(self.ids, "ProductVariant")
        sku = f"{product['handle'][:8].upper()}-{_SIZES[position % len(_SIZES)]}"
        item = stamp(_base(self.ids, "InventoryItem"), created, created)
        item.update(sku=sku, tracked=True)
        price = self.rng.choice((19.0, 24.5, 39.0, 59.0, 89.0))
        record.update(
            title=_SIZES[position % len(_SIZES)],
            sku=sku,
            barcode=str(self.rng.randrange(10**11, 10**12)),
            price=f"{price:.2f}",
            compareAtPrice=None,
            position=position + 1,
            inventoryQuantity=self.rng.randint(0, 120),
            inventoryItem=item,
            _product_id=product["id"],
        )
        return stamp(record, created, created)

    def product(self, **fields: Any) -> Record:
        """A product with 1..``max_variants`` variants (``fields`` override)."""
        created, updated = self._times()
        record = _base(self.ids, "Product")
        title = f"{self.rng.choice(_ADJECTIVES)} {self.rng.choice(_NOUNS)}"
        record.update(
            title=title,
            handle=f"{title.lower().replace(' ', '-').replace('&', 'and')}-{record['_num'] % 1000}",
            descriptionHtml=f"<p>{title}, made to last.</p>",
            vendor=self.rng.choice(_VENDORS),
            productType=title.split(" ", 1)[1],
            status=self.rng.choices(("ACTIVE", "DRAFT", "ARCHIVED"), (8, 1, 1))[0],
            tags=sorted(self.rng.sample(("new", "sale", "eco", "bestseller", "gift"), 2)),
            publishedAt=iso(created),
        )
        stamp(record, created, updated)
        count = self.rng.randint(1, self.max_variants)
        record["_variants"] = [self.variant(record, i, created) for i in range(count)]
        record.update(fields)
        record["totalInventory"] = sum(v["inventoryQuantity"] for v in record["_variants"])
        return record

    def customer(self, **fields: Any) -> Record:
        """A customer."""
        created, updated = self._times()
        record = _base(self.ids, "Customer")
        first, last = self.rng.choice(_FIRST), self.rng.choice(_LAST)
        record.update(
            firstName=first,
            lastName=last,
            displayName=f"{first} {last}",
            email=f"{first}.{last}.{record['_num'] % 10000}@example.com".lower(),
            phone=None,
            state=self.rng.choices(("ENABLED", "DISABLED", "INVITED"), (6, 2, 1))[0],
            verifiedEmail=self.rng.random() < 0.9,
            taxExempt=False,
            tags=[],
            numberOfOrders="0",
            amountSpent=money(0.0),
            note=None,
        )
        stamp(record, created, updated)
        record.update(fields)
        return record

    def order(
        self, number: int, customer: Record | None, products: list[Record], **fields: Any
    ) -> Record:
        """An order with line items, maybe a fulfillment and a refund."""
        created, updated = self._times()
        record = _base(self.ids, "Order")
        lines: list[Record] = []
        for _ in range(self.rng.randint(1, self.max_line_items)) if products else ():
            product = self.rng.choice(products)
            variant = self.rng.choice(product["_variants"])
            quantity = self.rng.randint(1, 3)
            line = _base(self.ids, "LineItem")
            line.update(
                title=product["title"],
                name=f"{product['title']} - {variant['title']}",
                sku=variant["sku"],
                quantity=quantity,
                currentQuantity=quantity,
                originalUnitPriceSet=money_bag(float(variant["price"])),
                _variant_id=variant["id"],
                _product_id=product["id"],
                _price=float(variant["price"]) * quantity,
            )
            lines.append(line)
        total = sum(line["_price"] for line in lines)
        fulfilled = self.rng.random() < 0.6
        refunded = fulfilled and self.rng.random() < 0.2
        record.update(
            name=f"#{number}",
            email=customer["email"] if customer else None,
            processedAt=iso(created),
            cancelledAt=None,
            closedAt=iso(updated) if fulfilled else None,
            currencyCode="USD",
            displayFinancialStatus="PARTIALLY_REFUNDED" if refunded else "PAID",
            displayFulfillmentStatus="FULFILLED" if fulfilled else "UNFULFILLED",
            totalPriceSet=money_bag(total),
            subtotalPriceSet=money_bag(total),
            totalRefundedSet=money_bag(0.0),
            tags=[],
            test=False,
            _customer_id=customer["id"] if customer else None,
            _line_items=lines,
            _fulfillments=[],
            _refunds=[],
        )
        stamp(record, created, updated)
        if fulfilled:
            fulfillment = stamp(_base(self.ids, "Fulfillment"), created + 3600, updated)
            fulfillment.update(
                name=f"#{number}-F1",
                status="SUCCESS",
                trackingInfo=[{"company": "UPS", "number": f"1Z{number:010d}", "url": None}],
            )
            record["_fulfillments"].append(fulfillment)
        if refunded and lines:
            amount = lines[0]["_price"]
            refund = stamp(_base(self.ids, "Refund"), updated, updated)
            refund.update(note="Customer return", totalRefundedSet=money_bag(amount))
            record["_refunds"].append(refund)
            record["totalRefundedSet"] = money_bag(amount)
        record.update(fields)
        return record

    def collection(self, products: list[Record], **fields: Any) -> Record:
        """A manual collection of some products."""
        created, updated = self._times()
        record = _base(self.ids, "Collection")
        title = self.rng.choice(("Summer", "Winter", "Essentials", "Gifts", "Outlet", "New In"))
        picked = self.rng.sample(products, min(len(products), self.rng.randint(3, 10)))
        record.update(
            title=f"{title} {record['_num'] % 100}",
            handle=f"{title.lower().replace(' ', '-')}-{record['_num'] % 100}",
            descriptionHtml="",
            sortOrder="MANUAL",
            _product_ids=[p["id"] for p in picked],
        )
        stamp(record, created, updated)
        record.update(fields)
        return record

    def location(self, index: int) -> Record:
        """A location (its inventory levels are added by the store)."""
        created, updated = self._times()
        record = _base(self.ids, "Location")
        record.update(name=_CITIES[index % len(_CITIES)], isActive=True, _levels=[])
        return stamp(record, created, updated)

    def inventory_level(self, location: Record, variant: Record) -> Record:
        """The stock of ``variant``'s item at ``location``."""
        item = variant["inventoryItem"]
        number = item["_num"]
        loc = location["_num"]
        record: Record = {
            # InventoryLevel gids carry the item as a query parameter on Shopify.
            "id": f"gid://shopify/InventoryLevel/{loc}?inventory_item_id={number}",
            "_num": number * 1000 + loc % 1000,
            "canDeactivate": True,
            "_item": item,
            "_location_id": location["id"],
            "_quantities": {
                "available": self.rng.randint(0, 60),
                "on_hand": self.rng.randint(0, 80),
                "committed": self.rng.randint(0, 5),
            },
        }
        return stamp(record, variant["_created"], variant["_updated"])
