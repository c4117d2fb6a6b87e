"""Backfills by bulk operation: run, poll with backoff, read the JSONL, reassemble.

Lifecycle (https://shopify.dev/docs/api/usage/bulk-operations/queries): the
``bulkOperationRunQuery`` mutation starts it (one at a time per shop before 2026-01: the
client serializes them), ``node(id:)`` polls it through CREATED and RUNNING to
COMPLETED, FAILED, CANCELED or EXPIRED, and ``url`` serves the JSONL. The URL is signed
and expires: a 403/404 re-queries the operation for a fresh one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

from sources.kit.errors import FatalError, SluiceError
from sources.kit.graphql.bulk import parse_lines, reassemble

from .client import ShopifyClient
from .queries import POLL_BULK, RUN_BULK, Shape
from .rows import gid_type
from .settings import BULK_MAX_WAIT_S, BULK_POLL_MAX_S, BULK_POLL_START_S, BULK_URL_RETRIES

logger = logging.getLogger("sluice.shopify")

DONE = ("COMPLETED", "FAILED", "CANCELED", "CANCELLED", "EXPIRED")


class BulkOperationFailed(FatalError):
    """The bulk operation ended without a result (FAILED, CANCELED, EXPIRED, refused)."""


@dataclass
class BulkResult:
    """A reassembled export: root objects and lines that were not JSON objects."""

    roots: list[dict[str, Any]]
    malformed: list[str]


def _child_field(shape: Shape) -> Any:
    by_type = {n.child_type: n.field for n in shape.nested}
    return lambda obj: by_type.get(gid_type(obj.get("id")) or "")


def start(client: ShopifyClient, query: str, label: str) -> str:
    """Starts the operation; its id."""
    result = client.graphql.execute(RUN_BULK, {"query": query}, label=label, estimated_cost=10)
    payload = result.data.get("bulkOperationRunQuery") or {}
    errors = payload.get("userErrors") or []
    if errors:
        message = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))
        raise BulkOperationFailed(f"Shopify refused the bulk operation for {label}: {message}")
    operation = payload.get("bulkOperation") or {}
    return str(operation["id"])


def poll(client: ShopifyClient, operation_id: str, label: str) -> dict[str, Any]:
    """Polls until the operation is done (exponential backoff); its last state."""
    wait, waited = BULK_POLL_START_S, 0.0
    while True:
        result = client.graphql.execute(
            POLL_BULK, {"id": operation_id}, label=label, estimated_cost=1
        )
        operation = result.data.get("node") or {}
        status = str(operation.get("status"))
        if status in DONE:
            return operation
        if waited >= BULK_MAX_WAIT_S:
            raise BulkOperationFailed(
                f"Shopify bulk operation {operation_id} for {label} still {status} after "
                f"{waited:.0f}s"
            )
        logger.debug("shopify %s: bulk operation %s %s", label, operation_id, status)
        client.sleep(wait)
        waited += wait
        wait = min(wait * 2, BULK_POLL_MAX_S)


def download(client: ShopifyClient, operation: dict[str, Any], label: str) -> list[str]:
    """The JSONL lines; an expired URL (403/404) is re-requested from the operation."""
    for _attempt in range(BULK_URL_RETRIES + 1):
        url = operation.get("url")
        if not url:
            return []  # a completed export of nothing has no file
        # a signed URL on another host: no credentials go with it
        response = client.session.for_label(label).get(str(url))
        if response.status_code in (403, 404):
            logger.info("shopify %s: bulk result URL expired, asking for a fresh one", label)
            operation = (
                client.graphql.execute(
                    POLL_BULK, {"id": operation["id"]}, label=label, estimated_cost=1
                ).data.get("node")
                or {}
            )
            continue
        client.spec.raise_for_error(response)
        return response.text.splitlines()
    raise BulkOperationFailed(
        f"Shopify bulk result for {label} expired {BULK_URL_RETRIES + 1} times; run again"
    )


def export(client: ShopifyClient, shape: Shape, query: str, label: str) -> BulkResult:
    """Runs one bulk export to the end and reassembles it.

    Raises:
        BulkOperationFailed: The operation failed, was canceled or refused (one line).
    """
    with client.bulk_lock:  # one bulk query at a time per shop
        operation_id = start(client, query, label)
        operation = poll(client, operation_id, label)
        status = str(operation.get("status"))
        if status != "COMPLETED":
            code = operation.get("errorCode") or "no error code"
            raise BulkOperationFailed(
                f"Shopify bulk operation {operation_id} for {label} ended {status} ({code})"
            )
        lines = download(client, operation, label)
    objects, malformed = [], []
    for value, text in parse_lines(lines):
        if value is None:
            malformed.append(text)
        else:
            objects.append(value)
    fields = [n.field for n in shape.nested]
    return BulkResult(reassemble(objects, _child_field(shape), fields), malformed)


def try_export(
    client: ShopifyClient, shape: Shape, query: str, label: str, fallback: bool
) -> Optional[BulkResult]:
    """:func:`export`, or None (one WARNING line) when it failed and paging may take over."""
    try:
        return export(client, shape, query, label)
    except BulkOperationFailed as exc:
        if not fallback:
            raise
        logger.warning("%s: falling back to paging", exc)
        return None
    except SluiceError:
        raise


def batches(roots: list[dict[str, Any]], size: int = 500) -> Iterator[list[dict[str, Any]]]:
    """The export in slices (dlt items of a bounded size)."""
    for start_at in range(0, len(roots), size):
        yield roots[start_at : start_at + size]
