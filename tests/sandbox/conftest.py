"""Helpers for the Stripe sandbox tests: an HTTP client bound to a running sandbox."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import requests

from sandbox.stripe import StripeSandbox

TIMEOUT = 5


class StripeHttp:
    """Sends requests to a sandbox with its first API key (Bearer auth)."""

    def __init__(self, sandbox: StripeSandbox) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {sandbox.api_key}"

    def url(self, path: str) -> str:
        return f"{self.sandbox.base_url}{path}"

    def get(self, path: str, params: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), params=params, timeout=TIMEOUT, **kwargs)

    def post(
        self, path: str, data: Any = None, headers: Mapping[str, str] | None = None
    ) -> requests.Response:
        return self.session.post(self.url(path), data=data, headers=headers, timeout=TIMEOUT)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.url(path), timeout=TIMEOUT)

    def list_all(self, list_name: str, **params: Any) -> list[dict[str, Any]]:
        """Page through ``/v1/<list_name>`` with ``starting_after``; return every record."""
        records: list[dict[str, Any]] = []
        query = {"limit": 100, **params}
        while True:
            response = self.get(f"/v1/{list_name}", params=query)
            assert response.status_code == 200, response.text
            page = response.json()
            records.extend(page["data"])
            if not page["has_more"]:
                return records
            query["starting_after"] = page["data"][-1]["id"]


@pytest.fixture
def stripe_http(stripe_sandbox: StripeSandbox) -> Iterator[StripeHttp]:
    """A ``StripeHttp`` for the function-scoped ``stripe_sandbox``."""
    client = StripeHttp(stripe_sandbox)
    yield client
    client.session.close()


@pytest.fixture(scope="module")
def stripe_readonly() -> Iterator[StripeSandbox]:
    """A started sandbox (seed 42, volume 20, no rate limit) shared by a module's tests.

    Only for tests that never change it: no writes, no faults, no stats assertions.
    """
    with StripeSandbox(seed=42, volume=20, rate_limit=0) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def readonly_http(stripe_readonly: StripeSandbox) -> Iterator[StripeHttp]:
    """A ``StripeHttp`` for ``stripe_readonly``."""
    client = StripeHttp(stripe_readonly)
    yield client
    client.session.close()
