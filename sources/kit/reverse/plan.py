"""What a run sends: warehouse rows mapped to target payloads, diffed against the state.

A row's payload is its mapped target fields; its hash (sha256 over the canonical JSON
of key + payload) is what the state table keeps per key once the target accepted it.
New keys are creates, keys whose hash moved are updates, keys that vanished are deletes
(mirror only); a key whose hash did not move is not sent at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Optional

from sources.kit.mapping.transforms import TransformContext, TransformError, get_transform

from .spec import SyncSpec

CREATE, UPDATE, DELETE = "create", "update", "delete"
KIND_ORDER = {CREATE: 0, UPDATE: 1, DELETE: 2}
TOKEN_LENGTH = 16
"""Hex digits of the value hash written as the change token (enough to tell writes apart)."""


@dataclass(frozen=True)
class StateEntry:
    """What the state table holds for one key: the last values the target accepted."""

    value_hash: str
    payload: Mapping[str, Any]
    target_id: Optional[str] = None


@dataclass(frozen=True)
class Op:
    """One write: create, update or delete of one key.

    Attributes:
        kind: ``create``, ``update`` or ``delete``.
        key: The record key (warehouse key column, target key field).
        payload: Target field values (the last written ones for a delete).
        value_hash: Hash of ``payload`` (the one committed once accepted).
        previous: The payload last written, for updates and deletes.
        target_id: The target's own id of the record, when known.
    """

    kind: str
    key: str
    payload: Mapping[str, Any]
    value_hash: str
    previous: Optional[Mapping[str, Any]] = None
    target_id: Optional[str] = None

    @property
    def token(self) -> str:
        """The change token marking this write (read back by the inbound connector)."""
        return self.value_hash[:TOKEN_LENGTH]

    def changed_fields(self) -> dict[str, tuple[Any, Any]]:
        """``field -> (before, after)`` of what this write changes."""
        before = dict(self.previous or {})
        after = {} if self.kind == DELETE else dict(self.payload)
        names = sorted(set(before) | set(after))
        return {n: (before.get(n), after.get(n)) for n in names if before.get(n) != after.get(n)}


@dataclass
class Plan:
    """The writes of one run plus what was left alone.

    Attributes:
        ops: Writes in order (creates and updates by key, then deletes).
        unchanged: Keys whose values the target already has.
        adopted: Keys without state whose change token shows the target has the values
            (written by an earlier sync whose state was lost); committed without a write.
        rejected: ``(row, reason)`` of rows that could not be mapped.
    """

    ops: list[Op] = field(default_factory=list)
    unchanged: int = 0
    adopted: list[Op] = field(default_factory=list)
    rejected: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    def count(self, kind: str) -> int:
        """How many writes of ``kind`` the plan holds."""
        return sum(1 for op in self.ops if op.kind == kind)


def plain(value: Any) -> Any:
    """A JSON-safe value: decimals as numbers, dates as ISO text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def value_hash(key: str, payload: Mapping[str, Any]) -> str:
    """Hex sha256 over the canonical JSON of the key and payload."""
    material = json.dumps([key, dict(payload)], sort_keys=True, default=str)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def map_row(spec: SyncSpec, row: Mapping[str, Any]) -> dict[str, Any]:
    """The target payload of one warehouse row.

    Raises:
        TransformError: A transform could not produce a value (reason without the value).
    """
    payload: dict[str, Any] = {}
    for mapping in spec.fields:
        values = tuple(row.get(c) for c in mapping.sources)
        value: Any = values[0] if len(values) == 1 else (values or None)
        if mapping.transform:
            value = get_transform(mapping.transform)(value, TransformContext(args=mapping.args))
        payload[mapping.target] = plain(value)
    return payload


def build_plan(
    spec: SyncSpec,
    rows: Iterable[Mapping[str, Any]],
    state: Mapping[str, StateEntry],
) -> Plan:
    """Diffs the source rows against the state: what this run must send.

    Args:
        spec: The sync.
        rows: Source rows (dicts with at least :attr:`SyncSpec.columns`).
        state: Last accepted values per key.

    Returns:
        The plan. Rows with a null key or a failing transform are ``rejected``; a key
        seen twice keeps its first row (the second is rejected).
    """
    plan = Plan()
    seen: set[str] = set()
    for row in rows:
        raw_key = row.get(spec.key_column)
        if raw_key is None:
            plan.rejected.append((dict(row), f"key column {spec.key_column} is null"))
            continue
        key = str(plain(raw_key))
        if key in seen:
            plan.rejected.append((dict(row), f"key {spec.key_column} is duplicated in the source"))
            continue
        seen.add(key)
        try:
            payload = map_row(spec, row)
        except TransformError as exc:
            plan.rejected.append((dict(row), f"mapping failed: {exc}"))
            continue
        _plan_row(spec, plan, key, payload, row, state.get(key))
    if spec.mode == "mirror":
        for key in sorted(set(state) - seen):
            entry = state[key]
            plan.ops.append(
                Op(DELETE, key, entry.payload, entry.value_hash, entry.payload, entry.target_id)
            )
    plan.ops.sort(key=lambda op: KIND_ORDER[op.kind])  # stable: one kind per batch
    return plan


def _plan_row(
    spec: SyncSpec,
    plan: Plan,
    key: str,
    payload: dict[str, Any],
    row: Mapping[str, Any],
    entry: Optional[StateEntry],
) -> None:
    digest = value_hash(key, payload)
    if entry is None:
        op = Op(CREATE, key, payload, digest)
        token = row.get(spec.token_column) if spec.token_column else None
        if token is not None and str(token) == op.token and spec.mode != "append":
            plan.adopted.append(op)  # the inbound copy shows this very write: no loop
            return
        plan.ops.append(op)
        return
    if entry.value_hash == digest or spec.mode == "append":
        plan.unchanged += 1  # append sends each key once
        return
    plan.ops.append(Op(UPDATE, key, payload, digest, entry.payload, entry.target_id))


def batches(ops: Sequence[Op], size: int) -> list[list[Op]]:
    """``ops`` cut into lists of at most ``size``, each of one kind (targets call per kind)."""
    out: list[list[Op]] = []
    for op in ops:
        if out and out[-1][0].kind == op.kind and len(out[-1]) < size:
            out[-1].append(op)
        else:
            out.append([op])
    return out
