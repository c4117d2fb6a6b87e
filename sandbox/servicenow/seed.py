"""Deterministic, realistic seed records for incident, change_request, sys_user and cmdb_ci.

Every value is a string, as the Table API returns them with ``sysparm_display_value=false``.
``sys_db_object`` holds the class hierarchy: each table's ``super_class`` is the sys_id of
its parent's ``sys_db_object`` row. The CMDB branch (cmdb_ci > cmdb_ci_hardware >
cmdb_ci_computer > cmdb_ci_server > cmdb_ci_linux_server) is the base system's class tree as
instances show it; no stored doc was found that lists it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .clock import glide_time

FIRST_NAMES = ("Abel", "Beth", "Carlos", "Dana", "Elif", "Fatima", "Goran", "Hiro", "Ines", "Jon")
LAST_NAMES = ("Tuter", "Anglin", "Ramos", "Kim", "Yilmaz", "Haddad", "Novak", "Sato", "Lopes")
COUNTRIES = ("US", "GB", "DE", "FR", "JP", "BR", "IN", "")
CI_CLASSES = ("cmdb_ci_server", "cmdb_ci_linux_server", "cmdb_ci_win_server", "cmdb_ci_database")
INCIDENT_TOPICS = ("Email not syncing", "VPN drops", "Printer jam", "Laptop slow", "SAP login")
CHANGE_TOPICS = ("Patch servers", "Rotate certificates", "Upgrade database", "Firewall rule")
SPAN_SECONDS = 90 * 24 * 3600
TABLE_PARENTS: tuple[tuple[str, str], ...] = (
    ("task", ""),
    ("incident", "task"),
    ("change_request", "task"),
    ("sys_user", ""),
    ("cmdb", ""),
    ("cmdb_ci", "cmdb"),
    ("cmdb_ci_hardware", "cmdb_ci"),
    ("cmdb_ci_computer", "cmdb_ci_hardware"),
    ("cmdb_ci_server", "cmdb_ci_computer"),
    ("cmdb_ci_linux_server", "cmdb_ci_server"),
    ("cmdb_ci_win_server", "cmdb_ci_server"),
    ("cmdb_ci_database", "cmdb_ci"),
    ("cmdb_ci_windows_service", "cmdb_ci"),
    ("sys_audit_delete", ""),
    ("sys_db_object", ""),
)
"""``(table, parent)`` rows of ``sys_db_object`` (parents first)."""


@dataclass(frozen=True)
class Volume:
    """Records seeded per table."""

    sys_user: int = 30
    cmdb_ci: int = 20
    incident: int = 60
    change_request: int = 25


class Seeder:
    """Builds seed records from one seeded random generator."""

    def __init__(self, rng: random.Random, now: float) -> None:
        """Seeds with ``rng``; records are spread over the 90 days before ``now``."""
        self.rng = rng
        self.now = now

    def sys_id(self) -> str:
        """A 32-hex-digit sys_id."""
        return f"{self.rng.getrandbits(128):032x}"

    def stamps(self) -> dict[str, str]:
        """``sys_created_on`` and a later ``sys_updated_on``."""
        created = self.now - self.rng.randint(3600, SPAN_SECONDS)
        updated = min(self.now - 60, created + self.rng.randint(0, 20 * 24 * 3600))
        return {"sys_created_on": glide_time(created), "sys_updated_on": glide_time(updated)}

    def user(self, index: int) -> dict[str, str]:
        """One sys_user."""
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        login = f"{first}.{last}{index}".lower()
        return {
            "sys_id": self.sys_id(),
            "user_name": login,
            "first_name": first,
            "last_name": last,
            "name": f"{first} {last}",
            "email": f"{login}@example.com" if index % 7 else "",
            "phone": f"+1 555 01{index:02d}",
            "country": self.rng.choice(COUNTRIES),
            "active": "true" if index % 9 else "false",
            **self.stamps(),
        }

    def ci(self, index: int) -> dict[str, str]:
        """One configuration item."""
        return {
            "sys_id": self.sys_id(),
            "name": f"srv-{index:04d}",
            "sys_class_name": self.rng.choice(CI_CLASSES),
            "ip_address": f"10.0.{index // 250}.{index % 250 + 1}",
            "operational_status": self.rng.choice(("1", "1", "1", "2", "6")),
            **self.stamps(),
        }

    def incident(self, index: int, users: list[str], cis: list[str]) -> dict[str, str]:
        """One incident."""
        return {
            "sys_id": self.sys_id(),
            "number": f"INC{10001 + index:07d}",
            "short_description": self.rng.choice(INCIDENT_TOPICS),
            "state": self.rng.choice(("1", "2", "3", "6", "7")),
            "priority": str(self.rng.randint(1, 5)),
            "caller_id": self.rng.choice(users) if users else "",
            "cmdb_ci": self.rng.choice(cis) if cis else "",
            **self.stamps(),
        }

    def change(self, index: int, users: list[str]) -> dict[str, str]:
        """One change request."""
        return {
            "sys_id": self.sys_id(),
            "number": f"CHG{30001 + index:07d}",
            "short_description": self.rng.choice(CHANGE_TOPICS),
            "state": self.rng.choice(("-5", "-4", "-1", "0", "3")),
            "type": self.rng.choice(("normal", "standard", "emergency")),
            "risk": self.rng.choice(("2", "3", "4")),
            "requested_by": self.rng.choice(users) if users else "",
            **self.stamps(),
        }


def table_objects(seeder: Seeder) -> list[dict[str, str]]:
    """``sys_db_object`` rows: ``name`` and ``super_class`` (the parent row's sys_id)."""
    ids: dict[str, str] = {}
    rows = []
    for name, parent in TABLE_PARENTS:
        ids[name] = seeder.sys_id()
        row = {"sys_id": ids[name], "name": name, "label": name.replace("_", " ").title()}
        rows.append({**row, "super_class": ids.get(parent, ""), **seeder.stamps()})
    return rows


def seed_tables(seed: int, now: float, volume: Volume) -> dict[str, list[dict[str, str]]]:
    """Every seeded table's records, the same for the same ``seed`` and ``now``."""
    seeder = Seeder(random.Random(f"{seed}:servicenow"), now)
    users = [seeder.user(i) for i in range(volume.sys_user)]
    cis = [seeder.ci(i) for i in range(volume.cmdb_ci)]
    user_ids, ci_ids = [u["sys_id"] for u in users], [c["sys_id"] for c in cis]
    return {
        "sys_user": users,
        "cmdb_ci": cis,
        "incident": [seeder.incident(i, user_ids, ci_ids) for i in range(volume.incident)],
        "change_request": [seeder.change(i, user_ids) for i in range(volume.change_request)],
        "sys_db_object": table_objects(random_seeder(seed, now)),
    }


def random_seeder(seed: int, now: float) -> Seeder:
    """A seeder of its own for metadata, so adding tables never changes the records' values."""
    return Seeder(random.Random(f"{seed}:servicenow:tables"), now)
