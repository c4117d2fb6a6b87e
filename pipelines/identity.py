"""Which account a pipeline's state belongs to: recorded at the first sync, checked before
every listing.

A pipeline's cursors and tables describe one account. Pointed at another account, base URL
or key mode, an incremental run would list only what changed there since the first
account's cursors and merge it into the first account's tables: half an account, silently.
So the first sync records the account's fingerprint (never the key, nor anything it could
be recovered from) in the pipeline state, which dlt also keeps in the destination
(``_dlt_pipeline_state``), and every later run compares before any listing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Optional

import dlt

from pipelines.common import UserFacingError

logger = logging.getLogger("sluice.pipeline.identity")

STATE_KEY = "sluice_account"
"""Top-level key of the pipeline state holding the fingerprint. Outside ``sources``, so a
``--full-refresh`` (dlt's ``drop_sources``) does not wipe it mid-run: it is rewritten."""

COMPARED = ("base_url", "mode", "stripe_account")
"""Fingerprint fields that must be equal; ``account_id`` must be equal when both are known."""

Fingerprint = Mapping[str, Optional[str]]


class AccountMismatchError(UserFacingError):
    """The pipeline's state belongs to another account than this run's."""


def describe(fingerprint: Fingerprint) -> str:
    """``acct_123 (live) from https://api.stripe.com``, for the one-line error."""
    account = fingerprint.get("account_id") or "an unidentified account"
    details = [fingerprint.get("mode") or "unknown key mode"]
    if fingerprint.get("stripe_account"):
        details.append(f"Stripe-Account {fingerprint['stripe_account']}")
    return f"{account} ({', '.join(details)}) from {fingerprint.get('base_url')}"


def differs(stored: Fingerprint, current: Fingerprint) -> bool:
    """Whether two fingerprints name different accounts.

    An ``account_id`` known on one side only (a restricted key that may not read
    ``/v1/account``) does not count as a difference; the other fields must match.
    """
    if any((stored.get(key) or None) != (current.get(key) or None) for key in COMPARED):
        return True
    before, now = stored.get("account_id"), current.get("account_id")
    return bool(before and now and before != now)


def stored_fingerprint(pipeline: dlt.Pipeline) -> Optional[dict[str, Optional[str]]]:
    """The fingerprint the pipeline's state holds, if any."""
    value: Any = pipeline.state.get(STATE_KEY)
    return dict(value) if isinstance(value, Mapping) else None


def check_account(
    pipeline: dlt.Pipeline,
    current: Fingerprint,
    *,
    rebuild: bool = False,
    remedy: str,
) -> None:
    """Stops a run whose account is not the one the pipeline's state was built from.

    First the pipeline's state is brought up to date with the destination's (dlt would
    otherwise restore it only inside ``run``, after this check): a fresh checkout of a
    pipeline loading into Postgres sees the account recorded there. Then:

    * no fingerprint yet: this is the first sync (or the first since sluice records
      one); this run's fingerprint is recorded;
    * ``rebuild`` (a full refresh of every resource): the state is being rebuilt for
      this run's account, which is recorded;
    * a different account: :class:`AccountMismatchError`, before any listing;
    * the same account: an account id learnt only now is added.

    The fingerprint goes into the local state now and reaches the destination with the
    state dlt extracts in this run's load.

    Args:
        pipeline: The pipeline about to run.
        current: This run's fingerprint (``base_url``, ``mode``, ``stripe_account``,
            ``account_id``).
        rebuild: The run drops and reloads everything (``--full-refresh``, all resources).
        remedy: The way out, ending the error line (``use --pipeline-name NAME ...``).

    Raises:
        AccountMismatchError: The state belongs to another account.
    """
    pipeline.sync_destination()
    stored = stored_fingerprint(pipeline)
    record = dict(current)
    if stored and not rebuild:
        if differs(stored, current):
            raise AccountMismatchError(
                f"pipeline '{pipeline.pipeline_name}' holds account {describe(stored)}; "
                f"this run is account {describe(current)}: {remedy}"
            )
        record["account_id"] = current.get("account_id") or stored.get("account_id")
        if record == stored:
            return
    elif not stored and (pipeline.state.get("sources") or {}) and not rebuild:
        logger.warning(
            "pipeline %s: earlier runs recorded no account; recording %s",
            pipeline.pipeline_name,
            describe(current),
        )
    with pipeline.managed_state() as state:
        state[STATE_KEY] = record  # type: ignore[literal-required]  # sluice's own key
