"""The HTTP plumbing the emulators share: a threaded loopback server and its handler.

Each emulator keeps what its API does in one ``handle(request)`` function; this module
only reads the request, hands it over and writes the answer (or resets the connection,
as a dying load balancer would, when the answer says ``drop``).
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

logger = logging.getLogger("sluice.sandbox")

JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Request:
    """One request as the emulators see it (header names lower-cased)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


Handle = Callable[[Request], Any]
"""Answers a request with an object carrying ``status``, ``body`` and ``headers``, and
optionally ``content_type`` and ``drop`` (reset the connection instead of answering)."""


class LoopbackServer(ThreadingHTTPServer):
    """A threaded HTTP server handing every request to ``handle``.

    Args:
        address: ``(host, port)``; port 0 picks a free one.
        handle: The emulator's request handler.
        label: How debug log lines name the emulator.
        content_type: ``Content-Type`` of answers that do not carry their own.
    """

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handle: Handle, label: str, content_type: str = JSON
    ) -> None:
        self.handle = handle
        self.label = label
        self.content_type = content_type
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: LoopbackServer

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def do_PUT(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def do_PATCH(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def do_DELETE(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.handle(Request(self.command, path, query, headers, body))
        if getattr(reply, "drop", False):
            self._reset()
            return
        try:
            self._write(reply)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a stall fault outlived its read timeout).
            self.close_connection = True

    def _write(self, reply: Any) -> None:
        body: bytes = reply.body
        self.send_response(reply.status)
        self.send_header("Content-Type", getattr(reply, "content_type", self.server.content_type))
        self.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _reset(self) -> None:
        # SO_LINGER 0: the client sees a reset, as from a dying load balancer.
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s: %s %s", self.server.label, self.command, self.path.split("?", 1)[0])
