"""The drops of a run and their filesystems (dlt's fsspec machinery), built once per run."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import dlt
from dlt.common.storages.fsspec_filesystem import fsspec_from_config, glob_files
from fsspec import AbstractFileSystem

from sources.kit.connector import build_session
from sources.kit.errors import ConfigurationError
from sources.kit.http import ResilientSession
from sources.kit.settings import HttpSettings

from .config import Drop, resolve_drop
from .manifest import Listed, is_marker
from .settings import SECTION
from .spec import SPEC

logger = logging.getLogger("sluice.files")

NO_HTTP_BASE = "file:///"
"""The session of a run that makes no HTTP request (the run summary reads its zeros)."""


@dataclass
class DropReport:
    """What one run did with each listed file of a drop (for logs and tests)."""

    read: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    same_content: list[str] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    before_start: list[str] = field(default_factory=list)


@dataclass
class FilesClient:
    """Resolves drops and opens their filesystems.

    Attributes:
        overrides: Per drop, settings that win over ``sources.files.drops.<name>``
            (the sandbox's folder, a test's bucket).
        session: A resilient session that stays idle: the runner's ledger and summary
            read request counters and breakers from every client.
        reports: Per drop, what the last run did with each file.
    """

    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    session: Optional[ResilientSession] = None
    reports: dict[str, DropReport] = field(default_factory=dict)
    _drops: dict[str, Drop] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.session is None:
            self.session = build_session(SPEC, base_url=NO_HTTP_BASE, settings=HttpSettings())

    def configured_names(self) -> list[str]:
        """Drops given as overrides, then those under ``sources.files.drops`` in config."""
        names = list(self.overrides)
        configured: Any = dlt.config.get(f"{SECTION}.drops")
        if isinstance(configured, Mapping):
            names.extend(str(name) for name in configured if name not in names)
        return names

    def drop(self, name: str) -> Drop:
        """The checked settings of one drop (resolved once)."""
        with self._lock:
            if name not in self._drops:
                self._drops[name] = resolve_drop(name, self.overrides.get(name))
            return self._drops[name]

    def check_name(self, name: str) -> str:
        """A selectable drop name (its settings resolve), for ``select_names``."""
        self.drop(name)
        return name

    def filesystem(self, drop: Drop) -> AbstractFileSystem:
        """The drop's fsspec filesystem, listing caches dropped (files change between runs)."""
        fs, _ = fsspec_from_config(drop.fs)
        # fsspec reuses instances and caches listings (s3fs, gcsfs); another system writes
        # the bucket, so list afresh: filesystem-spec.readthedocs.io features, "Listings Caching"
        fs.invalidate_cache()
        return fs

    def list_files(self, drop: Drop, fs: AbstractFileSystem) -> Iterator[Listed]:
        """The data files of a drop (markers left out), by dlt's ``glob_files``."""
        try:
            for item in glob_files(fs, drop.bucket_url, drop.file_glob):
                listed = Listed.from_file_item(item)
                if not is_marker(listed.path, drop.marker):
                    yield listed
        except FileNotFoundError:
            raise ConfigurationError(
                f"file drop {drop.name}: {drop.fs} does not exist; check "
                f"sources.files.drops.{drop.name}.bucket_url"
            ) from None

    def report(self, name: str) -> DropReport:
        """A fresh report for this run of a drop."""
        with self._lock:
            self.reports[name] = DropReport()
            return self.reports[name]


def make_client(drops: Optional[Mapping[str, Mapping[str, Any]]] = None) -> FilesClient:
    """A client; ``drops`` are per-drop settings over ``sources.files.drops.<name>``."""
    return FilesClient(overrides=dict(drops or {}))
