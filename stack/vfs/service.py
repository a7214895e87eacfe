"""The VFS facade: files and directories of an instance, metadata in CouchDB, bytes in a
blob store (local disk or S3, `blob_store.py`).

One object per process (`services.vfs`) that `/files`, WebDAV and the apps host API call;
every method takes the instance explicitly. No HTTP and no permission logic here: callers
resolve a target, ask `roost.permissions.decide` (with `FileTargets`), then call these
methods. Each operation is held by the part named for its concept:

| Part | Module | Holds |
|---|---|---|
| `documents` | `documents.py` | databases, set-up, reads and writes of file documents |
| `cache` | `directory_cache.py` | directories and listings read recently |
| `reservations` | `reservations.py` | the uniqueness of names in a directory |
| `tree` | `tree.py` | lookups, listings, new directories, moves and renames |
| `content` | `content.py` | uploads, new content, reverting, where to read the bytes |
| `versions` | `versions.py` | old contents of a file |
| `metadata` | `metadata.py` | tags, dates, references, WebDAV properties |
| `copier` | `copies.py` | copies of files and directory trees |
| `trash` | `trash.py` | trash, restore, deletion for good |
| `documents.stamps` | `stamps.py` | subtree stamps: a directory's ETag changes with its subtree |

Concurrent writers of one document all go through `retry.retry_on_conflict`.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Final

from roost.couch import CouchClient
from roost.errors import StoreUnavailable
from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID
from roost.vfs.blob_store import BlobStore, FileContent
from roost.vfs.blobs import LocalBlobStore
from roost.vfs.content import Content
from roost.vfs.copies import Copier
from roost.vfs.directory_cache import DirectoryCache
from roost.vfs.documents import NAMES_DOCTYPE, FileDocuments
from roost.vfs.filedoc import FileDoc, VersionDoc
from roost.vfs.metadata import UPDATABLE_FIELDS, Metadata
from roost.vfs.names import normalize_name
from roost.vfs.reservations import NameReservations
from roost.vfs.targets import FileTargets
from roost.vfs.trash import Trash
from roost.vfs.tree import Tree
from roost.vfs.usage import DiskUsage, UsageTracker
from roost.vfs.versions import DEFAULT_VERSIONS_TO_KEEP, Versions

__all__ = ["NAMES_DOCTYPE", "UPDATABLE_FIELDS", "VFS", "FileContent"]

SWEEP_SECONDS: Final = 3600.0


class VFS:
    """The one entry point to files; see the module docstring for its parts."""

    def __init__(
        self,
        couch: CouchClient,
        files_dir: Path,
        *,
        cache_ttl: float = 2.0,
        versions_to_keep: int = DEFAULT_VERSIONS_TO_KEEP,
        blobs: BlobStore | None = None,
    ) -> None:
        self.couch = couch
        self.files_dir = files_dir
        self.blobs: BlobStore = blobs if blobs is not None else LocalBlobStore(files_dir)
        self.usage = UsageTracker(couch, cache_ttl)
        self.cache = DirectoryCache(cache_ttl)
        self.documents = FileDocuments(couch, self.cache, self.usage)
        # Told of every document written (`roost.vfs.listeners`).
        self.listeners = self.documents.listeners
        self.reservations = NameReservations(self.documents)
        self.tree = Tree(self.documents, self.reservations, self.cache)
        self.versions = Versions(self.documents, self.blobs, self.usage, keep=versions_to_keep)
        self.content = Content(
            self.documents, self.tree, self.reservations, self.versions, self.blobs, self.usage
        )
        self.metadata = Metadata(self.documents)
        self.copier = Copier(self.tree, self.content, self.metadata, self.blobs, self.usage)
        self.trash_can = Trash(
            self.documents, self.tree, self.reservations, self.versions, self.blobs, self.usage
        )

        # Databases and set-up.
        self.files_db = self.documents.files_db
        self.names_db = self.documents.names_db
        self.versions_db = self.documents.versions_db
        self.ensure = self.documents.ensure
        # Reads.
        self.get = self.documents.get
        self.get_or_none = self.documents.get_or_none
        self.get_many = self.documents.get_many
        self.directory = self.documents.directory
        self.forget_directories = self.cache.forget_directories
        # Directories with the stamp their ETag changes with (`roost.vfs.stamps`).
        self.with_subtree_stamps = self.documents.with_stamps
        self.child = self.tree.child
        self.list_dir = self.tree.list_dir
        self.lookup = self.tree.lookup
        self.lookup_or_none = self.tree.lookup_or_none
        self.path_of = self.tree.path_of
        # The tree.
        self.create_dir = self.tree.create_dir
        self.make_dirs = self.tree.make_dirs
        self.move = self.tree.move
        self.copy = self.copier.copy
        # Content and versions.
        self.stage = self.content.stage
        self.create_file = self.content.create_file
        self.create_empty_file = self.content.create_empty_file
        self.overwrite_file = self.content.overwrite_file
        self.revert = self.content.revert
        self.list_versions = self.versions.all_of
        self.get_version = self.versions.get
        self.delete_version = self.versions.drop
        # Metadata.
        self.update_fields = self.metadata.update_fields
        self.change_references = self.metadata.change_references
        self.referencing = self.metadata.referencing
        self.set_dav_properties = self.metadata.set_dav_properties
        # Trash and deletion.
        self.trash = self.trash_can.trash
        self.restore = self.trash_can.restore
        self.restore_destination = self.trash_can.restore_destination
        self.check_restorable = self.trash_can.check_restorable
        self.check_destroyable = self.trash_can.check_destroyable
        self.list_trash = self.trash_can.entries
        self.empty_trash = self.trash_can.empty
        self.destroy = self.trash_can.destroy

        # Leftovers of a crash: temp files of dead processes are invisible but take space.
        # (The S3 store's are swept by `sweep_forever`, which needs the event loop.)
        if isinstance(self.blobs, LocalBlobStore):
            self.blobs.sweep_temps_now()

    @property
    def versions_to_keep(self) -> int:
        return self.versions.keep

    @versions_to_keep.setter
    def versions_to_keep(self, keep: int) -> None:
        self.versions.keep = keep

    def targets(self, instance: Instance) -> FileTargets:
        """A per-request cache of directories that builds permission targets."""
        return FileTargets(self.documents, instance)

    async def root(self, instance: Instance) -> FileDoc:
        return await self.documents.directory(instance, ROOT_DIR_ID)

    async def open(self, instance: Instance, file: FileDoc) -> FileContent:
        """Where to read the current content of a file."""
        return self.content.open(instance, file)

    async def open_version(self, instance: Instance, version: VersionDoc) -> FileContent:
        return self.versions.open(instance, version)

    async def sweep_forever(self, every_seconds: float = SWEEP_SECONDS) -> None:
        """Remove stale blob temporaries now and then every `every_seconds`: those an
        outage or a crash left behind (run by the app's lifespan as a background task)."""
        while True:
            try:
                await self.blobs.sweep_temps()
            except StoreUnavailable:
                pass  # the next round will try again
            await asyncio.sleep(every_seconds)

    def free_bytes(self) -> int | None:
        """Free space where blobs are written: a local disk's, None for an object store
        (no meaningful limit; WebDAV then reports no quota-available-bytes of its own)."""
        if isinstance(self.blobs, LocalBlobStore):
            return shutil.disk_usage(self.blobs.root.parent).free
        return None

    async def disk_usage(self, instance: Instance, *, fresh: bool = True) -> DiskUsage:
        await self.documents.ensure(instance)
        return await self.usage.usage(instance, fresh=fresh)

    # An import keeps file ids and revision histories, so it cannot go through create_file:
    # it claims names itself, through the same reservations every other write uses.
    async def reserve_name(self, instance: Instance, dir_id: str, name: str, file_id: str) -> None:
        """Claim `name` in directory `dir_id` for `file_id`; NameTaken if another holds it."""
        await self.documents.ensure(instance)
        self.cache.changed(instance)
        await self.reservations.reserve(instance, dir_id, normalize_name(name), file_id)

    async def release_name(self, instance: Instance, dir_id: str, name: str, file_id: str) -> None:
        await self.reservations.release(instance, dir_id, normalize_name(name), file_id)

    def forget_cached(self, instance: Instance) -> None:
        """Drop the instance's cached directories and listings (after direct writes)."""
        self.cache.forget_directories(instance)
        self.cache.changed(instance)
