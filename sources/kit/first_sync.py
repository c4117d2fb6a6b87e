"""``start_date``: the lower bound of a resource's first sync.

A start date bounds only the sync that has no saved cursor yet; later syncs go on from
their cursor. Connectors whose cursor is a change stamp (Salesforce ``SystemModstamp``,
ServiceNow ``sys_updated_on``) read the records *changed* on or after it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

import pendulum

from sources.kit.errors import ConfigurationError


def parse_start(start_date: Optional[str], setting: str) -> Optional[datetime]:
    """An ISO 8601 date or datetime as an aware UTC datetime (naive values are UTC).

    Args:
        start_date: The configured value, if any.
        setting: The setting's name, for the error line (``sources.salesforce.start_date``).

    Returns:
        The moment, or None when no start date is set.

    Raises:
        ConfigurationError: The value is not an ISO 8601 date.
    """
    if not start_date:
        return None
    try:
        parsed = pendulum.parse(str(start_date))
    except (ValueError, pendulum.parsing.exceptions.ParserError) as exc:
        raise ConfigurationError(
            f"{setting} {start_date!r} is not an ISO 8601 date (e.g. 2024-01-01)"
        ) from exc
    if not isinstance(parsed, datetime):
        raise ConfigurationError(f"{setting} {start_date!r} is not a date (e.g. 2024-01-01)")
    return parsed.astimezone(timezone.utc)
