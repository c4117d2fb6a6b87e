"""A dropped file's bytes: downloaded once, hashed while downloading, gunzipped on read."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from typing import IO, Any, cast

from .settings import SPOOL_MEMORY_BYTES

GZIP_MAGIC = b"\x1f\x8b"
"""RFC 1952 section 2.3.1: ID1 = 31, ID2 = 139 open every gzip member."""

CHUNK = 1024 * 1024


@dataclass
class Content:
    """One downloaded file.

    Attributes:
        raw: The bytes as stored (positioned at 0), in memory or a temporary file.
        sha256: Hex sha256 of those bytes.
        size: How many bytes were read.
        gzipped: Whether they are gzip (by magic number, whatever the extension).
    """

    raw: IO[bytes]
    sha256: str
    size: int
    gzipped: bool

    def open(self) -> IO[bytes]:
        """The file's content, gunzipped when it is gzip."""
        self.raw.seek(0)
        if self.gzipped:
            return cast(IO[bytes], gzip.GzipFile(fileobj=self.raw, mode="rb"))
        return self.raw

    def close(self) -> None:
        """Frees the spooled bytes."""
        self.raw.close()


def download(source: IO[bytes]) -> Content:
    """Copies a file object into a spool, hashing it in the same pass.

    One read gives both the hash the manifest compares and the bytes that are parsed,
    so a file rewritten between the two cannot load content other than the hashed one.
    """
    spool: Any = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        spool.write(chunk)
        size += len(chunk)
    spool.seek(0)
    head = spool.read(2)
    spool.seek(0)
    return Content(spool, digest.hexdigest(), size, head == GZIP_MAGIC)


def copy_text(content: Content, target: IO[bytes]) -> None:
    """Writes the (gunzipped) content to ``target`` (tests and tools)."""
    shutil.copyfileobj(content.open(), target)
