"""Process memory settings for long syncs: memory freed by extraction serves the load.

A first sync extracts with several fetch threads, then loads into DuckDB in the same
process. Two allocators kept what extraction had freed: Arrow's default pool (mimalloc)
holds freed pages for reuse by Arrow, and glibc's malloc gives every thread its own
arena. DuckDB's load then added its own memory on top of them. Measured by
benchmarks/stripe_throughput.py (peak RSS of a first sync of Stripe objects): 379, 523
and 662 MB at 20k, 200k and 2M objects with the defaults; 340, 461 and 543 MB with
Arrow's system pool and two arenas (benchmarks/README.md).

Sluice's runner applies this before a run; an orchestrator that builds the pipeline
itself (Dagster, Airflow, a notebook) can call :func:`release_freed_memory` once at start.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from typing import Optional

import pyarrow as pa

logger = logging.getLogger(__name__)

M_ARENA_MAX = -8
"""``mallopt`` parameter for the most arenas glibc creates (``malloc.h``)."""

ARENAS = 2
"""Arenas for the whole process: the main one and one shared by every other thread."""

_applied = False


def release_freed_memory() -> None:
    """Uses Arrow's system memory pool and at most :data:`ARENAS` glibc malloc arenas.

    Safe to call more than once and on any platform: where glibc is absent only the
    Arrow pool changes. Arrays allocated before the call stay in the pool they came from.
    """
    global _applied
    if _applied:
        return
    _applied = True
    pa.set_memory_pool(pa.system_memory_pool())
    libc = _glibc()
    if libc is not None and not libc.mallopt(M_ARENA_MAX, ARENAS):
        logger.debug("mallopt(M_ARENA_MAX) was refused; glibc keeps its default arenas")


def _glibc() -> Optional[ctypes.CDLL]:
    """The C library, when it is glibc (the only one with ``mallopt(M_ARENA_MAX)``)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it
    except (OSError, AttributeError):
        return None
    return libc
