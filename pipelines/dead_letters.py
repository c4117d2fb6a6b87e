"""Lists and replays the dead letters of a pipeline.

Usage::

    python pipelines/dead_letters.py list --pipeline stripe [--resource charges]
    python pipelines/dead_letters.py replay --pipeline stripe [--resource charges] [--dry-run]

Attaches to the existing pipeline (in ``.dlt/.var/pipelines`` of the working directory,
``DLT_DATA_DIR`` or ``--pipelines-dir``); the destination credentials come from the usual
dlt config. Exit codes: 0 when everything replayable was loaded, 1 when some letters
remain invalid (or loading failed), 2 on usage or configuration errors. Raw payloads are
never printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

if not __package__ and importlib.util.find_spec("pipelines") is None:
    # sluice is not installed for this Python: reach only the check that says which to use.
    sys.path.append(str(Path(__file__).resolve().parents[1]))
from pipelines.environment import require_installed  # noqa: E402

require_installed(__file__)

from pipelines.common import default_pipelines_dir  # noqa: E402
from sources.kit.redact import global_redactor  # noqa: E402
from sources.kit.replay import (  # noqa: E402
    DeadLetter,
    DeadLetterSummary,
    ReplayConfigError,
    ReplayLoadError,
    ReplayReport,
    attach_pipeline,
    read_pending_dead_letters,
    replay_dead_letters,
    summarize_dead_letters,
)

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
ID_WIDTH = 12
MAX_CELL = 80


def build_parser() -> argparse.ArgumentParser:
    """The command line: ``list`` and ``replay`` sub-commands."""
    parser = argparse.ArgumentParser(
        prog="dead_letters", description="List and replay dead letters of a pipeline."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("list", "count pending dead letters by resource and reason"),
        ("replay", "re-validate pending dead letters and load the valid ones"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--pipeline", required=True, help="pipeline name, e.g. stripe")
        command.add_argument("--resource", help="only dead letters of this resource")
        command.add_argument(
            "--pipelines-dir",
            help="where pipeline state is (default: .dlt/.var/pipelines or "
            "$DLT_DATA_DIR/pipelines)",
        )
    commands.choices["list"].add_argument(
        "--newest", type=int, default=5, help="how many recent dead letters to show"
    )
    replay = commands.choices["replay"]
    replay.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
    replay.add_argument(
        "--mappers",
        action="append",
        default=[],
        metavar="MODULE",
        help="module registering replay mappers (default: sources.<source> if present)",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns:
        The exit code.
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        pipelines_dir = args.pipelines_dir or default_pipelines_dir(args.pipeline)
        pipeline = attach_pipeline(args.pipeline, pipelines_dir)
        if args.command == "list":
            letters = read_pending_dead_letters(pipeline, args.resource)
            print(format_summary(args.pipeline, summarize_dead_letters(letters, args.newest)))
            return EXIT_OK
        report = replay_dead_letters(
            pipeline, args.resource, dry_run=args.dry_run, mapper_modules=args.mappers
        )
        print(format_report(report))
        return report.exit_code
    except ReplayConfigError as exc:
        print(f"error: {_safe(str(exc), 500)}", file=sys.stderr)
        return EXIT_USAGE
    except ReplayLoadError as exc:
        print(f"error: {_safe(str(exc), 500)}", file=sys.stderr)
        return EXIT_INVALID


def format_summary(pipeline_name: str, summary: DeadLetterSummary) -> str:
    """Renders ``list`` output: counts by resource and reason, then the newest letters."""
    title = f"{summary.total} pending dead letter(s) in pipeline '{pipeline_name}'"
    if not summary.total:
        return title
    counts = format_table(
        ("RESOURCE", "COUNT", "REASON"),
        [(c.resource, str(c.count), c.reason) for c in summary.counts],
    )
    newest = format_table(
        ("FAILED_AT", "RESOURCE", "RECORD_ID", "DEAD_LETTER_ID", "REASON"),
        [_letter_cells(letter) for letter in summary.newest],
    )
    return "\n".join([title, "", *counts, "", "newest:", *newest])


def _letter_cells(letter: DeadLetter) -> tuple[str, ...]:
    failed_at = letter.failed_at.isoformat(timespec="seconds") if letter.failed_at else ""
    return (
        failed_at,
        letter.resource,
        letter.record_id or "",
        letter.dead_letter_id[:ID_WIDTH],
        letter.reason,
    )


def format_report(report: ReplayReport) -> str:
    """Renders ``replay`` output: totals, then one line per letter."""
    if not report.outcomes:
        return "no pending dead letters"
    suffix = " (dry run, nothing written)" if report.dry_run else ""
    header = f"loaded {report.loaded}, still invalid {report.still_invalid}{suffix}"
    rows = [
        (
            outcome.letter.dead_letter_id[:ID_WIDTH],
            outcome.letter.resource,
            outcome.letter.record_id or "",
            outcome.outcome,
            outcome.reason or "",
        )
        for outcome in report.outcomes
    ]
    table = format_table(("DEAD_LETTER_ID", "RESOURCE", "RECORD_ID", "OUTCOME", "REASON"), rows)
    return "\n".join([header, "", *table])


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned plain-text columns; every cell is redacted and cut to one short line."""
    cells = [list(headers)] + [[_safe(cell, MAX_CELL) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return [_format_row(row, widths) for row in cells]


def _format_row(row: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()


def _safe(text: str, limit: int) -> str:
    line = " ".join(global_redactor().redact_text(str(text)).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


if __name__ == "__main__":
    sys.exit(main())
