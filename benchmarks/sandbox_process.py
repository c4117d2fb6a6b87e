"""Starting ``python -m sandbox.stripe`` in its own process for a benchmark."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_stripe_sandbox(
    options: list[str], timeout: float = 300
) -> tuple[subprocess.Popen[bytes], str]:
    """Starts the Stripe sandbox with ``options`` on a free port; returns (process, url).

    Waits until the port accepts connections (bulk sandboxes take several seconds).
    """
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox.stripe",
            "--port",
            str(port),
            "--log-level",
            "WARNING",
            *options,
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the sandbox exited with {proc.returncode}: {options}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the sandbox did not start in time")
