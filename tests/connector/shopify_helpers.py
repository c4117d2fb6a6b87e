"""Loading the Shopify connector from a sandbox into DuckDB, for the Shopify tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt

from sources.shopify import ShopifyClient, make_client, shopify_source

TABLES = (
    "products",
    "product_variants",
    "customers",
    "orders",
    "order_line_items",
    "order_refunds",
    "order_fulfillments",
    "collections",
    "inventory_levels",
)


def sandbox_client(sandbox: Any, **given: Any) -> ShopifyClient:
    """A client on the sandbox whose waits move the sandbox's clock (no real sleep)."""
    return make_client(
        shop_url=sandbox.base_url,
        access_token=sandbox.access_token,
        clock=sandbox.clock,
        sleep=sandbox.advance,
        **given,
    )


def pipeline(tmp_path: Path, name: str = "shopify_test") -> dlt.Pipeline:
    """A DuckDB pipeline in ``tmp_path``."""
    return dlt.pipeline(
        name,
        destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
        pipelines_dir=str(tmp_path / "pipelines"),
        dataset_name="shopify",
    )


def load(pipe: dlt.Pipeline, sandbox: Any, **source: Any) -> ShopifyClient:
    """One run of the source against the sandbox; the client (limiter figures) after it."""
    client = source.pop("client", None) or sandbox_client(sandbox)
    pipe.run(shopify_source(client=client, **source))
    return client


def rows(pipe: dlt.Pipeline, table: str, columns: str = "*") -> list[Any]:
    """Every row of a loaded table, ordered by its first column."""
    with pipe.sql_client() as sql:
        return list(sql.execute_sql(f"SELECT {columns} FROM {table} ORDER BY 1") or [])  # noqa: S608


def ids(pipe: dlt.Pipeline, table: str, where: str = "TRUE") -> set[str]:
    """The ``id`` column of a loaded table."""
    with pipe.sql_client() as sql:
        found = sql.execute_sql(f"SELECT id FROM {table} WHERE {where}") or []  # noqa: S608
        return {r[0] for r in found}
