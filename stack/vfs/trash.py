"""The trash, and deletion for good: trashing moves an entry under the trash directory
(renamed there on conflict) remembering where it came from; restoring brings it back;
destroying removes documents, names, versions and bytes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from roost.errors import Conflict
from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID, TRASH_DIR_ID
from roost.vfs.blob_store import BlobStore
from roost.vfs.documents import FileDocuments, name_key
from roost.vfs.errors import FixedDirectory, InvalidMove, NameTaken, NotInTrash
from roost.vfs.filedoc import FileDoc
from roost.vfs.names import conflict_name
from roost.vfs.reservations import NameReservations
from roost.vfs.targets import FileTargets
from roost.vfs.tree import Tree
from roost.vfs.usage import UsageTracker
from roost.vfs.versions import Versions

_FREE_NAME_ATTEMPTS: Final = 1000


class Trash:
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

    async def trash(
        self, instance: Instance, doc: FileDoc, *, app_slug: str | None = None
    ) -> FileDoc:
        """Move to the trash (renamed there on conflict); `restore` brings it back."""
        if doc.is_root or doc.is_trash_dir:
            raise FixedDirectory("the root and trash directories cannot be trashed")
        if doc.in_trash:
            raise Conflict(f"{doc.name!r} is already in the trash")
        parent = await self.documents.get(instance, doc.dir_id or ROOT_DIR_ID)
        trash_dir = await self.documents.directory(instance, TRASH_DIR_ID)
        extra: dict[str, Any] = {"restore_path": parent.path or "/"}
        if doc.is_file:
            extra["trashed"] = True
        moved = await self._relocate_renaming(
            instance, doc, trash_dir, extra=extra, app_slug=app_slug
        )
        if moved.is_file:
            self.usage.record(instance, files=-moved.size, trash=moved.size)
        return moved

    @staticmethod
    def check_restorable(doc: FileDoc) -> None:
        """Only the top entries of the trash are restored (their content comes along)."""
        if doc.dir_id != TRASH_DIR_ID:
            raise NotInTrash(f"{doc.name!r} is not at the top of the trash")

    async def restore_destination(
        self, instance: Instance, doc: FileDoc, *, targets: FileTargets | None = None
    ) -> FileDoc:
        """The deepest directory of the restore path that exists now (`restore` recreates
        the rest)."""
        path = doc.restore_path or "/"
        while True:
            found = await self.tree.lookup_or_none(instance, path, targets=targets)
            if found is not None and found.is_dir and not found.in_trash:
                return found
            if path in ("", "/"):
                return await self.documents.get(instance, ROOT_DIR_ID)
            path = path.rsplit("/", 1)[0] or "/"

    async def restore(
        self, instance: Instance, doc: FileDoc, *, app_slug: str | None = None
    ) -> FileDoc:
        """Back from the trash into its original folder (recreated if gone), renamed on conflict."""
        self.check_restorable(doc)
        parent = await self.tree.make_dirs(instance, doc.restore_path or "/", app_slug=app_slug)
        moved = await self._relocate_renaming(
            instance,
            doc,
            parent,
            extra={"trashed": False} if doc.is_file else None,
            drop=("restore_path",),
            app_slug=app_slug,
        )
        if moved.is_file:
            self.usage.record(instance, files=moved.size, trash=-moved.size)
        return moved

    async def _relocate_renaming(
        self,
        instance: Instance,
        doc: FileDoc,
        parent: FileDoc,
        *,
        extra: Mapping[str, Any] | None = None,
        drop: Iterable[str] = (),
        app_slug: str | None = None,
    ) -> FileDoc:
        for attempt in range(_FREE_NAME_ATTEMPTS):
            name = doc.name if attempt == 0 else conflict_name(doc.name, attempt, is_dir=doc.is_dir)
            try:
                return await self.tree.relocate(
                    instance, doc, parent, name, extra=extra, drop=drop, app_slug=app_slug
                )
            except NameTaken:
                continue
        raise NameTaken(f"no free name for {doc.name!r} in {parent.path}")

    async def entries(self, instance: Instance) -> list[FileDoc]:
        trash_dir = await self.documents.get(instance, TRASH_DIR_ID)
        return await self.tree.list_dir(instance, trash_dir, fresh=True)

    async def empty(self, instance: Instance) -> None:
        for doc in await self.entries(instance):
            await self.destroy(instance, doc)

    @staticmethod
    def check_destroyable(doc: FileDoc) -> None:
        """Deleting for good is for what is in the trash (trash it first)."""
        if not doc.in_trash or doc.is_trash_dir:
            raise NotInTrash(f"{doc.name!r} is not in the trash: trash it first")

    async def destroy(self, instance: Instance, doc: FileDoc) -> None:
        """Delete for good, recursively: documents, names, versions and bytes."""
        if doc.is_root or doc.is_trash_dir:
            raise InvalidMove("the root and trash directories cannot be deleted")
        if doc.is_dir:
            self.documents.cache.forget_directories(instance)
        in_trash = doc.in_trash
        if doc.is_dir:
            children = await self.tree.list_dir(instance, doc, fresh=True)
            for child in children:
                if child.is_dir:
                    await self.destroy(instance, child)
            files = [child for child in children if child.is_file]
            await self._destroy_files(instance, doc, files, in_trash=in_trash)
        else:
            parent_id = doc.dir_id or ROOT_DIR_ID
            await self._destroy_files(instance, None, [doc], in_trash=in_trash, parent_id=parent_id)
            return
        await self.documents.delete(instance, doc)
        await self.reservations.release(instance, doc.dir_id or ROOT_DIR_ID, doc.name, doc.id)

    async def _destroy_files(
        self,
        instance: Instance,
        directory: FileDoc | None,
        files: list[FileDoc],
        *,
        in_trash: bool,
        parent_id: str | None = None,
    ) -> None:
        if not files:
            return
        deletions = [{"_id": f.id, "_rev": f.rev, "_deleted": True} for f in files]
        results = await self.documents.save_many(
            instance, deletions, within=[directory.id if directory else parent_id or ROOT_DIR_ID]
        )
        gone: list[FileDoc] = []
        for file, result in zip(files, results, strict=False):
            if result.get("ok") or "rev" in result:
                gone.append(file)
            else:
                # Changed meanwhile: delete the fresh revision.
                fresh = await self.documents.get_or_none(instance, file.id)
                if fresh is not None:
                    await self.documents.delete(instance, fresh)
                    gone.append(fresh)
        names = [
            name_key(directory.id if directory else (parent_id or ROOT_DIR_ID), f.name)
            for f in gone
        ]
        await self.reservations.release_many(instance, names, {f.id for f in gone})
        versions_total = 0
        for file in gone:
            versions_total += await self.versions.forget_all(instance, file.id)
            await self.blobs.remove_all(instance.domain, file.id)
        size = sum(f.size for f in gone)
        trashed = sum(f.size for f in gone if in_trash or f.trashed)
        self.usage.record(
            instance, files=-(size - trashed), trash=-trashed, versions=-versions_total
        )
