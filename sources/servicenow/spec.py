"""ServiceNow declared for the kit's connector framework: one Table API table, one resource.

Tables are open-ended (any table the user may read loads the same way), so a table's
:class:`ResourceSpec` comes from :func:`table_spec`; the spec declares the default four.
"""

from __future__ import annotations

import re

from dlt.common.schema.typing import TColumnSchema

from sources.kit.connector import ConnectorSpec, ResourceSpec
from sources.kit.errors import ConfigurationError
from sources.kit.http_config import HttpConfiguration

from .errors import raise_for_servicenow
from .paginator import LoopSafeHeaderLinkPaginator
from .records import shape_live
from .settings import (
    CURSOR_FIELD,
    DEFAULT_RATE_LIMIT,
    DEFAULT_TABLES,
    LIST_PARAMS,
    MAX_WAIT_S,
    PRIMARY_KEY,
    TABLE_NAME_PATTERN,
    TABLE_PATH,
)

__all__ = ["SPEC", "check_table_name", "column_hints", "http_defaults", "table_spec"]

DELETES = ("audit_log", "relist")
"""sys_audit_delete / sys_audit entries, and the periodic scan of every sys_id."""


def http_defaults() -> HttpConfiguration:
    """ServiceNow's HTTP defaults where they differ from the kit's (see ``settings.py``)."""
    return HttpConfiguration(rate_limit=DEFAULT_RATE_LIMIT, max_wait_s=MAX_WAIT_S)


def column_hints() -> dict[str, TColumnSchema]:
    """Declared columns: key, timestamps and the soft-delete flag (a fresh dict per call)."""
    return {
        PRIMARY_KEY: {"data_type": "text", "nullable": False},
        "sys_created_on": {"data_type": "timestamp", "nullable": True},
        # Of two copies of a record in one load (it changed during the run) keep the newer.
        CURSOR_FIELD: {"data_type": "timestamp", "nullable": True, "dedup_sort": "desc"},
        "deleted": {"data_type": "bool"},
        "deleted_at": {"data_type": "timestamp", "nullable": True},
    }


def check_table_name(table: str) -> str:
    """Refuses table names that could not be a ServiceNow table (path injection).

    Raises:
        ConfigurationError: The name is not lower-case letters, digits and underscores.
    """
    if not re.match(TABLE_NAME_PATTERN, table):
        raise ConfigurationError(
            f"{table!r} in {SPEC.resources_setting} is not a ServiceNow table name"
        )
    return table


def table_spec(table: str) -> ResourceSpec:
    """The resource of one table: merged on sys_id, incremental on sys_updated_on.

    Built per call so dlt, which writes into column hints, never shares them between runs.
    """
    return ResourceSpec(
        name=table,
        endpoint=TABLE_PATH.format(table=table),
        primary_key=(PRIMARY_KEY,),
        cursor=CURSOR_FIELD,
        write_disposition="merge",
        columns=column_hints(),
        deletes=DELETES,
        params=LIST_PARAMS,
    )


SPEC = ConnectorSpec(
    name="servicenow",
    title="ServiceNow",
    data_selector="result",
    paginator=LoopSafeHeaderLinkPaginator,
    raise_for_error=raise_for_servicenow,
    rate_limit=DEFAULT_RATE_LIMIT,
    http_defaults=http_defaults,
    resources=tuple(table_spec(table) for table in DEFAULT_TABLES),
    default_resources=DEFAULT_TABLES,
    resources_key="tables",
    record_shaper=shape_live,
)
"""The ServiceNow connector (``sources.servicenow``)."""
