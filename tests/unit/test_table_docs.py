"""The table reference renderer (sources/kit/reference.py) on a hand-built dlt schema."""

from __future__ import annotations

from pathlib import Path

import dlt
from dlt.common.schema import Schema

from sources.kit.reference import (
    doc_path,
    render_docs,
    render_table,
    schema_table_docs,
    stale_pages,
    write_docs,
)

COMMAND = "python pipelines/table_docs.py"


def orders_schema() -> Schema:
    """A schema as a load leaves it: a merged root table with a nested list table."""
    source = dlt.Schema("shop")
    source.update_table(
        {
            "name": "orders",
            "write_disposition": "merge",
            "columns": {
                "total": {"name": "total", "data_type": "decimal", "precision": 18, "scale": 2},
                "id": {"name": "id", "data_type": "text", "nullable": False, "primary_key": True},
                "updated": {"name": "updated", "data_type": "timestamp"},
                "note": {"name": "note", "data_type": "text"},
                "_dlt_id": {"name": "_dlt_id", "data_type": "text", "row_key": True},
                "never_seen": {"name": "never_seen"},
            },
        }
    )
    source.update_table(
        {
            "name": "orders__tags",
            "parent": "orders",
            "columns": {
                "value": {"name": "value", "data_type": "text"},
                "_dlt_parent_id": {
                    "name": "_dlt_parent_id",
                    "data_type": "text",
                    "nullable": False,
                    "parent_key": True,
                },
            },
        }
    )
    return source


def describe(table: str, column: str) -> str:
    return {("orders", "note"): "Free text | typed by the buyer.\nSecond line."}.get(
        (table, column), ""
    )


def test_a_page_lists_types_keys_cursor_and_descriptions() -> None:
    docs = schema_table_docs(
        "shop",
        orders_schema(),
        describe=describe,
        cursors={"orders": "updated"},
        descriptions={"orders": "Orders of the shop."},
    )
    orders = next(doc for doc in docs if doc.name == "orders")

    page = render_table(orders, COMMAND)

    assert page.startswith("# shop.orders\n\nOrders of the shop.\n")
    assert "Write disposition `merge`; primary key `id`; incremental cursor `updated`." in page
    assert f"`{COMMAND}`" in page
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    # keys first, then by name, dlt's own columns last; untyped columns left out
    assert [row.split("`")[1] for row in rows] == ["id", "note", "total", "updated", "_dlt_id"]
    assert "| `id` | text | no | primary key |" in page
    assert "| `total` | decimal(18,2) | yes |  |  |" in page
    assert "| `updated` | timestamp | yes | cursor |  |" in page
    assert "| `note` | text | yes |  | Free text \\| typed by the buyer. Second line. |" in page
    assert "| `_dlt_id` | text | yes | row key | Row key dlt gives every row" in page


def test_nested_tables_inherit_the_disposition_and_link_their_parent() -> None:
    tags = next(doc for doc in schema_table_docs("shop", orders_schema()) if doc.parent)

    page = render_table(tags, COMMAND)

    assert tags.write_disposition == "merge"
    assert "One row per entry of the `tags` list of a `orders` row" in page
    assert "nested in [`orders`](orders.md)" in page
    assert "| `_dlt_parent_id` | text | no | parent key |" in page


def test_dlt_tables_and_excluded_tables_get_no_page() -> None:
    schema = orders_schema()
    names = {doc.name for doc in schema_table_docs("shop", schema, exclude=["orders__tags"])}

    assert names == {"orders"}


def test_index_links_every_page_and_internal_tables(tmp_path: Path) -> None:
    docs = schema_table_docs("shop", orders_schema())
    internal = [doc for doc in schema_table_docs("", orders_schema()) if doc.name == "orders"]

    pages = render_docs(docs, internal, COMMAND, intro="What is here.")

    assert set(pages) == {"shop/orders.md", "shop/orders__tags.md", "orders.md", "README.md"}
    index = pages["README.md"]
    assert index.startswith("# Table reference\n\nWhat is here.\n")
    assert "| [`orders`](shop/orders.md) | merge | `id` (primary key) | 5 |" in index
    assert "## sluice's own tables" in index and "[`orders`](orders.md)" in index
    assert doc_path(docs[0]) == "shop/orders.md"


def test_stale_pages_and_write_docs_keep_the_folder_exact(tmp_path: Path) -> None:
    pages = render_docs(schema_table_docs("shop", orders_schema()), [], COMMAND)
    gone = tmp_path / "shop" / "dropped_table.md"
    gone.parent.mkdir()
    gone.write_text("old\n", encoding="utf-8")

    assert stale_pages(pages, tmp_path) == sorted([*pages, "shop/dropped_table.md"])

    write_docs(pages, tmp_path)

    assert stale_pages(pages, tmp_path) == []
    assert not gone.exists()
    (tmp_path / "shop" / "orders.md").write_text("edited by hand\n", encoding="utf-8")
    assert stale_pages(pages, tmp_path) == ["shop/orders.md"]
