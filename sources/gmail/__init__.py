"""Gmail source: labels, messages and threads of one mailbox, merged on ``id``.

The first run lists every message (``q`` filters it) and fetches their metadata in
batches, saving the profile's ``historyId`` read before listing; later runs read
history.list from it (added, deleted, relabelled messages) and fetch only what changed.
An expired ``historyId`` (404) falls back to a full sync, said in one line. The limiter
budgets Gmail's quota units per second, not requests. See ``sync.py``.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import dlt

from sources.kit.connector import make_resource, select_names, start_run
from sources.kit.deadletters import contract_for_dead_letters
from sources.kit.first_sync import parse_start
from sources.kit.monitor import SyncMonitor
from sources.kit.settings import ListSetting, str_list

from .auth import make_auth
from .client import GmailClient, make_client
from .messages import BodyOptions
from .settings import DEFAULT_RESOURCES, MAX_ATTACHMENT_BYTES, MAX_BODY_BYTES, RESOURCES
from .spec import LABELS, MESSAGES, SPEC, THREADS, message_columns
from .sync import GmailRun, label_rows, message_rows, thread_rows

logger = logging.getLogger("sluice.gmail")

__all__ = ["DEFAULT_RESOURCES", "RESOURCES", "gmail_source", "make_auth", "make_client"]


@dlt.source(name="gmail", max_table_nesting=0, schema_contract=contract_for_dead_letters())
def gmail_source(
    resources: ListSetting = None,
    q: Optional[str] = None,
    include_spam_trash: bool = False,
    include_bodies: bool = False,
    include_attachments: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_attachment_bytes: int = MAX_ATTACHMENT_BYTES,
    start_date: Optional[str] = None,
    client: Optional[GmailClient] = None,
    run_id: Optional[str] = None,
    monitor: Optional[SyncMonitor] = None,
) -> Any:
    """Loads a Gmail mailbox: labels, messages (metadata, headers as columns), threads.

    Connection settings (``credentials``, ``rate_limit`` in quota units per second,
    timeouts) are read from ``sources.gmail.*`` by :func:`make_client`.

    Args:
        resources: ``labels``, ``messages``, ``threads`` (``sources.gmail.resources``;
            all by default).
        q: Gmail search query limiting a full listing (``label:work newer_than:1y``);
            history.list has no query, so later runs load every new message.
        include_spam_trash: List SPAM and TRASH too.
        include_bodies: Load the text and HTML bodies (``format=full``).
        include_attachments: List each message's attachments (name, type, size, id).
        max_body_bytes: Body bytes kept per message and type; longer bodies are cut.
        max_attachment_bytes: Attachments above this are flagged ``too_large``.
        start_date: First sync only: messages received on or after this date.
        client: A prebuilt client; built from ``sources.gmail.*`` when omitted.
        run_id: Identifier of this run (dead letters, ledger).
        monitor: Run ledger counters.

    Returns:
        One resource per selected name.
    """
    selected = select_names(SPEC, str_list(resources, SPEC.resources_setting))
    start = parse_start(start_date, f"{SPEC.section}.start_date")
    if start is not None:
        # Gmail's search takes epoch seconds after "after:" (search operators help page).
        q = " ".join(part for part in (q, f"after:{int(start.timestamp())}") if part)
    client = client or make_client()
    started = start_run(SPEC, client, selected, run_id=run_id, monitor=monitor)
    options = BodyOptions(include_bodies, include_attachments, max_body_bytes, max_attachment_bytes)
    run = GmailRun(client, started.run_id, started.monitor, q, include_spam_trash, options)
    built = {
        "labels": lambda: make_resource(LABELS, label_rows(run)),
        "messages": lambda: make_resource(MESSAGES, message_rows(run), columns=message_columns()),
        "threads": lambda: make_resource(THREADS, thread_rows(run)),
    }
    return [built[name]() for name in selected]
