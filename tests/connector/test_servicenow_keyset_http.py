"""Keyset paging over real HTTP against the sandbox: deletes, row/field ACLs, the quota."""

from __future__ import annotations

import pytest

from sandbox.servicenow import ServiceNowSandbox
from sources.kit.errors import MissingCursorError, SluiceError
from sources.servicenow.helpers import Listing, list_changes
from tests.connector.test_servicenow_client import client_for


def in_list_order(sandbox: ServiceNowSandbox) -> list[str]:
    records = sandbox.store.records("incident")
    return [r["sys_id"] for r in sorted(records, key=lambda r: (r["sys_updated_on"], r["sys_id"]))]


def test_a_delete_of_a_record_already_read_does_not_skip_the_next_one(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    client = client_for(servicenow_sandbox, page_size=10)
    listing = Listing()
    pages = list_changes(client, "incident", None, listing)
    first = next(pages)
    servicenow_sandbox.store.delete("incident", first[2]["sys_id"])

    rest = [r["sys_id"] for page in pages for r in page]

    live = set(in_list_order(servicenow_sandbox))
    assert live <= {r["sys_id"] for r in first} | set(rest)
    assert len(first) + len(rest) == 60  # nothing skipped, nothing read twice


def test_keyset_paging_stays_clear_of_the_deep_offset_quota(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    servicenow_sandbox.faults.offset_quota = 14
    client = client_for(servicenow_sandbox, page_size=7, max_attempts=2)
    listing = Listing()

    ids = [r["sys_id"] for page in list_changes(client, "incident", None, listing) for r in page]

    assert ids == in_list_order(servicenow_sandbox)
    with pytest.raises(SluiceError, match="maximum execution time exceeded"):
        list(client.list_pages("incident", params={"sysparm_query": "ORDERBYsys_id"}))


@pytest.mark.parametrize(
    "hidden_slice",
    [slice(0, 0), slice(5, 9), slice(10, 30), slice(50, 60)],
    ids=["none", "inside-a-page", "two-whole-pages", "the-tail"],
)
def test_rows_a_row_acl_hides_are_counted_and_every_readable_row_is_read_once(
    servicenow_sandbox: ServiceNowSandbox, hidden_slice: slice
) -> None:
    order = in_list_order(servicenow_sandbox)
    hidden = set(order[hidden_slice])
    servicenow_sandbox.faults.row_acl("incident", lambda r: r["sys_id"] not in hidden)
    client = client_for(servicenow_sandbox, page_size=10)
    listing = Listing()

    ids = [r["sys_id"] for page in list_changes(client, "incident", None, listing) for r in page]

    assert ids == [k for k in order if k not in hidden]
    assert listing.hidden() == len(hidden) and listing.total == 60
    # one pass, no re-listing: a request per 10 counted rows, hidden windows stepped over
    assert len(servicenow_sandbox.faults.listings) == 6


def test_a_field_acl_on_the_cursor_stops_the_listing_with_the_grant_to_make(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    servicenow_sandbox.faults.hide_field("incident", "sys_updated_on")
    client = client_for(servicenow_sandbox, page_size=10)

    with pytest.raises(MissingCursorError, match="grant read on incident.sys_updated_on"):
        list(list_changes(client, "incident", None, Listing()))


def test_a_later_run_from_the_saved_cursor_reads_the_cursor_second_again(
    servicenow_sandbox: ServiceNowSandbox,
) -> None:
    records = servicenow_sandbox.store.records("incident")
    newest = max(r["sys_updated_on"] for r in records)
    same_second = {r["sys_id"] for r in records if r["sys_updated_on"] == newest}
    client = client_for(servicenow_sandbox, page_size=10)
    listing = Listing()

    ids = {r["sys_id"] for page in list_changes(client, "incident", newest, listing) for r in page}

    assert ids == same_second and listing.pages == 1
