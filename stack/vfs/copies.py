"""Copies: a file's bytes are shared through a hard link (a blob never changes), a
directory is copied entry by entry."""

from __future__ import annotations

import secrets

from roost.doctypes import stamp_metadata
from roost.instances import Instance
from roost.types import JSONDoc
from roost.vfs.blob_store import BlobStore
from roost.vfs.content import Content
from roost.vfs.documents import new_id
from roost.vfs.errors import InvalidMove
from roost.vfs.filedoc import FileDoc, now_iso
from roost.vfs.metadata import Metadata
from roost.vfs.names import normalize_name
from roost.vfs.tree import Tree
from roost.vfs.usage import UsageTracker


class Copier:
    def __init__(
        self,
        tree: Tree,
        content: Content,
        metadata: Metadata,
        blobs: BlobStore,
        usage: UsageTracker,
    ) -> None:
        self.tree = tree
        self.content = content
        self.metadata = metadata
        self.blobs = blobs
        self.usage = usage

    async def copy(
        self,
        instance: Instance,
        doc: FileDoc,
        parent: FileDoc,
        name: str | None = None,
        *,
        app_slug: str | None = None,
    ) -> FileDoc:
        """A copy of a file (bytes shared through a hard link) or of a directory tree."""
        self.tree.writable_parent(parent)
        if not doc.is_dir:
            parent = await self.tree.fresh_parent(instance, parent)
        new_name = normalize_name(name) if name is not None else doc.name
        if doc.is_dir:
            parent_path = parent.path or "/"
            if parent.id == doc.id or parent_path.startswith((doc.path or "/") + "/"):
                raise InvalidMove("a directory cannot be copied into itself")
            copied = await self.tree.create_dir(
                instance,
                parent,
                new_name,
                created_at=doc.created_at or None,
                updated_at=doc.updated_at or None,
                tags=doc.tags,
                app_slug=app_slug,
            )
            if doc.dav_properties:
                copied = await self.metadata.set_dav_properties(
                    instance, copied, set_properties=doc.dav_properties
                )
            for child in await self.tree.list_dir(instance, doc, fresh=True):
                await self.copy(instance, child, copied, app_slug=app_slug)
            return copied
        await self.usage.check_room(instance, doc.size)
        file_id = new_id()
        internal_id = secrets.token_hex(16)
        moment = now_iso()
        raw: JSONDoc = {
            key: value
            for key, value in doc.doc.items()
            if key not in ("_id", "_rev", "referenced_by", "restore_path", "cozyMetadata")
        }
        raw.update(
            {
                "_id": file_id,
                "name": new_name,
                "dir_id": parent.id,
                "trashed": False,
                "internal_vfs_id": internal_id,
            }
        )
        stamp_metadata(raw, None, app_slug)
        raw["cozyMetadata"]["uploadedAt"] = moment
        source_internal = doc.internal_id

        async def place_bytes() -> None:
            if source_internal is None:
                await self.blobs.write_empty(instance.domain, file_id, internal_id)
            else:
                await self.blobs.link(
                    instance.domain, doc.id, source_internal, file_id, internal_id
                )

        return await self.content.create_file_doc(instance, parent.id, raw, place_bytes)
