"""Directories and listings read recently, per instance.

A path lookup then costs only its last segment, and a file manager listing the same folder
many times in a row reads it once. Directories are trusted for `ttl` seconds (another
process's changes are seen within that window, the same as for instances and permission
sets).

Listings are kept *with the writes of this process*: a file or directory this process
writes is put into (or taken out of) the cached listings at once, so a burst of uploads
into a folder does not throw its listing away, and the first PROPFIND after it reads
nothing but the folder's stamp. What another process writes is caught by the folder's
subtree stamp (`roost.vfs.stamps`), which every write below the folder changes: a cached
listing goes with the stamp it was read or last maintained under (`token`), and

- each stamp write of this process that moves the folder's stamp from exactly that token
  to the next one carries the listing along (no one else wrote below the folder in
  between: CouchDB would have refused our write of the stamp's old revision);
- any other change of the stamp, seen by a write or a read, drops the listing;
- past `ttl`, the listing is used again only if the folder's stamp, read from the store
  (one small key-range read), is still its token, and never longer than
  `MAX_LISTING_SECONDS` after it was read (a writer whose stamp write failed goes unseen
  for at most that long).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from roost.instances import Instance
from roost.vfs.filedoc import FileDoc

MAX_CACHED_LISTINGS: Final = 32  # per instance
# Entries of all the cached listings of an instance: past it the oldest listings go (a
# folder of a million files is read, not held).
MAX_CACHED_ENTRIES: Final = 50_000
# Past this, a listing is read again whatever its stamp says: the bound on how long a
# write whose stamp another process failed to store can go unseen here.
MAX_LISTING_SECONDS: Final = 300.0


@dataclass
class CachedListing:
    entries: dict[str, FileDoc]  # by file id
    checked_at: float  # last known current (read, maintained or its token checked)
    read_at: float  # first read from the store
    token: str | None  # the folder's stamp the entries go with ("" none yet; None unknown)
    # name -> file id, for lookups by name (an entry renamed since may leave its old name
    # here: a lookup checks the entry's own name).
    names: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.names:
            self.names = {doc.name: doc_id for doc_id, doc in self.entries.items()}

    def put(self, doc: FileDoc) -> None:
        self.entries[doc.id] = doc
        self.names[doc.name] = doc.id

    def named(self, name: str) -> FileDoc | None:
        doc_id = self.names.get(name)
        doc = None if doc_id is None else self.entries.get(doc_id)
        return doc if doc is not None and doc.name == name else None


class DirectoryCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._dirs: dict[str, dict[str, tuple[float, FileDoc]]] = {}
        self._dir_names: dict[str, dict[tuple[str, str], str]] = {}
        self._listings: dict[str, dict[str, CachedListing]] = {}
        # Bumped by every write, so a listing read across a write is never cached.
        self._generation: dict[str, int] = {}

    def _fresh(self, read_at: float) -> bool:
        return time.monotonic() - read_at < self.ttl

    def directory(self, instance: Instance, dir_id: str) -> FileDoc | None:
        cached = self._dirs.get(instance.domain, {}).get(dir_id)
        if cached is not None and self._fresh(cached[0]):
            return cached[1]
        return None

    def remember(self, instance: Instance, doc: FileDoc) -> None:
        self._dirs.setdefault(instance.domain, {})[doc.id] = (time.monotonic(), doc)
        if doc.dir_id is not None:
            self._dir_names.setdefault(instance.domain, {})[(doc.dir_id, doc.name)] = doc.id

    def child(self, instance: Instance, dir_id: str, name: str) -> FileDoc | None:
        child_id = self._dir_names.get(instance.domain, {}).get((dir_id, name))
        if child_id is None:
            return None
        doc = self.directory(instance, child_id)
        if doc is None:
            return None
        return doc if doc.dir_id == dir_id and doc.name == name else None

    def forget_directories(self, instance: Instance) -> None:
        self._dirs.pop(instance.domain, None)
        self._dir_names.pop(instance.domain, None)

    def changed(self, instance: Instance) -> None:
        """Something of the instance was written, or may have been: its listings are no
        longer known to be true."""
        self.writing(instance)
        self._listings.pop(instance.domain, None)

    def writing(self, instance: Instance) -> None:
        """A write is on its way: a listing being read now must not be kept."""
        self._generation[instance.domain] = self._generation.get(instance.domain, 0) + 1

    def wrote(
        self, instance: Instance, docs: Iterable[Mapping[str, Any]], *, created: bool = False
    ) -> None:
        """These file documents are stored as given (deletions included): every cached
        listing takes them in or lets them go. A directory just `created` has a listing
        known without reading it: empty, and no stamp yet."""
        self.writing(instance)
        listings = self._listings.setdefault(instance.domain, {})
        docs = list(docs)
        for raw in docs:
            doc_id = str(raw.get("_id", ""))
            dir_id = None if raw.get("_deleted") else raw.get("dir_id")
            for listed_dir, listing in listings.items():
                if dir_id == listed_dir:
                    listing.put(FileDoc(dict(raw)))
                else:
                    listing.entries.pop(doc_id, None)
        if created:
            now = time.monotonic()
            for raw in docs:
                if raw.get("type") == "directory" and not raw.get("_deleted"):
                    if len(listings) >= MAX_CACHED_LISTINGS:
                        listings.pop(next(iter(listings)))
                    listings[str(raw["_id"])] = CachedListing({}, now, now, "")
        _bound(listings)

    def stamped(self, instance: Instance, dir_id: str, before: str | None, after: str) -> None:
        """This process moved the stamp of `dir_id` from `before` (None: from a state it
        did not know) to `after`."""
        listing = self._listings.get(instance.domain, {}).get(dir_id)
        if listing is None:
            return
        if before is not None and listing.token == before:
            listing.token = after
            listing.checked_at = time.monotonic()
        else:
            del self._listings[instance.domain][dir_id]

    def generation(self, instance: Instance) -> int:
        return self._generation.get(instance.domain, 0)

    def listing(self, instance: Instance, dir_id: str) -> list[FileDoc] | None:
        """The cached listing of `dir_id` if known current within `ttl`."""
        cached = self._listings.get(instance.domain, {}).get(dir_id)
        if cached is not None and self._fresh(cached.checked_at):
            return list(cached.entries.values())
        return None

    def listed(self, instance: Instance, dir_id: str, name: str) -> FileDoc | None:
        """The entry called `name` in the cached listing of `dir_id` (None if it holds no
        such entry, or there is no listing); call right after `checked` confirmed it."""
        cached = self._listings.get(instance.domain, {}).get(dir_id)
        return None if cached is None else cached.named(name)

    def token_to_check(self, instance: Instance, dir_id: str) -> str | None:
        """The stamp a listing past `ttl` goes with, if checking it may spare a read."""
        cached = self._listings.get(instance.domain, {}).get(dir_id)
        if cached is None or cached.token is None:
            return None
        if time.monotonic() - cached.read_at >= MAX_LISTING_SECONDS:
            return None
        return cached.token

    def checked(self, instance: Instance, dir_id: str, token: str) -> list[FileDoc] | None:
        """The folder's stamp is `token` now: its listing, if that is the one it goes with."""
        if not self.confirm(instance, dir_id, token):
            return None
        return list(self._listings[instance.domain][dir_id].entries.values())

    def confirm(self, instance: Instance, dir_id: str, token: str) -> bool:
        """The folder's stamp is `token` now: whether its listing goes with it (renewed for
        `ttl` if so, dropped if not)."""
        cached = self._listings.get(instance.domain, {}).get(dir_id)
        if cached is None:
            return False
        if cached.token != token:
            del self._listings[instance.domain][dir_id]
            return False
        cached.checked_at = time.monotonic()
        return True

    def keep_listing(
        self,
        instance: Instance,
        dir_id: str,
        entries: list[FileDoc],
        *,
        read_at: float,
        generation: int,
        token: str | None = None,
    ) -> None:
        """Keep a listing unless a write happened while it was read (`token`: the folder's
        stamp read before the listing, "" if it has none; None if not read)."""
        if self.generation(instance) != generation:
            return
        listings = self._listings.setdefault(instance.domain, {})
        if len(listings) >= MAX_CACHED_LISTINGS and dir_id not in listings:
            listings.pop(next(iter(listings)))
        listings[dir_id] = CachedListing(
            {entry.id: entry for entry in entries}, read_at, read_at, token
        )
        _bound(listings)


def _bound(listings: dict[str, CachedListing]) -> None:
    """Drop the oldest listings while the instance's hold more than MAX_CACHED_ENTRIES."""
    total = sum(len(listing.entries) for listing in listings.values())
    while total > MAX_CACHED_ENTRIES and listings:
        total -= len(listings.pop(next(iter(listings))).entries)
