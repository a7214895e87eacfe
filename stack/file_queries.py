"""Questions across the whole file tree the pages ask: recent files, by name, the photo timeline.

They read the instance's files database through Mango indexes (created once per database,
idempotently: CouchDB answers "exists" for the same definition). The caller filters what
they return through the permission decision; these functions only find candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from roost.couch import CouchClient
from roost.instances import Instance
from roost.vfs import VFS, FileDoc

_RECENT_INDEX: Final = {
    "index": {"fields": ["updated_at"]},
    "name": "roost-recent-files",
    "ddoc": "roost-recent-files",
    "type": "json",
}
# The timeline's streams: pictures by the date taken (the thumbnails job writes
# `metadata.datetime`, the file's `created_at` when the picture has no EXIF date); pictures
# the job has not read (yet, or ever: one it could not decode), and videos (no metadata is
# read from them), by `created_at`. (stream, class, date field, extra selector, index)
_UNREAD: Final = {"metadata.datetime": {"$exists": False}}
_TIMELINE_STREAMS: Final[tuple[tuple[str, str, str, dict[str, Any], str], ...]] = (
    ("taken", "image", "metadata.datetime", {}, "roost-timeline-taken"),
    ("unread", "image", "created_at", _UNREAD, "roost-timeline-unread"),
    ("video", "video", "created_at", {}, "roost-timeline-created"),
)
# The unread pictures' index is partial (only documents without a date taken): on CouchDB,
# with 20,000 read pictures, that stream reads a few index rows, not every picture's.
# (PouchDB Server ignores `partial_filter_selector` and filters the whole range: slower
# there, same answers, since the selector says it too.)
_TIMELINE_INDEXES: Final[tuple[dict[str, Any], ...]] = (
    {
        "index": {"fields": ["class", "metadata.datetime"]},
        "name": "roost-timeline-taken",
        "ddoc": "roost-timeline-taken",
        "type": "json",
    },
    {
        "index": {"fields": ["class", "created_at"], "partial_filter_selector": _UNREAD},
        "name": "roost-timeline-unread",
        "ddoc": "roost-timeline-unread",
        "type": "json",
    },
    {
        "index": {"fields": ["class", "created_at"]},
        "name": "roost-timeline-created",
        "ddoc": "roost-timeline-created",
        "type": "json",
    },
)
MAX_SEARCH_RESULTS: Final = 200
# How many documents one name search may scan: a bound on a request's work.
_SEARCH_BATCH: Final = 2000


@dataclass(frozen=True)
class TimelineCursor:
    """Where a timeline page ends: the date of its last item and the ids shown at that date
    (items sharing it — a burst of photos — are skipped by id on the next page)."""

    before: str
    seen: tuple[str, ...]

    def encode(self) -> str:
        return " ".join((self.before, *self.seen))

    @classmethod
    def decode(cls, text: str) -> TimelineCursor | None:
        parts = text.split()
        if not parts or len(parts) > 1 + _MAX_TIES or len(parts[0]) > 40:
            return None
        return cls(parts[0], tuple(parts[1:]))


@dataclass(frozen=True)
class TimelinePage:
    items: list[tuple[str, FileDoc]]  # (the date it is shown at, the file), newest first
    cursor: TimelineCursor | None  # None on the last page


_MAX_TIES: Final = 500


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
        self._timeline_indexed: set[str] = set()

    async def _ensure_index(self, db: str) -> None:
        if db not in self._indexed:
            await self.couch.create_index(db, _RECENT_INDEX)
            self._indexed.add(db)

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
        self, instance: Instance, limit: int, after: TimelineCursor | None = None
    ) -> TimelinePage:
        """Pictures and videos, newest first, trash left out, `limit` at a time.

        `metadata.datetime` is written once, by the thumbnails job: a picture moves from the
        "unread" stream to the "taken" one then, never sits in both.

        Paging is by key (the last date shown), not by Mango bookmark: the page merges two
        sorted streams, and a key lets each stream start again exactly where the merge
        stopped, whatever the other stream gave."""
        db = self.vfs.files_db(instance)
        await self.vfs.ensure(instance)
        if db not in self._timeline_indexed:
            for index in _TIMELINE_INDEXES:
                await self.couch.create_index(db, index)
            self._timeline_indexed.add(db)
        seen = set(after.seen) if after else set()
        fetched: list[tuple[str, FileDoc]] = []  # trashed ones too: they still take places
        floor: str | None = None  # below this date, a full stream may hold more
        for _stream, kind, field, extra, index_name in _TIMELINE_STREAMS:
            bound: dict[str, object] = {"$lte": after.before} if after else {"$gt": None}
            wanted = limit + len(seen) + 1
            answer = await self.couch.find(
                db,
                {
                    # Only indexed fields (`class` is only on files): a field the index
                    # lacks makes PouchDB filter every row of the range before the limit.
                    "selector": {"class": kind, field: bound, **extra},
                    "sort": [{"class": "desc"}, {field: "desc"}],
                    "use_index": index_name,
                    "limit": wanted,
                },
            )
            stream = [FileDoc(raw) for raw in answer.get("docs", [])]
            stream = [doc for doc in stream if doc.id not in seen]
            pairs = [(timeline_date(doc), doc) for doc in stream]
            fetched.extend(pairs)
            if len(answer.get("docs", [])) >= wanted and pairs:
                last = min(date for date, _ in pairs)
                floor = last if floor is None else max(floor, last)
        if floor is not None:
            # Past the floor, the full stream's next items are unknown: stop there.
            fetched = [pair for pair in fetched if pair[0] >= floor]
        fetched.sort(key=lambda pair: (pair[0], pair[1].id), reverse=True)
        window = fetched[:limit]
        items = [(date, doc) for date, doc in window if not doc.in_trash]
        if floor is None and len(fetched) <= limit:
            return TimelinePage(items, None)
        if not window:
            return TimelinePage([], None)
        last_date = window[-1][0]
        ties = [doc.id for date, doc in window if date == last_date]
        if after and after.before == last_date:
            ties = [*after.seen, *ties]
        return TimelinePage(items, TimelineCursor(last_date, tuple(ties[:_MAX_TIES])))

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
