"""Word lists that make seeded data look like a real SaaS business's Stripe account."""

from __future__ import annotations

from typing import NamedTuple

FIRST_NAMES = (
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Elijah",
    "Sophia",
    "James",
    "Isabella",
    "Lucas",
    "Mia",
    "Mateo",
    "Amelia",
    "Benjamin",
    "Harper",
    "Henry",
    "Evelyn",
    "Theodore",
    "Camila",
    "Jack",
    "Chloé",
    "Jonas",
    "Léa",
    "Finn",
    "Zoë",
    "Hannah",
    "Felix",
    "Priya",
    "Arjun",
    "Mei",
    "Hiroshi",
    "Sofía",
    "Diego",
    "Aisha",
    "Omar",
    "Ingrid",
    "Lars",
    "Nora",
    "Tomás",
    "Grace",
)

LAST_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Martinez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Thomas",
    "Moore",
    "Martin",
    "Jackson",
    "Lee",
    "Müller",
    "Schmidt",
    "Dubois",
    "Moreau",
    "de Vries",
    "Jansen",
    "O'Brien",
    "Murphy",
    "Patel",
    "Sharma",
    "Tanaka",
    "Nguyen",
    "Kowalski",
    "Rossi",
    "Bianchi",
    "Fernández",
    "Hansen",
    "Larsen",
    "Walker",
    "Young",
    "King",
    "Wright",
)

COMPANY_WORDS = (
    "Acme",
    "Blue Harbor",
    "Brightline",
    "Cobalt",
    "Evergreen",
    "Fjord",
    "Granite",
    "Helix",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Meridian",
    "Northstar",
    "Orchard",
    "Pinecrest",
    "Quartz",
    "Redwood",
    "Summit",
    "Tidewater",
    "Vantage",
    "Willow",
    "Zephyr",
)

COMPANY_SUFFIXES = (
    "Labs",
    "Analytics",
    "Logistics",
    "Studio",
    "Health",
    "Software",
    "Partners",
    "Foods",
    "Robotics",
    "Media",
    "Consulting",
    "Systems",
)

EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "gmx.de")


class Place(NamedTuple):
    """A postal address template and the currency billed there."""

    country: str
    city: str
    state: str | None
    postal_code: str
    street: str
    currency: str
    locale: str
    phone_prefix: str


PLACES = (
    Place("US", "San Francisco", "CA", "94107", "Townsend Street", "usd", "en-US", "+1415"),
    Place("US", "Austin", "TX", "78701", "Congress Avenue", "usd", "en-US", "+1512"),
    Place("US", "New York", "NY", "10013", "Hudson Street", "usd", "en-US", "+1212"),
    Place("US", "Seattle", "WA", "98101", "Pine Street", "usd", "en-US", "+1206"),
    Place("US", "Chicago", "IL", "60607", "Randolph Street", "usd", "en-US", "+1312"),
    Place("CA", "Toronto", "ON", "M5V 2T6", "King Street West", "usd", "en-CA", "+1416"),
    Place("GB", "London", None, "EC1V 9LT", "City Road", "gbp", "en-GB", "+4420"),
    Place("GB", "Manchester", None, "M1 1AE", "Portland Street", "gbp", "en-GB", "+44161"),
    Place("DE", "Berlin", None, "10115", "Invalidenstraße", "eur", "de-DE", "+4930"),
    Place("DE", "München", None, "80331", "Sendlinger Straße", "eur", "de-DE", "+4989"),
    Place("FR", "Paris", None, "75011", "Rue Oberkampf", "eur", "fr-FR", "+331"),
    Place("NL", "Amsterdam", None, "1015 CJ", "Keizersgracht", "eur", "nl-NL", "+3120"),
    Place("IE", "Dublin", None, "D02 X285", "Grand Canal Street", "eur", "en-IE", "+3531"),
    Place("AU", "Sydney", "NSW", "2000", "George Street", "usd", "en-AU", "+612"),
)


class CatalogItem(NamedTuple):
    """A product the account sells and its monthly (or one-off) price in cents."""

    name: str
    description: str
    monthly_amount: int
    recurring: bool
    per_seat: bool


CATALOG = (
    CatalogItem("Starter", "For individuals getting started with analytics.", 900, True, False),
    CatalogItem("Pro", "Dashboards, alerts and 12 months of history.", 2900, True, False),
    CatalogItem("API credits 100k", "100,000 API calls, valid 12 months.", 5000, False, False),
    CatalogItem("Team", "Shared workspaces and role-based access.", 1500, True, True),
    CatalogItem("Business", "SSO, audit logs and priority support.", 19900, True, False),
    CatalogItem("Onboarding workshop", "Half-day remote onboarding session.", 150000, False, False),
    CatalogItem("Enterprise", "Dedicated infrastructure and a named CSM.", 99900, True, False),
    CatalogItem("Extra seat", "One additional editor seat.", 1200, True, True),
    CatalogItem("Data warehouse sync", "Nightly export to your warehouse.", 4900, True, False),
    CatalogItem("Custom report", "A report built by our analysts.", 45000, False, False),
    CatalogItem("Priority support", "4-hour response time, 24/7.", 9900, True, False),
    CatalogItem("Data retention add-on", "Keep raw events for 5 years.", 2900, True, False),
)

ONE_OFF_DESCRIPTIONS = (
    "API credits top-up",
    "Additional storage (500 GB)",
    "Consulting hours",
    "Annual conference ticket",
    "Custom integration setup",
)


class CardModel(NamedTuple):
    """A test card: brand, last four digits and funding."""

    brand: str
    last4: str
    funding: str


CARDS = (
    CardModel("visa", "4242", "credit"),
    CardModel("visa", "5556", "debit"),
    CardModel("mastercard", "4444", "credit"),
    CardModel("mastercard", "8210", "debit"),
    CardModel("amex", "8431", "credit"),
    CardModel("discover", "1117", "credit"),
)

DECLINE_CODES = (
    ("card_declined", "generic_decline", "Your card was declined."),
    ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ("expired_card", None, "Your card has expired."),
    ("incorrect_cvc", None, "Your card's security code is incorrect."),
)

DISPUTE_REASONS = ("fraudulent", "product_not_received", "subscription_canceled", "general")

CONNECTED_ACCOUNT_NAMES = ("Partner reseller EU", "Affiliate payouts", "Marketplace vendor")

EXCHANGE_RATES = {"usd": 1.0, "eur": 1.084217, "gbp": 1.271904}
"""Rates into the account's settlement currency (usd), as balance transactions show them."""
