"""The password grant connector flow renews with the refresh token, over loopback."""

from __future__ import annotations

import pytest
import requests

from sandbox.servicenow import ServiceNowSandbox
from sources.kit.auth import TokenRetry
from sources.kit.auth.password_grant import OAuth2PasswordGrant


def grant_for(sandbox: ServiceNowSandbox) -> OAuth2PasswordGrant:
    return OAuth2PasswordGrant(
        sandbox.token_url,
        sandbox.client_id,
        sandbox.client_secret,
        sandbox.username,
        sandbox.password,
        retry=TokenRetry(sleep=lambda _: None),
    )


def list_incidents(sandbox: ServiceNowSandbox, auth: OAuth2PasswordGrant) -> int:
    reply = requests.get(f"{sandbox.base_url}/api/now/table/incident", auth=auth, timeout=5)
    return reply.status_code


@pytest.mark.parametrize(
    ("refresh_alive", "grants"),
    [(True, ["password", "refresh_token"]), (False, ["password", "refresh_token", "password"])],
    ids=["refresh-token", "refresh-refused-falls-back"],
)
def test_an_expired_access_token_is_renewed_with_the_refresh_token(
    servicenow_sandbox: ServiceNowSandbox, refresh_alive: bool, grants: list[str]
) -> None:
    auth = grant_for(servicenow_sandbox)
    assert list_incidents(servicenow_sandbox, auth) == 200
    servicenow_sandbox.auth.expire_tokens()
    if not refresh_alive:
        servicenow_sandbox.auth.expire_refresh_tokens()

    assert list_incidents(servicenow_sandbox, auth) == 200

    assert auth.grants == grants
    assert servicenow_sandbox.auth.issued["password"] == grants.count("password")
