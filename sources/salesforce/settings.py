"""Salesforce endpoints, objects and constants.

Everything the Salesforce connector knows about the API surface lives here, so the
resources in ``__init__.py`` and the HTTP code in ``client.py`` stay free of literals.
"""

from __future__ import annotations

from collections.abc import Mapping

API_VERSION = "v59.0"
"""REST API version (Winter '24); pinned so describe and query shapes stay stable."""

DEFAULT_TOKEN_URL = "https://login.salesforce.com/services/oauth2/token"  # noqa: S105 - a URL
"""Production login host; sandboxes use ``test.salesforce.com``."""

DEFAULT_AUDIENCE = "https://login.salesforce.com"
"""``aud`` of JWT bearer assertions for production orgs."""

DEFAULT_OBJECTS: tuple[str, ...] = ("Account", "Contact", "Lead", "Opportunity", "User")
"""sObjects loaded unless ``sources.salesforce.objects`` says otherwise."""

PRIMARY_KEY = "Id"
"""Every sObject's key (the merge key)."""

CURSOR_FIELD = "SystemModstamp"
"""Changes are found by this audit field (indexed, moves on every system change)."""

LOOKBACK_S = 300
"""Each incremental query starts this far before the saved cursor: Salesforce commits
``SystemModstamp`` before the transaction is visible, so a change can appear late."""

DELETED_FLAG = "IsDeleted"
"""Present on objects that go to the recycle bin (not on User)."""

DEFAULT_MAX_API_USAGE_SHARE = 0.8
"""Stop before this share of the org's daily API requests is used."""

DEFAULT_RATE_LIMIT = 20.0
"""Requests per second; Salesforce limits per day (and concurrency), not per second."""

QUERY_BATCH_SIZE = 2000
"""Records per query page asked with ``Sforce-Query-Options: batchSize=``."""

LIMIT_INFO_HEADER = "Sforce-Limit-Info"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
DAILY_LIMIT_MESSAGE = "TotalRequests"
"""The one REQUEST_LIMIT_EXCEEDED that retrying cannot fix (the daily limit)."""

COMPOUND_TYPES = frozenset({"address", "location", "base64"})
"""Field types left out of queries: compound duplicates of their parts, or blobs."""

TYPE_MAP: Mapping[str, str] = {
    "id": "text",
    "reference": "text",
    "string": "text",
    "textarea": "text",
    "picklist": "text",
    "multipicklist": "text",
    "combobox": "text",
    "email": "text",
    "phone": "text",
    "url": "text",
    "encryptedstring": "text",
    "boolean": "bool",
    "int": "bigint",
    "long": "bigint",
    "double": "double",
    "percent": "double",
    "currency": "decimal",
    "date": "date",
    "datetime": "timestamp",
    "time": "time",
    "anyType": "text",
}
"""Salesforce field type -> dlt data type (describe decides, nothing is guessed)."""


def data_path() -> str:
    """``/services/data/<version>``."""
    return f"/services/data/{API_VERSION}"


DEFAULT_BULK_THRESHOLD = 10_000
"""Objects whose query matches more records than this are read with Bulk API 2.0."""

BULK_POLL_INTERVAL_S = 2.0
"""Seconds between status requests of a Bulk API query job."""

BULK_MAX_WAIT_S = 3600.0
"""A query job not complete after this long fails the run."""

BULK_MAX_RECORDS = 50_000
"""Records per CSV results request (``maxRecords``)."""

DEFAULT_FORMULA_FIELDS = "refresh"
"""Formula fields are re-read periodically (``exclude``, ``incremental``: see formulas.py)."""

DEFAULT_FORMULA_REFRESH_HOURS = 24.0
"""Hours between two re-reads of the formula fields of every record."""

DEFAULT_RECONCILE_HOURS = 168.0
"""Hours between two full re-lists of ids that mark deletes no API reported."""
