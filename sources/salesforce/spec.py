"""Salesforce declared for the kit's connector framework: one sObject, one resource.

Objects are open-ended (any sObject with an ``Id`` and a ``SystemModstamp`` loads the
same way) and their columns come from describe at run time, so an object's
:class:`ResourceSpec` is built by :func:`object_resource` once it is described and its
columns are given to the kit's resource at run time; the spec declares no resource up
front and loads the default five objects.
"""

from __future__ import annotations

from sources.kit.connector import ConnectorSpec, ResourceSpec
from sources.kit.http_config import HttpConfiguration
from sources.kit.pagination import LoopSafeJSONLinkPaginator

from .errors import raise_for_salesforce, retry_decider
from .settings import CURSOR_FIELD, DEFAULT_OBJECTS, DEFAULT_RATE_LIMIT, PRIMARY_KEY

__all__ = ["SPEC", "http_defaults", "object_resource", "query_paginator"]

READ_TIMEOUT_S = 120.0
"""Long queries read slowly."""

RECYCLE_BIN_DELETES = ("soft_delete_query", "audit_log", "relist")
"""``queryAll`` of the recycle bin, the ``/deleted/`` log, and periodic re-lists of ids."""
RELIST_DELETES = ("relist",)
"""Objects without a recycle bin (User): only re-lists of ids see deletes."""


def http_defaults() -> HttpConfiguration:
    """Salesforce's HTTP defaults where they differ from the kit's: long queries read slowly."""
    return HttpConfiguration(rate_limit=DEFAULT_RATE_LIMIT, read_timeout=READ_TIMEOUT_S)


def query_paginator() -> LoopSafeJSONLinkPaginator:
    """Follows a query's ``nextRecordsUrl`` (a fresh one per query)."""
    return LoopSafeJSONLinkPaginator(next_url_path="nextRecordsUrl")


def object_resource(resource: str, *, deletable: bool) -> ResourceSpec:
    """The resource of one sObject: merged on ``Id``, incremental on ``SystemModstamp``.

    Its columns come from describe at run time (``columns=`` of the kit's resource).

    Args:
        resource: Resource and table name (the object's API name in lower case).
        deletable: Whether the object has a recycle bin (``IsDeleted``).

    Returns:
        The declaration; SOQL builds the requests, so it has no endpoint.
    """
    return ResourceSpec(
        name=resource,
        primary_key=(PRIMARY_KEY,),
        cursor=CURSOR_FIELD,
        write_disposition="merge",
        deletes=RECYCLE_BIN_DELETES if deletable else RELIST_DELETES,
    )


SPEC = ConnectorSpec(
    name="salesforce",
    title="Salesforce",
    data_selector="records",
    paginator=query_paginator,
    raise_for_error=raise_for_salesforce,
    rate_limit=DEFAULT_RATE_LIMIT,
    retry_decider=retry_decider,
    http_defaults=http_defaults,
    default_resources=DEFAULT_OBJECTS,
    resources_key="objects",
)
"""The Salesforce connector (``sources.salesforce``)."""
