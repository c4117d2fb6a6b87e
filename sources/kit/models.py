"""Analyst models on top of a connector's raw tables: its dbt package, run by dlt's runner.

A connector with a dbt project in ``models/<connector>/`` gets it refreshed after each load
(:func:`refresh_models`) or on demand (``sluice models <connector>``). dlt's dbt runner
(``dlt.dbt.package``) passes the pipeline's destination credentials and dataset to dbt; the
models are built in their own dataset, ``<dataset>_models``, beside the raw one, so what
dlt loads and what dbt derives never mix.

dbt runs in the current virtual environment: machines that run sluice may have no internet,
so the runner never creates a venv or installs anything. Without ``dbt-duckdb``, or on a
destination the SQL is not written for, the refresh is skipped with one line saying why.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import sys
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import dlt

from .errors import SluiceError

MODELS_ROOT = Path(__file__).resolve().parents[2] / "models"
"""Where the connectors' dbt projects live: ``models/<connector>/dbt_project.yml``."""

MODELS_DATASET_SUFFIX = "_models"
SUPPORTED_DESTINATIONS = frozenset({"duckdb"})
"""Destinations the models' SQL is written for (DuckDB's JSON operators and ASOF joins)."""

ENABLE_HINT = "pip install 'sluice[models]'"
MAX_ERROR_CHARS = 300
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

Echo = Callable[[str], None]


class ModelsError(SluiceError):
    """A model (or the dbt run itself) failed; the raw load before it stands."""


@dataclass(frozen=True)
class ModelResult:
    """One dbt node (model or test) after a run.

    Attributes:
        name: The node's name, e.g. ``stripe__mrr_by_month``.
        status: dbt's status: ``success``, ``error``, ``pass``, ``fail``, ``skipped``...
        message: dbt's message, e.g. ``OK`` or the error.
        seconds: Execution time.
    """

    name: str
    status: str
    message: str
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether the node built (model) or held (test)."""
        return self.status in ("success", "pass")

    def line(self) -> str:
        """One summary line, e.g. ``stripe__daily_overview  success  OK  0.12s``."""
        return f"{self.name:<40} {self.status:<8} {_short(self.message):<20} {self.seconds:.2f}s"


@dataclass(frozen=True)
class ModelsOutcome:
    """What a refresh did.

    Attributes:
        connector: The connector whose models ran.
        dataset: The dataset the models were built in (empty when skipped).
        skipped: Why nothing ran, or ``None`` when the models ran.
        models: The models built, in dbt's order.
        tests: The schema tests run on them.
    """

    connector: str
    dataset: str = ""
    skipped: Optional[str] = None
    models: tuple[ModelResult, ...] = ()
    tests: tuple[ModelResult, ...] = field(default_factory=tuple)

    @property
    def failed_tests(self) -> list[ModelResult]:
        """The tests that did not pass."""
        return [test for test in self.tests if not test.ok]

    def lines(self) -> list[str]:
        """The summary: one line per model and one for the tests (or the skip line)."""
        if self.skipped is not None:
            return [f"models: skipped ({self.skipped})"]
        lines = [f"models ({self.connector}, dataset {self.dataset}):"]
        lines += [f"  {model.line()}" for model in self.models]
        if self.tests:
            failed = self.failed_tests
            verdict = (
                "all passed"
                if not failed
                else f"{len(failed)} failed: " + ", ".join(test.name for test in failed)
            )
            lines.append(f"  tests: {len(self.tests)} run, {verdict}")
        return lines


def package_dir(connector: str, root: Path = MODELS_ROOT) -> Optional[Path]:
    """Return the connector's dbt project folder, or ``None`` when it has none."""
    path = root / connector
    return path if (path / "dbt_project.yml").is_file() else None


def models_dataset(dataset_name: str) -> str:
    """Return the dataset the models of raw dataset ``dataset_name`` are built in."""
    return f"{dataset_name}{MODELS_DATASET_SUFFIX}"


def dbt_installed() -> bool:
    """Whether dbt with its DuckDB adapter can be imported here."""
    try:
        return importlib.util.find_spec("dbt.adapters.duckdb") is not None
    except ModuleNotFoundError:  # no ``dbt`` namespace at all
        return False


def destination_type(pipeline: dlt.Pipeline) -> Optional[str]:
    """Return the pipeline's destination type (``duckdb``), whatever name it was given."""
    if pipeline.destination is None:
        return None
    # e.g. ``dlt.destinations.duckdb``; a named destination keeps its type here
    return str(pipeline.destination.destination_type).rsplit(".", 1)[-1]


def skip_reason(pipeline: dlt.Pipeline, connector: str) -> Optional[str]:
    """Return why the connector's models cannot run on ``pipeline``, or ``None``.

    Checks cheap things only: the dbt adapter and the destination type.
    """
    if not dbt_installed():
        return f"dbt-duckdb is not installed: {ENABLE_HINT} to refresh the {connector} models"
    destination = destination_type(pipeline)
    if destination not in SUPPORTED_DESTINATIONS:
        return (
            f"the {connector} models are written for DuckDB, not {destination}: "
            f"query the raw dataset {pipeline.dataset_name} instead"
        )
    return None


def run_models(
    pipeline: dlt.Pipeline,
    connector: str,
    *,
    test: bool = True,
    variables: Optional[Mapping[str, Any]] = None,
    root: Path = MODELS_ROOT,
) -> ModelsOutcome:
    """Build the connector's models on the pipeline's destination with dlt's dbt runner.

    Args:
        pipeline: A pipeline that has loaded the connector's raw tables.
        connector: The connector name (``stripe``): its project is ``models/<connector>/``.
        test: Also run the project's schema tests.
        variables: dbt vars for the run, e.g. ``{"stripe_as_of": "2026-06-01"}``.
        root: Folder holding the connectors' dbt projects.

    Returns:
        The outcome; ``skipped`` says why when nothing could run.

    Raises:
        ModelsError: dbt failed (a model did not build, or dbt itself could not run).
    """
    path = package_dir(connector, root)
    if path is None:
        return ModelsOutcome(connector, skipped=f"{connector} has no models")
    reason = skip_reason(pipeline, connector)
    if reason is not None:
        return ModelsOutcome(connector, skipped=reason)
    dataset = models_dataset(pipeline.dataset_name)
    work = Path(pipeline.working_dir) / "dbt" / connector
    runner = _package_runner(pipeline, path)
    with _dbt_environment(work), _captured_output() as output:
        try:
            # `run`, not `run_all`: the projects have no packages or seeds, and each dbt
            # command is a fresh process that spends seconds importing dbt
            built = runner.run(
                ["--fail-fast"],
                additional_vars=dict(variables or {}),
                destination_dataset_name=dataset,
            )
            tests = _run_tests(runner, variables, dataset) if test else []
        except Exception as exc:  # noqa: BLE001 - every dbt failure becomes one line
            raise ModelsError(failure_line(connector, exc, output.getvalue())) from exc
    return ModelsOutcome(
        connector,
        dataset=dataset,
        models=tuple(_results(built)),
        tests=tuple(_results(tests)),
    )


REFRESH_SETTING = "sluice.refresh_models"
"""Set to false (``SLUICE__REFRESH_MODELS=false``) to skip the refresh after every load."""


def refresh_setting() -> bool:
    """``sluice.refresh_models`` from dlt config (true when unset)."""
    value: Any = dlt.config.get(REFRESH_SETTING)
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off")
    return bool(value)


def refresh_models(
    pipeline: dlt.Pipeline,
    connector: str,
    *,
    enabled: bool = True,
    echo: Echo = print,
) -> Optional[ModelsOutcome]:
    """The runner's step after a load: refresh the connector's models and print a summary.

    Prints nothing for a connector without models, one line when the refresh is skipped,
    else one line per model and one for the tests. A failing test is reported, not raised:
    the models are built and the load stands.

    Args:
        pipeline: The pipeline that just loaded.
        connector: The connector name.
        enabled: ``False`` (``--no-models``) skips the refresh with one line.
        echo: Where the lines go.

    Returns:
        The outcome, or ``None`` when the connector has no models.

    Raises:
        ModelsError: A model failed to build (one line, for the run's error report).
    """
    if package_dir(connector) is None:
        return None
    if not enabled:
        outcome = ModelsOutcome(connector, skipped="--no-models")
    elif not refresh_setting():
        outcome = ModelsOutcome(connector, skipped=f"{REFRESH_SETTING} = false")
    else:
        outcome = run_models(pipeline, connector)
    for line in outcome.lines():
        echo(line)
    return outcome


def failure_line(connector: str, exc: BaseException, output: str = "") -> str:
    """One line saying which model failed and why, from a dbt runner exception."""
    failed = [
        result
        for result in (getattr(exc, "run_results", None) or [])
        if str(getattr(result, "status", "")) in ("error", "fail")
    ]
    if failed:
        first = failed[0]
        detail = f"model {first.model_name} failed: {_short(first.message, MAX_ERROR_CHARS)}"
    else:
        detail = _last_error_line(output) or f"{type(exc).__name__}: {exc}"
    return (
        f"{connector} models: {_short(detail, MAX_ERROR_CHARS)} "
        f"(the load itself succeeded; rerun with `sluice models {connector}`)"
    )


# ------------------------------------------------------------------ internals


def current_venv() -> Any:
    """This interpreter's environment as a dlt ``Venv``, activated or not.

    dlt's ``Venv.restore_current()`` finds the venv through ``VIRTUAL_ENV`` only; the
    ``sluice`` script of an unactivated venv would then start dbt with whatever ``python``
    comes first on ``PATH``, which may lack dbt (or dlt).
    """
    from dlt.common.runners import Venv

    bin_path = os.path.dirname(sys.executable)
    if not os.path.exists(os.path.join(bin_path, "python")):
        return Venv.restore_current()
    return Venv(types.SimpleNamespace(bin_path=bin_path, env_exe=sys.executable), current=True)


def _package_runner(pipeline: dlt.Pipeline, path: Path) -> Any:
    # The current venv: creating dlt's separate dbt venv would need the internet.
    runner = dlt.dbt.package(pipeline, str(path), venv=current_venv())
    # Our profiles.yml, not dlt's: dlt's DuckDB profile installs httpfs on first use.
    runner.config.package_profiles_dir = str(path)
    return runner


def _run_tests(runner: Any, variables: Optional[Mapping[str, Any]], dataset: str) -> Any:
    from dlt.helpers.dbt.exceptions import DBTProcessingError

    try:
        return runner.test(additional_vars=dict(variables or {}), destination_dataset_name=dataset)
    except DBTProcessingError as failed:
        # failing tests are a finding about the data, reported with the rest
        if failed.run_results is None:
            raise
        return failed.run_results


@contextlib.contextmanager
def _dbt_environment(work: Path) -> Iterator[None]:
    """dbt's target and logs in the pipeline's working dir, not in the source tree."""
    work.mkdir(parents=True, exist_ok=True)
    settings = {
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_PACKAGES_INSTALL_PATH": str(work / "dbt_packages"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _captured_output() -> Iterator[io.StringIO]:
    """Keep dbt's log lines (dlt's runner echoes them) out of the run summary."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield buffer


def _results(nodes: Optional[Sequence[Any]]) -> list[ModelResult]:
    return [
        ModelResult(
            name=str(node.model_name),
            status=str(node.status),
            message=str(node.message or ""),
            seconds=float(node.time or 0.0),
        )
        for node in nodes or []
    ]


def _last_error_line(output: str) -> str:
    """dbt's own account of an error that is not a model's (a bad project, a bad profile)."""
    lines = [_ANSI.sub("", line).strip() for line in output.splitlines()]
    lines = [line for line in lines if line]
    for index in range(len(lines) - 1, -1, -1):
        if "Encountered an error" in lines[index]:
            return " ".join(lines[index + 1 :])
    for line in reversed(lines):
        if "error" in line.lower():
            return line
    return lines[-1] if lines else ""


def _short(text: str, limit: int = 60) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
