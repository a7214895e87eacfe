"""The VFS service: files and directories of an instance, metadata in CouchDB, bytes on disk.

No HTTP and no permission logic here: `/files`, WebDAV and the apps host API resolve a
target, ask `roost.permissions.check` (with `FileTargets`), then call these methods.

Uniqueness of names. Each entry of a directory holds a reservation document
`{dir_id}/{name}` → `{"file_id"}` in `io.roost.files.names`: CouchDB refuses a second
document with the same id, so two requests (in one process or in two) can never create the
same name twice. The reservation also makes "the child named X" one key lookup and a listing
one key-range read. A reservation is trusted only when the file document it names agrees
(same `dir_id` and `name`), so a crash between the two writes leaves nothing wrong, only a
stale reservation that the next writer takes over.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from roost.couch import CouchClient
from roost.doctypes import stamp_metadata
from roost.errors import Conflict, Forbidden, NotFound
from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID, TRASH_DIR_ID
from roost.types import JSONDoc
from roost.vfs.blobs import BlobStore, StagedContent
from roost.vfs.errors import (
    FileNotFound,
    InvalidMove,
    InvalidName,
    IsADirectory,
    NameConflict,
    NotADirectory,
    ParentNotFound,
    RevisionMismatch,
)
from roost.vfs.filedoc import (
    FILES_DOCTYPE,
    TRASH_DIR_NAME,
    VERSIONS_DOCTYPE,
    FileDoc,
    VersionDoc,
    now_iso,
    parse_time,
    root_dir_doc,
    trash_dir_doc,
)
from roost.vfs.listeners import FileListeners
from roost.vfs.mime import guess_mime, mime_class
from roost.vfs.names import conflict_name, join_path, normalize_name, split_path
from roost.vfs.targets import FileTargets
from roost.vfs.usage import DiskUsage, UsageTracker

NAMES_DOCTYPE = "io.roost.files.names"
DEFAULT_VERSIONS_TO_KEEP = 20
# A reservation whose file document is still missing after this long is a crash leftover.
_STALE_RESERVATION_SECONDS = 30.0
_CAS_ATTEMPTS = 20
_MAX_CACHED_LISTINGS = 32  # per instance
# Fields `update_fields` may change; name and dir_id go through `move`, content through
# `overwrite_file`, trash state through `trash`/`restore`.
UPDATABLE_FIELDS = frozenset(
    {
        "tags",
        "updated_at",
        "created_at",
        "executable",
        "referenced_by",
        "cozyMetadata",
        "mime",
        "metadata",  # written by the thumbnail job (EXIF); no HTTP handler passes it
    }
)


@dataclass(frozen=True)
class FileContent:
    """Where to read a file's (or a version's) bytes; the blob never changes once written."""

    path: Path
    size: int
    md5sum: str | None
    sha256: str | None
    mime: str
    etag: str


def _new_id() -> str:
    return uuid.uuid4().hex


def _name_key(dir_id: str, name: str) -> str:
    return f"{dir_id}/{name}"


def _check_time(value: str | None) -> str | None:
    if value is None:
        return None
    if parse_time(value) is None:
        raise InvalidName(f"invalid date {value!r}: use ISO 8601")
    return value


class VFS:
    """One per process (`services.vfs`); every method takes the instance explicitly."""

    def __init__(
        self,
        couch: CouchClient,
        files_dir: Path,
        *,
        cache_ttl: float = 2.0,
        versions_to_keep: int = DEFAULT_VERSIONS_TO_KEEP,
    ) -> None:
        self.couch = couch
        self.blobs = BlobStore(files_dir)
        self.usage = UsageTracker(couch, cache_ttl)
        self.versions_to_keep = versions_to_keep
        self.cache_ttl = cache_ttl
        self._ready: set[str] = set()
        self._ready_lock = asyncio.Lock()
        # Directories read recently, per instance: by id, and (parent id, name) → id. A path
        # lookup then costs only its last segment. This process's own changes to directories
        # clear the instance's entries at once; another process's are seen within
        # `cache_ttl` (the same window as instances and permission sets).
        self._dirs: dict[str, dict[str, tuple[float, FileDoc]]] = {}
        self._dir_names: dict[str, dict[tuple[str, str], str]] = {}
        self._listings: dict[str, dict[str, tuple[float, list[FileDoc]]]] = {}
        # Bumped by every write, so a listing read across a write is never cached.
        self._generation: dict[str, int] = {}
        # Told of every document written (the @event triggers and thumbnails hear of it).
        self.listeners = FileListeners()
        # Leftovers of a crash: temp files of dead processes are invisible but take space.
        self.blobs.sweep_temps()

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
        if instance.domain in self._ready:
            return
        async with self._ready_lock:
            if instance.domain in self._ready:
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
                    {"_id": _name_key(ROOT_DIR_ID, TRASH_DIR_NAME), "file_id": TRASH_DIR_ID},
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
            self._ready.add(instance.domain)

    def targets(self, instance: Instance) -> FileTargets:
        """A per-request cache of directories that builds permission targets."""
        return FileTargets(self, instance)

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

    async def root(self, instance: Instance) -> FileDoc:
        return await self.directory(instance, ROOT_DIR_ID)

    async def directory(self, instance: Instance, dir_id: str) -> FileDoc:
        """A directory by id, from the short-lived cache when fresh (FileNotFound,
        NotADirectory). Use `get` when the latest revision matters (before a write)."""
        cached = self._dirs.get(instance.domain, {}).get(dir_id)
        if cached is not None and time.monotonic() - cached[0] < self.cache_ttl:
            return cached[1]
        doc = await self.get(instance, dir_id)
        if not doc.is_dir:
            raise NotADirectory(f"{doc.name!r} is not a directory")
        self._remember_dir(instance, doc)
        return doc

    def _remember_dir(self, instance: Instance, doc: FileDoc) -> None:
        self._dirs.setdefault(instance.domain, {})[doc.id] = (time.monotonic(), doc)
        if doc.dir_id is not None:
            self._dir_names.setdefault(instance.domain, {})[(doc.dir_id, doc.name)] = doc.id

    def _cached_child(self, instance: Instance, dir_id: str, name: str) -> FileDoc | None:
        child_id = self._dir_names.get(instance.domain, {}).get((dir_id, name))
        if child_id is None:
            return None
        cached = self._dirs.get(instance.domain, {}).get(child_id)
        if cached is None or time.monotonic() - cached[0] >= self.cache_ttl:
            return None
        doc = cached[1]
        return doc if doc.dir_id == dir_id and doc.name == name else None

    def _changed(self, instance: Instance) -> None:
        self._generation[instance.domain] = self._generation.get(instance.domain, 0) + 1
        self._listings.pop(instance.domain, None)

    async def _save(self, instance: Instance, doc: JSONDoc) -> str:
        self._changed(instance)
        created = "_rev" not in doc
        try:
            rev = await self.couch.put_doc(self.files_db(instance), doc)
        finally:
            self._changed(instance)
        self.listeners.announce_written(instance, doc, created)
        return rev

    async def _save_many(self, instance: Instance, docs: list[JSONDoc]) -> list[JSONDoc]:
        self._changed(instance)
        try:
            results = await self.couch.bulk_docs(self.files_db(instance), docs)
        finally:
            self._changed(instance)
        for doc, result in zip(docs, results, strict=False):
            if "rev" in result and "error" not in result:
                self.listeners.announce_written(instance, {**doc, "_rev": result["rev"]}, False)
        return results

    async def _delete_raw(self, instance: Instance, doc_id: str, rev: str) -> None:
        self._changed(instance)
        try:
            rev = await self.couch.delete_doc(self.files_db(instance), doc_id, rev)
        finally:
            self._changed(instance)
        self.listeners.announce(instance, "DELETED", {"_id": doc_id, "_rev": rev, "_deleted": True})

    def forget_directories(self, instance: Instance) -> None:
        """Drop the cached directories of an instance (after any change to a directory)."""
        self._dirs.pop(instance.domain, None)
        self._dir_names.pop(instance.domain, None)

    async def child(
        self, instance: Instance, directory: FileDoc | str, name: str
    ) -> FileDoc | None:
        """The entry called `name` in `directory`, or None."""
        dir_id = directory if isinstance(directory, str) else directory.id
        name = normalize_name(name)
        cached = self._cached_child(instance, dir_id, name)
        if cached is not None:
            return cached
        await self.ensure(instance)
        reservation = await self.couch.get_doc_or_none(
            self.names_db(instance), _name_key(dir_id, name)
        )
        if reservation is None:
            return None
        doc = await self.get_or_none(instance, str(reservation.get("file_id", "")))
        if doc is None or doc.dir_id != dir_id or doc.name != name:
            return None
        if doc.is_dir:
            self._remember_dir(instance, doc)
        return doc

    async def list_dir(
        self, instance: Instance, directory: FileDoc, *, fresh: bool = False
    ) -> list[FileDoc]:
        """Every entry of a directory, sorted by name (the trash directory included for root).

        A listing read less than `cache_ttl` ago is reused unless `fresh` (any change this
        process makes to the instance's files drops them): file managers list the same
        folder many times in a row. Pass `fresh=True` before acting on the entries.
        """
        if not directory.is_dir:
            raise NotADirectory(f"{directory.name!r} is not a directory")
        listings = self._listings.setdefault(instance.domain, {})
        cached = listings.get(directory.id)
        if not fresh and cached is not None and time.monotonic() - cached[0] < self.cache_ttl:
            return list(cached[1])
        generation = self._generation.get(instance.domain, 0)
        read_at = time.monotonic()
        entries = await self._read_dir(instance, directory)
        if self._generation.get(instance.domain, 0) == generation:
            if len(listings) >= _MAX_CACHED_LISTINGS:
                listings.pop(next(iter(listings)))
            listings[directory.id] = (read_at, entries)
        return list(entries)

    async def _read_dir(self, instance: Instance, directory: FileDoc) -> list[FileDoc]:
        await self.ensure(instance)
        reservations = await self.couch.all_docs(
            self.names_db(instance),
            params={
                "startkey": f"{directory.id}/",
                "endkey": f"{directory.id}0",  # '0' follows '/': the end of this prefix
                "inclusive_end": False,
                "include_docs": True,
            },
        )
        expected: dict[str, str] = {}
        prefix_length = len(directory.id) + 1
        for row in reservations["rows"]:
            raw = row.get("doc")
            if raw and raw.get("file_id"):
                expected[str(raw["file_id"])] = row["id"][prefix_length:]
        docs = await self.get_many(instance, expected)
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
        current = await self.root(instance)
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
            else await self.directory(instance, doc.dir_id)
        )
        return join_path(parent.path or "/", doc.name)

    # -- directories -----------------------------------------------------------------------

    def _writable_parent(self, parent: FileDoc) -> None:
        if not parent.is_dir:
            raise NotADirectory(f"{parent.name!r} is not a directory")
        if parent.in_trash:
            raise Forbidden("nothing can be created in the trash")

    async def _fresh_parent(self, instance: Instance, parent: FileDoc) -> FileDoc:
        """The parent as stored now: the caller's copy may come from a cache or an earlier
        read, and a new entry's `path` and trash state must follow the current one."""
        fresh = await self.get_or_none(instance, parent.id)
        if fresh is None:
            raise ParentNotFound(f"the directory {parent.name!r} no longer exists")
        if fresh.rev != parent.rev:
            self.forget_directories(instance)
        self._writable_parent(fresh)
        return fresh

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
        """A new empty directory; NameConflict (409) if `name` is taken in `parent`."""
        name = normalize_name(name)
        self._writable_parent(parent)
        parent = await self._fresh_parent(instance, parent)
        moment = now_iso()
        doc: JSONDoc = {
            "_id": _new_id(),
            "type": "directory",
            "name": name,
            "dir_id": parent.id,
            "path": join_path(parent.path or "/", name),
            "created_at": _check_time(created_at) or moment,
            "updated_at": _check_time(updated_at) or _check_time(created_at) or moment,
            "tags": list(tags),
        }
        stamp_metadata(doc, None, app_slug)
        await self._reserve(instance, parent.id, name, doc["_id"])
        try:
            await self._save(instance, doc)
        except BaseException:
            await self._release(instance, parent.id, name, doc["_id"])
            raise
        return FileDoc(doc)

    async def make_dirs(
        self, instance: Instance, path: str, *, app_slug: str | None = None
    ) -> FileDoc:
        """`mkdir -p`: the directory at `path`, creating what is missing."""
        current = await self.root(instance)
        for part in split_path(path):
            found = await self.child(instance, current, part)
            if found is None:
                try:
                    found = await self.create_dir(instance, current, part, app_slug=app_slug)
                except NameConflict:
                    found = await self.child(instance, current, part)
                    if found is None:
                        raise
            if not found.is_dir:
                raise NotADirectory(f"{part!r} in {path} is a file")
            current = found
        return current

    # -- file content ----------------------------------------------------------------------

    async def stage(
        self,
        instance: Instance,
        chunks: AsyncIterable[bytes],
        *,
        size: int | None = None,
        md5sum: str | None = None,
    ) -> StagedContent:
        """Receive bytes into a temp file (hashed, fsynced), checking the quota.

        With `size` known the quota is checked before reading anything (QuotaExceeded, 507);
        otherwise the upload is aborted as soon as it crosses the quota. `md5sum` (base64,
        from Content-MD5) is verified (ChecksumMismatch, 412). The result is then given to
        `create_file` or `overwrite_file`; discard it (or use `async with`) on any other path.
        """
        await self.ensure(instance)
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
        """A new file with staged content; NameConflict (409) if `name` is taken.

        On NameConflict the content stays staged (the caller may overwrite instead).
        """
        name = normalize_name(name)
        self._writable_parent(parent)
        parent = await self._fresh_parent(instance, parent)
        file_id = _new_id()
        internal_id = secrets.token_hex(16)
        moment = now_iso()
        mime = mime or guess_mime(name)
        doc: JSONDoc = {
            "_id": file_id,
            "type": "file",
            "name": name,
            "dir_id": parent.id,
            "created_at": _check_time(created_at) or _check_time(updated_at) or moment,
            "updated_at": _check_time(updated_at) or moment,
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
        return await self._create_file_doc(
            instance,
            parent.id,
            doc,
            lambda: self.blobs.commit(content, instance.domain, file_id, internal_id),
        )

    async def _create_file_doc(
        self,
        instance: Instance,
        parent_id: str,
        raw: JSONDoc,
        place_bytes: Callable[[], Awaitable[object]],
    ) -> FileDoc:
        """Reserve the name, put the bytes in place, save the document: all or nothing."""
        file_id, name = raw["_id"], raw["name"]
        await self._reserve(instance, parent_id, name, file_id)
        try:
            await place_bytes()
            await self._save(instance, raw)
        except BaseException:
            await self.blobs.remove_all(instance.domain, file_id)
            await self._release(instance, parent_id, name, file_id)
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
        is kept as a version); `if_rev` (If-Match) makes it fail with RevisionMismatch instead.
        """
        if not file.is_file:
            raise IsADirectory(f"{file.name!r} is a directory")
        internal_id = secrets.token_hex(16)
        await self.blobs.commit(content, instance.domain, file.id, internal_id)
        current = file
        try:
            for _ in range(_CAS_ATTEMPTS):
                if if_rev is not None and current.rev != if_rev:
                    raise RevisionMismatch("the file has changed (its revision differs)")
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
                        "updated_at": _check_time(updated_at) or moment,
                        "mime": new_mime,
                        "class": mime_class(new_mime),
                    }
                )
                stamp_metadata(doc, current.doc, app_slug)
                doc["cozyMetadata"]["uploadedAt"] = moment
                try:
                    await self._save(instance, doc)
                except Conflict:
                    current = await self.get(instance, file.id)
                    continue
                break
            else:
                raise Conflict("the file kept changing during the update; try again")
        except BaseException:
            await self.blobs.remove(instance.domain, file.id, internal_id)
            raise
        self.usage.record(instance, files=content.size - current.size)
        await self._keep_version(instance, current)
        return FileDoc(doc)

    async def open(self, instance: Instance, file: FileDoc) -> FileContent:
        """Where to read the current content of a file."""
        if not file.is_file:
            raise IsADirectory(f"{file.name!r} is a directory")
        internal_id = file.internal_id
        if internal_id is None:
            raise FileNotFound(f"{file.name!r} has no content")
        return FileContent(
            path=self.blobs.blob_path(instance.domain, file.id, internal_id),
            size=file.size,
            md5sum=file.md5sum,
            sha256=file.sha256,
            mime=file.mime or guess_mime(file.name),
            etag=file.etag,
        )

    # -- versions --------------------------------------------------------------------------

    async def _keep_version(self, instance: Instance, replaced: FileDoc) -> None:
        """Record the content `replaced` held as a version; drop the oldest beyond the limit."""
        old_internal = replaced.internal_id
        if old_internal is None:
            return
        if self.versions_to_keep <= 0:
            await self.blobs.remove(instance.domain, replaced.id, old_internal)
            return
        metadata = dict(replaced.doc.get("cozyMetadata") or {})
        version: JSONDoc = {
            "_id": f"{replaced.id}/{old_internal}",
            "size": str(replaced.size),
            "md5sum": replaced.md5sum,
            "sha256": replaced.sha256,
            "internal_vfs_id": old_internal,
            "tags": [],
            "cozyMetadata": {
                **metadata,
                "createdAt": replaced.updated_at or metadata.get("createdAt"),
                "updatedAt": replaced.updated_at or metadata.get("updatedAt"),
            },
            "relationships": {"file": {"data": {"_id": replaced.id, "_type": FILES_DOCTYPE}}},
        }
        try:
            await self.couch.put_doc(self.versions_db(instance), version)
        except Conflict:
            return
        self.usage.record(instance, versions=replaced.size)
        versions = await self.list_versions(instance, replaced.id)
        excess = len(versions) - self.versions_to_keep
        for old in versions[: max(0, excess)]:
            await self._drop_version(instance, old)

    async def list_versions(self, instance: Instance, file_id: str) -> list[VersionDoc]:
        """The old contents of a file, oldest first."""
        result = await self.couch.all_docs(
            self.versions_db(instance),
            params={
                "startkey": f"{file_id}/",
                "endkey": f"{file_id}0",
                "inclusive_end": False,
                "include_docs": True,
            },
        )
        versions = [VersionDoc(row["doc"]) for row in result["rows"] if row.get("doc")]
        versions.sort(key=lambda version: (version.updated_at, version.id))
        return versions

    async def get_version(self, instance: Instance, file_id: str, version_id: str) -> VersionDoc:
        raw = await self.couch.get_doc_or_none(
            self.versions_db(instance), f"{file_id}/{version_id}"
        )
        if raw is None:
            raise FileNotFound(f"no version {version_id} of {file_id}")
        return VersionDoc(raw)

    async def open_version(self, instance: Instance, version: VersionDoc) -> FileContent:
        internal_id = str(version.doc.get("internal_vfs_id") or version.version_id)
        return FileContent(
            path=self.blobs.blob_path(instance.domain, version.file_id, internal_id),
            size=version.size,
            md5sum=version.md5sum,
            sha256=version.doc.get("sha256"),
            mime="application/octet-stream",
            etag=f'"{version.md5sum}"',
        )

    async def delete_version(self, instance: Instance, version: VersionDoc) -> None:
        await self._drop_version(instance, version)

    async def _drop_version(self, instance: Instance, version: VersionDoc) -> None:
        try:
            await self.couch.delete_doc(
                self.versions_db(instance), version.id, str(version.doc["_rev"])
            )
        except (NotFound, Conflict):
            return
        internal_id = str(version.doc.get("internal_vfs_id") or version.version_id)
        await self.blobs.remove(instance.domain, version.file_id, internal_id)
        self.usage.record(instance, versions=-version.size)

    # -- metadata --------------------------------------------------------------------------

    async def update_fields(
        self,
        instance: Instance,
        doc: FileDoc,
        fields: Mapping[str, Any],
        *,
        if_rev: str | None = None,
        app_slug: str | None = None,
    ) -> FileDoc:
        """Change metadata (`UPDATABLE_FIELDS`: tags, dates, referenced_by, …), retrying on
        concurrent updates unless `if_rev` pins the revision."""
        unknown = set(fields) - UPDATABLE_FIELDS
        if unknown:
            raise InvalidName(f"these fields cannot be changed here: {', '.join(sorted(unknown))}")
        for key in ("updated_at", "created_at"):
            if key in fields:
                _check_time(fields[key])

        def change(raw: JSONDoc) -> None:
            raw.update(fields)
            if "mime" in fields and raw.get("type") == "file":
                raw["class"] = mime_class(str(fields["mime"]))

        return await self._update(instance, doc, change, if_rev=if_rev, app_slug=app_slug)

    async def set_dav_properties(
        self,
        instance: Instance,
        doc: FileDoc,
        *,
        set_properties: Mapping[str, str],
        remove: Iterable[str] = (),
        if_rev: str | None = None,
    ) -> FileDoc:
        """Store or remove WebDAV dead properties (`{namespace}name` → XML text), atomically."""
        removed = list(remove)

        def change(raw: JSONDoc) -> None:
            properties = dict(raw.get("dav_properties") or {})
            properties.update(set_properties)
            for key in removed:
                properties.pop(key, None)
            if properties:
                raw["dav_properties"] = properties
            else:
                raw.pop("dav_properties", None)

        return await self._update(instance, doc, change, if_rev=if_rev, stamp=False)

    async def _update(
        self,
        instance: Instance,
        doc: FileDoc,
        change: Any,
        *,
        if_rev: str | None = None,
        app_slug: str | None = None,
        stamp: bool = True,
    ) -> FileDoc:
        current = doc
        for _ in range(_CAS_ATTEMPTS):
            if if_rev is not None and current.rev != if_rev:
                raise RevisionMismatch("the file has changed (its revision differs)")
            raw = dict(current.doc)
            change(raw)
            if stamp:
                stamp_metadata(raw, current.doc, app_slug)
            try:
                await self._save(instance, raw)
            except Conflict:
                current = await self.get(instance, doc.id)
                continue
            if doc.is_dir:
                self.forget_directories(instance)
            return FileDoc(raw)
        raise Conflict("the file kept changing during the update; try again")

    # -- move, rename, copy ----------------------------------------------------------------

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

        NameConflict (409) if the name is taken in the destination; InvalidMove for a
        directory moved into its own subtree, or the root/trash moved.
        """
        if doc.is_root or doc.is_trash_dir:
            raise InvalidMove("the root and trash directories cannot be moved")
        target_parent = parent or await self.get(instance, doc.dir_id or ROOT_DIR_ID)
        self._writable_parent(target_parent)
        target_parent = await self._fresh_parent(instance, target_parent)
        new_name = normalize_name(name) if name is not None else doc.name
        return await self._relocate(
            instance,
            doc,
            target_parent,
            new_name,
            if_rev=if_rev,
            extra={"updated_at": _check_time(updated_at)} if updated_at else None,
            app_slug=app_slug,
        )

    async def _relocate(
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
        if not parent.is_dir:
            raise NotADirectory(f"{parent.name!r} is not a directory")
        if doc.is_dir:
            # A directory's new path derives from its parent's: never from a stale copy.
            fresh = await self.get_or_none(instance, parent.id)
            if fresh is None or not fresh.is_dir:
                raise ParentNotFound(f"the directory {parent.name!r} no longer exists")
            parent = fresh
            old_path = doc.path or "/"
            parent_path = parent.path or "/"
            if parent.id == doc.id or parent_path.startswith(old_path + "/"):
                raise InvalidMove("a directory cannot be moved into itself")
        same_place = parent.id == doc.dir_id and name == doc.name
        if same_place and not extra and not drop:
            return doc
        if not same_place:
            await self._reserve(instance, parent.id, name, doc.id)
        current = doc
        try:
            for _ in range(_CAS_ATTEMPTS):
                if if_rev is not None and current.rev != if_rev:
                    raise RevisionMismatch("the file has changed (its revision differs)")
                if current.dir_id != doc.dir_id or current.name != doc.name:
                    raise Conflict("the file was moved meanwhile; try again")
                raw = dict(current.doc)
                raw["dir_id"] = parent.id
                raw["name"] = name
                if current.is_dir:
                    raw["path"] = join_path(parent.path or "/", name)
                if current.is_file and "mime" not in (extra or {}) and name != current.name:
                    new_mime = guess_mime(name)
                    if new_mime != "application/octet-stream" or not current.mime:
                        raw["mime"] = new_mime
                        raw["class"] = mime_class(new_mime)
                for key in drop:
                    raw.pop(key, None)
                raw.update(extra or {})
                stamp_metadata(raw, current.doc, app_slug)
                try:
                    await self._save(instance, raw)
                except Conflict:
                    current = await self.get(instance, doc.id)
                    continue
                break
            else:
                raise Conflict("the file kept changing during the move; try again")
        except BaseException:
            if not same_place:
                await self._release(instance, parent.id, name, doc.id)
            raise
        if not same_place:
            await self._release(instance, doc.dir_id or ROOT_DIR_ID, doc.name, doc.id)
        moved = FileDoc(raw)
        if moved.is_dir:
            self.forget_directories(instance)
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
                results = await self._save_many(instance, updates)
                for raw, result in zip(updates, results, strict=False):
                    if "rev" in result:
                        raw["_rev"] = result["rev"]
            pending.extend(FileDoc(raw) for raw in updates)

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
        self._writable_parent(parent)
        if not doc.is_dir:
            parent = await self._fresh_parent(instance, parent)
        new_name = normalize_name(name) if name is not None else doc.name
        if doc.is_dir:
            parent_path = parent.path or "/"
            if parent.id == doc.id or parent_path.startswith((doc.path or "/") + "/"):
                raise InvalidMove("a directory cannot be copied into itself")
            copied = await self.create_dir(
                instance,
                parent,
                new_name,
                created_at=doc.created_at or None,
                updated_at=doc.updated_at or None,
                tags=doc.tags,
                app_slug=app_slug,
            )
            if doc.dav_properties:
                copied = await self.set_dav_properties(
                    instance, copied, set_properties=doc.dav_properties
                )
            for child in await self.list_dir(instance, doc, fresh=True):
                await self.copy(instance, child, copied, app_slug=app_slug)
            return copied
        await self.usage.check_room(instance, doc.size)
        file_id = _new_id()
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

        return await self._create_file_doc(instance, parent.id, raw, place_bytes)

    # -- trash and deletion ----------------------------------------------------------------

    async def trash(
        self, instance: Instance, doc: FileDoc, *, app_slug: str | None = None
    ) -> FileDoc:
        """Move to the trash (renamed there on conflict); `restore` brings it back."""
        if doc.is_root or doc.is_trash_dir:
            raise InvalidMove("the root and trash directories cannot be trashed")
        if doc.in_trash:
            raise Conflict(f"{doc.name!r} is already in the trash")
        parent = await self.get(instance, doc.dir_id or ROOT_DIR_ID)
        trash_dir = await self.directory(instance, TRASH_DIR_ID)
        extra: dict[str, Any] = {"restore_path": parent.path or "/"}
        if doc.is_file:
            extra["trashed"] = True
        moved = await self._relocate_renaming(
            instance, doc, trash_dir, extra=extra, app_slug=app_slug
        )
        if moved.is_file:
            self.usage.record(instance, files=-moved.size, trash=moved.size)
        return moved

    async def restore(
        self, instance: Instance, doc: FileDoc, *, app_slug: str | None = None
    ) -> FileDoc:
        """Back from the trash into its original folder (recreated if gone), renamed on conflict."""
        if doc.dir_id != TRASH_DIR_ID:
            raise Conflict(f"{doc.name!r} is not at the top of the trash")
        parent = await self.make_dirs(instance, doc.restore_path or "/", app_slug=app_slug)
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
        for attempt in range(1000):
            name = doc.name if attempt == 0 else conflict_name(doc.name, attempt, is_dir=doc.is_dir)
            try:
                return await self._relocate(
                    instance, doc, parent, name, extra=extra, drop=drop, app_slug=app_slug
                )
            except NameConflict:
                continue
        raise NameConflict(f"no free name for {doc.name!r} in {parent.path}")

    async def list_trash(self, instance: Instance) -> list[FileDoc]:
        return await self.list_dir(instance, await self.get(instance, TRASH_DIR_ID), fresh=True)

    async def empty_trash(self, instance: Instance) -> None:
        for doc in await self.list_trash(instance):
            await self.destroy(instance, doc)

    async def destroy(self, instance: Instance, doc: FileDoc) -> None:
        """Delete for good, recursively: documents, names, versions and bytes."""
        if doc.is_root or doc.is_trash_dir:
            raise InvalidMove("the root and trash directories cannot be deleted")
        if doc.is_dir:
            self.forget_directories(instance)
        in_trash = doc.in_trash
        if doc.is_dir:
            children = await self.list_dir(instance, doc, fresh=True)
            for child in children:
                if child.is_dir:
                    await self.destroy(instance, child)
            files = [child for child in children if child.is_file]
            await self._destroy_files(instance, doc, files, in_trash=in_trash)
        else:
            parent_id = doc.dir_id or ROOT_DIR_ID
            await self._destroy_files(instance, None, [doc], in_trash=in_trash, parent_id=parent_id)
            return
        await self._delete_doc(instance, doc)
        await self._release(instance, doc.dir_id or ROOT_DIR_ID, doc.name, doc.id)

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
        results = await self._save_many(instance, deletions)
        gone: list[FileDoc] = []
        for file, result in zip(files, results, strict=False):
            if result.get("ok") or "rev" in result:
                gone.append(file)
            else:
                # Changed meanwhile: delete the fresh revision.
                fresh = await self.get_or_none(instance, file.id)
                if fresh is not None:
                    await self._delete_doc(instance, fresh)
                    gone.append(fresh)
        names = [
            _name_key(directory.id if directory else (parent_id or ROOT_DIR_ID), f.name)
            for f in gone
        ]
        await self._release_many(instance, names, {f.id for f in gone})
        versions_total = 0
        for file in gone:
            for version in await self.list_versions(instance, file.id):
                try:
                    await self.couch.delete_doc(
                        self.versions_db(instance), version.id, str(version.doc["_rev"])
                    )
                    versions_total += version.size
                except (NotFound, Conflict):
                    pass
            await self.blobs.remove_all(instance.domain, file.id)
        size = sum(f.size for f in gone)
        trashed = sum(f.size for f in gone if in_trash or f.trashed)
        self.usage.record(
            instance, files=-(size - trashed), trash=-trashed, versions=-versions_total
        )

    async def _delete_doc(self, instance: Instance, doc: FileDoc) -> None:
        current: FileDoc | None = doc
        for _ in range(_CAS_ATTEMPTS):
            if current is None:
                return
            try:
                await self._delete_raw(instance, current.id, current.rev)
                return
            except NotFound:
                return
            except Conflict:
                current = await self.get_or_none(instance, doc.id)
        raise Conflict("the file kept changing during the deletion; try again")

    # -- disk usage ------------------------------------------------------------------------

    async def disk_usage(self, instance: Instance, *, fresh: bool = True) -> DiskUsage:
        await self.ensure(instance)
        return await self.usage.usage(instance, fresh=fresh)

    # -- name reservations -----------------------------------------------------------------

    async def _reserve(self, instance: Instance, dir_id: str, name: str, file_id: str) -> None:
        db = self.names_db(instance)
        key = _name_key(dir_id, name)
        started = time.monotonic()
        pause = 0.01
        while time.monotonic() - started < 2 * _STALE_RESERVATION_SECONDS:
            doc: JSONDoc = {"_id": key, "file_id": file_id, "reserved_at": now_iso()}
            try:
                await self.couch.put_doc(db, doc)
                return
            except Conflict:
                pass
            existing = await self.couch.get_doc_or_none(db, key)
            if existing is None:
                continue
            holder_id = str(existing.get("file_id", ""))
            if holder_id == file_id:
                return
            holder = await self.get_or_none(instance, holder_id)
            if holder is not None and holder.dir_id == dir_id and holder.name == name:
                raise NameConflict(f"{name!r} already exists here", existing_id=holder_id)
            if holder is None and not _is_stale(existing):
                # Another request reserved the name and is writing its document right now
                # (or died doing so: then the reservation goes stale and is taken over).
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.2)
                continue
            doc["_rev"] = existing["_rev"]
            try:
                await self.couch.put_doc(db, doc)
                return
            except Conflict:
                continue
        raise NameConflict(f"{name!r} is contended; try again")

    async def _release(self, instance: Instance, dir_id: str, name: str, file_id: str) -> None:
        db = self.names_db(instance)
        key = _name_key(dir_id, name)
        try:
            existing = await self.couch.get_doc_or_none(db, key)
            if existing is not None and existing.get("file_id") == file_id:
                await self.couch.delete_doc(db, key, existing["_rev"])
        except (NotFound, Conflict):
            pass  # taken over meanwhile: no longer ours to release

    async def _release_many(self, instance: Instance, keys: list[str], file_ids: set[str]) -> None:
        db = self.names_db(instance)
        result = await self.couch.all_docs(db, keys=keys, params={"include_docs": True})
        deletions = [
            {"_id": row["doc"]["_id"], "_rev": row["doc"]["_rev"], "_deleted": True}
            for row in result["rows"]
            if row.get("doc") and row["doc"].get("file_id") in file_ids
        ]
        if deletions:
            await self.couch.bulk_docs(db, deletions)


def _is_stale(reservation: Mapping[str, Any]) -> bool:
    reserved = parse_time(str(reservation.get("reserved_at") or ""))
    if reserved is None:
        return True
    return (datetime.now(UTC) - reserved).total_seconds() > _STALE_RESERVATION_SECONDS
