"""The sObjects the Salesforce sandbox serves and their ``describe`` metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from .wide import WIDE_OBJECT, wide_field_specs

API_VERSION = "v59.0"
"""The REST API version the sandbox answers under ``/services/data/<version>``."""


@dataclass(frozen=True)
class Field:
    """One sObject field as ``describe`` lists it.

    Attributes:
        name: API name (``SystemModstamp``).
        type: Salesforce field type (``id``, ``string``, ``datetime``, ``currency``...).
        nillable: Whether the field may be null.
        formula: ``calculatedFormula`` of a formula field (evaluated on read by
            ``formulas.py``); None for stored fields.
        precision: Total digits of a number field (0 for other types).
        scale: Digits right of the decimal point (0 for other types).
    """

    name: str
    type: str
    nillable: bool = True
    formula: Optional[str] = None
    precision: int = 0
    scale: int = 0
    external_id: bool = False
    unique: bool = False

    @property
    def writable(self) -> bool:
        """Whether the API may set the field (not audit, not a formula, not compound)."""
        return (
            self.formula is None
            and self.name not in READ_ONLY
            and self.type not in ("address", "location")
        )

    def describe(self) -> dict[str, Any]:
        """The field's entry in a describe result."""
        entry: dict[str, Any] = {
            "name": self.name,
            "label": self.name,
            "type": self.type,
            "nillable": self.nillable,
            "length": 18 if self.type in ("id", "reference") else 255,
            "custom": self.name.endswith("__c"),
            # Formula fields: describe says calculated, with the formula text
            # (DescribeFieldResult.getCalculatedFormula, https://developer.salesforce.com/
            # docs/atlas.en-us.apexcode.meta/apexcode/apex_methods_system_fields_describe.htm).
            "calculated": self.formula is not None,
            # "precision: For fields of type double, the maximum number of digits that can
            # be stored...; scale: ...number of digits to the right of the decimal point"
            # (DescribeSObjectResult Field, https://developer.salesforce.com/docs/
            # atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm);
            # 0 for non-numeric fields, as Salesforce answers.
            "precision": self.precision,
            "scale": self.scale,
            # "externalId: Indicates whether the field is used as an external ID";
            # "unique: Indicates whether a value must be unique" (same page).
            "externalId": self.external_id,
            "unique": self.unique,
            "createable": self.writable,
            "updateable": self.writable,
        }
        if self.formula is not None:
            entry["calculatedFormula"] = self.formula
        return entry


READ_ONLY = frozenset(
    {"Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted", "LastModifiedById"}
)
"""System fields the API sets itself: writing them fails (``INVALID_FIELD_FOR_INSERT_UPDATE``)."""

EXTERNAL_ID_FIELD = "External_Id__c"
"""The external id field of Account and Contact (``externalId`` and ``unique`` in
describe), the key of upserts."""
SYNC_TOKEN_FIELD = "Sync_Token__c"
"""A plain text custom field on Account and Contact where a writer may leave a change
token (loop prevention: the inbound side recognises its own writes)."""

WRITE_AUDIT = (
    # The user who last changed the record: the API user for writes through the API.
    Field("LastModifiedById", "reference"),
    Field(EXTERNAL_ID_FIELD, "string", external_id=True, unique=True),
    Field(SYNC_TOKEN_FIELD, "string"),
)

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
        # Compound field over BillingCity/BillingCountry: REST only, refused by Bulk queries
        # (https://developer.salesforce.com/docs/platform/api-asynch/guide/query-create-job.md).
        Field("BillingAddress", "address"),
        Field("AnnualRevenue", "currency", precision=18, scale=0),
        Field("NumberOfEmployees", "int"),
        Field("OwnerId", "reference"),
    )
    + WRITE_AUDIT,
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
        # Cross-object formula: changes with the account, not the contact's SystemModstamp.
        Field("Account_Industry__c", "string", formula="Account.Industry"),
    )
    + WRITE_AUDIT,
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
        Field("Amount", "currency", precision=18, scale=2),
        Field("Unit_Price__c", "currency", precision=16, scale=4),
        Field("Probability", "percent", precision=3, scale=0),
        Field("CloseDate", "date", nillable=False),
        Field("IsClosed", "boolean", nillable=False),
        Field("IsWon", "boolean", nillable=False),
        Field("OwnerId", "reference"),
        # Changes every day without any record changing.
        Field("Days_Open__c", "double", formula="TODAY() - DATEVALUE(CreatedDate)"),
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

OBJECTS = {
    **OBJECTS,
    WIDE_OBJECT: AUDIT
    + DELETABLE
    + (Field("Name", "string", nillable=False),)
    + tuple(Field(n, t, precision=p, scale=s) for n, t, p, s in wide_field_specs()),
}

KEY_PREFIXES: Mapping[str, str] = {
    WIDE_OBJECT: "a0W",
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
