"""Tokens and token stores: expiry arithmetic, atomic private files, copies in memory."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from typing import Any, Optional

import pytest

from sources.kit.auth import FileTokenStore, MemoryTokenStore, Token

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [(3600, NOW + 3600), ("120", NOW + 120), (None, None), ("soon", None), (True, None), (-5, NOW)],
    ids=["int", "string", "absent", "garbage", "bool", "negative"],
)
def test_expires_at_is_computed_from_expires_in(expires_in: Any, expected: Optional[float]) -> None:
    payload: dict[str, Any] = {"access_token": "at-tokens-0001"}
    if expires_in is not None:
        payload["expires_in"] = expires_in

    assert Token.from_response(payload, NOW).expires_at == expected


def test_from_response_reads_every_field() -> None:
    token = Token.from_response(
        {
            "access_token": "at-tokens-0002",
            "token_type": "bearer",
            "refresh_token": "rt-tokens-0002",
            "scope": "read write",
            "expires_in": 60,
        },
        NOW,
    )

    assert (token.token_type, token.refresh_token, token.scope) == (
        "bearer",
        "rt-tokens-0002",
        "read write",
    )
    assert (token.obtained_at, token.lifetime()) == (NOW, 60)


@pytest.mark.parametrize(
    "payload", [{}, {"access_token": ""}, {"access_token": 5}], ids=["missing", "empty", "number"]
)
def test_from_response_needs_an_access_token(payload: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="no access_token"):
        Token.from_response(payload, NOW)


@pytest.mark.parametrize(
    ("expires_at", "seconds", "expected"),
    [(NOW + 61, 60, False), (NOW + 60, 60, True), (NOW - 1, 0, True), (None, 60, False)],
    ids=["outside-margin", "at-margin", "expired", "unknown-expiry"],
)
def test_expires_within(expires_at: Optional[float], seconds: float, expected: bool) -> None:
    token = Token("at-tokens-0003", expires_at=expires_at)

    assert token.expires_within(seconds, NOW) is expected


def test_token_repr_holds_no_secret() -> None:
    token = Token("at-tokens-0004", refresh_token="rt-tokens-0004", expires_at=NOW)

    assert "tokens-0004" not in repr(token)
    assert str(NOW) in repr(token)


def test_file_store_round_trips_with_private_permissions(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens")

    store.save("salesforce:prod", {"refresh_token": "rt-file-0001", "origin": "abc"})

    path = store.path_for("salesforce:prod")
    assert store.load("salesforce:prod") == {"refresh_token": "rt-file-0001", "origin": "abc"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_file_store_replaces_the_record(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path)
    store.save("k", {"refresh_token": "rt-file-0002"})

    store.save("k", {"refresh_token": "rt-file-0003"})

    assert store.load("k") == {"refresh_token": "rt-file-0003"}


def test_failed_replace_keeps_the_old_record_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FileTokenStore(tmp_path)
    store.save("k", {"refresh_token": "rt-file-0004"})

    def fail(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        store.save("k", {"refresh_token": "rt-file-0005"})

    assert store.load("k") == {"refresh_token": "rt-file-0004"}
    assert len(list(tmp_path.iterdir())) == 1


def test_file_store_writes_are_fsynced(tmp_path: Path, mocker: Any) -> None:
    fsync = mocker.spy(os, "fsync")

    FileTokenStore(tmp_path).save("k", {"a": 1})

    assert fsync.call_count >= 1


@pytest.mark.parametrize(
    ("content", "warning"),
    [("{not json", "not JSON"), ("[1, 2]", "not a JSON object")],
    ids=["corrupt", "not-an-object"],
)
def test_unreadable_file_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str, warning: str
) -> None:
    store = FileTokenStore(tmp_path)
    store.path_for("k").write_text(content)

    with caplog.at_level(logging.WARNING, logger="sluice.auth"):
        assert store.load("k") is None
    assert warning in caplog.text


def test_missing_record_loads_as_none(tmp_path: Path) -> None:
    assert FileTokenStore(tmp_path / "absent").load("k") is None


@pytest.mark.parametrize(
    ("first", "second"),
    [("a/b", "a_b"), ("../../etc", "etc"), ("x" * 200, "x" * 201)],
    ids=["slash-vs-underscore", "traversal", "long"],
)
def test_distinct_keys_get_distinct_files_inside_the_directory(
    tmp_path: Path, first: str, second: str
) -> None:
    store = FileTokenStore(tmp_path)

    paths = {store.path_for(first), store.path_for(second)}

    assert len(paths) == 2
    assert all(p.parent == tmp_path for p in paths)


def test_file_content_is_plain_json(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path)

    store.save("k", {"refresh_token": "rt-file-0006", "saved_at": 1.5})

    assert json.loads(store.path_for("k").read_text()) == {
        "refresh_token": "rt-file-0006",
        "saved_at": 1.5,
    }


def test_memory_store_hands_out_copies() -> None:
    store = MemoryTokenStore({"k": {"nested": {"v": 1}}})

    loaded = store.load("k")
    assert loaded is not None
    loaded["nested"]["v"] = 2

    assert store.load("k") == {"nested": {"v": 1}}
    assert store.load("other") is None
