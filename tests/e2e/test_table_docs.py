"""docs/tables/ is what pipelines/table_docs.py renders from fresh sandbox loads."""

from __future__ import annotations

import pytest

from pipelines import table_docs
from sources.kit.reference import stale_pages


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The pages of one load of every connector's sandbox (about 20 s)."""
    return table_docs.build_pages(tmp_path_factory.mktemp("table_docs"))


@pytest.mark.e2e
def test_table_reference_is_in_sync(pages: dict[str, str]) -> None:
    stale = stale_pages(pages, table_docs.DOCS_DIR)

    assert not stale, f"docs/tables is stale ({', '.join(stale)}): run {table_docs.COMMAND}"


@pytest.mark.e2e
def test_every_stripe_table_is_documented_with_descriptions(pages: dict[str, str]) -> None:
    assert "stripe/invoices.md" in pages and "_dead_letters.md" in pages
    assert not any(path.startswith(("stripe/_dlt", "stripe/_dead")) for path in pages)
    invoices = pages["stripe/invoices.md"]
    assert "| `status_transitions__paid_at` | timestamp | yes |  | The time that the" in invoices
    assert "| `id` | text | no | primary key |" in invoices
