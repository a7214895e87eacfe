"""The blob-store port: where file bytes live, behind one small interface.

Two implementations: `LocalBlobStore` (`blobs.py`, a directory on disk, the default) and
`S3BlobStore` (`s3_blobs.py`, any S3-compatible object store, for a fleet of stacks). The
VFS, `/files`, WebDAV and export/import read and write bytes only through this port.

The contract both keep (tests/vfs/test_blob_stores.py):
- a blob is addressed by (instance domain, file id, internal id), written once, never changed;
- `stage` receives a stream under a temporary name, hashing it (MD5 and SHA-256) on the way;
  nothing is visible under a blob's address until `commit`; a failed or abandoned upload
  leaves only a temporary that `sweep_temps` removes;
- `open` gives a reader of byte ranges; a missing blob raises `BlobMissing`;
- a store that cannot be reached raises `BlobStoreUnavailable` (503 at the edge).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Protocol

from roost.vfs.errors import IncompleteUpload, QuotaExceeded

STALE_TEMP_SECONDS = 3600.0


class BlobReader(Protocol):
    """An opened blob: ranges of it, read as a stream."""

    size: int

    def read(self, start: int, length: int) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


@dataclass
class StagedContent:
    """Bytes received and hashed, waiting under a temporary name to become a file's content.

    Use as `async with await vfs.stage(...) as content:` or await `discard()`: the
    temporary is removed unless a VFS call has taken it.
    """

    location: str  # a temp file's path, or a temporary object key
    size: int
    md5sum: str  # base64 of the MD5 digest, as Cozy stores it
    sha256: str  # hex
    _remove: Callable[[str], Awaitable[None]] = field(repr=False)
    _taken: bool = field(default=False, repr=False)

    def take(self) -> str:
        self._taken = True
        return self.location

    @property
    def taken(self) -> bool:
        return self._taken

    async def discard(self) -> None:
        if not self._taken:
            self._taken = True
            await self._remove(self.location)

    async def __aenter__(self) -> StagedContent:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.discard()


class BlobStore(Protocol):
    async def stage(
        self,
        chunks: AsyncIterable[bytes],
        *,
        expected_size: int | None = None,
        room: int | None = None,
        expected_md5: str | None = None,
    ) -> StagedContent:
        """Receive `chunks` under a temporary name, hashing on the way. `room` is how many
        bytes the quota allows (QuotaExceeded past it); `expected_size` and `expected_md5`
        are checked (IncompleteUpload, ChecksumMismatch). Any failure removes the temporary."""
        ...

    async def commit(
        self, staged: StagedContent, domain: str, file_id: str, internal_id: str
    ) -> None:
        """Make staged bytes the blob `internal_id` of `file_id`."""
        ...

    async def link(
        self, domain: str, source_id: str, source_internal: str, file_id: str, internal_id: str
    ) -> None:
        """The same bytes under another address (copies of files)."""
        ...

    async def write_empty(self, domain: str, file_id: str, internal_id: str) -> None: ...

    async def open(self, domain: str, file_id: str, internal_id: str) -> BlobReader:
        """A reader of the blob; BlobMissing if there is none."""
        ...

    async def exists(self, domain: str, file_id: str, internal_id: str) -> bool: ...

    async def remove(self, domain: str, file_id: str, internal_id: str) -> None: ...

    async def remove_all(self, domain: str, file_id: str) -> None:
        """Every blob of a file (its content and versions)."""
        ...

    async def sweep_temps(self, max_age: float = STALE_TEMP_SECONDS) -> int:
        """Remove temporaries left by a crash or an outage; returns how many."""
        ...

    async def temporaries(self) -> list[str]:
        """The temporaries present now (uploads in progress or left behind)."""
        ...

    async def internal_ids(self, domain: str, file_id: str) -> list[str]:
        """The ids of every blob kept for one file (content, versions, thumbnails)."""
        ...

    async def blob_count(self, domain: str) -> int:
        """How many blobs an instance holds (checks and tests; walks the whole instance)."""
        ...

    def local_path(self, domain: str, file_id: str, internal_id: str) -> Path | None:
        """The blob's file when the store is a local disk (for sendfile), else None."""
        ...


@dataclass(frozen=True)
class FileContent:
    """A file's (or a version's) bytes: where they are and what they are."""

    blobs: BlobStore
    domain: str
    file_id: str
    internal_id: str
    size: int
    md5sum: str | None
    sha256: str | None
    mime: str
    etag: str

    @property
    def path(self) -> Path | None:
        """The blob's file on a local store (a fast path for small reads), else None."""
        return self.blobs.local_path(self.domain, self.file_id, self.internal_id)

    async def open(self) -> BlobReader:
        """A reader of the bytes; BlobMissing if they are gone."""
        return await self.blobs.open(self.domain, self.file_id, self.internal_id)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The whole content, streamed."""
        reader = await self.open()
        try:
            async for chunk in reader.read(0, reader.size):
                yield chunk
        finally:
            reader.close()


class UploadLimits:
    """The checks every store makes on an incoming stream: the quota and the announced size."""

    def __init__(self, expected_size: int | None, room: int | None) -> None:
        self.expected_size = expected_size
        self.room = room
        self.size = 0

    def add(self, length: int) -> None:
        self.size += length
        if self.room is not None and self.size > self.room:
            raise QuotaExceeded("this upload would exceed the disk quota")
        if self.expected_size is not None and self.size > self.expected_size:
            raise IncompleteUpload("the body is longer than its announced size")

    def finish(self) -> None:
        if self.expected_size is not None and self.size != self.expected_size:
            raise IncompleteUpload(
                f"the body ended after {self.size} of its {self.expected_size} announced bytes"
            )


async def batched(
    chunks: AsyncIterable[bytes], limits: UploadLimits, size: int
) -> AsyncIterator[bytes]:
    """The incoming `chunks` joined into batches of at least `size` bytes (the last one
    smaller, never empty), checked against `limits` as they arrive: the one receiving loop
    of every store, so hashing and writing happen in few, large steps."""
    batch: list[bytes] = []
    gathered = 0
    async for chunk in chunks:
        if not chunk:
            continue
        limits.add(len(chunk))
        batch.append(chunk)
        gathered += len(chunk)
        if gathered >= size:
            data = b"".join(batch)
            batch, gathered = [], 0
            yield data
    limits.finish()
    if batch:
        yield b"".join(batch)
