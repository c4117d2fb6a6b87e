"""A sync declaration (``syncs/<name>.toml``), parsed and validated before anything is sent.

Example::

    name = "accounts_to_salesforce"
    mode = "upsert"                    # upsert | update | mirror | append

    [source]
    table = "accounts_enriched"        # or: query = "SELECT ... FROM ..."
    dataset = "analytics"
    destination = "duckdb"             # any dlt destination with a SQL client

    [target]
    connector = "salesforce"
    object = "Account"

    [key]
    column = "account_code"            # warehouse column
    field = "Sluice_Code__c"           # target external id field

    [[fields]]
    source = "name"
    target = "Name"
    transform = "trim"                 # a transform of sources/kit/mapping/transforms.py

Every problem is one :class:`SyncSpecError` line naming the key to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import tomlkit
from tomlkit.exceptions import TOMLKitError

from sources.kit.errors import ConfigurationError
from sources.kit.mapping.transforms import is_registered

MODES = ("upsert", "update", "mirror", "append")
DEFAULT_BATCH_SIZE = 200
DEFAULT_SYNCS_DIR = "syncs"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SyncSpecError(ConfigurationError):
    """A sync declaration is unusable; the message names the key to fix."""


@dataclass(frozen=True)
class FieldMap:
    """One target field and where its value comes from.

    Attributes:
        target: Target field (``Name``; ``metadata.score`` for a Stripe metadata key).
        sources: Warehouse columns read (one value, or a tuple for several).
        transform: Registered transform name applied to the value, if any.
        args: The transform's arguments.
    """

    target: str
    sources: tuple[str, ...]
    transform: Optional[str] = None
    args: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncSpec:
    """A validated sync declaration.

    Attributes:
        name: Sync name (state rows, idempotency keys, ledger source ``sync:<name>``).
        mode: ``upsert``, ``update``, ``mirror`` or ``append``.
        connector: Target connector (``salesforce``, ``stripe``).
        object: Target object (``Account``, ``customer``).
        key_column: Warehouse column holding the record key.
        key_field: Target field the key is matched on (external id, or Stripe ``id``).
        fields: Field mappings.
        table: Source table in the dataset, when no query is given.
        query: Source SQL query, when no table is given.
        dataset: Dataset (schema) of the source and of the sync's state.
        destination: dlt destination name of the warehouse.
        batch_size: Rows per target call (Salesforce Collections: at most 200).
        bulk_threshold: Salesforce: more rows than this go through Bulk API 2.0.
        token_column: Column of the source holding the change token read back by the
            inbound connector (the hash a previous sync wrote), for loop prevention.
        target_options: The other keys of ``[target]`` (``token_field``...), for the target.
        warehouse_pipeline: The inbound pipeline whose destination holds the source
            (``source.pipeline``: its default DuckDB file is read), if not configured.
    """

    name: str
    mode: str
    connector: str
    object: str
    key_column: str
    key_field: str
    fields: tuple[FieldMap, ...]
    table: Optional[str] = None
    query: Optional[str] = None
    dataset: str = "analytics"
    destination: str = "duckdb"
    batch_size: int = DEFAULT_BATCH_SIZE
    bulk_threshold: Optional[int] = None
    token_column: Optional[str] = None
    target_options: Mapping[str, Any] = field(default_factory=dict)
    warehouse_pipeline: Optional[str] = None

    @property
    def columns(self) -> tuple[str, ...]:
        """Every warehouse column the sync reads (key first)."""
        names = [self.key_column]
        for mapping in self.fields:
            names.extend(c for c in mapping.sources if c not in names)
        if self.token_column and self.token_column not in names:
            names.append(self.token_column)
        return tuple(names)


def _table(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key)
    if not isinstance(value, Mapping):
        raise SyncSpecError(f"sync declaration needs a [{key}] table")
    return value


def _text(doc: Mapping[str, Any], key: str, where: str, required: bool = True) -> Optional[str]:
    value = doc.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise SyncSpecError(f"{where}{key} must be a non-empty string")
    return value.strip()


def _int(doc: Mapping[str, Any], key: str, default: Optional[int]) -> Optional[int]:
    value = doc.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SyncSpecError(f"options.{key} must be a positive integer, got {value!r}")
    return value


def _field(raw: Any, index: int) -> FieldMap:
    where = f"fields[{index}]."
    if not isinstance(raw, Mapping):
        raise SyncSpecError(f"fields[{index}] must be a table with source and target")
    target = str(_text(raw, "target", where))
    sources = raw.get("sources", raw.get("source"))
    if isinstance(sources, str):
        sources = [sources]
    if sources is None:
        sources = []
    if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
        raise SyncSpecError(f"{where}source must be a column name or a list of them")
    transform = _text(raw, "transform", where, required=False)
    if transform is not None and not is_registered(transform):
        raise SyncSpecError(f"{where}transform {transform!r} is not a registered transform")
    if not sources and transform is None:
        raise SyncSpecError(f"{where}source is missing (only a transform may take no column)")
    args = raw.get("args", {})
    if not isinstance(args, Mapping):
        raise SyncSpecError(f"{where}args must be a table")
    return FieldMap(target, tuple(sources), transform, dict(args))


def parse_sync(doc: Mapping[str, Any], default_name: Optional[str] = None) -> SyncSpec:
    """Validates a parsed declaration.

    Args:
        doc: The TOML document.
        default_name: Name used when the document has no ``name`` (the file stem).

    Returns:
        The sync.

    Raises:
        SyncSpecError: A key is missing or wrong (the message names it).
    """
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not _NAME.match(name):
        raise SyncSpecError(f"name must be letters, digits and underscores, got {name!r}")
    mode = doc.get("mode", "upsert")
    if mode not in MODES:
        raise SyncSpecError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    source, target, key = _table(doc, "source"), _table(doc, "target"), _table(doc, "key")
    table = _text(source, "table", "source.", required=False)
    query = _text(source, "query", "source.", required=False)
    if (table is None) == (query is None):
        raise SyncSpecError("source needs exactly one of source.table or source.query")
    raw_fields = doc.get("fields", [])
    if not isinstance(raw_fields, list) or not raw_fields:
        raise SyncSpecError("fields must list at least one [[fields]] mapping")
    fields = tuple(_field(raw, i) for i, raw in enumerate(raw_fields))
    targets = [f.target for f in fields]
    duplicated = sorted({t for t in targets if targets.count(t) > 1})
    if duplicated:
        raise SyncSpecError(f"fields: target {duplicated[0]!r} is mapped more than once")
    options = doc.get("options", {})
    if not isinstance(options, Mapping):
        raise SyncSpecError("options must be a table")
    return SyncSpec(
        name=name,
        mode=mode,
        connector=str(_text(target, "connector", "target.")),
        object=str(_text(target, "object", "target.")),
        key_column=str(_text(key, "column", "key.")),
        key_field=str(_text(key, "field", "key.")),
        fields=fields,
        table=table,
        query=query,
        dataset=_text(source, "dataset", "source.", required=False) or "analytics",
        destination=_text(source, "destination", "source.", required=False) or "duckdb",
        batch_size=_int(options, "batch_size", DEFAULT_BATCH_SIZE) or DEFAULT_BATCH_SIZE,
        bulk_threshold=_int(options, "bulk_threshold", None),
        token_column=_text(source, "token_column", "source.", required=False),
        target_options={k: v for k, v in target.items() if k not in ("connector", "object")},
        warehouse_pipeline=_text(source, "pipeline", "source.", required=False),
    )


def load_sync(path: Path) -> SyncSpec:
    """Reads and validates ``path``.

    Raises:
        SyncSpecError: The file is missing, not TOML, or a key is wrong.
    """
    try:
        # tomlkit (a dlt dependency), not tomllib: that is Python 3.11+ and we support 3.10
        doc = tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()
    except FileNotFoundError:
        raise SyncSpecError(f"no sync declaration at {path}") from None
    except TOMLKitError as exc:
        raise SyncSpecError(f"{path} is not valid TOML: {exc}") from None
    try:
        return parse_sync(doc, default_name=path.stem)
    except SyncSpecError as exc:
        raise SyncSpecError(f"{path.name}: {exc.message}") from None


def find_sync(name: str, folder: Optional[Path] = None) -> SyncSpec:
    """The declaration ``<folder>/<name>.toml`` (``syncs/`` of the working folder by default).

    Raises:
        SyncSpecError: No such declaration, or it is invalid.
    """
    base = folder if folder is not None else Path.cwd() / DEFAULT_SYNCS_DIR
    if not _NAME.match(name):
        raise SyncSpecError(f"sync name must be letters, digits and underscores, got {name!r}")
    path = base / f"{name}.toml"
    if not path.exists():
        known = sorted(p.stem for p in base.glob("*.toml")) if base.is_dir() else []
        hint = f" (known: {', '.join(known)})" if known else ""
        raise SyncSpecError(f"no sync {name!r}: {path} does not exist{hint}")
    return load_sync(path)
