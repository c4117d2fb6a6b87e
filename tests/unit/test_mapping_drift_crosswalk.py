"""Unit: mapping drift detection and the crosswalk (stable ids, ambiguity)."""

from __future__ import annotations

from typing import Any

import pytest

from sources.kit.errors import ConfigurationError
from sources.kit.mapping import Crosswalk, CrosswalkEntry, FieldProfile, detect_drift, match_rules
from sources.kit.mapping.crosswalk import canonical_id_for

MAPPED = ["id", "amount", "address.country", "items.data.0.price"]


def profile_of(*records: dict[str, Any]) -> FieldProfile:
    profile = FieldProfile()
    for record in records:
        profile.observe(record)
    return profile


def charge(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "ch_1",
        "amount": 100,
        "address": {"country": "DE"},
        "items": {"data": [{"price": "p_1"}]},
        "note": "x",
    }
    base.update(overrides)
    return base


def test_no_drift_when_the_source_matches() -> None:
    baseline = profile_of(charge())
    report = detect_drift("m", MAPPED, profile_of(charge()), baseline)
    assert not report.has_drift
    assert report.lines() == []
    assert report.unmapped_count == 1  # "note"


@pytest.mark.parametrize(
    ("record", "missing", "retyped"),
    [
        ({"id": "ch_1", "address": None, "items": {"data": [{"price": "p"}]}}, ["amount"], {}),
        (charge(amount="100"), [], {"amount": (["integer"], ["string"])}),
        (charge(address=None), [], {}),
        (charge(items={"data": []}), ["items.data.[].price"], {}),
    ],
    ids=["removed-field", "retyped-field", "null-parent-is-present", "empty-list"],
)
def test_drift_of_mapped_fields(
    record: dict[str, Any], missing: list[str], retyped: dict[str, Any]
) -> None:
    report = detect_drift("m", MAPPED, profile_of(record), profile_of(charge()))
    assert report.missing == missing
    assert report.retyped == retyped
    for path in missing:
        assert any(
            f"source field {path!r} is in none of 1 record(s)" in line for line in report.lines()
        )


def test_new_unmapped_fields_are_listed_against_the_baseline() -> None:
    report = detect_drift("m", MAPPED, profile_of(charge(risk={"score": 3})), profile_of(charge()))
    assert report.new_unmapped == ["risk.score"]
    assert "1 new unmapped source field(s): risk.score" in report.lines()[-1]


def test_first_run_counts_unmapped_fields_without_listing_them() -> None:
    report = detect_drift("m", MAPPED, profile_of(charge(risk={"score": 3})), None)
    assert report.new_unmapped == []
    assert report.unmapped_count == 2


def test_no_records_means_no_verdict() -> None:
    report = detect_drift("m", MAPPED, FieldProfile(), profile_of(charge()))
    assert report.missing == [] and report.records == 0


def test_profile_round_trips_through_state() -> None:
    profile = profile_of(charge())
    restored = FieldProfile.from_state(profile.to_state())
    assert restored is not None and restored.types == profile.types


# -- crosswalk ---------------------------------------------------------------------------

RULES = match_rules(["email", "email_domain", "external_id"], public_domains=["gmail.com"])


def rows(*pairs: tuple[str, str | None]) -> list[tuple[str, dict[str, Any]]]:
    return [(ext, {"email": email}) for ext, email in pairs]


def test_same_email_links_to_one_canonical_id_and_ids_are_deterministic() -> None:
    batch = rows(("cus_2", " Ada@Example.com"), ("cus_1", "ada@example.com"), ("cus_3", None))
    first, second = Crosswalk("customer", RULES), Crosswalk("customer", RULES)

    one = first.resolve("stripe", batch)
    two = second.resolve("stripe", list(reversed(batch)))

    ids = {e.external_id: e.canonical_id for e in one.linked}
    assert ids == {e.external_id: e.canonical_id for e in two.linked}
    assert ids["cus_1"] == ids["cus_2"] == canonical_id_for("customer", "email:ada@example.com")
    assert ids["cus_3"] == canonical_id_for("customer", "external_id:stripe:cus_3")
    assert {e.external_id: e.match_rule for e in one.linked}["cus_2"] == "email"


def test_existing_links_keep_their_canonical_id_when_the_data_changes() -> None:
    existing = [
        CrosswalkEntry("customer", "stripe", "cus_1", "fixed-id", "new", ("email:old@x.io",))
    ]
    crosswalk = Crosswalk("customer", RULES, existing)

    resolution = crosswalk.resolve("stripe", rows(("cus_1", "changed@y.io")))

    assert resolution.linked == [] and resolution.ambiguous == []
    assert crosswalk.canonical_id("stripe", "cus_1") == "fixed-id"


def test_other_systems_match_through_the_stored_keys() -> None:
    existing = [CrosswalkEntry("customer", "stripe", "cus_1", "c-1", "new", ("email:ada@x.io",))]
    crosswalk = Crosswalk("customer", RULES, existing)

    resolution = crosswalk.resolve("salesforce", rows(("003A", "ADA@x.io")))

    assert [(e.canonical_id, e.match_rule) for e in resolution.linked] == [("c-1", "email")]


def test_ambiguous_match_is_reported_and_left_unlinked() -> None:
    existing = [
        CrosswalkEntry("customer", "stripe", "cus_1", "c-1", "new", ("email_domain:acme.com",)),
        CrosswalkEntry("customer", "stripe", "cus_2", "c-2", "new", ("email_domain:acme.com",)),
    ]
    crosswalk = Crosswalk("customer", RULES, existing)

    resolution = crosswalk.resolve("salesforce", rows(("003B", "bob@acme.com")))

    assert resolution.linked == []
    assert len(resolution.ambiguous) == 1
    found = resolution.ambiguous[0]
    assert (found.match_rule, found.match_key, found.candidates) == (
        "email_domain",
        "email_domain:acme.com",
        ("c-1", "c-2"),
    )
    assert crosswalk.canonical_id("salesforce", "003B") is None


def test_public_mail_domains_never_match() -> None:
    crosswalk = Crosswalk("customer", RULES)
    resolution = crosswalk.resolve(
        "stripe", rows(("cus_1", "a@gmail.com"), ("cus_2", "b@gmail.com"))
    )
    assert len({e.canonical_id for e in resolution.linked}) == 2


@pytest.mark.parametrize(
    "names", [[], ["email", "email"], ["phone"]], ids=["empty", "repeated", "unknown"]
)
def test_invalid_rule_configuration(names: list[str]) -> None:
    with pytest.raises(ConfigurationError, match="crosswalk match rules"):
        match_rules(names)
