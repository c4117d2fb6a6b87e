"""A set of record keys that costs 16 bytes per key, for runs of millions of objects.

A Python ``set`` of Stripe ids costs ~110 bytes per id (the string plus its slot): the
ids of a 2M-object first sync would hold ~220 MB per set for the whole run, and a run
keeps two (the columnar step's once-per-run filter and the re-list sweep's ids). Here
each key is its 128-bit BLAKE2b digest in sorted numpy arrays: the chance that two of
2M keys share a digest is ~1e-26, far below the chance of a disk error, so a digest
stands for its key.

New keys wait in a small Python set; when it outgrows a quarter of the sorted array
the two are merged, so a run of ``n`` keys sorts O(log n) times.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import blake2b
from typing import Any

import numpy as np

DIGEST_SIZE = 16
MIN_PENDING = 4096
"""Keys kept unsorted before the first merge."""

_PAIR = np.dtype("<u8")


def digest(key: Any) -> bytes:
    """The 128-bit digest standing for ``key`` (its text form for non-strings)."""
    text = key if isinstance(key, str) else repr(key)
    return blake2b(text.encode(), digest_size=DIGEST_SIZE).digest()


def _halves(values: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The digests' first and second 64 bits as two uint64 arrays."""
    pairs = np.frombuffer(b"".join(values), dtype=_PAIR).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


class CompactKeySet:
    """Keys seen in a run, 16 bytes each (see the module docstring).

    The sorted part is two aligned uint64 arrays (the digest's halves) ordered by the
    first half: searches and sorts run on native integers.
    """

    def __init__(self) -> None:
        """An empty set."""
        self._high = np.empty(0, dtype=_PAIR)
        self._low = np.empty(0, dtype=_PAIR)
        self._pending: set[bytes] = set()

    def __len__(self) -> int:
        return len(self._high) + len(self._pending)

    def __contains__(self, key: Any) -> bool:
        value = digest(key)
        return value in self._pending or self._known([value])[0]

    def add(self, key: Any) -> bool:
        """Adds ``key``; whether it was new."""
        return self.add_new([key])[0]

    def add_new(self, keys: Sequence[Any]) -> list[bool]:
        """Adds a batch of keys; for each, whether it was new (repeats in the batch too)."""
        values = [digest(key) for key in keys]
        known = self._known(values)
        pending = self._pending
        fresh: list[bool] = []
        for value, seen in zip(values, known, strict=True):
            new = not seen and value not in pending
            if new:
                pending.add(value)
            fresh.append(new)
        self._maybe_merge()
        return fresh

    def update(self, keys: Iterable[Any]) -> None:
        """Adds every key."""
        self.add_new(list(keys))

    def _known(self, values: Sequence[bytes]) -> list[bool]:
        """Whether each digest is in the sorted part (vectorised searches)."""
        if not len(self._high) or not values:
            return [False] * len(values)
        high, low = _halves(values)
        left = np.searchsorted(self._high, high, side="left")
        right = np.searchsorted(self._high, high, side="right")
        hit = np.zeros(len(values), dtype=bool)
        # a first half shared by two digests is rare (2M keys: ~1e-7); check the rest
        for offset in range(int((right - left).max(initial=0))):
            index = left + offset
            inside = index < right
            hit[inside] |= self._low[index[inside]] == low[inside]
        return hit.tolist()

    def _maybe_merge(self) -> None:
        if len(self._pending) < max(MIN_PENDING, len(self._high) // 2):
            return
        high, low = _halves(list(self._pending))
        high = np.concatenate([self._high, high])
        low = np.concatenate([self._low, low])
        order = np.argsort(high, kind="stable")
        self._high, self._low = high[order], low[order]
        self._pending = set()
