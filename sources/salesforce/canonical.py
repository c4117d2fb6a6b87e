"""Salesforce's part of the canonical load: Account and Contact into canonical customers.

The mappings are data (``sources/salesforce/mappings/*.toml``). During the raw load a
map step copies every Account and Contact record to a local spool; after the raw load
succeeded, :func:`run_salesforce_canonical` maps them into the ``canonical`` dataset
with crosswalk entries (see :mod:`sources.kit.mapping.runner`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import dlt
import pendulum
from dlt.common.configuration.inject import with_config

from sources.kit.destinations import loader_options
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
from sources.kit.mapping.transforms import (
    TransformContext,
    TransformError,
    is_registered,
    register_transform,
    utc_now,
)
from sources.kit.settings import ListSetting, str_list

from .helpers import parse_sf_datetime

__all__ = [
    "MAPPINGS_DIR",
    "run_salesforce_canonical",
    "salesforce_mappings",
    "salesforce_match_rules",
]

logger = logging.getLogger("sluice.salesforce.canonical")

MAPPINGS_DIR = Path(__file__).parent / "mappings"
"""Salesforce's mapping files."""

DEFAULT_MATCH_RULES = ("email", "external_id")
SYSTEM = "salesforce"
DATETIME_TRANSFORM = "sf_datetime_to_timestamp"


def sf_datetime_to_timestamp(value: Any, ctx: TransformContext) -> Any:
    """Salesforce datetime text (``2024-05-01T12:00:00.000+0000``) to a UTC timestamp.

    Raises:
        TransformError: The value is not a Salesforce datetime.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise TransformError(f"{DATETIME_TRANSFORM} expects text, got {type(value).__name__}")
    try:
        return pendulum.instance(parse_sf_datetime(value)).in_timezone("UTC")
    except ValueError:
        raise TransformError(f"{DATETIME_TRANSFORM}: not a Salesforce datetime") from None


if not is_registered(DATETIME_TRANSFORM):
    register_transform(DATETIME_TRANSFORM, sf_datetime_to_timestamp)


def salesforce_mappings(directory: Path = MAPPINGS_DIR) -> list[MappingSpec]:
    """Every Salesforce mapping (raises ``ConfigurationError`` naming a bad file and field)."""
    return load_mappings(directory)


@with_config(sections=("sources", "salesforce", "canonical"))
def salesforce_match_rules(
    match_rules: ListSetting = dlt.config.value,
    public_domains: ListSetting = dlt.config.value,
) -> list[MatchRule]:
    """Crosswalk rules from ``sources.salesforce.canonical.match_rules``.

    Args:
        match_rules: Rule names in priority order (default ``email``, ``external_id``).
        public_domains: Mail providers the ``email_domain`` rule ignores.

    Returns:
        The rules.
    """
    section = "sources.salesforce.canonical"
    return build_match_rules(
        str_list(match_rules, f"{section}.match_rules") or list(DEFAULT_MATCH_RULES),
        public_domains=str_list(public_domains, f"{section}.public_domains")
        or DEFAULT_PUBLIC_DOMAINS,
    )


def run_salesforce_canonical(
    raw_pipeline: dlt.Pipeline,
    spool: RecordSpool,
    specs: Sequence[MappingSpec],
    *,
    run_id: Optional[str] = None,
    now: Callable[[], datetime] = utc_now,
) -> CanonicalOutcome:
    """Loads the spooled Account and Contact records into the ``canonical`` dataset."""
    return run_canonical(
        raw_pipeline,
        system=SYSTEM,
        specs=specs,
        records=spool.records,
        rules=salesforce_match_rules(),
        run_id=run_id,
        now=now,
        **loader_options(raw_pipeline),
    )
