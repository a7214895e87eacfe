"""File content: receiving bytes (quota and checksum checked), new files, new content for
an existing file (the replaced one becomes a version), reverting to a version, and where
to read the current bytes."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable

from roost.doctypes import stamp_metadata
from roost.instances import Instance
from roost.types import JSONDoc
from roost.vfs.blob_store import BlobStore, FileContent, StagedContent
from roost.vfs.documents import FileDocuments, new_id
from roost.vfs.errors import BlobMissing, FileNotFound, IsADirectory, StaleRevision
from roost.vfs.filedoc import FileDoc, checked_time, now_iso
from roost.vfs.mime import guess_mime, mime_class
from roost.vfs.names import normalize_name
from roost.vfs.reservations import NameReservations
from roost.vfs.retry import retry_on_conflict
from roost.vfs.tree import Tree
from roost.vfs.usage import UsageTracker
from roost.vfs.versions import Versions


class Content:
    def __init__(
        self,
        documents: FileDocuments,
        tree: Tree,
        reservations: NameReservations,
        versions: Versions,
        blobs: BlobStore,
        usage: UsageTracker,
    ) -> None:
        self.documents = documents
        self.tree = tree
        self.reservations = reservations
        self.versions = versions
        self.blobs = blobs
        self.usage = usage

    async def stage(
        self,
        instance: Instance,
        chunks: AsyncIterable[bytes],
        *,
        size: int | None = None,
        md5sum: str | None = None,
    ) -> StagedContent:
        """Receive bytes into a temp file (hashed, fsynced), checking the quota.

        With `size` known the quota is checked before reading anything (QuotaExceeded);
        otherwise the upload is aborted as soon as it crosses the quota. `md5sum` (base64,
        from Content-MD5) is verified (ChecksumMismatch). The result is then given to
        `create_file` or `overwrite_file`; discard it (or use `async with`) on any other path.
        """
        await self.documents.ensure(instance)
        room = await self.usage.room(instance)
        if size is not None:
            await self.usage.check_room(instance, size)
        return await self.blobs.stage(chunks, expected_size=size, room=room, expected_md5=md5sum)

    async def create_file(
        self,
        instance: Instance,
        parent: FileDoc,
        name: str,
        content: StagedContent,
        *,
        mime: str | None = None,
        created_at: str | None = None,
        updated_at: str | None = None,
        tags: Iterable[str] = (),
        executable: bool = False,
        app_slug: str | None = None,
    ) -> FileDoc:
        """A new file with staged content; NameTaken if `name` is taken.

        On NameTaken the content stays staged (the caller may overwrite instead).
        """
        name = normalize_name(name)
        self.tree.writable_parent(parent)
        parent = await self.tree.fresh_parent(instance, parent)
        file_id = new_id()
        internal_id = secrets.token_hex(16)
        moment = now_iso()
        mime = mime or guess_mime(name)
        doc: JSONDoc = {
            "_id": file_id,
            "type": "file",
            "name": name,
            "dir_id": parent.id,
            "created_at": checked_time(created_at) or checked_time(updated_at) or moment,
            "updated_at": checked_time(updated_at) or moment,
            "size": str(content.size),
            "md5sum": content.md5sum,
            "sha256": content.sha256,
            "mime": mime,
            "class": mime_class(mime),
            "executable": executable,
            "trashed": False,
            "tags": list(tags),
            "internal_vfs_id": internal_id,
        }
        stamp_metadata(doc, None, app_slug)
        doc["cozyMetadata"]["uploadedAt"] = moment
        if app_slug:
            doc["cozyMetadata"]["uploadedBy"] = {"slug": app_slug}
        return await self.create_file_doc(
            instance,
            parent.id,
            doc,
            lambda: self.blobs.commit(content, instance.domain, file_id, internal_id),
        )

    async def create_file_doc(
        self,
        instance: Instance,
        parent_id: str,
        raw: JSONDoc,
        place_bytes: Callable[[], Awaitable[object]],
    ) -> FileDoc:
        """Reserve the name, put the bytes in place, save the document: all or nothing."""
        file_id, name = raw["_id"], raw["name"]
        await self.reservations.reserve(instance, parent_id, name, file_id)
        try:
            await place_bytes()
            await self.documents.save(instance, raw)
        except BaseException:
            await self.blobs.remove_all(instance.domain, file_id)
            await self.reservations.release(instance, parent_id, name, file_id)
            raise
        self.usage.record(instance, files=int(raw.get("size") or 0))
        return FileDoc(raw)

    async def create_empty_file(
        self,
        instance: Instance,
        parent: FileDoc,
        name: str,
        *,
        mime: str | None = None,
        app_slug: str | None = None,
    ) -> FileDoc:
        """A zero-byte file (WebDAV LOCK on an unmapped URL creates one)."""

        async def nothing() -> AsyncIterable[bytes]:
            return
            yield b""  # pragma: no cover - makes this an async generator

        content = await self.stage(instance, nothing(), size=0)
        async with content:
            return await self.create_file(
                instance, parent, name, content, mime=mime, app_slug=app_slug
            )

    async def overwrite_file(
        self,
        instance: Instance,
        file: FileDoc,
        content: StagedContent,
        *,
        if_rev: str | None = None,
        mime: str | None = None,
        updated_at: str | None = None,
        app_slug: str | None = None,
    ) -> FileDoc:
        """New content for an existing file; the previous content becomes a version.

        Concurrent overwrites all succeed, one after the other (each one's previous content
        is kept as a version); `if_rev` (If-Match) makes it fail with StaleRevision instead.
        """
        if not file.is_file:
            raise IsADirectory(f"{file.name!r} is a directory")
        internal_id = secrets.token_hex(16)
        await self.blobs.commit(content, instance.domain, file.id, internal_id)
        replaced = file

        async def write(current: FileDoc) -> JSONDoc:
            nonlocal replaced
            if if_rev is not None and current.rev != if_rev:
                raise StaleRevision("the file has changed (its revision differs)")
            if current.in_trash:
                raise FileNotFound(f"{file.name!r} is in the trash")
            moment = now_iso()
            doc = dict(current.doc)
            new_mime = mime or current.mime or guess_mime(current.name)
            doc.update(
                {
                    "size": str(content.size),
                    "md5sum": content.md5sum,
                    "sha256": content.sha256,
                    "internal_vfs_id": internal_id,
                    "updated_at": checked_time(updated_at) or moment,
                    "mime": new_mime,
                    "class": mime_class(new_mime),
                }
            )
            stamp_metadata(doc, current.doc, app_slug)
            doc["cozyMetadata"]["uploadedAt"] = moment
            replaced = current
            await self.documents.save(instance, doc)
            return doc

        async def reread() -> FileDoc:
            return await self.documents.get(instance, file.id)

        try:
            doc = await retry_on_conflict(write, file, reread, action="update")
        except BaseException:
            await self.blobs.remove(instance.domain, file.id, internal_id)
            raise
        self.usage.record(instance, files=content.size - replaced.size)
        await self.versions.keep_version(instance, replaced)
        return FileDoc(doc)

    async def revert(
        self,
        instance: Instance,
        file: FileDoc,
        version_id: str,
        *,
        if_rev: str | None = None,
        app_slug: str | None = None,
    ) -> FileDoc:
        """An old content becomes the current one (the content it replaces becomes a version
        in turn). FileNotFound ("missing", as an absent file answers) for a trashed file or
        a version whose bytes are gone."""
        if not file.is_file:
            raise IsADirectory(f"{file.name!r} is a directory: it has no versions")
        if file.in_trash:
            raise FileNotFound("missing")
        version = await self.versions.get(instance, file.id, version_id)
        old = self.versions.open(instance, version)
        try:
            staged = await self.stage(instance, old.chunks(), size=old.size, md5sum=old.md5sum)
        except BlobMissing:
            raise FileNotFound("missing") from None
        async with staged as content:
            return await self.overwrite_file(
                instance, file, content, if_rev=if_rev or file.rev, app_slug=app_slug
            )

    def open(self, instance: Instance, file: FileDoc) -> FileContent:
        """Where to read the current content of a file."""
        if not file.is_file:
            raise IsADirectory(f"{file.name!r} is a directory")
        internal_id = file.internal_id
        if internal_id is None:
            raise FileNotFound(f"{file.name!r} has no content")
        return FileContent(
            blobs=self.blobs,
            domain=instance.domain,
            file_id=file.id,
            internal_id=internal_id,
            size=file.size,
            md5sum=file.md5sum,
            sha256=file.sha256,
            mime=file.mime or guess_mime(file.name),
            etag=file.etag,
        )
