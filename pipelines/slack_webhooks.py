"""Receive Slack Events API requests and drain them into the ``slack`` dataset.

    python pipelines/slack_webhooks.py serve --host 127.0.0.1 --port 8788
    python pipelines/slack_webhooks.py drain                 # inbox -> DuckDB

Point the app's Event Subscriptions Request URL at ``http://<host>:<port>/slack/events``
(Slack sends the ``url_verification`` challenge first; it is answered) and subscribe to
``message.channels``, ``message.groups``, ``channel_deleted`` and ``group_deleted``. The
signing secret comes from dlt secrets: ``sources.slack.signing_secret``
(``SOURCES__SLACK__SIGNING_SECRET``); the inbox file from ``sources.slack.webhook_inbox``.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Optional

if not __package__ and importlib.util.find_spec("pipelines") is None:
    # sluice is not installed for this Python: reach only the check that says which to use.
    sys.path.append(str(Path(__file__).resolve().parents[1]))
from pipelines.environment import require_installed  # noqa: E402

require_installed(__file__)

import dlt  # noqa: E402

from pipelines.common import make_pipeline, run_reporting_errors, setup_logging  # noqa: E402
from pipelines.stripe_webhooks import bind_socket, make_server  # noqa: E402
from sources.kit.errors import ConfigurationError  # noqa: E402
from sources.kit.redact import global_redactor  # noqa: E402
from sources.kit.webhooks.inbox import Inbox  # noqa: E402

DEFAULT_PORT = 8788
DEFAULT_INBOX = "slack_webhooks_inbox.sqlite3"
INBOX_KEY = "sources.slack.webhook_inbox"
SECRET_KEY = "sources.slack.signing_secret"  # noqa: S105 - a config key
PIPELINE_NAME = "slack"

logger = logging.getLogger("sluice.pipeline.slack_webhooks")


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(description="Slack Events API: receive and drain.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (redacted)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="receive events into the durable inbox")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    drain = commands.add_parser("drain", help="load pending inbox events into the dataset")
    drain.add_argument("--destination", default="duckdb", help="dlt destination name")
    for command in (serve, drain):
        command.add_argument("--inbox", default=None, help=f"inbox file (default: {INBOX_KEY})")
    return parser.parse_args(argv)


def inbox_path(args: argparse.Namespace) -> str:
    """``--inbox``, else ``sources.slack.webhook_inbox``, else the default file name."""
    return str(args.inbox or dlt.config.get(INBOX_KEY) or DEFAULT_INBOX)


def signing_secret() -> str:
    """The app's signing secret from dlt secrets, or one line naming the setting.

    Raises:
        ConfigurationError: It is not set.
    """
    secret: Optional[str] = dlt.secrets.get(SECRET_KEY)
    if not secret:
        env = SECRET_KEY.upper().replace(".", "__")
        raise ConfigurationError(
            f"Slack signing secret missing: set {SECRET_KEY} in .dlt/secrets.toml or {env} "
            "(Basic Information > App Credentials > Signing Secret)"
        )
    global_redactor().add_secret(str(secret))
    return str(secret)


def serve(args: argparse.Namespace) -> int:
    """Runs the receiver until interrupted; the inbox is closed cleanly on the way out."""
    from sources.slack.events import WEBHOOK_PATH, create_slack_receiver

    secret = signing_secret()
    path = inbox_path(args)
    with Inbox(path) as inbox:
        app = create_slack_receiver(inbox, secret)
        sock = bind_socket(args.host, args.port)
        host, port = sock.getsockname()[:2]
        print(f"listening on http://{host}:{port}{WEBHOOK_PATH} inbox={path}", flush=True)
        make_server(app).run(sockets=[sock])
    return 0


def drain_inbox(args: argparse.Namespace) -> int:
    """Loads pending events into the ``slack`` dataset and prints what changed."""
    from sources.slack.events import drain

    pipeline = make_pipeline(PIPELINE_NAME, PIPELINE_NAME, args.destination)
    with Inbox(inbox_path(args)) as inbox:
        plan = drain(pipeline, inbox)
    deleted = sum(1 for r in [*plan.messages.values(), *plan.replies.values()] if r["deleted"])
    print(
        f"drain: {len(plan.messages)} message(s) and {len(plan.replies)} reply(ies) changed "
        f"({deleted} deleted), {len(plan.channels_gone)} channel(s) deleted, "
        f"{plan.ignored} event(s) left to the poll"
    )
    return 0


COMMANDS = {"serve": serve, "drain": drain_inbox}


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: one clear line and a non-zero exit on any error."""
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_reporting_errors(lambda: COMMANDS[args.command](args))


if __name__ == "__main__":
    sys.exit(main())
