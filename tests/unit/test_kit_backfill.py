"""Unit tests of the time-sliced backfill on an in-memory, Stripe-like list endpoint."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest

from sources.kit.backfill import TimeSlicedLister
from sources.kit.errors import PaginationLoopError


class FakeList:
    """Newest-first list with created[gte|lt] filters and starting_after, 10 per page."""

    def __init__(
        self, objects: list[dict[str, Any]], page_size: int = 10, latency_s: float = 0.001
    ) -> None:
        self.objects = sorted(objects, key=lambda o: (o["_t"], o["id"]), reverse=True)
        self.latency_s = latency_s
        self.page_size = page_size
        self.requests = 0
        self.lock = threading.Lock()

    def fetch(self, params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        with self.lock:
            self.requests += 1
        time.sleep(self.latency_s)  # a millisecond of "network" lets other workers run
        rows = [
            o
            for o in self.objects
            if o["_t"] >= params.get("created[gte]", 0)
            and o["_t"] < params.get("created[lt]", 10**12)
        ]
        after = params.get("starting_after")
        if after is not None:
            index = next(i for i, o in enumerate(rows) if o["id"] == after)
            rows = rows[index + 1 :]
        page = rows[: self.page_size]
        shown = [{k: v for k, v in o.items() if k != "_t"} for o in page]
        return shown, len(rows) > len(page)


def dataset(n: int, spread: int = 100_000) -> list[dict[str, Any]]:
    # several objects share a second, as on a busy account
    objects = []
    for i in range(n):
        created = 1_000_000 + (i * spread) // n
        objects.append({"id": f"obj_{i:05d}", "created": created, "_t": created})
    return objects


@pytest.mark.parametrize("workers", [1, 4, 8], ids=["sequential", "four-workers", "eight-workers"])
def test_every_object_is_emitted_exactly_once(workers: int) -> None:
    api = FakeList(dataset(537))
    lister = TimeSlicedLister(api.fetch, gte=0, workers=workers, min_slice_s=10)

    seen = Counter(o["id"] for page in lister.pages() for o in page)

    assert set(seen) == {o["id"] for o in api.objects}
    assert max(seen.values()) == 1
    if workers > 1:
        assert lister.splits > 0


def test_split_costs_few_extra_requests() -> None:
    api = FakeList(dataset(1000))
    lister = TimeSlicedLister(api.fetch, gte=1_000_000, workers=4, min_slice_s=10)

    total = sum(len(p) for p in lister.pages())

    assert total == 1000
    assert api.requests <= 100 + 4 * lister.splits + 1


def test_objects_without_a_usable_time_are_kept_once() -> None:
    objects = dataset(95)
    objects[40]["created"] = "not-a-time"  # malformed in the payload; the server still lists it
    api = FakeList(objects)

    ids = [o["id"] for page in TimeSlicedLister(api.fetch, gte=0, workers=1).pages() for o in page]

    assert ids.count(objects[40]["id"]) == 1 and len(ids) == 95


def test_repeated_cursor_stops_with_a_loop_error() -> None:
    def same_page(params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        return [{"id": "obj_1", "created": 5}], True

    with pytest.raises(PaginationLoopError, match="repeated cursor"):
        list(TimeSlicedLister(same_page, gte=0, workers=2).pages())


def test_worker_error_reaches_the_consumer() -> None:
    def failing(params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        list(TimeSlicedLister(failing, gte=0, workers=3).pages())


def test_base_params_reach_every_request() -> None:
    seen: list[dict[str, Any]] = []

    def record(params: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        seen.append(dict(params))
        return [], False

    list(TimeSlicedLister(record, base_params={"limit": 100, "status": "all"}, gte=7).pages())

    assert seen == [{"limit": 100, "status": "all", "created[gte]": 7}]
