"""Pytest fixtures for the Stripe sandbox.

Register with ``pytest_plugins = ["sandbox.stripe.pytest_plugin"]`` in a ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import StripeSandbox

FIXTURE_SEED = 42
FIXTURE_VOLUME = 20


@pytest.fixture
def stripe_sandbox() -> Iterator[StripeSandbox]:
    """A fresh started sandbox: seed 42, volume 20, no rate limit."""
    with StripeSandbox(seed=FIXTURE_SEED, volume=FIXTURE_VOLUME, rate_limit=0) as sandbox:
        yield sandbox


@pytest.fixture
def stripe_sandbox_factory() -> Iterator[Callable[..., StripeSandbox]]:
    """Return ``make(**kwargs)`` creating started sandboxes; all are stopped at teardown.

    Defaults are those of ``stripe_sandbox`` (seed 42, volume 20, rate limit off); ``kwargs``
    override them.
    """
    created: list[StripeSandbox] = []

    def make(**kwargs: Any) -> StripeSandbox:
        options: dict[str, Any] = {
            "seed": FIXTURE_SEED,
            "volume": FIXTURE_VOLUME,
            "rate_limit": 0,
            **kwargs,
        }
        sandbox = StripeSandbox(**options)
        created.append(sandbox)
        sandbox.start()
        return sandbox

    yield make
    for sandbox in created:
        sandbox.stop()
