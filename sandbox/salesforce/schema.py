"""The sObjects the Salesforce sandbox serves and their ``describe`` metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

API_VERSION = "v59.0"
"""The REST API version the sandbox answers under ``/services/data/<version>``."""


@dataclass(frozen=True)
class Field:
    """One sObject field as ``describe`` lists it.

    Attributes:
        name: API name (``SystemModstamp``).
        type: Salesforce field type (``id``, ``string``, ``datetime``, ``currency``...).
        nillable: Whether the field may be null.
    """

    name: str
    type: str
    nillable: bool = True

    def describe(self) -> dict[str, Any]:
        """The field's entry in a describe result."""
        return {
            "name": self.name,
            "label": self.name,
            "type": self.type,
            "nillable": self.nillable,
            "length": 18 if self.type in ("id", "reference") else 255,
            "custom": False,
            "calculated": False,
        }


AUDIT = (
    Field("Id", "id", nillable=False),
    Field("CreatedDate", "datetime", nillable=False),
    Field("LastModifiedDate", "datetime", nillable=False),
    Field("SystemModstamp", "datetime", nillable=False),
)
DELETABLE = (Field("IsDeleted", "boolean", nillable=False),)

OBJECTS: Mapping[str, tuple[Field, ...]] = {
    "Account": AUDIT
    + DELETABLE
    + (
        Field("Name", "string", nillable=False),
        Field("Type", "picklist"),
        Field("Industry", "picklist"),
        Field("Website", "url"),
        Field("Phone", "phone"),
        Field("BillingCity", "string"),
        Field("BillingCountry", "string"),
        Field("AnnualRevenue", "currency"),
        Field("NumberOfEmployees", "int"),
        Field("OwnerId", "reference"),
    ),
    "Contact": AUDIT
    + DELETABLE
    + (
        Field("FirstName", "string"),
        Field("LastName", "string", nillable=False),
        Field("Email", "email"),
        Field("Phone", "phone"),
        Field("Title", "string"),
        Field("AccountId", "reference"),
        Field("MailingCountry", "string"),
        Field("OwnerId", "reference"),
    ),
    "Lead": AUDIT
    + DELETABLE
    + (
        Field("FirstName", "string"),
        Field("LastName", "string", nillable=False),
        Field("Company", "string", nillable=False),
        Field("Email", "email"),
        Field("Status", "picklist", nillable=False),
        Field("LeadSource", "picklist"),
        Field("IsConverted", "boolean", nillable=False),
        Field("OwnerId", "reference"),
    ),
    "Opportunity": AUDIT
    + DELETABLE
    + (
        Field("Name", "string", nillable=False),
        Field("AccountId", "reference"),
        Field("StageName", "picklist", nillable=False),
        Field("Amount", "currency"),
        Field("Probability", "percent"),
        Field("CloseDate", "date", nillable=False),
        Field("IsClosed", "boolean", nillable=False),
        Field("IsWon", "boolean", nillable=False),
        Field("OwnerId", "reference"),
    ),
    # Users are deactivated, never deleted: no IsDeleted field, as in Salesforce.
    "User": AUDIT
    + (
        Field("Username", "string", nillable=False),
        Field("Email", "email", nillable=False),
        Field("FirstName", "string"),
        Field("LastName", "string", nillable=False),
        Field("IsActive", "boolean", nillable=False),
        Field("Title", "string"),
        Field("TimeZoneSidKey", "picklist", nillable=False),
    ),
}

KEY_PREFIXES: Mapping[str, str] = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "User": "005",
}


def describe(object_name: str) -> dict[str, Any]:
    """The describe result of one sObject (``/sobjects/<name>/describe``)."""
    return {
        "name": object_name,
        "label": object_name,
        "keyPrefix": KEY_PREFIXES[object_name],
        "queryable": True,
        "deletable": any(f.name == "IsDeleted" for f in OBJECTS[object_name]),
        "fields": [f.describe() for f in OBJECTS[object_name]],
    }


def field_names(object_name: str) -> tuple[str, ...]:
    """API names of an object's fields, in describe order."""
    return tuple(f.name for f in OBJECTS[object_name])
