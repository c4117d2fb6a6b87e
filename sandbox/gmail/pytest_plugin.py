"""Pytest fixtures for the Gmail sandbox.

Register with ``pytest_plugins = ["sandbox.gmail.pytest_plugin"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .server import GmailSandbox


@pytest.fixture
def gmail_sandbox() -> Iterator[GmailSandbox]:
    """A started sandbox: seed 42, default mailbox, 250 quota units per second."""
    with GmailSandbox(seed=42) as sandbox:
        yield sandbox


@pytest.fixture
def gmail_sandbox_factory() -> Iterator[Callable[..., GmailSandbox]]:
    """``make(**kwargs)`` starting sandboxes with other options; all stop at teardown."""
    created: list[GmailSandbox] = []

    def make(**kwargs: Any) -> GmailSandbox:
        sandbox = GmailSandbox(**{"seed": 42, **kwargs}).start()
        created.append(sandbox)
        return sandbox

    yield make
    for sandbox in created:
        sandbox.stop()
