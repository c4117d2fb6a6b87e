"""Formula fields: re-read periodically, left out, or taken as the changes bring them.

A formula field is computed when it is read and never stored: "Formulas are calculated
at runtime and are not stored in the database", so a change of a related record or of
``TODAY()`` changes the value without moving the record's ``SystemModstamp`` (see
https://developer.salesforce.com/docs/atlas.en-us.apexref.meta/apexref/apex_class_System_Formula.htm
for recalculation on read). An incremental sync on ``SystemModstamp`` therefore keeps the
value each record had at its last change. Describe marks these fields ``calculated:
true`` with their ``calculatedFormula``. ``sources.salesforce.formula_fields`` chooses:

* ``refresh`` (default): every ``formula_refresh_interval_hours`` the run re-reads
  ``Id`` and the formula fields of every live record and re-emits the rows whose values
  changed (the rest of each row read back from the destination, since a merge replaces
  whole rows);
* ``exclude``: formula fields are not loaded at all;
* ``incremental``: values as of each record's last change (stale until it changes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sources.kit.errors import ConfigurationError

from .helpers import (
    CURSOR_FIELD,
    PRIMARY_KEY,
    ObjectSpec,
    RunContext,
    changed_pages,
    parse_sf_datetime,
    without_formulas,
)
from .loaded import loaded_object, warn_unreadable

logger = logging.getLogger("sluice.salesforce")

FORMULA_MODES = ("refresh", "exclude", "incremental")
REFRESHED_AT = "formulas_refreshed_at"
"""Resource state key: when the formula fields were last re-read."""


def check_mode(mode: str) -> str:
    """The formula mode, validated.

    Raises:
        ConfigurationError: Not one of ``refresh``, ``exclude``, ``incremental``.
    """
    value = str(mode).strip().lower()
    if value not in FORMULA_MODES:
        raise ConfigurationError(
            f"sources.salesforce.formula_fields is {mode!r}: use one of {', '.join(FORMULA_MODES)}"
        )
    return value


def loaded_spec(spec: ObjectSpec, mode: str) -> ObjectSpec:
    """The object as it is loaded: without formula fields under ``exclude``."""
    return without_formulas(spec) if mode == "exclude" else spec


def refresh_due(state: Mapping[str, Any], now: datetime, hours: float) -> bool:
    """Whether the formula fields are due for a re-read (``hours`` <= 0: every run)."""
    last = state.get(REFRESHED_AT)
    if hours <= 0 or not isinstance(last, str):
        return True
    return now - datetime.fromisoformat(last) >= timedelta(hours=hours)


def same(loaded: Any, fresh: Any) -> bool:
    """Whether a loaded value equals the API's (numbers by value, dates by their text)."""
    if loaded is None or fresh is None:
        return loaded is None and fresh is None
    if isinstance(loaded, bool) or isinstance(fresh, bool):
        return bool(loaded) == bool(fresh)
    if isinstance(loaded, (int, float)) and isinstance(fresh, (int, float)):
        return float(loaded) == float(fresh)
    if isinstance(loaded, datetime) and isinstance(fresh, str):
        return loaded == parse_sf_datetime(fresh)
    if isinstance(loaded, date) and isinstance(fresh, str):
        return loaded.isoformat() == fresh[:10]
    return str(loaded) == str(fresh)


def current_values(spec: ObjectSpec, run: RunContext) -> dict[str, dict[str, Any]]:
    """``{id: {formula field: value}}`` of every live record, read now (Bulk API when many)."""
    formulas = sorted(spec.formulas)
    fields = (PRIMARY_KEY, CURSOR_FIELD, *formulas)
    values: dict[str, dict[str, Any]] = {}
    for page in changed_pages(spec, run, None, fields=fields):
        for record in page:
            values[str(record.get(PRIMARY_KEY))] = {f: record.get(f) for f in formulas}
    return values


def stale_ids(
    fresh: Mapping[str, Mapping[str, Any]],
    loaded: Mapping[str, Mapping[str, Any]],
    fields: Sequence[str],
    skip: set[str],
) -> list[str]:
    """Ids whose loaded formula values differ from the fresh ones.

    Args:
        fresh: ``{id: {field: value}}`` read now.
        loaded: ``{id: {field: value}}`` in the destination (absent column: null).
        fields: The formula fields.
        skip: Ids to leave alone.
    """
    stale = []
    for rid, values in fresh.items():
        row = loaded.get(rid)
        if row is None or rid in skip:
            continue
        if any(not same(row.get(name), values[name]) for name in fields):
            stale.append(rid)
    return sorted(stale)


def refreshed_rows(spec: ObjectSpec, run: RunContext, skip: set[str]) -> list[dict[str, Any]]:
    """Rows whose formula values changed since they were loaded, with the new values.

    Args:
        spec: The object (with formula fields).
        run: The run.
        skip: Ids this run already emitted (already current).

    Returns:
        Whole rows (Salesforce field names) to merge.
    """
    fresh = current_values(spec, run)
    formulas = sorted(spec.formulas)
    try:
        with loaded_object(spec) as table:
            if table is None:
                return []
            changed = stale_ids(fresh, table.values(formulas), formulas, skip)
            rows = table.rows(changed) if changed else []
    except Exception as exc:  # noqa: BLE001 - a failed refresh must not fail the load
        warn_unreadable(
            spec,
            exc,
            "to refresh formula fields",
            "they stay as loaded until the next refresh",
        )
        return []
    merged = []
    for shaped in rows:
        shaped.update(fresh[str(shaped[PRIMARY_KEY])])
        merged.append(shaped)
    return merged


def formula_refresh(
    spec: ObjectSpec, run: RunContext, state: dict[str, Any], emitted: set[str]
) -> Iterator[list[dict[str, Any]]]:
    """Re-emits rows whose formula values went stale, when the refresh is due."""
    now = run.now()
    if run.formula_fields != "refresh" or not spec.formulas:
        return
    if not refresh_due(state, now, run.formula_refresh_hours):
        return
    rows = refreshed_rows(spec, run, emitted)
    state[REFRESHED_AT] = now.isoformat()
    logger.info(
        "salesforce %s: formula fields re-read, %d row(s) had stale values",
        spec.resource,
        len(rows),
        extra={"resource": spec.resource},
    )
    if rows:
        yield rows
