"""Receive Stripe webhooks, drain them into the ``stripe`` dataset, reconcile with the poll.

    python pipelines/stripe_webhooks.py serve --host 127.0.0.1 --port 8787
    python pipelines/stripe_webhooks.py drain                 # inbox -> DuckDB
    python pipelines/stripe_webhooks.py drain --sandbox       # the emulator's inbox and API
    python pipelines/stripe_webhooks.py drain --canonical     # then map into `canonical`
    python pipelines/stripe_webhooks.py reconcile --sandbox   # missed events from /v1/events

The signing secret comes from dlt config: ``sources.stripe.webhook_secret``
(``SOURCES__STRIPE__WEBHOOK_SECRET``); while rolling it, also set
``sources.stripe.webhook_secret_previous``, or give a list of secrets. The drain asks the
Stripe API (``sources.stripe.api_key``, as ``pipelines/stripe_pipeline.py``) about objects whose
events cannot tell their newest state; without a key it says so when it needs one.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import logging
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if not __package__ and importlib.util.find_spec("pipelines") is None:
    # sluice is not installed for this Python: reach only the check that says which to use.
    sys.path.append(str(Path(__file__).resolve().parents[1]))
from pipelines.environment import require_installed  # noqa: E402

require_installed(__file__)

import dlt  # noqa: E402
import uvicorn  # noqa: E402
from dlt.common.configuration.exceptions import ConfigFieldMissingException  # noqa: E402
from starlette.applications import Starlette  # noqa: E402

from pipelines.common import (  # noqa: E402
    UserFacingError,
    destination_location,
    format_table,
    print_canonical_summary,
    run_reporting_errors,
    setup_logging,
)
from pipelines.common import make_pipeline as make_named_pipeline  # noqa: E402
from pipelines.stripe_endpoint import (  # noqa: E402
    DEFAULT_INBOX,
    INBOX_KEY,
    PIPELINE_NAME,
    SANDBOX_PIPELINE_NAME,
    build_client,
    default_inbox,
    stripe_endpoint,
)
from sources.kit.errors import ConfigurationError  # noqa: E402
from sources.kit.redact import global_redactor  # noqa: E402
from sources.kit.settings import str_list  # noqa: E402
from sources.kit.webhooks.inbox import Inbox  # noqa: E402

if TYPE_CHECKING:
    from sources.stripe.client import StripeClient

DEFAULT_PORT = 8787
SECRET_SETTING = "sources.stripe.webhook_secret"  # noqa: S105 - a config key
PREVIOUS_SECRET_SETTING = "sources.stripe.webhook_secret_previous"  # noqa: S105 - a config key

SERVER_SETTINGS: dict[str, Any] = {
    "loop": "auto",  # uvloop when installed
    "http": "auto",  # httptools when installed
    "lifespan": "off",
    "access_log": False,
    "log_level": "warning",
    "backlog": 2048,
    "timeout_keep_alive": 30,
    "server_header": False,
}
"""uvicorn settings of ``serve``; the benchmark uses the same."""

logger = logging.getLogger("sluice.pipeline.stripe_webhooks")


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(description="Stripe webhooks: receive, drain, reconcile.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (redacted)")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="receive webhooks into the durable inbox")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    add_inbox_flag(serve)
    serve.add_argument(
        "--commit-window-ms",
        type=float,
        default=0.0,
        help="extra wait to grow each group commit (default 0)",
    )

    drain = commands.add_parser("drain", help="load pending inbox events into the dataset")
    add_inbox_flag(drain)
    add_destination_flag(drain)
    add_sandbox_flags(drain, "retrieve objects from the bundled Stripe emulator")
    add_canonical_flag(drain)

    reconcile = commands.add_parser("reconcile", help="store events the receiver missed")
    add_inbox_flag(reconcile)
    add_destination_flag(reconcile)
    add_sandbox_flags(reconcile, "reconcile against the bundled Stripe emulator")
    reconcile.add_argument(
        "--since",
        type=int,
        default=None,
        help="unix seconds to start from instead of the saved cursor",
    )
    reconcile.add_argument(
        "--no-drain", action="store_true", help="only store the missed events; drain later"
    )
    add_canonical_flag(reconcile)
    return parser.parse_args(argv)


def add_canonical_flag(parser: argparse.ArgumentParser) -> None:
    """``--canonical``: after the drain, map every raw load not mapped yet."""
    parser.add_argument(
        "--canonical",
        action="store_true",
        help="after the drain, map every Stripe load not mapped yet (the drained changes "
        "included) into the canonical models (dataset canonical)",
    )


def add_inbox_flag(parser: argparse.ArgumentParser) -> None:
    """``--inbox PATH``: the SQLite inbox file."""
    parser.add_argument(
        "--inbox", default=None, help=f"inbox file (default {INBOX_KEY} or {DEFAULT_INBOX})"
    )


def add_sandbox_flags(parser: argparse.ArgumentParser, purpose: str) -> None:
    """``--sandbox`` (with its volume and seed): talk to the bundled Stripe emulator."""
    parser.add_argument("--sandbox", action="store_true", help=purpose)
    parser.add_argument("--sandbox-volume", type=int, default=50)
    parser.add_argument("--sandbox-seed", type=int, default=42)


def add_destination_flag(parser: argparse.ArgumentParser) -> None:
    """``--destination NAME``: where drained rows go."""
    parser.add_argument(
        "--destination",
        default="duckdb",
        help="dlt destination name (duckdb, postgres, ...); default duckdb",
    )


def pipeline_name_of(args: argparse.Namespace) -> str:
    """The pipeline a command loads into: ``stripe_sandbox`` with ``--sandbox``."""
    return SANDBOX_PIPELINE_NAME if getattr(args, "sandbox", False) else PIPELINE_NAME


def inbox_path(args: argparse.Namespace) -> str:
    """The inbox file: the flag, then dlt config, then the default name."""
    return str(args.inbox or default_inbox(pipeline_name_of(args)))


def as_secret_list(value: Any, setting: str = SECRET_SETTING) -> list[str]:
    """A configured secret value as a list: ``a,b``, a JSON list or a (TOML) list.

    Raises:
        UserFacingError: A malformed value; the line names ``setting``, never the value.
    """
    try:
        return str_list(value, setting, secret=True) or []
    except ConfigurationError as exc:
        raise UserFacingError(str(exc)) from None


def webhook_secrets() -> list[str]:
    """The accepted signing secrets, current first; registered with the redactor.

    Raises:
        UserFacingError: No secret is configured.
    """
    secrets = as_secret_list(dlt.secrets.get(SECRET_SETTING))
    secrets += as_secret_list(dlt.secrets.get(PREVIOUS_SECRET_SETTING), PREVIOUS_SECRET_SETTING)
    if not secrets:
        raise UserFacingError(
            f"Stripe webhook signing secret missing: set {SECRET_SETTING} in .dlt/secrets.toml "
            "or the SOURCES__STRIPE__WEBHOOK_SECRET environment variable"
        )
    for secret in secrets:
        global_redactor().add_secret(secret)
    return list(dict.fromkeys(secrets))


def bind_socket(host: str, port: int) -> socket.socket:
    """Binds the listening socket up front, so ``--port 0`` can report the real port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def make_server(app: Starlette) -> uvicorn.Server:
    """A uvicorn server for ``app`` with the :data:`SERVER_SETTINGS`."""
    return uvicorn.Server(uvicorn.Config(app, **SERVER_SETTINGS))


def freeze_startup_objects() -> None:
    """Moves every object alive after startup out of the garbage collector's reach.

    The imports (dlt, Starlette, the Stripe source) leave ~100k long-lived objects; a full
    collection walks them all and stalls every request for ~40 ms on a small machine,
    which is what dominated p99 under load. Frozen, they are never scanned again.
    """
    gc.collect()
    gc.freeze()


def serve(args: argparse.Namespace) -> int:
    """Runs the receiver until interrupted; the inbox is closed cleanly on the way out."""
    from sources.stripe.webhooks import WEBHOOK_PATH, create_stripe_receiver

    secrets = webhook_secrets()
    path = inbox_path(args)
    with Inbox(path, commit_window_s=args.commit_window_ms / 1000.0) as inbox:
        app = create_stripe_receiver(inbox, secrets)
        sock = bind_socket(args.host, args.port)
        host, port = sock.getsockname()[:2]
        print(f"listening on http://{host}:{port}{WEBHOOK_PATH} inbox={path}", flush=True)
        freeze_startup_objects()
        make_server(app).run(sockets=[sock])
    return 0


def drain_inbox(args: argparse.Namespace) -> int:
    """Loads pending inbox events into the dataset and prints what was loaded."""
    with stripe_endpoint(args) as overrides:
        return drain_with_client(args, optional_client(overrides))


def optional_client(overrides: dict[str, Any]) -> Optional[StripeClient]:
    """The Stripe client from ``sources.stripe.*``, or None when no API key is configured.

    The drain asks the API only about objects whose events cannot tell their newest state;
    without a key it drains everything else and says in one line when it needs one.
    """
    from sources.stripe import make_client

    try:
        return make_client(**overrides)
    except ConfigFieldMissingException:
        logger.info("no sources.stripe.api_key: the drain cannot retrieve objects from Stripe")
        return None


def drain_with_client(args: argparse.Namespace, client: Optional[StripeClient]) -> int:
    """Drains with ``client`` for retrievals and prints what was loaded."""
    from sources.stripe.webhooks import drain

    with Inbox(inbox_path(args)) as inbox:
        pipeline = make_pipeline(args.destination, pipeline_name_of(args))
        report = drain(inbox, pipeline, client=client)
        rows: list[tuple[str, ...]] = [
            (table, str(count)) for table, count in sorted(report.tables.items())
        ]
        if report.resumed:
            print(f"loaded {len(report.resumed)} package(s) an interrupted run had left")
        if rows:
            print(format_table(rows, ("table", "rows merged")))
        print(
            f"drained {report.events} event(s): {report.rows} row(s) merged "
            f"({report.retrieved} retrieved from Stripe), {report.stale} superseded "
            f"({report.polled} object(s) newer in the poller's rows), "
            f"{report.unroutable} without a table; {inbox.counts().pending} pending"
        )
        if report.batches:
            print(f"data: {destination_location(pipeline)}")
    if getattr(args, "canonical", False):
        map_canonical(pipeline)
    return 0


def map_canonical(pipeline: dlt.Pipeline) -> None:
    """Maps the loads the drain (or anything else) wrote and no canonical load has mapped."""
    from sources.stripe.canonical import CANONICAL

    print_canonical_summary(CANONICAL.run(pipeline))


def make_pipeline(destination: str, name: str = PIPELINE_NAME) -> dlt.Pipeline:
    """The pipeline ``pipelines/stripe_pipeline.py`` loads (``stripe`` on dataset ``stripe``)."""
    return make_named_pipeline(name, name, destination)


def reconcile_inbox(args: argparse.Namespace) -> int:
    """Stores the events the receiver missed, reports how many, then drains."""
    from sources.stripe.webhooks import reconcile

    with stripe_endpoint(args) as overrides:
        client = build_client(overrides)
        with Inbox(inbox_path(args)) as inbox:
            missing = reconcile(inbox, client, since=args.since)
            print(f"reconcile: {missing} event(s) missed by the receiver, now in the inbox")
        if not args.no_drain:
            return drain_with_client(args, client)
    return 0


COMMANDS = {"serve": serve, "drain": drain_inbox, "reconcile": reconcile_inbox}


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: one clear line and a non-zero exit on any error."""
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_reporting_errors(lambda: COMMANDS[args.command](args))


if __name__ == "__main__":
    sys.exit(main())
