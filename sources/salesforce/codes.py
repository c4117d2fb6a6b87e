"""Salesforce error codes the connector acts on, as exceptions of their own.

Salesforce answers errors as ``[{"message": ..., "errorCode": ...}]``. Two codes mean
"ask differently" rather than "stop": a dead query locator (re-issue the query from the
last loaded record, ``locators.py``) and a replication window the org no longer covers
(re-list the object's ids, ``deletes.py``).
"""

from __future__ import annotations

import json
from typing import Optional

from requests import Response

from sources.kit.errors import FatalError

INVALID_QUERY_LOCATOR = "INVALID_QUERY_LOCATOR"
INVALID_REPLICATION_DATE = "INVALID_REPLICATION_DATE"


class QueryLocatorInvalid(FatalError):
    """A ``nextRecordsUrl`` cursor expired or was released; the query must be re-issued."""


class ReplicationDateInvalid(FatalError):
    """``/deleted/`` or ``/updated/`` refused the window (too old, or start after end)."""


def error_code(response: Response) -> Optional[str]:
    """The first ``errorCode`` of a Salesforce error body, if any."""
    try:
        body = json.loads(response.content or b"")
    except (ValueError, TypeError):
        return None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        code = body[0].get("errorCode")
        return str(code) if code else None
    return None


def raise_for_code(response: Response) -> None:
    """Raises the exception of an error code the connector recovers from, else nothing."""
    if response.status_code != 400:
        return
    code = error_code(response)
    if code == INVALID_QUERY_LOCATOR:
        raise QueryLocatorInvalid(
            "Salesforce query locator expired or was released (400 INVALID_QUERY_LOCATOR)",
            response=response,
        )
    if code == INVALID_REPLICATION_DATE:
        raise ReplicationDateInvalid(
            "Salesforce cannot answer deletions for that window (400 INVALID_REPLICATION_DATE)",
            response=response,
        )
