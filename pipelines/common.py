"""What every ``pipelines/<name>.py`` shares: destinations, error lines, the run summary."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Optional, Protocol, TypeVar

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.kit.errors import SluiceError
from sources.kit.http import ResilientSession
from sources.kit.logformat import apply_log_format
from sources.kit.mapping import CanonicalOutcome
from sources.kit.progress import choose_progress
from sources.kit.redact import global_redactor, install_redaction

logger = logging.getLogger("sluice.pipeline")

DUCKDB_AMBIGUOUS = "Ambiguous reference to catalog or schema"


class UserFacingError(Exception):
    """An error the user fixes; printed as one line without a traceback."""


def setup_logging(verbose: bool = False, log_format: str = "text") -> None:
    """Logs to stderr with secrets redacted at every level, as text or JSON lines."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    apply_log_format(log_format)
    if not verbose:
        for noisy in ("urllib3", "dlt", "sluice.http"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        logging.getLogger("dlt").addFilter(drop_expected_dlt_notices)
    install_redaction(global_redactor())


EXPECTED_DLT_NOTICES = (
    # per-table notice about all-null columns (Stripe has hundreds)
    "did not receive any data during this load",
    # the columnar path sends json columns as Arrow strings with a json hint, on purpose
    "when merging arrow schema with dlt schema",
)


def drop_expected_dlt_notices(record: logging.LogRecord) -> bool:
    """Hides dlt notices that are expected for every sluice run (they drown real ones)."""
    message = record.getMessage()
    return not any(notice in message for notice in EXPECTED_DLT_NOTICES)


def default_duckdb_name(pipeline_name: str) -> str:
    """Destination name (and DuckDB file stem) used when the user configured no file.

    dlt would name the file ``<pipeline>.duckdb``; with DuckDB 2.0 a file ``stripe.duckdb``
    holding a dataset ``stripe`` makes every query ambiguous (catalog vs schema), so the
    default carries a suffix. It is set as the destination *name*, not as explicit
    credentials, because dlt keeps the name in the pipeline state: ``dlt.attach``, the
    dlt CLI, ``status.py`` and the dead-letter replay then find the same file.
    """
    return f"{pipeline_name}_data"


def default_duckdb_file(pipeline_name: str) -> str:
    """The default DuckDB file name (in the working directory)."""
    return f"{default_duckdb_name(pipeline_name)}.duckdb"


def configured_duckdb_credentials() -> Optional[str]:
    """The DuckDB database the user configured through dlt secrets, config or env."""
    value: Any = dlt.secrets.get("destination.duckdb.credentials")
    if isinstance(value, Mapping):
        value = value.get("database")
    return str(value) if value else None


DEFAULT_DUCKDB_MEMORY_LIMIT = "128MB"
"""DuckDB's memory cap during loads (``sluice.duckdb_memory_limit``). DuckDB's own default
is 80% of the machine's RAM, and a merge of a large first sync would take it; above
the cap DuckDB spills to disk."""


def duckdb_global_config() -> dict[str, Any]:
    """DuckDB settings for every connection dlt opens (the memory cap, unless "none")."""
    limit = str(dlt.config.get("sluice.duckdb_memory_limit") or DEFAULT_DUCKDB_MEMORY_LIMIT)
    return {} if limit.lower() in ("none", "default", "0") else {"memory_limit": limit}


def make_destination(name: str, pipeline_name: str, dataset_name: str) -> Any:
    """Resolves ``--destination``; DuckDB gets a clash-free default file and a memory cap.

    Raises:
        UserFacingError: The DuckDB file name equals the dataset name.
    """
    if name != "duckdb":
        return name
    settings = duckdb_global_config()
    configured = configured_duckdb_credentials()
    if configured:
        check_duckdb_name_clash(configured, dataset_name)
        if not settings or configured.startswith(":") or "://" in configured:
            return dlt.destinations.duckdb()
        return dlt.destinations.duckdb(
            credentials=DuckDbCredentials(configured, global_config=settings)
        )
    default_name = default_duckdb_name(pipeline_name)
    if not settings:
        return dlt.destinations.duckdb(destination_name=default_name)
    return dlt.destinations.duckdb(
        destination_name=default_name,
        credentials=DuckDbCredentials(f"{default_name}.duckdb", global_config=settings),
    )


def check_duckdb_name_clash(database: str, dataset_name: str) -> None:
    """Refuses a DuckDB file whose name equals the dataset (ambiguous in DuckDB 2.0)."""
    if database in (":memory:", ":pipeline:") or "://" in database:
        return
    if Path(database).stem == dataset_name:
        raise UserFacingError(
            f"DuckDB file {database!r} has the same name as the dataset {dataset_name!r}; "
            "DuckDB 2.0 cannot tell the catalog from the schema. Choose another file name "
            "in DESTINATION__DUCKDB__CREDENTIALS (e.g. "
            f"{default_duckdb_file(dataset_name)!r})"
        )


def explain(exc: BaseException) -> str:
    """One redacted line saying what went wrong and what to fix."""
    for cause in iter_causes(exc):
        if isinstance(cause, (SluiceError, UserFacingError)):
            return global_redactor().redact_text(str(cause))
        if isinstance(cause, ConfigFieldMissingException):
            return missing_config_line(cause)
        if DUCKDB_AMBIGUOUS in str(cause):
            return (
                "DuckDB cannot tell the database file from the dataset because they share "
                "a name: rename the file in DESTINATION__DUCKDB__CREDENTIALS"
            )
    last = list(iter_causes(exc))[-1]
    text = f"{type(last).__name__}: {last}".splitlines()[0]
    return global_redactor().redact_text(text)


def missing_config_line(exc: ConfigFieldMissingException) -> str:
    """Names the setting a user must provide, and where."""
    fields = list(getattr(exc, "fields", None) or [])
    spec = str(getattr(exc, "spec_name", "") or "")
    if "api_key" in fields:
        return (
            "Stripe API key missing: set sources.stripe.api_key in .dlt/secrets.toml "
            "or the SOURCES__STRIPE__API_KEY environment variable"
        )
    if spec.endswith("ClientConfiguration") and "credentials" in fields:
        destination = spec.removesuffix("ClientConfiguration").lower()
        return (
            f"{destination} destination credentials missing: set "
            f"destination.{destination}.credentials in .dlt/secrets.toml or "
            f"DESTINATION__{destination.upper()}__CREDENTIALS (e.g. a connection string)"
        )
    names = ", ".join(fields) or "a required setting"
    where = spec or "the pipeline"
    return f"missing configuration: {names} of {where} (see .dlt/example.secrets.toml)"


def iter_causes(exc: BaseException) -> Iterable[BaseException]:
    """The exception and its causes, outermost first."""
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, PipelineStepFailed) and current.exception is not current:
            current = current.exception
        else:
            current = current.__cause__ or current.__context__


@dataclass
class TableCount:
    """Rows in one destination table."""

    table: str
    rows: int


def count_rows(pipeline: dlt.Pipeline, tables: Iterable[str]) -> list[TableCount]:
    """Counts rows per table in the destination (only tables that exist)."""
    counts: list[TableCount] = []
    with pipeline.sql_client() as client:
        for table in tables:
            qualified = client.make_qualified_table_name(table)
            try:
                rows = client.execute_sql(f"SELECT COUNT(*) FROM {qualified}")  # noqa: S608
            except Exception:  # noqa: BLE001 - a table that was never created counts as absent
                logger.debug("table %s not in the destination", table)
                continue
            counts.append(TableCount(table, int(rows[0][0]) if rows else 0))
    return counts


def destination_location(pipeline: dlt.Pipeline) -> str:
    """Where the data is, for the summary (file path for DuckDB)."""
    client = pipeline.destination_client()
    config = client.config
    credentials = getattr(config, "credentials", None)
    database = getattr(credentials, "database", None)
    if database:
        kind = pipeline.destination.destination_type.rsplit(".", 1)[-1]
        return f"{kind} file {database}, dataset {pipeline.dataset_name}"
    return f"{pipeline.destination.destination_name}, dataset {pipeline.dataset_name}"


def format_table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
    return "\n".join(lines)


class HasSession(Protocol):
    """A connector client: it sends through a resilient session."""

    @property
    def session(self) -> ResilientSession: ...


ClientT = TypeVar("ClientT", bound=HasSession)


class ClientSlot(Generic[ClientT]):
    """Holds the client built inside a run, for the ledger's request counters.

    The client is built inside ``run_with_ledger`` (so rejected credentials still leave
    a ``failed`` ledger row); the ledger reads request counters and breaker states
    through this slot, which answers empty until the client exists.
    """

    def __init__(self) -> None:
        self.client: Optional[ClientT] = None
        self.tables: list[str] = []

    def stats_by_label(self) -> dict[str, Any]:
        """Request counters per resource (none before the client exists)."""
        return dict(self.client.session.stats_by_label()) if self.client else {}

    def snapshot(self) -> list[dict[str, Any]]:
        """Circuit-breaker states."""
        return list(self.client.session.breakers.snapshot()) if self.client else []


def progress_option(requested: Optional[str]) -> dict[str, Any]:
    """dlt's ``progress=`` argument: bars in a terminal, periodic log lines otherwise."""
    chosen = choose_progress(requested, sys.stderr.isatty())
    return {"progress": chosen} if chosen else {}


def print_run_summary(
    pipeline: dlt.Pipeline,
    session: ResilientSession,
    tables: list[str],
    seconds: float,
    *,
    extra: str = "",
) -> None:
    """Prints rows per table, request figures, circuit states and where the data is.

    Args:
        pipeline: The pipeline that just ran.
        session: The connector's root session (request counters, breakers).
        tables: Tables to count rows of.
        seconds: Duration of the run.
        extra: Connector-specific figures for the request line (e.g. API usage).
    """
    counts = count_rows(pipeline, tables)
    totals: dict[str, Any] = session.total_stats()
    print(format_table([(c.table, str(c.rows)) for c in counts], ("table", "rows")))
    print()
    print(
        f"API requests: {totals.get('requests', 0)}  retries: {totals.get('retries', 0)}  "
        f"429s: {totals.get('throttled_429', 0)}{extra}  duration: {seconds:.1f}s"
    )
    for breaker in session.breakers.snapshot():
        print(
            f"circuit {breaker.get('name', session.integration)}: {breaker.get('state')} "
            f"(trips: {breaker.get('trips', 0)})"
        )
    print(f"data: {destination_location(pipeline)}")


def print_canonical_summary(outcome: CanonicalOutcome) -> None:
    """Prints canonical rows per table, crosswalk figures and mapping drift."""
    counts = count_rows(outcome.pipeline, outcome.tables)
    print()
    print(format_table([(c.table, str(c.rows)) for c in counts], ("canonical table", "rows")))
    print(
        f"crosswalk: {outcome.linked} new link(s), "
        f"{len(outcome.ambiguous)} ambiguous record(s) left unlinked"
    )
    for drift in outcome.drift:
        for line in drift.lines():
            print(f"drift: {line}")
        if drift.unmapped_count and not drift.new_unmapped:
            print(f"mapping {drift.mapping}: {drift.unmapped_count} source field(s) unmapped")
    print(f"canonical: {destination_location(outcome.pipeline)}")


def run_reporting_errors(run: Callable[[], int]) -> int:
    """Runs a pipeline command; any error becomes one redacted line and exit code 1.

    Args:
        run: The command, returning its exit code.

    Returns:
        The command's exit code, 1 on an error, 130 when interrupted.
    """
    try:
        return run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the top-level report of every pipeline script
        print(f"error: {explain(exc)}", file=sys.stderr)
        logger.debug("full error", exc_info=True)
        return 1
