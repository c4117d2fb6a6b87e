"""CompactKeySet behaves as a set of keys across merges of its sorted part."""

from __future__ import annotations

import pytest

from sources.kit import idset
from sources.kit.idset import CompactKeySet


@pytest.fixture(autouse=True)
def small_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idset, "MIN_PENDING", 8)  # merge often: exercise the sorted part


def test_batches_report_new_keys_once_including_repeats_inside_a_batch() -> None:
    keys = CompactKeySet()
    first = keys.add_new([f"ch_{i}" for i in range(50)])
    assert first == [True] * 50
    again = keys.add_new(["ch_3", "ch_new", "ch_new", "ch_49", "ch_other"])
    assert again == [False, True, False, False, True]
    assert len(keys) == 52


@pytest.mark.parametrize("key", ["cus_1", 42, ("a", 1)], ids=["text", "int", "tuple"])
def test_membership_after_many_merges(key: object) -> None:
    keys = CompactKeySet()
    keys.update(f"in_{i}" for i in range(1000))
    assert key not in keys
    assert keys.add(key) is True
    keys.update(f"ii_{i}" for i in range(1000))
    assert key in keys and "in_999" in keys and "ii_0" in keys
    assert keys.add(key) is False
    assert len(keys) == 2001
