"""List settings as users write them: comma lists, JSON arrays, TOML arrays and strings.

Every list setting of every connector is resolved through dlt exactly as in a run
(environment variables or ``.dlt/*.toml`` files), in each of the four forms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dlt.common.configuration.container import Container
from dlt.common.configuration.providers import (
    ConfigTomlProvider,
    EnvironProvider,
    SecretsTomlProvider,
)
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from sources.kit.errors import ConfigurationError
from sources.kit.settings import str_list

# -- the helper ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("customers,events", ["customers", "events"]),
        (" customers , events ,", ["customers", "events"]),
        ("customers", ["customers"]),
        ('["customers", "events"]', ["customers", "events"]),
        (["customers", "events"], ["customers", "events"]),
        (("customers", " "), ["customers"]),
        ("", None),
        ("[]", None),
        (None, None),
    ],
    ids=[
        "comma",
        "comma-spaces",
        "one-name",
        "json-array",
        "list",
        "tuple-blank-item",
        "empty-string",
        "empty-array",
        "unset",
    ],
)
def test_str_list_reads_every_form(value: Any, expected: list[str] | None) -> None:
    assert str_list(value, "sources.x.names") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('["customers"', "sources.x.names '[\"customers\"' starts like a JSON array"),
        ("[1, 2]", "sources.x.names must hold names (text), got 1"),
        (5, "sources.x.names must be a list of names or a comma-separated string, got int"),
        ({"a": 1}, "sources.x.names must be a list of names or a comma-separated string"),
    ],
    ids=["broken-json", "numbers", "number", "table"],
)
def test_str_list_errors_are_one_line_naming_the_setting(value: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        str_list(value, "sources.x.names")

    text = str(raised.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_str_list_never_quotes_a_secret() -> None:
    with pytest.raises(ConfigurationError) as raised:
        str_list('["whsec_hidden"', "sources.stripe.webhook_secret", secret=True)

    assert "sources.stripe.webhook_secret" in str(raised.value)
    assert "whsec_hidden" not in str(raised.value)


# -- every connector's list settings, through dlt's own resolution ---------------------------


@pytest.fixture
def providers(tmp_path: Path) -> Iterator[Path]:
    """Only the environment and ``tmp_path/.dlt/{config,secrets}.toml`` are consulted."""
    settings = tmp_path / ".dlt"
    settings.mkdir()
    (settings / "config.toml").write_text("")
    (settings / "secrets.toml").write_text("")
    context = Container()[PluggableRunContext]
    original = context.providers.providers
    use_providers(settings)
    yield settings
    context.providers.providers = original


def use_providers(settings: Path) -> None:
    """dlt's environment and TOML providers; the TOML ones read their files when created."""
    Container()[PluggableRunContext].providers.providers = [
        EnvironProvider(),
        SecretsTomlProvider(str(settings)),
        ConfigTomlProvider(str(settings)),
    ]


class FakeSalesforce:
    """Answers describe offline: every object has the two fields the source needs."""

    def describe(self, name: str, label: str | None = None) -> dict[str, Any]:
        fields = [{"name": "Id", "type": "id"}, {"name": "SystemModstamp", "type": "datetime"}]
        return {"name": name, "fields": fields}


def stripe_resources() -> list[str]:
    from sources.stripe import make_client, stripe_source

    client = make_client(api_key="sk_test_offline", base_url="http://127.0.0.1:9")
    return list(stripe_source(client=client).resources.keys())


def salesforce_objects() -> list[str]:
    from sources.salesforce import salesforce_source

    return list(salesforce_source(client=FakeSalesforce()).resources.keys())


def servicenow_tables() -> list[str]:
    from sources.servicenow import servicenow_source

    return list(servicenow_source(client=object()).resources.keys())


def match_rule_names(system: str) -> Callable[[], list[str]]:
    def probe() -> list[str]:
        return [rule.name for rule in canonical_rules(system)()]

    return probe


def ignored_domains(system: str) -> Callable[[], list[str]]:
    """Domains of CANDIDATES the email_domain rule ignores (public_domains)."""

    def probe() -> list[str]:
        # public_domains only matter to the email_domain rule
        rules = {r.name: r for r in canonical_rules(system)(match_rules=["email_domain"])}
        rule = rules["email_domain"]
        return [d for d in CANDIDATES if rule.key({"email": f"a@{d}"}, system, "x1") is None]

    return probe


CANDIDATES = ("example.com", "corp.io", "gmail.com")


def canonical_rules(system: str) -> Callable[..., list[Any]]:
    if system == "stripe":
        from sources.stripe.canonical import stripe_match_rules

        return stripe_match_rules
    if system == "salesforce":
        from sources.salesforce.canonical import salesforce_match_rules

        return salesforce_match_rules
    from sources.servicenow.canonical import servicenow_match_rules

    return servicenow_match_rules


def webhook_secrets() -> list[str]:
    from pipelines.stripe_webhooks import webhook_secrets as configured

    return configured()


# (setting key, toml file, probe, the two values written, what the probe returns)
SETTINGS: list[tuple[str, str, Callable[[], list[str]], tuple[str, str], list[str]]] = [
    (
        "sources.stripe.resources",
        "config",
        stripe_resources,
        ("customers", "events"),
        ["customers", "events"],
    ),
    (
        "sources.salesforce.objects",
        "config",
        salesforce_objects,
        ("Account", "Contact"),
        ["account", "contact"],
    ),
    (
        "sources.servicenow.tables",
        "config",
        servicenow_tables,
        ("incident", "sys_user"),
        ["incident", "sys_user"],
    ),
    *[
        (
            f"sources.{system}.canonical.match_rules",
            "config",
            match_rule_names(system),
            ("email_domain", "email"),
            ["email_domain", "email"],
        )
        for system in ("stripe", "salesforce", "servicenow")
    ],
    *[
        (
            f"sources.{system}.canonical.public_domains",
            "config",
            ignored_domains(system),
            ("example.com", "corp.io"),
            ["example.com", "corp.io"],
        )
        for system in ("stripe", "salesforce", "servicenow")
    ],
    (
        "sources.stripe.webhook_secret",
        "secrets",
        webhook_secrets,
        ("whsec_current_one", "whsec_older_one"),
        ["whsec_current_one", "whsec_older_one"],
    ),
]

FORMS = ("env-comma", "env-json", "toml-array", "toml-string")


def env_name(key: str) -> str:
    return key.upper().replace(".", "__")


def write_setting(
    settings: Path, monkeypatch: pytest.MonkeyPatch, key: str, file: str, form: str, values: Any
) -> None:
    first, second = values
    if form == "env-comma":
        monkeypatch.setenv(env_name(key), f"{first}, {second}")
    elif form == "env-json":
        monkeypatch.setenv(env_name(key), f'["{first}", "{second}"]')
    else:
        section, _, name = key.rpartition(".")
        value = f'["{first}", "{second}"]' if form == "toml-array" else f'"{first},{second}"'
        (settings / f"{file}.toml").write_text(f"[{section}]\n{name} = {value}\n")
    use_providers(settings)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, *_ in SETTINGS:
        monkeypatch.delenv(env_name(key), raising=False)
    monkeypatch.delenv("SOURCES__STRIPE__WEBHOOK_SECRET_PREVIOUS", raising=False)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    ("key", "file", "probe", "values", "expected"),
    SETTINGS,
    ids=[entry[0] for entry in SETTINGS],
)
def test_list_setting_in_every_form(
    providers: Path,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    file: str,
    probe: Callable[[], list[str]],
    values: tuple[str, str],
    expected: list[str],
    form: str,
) -> None:
    write_setting(providers, monkeypatch, key, file, form, values)

    assert probe() == expected


@pytest.mark.parametrize(
    ("key", "probe"),
    [
        ("sources.stripe.resources", stripe_resources),
        ("sources.salesforce.objects", salesforce_objects),
        ("sources.servicenow.tables", servicenow_tables),
        ("sources.stripe.canonical.match_rules", match_rule_names("stripe")),
    ],
    ids=["stripe-resources", "salesforce-objects", "servicenow-tables", "match-rules"],
)
def test_malformed_list_setting_is_one_line_naming_it(
    providers: Path,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    probe: Callable[[], list[str]],
) -> None:
    monkeypatch.setenv(env_name(key), '["not", "closed"')

    with pytest.raises(Exception) as raised:  # noqa: B017 - dlt may wrap the kit's error
        probe()

    from pipelines.common import explain

    line = explain(raised.value)
    assert line.startswith(key), line
    assert "\n" not in line
