"""The `io.cozy.files` documents of an instance: its databases, their set-up, reads and
writes (every write tells the directory cache, so no listing outlives a change)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterable
from typing import Final

from roost.couch import CouchClient
from roost.errors import Conflict, NotFound, RoostError
from roost.instances import Instance
from roost.permissions import FILES_DOCTYPE, ROOT_DIR_ID, TRASH_DIR_ID
from roost.types import DocId, JSONDoc, Rev
from roost.vfs.directory_cache import DirectoryCache
from roost.vfs.errors import FileNotFound, NotADirectory, WriteConflict
from roost.vfs.filedoc import TRASH_DIR_NAME, VERSIONS_DOCTYPE, FileDoc, root_dir_doc, trash_dir_doc
from roost.vfs.listeners import FileListeners
from roost.vfs.retry import retry_on_conflict
from roost.vfs.stamps import SubtreeStamps
from roost.vfs.usage import UsageTracker

NAMES_DOCTYPE: Final = "io.roost.files.names"
# Deeper than any real tree: a walk up stops there (only a corrupted tree has a cycle).
MAX_DEPTH: Final = 512


def new_id() -> DocId:
    return DocId(uuid.uuid4().hex)


def name_key(dir_id: str, name: str) -> str:
    """The id of the reservation of `name` in the directory `dir_id`."""
    return f"{dir_id}/{name}"


class FileDocuments:
    def __init__(self, couch: CouchClient, cache: DirectoryCache, usage: UsageTracker) -> None:
        self.couch = couch
        self.cache = cache
        self.usage = usage
        self.ready: set[str] = set()
        self._ready_lock = asyncio.Lock()
        # Told of every document written (the @event triggers and thumbnails hear of it).
        self.listeners = FileListeners()
        # Every write changes the subtree stamps of the directories above it; the cached
        # listings follow the stamps this process moves.
        self.stamps = SubtreeStamps(couch, on_stamped=cache.stamped)

    # -- databases and set-up --------------------------------------------------------------

    @staticmethod
    def files_db(instance: Instance) -> str:
        return instance.db(FILES_DOCTYPE)

    @staticmethod
    def names_db(instance: Instance) -> str:
        return instance.db(NAMES_DOCTYPE)

    @staticmethod
    def versions_db(instance: Instance) -> str:
        return instance.db(VERSIONS_DOCTYPE)

    async def ensure(self, instance: Instance) -> None:
        """Create the root and trash directories and the indexes, once per process."""
        if instance.domain in self.ready:
            return
        async with self._ready_lock:
            if instance.domain in self.ready:
                return
            db = self.files_db(instance)
            for doc in (root_dir_doc(), trash_dir_doc()):
                try:
                    await self.couch.put_doc(db, doc)
                except Conflict:
                    pass  # created by an earlier process: the fixed ids make this idempotent
            try:
                await self.couch.put_doc(
                    self.names_db(instance),
                    {"_id": name_key(ROOT_DIR_ID, TRASH_DIR_NAME), "file_id": TRASH_DIR_ID},
                )
            except Conflict:
                pass
            await self.couch.ensure_db(self.versions_db(instance))
            await self.couch.create_index(
                db,
                {
                    "index": {"fields": ["dir_id", "name"]},
                    "ddoc": "by-dir-name",
                    "name": "dir-name",
                },
            )
            await self.couch.create_index(
                db, {"index": {"fields": ["path"]}, "ddoc": "by-path", "name": "path"}
            )
            await self.usage.ensure_views(instance)
            self.ready.add(instance.domain)

    # -- reads -----------------------------------------------------------------------------

    async def get(self, instance: Instance, file_id: str) -> FileDoc:
        doc = await self.get_or_none(instance, file_id)
        if doc is None:
            raise FileNotFound(f"no file or directory {file_id}")
        return doc

    async def get_or_none(self, instance: Instance, file_id: str) -> FileDoc | None:
        if not file_id or file_id.startswith("_"):
            return None
        await self.ensure(instance)
        raw = await self.couch.get_doc_or_none(self.files_db(instance), file_id)
        if raw is None or raw.get("type") not in ("file", "directory"):
            return None
        return FileDoc(raw)

    async def get_many(self, instance: Instance, ids: Iterable[str]) -> dict[str, FileDoc]:
        wanted = [i for i in ids if i and not i.startswith("_")]
        if not wanted:
            return {}
        await self.ensure(instance)
        result = await self.couch.all_docs(
            self.files_db(instance), keys=wanted, params={"include_docs": True}
        )
        found: dict[str, FileDoc] = {}
        for row in result["rows"]:
            raw = row.get("doc")
            if raw and raw.get("type") in ("file", "directory"):
                found[raw["_id"]] = FileDoc(raw)
        return found

    async def directory(self, instance: Instance, dir_id: str) -> FileDoc:
        """A directory by id, from the short-lived cache when fresh (FileNotFound,
        NotADirectory). Use `get` when the latest revision matters (before a write)."""
        cached = self.cache.directory(instance, dir_id)
        if cached is not None:
            return cached
        doc = await self.get(instance, dir_id)
        if not doc.is_dir:
            raise NotADirectory(f"{doc.name!r} is not a directory")
        self.cache.remember(instance, doc)
        return doc

    # -- subtree stamps --------------------------------------------------------------------

    async def ancestry(self, instance: Instance, dir_id: str) -> list[tuple[str, str]]:
        """`dir_id` and the directories above it up to the root, each with its parent's id
        ("" for the root), from the directory cache when fresh: a write into a folder just
        resolved reads nothing."""
        chain: list[tuple[str, str]] = []
        seen: set[str] = set()
        current: str | None = dir_id
        while current and current not in seen and len(chain) < MAX_DEPTH:
            seen.add(current)
            # Read through the cache without filling it: a directory being deleted must
            # not be remembered again by the stamps of its own deletion.
            found = self.cache.directory(instance, current) or await self.get_or_none(
                instance, current
            )
            if found is None:
                break
            parent = found.dir_id
            chain.append((current, parent or ""))
            current = parent
        return chain

    async def touch(self, instance: Instance, *dir_ids: str | None) -> None:
        """Something in each of `dir_ids` changed: change the stamps of it and its ancestors."""
        touched: set[tuple[str, str]] = set()
        done: set[str] = set()
        for dir_id in dict.fromkeys(dir_ids):
            if dir_id and dir_id not in done:
                try:
                    chain = await self.ancestry(instance, dir_id)
                except RoostError:
                    # The write is done; a stamp left unchanged costs a sync client one
                    # extra walk later, never a wrong file, so it must not fail the write.
                    continue
                touched.update(chain)
                done.update(place[0] for place in chain)
        await self.stamps.touch(instance, touched)

    async def with_stamps(self, instance: Instance, docs: list[FileDoc]) -> list[FileDoc]:
        """The same documents, each directory with its subtree stamp (one store read per
        parent: a folder and its listing, two)."""
        stamps = await self.stamps.read(
            instance, [(doc.id, doc.dir_id or "") for doc in docs if doc.is_dir]
        )
        return [
            dataclasses.replace(doc, stamp=stamps[doc.id]) if doc.id in stamps else doc
            for doc in docs
        ]

    # -- writes ----------------------------------------------------------------------------

    async def save(self, instance: Instance, doc: JSONDoc, *, moved_from: str | None = None) -> Rev:
        """Write one document; WriteConflict when its `_rev` is no longer the current one.

        `moved_from`: the directory the entry leaves (its subtree changes too)."""
        self.cache.writing(instance)
        created = "_rev" not in doc
        try:
            rev = Rev(await self.couch.put_doc(self.files_db(instance), doc))
        except Conflict as exc:
            self.cache.changed(instance)
            raise WriteConflict(exc.reason) from None
        except BaseException:
            self.cache.changed(instance)  # stored or not: no one can tell
            raise
        self.cache.wrote(instance, [doc], created=created)
        self.listeners.announce_written(instance, doc, created)
        await self.touch(instance, doc.get("dir_id"), moved_from)
        return rev

    async def save_many(
        self, instance: Instance, docs: list[JSONDoc], *, within: Iterable[str] = ()
    ) -> list[JSONDoc]:
        """Write documents in one request (`within`: directories they are in that their
        JSON does not name, as for deletions)."""
        self.cache.writing(instance)
        try:
            results = await self.couch.bulk_docs(self.files_db(instance), docs)
        except BaseException:
            self.cache.changed(instance)
            raise
        stored = [
            {**doc, "_rev": result["rev"]}
            for doc, result in zip(docs, results, strict=False)
            if "rev" in result and "error" not in result
        ]
        self.cache.wrote(instance, stored)
        for doc in stored:
            self.listeners.announce_written(instance, doc, False)
        await self.touch(instance, *within, *(doc.get("dir_id") for doc in docs))
        return results

    async def delete(self, instance: Instance, doc: FileDoc) -> None:
        """Delete a document, whatever revision it has reached meanwhile."""

        async def delete_current(current: FileDoc | None) -> None:
            if current is None:
                return
            self.cache.writing(instance)
            try:
                rev = await self.couch.delete_doc(self.files_db(instance), current.id, current.rev)
            except NotFound:
                self.cache.changed(instance)
                return
            except Conflict as exc:
                self.cache.changed(instance)
                raise WriteConflict(exc.reason) from None
            except BaseException:
                self.cache.changed(instance)
                raise
            self.cache.wrote(instance, [{"_id": current.id, "_rev": rev, "_deleted": True}])
            self.listeners.announce(
                instance, "DELETED", {"_id": current.id, "_rev": rev, "_deleted": True}
            )
            await self.touch(instance, current.dir_id)

        async def reread() -> FileDoc | None:
            return await self.get_or_none(instance, doc.id)

        first: FileDoc | None = doc
        await retry_on_conflict(delete_current, first, reread, action="deletion")
