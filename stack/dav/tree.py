"""WebDAV's `FileTree` port over the VFS: files as `Entry` values, VFS errors as port errors.

Also holds the two rules WebDAV must not decide itself: which MIME type an upload gets, and
how much room is left when the instance has no quota (the free space of the files' disk).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping

from roost.instances import Instance
from roost.permissions import FileTarget
from roost.vfs import (
    TRASH_DIR_NAME,
    VFS,
    FileDoc,
    FileTargets,
    InvalidName,
    StagedContent,
    normalize_name,
)
from roost.vfs.mime import DEFAULT_MIME, guess_mime
from roost.webdav.ports import Blob, Entry, InvalidInput, Upload, Usage

from .errors import as_port_errors


def entry_of(doc: FileDoc) -> Entry:
    """The WebDAV view of a file document, read straight from its JSON: listings of
    thousands of entries convert every one, so no property of `FileDoc` is called."""
    raw = doc.doc
    get = raw.get
    is_dir = raw["type"] == "directory"
    md5sum = get("md5sum") or None
    dead = get("dav_properties")
    try:
        size = int(get("size") or 0)
    except (TypeError, ValueError):
        size = 0
    return Entry(
        get("name") or "",
        is_dir,
        doc.etag if is_dir else f'"{md5sum}"' if md5sum else f'"{get("_rev", "")}"',
        get("updated_at") or "",
        get("created_at") or "",
        size,
        get("mime") or "",
        md5sum,
        dead if type(dead) is dict else {},
        doc,
    )


def doc_of(entry: Entry) -> FileDoc:
    doc = entry.source
    if not isinstance(doc, FileDoc):
        raise TypeError(f"{entry.name!r} was not read from the VFS")
    return doc


def staged(upload: Upload) -> StagedContent:
    if not isinstance(upload, StagedContent):
        raise TypeError("that upload was not staged by the VFS")
    return upload


def normalize(name: str) -> str:
    """The VFS's name rule (NFC, no control characters, at most 255 bytes)."""
    try:
        return normalize_name(name)
    except InvalidName as error:
        raise InvalidInput(error.reason) from None


def upload_mime(name: str, declared: str | None) -> str:
    """The name decides (clients send junk types), unless it says nothing."""
    guessed = guess_mime(name)
    if guessed == DEFAULT_MIME and declared:
        declared = declared.split(";")[0].strip().lower()
        if "/" in declared and len(declared) < 128:
            return declared
    return guessed


class VfsTargets:
    """`Targets` over `FileTargets` (one per request: it caches the directories it read)."""

    def __init__(self, targets: FileTargets) -> None:
        self._targets = targets

    def remember(self, entry: Entry) -> None:
        self._targets.remember(doc_of(entry))

    async def for_entry(self, entry: Entry) -> FileTarget:
        with as_port_errors():
            return await self._targets.for_doc(doc_of(entry))

    async def for_child(self, parent: Entry, child: Entry) -> FileTarget:
        with as_port_errors():
            return await self._targets.for_child(doc_of(parent), doc_of(child))

    async def for_new(
        self, parent: Entry, name: str, *, is_dir: bool, mime: str = ""
    ) -> FileTarget:
        with as_port_errors():
            return await self._targets.for_new(
                doc_of(parent), name, type="directory" if is_dir else "file", mime=mime
            )


class VfsTree:
    """The files of an instance, as `roost.webdav` sees them (the trash is hidden)."""

    hidden_names: frozenset[str] = frozenset({TRASH_DIR_NAME})

    def __init__(self, vfs: VFS) -> None:
        self.vfs = vfs

    def normalize_name(self, name: str) -> str:
        return normalize(name)

    def targets(self, instance: Instance) -> VfsTargets:
        return VfsTargets(self.vfs.targets(instance))

    async def root(self, instance: Instance) -> Entry:
        with as_port_errors():
            return entry_of(await self.vfs.root(instance))

    async def child(
        self, instance: Instance, parent: Entry, name: str, *, reading: bool = False
    ) -> Entry | None:
        with as_port_errors():
            found = await self.vfs.child(instance, doc_of(parent), name, reading=reading)
        return None if found is None else entry_of(found)

    async def confirm(self, instance: Instance, directory: Entry) -> Entry:
        with as_port_errors():
            return entry_of(await self.vfs.tree.confirm_place(instance, doc_of(directory)))

    async def list_dir(self, instance: Instance, directory: Entry) -> list[Entry]:
        doc = doc_of(directory)
        with as_port_errors():
            children = await self.vfs.list_dir(instance, doc)
        if doc.is_root:
            children = [child for child in children if not child.is_trash_dir]
        return [entry_of(child) for child in children]

    async def with_subtree_etags(self, instance: Instance, entries: list[Entry]) -> list[Entry]:
        with as_port_errors():
            folders = [doc_of(entry) for entry in entries if entry.is_dir]
            stamped = {doc.id: doc for doc in await self.vfs.with_subtree_stamps(instance, folders)}
        return [entry_of(stamped[doc_of(entry).id]) if entry.is_dir else entry for entry in entries]

    async def open(self, instance: Instance, file: Entry) -> Blob:
        with as_port_errors():
            content = await self.vfs.open(instance, doc_of(file))
            if content.path is not None:
                return Blob(path=content.path, mime=content.mime)
            # An object store: the bytes are streamed through the blob store's reader.
            return Blob(path=None, mime=content.mime, stream=await content.open())

    async def stage(
        self, instance: Instance, chunks: AsyncIterable[bytes], *, size: int | None
    ) -> Upload:
        with as_port_errors():
            return await self.vfs.stage(instance, chunks, size=size)

    async def create_file(
        self,
        instance: Instance,
        parent: Entry,
        name: str,
        upload: Upload,
        *,
        declared_type: str | None,
        updated_at: str | None,
    ) -> Entry:
        with as_port_errors():
            doc = await self.vfs.create_file(
                instance,
                doc_of(parent),
                name,
                staged(upload),
                mime=upload_mime(name, declared_type),
                updated_at=updated_at,
            )
        return entry_of(doc)

    async def overwrite_file(
        self,
        instance: Instance,
        file: Entry,
        upload: Upload,
        *,
        declared_type: str | None,
        updated_at: str | None,
    ) -> Entry:
        with as_port_errors():
            doc = await self.vfs.overwrite_file(
                instance,
                doc_of(file),
                staged(upload),
                mime=upload_mime(file.name, declared_type),
                updated_at=updated_at,
            )
        return entry_of(doc)

    async def create_empty_file(self, instance: Instance, parent: Entry, name: str) -> Entry:
        with as_port_errors():
            return entry_of(await self.vfs.create_empty_file(instance, doc_of(parent), name))

    async def create_dir(
        self,
        instance: Instance,
        parent: Entry,
        name: str,
        *,
        created_at: str | None = None,
        updated_at: str | None = None,
    ) -> Entry:
        with as_port_errors():
            doc = await self.vfs.create_dir(
                instance, doc_of(parent), name, created_at=created_at, updated_at=updated_at
            )
        return entry_of(doc)

    async def trash(self, instance: Instance, entry: Entry) -> None:
        with as_port_errors():
            await self.vfs.trash(instance, doc_of(entry))

    async def move(
        self, instance: Instance, entry: Entry, parent: Entry, name: str, *, updated_at: str | None
    ) -> None:
        with as_port_errors():
            await self.vfs.move(
                instance, doc_of(entry), parent=doc_of(parent), name=name, updated_at=updated_at
            )

    async def copy(self, instance: Instance, entry: Entry, parent: Entry, name: str) -> None:
        with as_port_errors():
            await self.vfs.copy(instance, doc_of(entry), doc_of(parent), name)

    async def set_dead_properties(
        self,
        instance: Instance,
        entry: Entry,
        *,
        set_properties: Mapping[str, str],
        remove: list[str],
    ) -> Entry:
        with as_port_errors():
            doc = await self.vfs.set_dav_properties(
                instance, doc_of(entry), set_properties=set_properties, remove=remove
            )
        return entry_of(doc)

    async def set_updated_at(self, instance: Instance, entry: Entry, updated_at: str) -> None:
        with as_port_errors():
            await self.vfs.update_fields(instance, doc_of(entry), {"updated_at": updated_at})

    async def usage(self, instance: Instance) -> Usage:
        with as_port_errors():
            usage = await self.vfs.disk_usage(instance, fresh=False)
        available = usage.available
        if available is None:
            # No quota: what may still be stored is what the files' disk has free (None
            # for an object store: WebDAV then shows no quota-available-bytes).
            available = self.vfs.free_bytes()
        return Usage(used=usage.used, available=available)
