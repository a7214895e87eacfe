"""Questions across the file tree the pages ask: recent files, by name, the photo timeline,
one page of a folder.

They read the instance's files database through a Mango index (recent files) and map views
(the timeline, a folder's pages), each created once per database. The caller filters what
they return through the permission decision; these functions only find candidates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from roost.couch import CouchClient, quote_db
from roost.errors import Conflict
from roost.instances import Instance
from roost.permissions import TRASH_DIR_ID
from roost.vfs import VFS, FileDoc

_RECENT_INDEX: Final = {
    "index": {"fields": ["updated_at"]},
    "name": "roost-recent-files",
    "ddoc": "roost-recent-files",
    "type": "json",
}
# The pages' map views, in one design document (CouchDB builds a design document's views
# together, incrementally, on the read that follows a write). Views, not Mango: a page is a
# key range read `limit` rows at a time on CouchDB and PouchDB Server alike, where PouchDB
# Server ignores a Mango index's `partial_filter_selector` and filters whole ranges (2.5–3.6 s
# for a later timeline page of 20,000 pictures) and has no `_find` bookmark. The version is
# in the id: a changed view gets a new document instead of meeting the old one's conflict.
PAGES_DESIGN: Final = "_design/roost-pages-4"
ALBUMS_DOCTYPE: Final = "io.cozy.photos.albums"
# The date a picture or video is shown at (see `timeline_date`, which says the same in
# Python): taken (`metadata.datetime`, written by the thumbnails job), else created, else
# changed. Trashed files are left out of the view itself. Keys end with the id, which makes
# each key a unique place to start a page from (`startkey_docid` would say it more shortly,
# but PouchDB Server ignores it).
_TIMELINE_MAP: Final = """function (doc) {
  if (doc.type !== 'file' || doc.trashed || doc.dir_id === 'TRASH_DIR_ID') return;
  if (doc.class !== 'image' && doc.class !== 'video') return;
  var taken = doc.metadata && doc.metadata.datetime;
  var at = doc.class === 'image' && typeof taken === 'string' && taken ? taken : '';
  emit([at || doc.created_at || doc.updated_at || '', doc._id], null);
}""".replace("TRASH_DIR_ID", TRASH_DIR_ID)
# A folder's entries in one order: [dir_id, 0 for folders | 1 for files, value, id]. Folders
# come first whatever the order, as in every file manager; names compare lower-cased. One
# view per order: PouchDB Server builds each view's index on its first read, at a few
# hundred documents a second, so an order nobody sorts by costs nothing there (CouchDB
# builds a design document's views together, and much faster).
_FOLDER_MAP: Final = """function (doc) {
  if ((doc.type !== 'file' && doc.type !== 'directory') || !doc.dir_id) return;
  if (doc._id === 'TRASH_DIR_ID') return;
  var group = doc.type === 'directory' ? 0 : 1;
  emit([doc.dir_id, group, VALUE, doc._id], null);
}""".replace("TRASH_DIR_ID", TRASH_DIR_ID)
_FOLDER_VALUES: Final = {
    "name": "String(doc.name || '').toLowerCase()",
    "date": "doc.updated_at || ''",
    "size": "group ? parseInt(doc.size, 10) || 0 : 0",
}
# The files of each album (`referenced_by` entries of type io.cozy.photos.albums), newest
# first under each album: [album id, date shown, file id] → 1, or 0 when trashed (still
# listed, so deleting an album unlinks those too); `_sum` gives the albums' sizes.
_ALBUM_MAP: Final = """function (doc) {
  if (doc.type !== 'file') return;
  var live = doc.trashed || doc.dir_id === 'TRASH_DIR_ID' ? 0 : 1;
  var refs = doc.referenced_by;
  if (!refs || !refs.length) return;
  var taken = doc.metadata && doc.metadata.datetime;
  var at = doc.class === 'image' && typeof taken === 'string' && taken ? taken : '';
  at = at || doc.created_at || doc.updated_at || '';
  for (var i = 0; i < refs.length; i++) {
    if (refs[i] && refs[i].type === 'ALBUMS_DOCTYPE' && typeof refs[i].id === 'string') {
      emit([refs[i].id, at, doc._id], live);
    }
  }
}""".replace("TRASH_DIR_ID", TRASH_DIR_ID).replace("ALBUMS_DOCTYPE", ALBUMS_DOCTYPE)
_PAGES_VIEWS: Final = {
    "timeline": {"map": _TIMELINE_MAP},
    **{
        f"folder-{sort}": {"map": _FOLDER_MAP.replace("VALUE", value)}
        for sort, value in _FOLDER_VALUES.items()
    },
    "album": {"map": _ALBUM_MAP, "reduce": "_sum"},
}
FOLDER_SORTS: Final = tuple(_FOLDER_VALUES)
MAX_SEARCH_RESULTS: Final = 200
# How many documents one name search may scan: a bound on a request's work.
_SEARCH_BATCH: Final = 2000


@dataclass(frozen=True)
class TimelineCursor:
    """Where a timeline page ends: the date of its last item and that item's id (the view's
    rows of one date — a burst of photos — are ordered by id, so the pair is a place)."""

    before: str
    last_id: str

    def encode(self) -> str:
        return f"{self.before} {self.last_id}"

    @classmethod
    def decode(cls, text: str) -> TimelineCursor | None:
        parts = text.split(" ")
        if len(parts) != 2 or not all(parts) or len(parts[0]) > 40 or len(parts[1]) > 200:
            return None
        return cls(parts[0], parts[1])


@dataclass(frozen=True)
class TimelinePage:
    items: list[tuple[str, FileDoc]]  # (the date it is shown at, the file), newest first
    cursor: TimelineCursor | None  # None on the last page


@dataclass(frozen=True)
class FolderCursor:
    """Where a folder page ends: the last entry's group (0 folders, 1 files), its sort value
    as the view emitted it, and its id."""

    group: int
    value: str | int
    last_id: str

    def encode(self) -> str:
        return json.dumps([self.group, self.value, self.last_id], separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> FolderCursor | None:
        try:
            parts = json.loads(text)
        except ValueError:
            return None
        if not isinstance(parts, list) or len(parts) != 3:
            return None
        group, value, last_id = parts
        if group not in (0, 1) or isinstance(group, bool) or not isinstance(last_id, str):
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            return None
        return cls(group, value, last_id)


@dataclass(frozen=True)
class FolderPage:
    entries: list[FileDoc]  # folders first, then files, in the order asked
    cursor: FolderCursor | None  # None on the last page


def timeline_date(doc: FileDoc) -> str:
    """The date a picture or video is shown at: taken, else created, else changed."""
    metadata = doc.doc.get("metadata")
    taken = metadata.get("datetime") if isinstance(metadata, dict) else None
    if doc.class_ == "image" and isinstance(taken, str) and taken:
        return taken
    return doc.created_at or doc.updated_at


class FileQueries:
    def __init__(self, couch: CouchClient, vfs: VFS) -> None:
        self.couch = couch
        self.vfs = vfs
        self._indexed: set[str] = set()
        self._designed: set[str] = set()

    async def _ensure_index(self, db: str) -> None:
        if db not in self._indexed:
            await self.couch.create_index(db, _RECENT_INDEX)
            self._indexed.add(db)

    async def _view(self, instance: Instance, view: str, params: dict[str, Any]) -> list[Any]:
        """The rows of one of the pages' views, its design document put first if missing."""
        db = self.vfs.files_db(instance)
        if db not in self._designed:
            await self.vfs.ensure(instance)
            design = {"_id": PAGES_DESIGN, "language": "javascript", "views": _PAGES_VIEWS}
            try:
                await self.couch.put_doc(db, design)
            except Conflict:
                pass  # put by an earlier run or another process
            self._designed.add(db)
        path = f"/{quote_db(db)}/{PAGES_DESIGN}/_view/{view}"
        answer = await self.couch.json_request("GET", path, params=params)
        rows: list[Any] = answer.get("rows", [])
        return rows

    async def recent(self, instance: Instance, limit: int = 8) -> list[FileDoc]:
        """The files changed last, newest first, trash left out."""
        db = self.vfs.files_db(instance)
        await self.vfs.ensure(instance)
        await self._ensure_index(db)
        answer = await self.couch.find(
            db,
            {
                "selector": {"updated_at": {"$gt": None}},
                "sort": [{"updated_at": "desc"}],
                "use_index": "roost-recent-files",
                # Trashed files and directories are skipped below: ask for a margin.
                "limit": limit * 4,
            },
        )
        found = [FileDoc(raw) for raw in answer.get("docs", [])]
        return [doc for doc in found if doc.is_file and not doc.in_trash][:limit]

    async def timeline(
        self,
        instance: Instance,
        limit: int,
        after: TimelineCursor | None = None,
        *,
        album: str | None = None,
    ) -> TimelinePage:
        """Pictures and videos (of one album, or all), newest first, trash left out, `limit`
        at a time.

        Paging is by key (the last date and id shown): a page reads `limit` + 2 rows of the
        view wherever it starts, never the rows before it."""
        prefix: list[Any] = [] if album is None else [album]
        params: dict[str, Any] = {"descending": True, "include_docs": True, "limit": limit + 1}
        if album is not None:
            params.update(reduce=False, startkey=[album, {}], endkey=[album])
        if after is not None:
            # The row the cursor names comes first again (when still there): one more.
            params.update(startkey=[*prefix, after.before, after.last_id], limit=limit + 2)
        rows = await self._view(instance, "timeline" if album is None else "album", params)
        if after is not None and rows and rows[0].get("id") == after.last_id:
            rows = rows[1:]
        pairs = [(str(row["key"][-2]), FileDoc(row["doc"])) for row in rows if row.get("doc")]
        shown = [(date, doc) for date, doc in pairs[:limit] if not doc.in_trash]
        if len(pairs) <= limit:
            return TimelinePage(shown, None)
        last_date, last = pairs[limit - 1]
        return TimelinePage(shown, TimelineCursor(last_date, last.id))

    async def album_sizes(self, instance: Instance) -> dict[str, int]:
        """How many files (trash left out) each album holds, by album id (one view read)."""
        rows = await self._view(instance, "album", {"reduce": True, "group_level": 1})
        return {str(row["key"][0]): int(row["value"]) for row in rows}

    async def album_files(self, instance: Instance, album: str) -> list[FileDoc]:
        """Every file that names the album, trashed ones too, newest first (to unlink them)."""
        params = {"reduce": False, "include_docs": True, "startkey": [album], "endkey": [album, {}]}
        rows = await self._view(instance, "album", params)
        return [FileDoc(row["doc"]) for row in rows if row.get("doc")]

    async def folder_page(
        self,
        instance: Instance,
        folder_id: str,
        *,
        sort: str,
        descending: bool,
        limit: int,
        after: FolderCursor | None = None,
    ) -> FolderPage:
        """One page of a folder's entries (the trash directory left out), folders first.

        Keyset paging on the folder view: each page reads at most `limit` + 2 rows, so the
        last page of a folder of 10,000 files costs what the first does."""
        if sort not in FOLDER_SORTS:
            raise ValueError(f"unknown sort {sort!r}")
        found: list[tuple[int, Any, FileDoc]] = []
        first_group = after.group if after is not None else 0
        for group in range(first_group, 2):
            wanted = limit + 1 - len(found)
            if wanted <= 0:
                break
            low: list[Any] = [folder_id, group]
            high: list[Any] = [folder_id, group, {}]
            params: dict[str, Any] = {"include_docs": True, "limit": wanted}
            if descending:
                params.update(descending=True, startkey=high, endkey=low)
            else:
                params.update(startkey=low, endkey=high)
            resuming = after is not None and group == after.group
            if resuming and after is not None:
                params.update(
                    startkey=[folder_id, group, after.value, after.last_id],
                    limit=wanted + 1,
                )
            rows = await self._view(instance, f"folder-{sort}", params)
            if resuming and after is not None and rows and rows[0].get("id") == after.last_id:
                rows = rows[1:]
            found.extend(
                (group, row["key"][2], FileDoc(row["doc"])) for row in rows if row.get("doc")
            )
        if len(found) <= limit:
            return FolderPage([doc for _, _, doc in found], None)
        group, value, last = found[limit - 1]
        entries = [doc for _, _, doc in found[:limit]]
        return FolderPage(entries, FolderCursor(group, value, last.id))

    async def by_name(self, instance: Instance, words: str) -> list[FileDoc]:
        """Files and folders whose name holds every word of `words` (any case), trash left
        out, at most MAX_SEARCH_RESULTS, sorted by path."""
        terms = [t for t in words.lower().split() if t]
        if not terms:
            return []
        db = self.vfs.files_db(instance)
        await self.vfs.ensure(instance)
        # One regex per word, matched by the store. Case is folded with `[aA]` classes, not
        # `(?i)`: CouchDB's Erlang regexes know the flag, JavaScript's (PouchDB) do not.
        selector = {
            "$and": [{"name": {"$regex": _any_case(term)}} for term in terms],
            "type": {"$in": ["file", "directory"]},
        }
        answer = await self.couch.find(db, {"selector": selector, "limit": _SEARCH_BATCH})
        found = [FileDoc(raw) for raw in answer.get("docs", []) if raw.get("type")]
        visible = [doc for doc in found if not doc.in_trash and not doc.is_trash_dir]
        visible.sort(key=lambda doc: (doc.path or doc.name).lower())
        return visible[:MAX_SEARCH_RESULTS]


def _any_case(term: str) -> str:
    parts = []
    for char in term:
        upper, lower = char.upper(), char.lower()
        if upper != lower and len(upper) == 1:
            parts.append(f"[{re.escape(lower)}{re.escape(upper)}]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)
