"""The crosswalk: ``(system, external_id) -> canonical_id``, stable across runs.

Resolution of a batch of mapped rows (sorted by external id, so the order the API
returned them in does not matter):

1. A ``(system, external_id)`` already in the crosswalk keeps its canonical id.
2. Otherwise the match rules are tried in the configured order. Each rule turns the
   row into a key (``email:ada@example.com``, ``email_domain:example.com``,
   ``external_id:stripe:cus_1``). A key known for exactly one canonical id links the
   record to it; a key known for several is **ambiguous**: the record is reported
   and left unlinked (no guess), and lower rules are not tried.
3. No rule matched: a new canonical id, ``uuid5`` over the first key the rules give,
   so the same data gives the same ids even without a stored crosswalk.

Every linked record's keys join the index, so a later record of the batch (or of
another system) can match it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import dlt
from dlt.common.json import json
from dlt.common.schema.typing import TColumnSchema
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from ..errors import ConfigurationError

__all__ = [
    "AMBIGUITIES_COLUMNS",
    "AMBIGUITIES_TABLE",
    "CROSSWALK_COLUMNS",
    "CROSSWALK_TABLE",
    "DEFAULT_PUBLIC_DOMAINS",
    "Ambiguity",
    "Crosswalk",
    "CrosswalkEntry",
    "MatchRule",
    "Resolution",
    "canonical_id_for",
    "match_rules",
    "read_crosswalk",
]

logger = logging.getLogger("sluice.mapping.crosswalk")

CROSSWALK_TABLE = "crosswalk"
AMBIGUITIES_TABLE = "crosswalk_ambiguities"

CANONICAL_NAMESPACE = uuid.UUID("6f1c2b8e-6a43-5b5e-9a57-2d8f1f0c7e11")
"""Namespace of the uuid5 canonical ids (fixed forever: changing it changes every id)."""

CROSSWALK_COLUMNS: Mapping[str, TColumnSchema] = {
    "entity": {"data_type": "text", "nullable": False},
    "system": {"data_type": "text", "nullable": False},
    "external_id": {"data_type": "text", "nullable": False},
    "canonical_id": {"data_type": "text", "nullable": False},
    "match_rule": {"data_type": "text", "nullable": False},
    "match_keys": {"data_type": "json", "nullable": True},
    "linked_at": {"data_type": "timestamp", "nullable": False},
    "run_id": {"data_type": "text", "nullable": False},
}
"""Columns of :data:`CROSSWALK_TABLE`; primary key ``(entity, system, external_id)``."""

AMBIGUITIES_COLUMNS: Mapping[str, TColumnSchema] = {
    "entity": {"data_type": "text", "nullable": False},
    "system": {"data_type": "text", "nullable": False},
    "external_id": {"data_type": "text", "nullable": False},
    "match_rule": {"data_type": "text", "nullable": False},
    "match_key": {"data_type": "text", "nullable": False},
    "candidates": {"data_type": "json", "nullable": False},
    "seen_at": {"data_type": "timestamp", "nullable": False},
    "run_id": {"data_type": "text", "nullable": False},
}
"""Columns of :data:`AMBIGUITIES_TABLE` (appended: one row per record and run)."""

DEFAULT_PUBLIC_DOMAINS = frozenset(
    {
        "aol.com", "gmail.com", "googlemail.com", "gmx.de", "gmx.net", "hotmail.com",
        "icloud.com", "live.com", "mail.com", "me.com", "msn.com", "outlook.com",
        "proton.me", "protonmail.com", "web.de", "yahoo.com", "yandex.ru",
    }
)  # fmt: skip
"""Mail providers whose domain says nothing about the company (no domain match)."""

KeyFn = Callable[[Mapping[str, Any], str, str], Optional[str]]
"""``key(row, system, external_id)`` -> match key without the rule prefix, or None."""


@dataclass(frozen=True)
class MatchRule:
    """A way to recognise the same entity in two records.

    Attributes:
        name: Rule name, prefix of its keys.
        key_of: Computes the key of a row (None: the rule does not apply).
    """

    name: str
    key_of: KeyFn

    def key(self, row: Mapping[str, Any], system: str, external_id: str) -> Optional[str]:
        """The prefixed key (``email:ada@example.com``) or None."""
        value = self.key_of(row, system, external_id)
        return f"{self.name}:{value}" if value else None


def normalised_email(value: Any) -> Optional[str]:
    """Trimmed, lower-cased address; None unless it looks like ``local@domain``."""
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    local, at, domain = email.rpartition("@")
    return email if at and local and "." in domain else None


def match_rules(
    names: Sequence[str],
    *,
    email_field: str = "email",
    public_domains: Iterable[str] = DEFAULT_PUBLIC_DOMAINS,
) -> list[MatchRule]:
    """Builds the configured rules, in priority order.

    Args:
        names: Rule names: ``email`` (exact normalised address), ``email_domain``
            (company domain; public mail providers never match), ``external_id``
            (the record's own id: links nothing across records, names new ids).
        email_field: Column of the mapped row holding the address.
        public_domains: Domains the ``email_domain`` rule ignores.

    Returns:
        The rules.

    Raises:
        ConfigurationError: An unknown or repeated rule name.
    """
    public = frozenset(d.lower() for d in public_domains)

    def email(row: Mapping[str, Any], system: str, external_id: str) -> Optional[str]:
        return normalised_email(row.get(email_field))

    def email_domain(row: Mapping[str, Any], system: str, external_id: str) -> Optional[str]:
        address = normalised_email(row.get(email_field))
        domain = address.rpartition("@")[2] if address else None
        return domain if domain and domain not in public else None

    def external_id_key(row: Mapping[str, Any], system: str, external_id: str) -> Optional[str]:
        return f"{system}:{external_id}"

    known: dict[str, KeyFn] = {
        "email": email,
        "email_domain": email_domain,
        "external_id": external_id_key,
    }
    unknown = [n for n in names if n not in known]
    if unknown or len(set(names)) != len(names) or not names:
        raise ConfigurationError(
            f"crosswalk match rules {list(names)!r} invalid: give each of "
            f"{', '.join(known)} at most once, at least one"
        )
    return [MatchRule(name, known[name]) for name in names]


@dataclass(frozen=True)
class CrosswalkEntry:
    """One link of the crosswalk.

    Attributes:
        entity: What is linked (``customer``).
        system: Source system (``stripe``).
        external_id: The record's id in that system.
        canonical_id: The canonical id it is linked to.
        match_rule: Rule that linked it (``new`` when it founded the canonical id).
        match_keys: Every key of the record when linked (the match index).
    """

    entity: str
    system: str
    external_id: str
    canonical_id: str
    match_rule: str
    match_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ambiguity:
    """A record whose key matched several canonical ids; it was left unlinked."""

    entity: str
    system: str
    external_id: str
    match_rule: str
    match_key: str
    candidates: tuple[str, ...]


@dataclass
class Resolution:
    """The outcome of :meth:`Crosswalk.resolve`.

    Attributes:
        linked: New links made in this batch (to store).
        ambiguous: Records left unlinked.
    """

    linked: list[CrosswalkEntry] = field(default_factory=list)
    ambiguous: list[Ambiguity] = field(default_factory=list)


class Crosswalk:
    """Resolves records of any system to canonical ids (see the module doc)."""

    def __init__(
        self, entity: str, rules: Sequence[MatchRule], existing: Iterable[CrosswalkEntry] = ()
    ) -> None:
        """Starts from the stored links ``existing`` of ``entity``."""
        self.entity = entity
        self.rules = list(rules)
        self._ids: dict[tuple[str, str], str] = {}
        self._index: dict[str, set[str]] = {}
        for entry in existing:
            if entry.entity == entity:
                self._remember(
                    entry.system, entry.external_id, entry.canonical_id, entry.match_keys
                )

    def canonical_id(self, system: str, external_id: Optional[str]) -> Optional[str]:
        """The canonical id linked to a record, if any."""
        if external_id is None:
            return None
        return self._ids.get((system, str(external_id)))

    def resolve(self, system: str, rows: Iterable[tuple[str, Mapping[str, Any]]]) -> Resolution:
        """Links a batch of ``(external_id, mapped row)`` of one system.

        Returns:
            New links and ambiguous records (existing links are not repeated).
        """
        resolution = Resolution()
        for external_id, row in sorted(rows, key=lambda pair: str(pair[0])):
            if (system, str(external_id)) in self._ids:
                continue
            entry, ambiguity = self._resolve_one(system, str(external_id), row)
            if ambiguity is not None:
                logger.warning(
                    "crosswalk: %s %s %s matches %d canonical %ss by rule %s; left unlinked",
                    system,
                    self.entity,
                    external_id,
                    len(ambiguity.candidates),
                    self.entity,
                    ambiguity.match_rule,
                )
                resolution.ambiguous.append(ambiguity)
            if entry is not None:
                self._remember(system, entry.external_id, entry.canonical_id, entry.match_keys)
                resolution.linked.append(entry)
        return resolution

    def _resolve_one(
        self, system: str, external_id: str, row: Mapping[str, Any]
    ) -> tuple[Optional[CrosswalkEntry], Optional[Ambiguity]]:
        keys = [(rule.name, rule.key(row, system, external_id)) for rule in self.rules]
        present = tuple(k for _, k in keys if k)
        for rule_name, key in keys:
            candidates = sorted(self._index.get(key, ())) if key else []
            if len(candidates) == 1:
                link = CrosswalkEntry(
                    self.entity, system, external_id, candidates[0], rule_name, present
                )
                return link, None
            if len(candidates) > 1:
                assert key is not None
                found = Ambiguity(
                    self.entity, system, external_id, rule_name, key, tuple(candidates)
                )
                return None, found
        founding = present[0] if present else f"external_id:{system}:{external_id}"
        new_id = canonical_id_for(self.entity, founding)
        return CrosswalkEntry(self.entity, system, external_id, new_id, "new", present), None

    def _remember(
        self, system: str, external_id: str, canonical_id: str, keys: Iterable[str]
    ) -> None:
        self._ids[(system, external_id)] = canonical_id
        for key in keys:
            self._index.setdefault(key, set()).add(canonical_id)


def canonical_id_for(entity: str, founding_key: str) -> str:
    """The deterministic canonical id founded by a match key."""
    return str(uuid.uuid5(CANONICAL_NAMESPACE, f"{entity}|{founding_key}"))


def read_crosswalk(pipeline: dlt.Pipeline, entity: str) -> list[CrosswalkEntry]:
    """The stored links of ``entity`` in ``pipeline``'s dataset ([] before the first load)."""
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(CROSSWALK_TABLE)
            rows = client.execute_sql(
                "SELECT system, external_id, canonical_id, match_rule, match_keys "  # noqa: S608
                f"FROM {table} WHERE entity = %s",
                entity,
            )
    except DatabaseUndefinedRelation:
        return []
    return [
        CrosswalkEntry(entity, str(s), str(e), str(c), str(r), _decode_keys(k))
        for s, e, c, r, k in rows or []
    ]


def _decode_keys(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    decoded = json.loads(value) if isinstance(value, str) else value
    return tuple(str(k) for k in decoded or ())
