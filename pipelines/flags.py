"""Flags every connector's runner shares: one name, one meaning, whatever the connector.

``--resources`` picks what to load (``--objects`` and ``--tables``, the names Salesforce
and ServiceNow used first, still work but are hidden and print a deprecation note);
``--start-date`` bounds a first sync; ``--progress`` shows dlt's progress;
``--staging`` and ``--table-format`` say how files reach the destination.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, Optional

from sources.kit.errors import ConfigurationError
from sources.kit.first_sync import parse_start
from sources.kit.progress import PROGRESS_KINDS


def name_list(text: str) -> list[str]:
    """A comma-separated list, blanks dropped."""
    return [name.strip() for name in text.split(",") if name.strip()]


class DeprecatedAlias(argparse.Action):
    """An old flag name: stores into the new flag's destination and says so once."""

    def __init__(self, *args: Any, replacement: str = "--resources", **kwargs: Any) -> None:
        """Like ``argparse.Action``; ``replacement`` is the flag to use instead."""
        self.replacement = replacement
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: Optional[str] = None,
    ) -> None:
        # stderr, not the log: logging is set up only after the flags are parsed.
        print(f"note: {option_string} is deprecated: use {self.replacement}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_resources_flag(
    parser: argparse.ArgumentParser,
    help_text: str,
    aliases: Sequence[str] = (),
    parse: Any = name_list,
) -> None:
    """``--resources a,b`` and its hidden deprecated ``aliases`` (``--objects``...)."""
    parser.add_argument("--resources", type=parse, help=help_text)
    for alias in aliases:
        parser.add_argument(
            alias, dest="resources", type=parse, action=DeprecatedAlias, help=argparse.SUPPRESS
        )


def add_staging_flag(parser: argparse.ArgumentParser) -> None:
    """``--staging filesystem``: load files go to a bucket first (warehouse destinations)."""
    parser.add_argument(
        "--staging",
        choices=["filesystem"],
        help="stage load files in a bucket first (destination.filesystem.bucket_url); "
        "how Snowflake, BigQuery, Databricks and ClickHouse load large volumes",
    )


def add_progress_flag(parser: argparse.ArgumentParser) -> None:
    """``--progress [kind]``: dlt's progress collector (default kind: log)."""
    parser.add_argument(
        "--progress",
        nargs="?",
        const="log",
        default=None,
        choices=PROGRESS_KINDS,
        help="show extraction/normalize/load progress (default kind: log)",
    )


def add_table_format_flag(parser: argparse.ArgumentParser) -> None:
    """``--table-format delta``: open tables on the filesystem destination."""
    parser.add_argument(
        "--table-format",
        choices=["delta"],
        help="write Delta tables (filesystem destination; merges become upserts)",
    )


def start_date(text: str) -> str:
    """``--start-date``: checked before any request, passed on as given."""
    try:
        parse_start(text, "--start-date")
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_start_date_flag(parser: argparse.ArgumentParser, bound: str) -> None:
    """``--start-date``: the lower bound of a first sync (``bound`` says of what)."""
    parser.add_argument(
        "--start-date",
        type=start_date,
        help=f"first sync only: {bound} on or after this date (ISO 8601); resources "
        "with a cursor go on from it",
    )
