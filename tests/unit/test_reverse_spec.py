"""Sync declarations: validated before anything is sent, one line naming the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sources.kit.reverse.spec import SyncSpecError, find_sync, load_sync, parse_sync

REPO_SYNCS = Path(__file__).resolve().parents[2] / "syncs"


def doc(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "accounts",
        "mode": "upsert",
        "source": {"table": "accounts"},
        "target": {"connector": "salesforce", "object": "Account", "token_field": "T__c"},
        "key": {"column": "code", "field": "Ext__c"},
        "fields": [{"source": "name", "target": "Name", "transform": "trim"}],
    }
    base.update(overrides)
    return base


def test_a_valid_declaration_parses_with_defaults() -> None:
    spec = parse_sync(doc())
    assert (spec.mode, spec.dataset, spec.destination, spec.batch_size) == (
        "upsert",
        "analytics",
        "duckdb",
        200,
    )
    assert spec.columns == ("code", "name")
    assert spec.target_options == {"token_field": "T__c"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mode": "sideways"}, "mode must be one of upsert, update, mirror, append"),
        ({"name": "no spaces"}, "name must be"),
        ({"source": {"table": "a", "query": "SELECT 1"}}, "exactly one of source.table"),
        ({"source": {}}, "exactly one of source.table"),
        ({"target": {"object": "Account"}}, "target.connector must be"),
        ({"key": {"column": "code"}}, "key.field must be"),
        ({"fields": []}, "fields must list"),
        ({"fields": [{"target": "Name"}]}, r"fields\[0\]\.source is missing"),
        ({"fields": [{"source": "a", "target": "X", "transform": "nope"}]}, "not a registered"),
        (
            {"fields": [{"source": "a", "target": "X"}, {"source": "b", "target": "X"}]},
            "mapped more than once",
        ),
        ({"options": {"batch_size": 0}}, "options.batch_size must be a positive integer"),
        ({"key": "code"}, r"needs a \[key\] table"),
    ],
    ids=[
        "mode",
        "name",
        "table-and-query",
        "no-source",
        "connector",
        "key-field",
        "no-fields",
        "field-source",
        "transform",
        "duplicate-target",
        "batch-size",
        "key-not-table",
    ],
)
def test_invalid_declarations_name_the_key(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(SyncSpecError, match=message) as caught:
        parse_sync(doc(**overrides))
    assert "\n" not in str(caught.value)


def test_a_broken_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("name = [unclosed")
    with pytest.raises(SyncSpecError, match="broken.toml is not valid TOML"):
        load_sync(path)


def test_an_unknown_sync_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "known.toml").write_text("")
    with pytest.raises(SyncSpecError, match=r"no sync 'other'.*\(known: known\)"):
        find_sync("other", tmp_path)


@pytest.mark.parametrize(
    "name", ["accounts_to_salesforce", "customer_metadata_to_stripe"], ids=["sf", "stripe"]
)
def test_the_example_declarations_are_valid(name: str) -> None:
    spec = find_sync(name, REPO_SYNCS)
    assert spec.name == name and spec.fields


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "error: no sync 'scores'"),
        (
            'name = "scores"\nmode = "upsert"\n',
            r"error: scores.toml: sync declaration needs a \[source\]",
        ),
        (
            'mode = "upsert"\n[source]\ntable = "t"\n[target]\nconnector = "hubspot"\n'
            'object = "x"\n[key]\ncolumn = "k"\nfield = "id"\n[[fields]]\nsource = "a"\n'
            'target = "b"\n',
            "error: target.connector must be salesforce or stripe, got 'hubspot'",
        ),
    ],
    ids=["missing", "invalid", "unknown-connector"],
)
def test_sluice_sync_reports_a_bad_declaration_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str | None, message: str
) -> None:
    from pipelines import sync

    if text is not None:
        (tmp_path / "scores.toml").write_text(text)
    assert sync.main(["scores", "--syncs-dir", str(tmp_path)]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1
    assert re.match(message, err[0]), err[0]
