"""Salesforce's part of the canonical load: Account and Contact into canonical customers.

The mappings are data (``sources/salesforce/mappings/*.toml``, field names as the API
spells them; dlt's names of the loaded columns are resolved, ``FirstName`` ->
``first_name``). :func:`run_salesforce_canonical` maps the ``account`` and ``contact``
rows of every raw load not mapped yet into the ``canonical`` dataset with crosswalk
entries (see :mod:`sources.kit.mapping.runner`).
"""

from __future__ import annotations

from datetime import datetime
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

    An aware ``datetime`` (the warehouse column dlt typed as a timestamp) is converted
    to UTC.

    Raises:
        TransformError: The value is not a Salesforce datetime.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TransformError(f"{DATETIME_TRANSFORM} got a datetime without a timezone")
        return pendulum.instance(value).in_timezone("UTC")
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
