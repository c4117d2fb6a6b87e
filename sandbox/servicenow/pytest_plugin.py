"""Pytest fixtures for the ServiceNow sandbox.

Register with ``pytest_plugins = ["sandbox.servicenow.pytest_plugin"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import ServiceNowSandbox


@pytest.fixture
def servicenow_sandbox() -> Iterator[ServiceNowSandbox]:
    """A started sandbox: seed 42, default volume, no rate limit."""
    with ServiceNowSandbox(seed=42) as sandbox:
        yield sandbox


@pytest.fixture
def servicenow_sandbox_factory() -> Iterator[Callable[..., ServiceNowSandbox]]:
    """``make(**kwargs)`` starting sandboxes with other options; all stop at teardown."""
    created: list[ServiceNowSandbox] = []

    def make(**kwargs: Any) -> ServiceNowSandbox:
        sandbox = ServiceNowSandbox(**{"seed": 42, **kwargs}).start()
        created.append(sandbox)
        return sandbox

    yield make
    for sandbox in created:
        sandbox.stop()
