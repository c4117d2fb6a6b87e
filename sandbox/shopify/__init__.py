"""A local emulator of Shopify's Admin GraphQL API (``server.py``).

It executes queries with graphql-core against an SDL subset of the 2025-01 Admin schema
(``schema.py``), charges their calculated cost to a leaky bucket (``cost.py``,
``bucket.py``), runs bulk operations with JSONL results (``bulk.py``) and sends signed
webhooks (``webhooks.py``). Contract: /tmp/prompts/contract_shopify.md.

Deviations from / additions to the contract: the store's public views (``products()``...)
hold GraphQL field names plus ``variants``, ``lineItems``, ``refunds``, ``fulfillments``,
``customerId``, ``productIds`` (collections), ``inventoryLevels``; ``Order.refunds`` and
``Order.fulfillments`` are lists with ``first`` (as on Shopify), not connections. Extras:
``sb.post(query, variables)``, ``sb.remove_scope()``/``grant_scope()``,
``sb.webhooks.deliveries``, ``sb.bulk`` and the ``bulk_polls_to_complete`` argument. The
default clock is a ``ManualClock``: the bucket refills only on ``advance()``; pass
``clock=time.time`` (as ``python -m sandbox.shopify`` does) for wall-clock refills, or a
``ScaledClock(scale)`` shared with the client (benchmarks).
"""

from .clock import ManualClock, ScaledClock
from .faults import Faults
from .seed import Volume
from .server import ShopifySandbox

__all__ = ["Faults", "ManualClock", "ScaledClock", "ShopifySandbox", "Volume"]
