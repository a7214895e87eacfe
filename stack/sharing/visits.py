"""What one visit through an open share link may see: the link's set, nothing more.

Every question is asked of `roost.permissions.decide` with the **link's** permission set
(never the owner's), at the visit's time: a file outside what is shared is answered exactly
as a missing one (None), so a visitor cannot tell them apart. The public pages
(`roost.web.pages.shared`) ask these and render the answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from roost.documents import DocumentService
from roost.instances import Instance
from roost.permissions import FILES_DOCTYPE, DocumentTarget, FileTarget, decide
from roost.sharing.links import ShareLink
from roost.sharing.requests import ALBUMS_DOCTYPE
from roost.vfs import VFS, FileDoc, NameTaken
from roost.vfs.blob_store import StagedContent
from roost.vfs.errors import BlobMissing
from roost.vfs.mime import mime_class
from roost.vfs.names import conflict_name

__all__ = ["LinkVisit"]


@dataclass
class LinkVisit:
    vfs: VFS
    documents: DocumentService
    instance: Instance
    link: ShareLink
    now: datetime

    def allows(self, verb: str, doctype: str, target: Any, visible: Any = None) -> bool:
        return decide(
            self.link.permissions,
            verb,
            doctype,
            target,
            now=self.now,
            surface="stack",
            visible=visible,
        ).allowed

    async def readable(self, file_id: str) -> tuple[FileDoc, FileTarget] | None:
        """A file or folder this link may read, or None (absent, trashed or not shared)."""
        doc = await self.vfs.get_or_none(self.instance, file_id)
        if doc is None or doc.in_trash or doc.is_trash_dir:
            return None
        target = await self.vfs.targets(self.instance).for_doc(doc)
        if not self.allows("GET", FILES_DOCTYPE, target):
            return None
        return doc, target

    async def readable_file(self, file_id: str) -> FileDoc | None:
        """A file (not a folder) this link may read, or None."""
        found = await self.readable(file_id)
        return found[0] if found is not None and found[0].is_file else None

    async def readable_folder(self, folder_id: str) -> FileDoc | None:
        """A folder this link may read, or None."""
        found = await self.readable(folder_id)
        return found[0] if found is not None and found[0].is_dir else None

    async def listing(self, folder: FileDoc, limit: int) -> list[FileDoc]:
        """The first `limit` entries of `folder` this link may read: folders first, then by
        name."""
        targets = self.vfs.targets(self.instance)
        shown = [
            child
            for child in await self.vfs.list_dir(self.instance, folder)
            if not child.is_trash_dir
            and not child.in_trash
            and self.allows("GET", FILES_DOCTYPE, await targets.for_child(folder, child))
        ][:limit]
        shown.sort(key=lambda d: (not d.is_dir, d.name.casefold()))
        return shown

    async def trail(self, folder: FileDoc) -> list[FileDoc]:
        """The folders from the shared one down to `folder` (never above what is shared)."""
        trail: list[FileDoc] = []
        current: FileDoc | None = folder
        while current is not None:
            trail.append(current)
            if current.id == self.link.item.id or current.dir_id is None:
                break
            parent = await self.readable(current.dir_id)
            current = parent[0] if parent else None
        trail.reverse()
        return trail

    async def text_head(self, doc: FileDoc, limit: int) -> str | None:
        """The first `limit` bytes of a text file, decoded (None when its bytes are gone)."""
        content = await self.vfs.open(self.instance, doc)
        try:
            reader = await content.open()
        except BlobMissing:
            return None
        chunks: list[bytes] = []
        try:
            async for chunk in reader.read(0, min(reader.size, limit)):
                chunks.append(chunk)
        finally:
            reader.close()
        return b"".join(chunks).decode("utf-8", errors="replace")

    async def album(self) -> dict[str, Any] | None:
        """The shared album, or None (deleted since, or not readable)."""
        album = await self.documents.get_or_none(self.instance, ALBUMS_DOCTYPE, self.link.item.id)
        if album is None or not self.allows("GET", ALBUMS_DOCTYPE, DocumentTarget(album)):
            return None
        return album

    async def album_photos(self) -> list[FileDoc]:
        """The files of the shared album this link may read."""
        targets = self.vfs.targets(self.instance)
        photos = []
        for doc in await self.vfs.referencing(self.instance, ALBUMS_DOCTYPE, self.link.item.id):
            if doc.is_file and not doc.in_trash:
                if self.allows("GET", FILES_DOCTYPE, await targets.for_doc(doc)):
                    photos.append(doc)
        return photos

    async def drop_folder(self) -> FileDoc | None:
        """The folder a drop link fills, or None when it was deleted or trashed since."""
        folder = await self.vfs.get_or_none(self.instance, self.link.item.id)
        if folder is None or folder.in_trash or not folder.is_dir:
            return None
        return folder

    async def may_drop(self, folder: FileDoc) -> bool:
        """Whether this link may add files to `folder` at all (a drop link's page)."""
        target = await self.vfs.targets(self.instance).for_doc(folder)
        return self.allows("POST", FILES_DOCTYPE, target)

    async def may_drop_file(self, folder: FileDoc, name: str, mime: str | None) -> bool:
        """Whether this link may add the file `name` (of type `mime`) to `folder`."""
        targets = self.vfs.targets(self.instance)
        folder_target = await targets.for_doc(folder)
        new = await targets.for_new(
            folder, name, type="file", mime=mime or "", class_=mime_class(mime) if mime else ""
        )
        return self.allows("POST", FILES_DOCTYPE, new, visible=folder_target)

    async def drop_file(
        self, folder: FileDoc, name: str, content: StagedContent, mime: str | None, attempts: int
    ) -> FileDoc | None:
        """`content` saved in `folder` as `name`, or under the first free `name (2).ext`…
        within `attempts` names (None when all were taken): a drop never overwrites."""
        for attempt in range(attempts):
            candidate = name if attempt == 0 else conflict_name(name, attempt, is_dir=False)
            if await self.vfs.child(self.instance, folder, candidate) is not None:
                continue
            try:
                return await self.vfs.create_file(
                    self.instance, folder, candidate, content, mime=mime
                )
            except NameTaken:
                continue  # taken meanwhile by another upload: try the next name
        return None
