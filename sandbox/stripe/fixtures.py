"""Stripe's published example objects (package data ``data/fixtures.json``, MIT, see
``data/LICENSE.stripe-fixtures``), loaded once and handed out as deep copies."""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

_PACKAGE = "sandbox.stripe"
_FILE = "data/fixtures.json"


@functools.cache
def _resources() -> dict[str, dict[str, Any]]:
    text = resources.files(_PACKAGE).joinpath(_FILE).read_text(encoding="utf-8")
    loaded: dict[str, dict[str, Any]] = json.loads(text)["resources"]
    return loaded


def fixture(name: str) -> dict[str, Any]:
    """Return a deep copy of Stripe's example object ``name`` (e.g. ``customer``).

    Raises:
        KeyError: If the fixture file has no such object.
    """
    return copy.deepcopy(_resources()[name])
