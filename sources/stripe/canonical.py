"""Stripe's part of the canonical load: its mappings and match rules.

The mappings are data (``sources/stripe/mappings/*.toml``). :func:`run_stripe_canonical`
maps the rows of every raw load not mapped yet (a poll's, the webhook drain's, a
replay's) from the raw tables into the ``canonical`` dataset (see
:mod:`sources.kit.mapping.runner`).
"""

from __future__ import annotations

from pathlib import Path

from sources.kit.mapping.system import CanonicalSystem

__all__ = [
    "CANONICAL",
    "MAPPINGS_DIR",
    "run_stripe_canonical",
    "stripe_mappings",
    "stripe_match_rules",
]

MAPPINGS_DIR = Path(__file__).parent / "mappings"
"""Stripe's mapping files."""

CANONICAL = CanonicalSystem("stripe", MAPPINGS_DIR)

stripe_mappings = CANONICAL.mappings
stripe_match_rules = CANONICAL.match_rules
run_stripe_canonical = CANONICAL.run
