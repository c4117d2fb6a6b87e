"""Test doubles for the resilience kit: a fake clock and bare HTTP responses."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Optional, Union

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict


class FakeClock:
    """A monotonic clock whose sleep advances time instantly (thread-safe)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def make_response(
    status: int = 200,
    body: Union[bytes, str, Mapping[str, Any], list[Any], None] = None,
    headers: Optional[Mapping[str, str]] = None,
    url: str = "https://api.example.com/v1/items",
    method: str = "GET",
) -> requests.Response:
    """A bare ``requests.Response`` with the given status, JSON/bytes body and headers."""
    response = requests.Response()
    response.status_code = status
    response.reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}.get(status, "")
    if isinstance(body, bytes):
        content = body
    elif isinstance(body, str):
        content = body.encode()
    elif body is None:
        content = b""
    else:
        content = json.dumps(body).encode()
    response._content = content
    response.headers = CaseInsensitiveDict(headers or {})
    response.url = url
    response.request = requests.Request(method, url).prepare()
    return response


Step = Union[requests.Response, BaseException, Callable[[requests.PreparedRequest], Any]]


class ScriptedAdapter(BaseAdapter):
    """Transport adapter answering from a script; records every request it got.

    Each step is a response (returned), an exception (raised) or a callable taking
    the prepared request and returning either. The last step repeats forever.
    """

    def __init__(self, steps: Iterable[Step]) -> None:
        super().__init__()
        self.steps = list(steps)
        self.requests: list[requests.PreparedRequest] = []
        self.kwargs: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        with self._lock:
            index = len(self.requests)
            self.requests.append(request)
            self.kwargs.append(kwargs)
            step = self.steps[min(index, len(self.steps) - 1)]
        if callable(step) and not isinstance(step, (requests.Response, BaseException)):
            step = step(request)
        if isinstance(step, BaseException):
            raise step
        response = clone(step)
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        return None


def clone(response: requests.Response) -> requests.Response:
    """A fresh copy of a scripted response (a step may be served many times)."""
    copy = requests.Response()
    copy.status_code = response.status_code
    copy.reason = response.reason
    copy._content = response._content
    copy.headers = CaseInsensitiveDict(response.headers)
    copy.url = response.url
    copy.request = response.request
    return copy
