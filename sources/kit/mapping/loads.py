"""Which raw loads each mapping has mapped, kept in the canonical pipeline's dlt state.

Per mapping and raw table, the source state of ``<system>_canonical`` lists the load ids
already mapped. A canonical load maps the rows of the other completed load ids, and its
mapping resource writes the new list at the end of its extraction, so dlt stores it in
the same load package as the canonical rows it produced:

- killed before that package is extracted: nothing is recorded, the next run maps the
  same loads again;
- killed after: the package (rows and state together) is loaded first by the next run
  (``finish_pending_packages``), whose rewind keeps a half-loaded job from doubling;
- the local state lost: the state restored from the destination is older at worst, and
  the loads mapped again merge on the canonical key, so nothing doubles either way.

The list only keeps the load ids that still have rows in the raw table: a load whose
objects were all superseded by newer loads never comes back. It is kept with a
fingerprint of the mapping: a changed mapping file (a fix for what dead-lettered, a new
field) starts its list over, so the next canonical load maps every row again with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dlt
from dlt.common.json import json

from .flattened import spec_for_table
from .spec import MappingSpec
from .warehouse import RawTables

__all__ = ["MAPPED_LOADS_KEY", "MappingPlan", "plan_mappings"]

MAPPED_LOADS_KEY = "mapped_load_ids"
"""Source-state key: ``{mapping: {"fingerprint": ..., "loads": {"<dataset>.<table>": [ids]}}}``."""


@dataclass(frozen=True)
class MappingPlan:
    """One mapping's work in a canonical load.

    Attributes:
        spec: The mapping, its paths resolved against the raw table's columns.
        raw: The raw tables it reads.
        table: The raw table.
        available: Completed load ids with rows in the table now.
        mapped: Load ids mapped by earlier canonical loads with the same mapping.
        fingerprint: The mapping's :func:`fingerprint`.
    """

    spec: MappingSpec
    raw: RawTables
    table: str
    available: tuple[str, ...]
    mapped: frozenset[str]
    fingerprint: str = ""

    @property
    def state_key(self) -> str:
        """The table's key in the state (``stripe.customers``)."""
        return f"{self.raw.dataset_name}.{self.table}"

    @property
    def new_load_ids(self) -> list[str]:
        """The loads to map now."""
        return [load_id for load_id in self.available if load_id not in self.mapped]

    def records(self) -> Iterator[dict[str, Any]]:
        """The raw rows of the new loads (each object once, at its newest state)."""
        return self.raw.rows(self.table, self.new_load_ids)

    def mark_mapped(self) -> None:
        """Records the plan's loads as mapped, in the running source's state."""
        state = dlt.current.source_state().setdefault(MAPPED_LOADS_KEY, {})
        entry = state.get(self.spec.name) or {}
        if entry.get("fingerprint") != self.fingerprint:
            entry = {"fingerprint": self.fingerprint, "loads": {}}
        entry["loads"][self.state_key] = list(self.available)
        state[self.spec.name] = entry


def fingerprint(spec: MappingSpec) -> str:
    """A digest of what the mapping does (its file's content, not where the file is)."""
    described = dataclasses.asdict(spec)
    described.pop("origin", None)
    described["target_model"] = spec.target_model.name
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:16]


def plan_mappings(
    raw: RawTables, specs: Sequence[MappingSpec], source_state: Mapping[str, Any]
) -> list[MappingPlan]:
    """A plan per mapping: its resolved spec and the loads it has not mapped yet.

    Args:
        raw: The raw pipeline's tables.
        specs: The system's mappings.
        source_state: The canonical source's state (``pipeline.state["sources"][name]``).

    Returns:
        The plans, in the order of ``specs``.
    """
    done = source_state.get(MAPPED_LOADS_KEY) or {}
    plans = []
    for spec in specs:
        table = raw.table_name(spec.source_resource)
        digest = fingerprint(spec)
        entry = done.get(spec.name) or {}
        # a changed mapping maps everything again
        loads = (entry.get("loads") or {}) if entry.get("fingerprint") == digest else {}
        plans.append(
            MappingPlan(
                spec=spec_for_table(spec, raw.columns(table), raw.naming),
                raw=raw,
                table=table,
                available=tuple(raw.load_ids(table)),
                mapped=frozenset(loads.get(f"{raw.dataset_name}.{table}") or ()),
                fingerprint=digest,
            )
        )
    return plans
