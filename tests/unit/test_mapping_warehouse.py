"""Unit: mapping paths resolved against dlt's flattened rows, superseded records, docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
import pytest
from dlt.common.normalizers.naming.snake_case import NamingConvention

from pipelines.mapping_docs import DOCS_DIR
from sources.kit.errors import ConfigurationError
from sources.kit.mapping import apply_mapping, parse_mapping, spec_for_table, warehouse_path
from sources.kit.mapping.docs import render_index, render_mapping
from sources.kit.mapping.loads import MAPPED_LOADS_KEY, MappingPlan, fingerprint, plan_mappings
from sources.salesforce.canonical import salesforce_mappings
from sources.servicenow.canonical import servicenow_mappings
from sources.stripe.canonical import stripe_mappings

NAMING = NamingConvention()
CHARGE_COLUMNS = {
    "id",
    "amount",
    "currency",
    "created",
    "payment_method_details__type",
    "billing_details__address",  # a json column: deeper than max_table_nesting
    "items__data",
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("id", "id"),
        ("payment_method_details.type", "payment_method_details__type"),
        ("billing_details.address.city", "billing_details__address.city"),
        ("items.data.0.price.unit_amount", "items__data.0.price.unit_amount"),
        ("shipping.address.country", "shipping__address__country"),
    ],
    ids=["column", "flattened", "inside-json", "list-in-json", "absent"],
)
def test_api_paths_resolve_to_warehouse_paths(path: str, expected: str) -> None:
    assert warehouse_path(path, CHARGE_COLUMNS, NAMING) == expected


def test_names_follow_the_naming_convention_and_kept_names() -> None:
    columns = {"id", "first_name", "account_industry__c"}
    assert warehouse_path("FirstName", columns, NAMING) == "first_name"
    assert warehouse_path("Id", columns, NAMING) == "id"
    assert warehouse_path("account_industry__c", columns, NAMING) == "account_industry__c"


def test_salesforce_contact_maps_from_its_loaded_row() -> None:
    spec = next(s for s in salesforce_mappings() if s.source_resource == "contact")
    row = {
        "id": "003A",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": " Ada@Example.com ",
        "mailing_country": "gb",
        "created_date": pendulum.datetime(2024, 5, 1, 12, tz="UTC"),
        "deleted": None,
    }
    resolved = spec_for_table(spec, set(row), NAMING)
    mapped = apply_mapping(resolved, row, lambda: pendulum.datetime(2024, 6, 1, tz="UTC"))
    assert mapped["source_id"] == "003A"
    assert mapped["name"] == "Ada Lovelace"
    assert mapped["email"] == "ada@example.com"
    assert mapped["country"] == "GB"
    assert mapped["created_at"] == pendulum.datetime(2024, 5, 1, 12, tz="UTC")
    assert mapped["is_deleted"] is False


def test_superseded_by_is_resolved_and_read() -> None:
    spec = next(s for s in stripe_mappings() if s.name == "stripe_payment_intents")
    resolved = spec_for_table(spec, {"id", "latest_charge"}, NAMING)
    assert resolved.superseded_by == "latest_charge"
    assert "latest_charge" in resolved.source_paths()


def test_superseded_by_must_be_a_path() -> None:
    data: dict[str, Any] = {
        "mapping": {
            "name": "t",
            "source_system": "t",
            "source_resource": "r",
            "target_model": "canonical_customers",
            "superseded_by": 3,
        },
        "fields": [
            {"target": "source_system", "transform": "constant", "args": {"value": "t"}},
        ],
    }
    with pytest.raises(ConfigurationError, match="superseded_by must be a dot-path"):
        parse_mapping(data, "x.toml")


class FakeRaw:
    dataset_name = "stripe"
    naming = NAMING

    def table_name(self, resource: str) -> str:
        return resource

    def columns(self, table: str) -> dict[str, Any]:
        return {"id": {}, "amount": {}}

    def load_ids(self, table: str) -> list[str]:
        return ["1.1", "2.2"]


def test_a_plan_maps_only_the_loads_not_mapped_yet() -> None:
    spec = stripe_mappings()[0]
    plan = MappingPlan(spec, FakeRaw(), "charges", ("1.1", "2.2", "3.3"), frozenset({"1.1"}))  # type: ignore[arg-type]
    assert plan.new_load_ids == ["2.2", "3.3"]
    assert plan.state_key == "stripe.charges"


def test_every_mapping_page_and_the_index_are_in_sync() -> None:
    specs = [*stripe_mappings(), *salesforce_mappings(), *servicenow_mappings()]
    for spec in specs:
        page = Path(DOCS_DIR) / f"{spec.name}.md"
        assert page.read_text(encoding="utf-8") == render_mapping(spec), (
            f"{page} is stale: run python pipelines/mapping_docs.py"
        )
    index = (Path(DOCS_DIR) / "README.md").read_text(encoding="utf-8")
    assert index == render_index(specs), "docs/mappings/README.md is stale"


def test_a_changed_mapping_maps_every_load_again() -> None:
    spec = next(s for s in stripe_mappings() if s.name == "stripe_charges")
    mapped = {"loads": {"stripe.charges": ["1.1", "2.2"]}}
    same = {MAPPED_LOADS_KEY: {spec.name: {"fingerprint": fingerprint(spec), **mapped}}}
    changed = {MAPPED_LOADS_KEY: {spec.name: {"fingerprint": "before-the-fix", **mapped}}}

    [unchanged] = plan_mappings(FakeRaw(), [spec], same)  # type: ignore[arg-type]
    [fixed] = plan_mappings(FakeRaw(), [spec], changed)  # type: ignore[arg-type]

    assert unchanged.new_load_ids == []
    assert fixed.new_load_ids == ["1.1", "2.2"]
    assert unchanged.spec.source_paths()[:2] == ["id", "customer"]


def test_children_of_must_name_a_mapped_column() -> None:
    spec = next(s for s in stripe_mappings() if s.name == "stripe_subscription_items")
    assert spec.children_of == "subscription_source_id"
    data: dict[str, Any] = {
        "mapping": {
            "name": "t",
            "source_system": "t",
            "source_resource": "r",
            "target_model": "canonical_subscription_items",
            "children_of": "parent_id",
        },
        "fields": [
            {
                "target": "source_system",
                "transform": "constant",
                "args": {"value": "t"},
                "required": True,
            },
            {"target": "source_id", "source": "id", "required": True},
            {"target": "subscription_source_id", "source": "sub", "required": True},
            {"target": "mapped_at", "transform": "now", "required": True},
        ],
    }
    with pytest.raises(ConfigurationError, match="children_of must name a mapped target column"):
        parse_mapping(data, "x.toml")
