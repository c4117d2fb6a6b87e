"""How Stripe's error answers become the kit's exceptions (the spec's error raiser)."""

from __future__ import annotations

from typing import Any, Optional

from requests import Response

from sources.kit.errors import FatalError, error_from_response
from sources.kit.redact import global_redactor


def raise_for_stripe(response: Response, *args: Any, **kwargs: Any) -> None:
    """RESTClient response hook: turns an error response into the kit's exception.

    Raises:
        SluiceError: Any status of 400 or more (the kit's mapping: 429, 5xx...).
    """
    if response.status_code >= 400:
        raise error_from_response(response, global_redactor())


def not_json_error(path: str, response: Optional[Response]) -> FatalError:
    """The error for a success answer whose body is not JSON (a proxy page, a cut body)."""
    size = f" ({len(response.content)} bytes)" if response is not None else ""
    return FatalError(
        f"Stripe answered {path} with a body that is not JSON{size}: the API or a proxy in "
        "between is misbehaving; nothing from this page was loaded, rerun once it is fixed",
        response=response,
        request_id=response.headers.get("Request-Id") if response is not None else None,
    )
