"""Questions across the whole file tree the Drive and Home pages ask: recent files, by name.

They read the instance's files database through Mango indexes (created once per database,
idempotently: CouchDB answers "exists" for the same definition). The caller filters what
they return through the permission decision; these functions only find candidates.
"""

from __future__ import annotations

import re
from typing import Final

from roost.couch import CouchClient
from roost.instances import Instance
from roost.vfs import VFS, FileDoc

_RECENT_INDEX: Final = {
    "index": {"fields": ["updated_at"]},
    "name": "roost-recent-files",
    "ddoc": "roost-recent-files",
    "type": "json",
}
MAX_SEARCH_RESULTS: Final = 200
# How many documents one name search may scan: a bound on a request's work.
_SEARCH_BATCH: Final = 2000


class FileQueries:
    def __init__(self, couch: CouchClient, vfs: VFS) -> None:
        self.couch = couch
        self.vfs = vfs
        self._indexed: set[str] = set()

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
