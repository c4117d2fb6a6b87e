"""The runner's memory settings: Arrow's system pool and a capped number of arenas."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from sources.kit import memory


class FakeLibc:
    def __init__(self, accepts: bool) -> None:
        self.accepts = accepts
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1 if self.accepts else 0


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(memory, "_applied", False)
    previous = pa.default_memory_pool()
    yield monkeypatch
    pa.set_memory_pool(previous)


@pytest.mark.parametrize("accepts", [True, False], ids=["glibc-accepts", "glibc-refuses"])
def test_arrow_uses_the_system_pool_and_glibc_two_arenas(fresh: Any, accepts: bool) -> None:
    libc = FakeLibc(accepts)
    fresh.setattr(memory, "_glibc", lambda: libc)
    memory.release_freed_memory()
    assert pa.default_memory_pool().backend_name == "system"
    assert libc.calls == [(memory.M_ARENA_MAX, memory.ARENAS)]


def test_applied_once_per_process(fresh: Any) -> None:
    libc = FakeLibc(True)
    fresh.setattr(memory, "_glibc", lambda: libc)
    memory.release_freed_memory()
    memory.release_freed_memory()
    assert len(libc.calls) == 1


def test_without_glibc_only_the_arrow_pool_changes(fresh: Any) -> None:
    fresh.setattr(memory, "_glibc", lambda: None)
    memory.release_freed_memory()
    assert pa.default_memory_pool().backend_name == "system"


def test_glibc_is_found_on_this_linux_machine() -> None:
    libc = memory._glibc()
    assert libc is not None and hasattr(libc, "mallopt")
