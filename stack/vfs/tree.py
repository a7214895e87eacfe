"""The tree: finding entries (by name, path, listing) and shaping it (new directories,
moves and renames, which repath a moved directory's descendants)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from roost.doctypes import stamp_metadata
from roost.errors import Conflict, Forbidden
from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID
from roost.types import JSONDoc
from roost.vfs.directory_cache import DirectoryCache
from roost.vfs.documents import MAX_DEPTH, FileDocuments, name_key, new_id
from roost.vfs.errors import (
    FileNotFound,
    InvalidMove,
    NameTaken,
    NotADirectory,
    ParentMissing,
    StaleRevision,
)
from roost.vfs.filedoc import FileDoc, checked_time, now_iso
from roost.vfs.mime import guess_mime, mime_class
from roost.vfs.names import join_path, normalize_name, split_path
from roost.vfs.reservations import NameReservations
from roost.vfs.retry import retry_on_conflict
from roost.vfs.targets import FileTargets

# How long a directory confirmed by `Tree.confirm_place` is trusted without a read: the
# time a small upload takes, not a large one's.
CONFIRMED_SECONDS: Final = 0.5


class Tree:
    def __init__(
        self, documents: FileDocuments, reservations: NameReservations, cache: DirectoryCache
    ) -> None:
        self.documents = documents
        self.reservations = reservations
        self.cache = cache

    # -- finding entries -------------------------------------------------------------------

    async def child(
        self, instance: Instance, directory: FileDoc | str, name: str, *, reading: bool = False
    ) -> FileDoc | None:
        """The entry called `name` in `directory`, or None.

        `reading`: for a read that follows at once (a download). When this process holds a
        listing of the folder, the folder's subtree stamp is read (one small read, shared by
        the concurrent downloads of the folder) instead of the name and the document: if
        the stamp is the one the listing goes with, nothing changed below the folder in any
        process since, and the listing answers. So a download sees every write acknowledged
        before it, whichever process made it, exactly as reading the documents would."""
        dir_id = directory if isinstance(directory, str) else directory.id
        name = normalize_name(name)
        cached = self.cache.child(instance, dir_id, name)
        if cached is not None:
            return cached
        known = self.cache.token_to_check(instance, dir_id) if reading else None
        if known is not None and isinstance(directory, FileDoc):
            stamp = await self._stamp(instance, directory, since=known)
            if self.cache.confirm(instance, dir_id, stamp):
                return self.cache.listed(instance, dir_id, name)
        await self.documents.ensure(instance)
        holder_id = await self.reservations.holder(instance, dir_id, name)
        if holder_id is None:
            return None
        doc = await self.documents.get_or_none(instance, holder_id)
        if doc is None or doc.dir_id != dir_id or doc.name != name:
            return None
        if doc.is_dir:
            self.cache.remember(instance, doc)
        return doc

    async def list_dir(
        self, instance: Instance, directory: FileDoc, *, fresh: bool = False
    ) -> list[FileDoc]:
        """Every entry of a directory, sorted by name (the trash directory included for root).

        A listing read less than the cache's ttl ago is reused unless `fresh` (any change
        this process makes to the instance's files drops them): file managers list the same
        folder many times in a row. Pass `fresh=True` before acting on the entries.
        """
        if not directory.is_dir:
            raise NotADirectory(f"{directory.name!r} is not a directory")
        if not fresh:
            cached = self.cache.listing(instance, directory.id)
            known = self.cache.token_to_check(instance, directory.id)
            if cached is None and known is not None:
                # Past the ttl: still the listing if the folder's stamp has not moved.
                stamp = await self._stamp(instance, directory, since=known)
                cached = self.cache.checked(instance, directory.id, stamp)
            if cached is not None:
                cached.sort(key=lambda doc: doc.name)
                return cached
        generation = self.cache.generation(instance)
        read_at = time.monotonic()
        # The stamp first: a write after it changes it, so the listing is never kept
        # with a stamp older than what it shows.
        stamp = await self._stamp(instance, directory)
        entries = await self._read_dir(instance, directory)
        self.cache.keep_listing(
            instance, directory.id, entries, read_at=read_at, generation=generation, token=stamp
        )
        return list(entries)

    async def _stamp(self, instance: Instance, directory: FileDoc, *, since: str = "") -> str:
        """The folder's stamp as stored now ("" for none); `since`: one seen before."""
        place = (directory.id, directory.dir_id or "")
        return await self.documents.stamps.current(instance, place, since=since)

    async def _read_dir(self, instance: Instance, directory: FileDoc) -> list[FileDoc]:
        await self.documents.ensure(instance)
        expected = await self.reservations.entries(instance, directory.id)
        docs = await self.documents.get_many(instance, expected)
        entries = [
            doc
            for file_id, doc in docs.items()
            if doc.dir_id == directory.id and doc.name == expected[file_id]
        ]
        entries.sort(key=lambda doc: doc.name)
        return entries

    async def lookup(
        self, instance: Instance, path: str, *, targets: FileTargets | None = None
    ) -> FileDoc:
        """The file or directory at an absolute path (`/Photos/2024/a.jpg`), or FileNotFound.

        Walks from the root one name at a time; every directory crossed is remembered by
        `targets`, so the permission target of the result costs no further reads.
        """
        parts = split_path(path)
        current = await self.documents.directory(instance, ROOT_DIR_ID)
        if targets is not None:
            targets.remember(current)
        for part in parts:
            if not current.is_dir:
                raise FileNotFound(f"{path} does not exist")
            found = await self.child(instance, current, part)
            if found is None:
                raise FileNotFound(f"{path} does not exist")
            current = found
            if targets is not None:
                targets.remember(current)
        return current

    async def lookup_or_none(
        self, instance: Instance, path: str, *, targets: FileTargets | None = None
    ) -> FileDoc | None:
        try:
            return await self.lookup(instance, path, targets=targets)
        except FileNotFound:
            return None

    async def path_of(
        self, instance: Instance, doc: FileDoc, *, targets: FileTargets | None = None
    ) -> str:
        """The absolute path of a file or directory."""
        if doc.is_dir:
            return doc.path or "/"
        if doc.dir_id is None:
            return "/" + doc.name
        parent = (
            await targets.directory(doc.dir_id)
            if targets is not None
            else await self.documents.directory(instance, doc.dir_id)
        )
        return join_path(parent.path or "/", doc.name)

    # -- parents ---------------------------------------------------------------------------

    @staticmethod
    def writable_parent(parent: FileDoc) -> None:
        if not parent.is_dir:
            raise NotADirectory(f"{parent.name!r} is not a directory")
        if parent.in_trash:
            raise Forbidden("nothing can be created in the trash")

    async def confirm_place(self, instance: Instance, directory: FileDoc) -> FileDoc:
        """The directory, confirmed where this copy says it stands, for a write into it
        that follows at once (`fresh_parent` then reads nothing); unconfirmed if that
        cannot be told cheaply.

        A directory and its ancestors stand where their cached copies say exactly when the
        name reservation of each still names it: a move, a rename or the trash reserves the
        new place and releases the old. Those reservations are known keys of the names
        database, so this read joins the request's name lookup (and the other reads
        waiting for that database) instead of reading the directory itself.
        """
        started = time.monotonic()
        chain: list[FileDoc] = []
        current: FileDoc | None = directory
        while current is not None and current.dir_id is not None:
            if len(chain) >= MAX_DEPTH:
                return directory
            chain.append(current)
            current = self.cache.directory(instance, current.dir_id)
        if current is None:
            return directory  # an ancestor is not cached: fresh_parent will read
        keys = [name_key(entry.dir_id or "", entry.name) for entry in chain]
        if keys:
            await self.documents.ensure(instance)
            found = await self.documents.couch.get_docs(self.documents.names_db(instance), keys)
            for reservation, entry in zip(found, chain, strict=True):
                if reservation is None or reservation.get("file_id") != entry.id:
                    return directory
        return dataclasses.replace(directory, confirmed_at=started)

    async def fresh_parent(self, instance: Instance, parent: FileDoc) -> FileDoc:
        """The parent as stored now: the caller's copy may come from a cache or an earlier
        read, and a new entry's `path` and trash state must follow the current one.

        A copy that `confirm_place` confirmed less than `CONFIRMED_SECONDS` ago is taken
        as it is (a long upload since then: read again)."""
        confirmed = parent.confirmed_at
        if confirmed is not None and time.monotonic() - confirmed < CONFIRMED_SECONDS:
            self.writable_parent(parent)
            return parent
        fresh = await self.documents.get_or_none(instance, parent.id)
        if fresh is None:
            raise ParentMissing(f"the directory {parent.name!r} no longer exists")
        if fresh.rev != parent.rev:
            self.cache.forget_directories(instance)
        self.writable_parent(fresh)
        return fresh

    # -- directories -----------------------------------------------------------------------

    async def create_dir(
        self,
        instance: Instance,
        parent: FileDoc,
        name: str,
        *,
        created_at: str | None = None,
        updated_at: str | None = None,
        tags: Iterable[str] = (),
        app_slug: str | None = None,
    ) -> FileDoc:
        """A new empty directory; NameTaken if `name` is taken in `parent`."""
        name = normalize_name(name)
        self.writable_parent(parent)
        parent = await self.fresh_parent(instance, parent)
        moment = now_iso()
        doc: JSONDoc = {
            "_id": new_id(),
            "type": "directory",
            "name": name,
            "dir_id": parent.id,
            "path": join_path(parent.path or "/", name),
            "created_at": checked_time(created_at) or moment,
            "updated_at": checked_time(updated_at) or checked_time(created_at) or moment,
            "tags": list(tags),
        }
        stamp_metadata(doc, None, app_slug)
        await self.reservations.reserve(instance, parent.id, name, doc["_id"])
        try:
            await self.documents.save(instance, doc)
        except BaseException:
            await self.reservations.release(instance, parent.id, name, doc["_id"])
            raise
        return FileDoc(doc)

    async def make_dirs(
        self, instance: Instance, path: str, *, app_slug: str | None = None
    ) -> FileDoc:
        """`mkdir -p`: the directory at `path`, creating what is missing."""
        current = await self.documents.directory(instance, ROOT_DIR_ID)
        for part in split_path(path):
            found = await self.child(instance, current, part)
            if found is None:
                try:
                    found = await self.create_dir(instance, current, part, app_slug=app_slug)
                except NameTaken:
                    found = await self.child(instance, current, part)
                    if found is None:
                        raise
            if not found.is_dir:
                raise NotADirectory(f"{part!r} in {path} is a file")
            current = found
        return current

    # -- move and rename -------------------------------------------------------------------

    async def move(
        self,
        instance: Instance,
        doc: FileDoc,
        *,
        parent: FileDoc | None = None,
        name: str | None = None,
        if_rev: str | None = None,
        updated_at: str | None = None,
        app_slug: str | None = None,
    ) -> FileDoc:
        """Rename and/or move (metadata only; a directory's descendants get their new paths).

        NameTaken if the name is taken in the destination; InvalidMove for a directory moved
        into its own subtree, or the root/trash moved.
        """
        if doc.is_root or doc.is_trash_dir:
            raise InvalidMove("the root and trash directories cannot be moved")
        target_parent = parent or await self.documents.get(instance, doc.dir_id or ROOT_DIR_ID)
        self.writable_parent(target_parent)
        target_parent = await self.fresh_parent(instance, target_parent)
        new_name = normalize_name(name) if name is not None else doc.name
        return await self.relocate(
            instance,
            doc,
            target_parent,
            new_name,
            if_rev=if_rev,
            extra={"updated_at": checked_time(updated_at)} if updated_at else None,
            app_slug=app_slug,
        )

    async def relocate(
        self,
        instance: Instance,
        doc: FileDoc,
        parent: FileDoc,
        name: str,
        *,
        if_rev: str | None = None,
        extra: Mapping[str, Any] | None = None,
        drop: Iterable[str] = (),
        app_slug: str | None = None,
    ) -> FileDoc:
        """Give `doc` a new parent and/or name (and the `extra` fields), keeping names unique."""
        if not parent.is_dir:
            raise NotADirectory(f"{parent.name!r} is not a directory")
        if doc.is_dir:
            # A directory's new path derives from its parent's: never from a stale copy.
            fresh = await self.documents.get_or_none(instance, parent.id)
            if fresh is None or not fresh.is_dir:
                raise ParentMissing(f"the directory {parent.name!r} no longer exists")
            parent = fresh
            old_path = doc.path or "/"
            parent_path = parent.path or "/"
            if parent.id == doc.id or parent_path.startswith(old_path + "/"):
                raise InvalidMove("a directory cannot be moved into itself")
        same_place = parent.id == doc.dir_id and name == doc.name
        dropped = list(drop)
        if same_place and not extra and not dropped:
            return doc
        if not same_place:
            await self.reservations.reserve(instance, parent.id, name, doc.id)
        destination = parent

        async def write(current: FileDoc) -> JSONDoc:
            if if_rev is not None and current.rev != if_rev:
                raise StaleRevision("the file has changed (its revision differs)")
            if current.dir_id != doc.dir_id or current.name != doc.name:
                raise Conflict("the file was moved meanwhile; try again")
            raw = dict(current.doc)
            raw["dir_id"] = destination.id
            raw["name"] = name
            if current.is_dir:
                raw["path"] = join_path(destination.path or "/", name)
            if current.is_file and "mime" not in (extra or {}) and name != current.name:
                new_mime = guess_mime(name)
                if new_mime != "application/octet-stream" or not current.mime:
                    raw["mime"] = new_mime
                    raw["class"] = mime_class(new_mime)
            for key in dropped:
                raw.pop(key, None)
            raw.update(extra or {})
            stamp_metadata(raw, current.doc, app_slug)
            await self.documents.save(instance, raw, moved_from=current.dir_id)
            return raw

        async def reread() -> FileDoc:
            return await self.documents.get(instance, doc.id)

        try:
            raw = await retry_on_conflict(write, doc, reread, action="move")
        except BaseException:
            if not same_place:
                await self.reservations.release(instance, parent.id, name, doc.id)
            raise
        if not same_place:
            await self.reservations.release(instance, doc.dir_id or ROOT_DIR_ID, doc.name, doc.id)
        moved = FileDoc(raw)
        if moved.is_dir:
            self.cache.forget_directories(instance)
        if moved.is_dir and moved.path != doc.path:
            await self._repath_descendants(instance, moved)
        return moved

    async def _repath_descendants(self, instance: Instance, directory: FileDoc) -> None:
        """Give every directory below `directory` the path under its new location."""
        pending = [directory]
        while pending:
            current = pending.pop()
            children = [c for c in await self.list_dir(instance, current, fresh=True) if c.is_dir]
            updates: list[JSONDoc] = []
            for child in children:
                raw = dict(child.doc)
                raw["path"] = join_path(current.path or "/", child.name)
                updates.append(raw)
            if updates:
                results = await self.documents.save_many(instance, updates)
                for raw, result in zip(updates, results, strict=False):
                    if "rev" in result:
                        raw["_rev"] = result["rev"]
            pending.extend(FileDoc(raw) for raw in updates)
