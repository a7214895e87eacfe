"""Thumbnails kept as blobs of their file, through the VFS's blob-store port.

A thumbnail is one more blob of its file, beside the file's content and versions:

    internal id  thumb-{content key}-{size}       (the JPEG)
                 thumb-{content key}-error        (why this content has none)

so it lives wherever the file's bytes live — the local disk or an S3 object store — and
deleting the file for good (trash emptied, `DELETE /files/trash/{id}`, WebDAV DELETE…)
removes it with the rest, whichever process deletes. The content key comes from the
content's checksum, so a new version of the file never shows the old picture's thumbnails;
when the new ones are written, the older keys are removed. A picture that cannot be
thumbnailed leaves the reason under its key, so it is not decoded again on every request.

Pictures are rendered by the worker pool into a scratch folder on the local disk, then
stored through the port (`publish`); a file whose bytes are in S3 is first copied into
the scratch folder (`local_source`), since Pillow and ffmpeg read local files.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Final

from roost.thumbnails.sizes import EXTENSION, SIZES, ThumbnailSize
from roost.vfs import FileDoc
from roost.vfs.blob_store import BlobStore, FileContent
from roost.vfs.errors import BlobMissing

PREFIX: Final = "thumb-"
_ERROR: Final = "error"
_MAX_ERROR_CHARS: Final = 500
_COPY_CHUNK: Final = 1024 * 1024

#: Where each size is rendered: {size name: (path, box)} (the shape `render_image` takes).
Targets = dict[str, tuple[str, int]]


def content_key(file: FileDoc) -> str | None:
    """A name for this content of the file (hex, from its SHA-256, else its MD5)."""
    if file.sha256:
        return file.sha256[:32].lower()
    if file.md5sum:
        try:
            return base64.b64decode(file.md5sum, validate=True).hex()
        except (binascii.Error, ValueError):
            return None
    return None


def _blob_id(key: str, part: str) -> str:
    return f"{PREFIX}{key}-{part}"


async def _one(chunk: bytes) -> AsyncIterator[bytes]:
    yield chunk


class ThumbnailStore:
    def __init__(self, blobs: BlobStore, scratch: Path) -> None:
        self.blobs = blobs
        self.scratch = scratch

    # -- reading -------------------------------------------------------------------------

    async def read(self, domain: str, file_id: str, key: str, size: ThumbnailSize) -> bytes | None:
        return await self._read(domain, file_id, _blob_id(key, size.name))

    async def _read(self, domain: str, file_id: str, internal_id: str) -> bytes | None:
        try:
            reader = await self.blobs.open(domain, file_id, internal_id)
        except BlobMissing:
            return None
        try:
            return b"".join([chunk async for chunk in reader.read(0, reader.size)])
        except BlobMissing:
            return None
        finally:
            reader.close()

    async def complete(self, domain: str, file_id: str, key: str) -> bool:
        for size in SIZES.values():
            if not await self.blobs.exists(domain, file_id, _blob_id(key, size.name)):
                return False
        return True

    async def error(self, domain: str, file_id: str, key: str) -> str | None:
        raw = await self._read(domain, file_id, _blob_id(key, _ERROR))
        if raw is None:
            return None
        return raw.decode("utf-8", "replace")

    async def names(self, domain: str, file_id: str) -> set[str]:
        """What is kept for a file, as `{key}/{size}.jpg` and `{key}/error.txt`."""
        found = set()
        for internal_id in await self.blobs.internal_ids(domain, file_id):
            if internal_id.startswith(PREFIX):
                key, _, part = internal_id[len(PREFIX) :].rpartition("-")
                found.add(f"{key}/{part}.{'txt' if part == _ERROR else EXTENSION}")
        return found

    # -- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def targets(self) -> Iterator[Targets]:
        """A scratch folder to render every size into, removed afterwards."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=self.scratch, prefix="render-"))
        try:
            yield {
                size.name: (str(folder / f"{size.name}.{EXTENSION}"), size.box)
                for size in SIZES.values()
            }
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @contextlib.asynccontextmanager
    async def local_source(self, content: FileContent) -> AsyncIterator[str]:
        """A local path holding the content's bytes (a scratch copy if they are remote)."""
        if content.path is not None:
            yield str(content.path)
            return
        self.scratch.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.scratch, prefix="source-")
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in content.chunks():
                    await asyncio.to_thread(out.write, chunk)
            yield temp
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    async def publish(self, domain: str, file_id: str, key: str, targets: Targets) -> None:
        """Store the rendered sizes (those that were written) as the file's blobs."""
        for name, (path, _box) in targets.items():
            try:
                data = await asyncio.to_thread(Path(path).read_bytes)
            except FileNotFoundError:
                continue
            await self._write(domain, file_id, _blob_id(key, name), data)

    async def record_error(self, domain: str, file_id: str, key: str, reason: str) -> None:
        data = reason[:_MAX_ERROR_CHARS].encode("utf-8")
        await self._write(domain, file_id, _blob_id(key, _ERROR), data)

    async def _write(self, domain: str, file_id: str, internal_id: str, data: bytes) -> None:
        staged = await self.blobs.stage(_one(data), expected_size=len(data))
        async with staged:
            await self.blobs.commit(staged, domain, file_id, internal_id)

    async def drop_others(self, domain: str, file_id: str, keep: str) -> None:
        """Remove the thumbnails of the file's earlier contents."""
        kept = _blob_id(keep, "")
        for internal_id in await self.blobs.internal_ids(domain, file_id):
            if internal_id.startswith(PREFIX) and not internal_id.startswith(kept):
                await self.blobs.remove(domain, file_id, internal_id)

    async def forget(self, domain: str, file_id: str, key: str, size: ThumbnailSize) -> None:
        """Remove one thumbnail (it is made again when next asked for)."""
        await self.blobs.remove(domain, file_id, _blob_id(key, size.name))

    async def remove(self, domain: str, file_id: str) -> None:
        """Every thumbnail of a file (deleting the file for good does this already)."""
        for internal_id in await self.blobs.internal_ids(domain, file_id):
            if internal_id.startswith(PREFIX):
                await self.blobs.remove(domain, file_id, internal_id)
