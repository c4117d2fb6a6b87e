"""File drops: CSV, JSONL and Parquet files (gzipped or not) dropped in a folder or bucket.

Each configured drop (``sources.files.drops.<name>``: ``bucket_url`` local, ``s3://``,
``gs://`` or ``az://`` through dlt's filesystem machinery, ``file_glob``, key, disposition,
column types) is one resource and one table. A run lists the drop, leaves files still
being written for the next run (modified within ``settle_s``, or the marker missing),
downloads each new or changed file once (hashing it in the same pass), skips content
already loaded, and yields its rows with ``_file_name``, ``_file_modified_at``,
``_loaded_at`` and ``_line``. Malformed rows go to ``_dead_letters`` with file, line and
raw text. Merges keep the row of the newest file (dlt's ``dedup_sort`` within a load, a
read-back of newer keys across loads). The manifest lives in dlt resource state, so it
is committed with the rows.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

import dlt
from dlt.extract.resource import DltResource

from sources.kit.connector import ConnectorRun, make_guard, make_resource, select_names, start_run
from sources.kit.deadletters import RecordGuard, contract_for_dead_letters
from sources.kit.errors import ConfigurationError
from sources.kit.first_sync import parse_start
from sources.kit.monitor import SyncMonitor
from sources.kit.settings import ListSetting, str_list

from .client import DropReport, FilesClient, make_client
from .config import Drop
from .content import download
from .drift import record_drift
from .manifest import Listed, Verdict, marker_url, remember, verdict
from .newest import Key, newer_keys
from .readers import FileUnreadableError
from .rows import FileCounts, file_format, guarded_rows, parse
from .settings import DEFAULT_RESOURCES, RESOURCES
from .spec import SPEC, drop_resource

logger = logging.getLogger("sluice.files")

__all__ = ["DEFAULT_RESOURCES", "RESOURCES", "FilesClient", "files_source", "make_client"]


@dlt.source(name="files", max_table_nesting=0, schema_contract=contract_for_dead_letters())
def files_source(
    resources: ListSetting = None,
    client: Optional[FilesClient] = None,
    run_id: Optional[str] = None,
    monitor: Optional[SyncMonitor] = None,
    now: Optional[float] = None,
    start_date: Optional[str] = None,
) -> Any:
    """Loads the configured file drops, each file once.

    Args:
        resources: Drop names (``sources.files.resources``); every drop configured
            under ``sources.files.drops`` when omitted.
        client: A prebuilt client (drop overrides); one from config when omitted.
        run_id: Identifier of this run (dead letters, ledger).
        monitor: Run ledger counters.
        now: Run start in unix seconds (settle time, ``_loaded_at``; injected in tests).
        start_date: First sync of a drop (its manifest empty): files modified before
            this ISO 8601 date are skipped, then and in later runs (the bound is kept in
            the drop's state; ``--full-refresh`` clears it).

    Returns:
        One resource per drop.
    """
    client = client or make_client()
    names = str_list(resources, SPEC.resources_setting) or client.configured_names()
    if not names:
        raise ConfigurationError(
            "no file drops configured: add [sources.files.drops.<name>] with bucket_url and "
            "file_glob to .dlt/config.toml (or run with --sandbox)"
        )
    selected = select_names(SPEC, names, client.check_name)
    first_since = parse_start(start_date, f"{SPEC.section}.start_date")
    run = start_run(SPEC, client, selected, run_id=run_id, monitor=monitor)
    started = datetime.fromtimestamp(now if now is not None else time.time(), timezone.utc)
    return [
        drop_dlt_resource(client.drop(name), client, run, started, first_since) for name in selected
    ]


def drop_dlt_resource(
    drop: Drop,
    client: FilesClient,
    run: ConnectorRun,
    started: datetime,
    first_since: Optional[datetime] = None,
) -> DltResource:
    """The dlt resource of one drop (``first_since``: the first sync's lower bound)."""
    resource = drop_resource(drop)
    return make_resource(resource, drop_rows(drop, client, run, started, first_since))


@dataclass
class DropRun:
    """What reading the files of one drop in one run shares."""

    drop: Drop
    fs: Any
    state: Any
    report: DropReport
    run: ConnectorRun
    started: datetime
    guard: Optional[RecordGuard] = None
    since: Optional[datetime] = None
    newer: Optional[dict[Key, datetime]] = None
    first_since: Optional[datetime] = None
    order: Iterator[int] = field(default_factory=itertools.count)


def drop_rows(
    drop: Drop,
    client: FilesClient,
    run: ConnectorRun,
    started: datetime,
    first_since: Optional[datetime] = None,
) -> Iterator[Any]:
    """Lists the drop, then yields the rows of every file to read, oldest file first."""
    state = dlt.current.resource_state(drop.name)
    if first_since is not None and not state.get("files"):
        # a first sync's start date stays the drop's bound: older files are never read
        state["start_date"] = first_since.isoformat()
    state.setdefault("files", {})
    ctx = DropRun(drop, client.filesystem(drop), state, client.report(drop.name), run, started)
    if state.get("start_date"):
        ctx.first_since = datetime.fromisoformat(state["start_date"])
    due = due_files(ctx, client)
    run.monitor.cursor(drop.name, before=state.get("newest_file"))
    if not due:
        run.monitor.record(drop.name, loaded=0, pages=0)
        return
    ctx.since = min(f.modified for f in due)
    ctx.guard = make_guard(SPEC, drop_resource(drop), run.run_id)
    for listed in due:
        yield from read_file(ctx, listed)
    run.monitor.cursor(drop.name, after=state.get("newest_file"))


def due_files(ctx: DropRun, client: FilesClient) -> list[Listed]:
    """The listed files to download this run, oldest first (each skip logged once)."""
    drop = ctx.drop

    def marker_present(listed: Listed) -> bool:
        return drop.marker is None or bool(ctx.fs.exists(marker_url(listed, drop.marker)))

    due: list[Listed] = []
    for listed in client.list_files(drop, ctx.fs):
        outcome, why = verdict(
            listed,
            ctx.state["files"],
            now=ctx.started,
            settle_s=drop.settle_s,
            marker_present=marker_present,
        )
        if outcome is Verdict.UNCHANGED:
            ctx.report.unchanged.append(listed.path)
        elif ctx.first_since is not None and listed.modified < ctx.first_since:
            ctx.report.before_start.append(listed.path)
        elif outcome is Verdict.UNSETTLED:
            ctx.report.unsettled.append(listed.path)
            logger.info("files %s: %s left for the next run: %s", drop.name, listed.path, why)
        else:
            due.append(listed)
    return sorted(due, key=lambda f: (f.modified, f.path))


def read_file(ctx: DropRun, listed: Listed) -> Iterator[Any]:
    """Downloads one file; loads its rows unless its content was loaded already."""
    drop, manifest = ctx.drop, ctx.state["files"]
    with ctx.fs.open(listed.url, "rb") as source:
        content = download(source)
    try:
        entry = manifest.get(listed.path)
        if entry and entry.get("sha256") == content.sha256:
            ctx.report.same_content.append(listed.path)
            logger.info("files %s: %s has the content already loaded", drop.name, listed.path)
            remember(manifest, listed, content.sha256, int(entry.get("rows", 0)), ctx.started)
            return
        if ctx.newer is None:
            # read back only once a file has new content: most runs have none
            merges = drop.merges and ctx.since is not None
            since = ctx.since or listed.modified
            ctx.newer = newer_keys(drop.name, drop.primary_key, since) if merges else {}
        counts = FileCounts()
        yield from file_items(ctx, listed, content.open(), counts)
        remember(manifest, listed, content.sha256, counts.loaded, ctx.started)
        newest = ctx.state.get("newest_file")
        if newest is None or newest < listed.modified.isoformat():
            ctx.state["newest_file"] = listed.modified.isoformat()
        ctx.run.monitor.record(
            drop.name, loaded=counts.loaded, dead_lettered=counts.dead_lettered, pages=1
        )
        if counts.superseded:
            logger.info(
                "files %s: %d row(s) of %s skipped, their keys were loaded from newer files",
                drop.name,
                counts.superseded,
                listed.path,
            )
    finally:
        content.close()


def file_items(ctx: DropRun, listed: Listed, stream: Any, counts: FileCounts) -> Iterator[Any]:
    """The items of one file: its rows, or one dead letter when it cannot be parsed."""
    drop, guard = ctx.drop, ctx.guard
    assert guard is not None
    fmt = file_format(drop, listed.path)
    try:
        if fmt is None:
            raise FileUnreadableError(f"unknown format; set sources.files.drops.{drop.name}.format")
        header, rows = parse(drop, fmt, stream)
        if header is not None:
            record_drift(ctx.state, drop.name, header, listed.path, ctx.started)
        ctx.report.read.append(listed.path)
        yield from guarded_rows(
            drop,
            listed,
            rows,
            guard,
            loaded_at=ctx.started,
            newer=ctx.newer or {},
            counts=counts,
            order=ctx.order,
        )
    except (FileUnreadableError, OSError, EOFError) as exc:
        # A truncated gzip raises EOFError mid-read (rows yielded before it stay).
        ctx.report.unreadable.append(listed.path)
        counts.dead_lettered += 1
        logger.warning("files %s: %s is unreadable: %s", drop.name, listed.path, exc)
        yield from guard.reject(
            {"file": listed.path}, f"{listed.path} line 0: unreadable file: {exc}"
        )
