"""Deterministic, realistic seed data: users, accounts, contacts, leads, opportunities."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

from .store import Store, sf_datetime

HISTORY_DAYS = 120
FIRST_NAMES = ("Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov")
COMPANY_WORDS = ("Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay")
COMPANY_SUFFIXES = ("Inc", "GmbH", "Ltd", "LLC", "SA")
INDUSTRIES = ("Technology", "Finance", "Healthcare", "Retail", "Manufacturing")
COUNTRIES = ("US", "DE", "GB", "FR", "JP", "BR")
STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won", "Closed Lost")
LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted")


class Seeder:
    """Fills a :class:`Store` from one seed; ``volume`` is the number of accounts."""

    def __init__(self, store: Store, rng: random.Random, now: float) -> None:
        """Creates the seeder; records are spread over the days before ``now``."""
        self.store = store
        self.rng = rng
        self.now = now

    def seed(self, volume: int) -> None:
        """Creates ``volume`` accounts and the users, contacts, leads, opportunities around them."""
        users = [self._user(n) for n in range(max(2, volume // 8))]
        owners = [u["Id"] for u in users]
        accounts = [self._account(n, owners) for n in range(volume)]
        for account in accounts:
            for _ in range(2):
                self._contact(account, owners)
            self._opportunity(account, owners)
        for n in range(volume):
            self._lead(n, owners)

    def _stamps(self) -> dict[str, str]:
        created = self.now - self.rng.uniform(2, HISTORY_DAYS) * 86400
        modified = self.rng.uniform(created, self.now - 3600)
        return {
            "CreatedDate": sf_datetime(created),
            "LastModifiedDate": sf_datetime(modified),
            "SystemModstamp": sf_datetime(modified),
        }

    def _person(self) -> tuple[str, str]:
        return self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)

    def _user(self, n: int) -> dict[str, Any]:
        first, last = self._person()
        email = f"{first}.{last}{n}@sluice-sandbox.example".lower()
        return self.store.put(
            "User",
            {
                "Id": self.store.next_id("User"),
                **self._stamps(),
                "Username": email,
                "Email": email,
                "FirstName": first,
                "LastName": last,
                "IsActive": self.rng.random() > 0.1,
                "Title": self.rng.choice(("AE", "SDR", "Sales Manager")),
                "TimeZoneSidKey": "Europe/Berlin",
            },
        )

    def _account(self, n: int, owners: list[str]) -> dict[str, Any]:
        name = f"{self.rng.choice(COMPANY_WORDS)} {self.rng.choice(COMPANY_SUFFIXES)} {n}"
        domain = name.lower().replace(" ", "")
        return self.store.put(
            "Account",
            {
                "Id": self.store.next_id("Account"),
                "IsDeleted": False,
                **self._stamps(),
                "Name": name,
                "Type": self.rng.choice(("Customer - Direct", "Prospect", "Partner")),
                "Industry": self.rng.choice(INDUSTRIES),
                "Website": f"https://www.{domain}.example",
                "Phone": f"+1 415 555 {self.rng.randint(1000, 9999)}",
                "BillingCity": self.rng.choice(("Berlin", "Austin", "London", "Tokyo")),
                "BillingCountry": self.rng.choice(COUNTRIES),
                "AnnualRevenue": float(round(self.rng.uniform(1e5, 5e7))),  # currency(18, 0)
                "NumberOfEmployees": self.rng.randint(5, 20000),
                "OwnerId": self.rng.choice(owners),
            },
        )

    def _contact(self, account: dict[str, Any], owners: list[str]) -> None:
        first, last = self._person()
        domain = str(account["Website"]).removeprefix("https://www.")
        self.store.put(
            "Contact",
            {
                "Id": self.store.next_id("Contact"),
                "IsDeleted": False,
                **self._stamps(),
                "FirstName": first,
                "LastName": last,
                "Email": f"{first}.{last}@{domain}".lower(),
                "Phone": f"+1 212 555 {self.rng.randint(1000, 9999)}",
                "Title": self.rng.choice(("CTO", "VP Sales", "Buyer", None)),
                "AccountId": account["Id"],
                "MailingCountry": account["BillingCountry"],
                "OwnerId": self.rng.choice(owners),
            },
        )

    def _opportunity(self, account: dict[str, Any], owners: list[str]) -> None:
        stage = self.rng.choice(STAGES)
        close = datetime.now(timezone.utc) + timedelta(days=self.rng.randint(-60, 90))
        self.store.put(
            "Opportunity",
            {
                "Id": self.store.next_id("Opportunity"),
                "IsDeleted": False,
                **self._stamps(),
                "Name": f"{account['Name']} - renewal",
                "AccountId": account["Id"],
                "StageName": stage,
                "Amount": round(self.rng.uniform(1000, 250000), 2),
                "Probability": float(self.rng.choice((10, 25, 50, 75, 90, 100))),
                "CloseDate": close.date().isoformat(),
                "IsClosed": stage.startswith("Closed"),
                "IsWon": stage == "Closed Won",
                "OwnerId": self.rng.choice(owners),
            },
        )

    def _lead(self, n: int, owners: list[str]) -> None:
        first, last = self._person()
        company = f"{self.rng.choice(COMPANY_WORDS)} Prospect {n}"
        status = self.rng.choice(LEAD_STATUSES)
        self.store.put(
            "Lead",
            {
                "Id": self.store.next_id("Lead"),
                "IsDeleted": False,
                **self._stamps(),
                "FirstName": first,
                "LastName": last,
                "Company": company,
                "Email": f"{first}.{last}{n}@prospect.example".lower(),
                "Status": status,
                "LeadSource": self.rng.choice(("Web", "Partner", "Trade Show", None)),
                "IsConverted": status == "Closed - Converted",
                "OwnerId": self.rng.choice(owners),
            },
        )
