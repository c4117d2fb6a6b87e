"""Standard test 5: the provider's official client library pages its emulator."""

from __future__ import annotations

from tests.standard.conftest import Emulator
from tests.standard.connectors import ConnectorCase


def test_official_client_lists_every_record_of_one_object(
    spec: ConnectorCase, emulator: Emulator
) -> None:
    listed, expected = spec.official_listing(emulator.sandbox)

    assert len(expected) > 3  # more than one page of the listings above
    assert len(listed) == len(set(listed))
    assert set(listed) == expected
