"""``sluice check <connector>``: are the credentials accepted? One request, no load.

python -m pipelines.check stripe             # credentials from dlt config or env
python -m pipelines.check servicenow --sandbox
python -m pipelines.check slack --sandbox

The client is built from ``sources.<connector>.*`` as a run builds it (or against the
bundled emulator with ``--sandbox``) and makes one cheap authenticated request:
Stripe lists one customer, Salesforce takes a token and describes ``User`` (an object
every org has), ServiceNow reads one ``sys_user`` record. Nothing is extracted or loaded
and no pipeline state is touched.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from typing import Any, Optional
from urllib.parse import urlsplit

from pipelines.common import run_reporting_errors, setup_logging
from pipelines.runner import parse_args as parse_run_args

CHECK_LABEL = "_credentials"
"""Request counters' label, apart from any resource's."""


def check_stripe(overrides: dict[str, Any]) -> str:
    """Lists one customer with the key; the host that accepted it."""
    from sources.stripe import make_client

    client = make_client(**overrides)
    client.check_credentials()
    return client.base_url


def check_salesforce(overrides: dict[str, Any]) -> str:
    """Takes a token and describes ``User``; the instance that accepted them."""
    from sources.salesforce import make_client

    client = make_client(**overrides)
    client.describe("User", label=CHECK_LABEL)
    return client.instance_url


def check_servicenow(overrides: dict[str, Any]) -> str:
    """Reads one ``sys_user`` record; the instance that accepted the credentials."""
    from sources.servicenow import make_client

    client = make_client(**overrides)
    client.check_credentials()
    return client.base_url


def check_gmail(overrides: dict[str, Any]) -> str:
    """Reads the mailbox profile (getProfile, one quota unit); the API root that accepted it."""
    from sources.gmail import make_client

    client = make_client(**overrides)
    client.check_credentials()
    return client.base_url


def check_slack(overrides: dict[str, Any]) -> str:
    """Calls ``auth.test`` with the bot token; the API root that accepted it."""
    from sources.slack import make_client

    client = make_client(**overrides)
    client.check_credentials()
    return client.base_url


def check_files(overrides: dict[str, Any]) -> str:
    """Lists each configured drop's folder or bucket once; the first one's URL."""
    from sources.files import make_client

    client = make_client(overrides.get("drops"))
    urls = []
    for name in client.configured_names():
        drop = client.drop(name)
        next(iter(client.list_files(drop, client.filesystem(drop))), None)
        urls.append(str(drop.fs.bucket_url))
    return urls[0] if urls else "(no drops configured)"


def check_shopify(overrides: dict[str, Any]) -> str:
    """Asks for the shop's name with the access token; the shop that accepted it."""
    from sources.shopify import make_client

    client = make_client(**overrides)
    client.check_credentials()
    return client.base_url


def check_postgres_cdc(overrides: dict[str, Any]) -> str:
    """Connects to the source database and checks it can replicate (``wal_level``,
    the ``REPLICATION`` privilege); the server that accepted the credentials."""
    from sources.postgres_cdc.checks import check_server
    from sources.postgres_cdc.replication import connect

    dsn = overrides["dsn"]
    conn = connect(dsn)
    try:
        with conn.cursor() as cur:
            check_server(cur)
        info = conn.info
        return f"postgresql://{info.host}:{info.port}/{info.dbname}"
    finally:
        conn.close()


@contextlib.contextmanager
def postgres_cdc_endpoint(sandbox: bool) -> Iterator[dict[str, Any]]:
    """The source database: the throwaway sandbox server, or the configured DSN."""
    from pipelines.postgres_cdc_pipeline import configured_dsn

    if not sandbox:
        yield {"dsn": configured_dsn()}
        return
    from sandbox.postgres import start_logical_postgres

    with start_logical_postgres() as server:
        yield {"dsn": server.dsn}


ENDPOINTS: dict[str, Callable[[bool], contextlib.AbstractContextManager[dict[str, Any]]]] = {
    # connectors whose script is not a ConnectorRunner: their own endpoint
    "postgres_cdc": postgres_cdc_endpoint,
}


CHECKS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    # connector: (runner module, whose CONNECTOR declares the endpoint; the check)
    "stripe": ("pipelines.stripe_pipeline", check_stripe),
    "salesforce": ("pipelines.salesforce_pipeline", check_salesforce),
    "servicenow": ("pipelines.servicenow_pipeline", check_servicenow),
    "gmail": ("pipelines.gmail_pipeline", check_gmail),
    "slack": ("pipelines.slack_pipeline", check_slack),
    "files": ("pipelines.files_pipeline", check_files),
    "shopify": ("pipelines.shopify_pipeline", check_shopify),
    "postgres_cdc": ("pipelines.postgres_cdc_pipeline", check_postgres_cdc),
}


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    """Command-line flags."""
    parser = argparse.ArgumentParser(
        prog="sluice check",
        description="Check a connector's credentials with one request (nothing is loaded).",
    )
    parser.add_argument("connector", choices=list(CHECKS))
    parser.add_argument("--sandbox", action="store_true", help="check against the bundled emulator")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (redacted)")
    return parser.parse_args(argv)


@contextlib.contextmanager
def endpoint(connector: str, sandbox: bool) -> Iterator[dict[str, Any]]:
    """The runner's own client overrides: the emulator's with ``sandbox``, else none."""
    if connector in ENDPOINTS:
        with ENDPOINTS[connector](sandbox) as overrides:
            yield overrides
        return
    declared = importlib.import_module(CHECKS[connector][0]).CONNECTOR
    # The runner's defaults (sandbox seed, volume, auth flow) are the check's too.
    run_args = parse_run_args(declared, ["--sandbox"] if sandbox else [])
    with declared.endpoint(run_args) as overrides:
        yield overrides


def check(connector: str, sandbox: bool) -> int:
    """Makes the request and prints ``<connector>: credentials accepted by <host>``."""
    with endpoint(connector, sandbox) as overrides:
        url = CHECKS[connector][1](overrides)
    print(f"{connector}: credentials accepted by {urlsplit(url).netloc or url}")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point: one line, exit 0 when accepted; one error line and exit 1 when not."""
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run_reporting_errors(lambda: check(args.connector, args.sandbox))


if __name__ == "__main__":
    sys.exit(main())
