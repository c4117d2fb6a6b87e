"""ServiceNow's part of the canonical load: sys_user into canonical_customers + crosswalk.

The mapping is data (``sources/servicenow/mappings/*.toml``).
:func:`run_servicenow_canonical` maps the ``sys_user`` rows of every raw load not mapped
yet into the ``canonical`` dataset (see :mod:`sources.kit.mapping.runner`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pendulum

from sources.kit.mapping.system import CanonicalSystem
from sources.kit.mapping.transforms import TransformContext, TransformError

__all__ = [
    "CANONICAL",
    "MAPPINGS_DIR",
    "run_servicenow_canonical",
    "servicenow_mappings",
    "servicenow_match_rules",
]

MAPPINGS_DIR = Path(__file__).parent / "mappings"
"""ServiceNow's mapping files."""

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


CANONICAL = CanonicalSystem(
    "servicenow", MAPPINGS_DIR, transforms={DATETIME_TRANSFORM: servicenow_datetime}
)

servicenow_mappings = CANONICAL.mappings
servicenow_match_rules = CANONICAL.match_rules
run_servicenow_canonical = CANONICAL.run
