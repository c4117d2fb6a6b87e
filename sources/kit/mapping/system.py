"""One source system's part of the canonical load, declared once per connector.

A connector names its system (``stripe``), the folder of its mapping files and, if it
needs them, the transforms its mappings use; :class:`CanonicalSystem` does the rest the
same way for every connector: loading the mappings, reading the crosswalk rules from
``sources.<system>.canonical.*`` and deriving ``canonical`` from the raw tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Optional

import dlt

from ..destinations import loader_options
from ..settings import ListSetting, str_list
from .crosswalk import DEFAULT_PUBLIC_DOMAINS, MatchRule
from .crosswalk import match_rules as build_match_rules
from .runner import CanonicalOutcome, run_canonical
from .spec import MappingSpec, load_mappings
from .transforms import TransformFn, is_registered, register_transform, utc_now

DEFAULT_MATCH_RULES = ("email", "external_id")


@dataclass(frozen=True)
class CanonicalSystem:
    """A source system of the canonical models.

    Attributes:
        name: The system (``stripe``); also its config section ``sources.<name>.canonical``.
        mappings_dir: Folder of its ``*.toml`` mapping files.
        transforms: Custom transforms its mappings use, by name.
        default_rules: Crosswalk rules when ``match_rules`` is not configured.
    """

    name: str
    mappings_dir: Path
    transforms: Mapping[str, TransformFn] = field(default_factory=dict)
    default_rules: Sequence[str] = DEFAULT_MATCH_RULES

    def register_transforms(self) -> None:
        """Registers the system's transforms (once)."""
        for name, transform in self.transforms.items():
            if not is_registered(name):
                register_transform(name, transform)

    def mappings(self, directory: Optional[Path] = None) -> list[MappingSpec]:
        """Every mapping of the system (raises ``ConfigurationError`` naming a bad file)."""
        self.register_transforms()
        return load_mappings(directory or self.mappings_dir)

    def match_rules(
        self, match_rules: ListSetting = None, public_domains: ListSetting = None
    ) -> list[MatchRule]:
        """Crosswalk rules from ``sources.<name>.canonical.match_rules`` and
        ``public_domains`` (comma lists, JSON or TOML arrays) unless given.

        Args:
            match_rules: Rule names in priority order: ``email``, ``email_domain``,
                ``external_id``.
            public_domains: Mail providers the ``email_domain`` rule ignores.

        Returns:
            The rules.
        """
        section = f"sources.{self.name}.canonical"
        if match_rules is None:
            match_rules = dlt.config.get(f"{section}.match_rules")
        if public_domains is None:
            public_domains = dlt.config.get(f"{section}.public_domains")
        rules = str_list(match_rules, f"{section}.match_rules")
        domains = str_list(public_domains, f"{section}.public_domains")
        return build_match_rules(
            rules or list(self.default_rules), public_domains=domains or DEFAULT_PUBLIC_DOMAINS
        )

    def run(
        self,
        raw_pipeline: dlt.Pipeline,
        specs: Optional[Sequence[MappingSpec]] = None,
        *,
        run_id: Optional[str] = None,
        now: Callable[[], datetime] = utc_now,
    ) -> CanonicalOutcome:
        """Maps every raw load not mapped yet into ``canonical``, with crosswalk rows.

        Args:
            raw_pipeline: The pipeline whose dataset holds the system's raw tables.
            specs: The mappings (default: :meth:`mappings`).
            run_id: Run id for dead letters, links and the ledger.
            now: Clock for ``now`` transforms and link times.

        Returns:
            The outcome, for the summary.
        """
        self.register_transforms()
        return run_canonical(
            raw_pipeline,
            system=self.name,
            specs=self.mappings() if specs is None else specs,
            rules=self.match_rules(),
            run_id=run_id,
            now=now,
            **loader_options(raw_pipeline),
        )


__all__ = ["CanonicalSystem"]
