"""A 403 names the table whose read ACL refused the user, not the credentials."""

from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from requests import Response

from sources.kit.errors import AuthenticationError

from .settings import TABLE_PATH

TABLE_PREFIX = TABLE_PATH.format(table="")


class AccessDeniedError(AuthenticationError):
    """The instance knows the user but its ACL refuses reading one table (HTTP 403).

    Attributes:
        table: The refused table, when the request was a Table API one.
    """

    def __init__(
        self,
        message: str,
        *,
        table: Optional[str] = None,
        response: Optional[Response] = None,
        request_id: Optional[str] = None,
    ) -> None:
        """Creates the error."""
        super().__init__(message, response=response, request_id=request_id)
        self.table = table


def table_of(response: Response) -> Optional[str]:
    """The table a Table API request asked for (``/api/now/table/<table>[/<sys_id>]``)."""
    path = urlsplit(response.request.url or "").path if response.request is not None else ""
    if not path.startswith(TABLE_PREFIX):
        return None
    return path[len(TABLE_PREFIX) :].split("/", 1)[0] or None


def access_denied(response: Response, credentials_path: str) -> AccessDeniedError:
    """The one-line error of a 403: which table, and which grant is missing."""
    table = table_of(response)
    if table is None:
        message = (
            f"ServiceNow refused the request (403): give the user of {credentials_path} "
            "the role the resource's ACL asks for"
        )
    else:
        message = (
            f"ServiceNow denied reading {table} (403): give the user of {credentials_path} "
            f"a role with read access to {table} (its read ACL; admin on a default instance)"
        )
    return AccessDeniedError(message, table=table, response=response)
