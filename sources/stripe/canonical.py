"""Stripe's part of the canonical load: its mappings, match rules and the record tee.

The mappings are data (``sources/stripe/mappings/*.toml``). During the raw load a
map step copies every record of a mapped resource to a local spool; after the raw
load succeeded, :func:`run_stripe_canonical` maps the spooled records into the
``canonical`` dataset (see :mod:`sources.kit.mapping.runner`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Optional

import dlt
from dlt.common.configuration.inject import with_config

from sources.kit.destinations import loader_file_format
from sources.kit.mapping import (
    CanonicalOutcome,
    MappingSpec,
    MatchRule,
    RecordSpool,
    load_mappings,
    run_canonical,
)
from sources.kit.mapping.crosswalk import DEFAULT_PUBLIC_DOMAINS
from sources.kit.mapping.crosswalk import match_rules as build_match_rules
from sources.kit.mapping.transforms import utc_now
from sources.kit.settings import ListSetting, str_list

__all__ = [
    "MAPPINGS_DIR",
    "run_stripe_canonical",
    "stripe_mappings",
    "stripe_match_rules",
]

logger = logging.getLogger("sluice.stripe.canonical")

MAPPINGS_DIR = Path(__file__).parent / "mappings"
"""Stripe's mapping files."""

DEFAULT_MATCH_RULES = ("email", "external_id")
SYSTEM = "stripe"


def stripe_mappings(directory: Path = MAPPINGS_DIR) -> list[MappingSpec]:
    """Every Stripe mapping (raises ``ConfigurationError`` naming a bad file and field)."""
    return load_mappings(directory)


@with_config(sections=("sources", "stripe", "canonical"))
def stripe_match_rules(
    match_rules: ListSetting = dlt.config.value,
    public_domains: ListSetting = dlt.config.value,
) -> list[MatchRule]:
    """Crosswalk rules from ``sources.stripe.canonical.match_rules`` (default email, external id).

    Args:
        match_rules: Rule names in priority order: ``email``, ``email_domain``,
            ``external_id``.
        public_domains: Mail providers the ``email_domain`` rule ignores.

    Returns:
        The rules.
    """
    section = "sources.stripe.canonical"
    return build_match_rules(
        str_list(match_rules, f"{section}.match_rules") or list(DEFAULT_MATCH_RULES),
        public_domains=str_list(public_domains, f"{section}.public_domains")
        or DEFAULT_PUBLIC_DOMAINS,
    )


def run_stripe_canonical(
    raw_pipeline: dlt.Pipeline,
    spool: RecordSpool,
    specs: Sequence[MappingSpec],
    *,
    run_id: Optional[str] = None,
    now: Callable[[], datetime] = utc_now,
) -> CanonicalOutcome:
    """Loads the spooled Stripe records into the ``canonical`` dataset."""
    return run_canonical(
        raw_pipeline,
        system=SYSTEM,
        specs=specs,
        records=spool.records,
        rules=stripe_match_rules(),
        run_id=run_id,
        now=now,
        loader_file_format=loader_file_format(raw_pipeline),
    )
