"""Directories and listings read recently, per instance, for a short while.

A path lookup then costs only its last segment, and a file manager listing the same folder
many times in a row reads it once. This process's own changes clear an instance's entries
at once; another process's are seen within `ttl` seconds (the same window as instances and
permission sets).
"""

from __future__ import annotations

import time
from typing import Final

from roost.instances import Instance
from roost.vfs.filedoc import FileDoc

MAX_CACHED_LISTINGS: Final = 32  # per instance


class DirectoryCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._dirs: dict[str, dict[str, tuple[float, FileDoc]]] = {}
        self._dir_names: dict[str, dict[tuple[str, str], str]] = {}
        self._listings: dict[str, dict[str, tuple[float, list[FileDoc]]]] = {}
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
        """Something of the instance was written: its listings are no longer true."""
        self._generation[instance.domain] = self._generation.get(instance.domain, 0) + 1
        self._listings.pop(instance.domain, None)

    def generation(self, instance: Instance) -> int:
        return self._generation.get(instance.domain, 0)

    def listing(self, instance: Instance, dir_id: str) -> list[FileDoc] | None:
        cached = self._listings.get(instance.domain, {}).get(dir_id)
        if cached is not None and self._fresh(cached[0]):
            return list(cached[1])
        return None

    def keep_listing(
        self,
        instance: Instance,
        dir_id: str,
        entries: list[FileDoc],
        *,
        read_at: float,
        generation: int,
    ) -> None:
        """Keep a listing unless a write happened while it was read."""
        if self.generation(instance) != generation:
            return
        listings = self._listings.setdefault(instance.domain, {})
        if len(listings) >= MAX_CACHED_LISTINGS:
            listings.pop(next(iter(listings)))
        listings[dir_id] = (read_at, entries)
