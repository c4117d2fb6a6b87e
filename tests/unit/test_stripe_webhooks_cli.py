"""The webhooks CLI: secrets from dlt config, rotation, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines import stripe_webhooks as cli
from pipelines.common import UserFacingError
from sources.kit.redact import global_redactor
from sources.kit.webhooks.inbox import Inbox


@pytest.fixture(autouse=True)
def clean_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "SOURCES__STRIPE__WEBHOOK_SECRET",
        "SOURCES__STRIPE__WEBHOOK_SECRET_PREVIOUS",
        "SOURCES__STRIPE__WEBHOOK_INBOX",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, []),
        ("", []),
        ("  whsec_a  ", ["whsec_a"]),
        ('["whsec_a", "whsec_b"]', ["whsec_a", "whsec_b"]),
        (["whsec_a", " ", "whsec_b"], ["whsec_a", "whsec_b"]),
    ],
    ids=["none", "empty", "one-string", "json-list", "list"],
)
def test_as_secret_list(value: object, expected: list[str]) -> None:
    assert cli.as_secret_list(value) == expected


def test_bad_json_list_names_the_setting_not_the_value() -> None:
    with pytest.raises(UserFacingError) as caught:
        cli.as_secret_list('["whsec_hidden"')
    assert "sources.stripe.webhook_secret" in str(caught.value)
    assert "whsec_hidden" not in str(caught.value)


def test_current_and_previous_secret_during_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__WEBHOOK_SECRET", "whsec_current_value")
    monkeypatch.setenv("SOURCES__STRIPE__WEBHOOK_SECRET_PREVIOUS", "whsec_previous_value")
    assert cli.webhook_secrets() == ["whsec_current_value", "whsec_previous_value"]
    assert "whsec_current_value" not in global_redactor().redact_text("x whsec_current_value")


def test_missing_secret_is_one_line_and_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["serve", "--port", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("error: ")
    assert "sources.stripe.webhook_secret" in err[0]
    assert "SOURCES__STRIPE__WEBHOOK_SECRET" in err[0]


@pytest.mark.parametrize(
    "argv, inbox",
    [
        (["drain"], cli.DEFAULT_INBOX),
        (["drain", "--inbox", "x.sqlite3"], "x.sqlite3"),
    ],
    ids=["default", "flag"],
)
def test_inbox_path(argv: list[str], inbox: str) -> None:
    assert cli.inbox_path(cli.parse_args(argv)) == inbox


def test_inbox_path_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__STRIPE__WEBHOOK_INBOX", "configured.sqlite3")
    assert cli.inbox_path(cli.parse_args(["drain"])) == "configured.sqlite3"


def test_drain_of_an_empty_inbox_reports_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    assert cli.main(["drain", "--inbox", str(tmp_path / "empty.sqlite3")]) == 0
    assert "drained 0 event(s)" in capsys.readouterr().out


def test_drain_that_must_retrieve_without_an_api_key_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.delenv("SOURCES__STRIPE__API_KEY", raising=False)
    path = tmp_path / "inbox.sqlite3"
    with Inbox(path) as inbox:  # two different snapshots of one customer in one second
        for event_id, name in (("evt_a", "one"), ("evt_b", "two")):
            obj = {"id": "cus_1", "object": "customer", "created": 1, "name": name}
            body = {
                "id": event_id,
                "type": "customer.updated",
                "created": 5,
                "data": {"object": obj},
            }
            inbox.put(event_id, 5, "customer.updated", json.dumps(body).encode(), 6.0)

    code = cli.main(["drain", "--inbox", str(path)])

    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and "sources.stripe.api_key" in err[0] and "customer cus_1" in err[0]
    with Inbox(path) as inbox:
        assert inbox.counts().pending == 2  # nothing guessed, nothing marked done
