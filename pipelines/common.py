"""What every ``pipelines/<name>_pipeline.py`` shares: destinations, errors, the run summary."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Optional, Protocol, TypeVar, get_args

import dlt
from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigValueCannotBeCoercedException,
    LookupTraces,
)
from dlt.common.configuration.providers.toml import TomlProviderReadException
from dlt.common.configuration.specs import ConnectionStringCredentials
from dlt.common.configuration.specs.gcp_credentials import (
    GcpServiceAccountCredentialsWithoutDefaults,
)
from dlt.common.destination import Destination
from dlt.common.destination.client import SupportsOpenTables
from dlt.common.destination.exceptions import UnknownDestinationModule
from dlt.common.pipeline import TRefreshMode, get_dlt_pipelines_dir
from dlt.common.runtime.run_context import RunContext
from dlt.destinations.exceptions import DestinationUndefinedEntity
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.user_errors import (
    memory_limit_problem,
    not_coerced_line,
    toml_syntax_line,
    unknown_destination_line,
    unreachable_line,
)
from sources.kit.deadletters import DEAD_LETTERS_TABLE
from sources.kit.errors import SluiceError
from sources.kit.http import ResilientSession
from sources.kit.logformat import apply_log_format, route_dlt_logs
from sources.kit.mapping import CanonicalOutcome
from sources.kit.progress import choose_progress
from sources.kit.redact import global_redactor, install_redaction

logger = logging.getLogger("sluice.pipeline")

DUCKDB_AMBIGUOUS = "Ambiguous reference to catalog or schema"
DUCKDB_OUT_OF_MEMORY = "Out of Memory Error"
DUCKDB_CANNOT_OPEN = "Cannot open file"

LOCAL_PIPELINES_DIR = os.path.join(".dlt", ".var", "pipelines")
"""Where pipeline state lives by default, inside the project (git-ignored, like dlt's
own workspace data in ``.dlt/.var``)."""

LOCAL_DATABASE_KEY = "sluice_duckdb_database"
"""Key in dlt's local (never synced) pipeline state: the DuckDB file the state belongs to."""


class UserFacingError(Exception):
    """An error the user fixes; printed as one line without a traceback."""


def setup_logging(verbose: bool = False, log_format: str = "text") -> None:
    """Logs to stderr with secrets redacted at every level, as text or JSON lines.

    Quiet by default: warnings, errors and the progress lines of a run nobody watches
    in a terminal (``sluice.progress``); ``verbose`` shows everything down to DEBUG.
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    apply_log_format(log_format)
    route_dlt_logs(log_format)
    OUTPUT.log_format = log_format
    if not verbose:
        logging.getLogger(PROGRESS_LOGGER).setLevel(logging.INFO)
        logging.getLogger("dlt").addFilter(drop_expected_dlt_notices)
    install_redaction(global_redactor())


PROGRESS_LOGGER = "sluice.progress"


@dataclass
class OutputSettings:
    """How this process reports: ``log_format`` ``json`` makes every line JSON."""

    log_format: str = "text"

    @property
    def json(self) -> bool:
        """Whether the user asked for JSON lines only."""
        return self.log_format == "json"


OUTPUT = OutputSettings()


def summary_printer(event: str) -> Callable[[str], None]:
    """Prints the lines of one summary step: as they are, or each as a JSON event
    (``{"event": ..., "message": ...}``) when the user asked for JSON lines only."""
    if OUTPUT.json:
        return lambda line: print(json.dumps({"event": event, "message": line}))
    return print


EXPECTED_DLT_NOTICES = (
    # per-table notice about all-null columns (Stripe has hundreds)
    "did not receive any data during this load",
    # the columnar path sends json columns as Arrow strings with a json hint, on purpose
    "when merging arrow schema with dlt schema",
    # per merge table and load on plain Parquet files; make_pipeline says it once
    "Falling back to `append`",
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


def project_dir() -> str:
    """The directory a run belongs to: dlt's run directory (the working directory, or
    ``DLT_PROJECT_DIR``), where dlt also reads ``.dlt/config.toml`` and ``secrets.toml``."""
    return os.path.abspath(dlt.current.run_context().run_dir)


def local_files_dir() -> str:
    """Where relative DuckDB paths resolve this run: dlt's local dir (the working
    directory, or ``DLT_LOCAL_DIR``)."""
    return os.path.abspath(dlt.current.run_context().local_dir)


def default_pipelines_dir(pipeline_name: Optional[str] = None) -> str:
    """Where pipeline state (cursors, schemas, pending load packages) lives.

    dlt's own default is one folder per user (``~/.dlt/pipelines``, ``/var/dlt/pipelines``
    for root), shared by every checkout on the machine: a second clone then continued from
    the first one's cursors into the first one's DuckDB file. sluice keeps the state in the
    project instead, unless the user chose a place: dlt's ``pipelines_dir`` setting
    (``pipelines.<name>.pipelines_dir``, ``pipelines.pipelines_dir``, ``pipelines_dir``,
    e.g. ``PIPELINES_DIR``), ``DLT_DATA_DIR`` (state in ``$DLT_DATA_DIR/pipelines``) or a
    dlt workspace run context (which already keeps its data inside the project).

    Args:
        pipeline_name: The pipeline, for its own ``pipelines.<name>.pipelines_dir``.

    Returns:
        An absolute directory; ``<project>/.dlt/.var/pipelines`` by default.
    """
    keys = ["pipelines.pipelines_dir", "pipelines_dir"]
    if pipeline_name:
        keys.insert(0, f"pipelines.{pipeline_name}.pipelines_dir")
    for key in keys:
        configured: Any = dlt.config.get(key)
        if configured:
            return os.path.abspath(str(configured))
    context = dlt.current.run_context()
    if os.environ.get("DLT_DATA_DIR") or type(context) is not RunContext:
        return os.path.abspath(get_dlt_pipelines_dir())
    return os.path.join(project_dir(), LOCAL_PIPELINES_DIR)


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
    """DuckDB settings for every connection dlt opens (the memory cap, unless "none").

    Raises:
        UserFacingError: The cap is not a size DuckDB accepts.
    """
    limit = str(dlt.config.get("sluice.duckdb_memory_limit") or DEFAULT_DUCKDB_MEMORY_LIMIT)
    if limit.lower() in ("none", "default", "0"):
        return {}
    problem = memory_limit_problem(limit)
    if problem:
        raise UserFacingError(problem)
    return {"memory_limit": limit}


def duckdb_database(pipeline_name: str, base_dir: Optional[str] = None) -> Optional[str]:
    """The absolute DuckDB file this run loads, or None for a special database.

    A relative path (the default ``<pipeline>_data.duckdb`` or a configured one) resolves
    in this run's directory. dlt would resolve it in the directory of the pipeline's
    *first* run, remembered in its state: a pipeline first run from a deleted clone kept
    failing with "Cannot open file", ``--full-refresh`` included.

    Args:
        pipeline_name: The pipeline (names the default file).
        base_dir: Where a relative path resolves instead of this run's directory.

    Returns:
        The file, or None for ``:memory:``-style and ``duckdb://``/``md:`` databases.
    """
    configured = configured_duckdb_credentials()
    if configured and (configured.startswith(":") or "://" in configured):
        return None
    database = configured or default_duckdb_file(pipeline_name)
    if database.startswith("md:"):
        return None
    folder = base_dir or local_files_dir()
    return os.path.normpath(os.path.join(folder, os.path.expanduser(database)))


def make_destination(
    name: str, pipeline_name: str, dataset_name: str, base_dir: Optional[str] = None
) -> Any:
    """Resolves ``--destination``; DuckDB gets a clash-free default file and a memory cap.

    The DuckDB file is passed as an absolute path resolved in this run's directory (see
    :func:`duckdb_database`), so each checkout loads its own file; ``base_dir`` anchors it
    elsewhere (an orchestrator whose tasks each run in a new temporary folder).

    Raises:
        UserFacingError: The DuckDB file name equals the dataset name.
    """
    if name != "duckdb":
        return name
    settings = duckdb_global_config() or None
    configured = configured_duckdb_credentials()
    if configured:
        check_duckdb_name_clash(configured, dataset_name)
    database = duckdb_database(pipeline_name, base_dir)
    if database is None:
        return dlt.destinations.duckdb()
    # A missing folder is reported when the load opens the file (see explain): an
    # orchestrator may create the run's directory only after this is built.
    credentials = DuckDbCredentials(database, global_config=settings)
    if configured:
        return dlt.destinations.duckdb(credentials=credentials)
    return dlt.destinations.duckdb(
        destination_name=default_duckdb_name(pipeline_name), credentials=credentials
    )


def make_pipeline(
    pipeline_name: str,
    dataset_name: str,
    destination_name: str,
    *,
    staging: Optional[str] = None,
    table_format: Optional[str] = None,
    progress: Optional[str] = None,
) -> dlt.Pipeline:
    """The pipeline behind ``--destination``, ``--staging`` and ``--table-format``.

    The destination comes from :func:`make_destination`; its credentials and the staging
    bucket resolve from dlt config when the pipeline runs. Options the destination cannot
    honour stop here, before any API request.

    Args:
        pipeline_name: dlt pipeline name (also the default DuckDB file stem).
        dataset_name: Dataset (schema) the tables go to.
        destination_name: A dlt destination name: ``duckdb``, ``postgres``, ``filesystem``,
            ``snowflake``, ``bigquery``, ``motherduck``, ``clickhouse``, ``databricks``...
        staging: ``filesystem`` to stage load files in ``destination.filesystem.bucket_url``.
        table_format: ``delta`` (or ``iceberg``) open tables, where the destination has them.
        progress: dlt progress kind (see :func:`progress_option`).

    Returns:
        The pipeline (nothing connects until it runs).

    Raises:
        UserFacingError: The destination takes no staging or not this table format.
    """
    destination = make_destination(destination_name, pipeline_name, dataset_name)
    check_load_options(destination, staging, table_format)
    if destination_name == "filesystem" and not table_format:
        logger.warning(
            "filesystem destination without a table format: dlt cannot merge plain Parquet "
            "files, so changed objects are appended; read the newest row per id by "
            "_dlt_load_id, or use --table-format delta (see README 'A lake on files')"
        )
    pipeline = dlt.pipeline(
        pipeline_name=pipeline_name,
        pipelines_dir=default_pipelines_dir(pipeline_name),
        destination=destination,
        dataset_name=dataset_name,
        staging=staging,
        **progress_option(progress),
    )
    if destination_name == "duckdb":
        bind_state_to_database(pipeline, duckdb_database(pipeline_name))
    return pipeline


def bind_state_to_database(pipeline: dlt.Pipeline, database: Optional[str]) -> None:
    """Sets aside local state that was built against another DuckDB file.

    The local state (cursors, schemas, pending packages) describes the file it was
    loaded into. When this run loads another file (another checkout, a moved or a
    changed ``DESTINATION__DUCKDB__CREDENTIALS``), continuing from it would load only
    the changes since someone else's cursors. The local state is then dropped, and
    dlt restores the state kept in this run's file (``_dlt_pipeline_state``) or, when
    the file is new or gone, loads everything again. dlt itself drops local state whose
    dataset is missing from the destination, which covers a deleted file.

    Args:
        pipeline: The pipeline just created.
        database: The absolute DuckDB file of this run (None: nothing to compare).
    """
    if database is None:
        return
    try:
        recorded = pipeline.get_local_state_val(LOCAL_DATABASE_KEY)
    except KeyError:
        recorded = None
    if recorded and recorded != database:
        logger.warning(
            "pipeline %s: its local state belongs to %s, this run loads %s; "
            "continuing from the state kept in %s (everything is loaded if it has none)",
            pipeline.pipeline_name,
            recorded,
            database,
            os.path.basename(database),
        )
        pipeline.drop()
    if recorded != database:
        pipeline.set_local_state_val(LOCAL_DATABASE_KEY, database)


def loaded_resources(pipeline: dlt.Pipeline) -> set[str]:
    """Resources that have tables in the pipeline's schemas (dead letters aside)."""
    names: set[str] = set()
    for schema_name in pipeline.schema_names:
        for table in pipeline.schemas[schema_name].data_tables(include_incomplete=True):
            resource = table.get("resource")
            if resource and table["name"] != DEAD_LETTERS_TABLE:
                names.add(resource)
    return names


def full_refresh_mode(
    pipeline: dlt.Pipeline, selected: Sequence[str], every: Iterable[str]
) -> TRefreshMode:
    """dlt's ``refresh`` for ``--full-refresh`` over the ``selected`` resources.

    All of them: ``drop_sources`` (every table of the source, its whole state). A subset
    (``--resources customers``): ``drop_resources``, which drops only those resources'
    tables and state and keeps the others'. ``_dead_letters`` holds every resource's
    dead letters but is recorded in the schema under whichever resource last wrote one;
    it is detached from the subset first, so refreshing that resource keeps the others'.

    Args:
        pipeline: The pipeline about to run.
        selected: The resources this run loads.
        every: All resources of the source.

    Returns:
        ``drop_sources`` or ``drop_resources``.
    """
    if set(every) <= set(selected):
        return "drop_sources"
    for name in pipeline.schema_names:
        schema = pipeline.schemas[name]
        table = schema.tables.get(DEAD_LETTERS_TABLE)
        if table is not None and table.get("resource") in selected:
            table["resource"] = DEAD_LETTERS_TABLE
            pipeline.schemas.save_schema(schema)
    return "drop_resources"


def resolve_table_format(flag: Optional[str], source_section: str) -> Optional[str]:
    """The table format from ``--table-format``, else from ``sources.<section>.table_format``.

    Args:
        flag: The command-line value, if given.
        source_section: The source's config section (``stripe``).

    Returns:
        ``delta``, ``iceberg`` or ``None`` (plain files / the destination's own tables).
    """
    if flag:
        return flag
    configured: Any = dlt.config.get(f"sources.{source_section}.table_format")
    return str(configured) if configured else None


def check_load_options(
    destination: Any, staging: Optional[str], table_format: Optional[str]
) -> None:
    """Refuses a staging or table format the destination's dlt capabilities rule out.

    Without this check dlt accepts both and then fails after the whole extract
    (``DestinationLoadingViaStagingNotSupported``) or ignores the table format with a
    warning while the source still switches its merge strategy.

    Args:
        destination: A destination name or dlt destination factory.
        staging: The requested staging destination, if any.
        table_format: The requested table format, if any.

    Raises:
        UserFacingError: When the destination cannot honour one of them.
    """
    if not staging and not table_format:
        return
    factory = Destination.from_reference(destination)
    if factory is None:
        return
    kind = factory.destination_type.rsplit(".", 1)[-1]
    capabilities = factory.capabilities()
    if staging and not capabilities.supported_staging_file_formats:
        raise UserFacingError(
            f"--staging {staging}: the {kind} destination loads directly and takes no "
            "staging (staging is for snowflake, bigquery, clickhouse, databricks...)"
        )
    if table_format and table_format not in (capabilities.supported_table_formats or ()):
        raise UserFacingError(
            f"table format {table_format} (--table-format or the source's table_format): "
            f"the {kind} destination does not write {table_format} tables; "
            "use --destination filesystem"
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
        if isinstance(cause, SluiceError):
            return global_redactor().redact_text(unreachable_line(cause) or str(cause))
        if isinstance(cause, UserFacingError):
            return global_redactor().redact_text(str(cause))
        if isinstance(cause, ConfigFieldMissingException):
            return missing_config_line(cause)
        if isinstance(cause, ConfigValueCannotBeCoercedException):
            return global_redactor().redact_text(not_coerced_line(cause))
        if isinstance(cause, UnknownDestinationModule):
            return unknown_destination_line(cause)
        if isinstance(cause, TomlProviderReadException):
            return global_redactor().redact_text(toml_syntax_line(cause))
        if DUCKDB_AMBIGUOUS in str(cause):
            return (
                "DuckDB cannot tell the database file from the dataset because they share "
                "a name: rename the file in DESTINATION__DUCKDB__CREDENTIALS"
            )
        if DUCKDB_CANNOT_OPEN in str(cause):
            return (
                f"{str(cause).splitlines()[0]}: check that the folder exists and is writable, "
                "or point DESTINATION__DUCKDB__CREDENTIALS at another file"
            )
        if DUCKDB_OUT_OF_MEMORY in str(cause):
            limit = duckdb_global_config().get("memory_limit", "DuckDB's default")
            return (
                f"DuckDB ran out of memory while loading (cap: {limit}): raise "
                "sluice.duckdb_memory_limit (e.g. SLUICE__DUCKDB_MEMORY_LIMIT=1GB, or none) and "
                "run again; the extracted data is kept and the load resumes"
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
    destination = getattr(getattr(exc, "config", None), "destination_type", None)
    if destination and spec.endswith("ClientConfiguration") and fields:
        return missing_destination_line(exc, str(destination).rsplit(".", 1)[-1])
    names = ", ".join(fields) or "a required setting"
    where = spec or "the pipeline"
    return f"missing configuration: {names} of {where} (see .dlt/example.secrets.toml)"


def missing_destination_line(exc: ConfigFieldMissingException, destination: str) -> str:
    """The exact ``destination.<name>.…`` keys (and environment variables) dlt missed.

    A missing ``credentials`` field is itself a configuration: its missing fields are
    named one by one (for a union of credential kinds, those of the first kind, e.g.
    BigQuery's service account), with the single-value alternative where dlt takes one
    (a connection string, the service-account JSON).

    Args:
        exc: dlt's exception for a ``<Destination>ClientConfiguration``.
        destination: The destination type (``snowflake``, ``filesystem``...).

    Returns:
        One line naming the keys.
    """
    section = f"destination.{destination}"
    keys: list[str] = []
    alternative = ""
    for field in exc.fields:
        nested = next((t for t in exc.traces[field] if isinstance(t, LookupTraces)), None)
        if nested is None:
            keys.append(f"{section}.{field}")
            continue
        keys.extend(f"{section}.{field}.{inner}" for inner in nested.traces)
        single = single_value_credentials(exc, field, nested.spec_name)
        if single:
            alternative = f" (or {single} in {env_name(f'{section}.{field}')})"
    secret = any(".credentials" in key for key in keys)
    what = "credentials" if secret else "configuration"
    where = ".dlt/secrets.toml" if secret else ".dlt/config.toml"
    return (
        f"{destination} destination {what} missing: set {', '.join(keys)} in {where} "
        f"or {', '.join(env_name(k) for k in keys)}{alternative}"
    )


def single_value_credentials(
    exc: ConfigFieldMissingException, field: str, spec_name: str
) -> Optional[str]:
    """What dlt accepts as the whole ``credentials`` value of this spec, if anything."""
    hint = exc.config.get_resolvable_fields().get(field)
    for kind in get_args(hint) or (hint,):
        if not isinstance(kind, type) or kind.__name__ != spec_name:
            continue
        if issubclass(kind, ConnectionStringCredentials):
            return "a connection string"
        if issubclass(kind, GcpServiceAccountCredentialsWithoutDefaults):
            return "the service-account JSON"
    return None


def env_name(key: str) -> str:
    """dlt's environment variable for a config key: ``a.b_c`` → ``A__B_C``."""
    return key.upper().replace(".", "__")


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


def with_child_tables(pipeline: dlt.Pipeline, tables: Iterable[str]) -> list[str]:
    """``tables`` with, after each, the child tables its resource loads besides its own
    (``invoice_line_items`` after ``invoices``; dlt's nested tables are left out)."""
    tables = list(tables)
    listed = set(tables)
    children: dict[str, list[str]] = {}
    for table in pipeline.default_schema.data_tables():
        resource = table.get("resource")
        # _dead_letters (written by whichever resource had a bad record first) is listed
        # on its own by the summary, never as a child.
        if table["name"] in listed or table["name"] == DEAD_LETTERS_TABLE:
            continue
        if resource and resource != table["name"] and not table.get("parent"):
            children.setdefault(str(resource), []).append(str(table["name"]))
    return [name for table in tables for name in (table, *sorted(children.get(table, ())))]


def count_rows(pipeline: dlt.Pipeline, tables: Iterable[str]) -> list[TableCount]:
    """Counts rows per table in the destination (only tables that exist).

    Delta tables on the filesystem destination are counted from their Delta log with
    ``deltalake``: dlt's SQL client would read them with DuckDB's ``delta`` extension,
    which DuckDB downloads on first use (slow, and failing offline).
    """
    tables = list(tables)
    open_counts = delta_table_rows(pipeline, tables)
    counts: list[TableCount] = []
    sql_tables = [t for t in tables if t not in open_counts]
    sql_counts: dict[str, int] = {}
    if sql_tables:
        with pipeline.sql_client() as client:
            for table in sql_tables:
                qualified = client.make_qualified_table_name(table)
                try:
                    rows = client.execute_sql(f"SELECT COUNT(*) FROM {qualified}")  # noqa: S608
                except Exception:  # noqa: BLE001 - a table never created counts as absent
                    logger.debug("table %s not in the destination", table)
                    continue
                sql_counts[table] = int(rows[0][0]) if rows else 0
    for table in tables:
        if table in open_counts:
            counts.append(TableCount(table, open_counts[table]))
        elif table in sql_counts:
            counts.append(TableCount(table, sql_counts[table]))
    return counts


def delta_table_rows(pipeline: dlt.Pipeline, tables: Iterable[str]) -> dict[str, int]:
    """Rows of the Delta tables among ``tables`` (filesystem destination), by table.

    Args:
        pipeline: A pipeline that has run.
        tables: Candidate table names; those without the ``delta`` table format in the
            pipeline's schema are left to SQL.

    Returns:
        Row counts of the Delta tables that exist (empty for other destinations).
    """
    if not pipeline.default_schema_name:
        return {}
    schema_tables = pipeline.default_schema.tables
    delta = [t for t in tables if schema_tables.get(t, {}).get("table_format") == "delta"]
    if not delta:
        return {}
    client = pipeline.destination_client()
    if not isinstance(client, SupportsOpenTables):
        return {}
    counts: dict[str, int] = {}
    for table in delta:
        try:
            counts[table] = int(client.load_open_table("delta", table).count())
        except DestinationUndefinedEntity:
            logger.debug("delta table %s not in the destination", table)
    return counts


def destination_location(pipeline: dlt.Pipeline) -> str:
    """Where the data is, for the summary (file path for DuckDB, folder for files)."""
    client = pipeline.destination_client()
    config = client.config
    credentials = getattr(config, "credentials", None)
    database = getattr(credentials, "database", None)
    kind = pipeline.destination.destination_type.rsplit(".", 1)[-1]
    if database:
        return f"{kind} file {database}, dataset {pipeline.dataset_name}"
    bucket_url = getattr(config, "bucket_url", None)
    if bucket_url:
        return f"{kind} {bucket_url}, dataset {pipeline.dataset_name}"
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
    counts = count_rows(pipeline, with_child_tables(pipeline, tables))
    totals: dict[str, Any] = session.total_stats()
    if OUTPUT.json:
        summary = run_summary_json(pipeline, session, counts, totals, seconds)
        if extra.strip():
            summary["api_usage"] = extra.strip()
        print(json.dumps(summary))
        return
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


def run_summary_json(
    pipeline: dlt.Pipeline,
    session: ResilientSession,
    counts: list[TableCount],
    totals: Mapping[str, Any],
    seconds: float,
) -> dict[str, Any]:
    """The run summary as one JSON object (``--log-format json``)."""
    return {
        "event": "run_summary",
        "tables": {count.table: count.rows for count in counts},
        "api_requests": totals.get("requests", 0),
        "retries": totals.get("retries", 0),
        "throttled_429": totals.get("throttled_429", 0),
        "duration_s": round(seconds, 3),
        "circuits": [
            {
                "name": b.get("name", session.integration),
                "state": b.get("state"),
                "trips": b.get("trips", 0),
            }
            for b in session.breakers.snapshot()
        ],
        "data": destination_location(pipeline),
    }


def print_canonical_summary(outcome: CanonicalOutcome) -> None:
    """Prints canonical rows per table, the raw rows mapped, crosswalk figures and drift."""
    counts = count_rows(outcome.pipeline, outcome.tables)
    print()
    print(format_table([(c.table, str(c.rows)) for c in counts], ("canonical table", "rows")))
    if outcome.read:
        mapped = ", ".join(
            f"{name} {rows} row(s) of {loads} load(s)"
            for name, (rows, loads) in outcome.read.items()
        )
        print(f"mapped from the raw tables: {mapped}")
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
        if OUTPUT.json:
            logger.error(explain(exc), extra={"event": "run_failed"})
        else:
            print(f"error: {explain(exc)}", file=sys.stderr)
        logger.debug("full error", exc_info=True)
        return 1
