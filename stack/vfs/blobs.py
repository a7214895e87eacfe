"""File bytes on disk: `{files_dir}/{domain}/{id[:2]}/{id}/{internal_id}`, one blob per content.

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
import time
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from roost.vfs.errors import ChecksumMismatch, IncompleteUpload, QuotaExceeded

# Writes are batched so that hashing and writing run in a worker thread once per MiB,
# not once per network chunk (hashlib and os.write release the GIL on big buffers).
_WRITE_BATCH = 1024 * 1024
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_HOST = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
STALE_TEMP_SECONDS = 3600.0
T = TypeVar("T")


@dataclass(frozen=True)
class FileContent:
    """Where to read a file's (or a version's) bytes; the blob never changes once written."""

    path: Path
    size: int
    md5sum: str | None
    sha256: str | None
    mime: str
    etag: str


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


@dataclass
class StagedContent:
    """Bytes received and hashed, waiting in a temp file to become a file's content.

    Use as `async with await vfs.stage(...) as content:` or call `discard()`: the temp file
    is removed unless a VFS call has taken it.
    """

    temp_path: Path
    size: int
    md5sum: str  # base64 of the MD5 digest, as Cozy stores it
    sha256: str  # hex
    _taken: bool = field(default=False, repr=False)

    def take(self) -> Path:
        self._taken = True
        return self.temp_path

    @property
    def taken(self) -> bool:
        return self._taken

    def discard(self) -> None:
        if not self._taken:
            self._taken = True
            with contextlib.suppress(FileNotFoundError):
                self.temp_path.unlink()

    async def __aenter__(self) -> StagedContent:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.discard()


class _Writer:
    """Hashes and writes one temp file; every method runs in a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.md5.update(data)
        self.sha256.update(data)
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
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


class BlobStore:
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
        size = 0
        batch: list[bytes] = []
        batched = 0
        try:
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if room is not None and size > room:
                    raise QuotaExceeded("this upload would exceed the disk quota")
                if expected_size is not None and size > expected_size:
                    raise IncompleteUpload("the body is longer than its announced size")
                batch.append(chunk)
                batched += len(chunk)
                if batched >= _WRITE_BATCH:
                    data = b"".join(batch)
                    batch, batched = [], 0
                    if pending is not None:
                        await asyncio.shield(pending)
                    pending = loop.run_in_executor(None, writer.write, data)
            if expected_size is not None and size != expected_size:
                raise IncompleteUpload(
                    f"the body ended after {size} of its {expected_size} announced bytes"
                )
            if pending is not None:
                await asyncio.shield(pending)
                pending = None
            data = b"".join(batch)
            batch = []
            # Small bodies are hashed inline: a thread hop would cost more than the work.
            if len(data) > 64 * 1024:
                await _in_thread(writer.write, data)
            else:
                writer.write(data)
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
        staged = StagedContent(temp, size, md5sum, writer.sha256.hexdigest())
        if expected_md5 is not None and expected_md5 != md5sum:
            staged.discard()
            raise ChecksumMismatch("the content does not match its Content-MD5")
        return staged

    async def commit(
        self, staged: StagedContent, domain: str, file_id: str, internal_id: str
    ) -> Path:
        """Move staged bytes into place as the blob `internal_id` of `file_id`."""
        target = self.blob_path(domain, file_id, internal_id)
        source = staged.take()

        def move() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)

        try:
            await asyncio.to_thread(move)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                source.unlink()
            raise
        return target

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

    def sweep_temps(self, max_age: float = STALE_TEMP_SECONDS) -> int:
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
                stale = pid != os.getpid() and not _alive(pid)
            try:
                if not stale and now - entry.stat().st_mtime > max_age:
                    stale = True
                if stale:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
