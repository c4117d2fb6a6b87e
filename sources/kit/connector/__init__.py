"""A connector as a declaration: a :class:`ConnectorSpec` wired onto the kit by one builder.

A connector package declares what its API is (``spec.py``: config section, base URL,
rate-limit groups, retry decider, error raiser, paginator, resources with keys, cursors,
column hints and how deletes are seen) and keeps only what is truly specific as small
hooks. Everything the three existing connectors used to rebuild each — the resilient
session, the cached per-resource REST client, the HTTP settings, resource selection,
the dead-letter guard, the dlt resource and the run's ledger wiring — is built here once.

Modules: ``spec`` (the declaration), ``session`` (resilient session from a spec),
``client`` (the RESTClient cache and the requests every connector makes), ``config``
(HTTP settings and base URL checks under ``sources.<name>``), ``resources`` (selection,
guard, dlt resource, the run every resource shares), ``children`` (embedded sub-lists
loaded as child tables that their parent replaces), ``arrow`` (the columnar last step:
record pages shaped into typed Arrow tables).
"""

from .arrow import CastingPages, columnar_step
from .children import REPLACED_MARKER, ChildSpec, CompleteList, child_items
from .client import ConnectorClient
from .config import check_base_url, resolve_connector_http
from .resources import ConnectorRun, make_guard, make_resource, select_names, start_run
from .session import build_session
from .spec import DELETE_DETECTION, ConnectorSpec, ResourceSpec

__all__ = [
    "DELETE_DETECTION",
    "REPLACED_MARKER",
    "CastingPages",
    "ChildSpec",
    "CompleteList",
    "child_items",
    "ConnectorClient",
    "ConnectorRun",
    "ConnectorSpec",
    "ResourceSpec",
    "build_session",
    "check_base_url",
    "columnar_step",
    "make_guard",
    "make_resource",
    "resolve_connector_http",
    "select_names",
    "start_run",
]
