"""Gmail declared for the kit's connector framework: labels, messages and threads.

The limiter budgets quota units, not requests: :data:`~.settings.UNIT_COSTS` prices each
call by path and a batch is charged the sum of its calls (``client.py``).
"""

from __future__ import annotations

from dlt.common.schema.typing import TColumnSchema

from sources.kit.connector import ConnectorSpec, ResourceSpec
from sources.kit.http_config import HttpConfiguration
from sources.kit.pagination import LoopSafeJSONResponseCursorPaginator
from sources.kit.ratelimit import RequestCosts

from .errors import raise_for_gmail, retry_decider
from .messages import column_name
from .settings import (
    DEFAULT_RESOURCES,
    DEFAULT_UNITS_PER_S,
    LABELS_PATH,
    MESSAGES_PATH,
    METADATA_HEADERS,
    THREADS_PATH,
    UNIT_COSTS,
    UNITS_BURST,
)

__all__ = ["SPEC", "http_defaults"]


def http_defaults() -> HttpConfiguration:
    """Gmail's HTTP defaults: ``rate_limit`` is quota units per second."""
    return HttpConfiguration(rate_limit=DEFAULT_UNITS_PER_S)


def _columns(**extra: TColumnSchema) -> dict[str, TColumnSchema]:
    return {
        "id": {"data_type": "text", "nullable": False},
        "deleted": {"data_type": "bool"},
        **extra,
    }


def message_columns() -> dict[str, TColumnSchema]:
    """Declared message columns (a fresh dict per call: dlt writes into hints)."""
    headers: dict[str, TColumnSchema] = {
        column_name(h): {"data_type": "text"} for h in METADATA_HEADERS
    }
    return _columns(
        **headers,
        body_text={"data_type": "text"},
        body_html={"data_type": "text"},
        body_truncated={"data_type": "bool"},
        thread_id={"data_type": "text"},
        label_ids={"data_type": "json"},
        history_id={"data_type": "bigint"},
        internal_date={"data_type": "timestamp"},
        sent_at={"data_type": "timestamp"},
        size_estimate={"data_type": "bigint"},
        attachments={"data_type": "json"},
    )


LABELS = ResourceSpec(
    "labels",
    LABELS_PATH,
    columns=_columns(color={"data_type": "json"}),
    deletes=("relist",),
)
"""Every label, each run (one call, one unit); labels no longer listed get deleted = true."""

MESSAGES = ResourceSpec(
    "messages",
    MESSAGES_PATH,
    columns=message_columns(),
    deletes=("events", "relist"),
)
"""Full sync by messages.list, then history.list from the saved historyId."""

THREADS = ResourceSpec(
    "threads",
    THREADS_PATH,
    columns=_columns(history_id={"data_type": "bigint"}, message_count={"data_type": "bigint"}),
    deletes=("events", "relist"),
)
"""Full sync by threads.list, then the threads history.list names, fetched again."""

SPEC = ConnectorSpec(
    name="gmail",
    title="Gmail",
    data_selector="messages",
    paginator=lambda: LoopSafeJSONResponseCursorPaginator(
        cursor_path="nextPageToken", cursor_param="pageToken"
    ),
    raise_for_error=raise_for_gmail,
    rate_limit=DEFAULT_UNITS_PER_S,
    request_costs=RequestCosts(UNIT_COSTS, default=5),
    rate_limit_burst=UNITS_BURST,
    retry_decider=retry_decider,
    http_defaults=http_defaults,
    resources=(LABELS, MESSAGES, THREADS),
    default_resources=DEFAULT_RESOURCES,
)
"""The Gmail connector (``sources.gmail``)."""
