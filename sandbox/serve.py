"""Serving an emulator standalone: until SIGTERM or SIGINT, with how to connect printed."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from sandbox.background import BackgroundServer


def serve_until_signal(sandbox: BackgroundServer, lines: Sequence[str]) -> int:
    """Starts ``sandbox``, prints ``lines`` (its URL and credentials), serves until a signal.

    Args:
        sandbox: The emulator, not started yet.
        lines: What a client needs to connect; ``{base_url}`` is filled in.

    Returns:
        The exit status (0).
    """
    stopped = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    with sandbox:
        # stdout, flushed: the user (or the test's parent process) reads where to connect.
        for line in lines:
            sys.stdout.write(line.format(base_url=sandbox.base_url) + "\n")
        sys.stdout.flush()
        stopped.wait()
    return 0
