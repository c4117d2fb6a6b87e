"""A tiny scripted HTTP server on 127.0.0.1 for connector-level tests of the kit.

Each path has a script: a list of actions, one per request (the last one repeats).
Every request is recorded (method, path, headers, body).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

Action = Callable[["ToyHandler"], None]


@dataclass
class Hit:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ToyState:
    """Scripts and recorded hits shared by all handler threads."""

    scripts: dict[str, list[Action]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_action(self, hit: Hit) -> Optional[Action]:
        with self.lock:
            self.hits.append(hit)
            route = hit.path.split("?", 1)[0]
            script = self.scripts.get(route)
            if not script:
                return None
            count = sum(1 for h in self.hits if h.path.split("?", 1)[0] == route)
            return script[min(count, len(script)) - 1]

    def hits_for(self, route: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path.split("?", 1)[0] == route]


class ToyHandler(BaseHTTPRequestHandler):
    """Runs the scripted action for the request's path."""

    protocol_version = "HTTP/1.1"
    state: ToyState
    hit: Hit

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return None

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        hit = Hit(self.command, self.path, dict(self.headers.items()), body)
        self.hit = hit
        action = self.state.next_action(hit)
        if action is None:
            send_json(404, {"error": {"message": f"no script for {self.path}"}})(self)
            return
        action(self)

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_PATCH = _handle
    do_DELETE = _handle


def send_json(status: int, payload: Any, headers: Optional[dict[str, str]] = None) -> Action:
    """Action: answer with a JSON body."""

    def act(handler: ToyHandler) -> None:
        body = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return act


def echo() -> Action:
    """Action: answer 200 with the request's headers and body."""

    def act(handler: ToyHandler) -> None:
        hit = handler.hit
        send_json(200, {"headers": hit.headers, "body": hit.body.decode()})(handler)

    return act


def redirect(status: int, location: str) -> Action:
    """Action: redirect to ``location``."""

    def act(handler: ToyHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return act


def drop() -> Action:
    """Action: close the connection without any response."""

    def act(handler: ToyHandler) -> None:
        handler.close_connection = True

    return act


def truncate(declared: int = 100, sent: bytes = b'{"partial"') -> Action:
    """Action: promise ``declared`` bytes, send fewer, close (dropped mid-body)."""

    def act(handler: ToyHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        handler.wfile.write(sent)
        handler.wfile.flush()
        handler.close_connection = True

    return act


def hang(max_seconds: float = 2.0) -> Action:
    """Action: answer nothing until the test ends (the client times out)."""

    def act(handler: ToyHandler) -> None:
        handler.state.release.wait(max_seconds)
        handler.close_connection = True

    return act


class ToyServer:
    """A running server; ``url(path)`` builds request URLs."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.state = ToyState()
        handler = type("BoundToyHandler", (ToyHandler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer((host, 0), handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def url(self, path: str, host: Optional[str] = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def script(self, path: str, *actions: Action) -> None:
        with self.state.lock:
            self.state.scripts[path] = list(actions)

    def hits(self, path: str) -> list[Hit]:
        return self.state.hits_for(path)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.state.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def running_server() -> Iterator[ToyServer]:
    """Starts a toy server for the duration of the block."""
    server = ToyServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
