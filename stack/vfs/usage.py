"""Disk usage per instance (files, trash, versions) and the quota check.

Sums come from two `_sum` views (io.cozy.files and io.cozy.files.versions), read at most
once per `cache_ttl` per instance; this process's own writes adjust the cached figure
at once. Several processes therefore agree within `cache_ttl`: the quota is enforced
exactly within a process and to within that window across processes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from roost.couch import CouchClient, quote_db
from roost.errors import Conflict, NotFound
from roost.instances import Instance
from roost.permissions import FILES_DOCTYPE
from roost.vfs.errors import QuotaExceeded
from roost.vfs.filedoc import VERSIONS_DOCTYPE

USAGE_DESIGN = "_design/roost-usage"
_FILES_VIEW = {
    "map": (
        "function (doc) { if (doc.type === 'file') {"
        " emit(doc.trashed ? 'trash' : 'files', parseInt(doc.size, 10) || 0); } }"
    ),
    "reduce": "_sum",
}
_VERSIONS_VIEW = {
    "map": (
        "function (doc) { if (doc.size !== undefined) {"
        " emit('versions', parseInt(doc.size, 10) || 0); } }"
    ),
    "reduce": "_sum",
}


@dataclass(frozen=True)
class DiskUsage:
    files: int
    trash: int
    versions: int
    quota: int | None

    @property
    def used(self) -> int:
        return self.files + self.trash + self.versions

    @property
    def available(self) -> int | None:
        return None if self.quota is None else max(0, self.quota - self.used)

    def to_json(self) -> dict[str, Any]:
        return {
            "used": self.used,
            "quota": self.quota,
            "files": self.files,
            "trash": self.trash,
            "versions": self.versions,
        }


class UsageTracker:
    def __init__(self, couch: CouchClient, cache_ttl: float) -> None:
        self.couch = couch
        self.cache_ttl = cache_ttl
        self._cache: dict[str, tuple[float, list[int]]] = {}
        self._designed: set[str] = set()

    async def ensure_views(self, instance: Instance) -> None:
        if instance.domain in self._designed:
            return
        for doctype, view in ((FILES_DOCTYPE, _FILES_VIEW), (VERSIONS_DOCTYPE, _VERSIONS_VIEW)):
            db = instance.db(doctype)
            try:
                await self.couch.put_doc(
                    db, {"_id": USAGE_DESIGN, "language": "javascript", "views": {"bytes": view}}
                )
            except Conflict:
                pass  # created by an earlier run or another process
        self._designed.add(instance.domain)

    async def _sums(self, instance: Instance, doctype: str) -> dict[str, int]:
        path = f"/{quote_db(instance.db(doctype))}/{USAGE_DESIGN}/_view/bytes"
        try:
            result = await self.couch.json_request("GET", path, params={"group": True})
        except NotFound:
            return {}
        return {str(row["key"]): int(row["value"] or 0) for row in result.get("rows", [])}

    async def usage(self, instance: Instance, *, fresh: bool = False) -> DiskUsage:
        cached = self._cache.get(instance.domain)
        now = time.monotonic()
        if fresh or cached is None or now - cached[0] >= self.cache_ttl:
            await self.ensure_views(instance)
            files = await self._sums(instance, FILES_DOCTYPE)
            versions = await self._sums(instance, VERSIONS_DOCTYPE)
            figures = [files.get("files", 0), files.get("trash", 0), versions.get("versions", 0)]
            self._cache[instance.domain] = (now, figures)
        else:
            figures = cached[1]
        return DiskUsage(figures[0], figures[1], figures[2], instance.quota_bytes)

    def record(
        self, instance: Instance, *, files: int = 0, trash: int = 0, versions: int = 0
    ) -> None:
        """Adjust the cached figures after this process stored or removed bytes."""
        cached = self._cache.get(instance.domain)
        if cached is not None:
            figures = cached[1]
            figures[0] += files
            figures[1] += trash
            figures[2] += versions

    async def room(self, instance: Instance) -> int | None:
        """Bytes the quota still allows; None without a quota."""
        if instance.quota_bytes is None:
            return None
        return (await self.usage(instance)).available

    async def check_room(self, instance: Instance, size: int) -> None:
        room = await self.room(instance)
        if room is not None and size > room:
            raise QuotaExceeded(
                f"storing {size} bytes would exceed the disk quota ({room} bytes left)"
            )
