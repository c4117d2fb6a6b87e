"""Salesforce's part of the canonical load: Account and Contact into canonical customers.

The mappings are data (``sources/salesforce/mappings/*.toml``). During the raw load a
map step copies every Account and Contact record to a local spool; after the raw load
succeeded, :func:`run_salesforce_canonical` maps them into the ``canonical`` dataset
with crosswalk entries (see :mod:`sources.kit.mapping.runner`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum

from sources.kit.mapping.system import CanonicalSystem
from sources.kit.mapping.transforms import TransformContext, TransformError

from .helpers import parse_sf_datetime

__all__ = [
    "CANONICAL",
    "MAPPINGS_DIR",
    "run_salesforce_canonical",
    "salesforce_mappings",
    "salesforce_match_rules",
]

MAPPINGS_DIR = Path(__file__).parent / "mappings"
"""Salesforce's mapping files."""

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


CANONICAL = CanonicalSystem(
    "salesforce", MAPPINGS_DIR, transforms={DATETIME_TRANSFORM: sf_datetime_to_timestamp}
)
CANONICAL.register_transforms()  # mappings may be parsed before CANONICAL.mappings() runs

salesforce_mappings = CANONICAL.mappings
salesforce_match_rules = CANONICAL.match_rules
run_salesforce_canonical = CANONICAL.run
