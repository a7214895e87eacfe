"""The local-disk blob store: `{files_dir}/{domain}/{id[:2]}/{id}/{internal_id}`, one blob
per content (see `blob_store.py` for the port it implements).

A blob is written once and never changed: an upload goes to a temp file in
`{files_dir}/.tmp/`, is fsynced, then renamed into place, so a crash or a client that goes
away never leaves a partial file where a reader could see it. A new content of a file is a
new blob (the previous one becomes a version or is removed), so a reader streaming the old
bytes is never disturbed. Copies hard-link blobs for the same reason.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO, Final, TypeVar

from roost.processes import process_is_running
from roost.vfs.blob_store import STALE_TEMP_SECONDS, StagedContent, UploadLimits, batched
from roost.vfs.errors import BlobMissing, ChecksumMismatch
from roost.vfs.writeback import start_writeback

__all__ = ["STALE_TEMP_SECONDS", "LocalBlobStore", "StagedContent"]

# Writes are batched so that hashing and writing run in a worker thread once per MiB,
# not once per network chunk (hashlib and os.write release the GIL on big buffers).
_WRITE_BATCH = 1024 * 1024
# Up to this size a batch is hashed and written inline: a thread hop costs more.
_INLINE_BYTES: Final = 64 * 1024
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_HOST = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
_READ_CHUNK: Final = 1024 * 1024
T = TypeVar("T")


async def _in_thread(function: Callable[..., T], *args: object) -> T:
    """Run blocking work in a worker thread; if the caller is cancelled (a client that went
    away), wait for the worker anyway, so no one closes a file it is still writing."""
    future = asyncio.get_running_loop().run_in_executor(None, function, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await future
        raise


def _safe(part: str) -> str:
    if not _SAFE_ID.match(part) or ".." in part:
        raise ValueError(f"unsafe path component {part!r}")
    return part


class _Writer:
    """Hashes and writes one temp file; every method runs in a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.written = 0

    def write(self, data: bytes) -> None:
        self.md5.update(data)
        self.write_unsummed(data)

    def write_big(self, data: bytes) -> None:
        """`write` with the MD5 on a second thread: MD5 alone runs at about 580 MiB/s on a
        2-core box (SHA-256 at 1,300), so a big upload hashes its two sums on two cores.
        The disk starts writing these bytes at once, so the final fsync has little to wait
        for."""
        md5 = threading.Thread(target=self.md5.update, args=(data,))
        md5.start()
        try:
            offset = self.written
            self.write_unsummed(data)
            start_writeback(self.fd, offset, len(data))
        finally:
            md5.join()

    def write_unsummed(self, data: bytes) -> None:
        self.sha256.update(data)
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            self.written += written
            view = view[written:]

    def finish(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1

    def abort(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.temp_dir = root / ".tmp"

    def blob_path(self, domain: str, file_id: str, internal_id: str) -> Path:
        file_id = _safe(file_id)
        return self.root / _safe(domain) / file_id[:2] / file_id / _safe(internal_id)

    def file_dir(self, domain: str, file_id: str) -> Path:
        file_id = _safe(file_id)
        return self.root / _safe(domain) / file_id[:2] / file_id

    def _new_temp(self) -> Path:
        self.temp_dir.mkdir(parents=True, exist_ok=True)
        return self.temp_dir / f"{_HOST}-{os.getpid()}-{secrets.token_hex(12)}.part"

    async def stage(
        self,
        chunks: AsyncIterable[bytes],
        *,
        expected_size: int | None = None,
        room: int | None = None,
        expected_md5: str | None = None,
    ) -> StagedContent:
        """Receive `chunks` into a fsynced temp file, hashing on the way.

        `room` is how many bytes the quota still allows: crossing it aborts with
        `QuotaExceeded`. Any failure (the client going away included) removes the temp file.
        """
        temp = self._new_temp()
        writer = _Writer(temp)  # an open(2) of a new file: cheaper inline than a thread hop
        loop = asyncio.get_running_loop()
        # At most one batch is hashed and written in a worker thread while the next one is
        # received: network and disk overlap, and memory stays at two batches.
        pending: asyncio.Future[None] | None = None
        limits = UploadLimits(expected_size, room)
        try:
            async for data in batched(chunks, limits, _WRITE_BATCH):
                if pending is not None:
                    await asyncio.shield(pending)
                    pending = None
                # Small bodies are hashed inline: a thread hop would cost more than the work.
                if len(data) > _INLINE_BYTES:
                    pending = loop.run_in_executor(None, writer.write_big, data)
                else:
                    writer.write(data)
            if pending is not None:
                await asyncio.shield(pending)
                pending = None
            await _in_thread(writer.finish)
        except BaseException:
            # Also on cancellation (the client disconnected): let the worker finish with the
            # file before it is closed and removed, so nothing partial survives.
            if pending is not None:
                with contextlib.suppress(BaseException):
                    await pending
            writer.abort()
            raise
        md5sum = base64.b64encode(writer.md5.digest()).decode()
        staged = StagedContent(
            str(temp), limits.size, md5sum, writer.sha256.hexdigest(), _remove_temp
        )
        if expected_md5 is not None and expected_md5 != md5sum:
            await staged.discard()
            raise ChecksumMismatch("the content does not match its Content-MD5")
        return staged

    async def commit(
        self, staged: StagedContent, domain: str, file_id: str, internal_id: str
    ) -> None:
        """Move staged bytes into place as the blob `internal_id` of `file_id`."""
        target = self.blob_path(domain, file_id, internal_id)
        source = Path(staged.take())

        def move() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)

        try:
            await asyncio.to_thread(move)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(source)
            raise

    async def link(
        self, domain: str, source_id: str, source_internal: str, file_id: str, internal_id: str
    ) -> None:
        """The same bytes under another file: a hard link (blobs never change), else a copy."""
        source = self.blob_path(domain, source_id, source_internal)
        target = self.blob_path(domain, file_id, internal_id)

        def do_link() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, target)
            except OSError as error:
                if error.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
                temp = self._new_temp()
                shutil.copyfile(source, temp)
                os.replace(temp, target)

        await asyncio.to_thread(do_link)

    async def write_empty(self, domain: str, file_id: str, internal_id: str) -> None:
        target = self.blob_path(domain, file_id, internal_id)

        def touch() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()

        await asyncio.to_thread(touch)

    async def remove(self, domain: str, file_id: str, internal_id: str) -> None:
        path = self.blob_path(domain, file_id, internal_id)

        def unlink() -> None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

        await asyncio.to_thread(unlink)

    async def remove_all(self, domain: str, file_id: str) -> None:
        """Every blob of a file (its content and versions)."""
        folder = self.file_dir(domain, file_id)
        await asyncio.to_thread(shutil.rmtree, folder, True)

    async def open(self, domain: str, file_id: str, internal_id: str) -> _OpenBlob:
        path = self.blob_path(domain, file_id, internal_id)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise BlobMissing("the file's content is missing") from None
        # An open descriptor keeps reading the bytes even if the blob is removed meanwhile.
        return _OpenBlob(file, os.fstat(file.fileno()).st_size)

    async def exists(self, domain: str, file_id: str, internal_id: str) -> bool:
        return await asyncio.to_thread(self.blob_path(domain, file_id, internal_id).is_file)

    def local_path(self, domain: str, file_id: str, internal_id: str) -> Path:
        return self.blob_path(domain, file_id, internal_id)

    async def temporaries(self) -> list[str]:
        def listing() -> list[str]:
            if not self.temp_dir.is_dir():
                return []
            return sorted(entry.path for entry in os.scandir(self.temp_dir))

        return await asyncio.to_thread(listing)

    async def internal_ids(self, domain: str, file_id: str) -> list[str]:
        folder = self.file_dir(domain, file_id)

        def listing() -> list[str]:
            try:
                return sorted(entry.name for entry in os.scandir(folder) if entry.is_file())
            except (FileNotFoundError, NotADirectoryError):
                return []

        return await asyncio.to_thread(listing)

    async def blob_count(self, domain: str) -> int:
        folder = self.root / _safe(domain)
        return await asyncio.to_thread(
            lambda: sum(1 for path in folder.rglob("*") if path.is_file())
        )

    async def sweep_temps(self, max_age: float = STALE_TEMP_SECONDS) -> int:
        return await asyncio.to_thread(self.sweep_temps_now, max_age)

    def sweep_temps_now(self, max_age: float = STALE_TEMP_SECONDS) -> int:
        """Remove temp files left by a crash: those of dead processes on this host, and any
        older than `max_age` (another host's, sharing the disk). Returns how many."""
        if not self.temp_dir.is_dir():
            return 0
        removed = 0
        now = time.time()
        for entry in os.scandir(self.temp_dir):
            stale = False
            parts = entry.name.rsplit("-", 2)
            if len(parts) == 3 and parts[0] == _HOST and parts[1].isdigit():
                pid = int(parts[1])
                stale = pid != os.getpid() and not process_is_running(pid)
            try:
                if not stale and now - entry.stat().st_mtime > max_age:
                    stale = True
                if stale:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


class _OpenBlob:
    """A blob opened for reading; reads run in a worker thread (disk reads block)."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self.file = file
        self.size = size

    async def read(self, start: int, length: int) -> AsyncIterator[bytes]:
        await asyncio.to_thread(self.file.seek, start)
        remaining = length
        while remaining > 0:
            chunk = await asyncio.to_thread(self.file.read, min(_READ_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.file.close()


async def _remove_temp(location: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(location)
