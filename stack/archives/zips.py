"""A zip of files and folders, checked file by file, streamed with stream-zip.

`FileArchive.prepare` resolves what was asked (every id must be readable, else the whole
request is refused exactly as if the id did not exist); `FileArchive.stream` then walks
folders lazily and yields zip bytes: each file's blob is read in chunks from disk in a
worker thread, so neither a large file nor a large folder is ever held in memory. Inside
folders, entries the principal may not read are left out, as in a listing.
"""

from __future__ import annotations

import stat
import zlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from roost.instances import Instance
from roost.permissions import (
    FILES_DOCTYPE,
    FileTarget,
    Hidden,
    PermissionDenied,
    PermissionSet,
    decide,
)
from roost.vfs import VFS, FileDoc
from roost.vfs.filedoc import parse_time

MAX_IDS: Final = 1000
_CHUNK: Final = 256 * 1024
# Speed over ratio: what people download in bulk (photos, videos, PDFs) is compressed already.
_LEVEL: Final = 1
_FILE_MODE: Final = stat.S_IFREG | 0o644
_DIR_MODE: Final = stat.S_IFDIR | 0o755


@dataclass(frozen=True)
class ArchiveEntry:
    """One selected file or folder and the name it takes at the top of the zip."""

    doc: FileDoc
    target: FileTarget
    name: str


def archive_name(entries: list[ArchiveEntry]) -> str:
    """`Holidays.zip` for one folder, `files.zip` for a selection."""
    if len(entries) == 1:
        return f"{entries[0].name}.zip"
    return "files.zip"


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        stem, dot, suffix = name.rpartition(".")
        candidate = f"{stem} ({n}).{suffix}" if dot and stem else f"{name} ({n})"
    taken.add(candidate)
    return candidate


def _moment(doc: FileDoc) -> datetime:
    return parse_time(doc.updated_at) or datetime.now(UTC)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


@dataclass
class FileArchive:
    vfs: VFS
    instance: Instance
    permissions: PermissionSet
    now: datetime

    def _allowed(self, target: FileTarget) -> bool:
        decision = decide(
            self.permissions, "GET", FILES_DOCTYPE, target, now=self.now, surface="stack"
        )
        return decision.allowed

    async def prepare(self, ids: Iterable[str]) -> list[ArchiveEntry]:
        """The selection, each id checked; Hidden (404) for any that is absent, in the
        trash, or not the principal's to read. PermissionDenied when it may read no file."""
        if not self.permissions.allows_some("GET", FILES_DOCTYPE):
            raise PermissionDenied("GET", FILES_DOCTYPE, f"no GET permission on {FILES_DOCTYPE}")
        targets = self.vfs.targets(self.instance)
        taken: set[str] = set()
        entries: list[ArchiveEntry] = []
        for file_id in dict.fromkeys(ids):
            doc = await self.vfs.get_or_none(self.instance, file_id)
            if doc is None or doc.in_trash or doc.is_trash_dir:
                raise Hidden("GET", FILES_DOCTYPE)
            target = await targets.for_doc(doc)
            decide(
                self.permissions, "GET", FILES_DOCTYPE, target, now=self.now, surface="stack"
            ).enforce()
            name = "files" if doc.is_root else doc.name
            entries.append(ArchiveEntry(doc, target, _unique(name, taken)))
        return entries

    async def _members(
        self, entries: list[ArchiveEntry]
    ) -> AsyncIterator[tuple[str, datetime, int, object, AsyncIterator[bytes]]]:
        from stream_zip import ZIP_32, ZIP_AUTO  # imported late: see stream()

        targets = self.vfs.targets(self.instance)
        # Depth-first, parents before children; a stack, not recursion (deep trees).
        pending: list[tuple[FileDoc, str]] = [(e.doc, e.name) for e in reversed(entries)]
        while pending:
            doc, path = pending.pop()
            if doc.is_dir:
                yield f"{path}/", _moment(doc), _DIR_MODE, ZIP_32, _nothing()
                children = await self.vfs.list_dir(self.instance, doc, fresh=True)
                for child in reversed(children):
                    if child.is_trash_dir or child.in_trash:
                        continue
                    if self._allowed(await targets.for_child(doc, child)):
                        pending.append((child, f"{path}/{child.name}"))
                continue
            content = await self.vfs.open(self.instance, doc)
            method = ZIP_AUTO(content.size, level=_LEVEL)
            # Through the blob store: local disk or S3 alike.
            yield path, _moment(doc), _FILE_MODE, method, content.chunks()

    def stream(self, entries: list[ArchiveEntry]) -> AsyncIterable[bytes]:
        # Imported when a zip is asked for: stream_zip brings pycryptodome (for encrypted
        # zips Roost never writes), about 8 MB a box at rest should not hold.
        from stream_zip import async_stream_zip

        return async_stream_zip(
            self._members(entries),  # type: ignore[arg-type]
            get_compressobj=lambda: zlib.compressobj(wbits=-zlib.MAX_WBITS, level=_LEVEL),
        )
