"""Pytest fixtures for the Salesforce sandbox.

Register with ``pytest_plugins = ["sandbox.salesforce.pytest_plugin"]`` in a ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .keys import KeyPair, generate_key_pair
from .server import SalesforceSandbox

FIXTURE_SEED = 7
FIXTURE_VOLUME = 12
FIXTURE_PAGE_SIZE = 10


@pytest.fixture(scope="session")
def salesforce_key_pair() -> KeyPair:
    """One RSA key pair per session (generating one takes a moment)."""
    return generate_key_pair()


@pytest.fixture
def salesforce_sandbox_factory(
    salesforce_key_pair: KeyPair,
) -> Iterator[Callable[..., SalesforceSandbox]]:
    """``make(**kwargs)`` starts sandboxes (seed 7, 12 accounts, pages of 10).

    Every sandbox made is stopped at teardown.
    """
    created: list[SalesforceSandbox] = []

    def make(**kwargs: Any) -> SalesforceSandbox:
        options: dict[str, Any] = {
            "seed": FIXTURE_SEED,
            "volume": FIXTURE_VOLUME,
            "page_size": FIXTURE_PAGE_SIZE,
            "key_pair": salesforce_key_pair,
            **kwargs,
        }
        sandbox = SalesforceSandbox(**options)
        created.append(sandbox)
        return sandbox.start()

    yield make
    for sandbox in created:
        sandbox.stop()


@pytest.fixture
def salesforce_sandbox(
    salesforce_sandbox_factory: Callable[..., SalesforceSandbox],
) -> SalesforceSandbox:
    """A started sandbox: seed 7, 12 accounts, query pages of 10 records."""
    return salesforce_sandbox_factory()
