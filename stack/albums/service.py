"""Creating, renaming and deleting albums, adding and removing their photos.

An album is an `io.cozy.photos.albums` document (`name`, `created_at`, `auto: false`); a photo
is in it when its file's `referenced_by` holds `{"type": "io.cozy.photos.albums", "id": …}`,
as in Cozy, so deleting an album never touches a photo's bytes, only that reference.

Every step asks `roost.permissions.decide` (surface "stack") for the principal given:
reading an album needs GET on it, changing it PUT, deleting it DELETE, creating one POST;
adding or removing a photo also needs PUT on that file, as the references API asks. An album
or file the principal may not read answers exactly like a missing one (`Hidden`). Every file
of a change is checked before any is written: a refusal leaves everything as it was.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from roost.documents import DocumentService
from roost.errors import BadRequest, Conflict
from roost.file_queries import ALBUMS_DOCTYPE, FileQueries, TimelineCursor, TimelinePage
from roost.instances import Instance
from roost.permissions import (
    FILES_DOCTYPE,
    SOME_DOCUMENTS,
    Decision,
    DocumentTarget,
    Hidden,
    PermissionDenied,
    decide,
)
from roost.principals import Principal
from roost.types import DocId, Doctype, JSONDoc
from roost.vfs import VFS, FileDoc

MAX_NAME: Final = 255
MAX_FILES_PER_CHANGE: Final = 1000
# What an album holds: what the Photos timeline shows.
_PHOTO_CLASSES: Final = frozenset({"image", "video"})


@dataclass(frozen=True)
class Album:
    id: str
    rev: str
    name: str
    created_at: str
    size: int | None = None  # photos in it (trash left out); None when not asked or not readable
    cover: str | None = None  # the newest photo's file id

    @classmethod
    def from_doc(cls, doc: JSONDoc, *, size: int | None = None, cover: str | None = None) -> Album:
        return cls(
            id=str(doc["_id"]),
            rev=str(doc.get("_rev", "")),
            name=str(doc.get("name", "")),
            created_at=str(doc.get("created_at", "")),
            size=size,
            cover=cover,
        )


@dataclass(frozen=True)
class AlbumPhotos:
    album: Album
    page: TimelinePage  # only the files the principal may read


def album_name(raw: Any) -> str:
    """A name as typed, trimmed; BadRequest when empty, too long, or holding control
    characters (a name is shown in pages and lists, on one line)."""
    if not isinstance(raw, str):
        raise BadRequest("an album's name must be a string")
    name = unicodedata.normalize("NFC", raw.strip())
    if not 1 <= len(name) <= MAX_NAME:
        raise BadRequest(f"an album needs a name of 1 to {MAX_NAME} characters")
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise BadRequest("an album's name may not hold control characters")
    return name


class Albums:
    def __init__(self, documents: DocumentService, vfs: VFS, queries: FileQueries) -> None:
        self.documents = documents
        self.vfs = vfs
        self.queries = queries

    # -- the decision ------------------------------------------------------------------------

    @staticmethod
    def _decide(principal: Principal, verb: str, doctype: str, target: Any) -> Decision:
        return decide(
            principal.permissions, verb, doctype, target, now=datetime.now(UTC), surface="stack"
        )

    async def _album(self, instance: Instance, principal: Principal, album_id: str) -> JSONDoc:
        """The album document, readable by the principal, or Hidden (as if missing)."""
        if not album_id or album_id.startswith("_"):
            raise Hidden("GET", ALBUMS_DOCTYPE)
        self._decide(principal, "GET", ALBUMS_DOCTYPE, SOME_DOCUMENTS).enforce()
        doc = await self.documents.get_or_none(instance, ALBUMS_DOCTYPE, album_id)
        if doc is None:
            raise Hidden("GET", ALBUMS_DOCTYPE)
        self._decide(principal, "GET", ALBUMS_DOCTYPE, DocumentTarget(doc)).enforce()
        return doc

    async def _files(
        self, instance: Instance, principal: Principal, file_ids: list[str]
    ) -> list[FileDoc]:
        """The files, each readable and changeable by the principal (Hidden, PermissionDenied
        otherwise), in the order given, once each."""
        if not file_ids:
            raise BadRequest("name at least one photo")
        if len(file_ids) > MAX_FILES_PER_CHANGE:
            raise BadRequest(f"at most {MAX_FILES_PER_CHANGE} photos at a time")
        if not all(isinstance(file_id, str) and file_id for file_id in file_ids):
            raise BadRequest("photos are named by their file ids (strings)")
        targets = self.vfs.targets(instance)
        files: list[FileDoc] = []
        for file_id in dict.fromkeys(file_ids):
            file = await self.vfs.get_or_none(instance, file_id)
            if file is None:
                raise Hidden("GET", FILES_DOCTYPE)
            target = await targets.for_doc(file)
            self._decide(principal, "GET", FILES_DOCTYPE, target).enforce()
            self._decide(principal, "PUT", FILES_DOCTYPE, target).enforce()
            files.append(file)
        return files

    async def _names_taken(
        self, instance: Instance, principal: Principal, name: str, *, besides: str = ""
    ) -> None:
        folded = name.casefold()
        for album in await self.every(instance, principal, sizes=False):
            if album.id != besides and album.name.casefold() == folded:
                raise Conflict("an album with that name already exists")

    # -- reading -----------------------------------------------------------------------------

    async def every(
        self, instance: Instance, principal: Principal, *, sizes: bool = True
    ) -> list[Album]:
        """The albums the principal may read, by name; with their size and cover when asked
        and the principal may read every file (a count of unreadable files would tell)."""
        if not self._decide(principal, "GET", ALBUMS_DOCTYPE, SOME_DOCUMENTS).allowed:
            return []
        answer = await self.documents.all_docs(
            instance,
            ALBUMS_DOCTYPE,
            keys=None,
            include_docs=True,
            limit=None,
            skip=0,
            descending=False,
            startkey=None,
            endkey=None,
        )
        docs = [
            row["doc"]
            for row in answer.get("rows", [])
            if row.get("doc") and not str(row["id"]).startswith("_design/")
        ]
        docs = [
            doc
            for doc in docs
            if self._decide(principal, "GET", ALBUMS_DOCTYPE, DocumentTarget(doc)).allowed
        ]
        counted = sizes and self._decide(principal, "GET", FILES_DOCTYPE, None).allowed
        counts = await self.queries.album_sizes(instance) if counted and docs else {}
        albums = []
        for doc in docs:
            size = cover = None
            if counted:
                size = counts.get(str(doc["_id"]), 0)
                if size:
                    # A few rows: the newest may sit in the trash, still named by the view.
                    first = await self.queries.timeline(instance, 8, album=str(doc["_id"]))
                    cover = first.items[0][1].id if first.items else None
            albums.append(Album.from_doc(doc, size=size, cover=cover))
        albums.sort(key=lambda album: (album.name.casefold(), album.id))
        return albums

    async def get(self, instance: Instance, principal: Principal, album_id: str) -> Album:
        return Album.from_doc(await self._album(instance, principal, album_id))

    async def photos(
        self,
        instance: Instance,
        principal: Principal,
        album_id: str,
        limit: int,
        after: TimelineCursor | None = None,
    ) -> AlbumPhotos:
        """One page of the album's photos, newest first, only those the principal may read."""
        album = await self._album(instance, principal, album_id)
        if not self._decide(principal, "GET", FILES_DOCTYPE, SOME_DOCUMENTS).allowed:
            return AlbumPhotos(Album.from_doc(album), TimelinePage([], None))
        page = await self.queries.timeline(instance, limit, after, album=album_id)
        targets = self.vfs.targets(instance)
        shown = [
            (date, doc)
            for date, doc in page.items
            if self._decide(principal, "GET", FILES_DOCTYPE, await targets.for_doc(doc)).allowed
        ]
        return AlbumPhotos(Album.from_doc(album), TimelinePage(shown, page.cursor))

    # -- changing ----------------------------------------------------------------------------

    async def create(self, instance: Instance, principal: Principal, name: Any) -> Album:
        name = album_name(name)
        self._decide(principal, "POST", ALBUMS_DOCTYPE, SOME_DOCUMENTS).enforce()
        await self._names_taken(instance, principal, name)
        body = {"name": name, "created_at": datetime.now(UTC).isoformat(), "auto": False}
        doc = self.documents.prepare_new(ALBUMS_DOCTYPE, body, app_slug=principal.app_slug)
        self._decide(principal, "POST", ALBUMS_DOCTYPE, DocumentTarget(doc)).enforce()
        await self.documents.save(instance, ALBUMS_DOCTYPE, doc)
        return Album.from_doc(doc, size=0)

    async def rename(
        self, instance: Instance, principal: Principal, album_id: str, name: Any
    ) -> Album:
        name = album_name(name)
        previous = await self._album(instance, principal, album_id)
        self._decide(principal, "PUT", ALBUMS_DOCTYPE, DocumentTarget(previous)).enforce()
        await self._names_taken(instance, principal, name, besides=album_id)
        body = {**previous, "name": name}
        doc = self.documents.prepare_update(
            ALBUMS_DOCTYPE, album_id, body, previous, app_slug=principal.app_slug
        )
        await self.documents.save(instance, ALBUMS_DOCTYPE, doc)
        return Album.from_doc(doc)

    async def add(
        self, instance: Instance, principal: Principal, album_id: str, file_ids: list[str]
    ) -> int:
        """Put photos in the album; answers how many were not in it yet."""
        album = await self._album(instance, principal, album_id)
        self._decide(principal, "PUT", ALBUMS_DOCTYPE, DocumentTarget(album)).enforce()
        files = await self._files(instance, principal, file_ids)
        for file in files:
            if not file.is_file or file.class_ not in _PHOTO_CLASSES or file.in_trash:
                raise BadRequest(f"{file.name!r} is not a photo or a video: albums hold those")
        return await self._change(instance, principal, album_id, files, adding=True)

    async def remove(
        self, instance: Instance, principal: Principal, album_id: str, file_ids: list[str]
    ) -> int:
        """Take photos out of the album (the files stay); answers how many were in it."""
        album = await self._album(instance, principal, album_id)
        self._decide(principal, "PUT", ALBUMS_DOCTYPE, DocumentTarget(album)).enforce()
        files = await self._files(instance, principal, file_ids)
        return await self._change(instance, principal, album_id, files, adding=False)

    async def delete(self, instance: Instance, principal: Principal, album_id: str) -> int:
        """Delete the album, not its photos: each one's reference to it goes first (a crash
        midway leaves a smaller album, never files naming an album that is gone). Answers
        how many photos were unlinked."""
        album = await self._album(instance, principal, album_id)
        self._decide(principal, "DELETE", ALBUMS_DOCTYPE, DocumentTarget(album)).enforce()
        files = await self.queries.album_files(instance, album_id)
        targets = self.vfs.targets(instance)
        for file in files:
            if not self._decide(
                principal, "PUT", FILES_DOCTYPE, await targets.for_doc(file)
            ).allowed:
                raise PermissionDenied(
                    "PUT", FILES_DOCTYPE, "some photos of this album are out of this grant's reach"
                )
        unlinked = await self._change(instance, principal, album_id, files, adding=False)
        await self.documents.delete(instance, ALBUMS_DOCTYPE, album_id, str(album["_rev"]))
        return unlinked

    async def _change(
        self,
        instance: Instance,
        principal: Principal,
        album_id: str,
        files: list[FileDoc],
        *,
        adding: bool,
    ) -> int:
        reference = (Doctype(ALBUMS_DOCTYPE), DocId(album_id))
        changed = 0
        for file in files:
            holds = reference in [(ref["type"], ref["id"]) for ref in _references(file)]
            if holds == adding:
                continue
            await self.vfs.change_references(
                instance,
                file,
                add=[reference] if adding else (),
                remove=() if adding else [reference],
                app_slug=principal.app_slug,
            )
            changed += 1
        return changed


def _references(file: FileDoc) -> list[dict[str, Any]]:
    entries = file.doc.get("referenced_by") or []
    return [entry for entry in entries if isinstance(entry, dict)]
