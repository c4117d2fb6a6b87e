"""When a delete leaves a ``sys_audit_delete`` row, and how long the row stays.

Rules, from ServiceNow docs "Auditing components" (Zurich,
https://www.servicenow.com/docs/r/zurich/platform-security/servicenow-ai-platform-security/auditing-components.html,
ServiceNow/ServiceNowDocs markdown/platform-security/auditing-components.md) and "Enable
auditing for a system table" (markdown/platform-security/t_ConSysTablDelAud.md):

* deletions from ``sys_`` tables are not audited unless the table is listed in
  ``glide.ui.audit_deleted_tables``;
* a table whose dictionary has ``no_audit_delete`` never audits its deletes;
* deletes from lists and scripts are audited unless the table is in
  ``glide.db.audit.ignore.delete`` (defaults below, CMDB tables among them);
* Table Cleaner (``sys_auto_flush``) deletes are permanent and leave nothing behind
  (ServiceNow community answer citing KB support article
  https://www.servicenow.com/community/admin-experience-forum/table-cleanup-not-showing-sys-audit-delete-table/td-p/3492376);
* besides, ``sys_audit`` gets a row with ``fieldname``, ``oldvalue`` and ``newvalue`` all
  ``DELETED`` for every delete, of audited tables or not, but not for Table Cleaner deletes
  (ServiceNow KB0634666, https://hi.service-now.com/kb_view.do?sysparm_article=KB0634666);
  ``no_audit_delete`` suppresses it too (ServiceNow community blog "Applying a Patch ...
  check your Sys Audit", https://www.servicenow.com/community/now-platform-blog/applying-a-patch-family-release-or-store-release-check-your-sys/ba-p/2989373);
  the sandbox also skips it for the ``glide.db.audit.ignore.delete`` tables (assumed);
* an instance purges ``sys_audit_delete`` itself (a Table Cleaner rule on the audit
  tables; the retention differs by instance, so ``Store.purge_audit`` takes the cut-off).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

IGNORE_DELETE_DEFAULT: tuple[str, ...] = (
    "sys_mutex", "sys_db_cache", "sys_lucene_block", "sys_lucene_file", "sys_lucene_directory",
    "sys_user_preference", "sys_audit", "sc_cart", "sc_cart_item", "sys_trigger", "wf_context",
    "wf_activity", "wf_condition", "wf_executing", "wf_history", "wf_log", "wf_transition",
    "wf_transition_history", "cmdb_ci_windows_service", "cmdb_sam_sw_install",
    "cmdb_software_instance", "cmdb_sam_sw_usage", "sam_sw_counter_detail",
)  # fmt: skip
"""``glide.db.audit.ignore.delete`` as the docs list its built-in value."""


class DeleteVia(str, Enum):
    """How a record was deleted."""

    FORM = "form"
    LIST = "list"
    SCRIPT = "script"
    """A script, scheduled job or the Table API (``DELETE /api/now/table/...``)."""
    TABLE_CLEANER = "table_cleaner"


@dataclass
class AuditPolicy:
    """The instance's delete-audit configuration (tests change it per case).

    Attributes:
        no_audit_delete: Tables whose dictionary carries ``no_audit_delete``.
        ignore_delete: ``glide.db.audit.ignore.delete``.
        audit_deleted_tables: ``glide.ui.audit_deleted_tables`` (``sys_`` tables audited).
    """

    no_audit_delete: set[str] = field(default_factory=set)
    ignore_delete: set[str] = field(default_factory=lambda: set(IGNORE_DELETE_DEFAULT))
    audit_deleted_tables: set[str] = field(default_factory=set)

    def audits(self, table: str, via: DeleteVia = DeleteVia.SCRIPT) -> bool:
        """Whether deleting a record of ``table`` (its class) ``via`` writes sys_audit_delete."""
        if via is DeleteVia.TABLE_CLEANER:
            return False
        if table.startswith("sys_") and table not in self.audit_deleted_tables:
            return False
        if table in self.no_audit_delete:
            return False
        # The ignore list applies to list (and scripted) deletes; a form delete checks only
        # no_audit_delete (docs: "Auditing deletions from a form or list").
        return via is DeleteVia.FORM or table not in self.ignore_delete

    def logs_deleted(self, table: str, via: DeleteVia = DeleteVia.SCRIPT) -> bool:
        """Whether the delete writes a ``fieldname = DELETED`` row to ``sys_audit``."""
        if via is DeleteVia.TABLE_CLEANER or table in self.no_audit_delete:
            return False
        return via is DeleteVia.FORM or table not in self.ignore_delete
