"""A deterministic batch of changes, so a second ``--sandbox`` run has something to merge."""

from __future__ import annotations

from dataclasses import dataclass, field

from .store import Store


@dataclass
class AppliedChanges:
    """Ids touched by :func:`apply_demo_changes`, per kind."""

    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    cascaded: list[str] = field(default_factory=list)
    """Children deleted with a deleted parent (an account's contacts and opportunities)."""


def apply_demo_changes(store: Store) -> AppliedChanges:
    """Renames two accounts, edits a contact, deletes an account and a contact, adds a lead.

    Every change moves ``SystemModstamp`` to now; deletions set ``IsDeleted`` and, as in
    Salesforce, deleting the account deletes its contacts and opportunities too.
    """
    applied = AppliedChanges()
    accounts = sorted(store.live("Account"), key=lambda r: str(r["Id"]))
    contacts = sorted(store.live("Contact"), key=lambda r: str(r["Id"]))
    for account in accounts[:2]:
        store.update("Account", account["Id"], Name=f"{account['Name']} (renamed)")
        applied.updated.append(account["Id"])
    if contacts:
        store.update("Contact", contacts[0]["Id"], Title="Chief Data Officer")
        applied.updated.append(contacts[0]["Id"])
    if len(accounts) > 2:
        parent, *children = store.delete_all("Account", accounts[-1]["Id"])
        applied.deleted.append(parent["Id"])
        applied.cascaded.extend(child["Id"] for child in children)
    live_contacts = [c for c in contacts if c["Id"] not in applied.cascaded]
    if len(live_contacts) > 1:
        applied.deleted.append(store.delete("Contact", live_contacts[-1]["Id"])["Id"])
    lead = store.create(
        "Lead",
        FirstName="Hedy",
        LastName="Lamarr",
        Company="Frequency Hopping Ltd",
        Email="hedy@frequency.example",
        Status="Open - Not Contacted",
        IsConverted=False,
    )
    applied.created.append(lead["Id"])
    return applied
