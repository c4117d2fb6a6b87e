"""The declaration of a connector and of each of its resources."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from dlt.common.schema.typing import TColumnSchema
from dlt.sources.helpers.rest_client.paginators import BasePaginator, SinglePagePaginator
from requests import Response

from sources.kit.http_config import HttpConfiguration
from sources.kit.retry import RetryDecider
from sources.kit.settings import HttpSettings

from .children import ChildSpec

ErrorRaiser = Callable[[Response], None]
"""Turns an error response into the kit's exception (returns on success)."""

DEFAULT_RATE_LIMIT = 10.0
"""Requests per second of a spec that declares none (connectors not on HTTP ignore it)."""


def accept_every_response(response: Response) -> None:
    """The error parser of a spec that declares none: leaves status checks to the kit."""


DELETE_DETECTION: Mapping[str, str] = {
    "none": "never deleted (immutable objects)",
    "events": "delete events in the provider's event feed, and full re-lists",
    "soft_delete_query": "a query that returns deleted records (recycle bin)",
    "audit_log": "the provider's audit/delete log",
    "relist": "keys missing from a full re-list",
    "webhook": "delete notifications received by the webhook receiver",
    "change_stream": "delete records in the source's change stream (logical replication)",
}
"""How a resource can see deletes; every resource names one or more of these."""


@dataclass(frozen=True)
class ResourceSpec:
    """One resource (one table) of a connector.

    Attributes:
        name: Resource and table name.
        endpoint: Path it is listed from, relative to the base URL (None when a hook
            builds the request, as for SOQL queries).
        primary_key: Columns that identify a record (the merge key).
        cursor: Field the incremental sync follows (None: no cursor, full listing).
        write_disposition: dlt write disposition (``merge`` for mutable records).
        columns: dlt column hints declared up front.
        deletes: How deletes are seen (keys of :data:`DELETE_DETECTION`).
        required: Fields a record must carry to be loadable (besides the key).
        params: Query parameters every list request sends.
        children: Embedded sub-lists loaded as child tables of their own.
    """

    name: str
    endpoint: Optional[str] = None
    primary_key: tuple[str, ...] = ("id",)
    cursor: Optional[str] = None
    write_disposition: str = "merge"
    columns: Mapping[str, TColumnSchema] = field(default_factory=dict)
    deletes: tuple[str, ...] = ("none",)
    required: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    children: tuple[ChildSpec, ...] = ()

    def __post_init__(self) -> None:
        unknown = [d for d in self.deletes if d not in DELETE_DETECTION]
        if unknown:
            raise ValueError(f"resource {self.name}: unknown delete detection {unknown}")


@dataclass(frozen=True)
class ConnectorSpec:
    """What a connector is, declared once; :mod:`sources.kit.connector` builds the rest.

    A connector that does not speak HTTP (Postgres logical replication, file drops) leaves
    the HTTP fields (data selector, paginator, error parser, rate limits) at their defaults
    and still gets resource selection, guards, dead letters and the run ledger.

    Attributes:
        name: Source name and config section (``sources.<name>``).
        title: How messages name the provider (``ServiceNow``).
        data_selector: JSONPath of the records in a list answer.
        paginator: Builds the list paginator (a fresh one per listing).
        raise_for_error: Error-body parser: an error answer becomes the kit's exception.
        rate_limit: Requests per second when ``sources.<name>.rate_limit`` is not set.
        rate_limit_groups: Endpoint groups with their own lower limits: name to
            ``(path regex, requests per second)``.
        request_costs: Units each request costs, for providers that meter quota units
            per method rather than requests (a ``RequestCosts`` table, called with the
            URL path); then ``rate_limit`` and the groups' limits are units per second.
        rate_limit_burst: Units (or requests) that may go out back to back; at least
            the costliest request so one never waits on an idle bucket.
        retry_decider: Builds the decider when the provider has its own retriable
            answers (Salesforce's 403 ``REQUEST_LIMIT_EXCEEDED``); the kit's otherwise.
        http_defaults: The connector's HTTP defaults where they differ from the kit's.
        should_retry_header: Header the provider sends to say whether to retry.
        resources: The resources it can load, when they are known in advance.
        default_resources: What a run loads when none are configured (all by default).
        resources_key: The setting that picks resources (``sources.<name>.<key>``).
        record_shaper: Turns a listed record into the row loaded (guard's mapper).
        columnar: Resources end in the kit's columnar step (record pages shaped into
            Arrow tables, :func:`sources.kit.connector.columnar_step`) unless the run
            switches it off (``sources.<name>.columnar = false``).
    """

    name: str
    title: str
    data_selector: str = "$"
    paginator: Callable[[], BasePaginator] = SinglePagePaginator
    raise_for_error: ErrorRaiser = accept_every_response
    rate_limit: float = DEFAULT_RATE_LIMIT
    rate_limit_groups: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    request_costs: Optional[Callable[[str], float]] = None
    rate_limit_burst: int = 1
    retry_decider: Optional[Callable[[HttpSettings], RetryDecider]] = None
    http_defaults: Callable[[], HttpConfiguration] = HttpConfiguration
    should_retry_header: Optional[str] = None
    resources: tuple[ResourceSpec, ...] = ()
    default_resources: Sequence[str] = ()
    resources_key: str = "resources"
    record_shaper: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None
    columnar: bool = True

    @property
    def section(self) -> str:
        """The config section, ``sources.<name>``."""
        return f"sources.{self.name}"

    @property
    def resources_setting(self) -> str:
        """The full key that picks resources (``sources.stripe.resources``)."""
        return f"{self.section}.{self.resources_key}"

    def resource(self, name: str) -> ResourceSpec:
        """The declared resource called ``name``.

        Raises:
            KeyError: No such resource is declared.
        """
        for resource in self.resources:
            if resource.name == name:
                return resource
        raise KeyError(name)

    def resource_names(self) -> list[str]:
        """Names of the declared resources, in declaration order."""
        return [resource.name for resource in self.resources]

    def default_names(self) -> list[str]:
        """What a run loads when ``resources_setting`` is not set."""
        return list(self.default_resources) or self.resource_names()
