"""Pytest fixtures for the Shopify sandbox.

Register with ``pytest_plugins = ["sandbox.shopify.pytest_plugin"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import ShopifySandbox


@pytest.fixture
def shopify_sandbox() -> Iterator[ShopifySandbox]:
    """A started sandbox: seed 42, default volume, a 1,000-point bucket restoring 50/s."""
    with ShopifySandbox(seed=42) as sandbox:
        yield sandbox


@pytest.fixture
def shopify_sandbox_factory() -> Iterator[Callable[..., ShopifySandbox]]:
    """``make(**kwargs)`` starting sandboxes with other options; all stop at teardown."""
    created: list[ShopifySandbox] = []

    def make(**kwargs: Any) -> ShopifySandbox:
        sandbox = ShopifySandbox(**{"seed": 42, **kwargs}).start()
        created.append(sandbox)
        return sandbox

    yield make
    for sandbox in created:
        sandbox.stop()
