"""One drop's settings (``sources.files.drops.<name>``), resolved through dlt config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from dlt.common.configuration import configspec, resolve_configuration, resolve_type
from dlt.common.configuration.exceptions import ConfigurationException
from dlt.common.configuration.specs import CredentialsConfiguration
from dlt.common.data_types.typing import DATA_TYPES
from dlt.common.exceptions import DltException
from dlt.common.storages.configuration import FilesystemConfiguration

from sources.kit.errors import ConfigurationError

from .settings import DEFAULT_SETTLE_S, DROPS_SECTION, FORMATS

DISPOSITIONS = ("append", "merge")


@configspec
class DropConfiguration(FilesystemConfiguration):
    """A folder or bucket where files of one table are dropped.

    ``bucket_url`` and ``credentials`` are dlt's own filesystem settings (local path,
    ``s3://``, ``gs://``, ``az://``; ``credentials.endpoint_url`` for S3-compatible
    servers), see https://dlthub.com/docs/dlt-ecosystem/verified-sources/filesystem.
    """

    file_glob: str = "*"
    format: Optional[str] = None  # noqa: A003 - the config key users write
    primary_key: Optional[Any] = None
    write_disposition: str = "append"
    columns: Optional[dict[str, str]] = None
    settle_s: float = DEFAULT_SETTLE_S
    marker: Optional[str] = None
    encoding: str = "utf-8"
    delimiter: str = ","

    @resolve_type("credentials")
    def resolve_credentials_type(self) -> type[CredentialsConfiguration]:
        """The bucket URL's credentials type (dlt's rule; a subclass must restate it)."""
        return super().resolve_credentials_type()


@dataclass(frozen=True)
class Drop:
    """A checked drop.

    Attributes:
        name: Resource and table name.
        fs: dlt's filesystem configuration (bucket URL, credentials).
        file_glob: Which files of the bucket belong to the drop.
        format: ``csv``, ``jsonl`` or ``parquet``; by extension when None.
        primary_key: Merge key (empty for append).
        write_disposition: ``merge`` (newest file wins) or ``append``.
        columns: Declared dlt data type per column; values are parsed to it.
        settle_s: Seconds a file must be unmodified before it is read.
        marker: Marker that says a file is complete: ``_SUCCESS`` (a file in the same
            folder) or a pattern with ``{name}`` (``{name}.done``).
        encoding: Text encoding of CSV and JSONL files.
        delimiter: CSV field delimiter.
    """

    name: str
    fs: FilesystemConfiguration
    file_glob: str = "*"
    format: Optional[str] = None  # noqa: A003 - mirrors the setting
    primary_key: tuple[str, ...] = ()
    write_disposition: str = "append"
    columns: Mapping[str, str] = field(default_factory=dict)
    settle_s: float = DEFAULT_SETTLE_S
    marker: Optional[str] = None
    encoding: str = "utf-8"
    delimiter: str = ","

    @property
    def bucket_url(self) -> str:
        """The folder or bucket URL."""
        return str(self.fs.bucket_url)

    @property
    def merges(self) -> bool:
        """Whether rows are merged on the key (newest file wins)."""
        return self.write_disposition == "merge"


def key_path(name: str, key: str) -> str:
    """The full config key of one drop setting, for error messages."""
    return ".".join((*DROPS_SECTION, name, key))


def resolve_drop(name: str, explicit: Optional[Mapping[str, Any]] = None) -> Drop:
    """Resolves ``sources.files.drops.<name>`` (values in ``explicit`` win) and checks it.

    Raises:
        ConfigurationError: A setting is missing or invalid (one line naming the key).
    """
    given = DropConfiguration()
    for key, value in (explicit or {}).items():
        # set before resolving: the bucket URL's protocol picks the credentials type
        setattr(given, key, value)
    try:
        config = resolve_configuration(given, sections=(*DROPS_SECTION, name))
    except (ConfigurationException, DltException) as exc:
        raise ConfigurationError(
            f"file drop {name}: set {key_path(name, 'bucket_url')} (a folder, s3://, gs:// or "
            f"az:// URL) and its credentials ({type(exc).__name__})"
        ) from None
    return check_drop(name, config)


def check_drop(name: str, config: DropConfiguration) -> Drop:
    """A :class:`Drop` from resolved settings, each invalid value named in one line."""
    if config.write_disposition not in DISPOSITIONS:
        raise ConfigurationError(
            f"{key_path(name, 'write_disposition')} must be one of {', '.join(DISPOSITIONS)}"
        )
    if config.format is not None and config.format not in FORMATS:
        raise ConfigurationError(f"{key_path(name, 'format')} must be one of {', '.join(FORMATS)}")
    key = as_names(config.primary_key)
    if config.write_disposition == "merge" and not key:
        raise ConfigurationError(f"{key_path(name, 'primary_key')} is required to merge")
    columns = dict(config.columns or {})
    bad = sorted(c for c, t in columns.items() if t not in DATA_TYPES)
    if bad:
        raise ConfigurationError(
            f"{key_path(name, 'columns')}: unknown data type for {', '.join(bad)}; "
            f"use one of {', '.join(sorted(DATA_TYPES))}"
        )
    if config.settle_s < 0:
        raise ConfigurationError(f"{key_path(name, 'settle_s')} must be 0 or more seconds")
    return Drop(
        name=name,
        fs=config,
        file_glob=config.file_glob,
        format=config.format,
        primary_key=key,
        write_disposition=config.write_disposition,
        columns=columns,
        settle_s=float(config.settle_s),
        marker=config.marker or None,
        encoding=config.encoding,
        delimiter=config.delimiter,
    )


def as_names(value: Any) -> tuple[str, ...]:
    """Key columns from ``a``, ``a,b`` or a list."""
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(str(part) for part in value)
