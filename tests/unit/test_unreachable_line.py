"""An open circuit or spent retries on no answer say the host cannot be reached (issue 16)."""

from __future__ import annotations

import pytest
import requests

from pipelines.user_errors import unreachable_line
from sources.kit.circuit import CircuitBreaker
from sources.kit.errors import CircuitOpenError


def refused(url: str) -> requests.ConnectionError:
    """A ConnectionError shaped like requests' own: the OS error as its innermost cause."""
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as os_error:
            raise OSError("Failed to establish a new connection") from os_error
    except OSError as inner:
        error = requests.ConnectionError(inner, request=requests.Request("GET", url).prepare())
        return error


def opened(name: str, last_error: BaseException | None) -> CircuitOpenError:
    breaker = CircuitBreaker(name, failure_threshold=1, clock=lambda: 0.0)
    breaker.last_error = last_error
    breaker.record_failure()
    with pytest.raises(CircuitOpenError) as caught:
        breaker.before_call()
    return caught.value


@pytest.mark.parametrize(
    ("name", "url", "expected"),
    [
        pytest.param(
            "servicenow nosuch.service-now.com",
            "https://nosuch.service-now.com/api/now/table/incident",
            "cannot reach nosuch.service-now.com: Connection refused "
            "(check sources.servicenow.base_url and the network)",
            id="servicenow",
        ),
        pytest.param(
            "salesforce acme.my.salesforce.com",
            "https://acme.my.salesforce.com/services/data",
            "cannot reach acme.my.salesforce.com: Connection refused "
            "(check sources.salesforce.instance_url and the network)",
            id="salesforce-names-instance-url",
        ),
    ],
)
def test_an_open_circuit_keeps_the_connection_error_and_names_the_host(
    name: str, url: str, expected: str
) -> None:
    error = refused(url)
    open_error = opened(name, error)
    assert open_error.__cause__ is error
    assert unreachable_line(open_error) == expected


def test_a_circuit_opened_by_answers_is_not_called_unreachable() -> None:
    assert unreachable_line(opened("stripe api.stripe.com", None)) is None
