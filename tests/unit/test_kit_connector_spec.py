"""The connector declaration, resource selection, guard and session wiring (no HTTP)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any, Optional

import pytest
from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator
from requests import Response

from sources.kit.connector import (
    ConnectorSpec,
    ResourceSpec,
    build_session,
    check_base_url,
    select_names,
)
from sources.kit.errors import ConfigurationError
from sources.kit.retry import RetryDecider
from sources.kit.settings import HttpSettings


def no_errors(response: Response) -> None:
    return None


SPEC = ConnectorSpec(
    name="toy",
    title="Toy",
    data_selector="data",
    paginator=SinglePagePaginator,
    raise_for_error=no_errors,
    rate_limit=10.0,
    rate_limit_groups={"search": (r"^/search", 50.0), "files": (r"^/files", 2.0)},
    resources=(ResourceSpec("users", "/users"), ResourceSpec("groups", "/groups")),
    default_resources=("users",),
)


@pytest.mark.parametrize(
    ("names", "expected"),
    [(None, ["users"]), (["groups", "users", "groups"], ["groups", "users"])],
    ids=["defaults", "deduplicated-in-order"],
)
def test_select_names(names: Optional[list[str]], expected: list[str]) -> None:
    assert select_names(SPEC, names) == expected


def test_unknown_resource_is_one_line_naming_the_setting_and_choices() -> None:
    with pytest.raises(ConfigurationError) as caught:
        select_names(SPEC, ["users", "nosuch"])
    assert str(caught.value) == (
        "unknown Toy resource(s) nosuch in sources.toy.resources; choose from: users, groups"
    )


def test_open_ended_selection_uses_the_connector_check() -> None:
    def check(name: str) -> str:
        if not name.isidentifier():
            raise ConfigurationError(f"{name!r} is not a toy table")
        return name

    assert select_names(SPEC, ["anything"], check) == ["anything"]
    with pytest.raises(ConfigurationError, match="'a/b' is not a toy table"):
        select_names(SPEC, ["a/b"], check)


def test_unknown_delete_detection_is_refused_at_declaration() -> None:
    with pytest.raises(ValueError, match="unknown delete detection"):
        ResourceSpec("users", deletes=("psychic",))


def test_endpoint_groups_never_exceed_the_source_limit() -> None:
    session = build_session(SPEC, base_url="https://api.toy.test", settings=HttpSettings())
    limiter = session.rate_limiter
    assert limiter is not None
    rates = {name: limiter.current_rate(name) for name in ("search", "files")}
    assert rates == {"search": 10.0, "files": 2.0}


def test_spec_retry_decider_and_retry_header_are_wired() -> None:
    @dataclasses.dataclass(frozen=True)
    class Always(RetryDecider):
        def should_retry(self, *args: Any, **kwargs: Any) -> bool:
            return True

    spec = dataclasses.replace(
        SPEC, retry_decider=lambda s: Always(), should_retry_header="Toy-Should-Retry"
    )
    session = build_session(
        spec, base_url="https://api.toy.test", settings=HttpSettings(), rng=random.Random(0)
    )
    assert session.retry_policy is not None
    assert isinstance(session.retry_policy.decider, Always)
    assert session.settings.should_retry_header == "Toy-Should-Retry"
    assert session.settings.allowed_hosts == ("api.toy.test",)


@pytest.mark.parametrize(
    ("url", "line"),
    [
        (
            None,
            "Toy instance missing: set sources.toy.base_url (https://x.toy.test) in "
            ".dlt/config.toml or SOURCES__TOY__BASE_URL",
        ),
        ("ftp://x", "sources.toy.base_url must start with http:// or https://, got 'ftp://x'"),
    ],
    ids=["missing", "not-http"],
)
def test_base_url_lines(url: Optional[str], line: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_base_url(SPEC, url, what="instance", example="https://x.toy.test")
    assert str(caught.value) == line


def test_base_url_loses_its_trailing_slash() -> None:
    assert check_base_url(SPEC, "https://x.toy.test/") == "https://x.toy.test"
