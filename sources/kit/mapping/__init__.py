"""Declarative mappings from source records to canonical models, with a crosswalk.

See ``docs/mappings/README.md`` for the rendered mappings and the main README for how
a connector wires them.
"""

from .apply import MappingError, RecordMapper, apply_mapping
from .crosswalk import Crosswalk, CrosswalkEntry, MatchRule, match_rules, read_crosswalk
from .docs import render_mapping, write_mapping_docs
from .drift import DriftReport, FieldProfile, detect_drift
from .flattened import spec_for_table, warehouse_path
from .models import (
    CANONICAL_CUSTOMERS,
    CANONICAL_DATASET,
    CANONICAL_MODELS,
    CANONICAL_PAYMENTS,
    CANONICAL_SUBSCRIPTION_ITEMS,
    CANONICAL_SUBSCRIPTIONS,
    CanonicalModel,
)
from .runner import CanonicalOutcome, run_canonical
from .spec import FieldMapping, MappingSpec, load_mapping, load_mappings, parse_mapping
from .transforms import (
    TransformContext,
    TransformError,
    currency_exponent,
    register_transform,
)
from .warehouse import RawTables

__all__ = [
    "CANONICAL_CUSTOMERS",
    "CANONICAL_DATASET",
    "CANONICAL_MODELS",
    "CANONICAL_PAYMENTS",
    "CANONICAL_SUBSCRIPTIONS",
    "CANONICAL_SUBSCRIPTION_ITEMS",
    "CanonicalModel",
    "CanonicalOutcome",
    "Crosswalk",
    "CrosswalkEntry",
    "DriftReport",
    "FieldMapping",
    "FieldProfile",
    "MappingError",
    "MappingSpec",
    "MatchRule",
    "RecordMapper",
    "RawTables",
    "TransformContext",
    "TransformError",
    "apply_mapping",
    "currency_exponent",
    "detect_drift",
    "load_mapping",
    "load_mappings",
    "match_rules",
    "parse_mapping",
    "read_crosswalk",
    "register_transform",
    "render_mapping",
    "run_canonical",
    "spec_for_table",
    "warehouse_path",
    "write_mapping_docs",
]
