"""What the Stripe sync and the webhook commands share: pipeline names, the inbox file,
the endpoint (the real API or the bundled emulator) and the checked client.

Both ``pipelines/stripe_pipeline.py`` and ``pipelines/stripe_webhooks.py`` import from here, so
neither imports the other.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import dlt

from sources.stripe import make_client
from sources.stripe.client import StripeClient

PIPELINE_NAME = "stripe"
"""The real account's pipeline; its dataset is ``stripe`` (each pipeline's dataset is its name)."""
SANDBOX_PIPELINE_NAME = "stripe_sandbox"
"""The pipeline (and dataset) of ``--sandbox`` runs, apart from any real account's."""
DEFAULT_INBOX = "stripe_webhooks_inbox.sqlite3"
INBOX_KEY = "sources.stripe.webhook_inbox"

logger = logging.getLogger("sluice.pipeline.stripe")


@contextlib.contextmanager
def stripe_endpoint(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Yields connection overrides: the emulator's URL and key with --sandbox, else none."""
    if not args.sandbox:
        yield {}
        return
    from sandbox.stripe import StripeSandbox

    with StripeSandbox(
        seed=args.sandbox_seed,
        volume=args.sandbox_volume,
        scenario=getattr(args, "sandbox_scenario", None),
    ) as sandbox:
        logger.info("Stripe sandbox listening on %s", sandbox.base_url)
        yield {"base_url": sandbox.base_url, "api_key": sandbox.api_key}


def build_client(overrides: dict[str, Any]) -> StripeClient:
    """The Stripe client from ``sources.stripe.*``, credentials checked before any work."""
    client = make_client(**overrides)
    client.check_credentials()
    return client


def default_inbox(pipeline_name: str = PIPELINE_NAME) -> str:
    """A pipeline's inbox: dlt config or the default name for ``stripe``, else its own.

    Each pipeline drains only its own inbox, so events of the emulator or of a second
    account never reach the real account's dataset.
    """
    if pipeline_name == PIPELINE_NAME:
        return str(dlt.config.get(INBOX_KEY) or DEFAULT_INBOX)
    return f"{pipeline_name}_webhooks_inbox.sqlite3"
