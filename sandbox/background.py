"""What every local API emulator shares: an HTTP server in a daemon thread on loopback."""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType
from typing import Optional, TypeVar

SandboxT = TypeVar("SandboxT", bound="BackgroundServer")


class BackgroundServer:
    """Base of the sandboxes: serving, stopping, context manager and ``base_url``.

    A subclass builds its server in ``start()`` and hands it to :meth:`_serve`.
    """

    label = "sandbox"
    """Used in the thread name and in errors."""

    _server: Optional[socketserver.TCPServer] = None
    _thread: Optional[threading.Thread] = None

    def start(self: SandboxT) -> SandboxT:
        """Starts serving; returns itself."""
        raise NotImplementedError

    def _serve(self, server: socketserver.TCPServer, poll_interval: float = 0.05) -> None:
        """Serves ``server`` in a daemon thread."""
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": poll_interval},
            daemon=True,
            name=self.label,
        )
        self._thread.start()

    @property
    def started(self) -> bool:
        """Whether the server is running."""
        return self._server is not None

    def stop(self) -> None:
        """Stops the server and waits for its thread."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self: SandboxT) -> SandboxT:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (the sandbox must be started)."""
        if self._server is None:
            raise RuntimeError(f"the {self.label} is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"
