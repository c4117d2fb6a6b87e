"""One-line explanations of mistakes a new user makes in settings and flags.

Each function turns what dlt, DuckDB or tomlkit raise (or a value they would reject
later, mid-run) into a line naming the setting or file to fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit

import requests
import tomlkit
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException
from dlt.common.configuration.providers.toml import TomlProviderReadException
from dlt.common.destination.exceptions import UnknownDestinationModule
from tomlkit.exceptions import ParseError

from sources.kit.errors import CircuitOpenError, SluiceError, TransientNetworkError
from sources.kit.http_config import not_a_value_line

# DuckDB's memory strings: a number and an optional unit (DuckDB docs, "memory_limit":
# e.g. '1GB', '500MiB'); a bare number is read as bytes.
MEMORY_SIZE = re.compile(
    r"^\s*\d+(\.\d+)?\s*(b|bytes|kb|mb|gb|tb|kib|mib|gib|tib)?\s*$", re.IGNORECASE
)

KNOWN_DESTINATIONS = "duckdb, postgres, bigquery, snowflake, redshift, databricks, filesystem"


def memory_limit_problem(value: str) -> Optional[str]:
    """What is wrong with a ``sluice.duckdb_memory_limit`` value, if anything.

    DuckDB would refuse a bad value only when the load opens the file, after the
    whole extract; it is checked before any request.

    Args:
        value: The configured cap (``1GB``, ``none``...).

    Returns:
        A line naming the setting, or None when DuckDB accepts the value.
    """
    if MEMORY_SIZE.match(value):
        return None
    return (
        f"sluice.duckdb_memory_limit {value!r} is not a size: use e.g. 512MB, 2GB or none "
        "(in .dlt/config.toml or SLUICE__DUCKDB_MEMORY_LIMIT)"
    )


def toml_syntax_line(exc: TomlProviderReadException) -> str:
    """Names the settings file whose TOML dlt could not parse, and where.

    dlt's error lists every folder it read ``secrets.toml`` or ``config.toml`` from, and
    tomlkit's message the line and column but not the file; each is parsed again to find
    the broken one.

    Args:
        exc: dlt's error reading its TOML files.

    Returns:
        One line naming the file, line and column.
    """
    for path in exc.full_paths:
        try:
            tomlkit.parse(Path(path).read_text(encoding="utf-8"))
        except ParseError as found:
            return f"{Path(path).resolve()}: TOML syntax error: {found}; fix the file and run again"
        except OSError:
            continue
    return f"{exc.file_name} has a TOML syntax error: {str(exc).splitlines()[-1]}"


def unknown_destination_line(exc: UnknownDestinationModule) -> str:
    """``--destination`` named nothing dlt knows."""
    return (
        f"unknown destination {exc.ref!r}: use a dlt destination ({KNOWN_DESTINATIONS}, ...) "
        f"or name a configured one with destination.{exc.ref}.destination_type"
    )


def start_date_notice(
    start_date: Optional[str], selected: Iterable[str], loaded: Iterable[str], refreshing: bool
) -> Optional[str]:
    """Says when ``--start-date`` will not apply, instead of silently ignoring it.

    A start date bounds a first sync; resources that already have a cursor go on from it.

    Args:
        start_date: The flag's value, if given.
        selected: Resources this run loads.
        loaded: Resources the pipeline has already loaded.
        refreshing: Whether ``--full-refresh`` drops their state first.

    Returns:
        The notice, or None when the date applies to every selected resource.
    """
    if not start_date or refreshing:
        return None
    done = sorted(set(selected) & set(loaded))
    if not done:
        return None
    return (
        f"--start-date {start_date} applies only to a first sync: {', '.join(done)} already "
        "have a cursor and go on from it; add --full-refresh to reload them from that date"
    )


# Where each connector's host is configured (Salesforce's comes from the token answer,
# so its override is named).
HOST_SETTING = {"salesforce": "sources.salesforce.instance_url"}


def unreachable_line(exc: SluiceError) -> Optional[str]:
    """Says a host could not be reached, when a circuit or retries ended on no answer.

    The circuit breaker opens after a run of connection failures, and its message says
    only when it will try again, from a process about to exit; the connection error kept
    as its cause says what is wrong.

    Args:
        exc: A :class:`CircuitOpenError` or :class:`TransientNetworkError`.

    Returns:
        ``cannot reach <host>: <reason> (check <setting> and the network)``, or None when
        the failures were answers (5xx), not unreachable hosts.
    """
    if not isinstance(exc, (CircuitOpenError, TransientNetworkError)):
        return None
    refused = next(
        (
            cause
            for cause in causes_of(exc)
            if isinstance(cause, requests.ConnectionError)
            and not isinstance(cause, requests.ReadTimeout)
        ),
        None,
    )
    if refused is None:
        return None
    request = getattr(refused, "request", None)
    host = urlsplit(getattr(request, "url", "") or "").netloc or "the API host"
    if isinstance(exc, CircuitOpenError):
        integration = exc.circuit.split(" ", 1)[0]
    else:
        integration = str(exc).split(":", 1)[0]
    setting = HOST_SETTING.get(integration, f"sources.{integration}.base_url")
    return f"cannot reach {host}: {connection_reason(refused)} (check {setting} and the network)"


def connection_reason(exc: BaseException) -> str:
    """The operating system's words for a failed connection (``Connection refused``)."""
    reason: Any = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    for cause in causes_of(reason) if isinstance(reason, BaseException) else ():
        if isinstance(cause, OSError) and cause.strerror:
            return str(cause.strerror)
    if isinstance(exc, requests.ConnectTimeout):
        return "connection timed out"
    return type(reason).__name__


def causes_of(exc: BaseException) -> list[BaseException]:
    """The exception and its causes (or contexts), outermost first."""
    seen: list[BaseException] = []
    current: Optional[BaseException] = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def not_coerced_line(exc: ConfigValueCannotBeCoercedException) -> str:
    """A setting dlt could not read as its type (its error names only the field).

    The connectors' HTTP settings say their full key themselves
    (:func:`sources.kit.http_config.resolve_http`); this covers the other settings.
    """
    # dlt does not say which section it found the value in: no environment name is guessed.
    line = not_a_value_line(exc.field_name, exc.field_value, exc.hint)
    return line.rsplit(" (", 1)[0] + " (in .dlt/config.toml or the environment)"
