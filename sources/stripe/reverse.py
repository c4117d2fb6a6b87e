"""Reverse ETL into Stripe: customer and subscription updates with idempotency keys.

Each write is ``POST /v1/<customers|subscriptions>/<id>`` with form fields; a target
field ``metadata.<name>`` is the metadata key ``<name>``. Every write also sets the
change token ``metadata[sluice_sync]`` to the value hash, so the inbound connector's
copy (``metadata__sluice_sync``) tells a sync that the target already has these values.

Idempotency: the ``Idempotency-Key`` is derived from sync, key, kind and value hash, so
it is the same on every retry of the session and on a re-run after a crash; Stripe then
replays the first answer instead of applying the update again
(https://docs.stripe.com/api/idempotent_requests). Mirror deletes unset the mapped
metadata keys by posting empty values (https://docs.stripe.com/api/metadata).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from sources.kit.errors import ClientError
from sources.kit.reverse.plan import DELETE, Op
from sources.kit.reverse.spec import SyncSpec, SyncSpecError
from sources.kit.reverse.target import WriteResult

from .client import StripeClient

logger = logging.getLogger("sluice.stripe")

OBJECT_PATHS = {"customer": "/v1/customers", "subscription": "/v1/subscriptions"}
TOKEN_KEY = "sluice_sync"  # noqa: S105 - a metadata key name, not a secret
"""Metadata key holding the change token of the last sync write."""
MAX_METADATA_KEY = 40  # https://docs.stripe.com/metadata: keys up to 40 characters


def form_fields(payload: Mapping[str, Any], token: str, *, unset: bool = False) -> dict[str, str]:
    """The form body of one write: ``metadata.x`` as ``metadata[x]``, values as text."""
    form: dict[str, str] = {}
    for name, value in payload.items():
        key = f"metadata[{name[len('metadata.') :]}]" if name.startswith("metadata.") else name
        form[key] = "" if unset or value is None else _text(value)
    form[f"metadata[{TOKEN_KEY}]"] = token
    return form


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def idempotency_key(sync: str, op: Op) -> str:
    """Stable across attempts and runs: the same write always carries the same key."""
    return f"sluice-{sync}-{op.key}-{op.kind}-{op.value_hash[:32]}"


@dataclass
class StripeTarget:
    """The Stripe write side for :func:`sources.kit.reverse.engine.run_sync`.

    Attributes:
        client: The inbound connector's client (its resilient session retries 5xx).
        max_batch: Writes per engine batch (one request each; the commit unit).
    """

    client: StripeClient
    max_batch: int = 100
    connector: str = "stripe"
    _sync: Optional[str] = field(default=None, init=False)
    _path: str = field(default="", init=False)
    _label: str = field(default="customer", init=False)

    def batch_limit(self, spec: SyncSpec, total: int) -> int:
        """The sync's batch size, at most :attr:`max_batch` (one commit per batch)."""
        return max(1, min(spec.batch_size, self.max_batch))

    def check(self, spec: SyncSpec) -> None:
        """Refuses syncs Stripe cannot take (one line naming the key)."""
        if spec.object not in OBJECT_PATHS:
            raise SyncSpecError(
                f"target.object must be one of {', '.join(OBJECT_PATHS)} for stripe, "
                f"got {spec.object!r}"
            )
        if spec.key_field != "id":
            raise SyncSpecError("key.field must be id for stripe (objects are updated by id)")
        if spec.mode == "append":
            raise SyncSpecError("mode append is not supported by stripe: use update or upsert")
        for mapping in spec.fields:
            name = mapping.target.removeprefix("metadata.")
            if mapping.target.startswith("metadata.") and not 0 < len(name) <= MAX_METADATA_KEY:
                raise SyncSpecError(
                    f"fields target {mapping.target!r}: metadata keys are 1-40 chars"
                )
        self._sync, self._path = spec.name, OBJECT_PATHS[spec.object]
        self._label = spec.object  # requests count under the ledger's resource name

    def write(self, ops: Sequence[Op]) -> list[WriteResult]:
        """One POST per op; a 4xx other than auth and rate limit rejects that op only."""
        return [self._write_one(op) for op in ops]

    def _write_one(self, op: Op) -> WriteResult:
        form = form_fields(
            op.payload, "" if op.kind == DELETE else op.token, unset=op.kind == DELETE
        )
        headers = {"Idempotency-Key": idempotency_key(str(self._sync), op), **self.client.headers()}
        try:
            response = self.client.rest_client(self._label).request(
                f"{self._path}/{op.key}",
                method="POST",
                data=form,
                headers=headers,
                hooks={"response": self.client.response_hooks()},
            )
        except ClientError as exc:  # validation, missing object: this row only
            return WriteResult(op, False, error=str(exc))
        body = response.json()
        return WriteResult(op, True, target_id=body.get("id") if isinstance(body, dict) else None)

    def http_stats(self) -> Mapping[str, Mapping[str, Any]]:
        """Request counters per label."""
        return self.client.session.stats_by_label()
