"""Stripe declared for the kit's connector framework: one list endpoint, one resource.

``settings.RESOURCES`` keeps what only Stripe knows about each resource (its ``object``
type, whether it changes, list filters, the creation-time field) and ``settings.SUB_LISTS``
its embedded lists; :func:`resource_spec` maps each onto the kit's :class:`ResourceSpec`
(endpoint, key, cursor, disposition, column hints with every unix-time field a timestamp
from ``fields.json``, how deletes are seen, child tables).
"""

from __future__ import annotations

from dlt.common.schema.typing import TColumnSchema

from sources.kit.connector import ChildSpec, ConnectorSpec, ResourceSpec
from sources.kit.pagination import StartingAfterPaginator

from .errors import raise_for_stripe
from .events import is_deletable
from .fields import unix_time_columns
from .settings import (
    ENDPOINT_GROUPS,
    RESOURCES,
    SHOULD_RETRY_HEADER,
    SUB_LISTS,
    TEST_RATE_LIMIT,
    StripeResource,
    StripeSubList,
)

__all__ = ["SPEC", "column_hints", "deletes_of", "resource_spec"]

PRIMARY_KEY = ("id",)

IMMUTABLE_CURSOR = "created"
"""What immutable resources are appended by (``dlt.sources.incremental``)."""


def column_hints(resource: StripeResource) -> dict[str, TColumnSchema]:
    """Declared columns: timestamps, the soft-delete flag and JSON blobs.

    Every unix-time field that loads into a column of its own is a timestamp, as
    ``fields.json`` (generated from the Stripe SDK) says; the creation-time field is one
    whatever the SDK says, since the time-sliced listing filters on it. A fresh dict per
    call: dlt writes into the hints it is given.
    """
    columns: dict[str, TColumnSchema] = {
        "id": {"data_type": "text", "nullable": False},
        resource.time_field: {"data_type": "timestamp"},
        **timestamp_columns(resource.object_type),
    }
    if resource.mutable:
        columns["deleted"] = {"data_type": "bool"}
        columns["deleted_at"] = {"data_type": "timestamp", "nullable": True}
    if resource.name == "events":
        columns["data"] = {"data_type": "json"}
    return columns


def deletes_of(resource: StripeResource) -> tuple[str, ...]:
    """How deletes of the resource's objects are seen (keys of ``DELETE_DETECTION``).

    Deletable objects show up deleted in the events feed, go missing from a full
    re-list, and arrive as webhook deliveries; every other object is never deleted.
    """
    if resource.mutable and is_deletable(resource.object_type):
        return ("events", "relist", "webhook")
    return ("none",)


def timestamp_columns(object_type: str) -> dict[str, TColumnSchema]:
    """The object's unix-time fields as dlt columns (``fields.json``)."""
    return {name: {"data_type": "timestamp"} for name in unix_time_columns(object_type)}


def child_spec(sub_list: StripeSubList) -> ChildSpec:
    """The kit's declaration of one embedded list loaded as its own table."""
    columns: dict[str, TColumnSchema] = {
        "id": {"data_type": "text", "nullable": False},
        **timestamp_columns(sub_list.object_type),
    }
    return ChildSpec(
        name=sub_list.table,
        field=sub_list.field,
        parent_key=sub_list.parent_key,
        columns=columns,
    )


def resource_spec(resource: StripeResource) -> ResourceSpec:
    """The kit's declaration of one Stripe resource.

    Mutable objects are merged on ``id`` and followed through the events feed (no
    field cursor); immutable ones are appended by ``created``. Every record must carry
    its creation-time field (the time-sliced listing filters on it).
    """
    return ResourceSpec(
        name=resource.name,
        endpoint=resource.path,
        primary_key=PRIMARY_KEY,
        cursor=None if resource.mutable else IMMUTABLE_CURSOR,
        write_disposition="merge" if resource.mutable else "append",
        columns=column_hints(resource),
        deletes=deletes_of(resource),
        required=(resource.time_field,),
        params=dict(resource.list_params),
        children=tuple(child_spec(sub) for sub in SUB_LISTS.get(resource.name, ())),
    )


SPEC = ConnectorSpec(
    name="stripe",
    title="Stripe",
    data_selector="data",
    paginator=StartingAfterPaginator,
    raise_for_error=raise_for_stripe,
    # The key's mode picks the real default (live 100, test 25): see client.requests_per_second.
    rate_limit=TEST_RATE_LIMIT,
    rate_limit_groups=ENDPOINT_GROUPS,
    should_retry_header=SHOULD_RETRY_HEADER,
    resources=tuple(resource_spec(resource) for resource in RESOURCES),
)
"""The Stripe connector (``sources.stripe``)."""
