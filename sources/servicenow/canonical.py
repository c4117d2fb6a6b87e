"""ServiceNow's part of the canonical load: sys_user into canonical_customers + crosswalk.

The mapping is data (``sources/servicenow/mappings/*.toml``). During the raw load a map
step copies every mapped record to a local spool; after the raw load succeeded,
:func:`run_servicenow_canonical` maps them into the ``canonical`` dataset.
"""

from __future__ import annotations

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

__all__ = [
    "MAPPINGS_DIR",
    "run_servicenow_canonical",
    "servicenow_mappings",
    "servicenow_match_rules",
]

MAPPINGS_DIR = Path(__file__).parent / "mappings"
DEFAULT_MATCH_RULES = ("email", "external_id")
SYSTEM = "servicenow"
DATETIME_TRANSFORM = "servicenow_datetime"


def servicenow_datetime(value: Any, ctx: TransformContext) -> Any:
    """ServiceNow date-time (``YYYY-MM-DD HH:MM:SS`` UTC, ISO text or a datetime) to UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return pendulum.instance(value).in_timezone("UTC")
    try:
        return pendulum.parse(str(value), tz="UTC").in_timezone("UTC")  # type: ignore[union-attr]
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        raise TransformError("servicenow_datetime expects 'YYYY-MM-DD HH:MM:SS'") from None


def register_transforms() -> None:
    """Registers the ServiceNow transforms the mappings use (once)."""
    if not is_registered(DATETIME_TRANSFORM):
        register_transform(DATETIME_TRANSFORM, servicenow_datetime)


def servicenow_mappings(directory: Path = MAPPINGS_DIR) -> list[MappingSpec]:
    """Every ServiceNow mapping (raises ``ConfigurationError`` naming a bad file and field)."""
    register_transforms()
    return load_mappings(directory)


@with_config(sections=("sources", "servicenow", "canonical"))
def servicenow_match_rules(
    match_rules: ListSetting = dlt.config.value,
    public_domains: ListSetting = dlt.config.value,
) -> list[MatchRule]:
    """Crosswalk rules from ``sources.servicenow.canonical.match_rules`` (email, external id).

    Args:
        match_rules: Rule names in priority order.
        public_domains: Mail providers the ``email_domain`` rule ignores.

    Returns:
        The rules.
    """
    section = "sources.servicenow.canonical"
    return build_match_rules(
        str_list(match_rules, f"{section}.match_rules") or list(DEFAULT_MATCH_RULES),
        public_domains=str_list(public_domains, f"{section}.public_domains")
        or DEFAULT_PUBLIC_DOMAINS,
    )


def run_servicenow_canonical(
    raw_pipeline: dlt.Pipeline,
    spool: RecordSpool,
    specs: Sequence[MappingSpec],
    *,
    run_id: Optional[str] = None,
    now: Callable[[], datetime] = utc_now,
) -> CanonicalOutcome:
    """Loads the spooled ServiceNow records into the ``canonical`` dataset."""
    register_transforms()
    return run_canonical(
        raw_pipeline,
        system=SYSTEM,
        specs=specs,
        records=spool.records,
        rules=servicenow_match_rules(),
        run_id=run_id,
        now=now,
        **loader_options(raw_pipeline),
    )
