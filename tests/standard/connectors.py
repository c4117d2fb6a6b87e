"""One declaration per connector: what the standard tests load, compare and change.

A declaration says which tables a run loads (``--resources``) and compares, their
primary key column, how to start the emulator and point the connector at it (the
documented ``SOURCES__<NAME>__*`` settings), how to read the emulator's records, one
update/create/delete, the wrong secret for the bad-credentials test and one listing
through the provider's official client library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.standard.harness import RequestGate


@dataclass(frozen=True)
class Mutation:
    """What a change to the emulator did, in the first compared table."""

    updated: str
    """Primary key of the updated record."""
    column: str
    """The loaded column the update changed..."""
    value: Any
    """...and its new value."""
    created: str
    deleted: str


@dataclass(frozen=True)
class BadSecret:
    """Settings with one wrong secret, the secret, and the setting the error must name."""

    overrides: Mapping[str, str]
    secret: str
    setting: str


@dataclass(frozen=True)
class ConnectorCase:
    """How the standard tests drive and check one connector."""

    name: str
    resources: tuple[str, ...]
    """What ``--resources`` selects (small on purpose: the suite runs in minutes)."""
    tables: tuple[str, ...]
    """Loaded tables compared with the emulator, in the order of ``resources``."""
    primary_key: str
    """Primary key column of every compared table."""
    deletes: str
    """How a delete reaches the table: ``flag`` (``deleted = true``) or ``absent``."""
    start: Callable[[pytest.FixtureRequest, RequestGate], Any]
    """Starts the emulator (small seed), every request passing through the gate."""
    settings: Callable[[Any, Path], dict[str, str]]
    """Environment pointing the connector at a started emulator."""
    expected: Callable[[Any, str], set[str]]
    """The emulator's live records' primary keys for one compared table."""
    mutate: Callable[[Any], Mutation]
    bad_secret: Callable[[Any, Path], BadSecret]
    official_listing: Callable[[Any], tuple[list[str], set[str]]]
    """Ids one object's listing gives through the official client, and the expected ids."""

    @property
    def resources_flag(self) -> str:
        return ",".join(self.resources)

    @property
    def hold_table(self) -> str:
        """The table whose committed, unrecorded job the load kill point waits for."""
        return self.tables[0]


# -- Stripe ------------------------------------------------------------------------------


def start_stripe(request: pytest.FixtureRequest, gate: RequestGate) -> Any:
    from sandbox.stripe import StripeSandbox
    from sandbox.stripe.faults import Faults

    # Every request waits `latency` through the injected sleep: that is the gate.
    sandbox = StripeSandbox(
        seed=42, volume=10, rate_limit=0, faults=Faults(latency_ms=0.001), sleep=gate.sleep
    )
    sandbox.start()
    request.addfinalizer(sandbox.stop)
    return sandbox


def stripe_settings(sandbox: Any, root: Path) -> dict[str, str]:
    return {
        "SOURCES__STRIPE__BASE_URL": sandbox.base_url,
        "SOURCES__STRIPE__API_KEY": sandbox.api_key,
    }


def stripe_expected(sandbox: Any, table: str) -> set[str]:
    return {o["id"] for o in sandbox.store.listable(table)}


def stripe_mutate(sandbox: Any) -> Mutation:
    store = sandbox.store
    customers = store.listable("customers")
    store.update("customer", customers[0]["id"], name="Renamed Customer")
    store.delete("customer", customers[1]["id"])
    created = store.create("customer", name="Brand New", email="new@example.com")
    return Mutation(
        customers[0]["id"], "name", "Renamed Customer", created["id"], customers[1]["id"]
    )


def stripe_bad_secret(sandbox: Any, root: Path) -> BadSecret:
    wrong = "sk_test_standardWrongKey0042"
    return BadSecret({"SOURCES__STRIPE__API_KEY": wrong}, wrong, "sources.stripe.api_key")


def stripe_official_listing(sandbox: Any) -> tuple[list[str], set[str]]:
    import stripe

    client = stripe.StripeClient(
        sandbox.api_key, base_addresses={"api": sandbox.base_url}, max_network_retries=0
    )
    pages = client.v1.customers.list({"limit": 3}).auto_paging_iter()  # several pages
    return [c.id for c in pages], stripe_expected(sandbox, "customers")


STRIPE = ConnectorCase(
    name="stripe",
    resources=("customers", "charges"),
    tables=("customers", "charges"),
    primary_key="id",
    deletes="flag",
    start=start_stripe,
    settings=stripe_settings,
    expected=stripe_expected,
    mutate=stripe_mutate,
    bad_secret=stripe_bad_secret,
    official_listing=stripe_official_listing,
)


# -- Salesforce --------------------------------------------------------------------------

SALESFORCE_OBJECTS = {"account": "Account", "contact": "Contact"}


def start_salesforce(request: pytest.FixtureRequest, gate: RequestGate) -> Any:
    from sandbox.salesforce import SalesforceSandbox

    key_pair = request.getfixturevalue("salesforce_key_pair")  # one per session: RSA is slow
    sandbox = SalesforceSandbox(seed=7, volume=12, page_size=10, key_pair=key_pair)
    setattr(sandbox.api, "handle", gate.wrap(sandbox.api.handle))  # noqa: B010
    sandbox.start()
    request.addfinalizer(sandbox.stop)
    return sandbox


def salesforce_settings(sandbox: Any, root: Path) -> dict[str, str]:
    return {
        f"SOURCES__SALESFORCE__CREDENTIALS__{key.upper()}": value
        for key, value in sandbox.jwt_credentials().items()
    }


def salesforce_expected(sandbox: Any, table: str) -> set[str]:
    return {r["Id"] for r in sandbox.store.live(SALESFORCE_OBJECTS[table])}


def salesforce_mutate(sandbox: Any) -> Mutation:
    store = sandbox.store
    accounts = store.live("Account")
    store.update("Account", accounts[0]["Id"], Name="Renamed Account")
    store.delete_all("Account", accounts[1]["Id"])  # its contacts go to the recycle bin too
    created = store.create("Account", Name="Brand New Account")
    return Mutation(accounts[0]["Id"], "name", "Renamed Account", created["Id"], accounts[1]["Id"])


def salesforce_bad_secret(sandbox: Any, root: Path) -> BadSecret:
    """The refresh-token flow with a wrong client secret (JWT settings removed)."""
    wrong = "standard-wrong-client-secret-0042"
    prefix = "SOURCES__SALESFORCE__CREDENTIALS__"
    overrides = {f"{prefix}{key.upper()}": "" for key in sandbox.jwt_credentials()}
    overrides.update({f"{prefix}{k.upper()}": v for k, v in sandbox.refresh_credentials().items()})
    overrides[f"{prefix}CLIENT_SECRET"] = wrong
    overrides[f"{prefix}TOKEN_STORE_DIR"] = str(root / "tokens")
    return BadSecret(overrides, wrong, "sources.salesforce.credentials.client_secret")


def salesforce_official_listing(sandbox: Any) -> tuple[list[str], set[str]]:
    import requests
    from simple_salesforce import Salesforce

    from sandbox.salesforce.server import CONSUMER_KEY, USERNAME
    from tests.sandbox.test_salesforce_simple_salesforce import LoopbackHttp

    token = sandbox.oauth.issue_access_token(CONSUMER_KEY, USERNAME, None, "sdk")
    with requests.Session() as session:
        session.mount(f"https://{sandbox.base_url.removeprefix('http://')}/", LoopbackHttp())
        sf = Salesforce(
            instance_url=sandbox.base_url, session_id=token, session=session, version="59.0"
        )
        # query_all follows nextRecordsUrl: the emulator answers pages of 10
        records = sf.query_all("SELECT Id FROM Contact")["records"]
    return [r["Id"] for r in records], salesforce_expected(sandbox, "contact")


SALESFORCE = ConnectorCase(
    name="salesforce",
    resources=("Account", "Contact"),
    tables=("account", "contact"),
    primary_key="id",
    deletes="flag",
    start=start_salesforce,
    settings=salesforce_settings,
    expected=salesforce_expected,
    mutate=salesforce_mutate,
    bad_secret=salesforce_bad_secret,
    official_listing=salesforce_official_listing,
)


# -- ServiceNow --------------------------------------------------------------------------


def start_servicenow(request: pytest.FixtureRequest, gate: RequestGate) -> Any:
    from sandbox.servicenow import ServiceNowSandbox

    sandbox = ServiceNowSandbox(seed=42)
    setattr(sandbox.api, "handle", gate.wrap(sandbox.api.handle))  # noqa: B010
    sandbox.start()
    request.addfinalizer(sandbox.stop)
    return sandbox


def servicenow_settings(sandbox: Any, root: Path) -> dict[str, str]:
    prefix = "SOURCES__SERVICENOW__"
    return {
        prefix + "BASE_URL": sandbox.base_url,
        prefix + "CREDENTIALS__AUTH_TYPE": "basic",
        prefix + "CREDENTIALS__USERNAME": sandbox.username,
        prefix + "CREDENTIALS__PASSWORD": sandbox.password,
    }


def servicenow_expected(sandbox: Any, table: str) -> set[str]:
    return {r["sys_id"] for r in sandbox.store.records(table)}


def servicenow_mutate(sandbox: Any) -> Mutation:
    store = sandbox.store
    incidents = store.records("incident")
    sandbox.advance(60)  # the emulator's manual clock: changes stamped after the first run
    store.update("incident", incidents[0]["sys_id"], state="7")
    deleted = store.delete("incident", incidents[1]["sys_id"])["documentkey"]
    created = store.create("incident", number="INC0099999", short_description="New", state="1")
    return Mutation(incidents[0]["sys_id"], "state", "7", created["sys_id"], deleted)


def servicenow_bad_secret(sandbox: Any, root: Path) -> BadSecret:
    wrong = "StandardWrongPassword-0042"
    return BadSecret(
        {"SOURCES__SERVICENOW__CREDENTIALS__PASSWORD": wrong},
        wrong,
        "sources.servicenow.credentials",
    )


def servicenow_official_listing(sandbox: Any) -> tuple[list[str], set[str]]:
    import pysnow

    client = pysnow.Client(
        host=sandbox.base_url.split("://", 1)[1],
        user=sandbox.username,
        password=sandbox.password,
        use_ssl=False,
    )
    incidents = client.resource(api_path="/table/incident")
    rows = incidents.get(query={}, limit=1000).all()
    return [r["sys_id"] for r in rows], servicenow_expected(sandbox, "incident")


SERVICENOW = ConnectorCase(
    name="servicenow",
    resources=("incident", "sys_user"),
    tables=("incident", "sys_user"),
    primary_key="sys_id",
    deletes="flag",
    start=start_servicenow,
    settings=servicenow_settings,
    expected=servicenow_expected,
    mutate=servicenow_mutate,
    bad_secret=servicenow_bad_secret,
    official_listing=servicenow_official_listing,
)

# -- Gmail -------------------------------------------------------------------------------

GMAIL_HIDDEN = {"SPAM", "TRASH"}
"""messages.list leaves these out unless includeSpamTrash."""


def start_gmail(request: pytest.FixtureRequest, gate: RequestGate) -> Any:
    from sandbox.gmail import GmailSandbox, Volume

    sandbox = GmailSandbox(seed=42, quota_units_per_s=None, volume=Volume(threads=30))
    setattr(sandbox.api, "handle", gate.wrap(sandbox.api.handle))  # noqa: B010
    sandbox.start()
    request.addfinalizer(sandbox.stop)
    return sandbox


def gmail_settings(sandbox: Any, root: Path) -> dict[str, str]:
    prefix = "SOURCES__GMAIL__"
    return {
        prefix + "BASE_URL": sandbox.base_url,
        prefix + "RATE_LIMIT": "100000",  # the emulator is unmetered here: no pacing
        prefix + "CREDENTIALS__CLIENT_ID": sandbox.client_id,
        prefix + "CREDENTIALS__CLIENT_SECRET": sandbox.client_secret,
        prefix + "CREDENTIALS__REFRESH_TOKEN": sandbox.refresh_token,
        prefix + "CREDENTIALS__TOKEN_URL": sandbox.token_url,
        prefix + "CREDENTIALS__TOKEN_STORE_DIR": str(root / "tokens"),
    }


def gmail_listable(sandbox: Any) -> list[dict[str, Any]]:
    return [m for m in sandbox.store.messages() if not GMAIL_HIDDEN & set(m["labelIds"])]


def gmail_expected(sandbox: Any, table: str) -> set[str]:
    key = {"messages": "id", "threads": "threadId"}[table]
    return {m[key] for m in gmail_listable(sandbox)}


def gmail_mutate(sandbox: Any) -> Mutation:
    import json

    messages = gmail_listable(sandbox)
    updated, deleted = messages[0]["id"], messages[1]["id"]
    sandbox.modify_labels(updated, add=("STARRED",))
    sandbox.delete_message(deleted)
    created = sandbox.add_message(subject="Brand new")
    labels = sandbox.store.message(updated)["labelIds"]
    # label_ids is a JSON column: DuckDB gives it back as compact JSON text
    return Mutation(
        updated, "label_ids", json.dumps(labels, separators=(",", ":")), created, deleted
    )


def gmail_bad_secret(sandbox: Any, root: Path) -> BadSecret:
    wrong = "standard-wrong-client-secret-0042"
    return BadSecret(
        {"SOURCES__GMAIL__CREDENTIALS__CLIENT_SECRET": wrong},
        wrong,
        "sources.gmail.credentials.client_secret",
    )


def gmail_official_listing(sandbox: Any) -> tuple[list[str], set[str]]:
    import requests
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build

    form = {
        "grant_type": "refresh_token",
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "refresh_token": sandbox.refresh_token,
    }
    token = requests.post(sandbox.token_url, data=form, timeout=10).json()["access_token"]
    service = build(
        "gmail",
        "v1",
        credentials=Credentials(token),
        static_discovery=True,  # the discovery document bundled with the client
        client_options={"api_endpoint": sandbox.base_url},
    )
    messages = service.users().messages()
    request, ids = messages.list(userId="me", maxResults=50), list[str]()
    while request is not None:  # list_next follows nextPageToken
        page = request.execute()
        ids.extend(m["id"] for m in page.get("messages", []))
        request = messages.list_next(request, page)
    return ids, gmail_expected(sandbox, "messages")


GMAIL = ConnectorCase(
    name="gmail",
    resources=("messages", "threads"),
    tables=("messages", "threads"),
    primary_key="id",
    deletes="flag",
    start=start_gmail,
    settings=gmail_settings,
    expected=gmail_expected,
    mutate=gmail_mutate,
    bad_secret=gmail_bad_secret,
    official_listing=gmail_official_listing,
)

# -- Slack -------------------------------------------------------------------------------

SLACK_FAST = (
    '{"conversations.list": 6000, "users.list": 6000, "conversations.history": 6000, '
    '"conversations.replies": 6000, "conversations.members": 6000, "auth.test": 6000}'
)
"""Requests per minute per method: the emulator runs without tier limits here."""


def start_slack(request: pytest.FixtureRequest, gate: RequestGate) -> Any:
    from sandbox.slack import SlackSandbox

    sandbox = SlackSandbox(seed=42, rate_limits=False)
    setattr(sandbox.api, "handle", gate.wrap(sandbox.api.handle))  # noqa: B010
    sandbox.start()
    request.addfinalizer(sandbox.stop)
    return sandbox


def slack_settings(sandbox: Any, root: Path) -> dict[str, str]:
    return {
        "SOURCES__SLACK__BASE_URL": sandbox.base_url,
        "SOURCES__SLACK__BOT_TOKEN": sandbox.bot_token,
        "SOURCES__SLACK__METHOD_LIMITS": SLACK_FAST,
        # one page per request: conversations.list pages too
        "SOURCES__SLACK__PAGE_SIZE": "3",
    }


def slack_expected(sandbox: Any, table: str) -> set[str]:
    records = sandbox.store.channels() if table == "channels" else sandbox.store.users()
    return {r["id"] for r in records}


def slack_mutate(sandbox: Any) -> Mutation:
    channels = sandbox.store.channels()
    sandbox.archive_channel(channels[0]["id"])
    sandbox.delete_channel(channels[1]["id"])
    # The emulator has no conversations.create: a new channel is added to its store.
    created = {**channels[2], "id": "CSTANDARD42", "name": "brand-new", "is_archived": False}
    with sandbox.store._lock:
        sandbox.store._channels[created["id"]] = created
    return Mutation(channels[0]["id"], "is_archived", True, created["id"], channels[1]["id"])


def slack_bad_secret(sandbox: Any, root: Path) -> BadSecret:
    wrong = "xoxb-standard-wrong-token-0042"
    return BadSecret({"SOURCES__SLACK__BOT_TOKEN": wrong}, wrong, "sources.slack.bot_token")


def slack_official_listing(sandbox: Any) -> tuple[list[str], set[str]]:
    from slack_sdk import WebClient

    client = WebClient(token=sandbox.bot_token, base_url=sandbox.base_url)
    ids: list[str] = []
    for page in client.conversations_list(
        types="public_channel,private_channel", exclude_archived=False, limit=2
    ):
        ids.extend(c["id"] for c in page["channels"])
    return ids, slack_expected(sandbox, "channels")


SLACK = ConnectorCase(
    name="slack",
    resources=("channels", "users"),
    # users carry Slack's own `deleted` (deactivated accounts, still listed): not a delete
    # of this suite's kind, so only channels are compared.
    tables=("channels",),
    primary_key="id",
    deletes="flag",
    start=start_slack,
    settings=slack_settings,
    expected=slack_expected,
    mutate=slack_mutate,
    bad_secret=slack_bad_secret,
    official_listing=slack_official_listing,
)

# -- Shopify -----------------------------------------------------------------------------


class ShopifyClock:
    """Real time (the CLI's limiter sleeps for real) that a mutation can move ahead."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        import time

        return time.time() + self.offset


def start_shopify(request: pytest.FixtureRequest, gate: RequestGate) -> Any:
    from sandbox.shopify import ShopifySandbox, Volume

    volume = Volume(products=12, customers=10, orders=6, collections=2)
    sandbox = ShopifySandbox(seed=42, clock=ShopifyClock(), volume=volume)
    setattr(sandbox.api, "handle", gate.wrap(sandbox.api.handle))  # noqa: B010
    sandbox.start()
    request.addfinalizer(sandbox.stop)
    return sandbox


def shopify_settings(sandbox: Any, root: Path) -> dict[str, str]:
    prefix = "SOURCES__SHOPIFY__"
    return {prefix + "SHOP_URL": sandbox.base_url, prefix + "ACCESS_TOKEN": sandbox.access_token}


def shopify_expected(sandbox: Any, table: str) -> set[str]:
    records = {"products": sandbox.store.products, "customers": sandbox.store.customers}[table]
    return {r["id"] for r in records()}


def shopify_mutate(sandbox: Any) -> Mutation:
    products = sandbox.store.products()
    sandbox.clock.offset += 3600  # changes stamped after the first run's cursor
    sandbox.update("product", products[0]["id"], title="Renamed by the standard test")
    sandbox.delete("product", products[1]["id"])  # Shopify logs a deletion event
    created = sandbox.create("product", title="Created by the standard test")
    return Mutation(
        products[0]["id"], "title", "Renamed by the standard test", created, products[1]["id"]
    )


def shopify_bad_secret(sandbox: Any, root: Path) -> BadSecret:
    wrong = "shpat_StandardWrongToken0042"
    return BadSecret(
        {"SOURCES__SHOPIFY__ACCESS_TOKEN": wrong}, wrong, "sources.shopify.access_token"
    )


def shopify_official_listing(sandbox: Any) -> tuple[list[str], set[str]]:
    from gql import Client, gql
    from gql.transport.requests import RequestsHTTPTransport

    transport = RequestsHTTPTransport(
        url=sandbox.graphql_url, headers={"X-Shopify-Access-Token": sandbox.access_token}
    )
    query = gql(
        "query($after: String) { products(first: 5, after: $after) { "
        "pageInfo { hasNextPage endCursor } nodes { id } } }"
    )
    listed: list[str] = []
    after = None
    with Client(transport=transport) as session:
        while True:
            page = session.execute(query, variable_values={"after": after})["products"]
            listed.extend(node["id"] for node in page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    return listed, shopify_expected(sandbox, "products")


SHOPIFY = ConnectorCase(
    name="shopify",
    resources=("products", "customers"),
    tables=("products", "customers"),
    primary_key="id",
    deletes="flag",
    start=start_shopify,
    settings=shopify_settings,
    expected=shopify_expected,
    mutate=shopify_mutate,
    bad_secret=shopify_bad_secret,
    official_listing=shopify_official_listing,
)

SPECS = (STRIPE, SALESFORCE, SERVICENOW, GMAIL, SLACK, SHOPIFY)
