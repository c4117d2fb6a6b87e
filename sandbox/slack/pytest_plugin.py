"""Pytest fixtures for the Slack sandbox.

Register with ``pytest_plugins = ["sandbox.slack.pytest_plugin"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import SlackSandbox


@pytest.fixture
def slack_sandbox() -> Iterator[SlackSandbox]:
    """A started sandbox: seed 42, default volume, Tier limits, no Marketplace limits."""
    with SlackSandbox(seed=42) as sandbox:
        yield sandbox


@pytest.fixture
def slack_sandbox_factory() -> Iterator[Callable[..., SlackSandbox]]:
    """``make(**kwargs)`` starting sandboxes with other options; all stop at teardown."""
    created: list[SlackSandbox] = []

    def make(**kwargs: Any) -> SlackSandbox:
        sandbox = SlackSandbox(**{"seed": 42, **kwargs}).start()
        created.append(sandbox)
        return sandbox

    yield make
    for sandbox in created:
        sandbox.stop()
