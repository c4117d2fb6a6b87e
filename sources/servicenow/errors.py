"""How the instance's error answers become the kit's exceptions (the spec's error raiser)."""

from __future__ import annotations

from typing import Any

from requests import Response

from sources.kit.errors import AuthenticationError, error_from_response
from sources.kit.redact import global_redactor

from .access import access_denied
from .settings import CREDENTIALS_PATH


def raise_for_servicenow(response: Response, *args: Any, **kwargs: Any) -> None:
    """An error response becomes the kit's exception; a success returns.

    A 403 names the table whose ACL refused the user (the credentials are fine), a 401
    the credentials setting; everything else is the kit's mapping (429, 5xx...).

    Raises:
        AuthenticationError: 401, or 403 (its :class:`~.access.AccessDeniedError`).
        SluiceError: Any other status of 400 or more.
    """
    if response.status_code == 403:
        raise access_denied(response, CREDENTIALS_PATH)
    if response.status_code == 401:
        raise AuthenticationError(
            f"ServiceNow refused the credentials ({response.status_code}): check "
            f"{CREDENTIALS_PATH}",
            response=response,
        )
    if response.status_code >= 400:
        raise error_from_response(response, global_redactor())
