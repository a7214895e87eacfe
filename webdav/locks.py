"""WebDAV locks (RFC 4918 §6-7), stored in CouchDB so every stack process sees them.

One document per lock in the instance's `io.roost.dav.locks` database, id = the token's
UUID. Locks name paths, not file ids (a lock protects a URL: after a MOVE the source's
locks are gone and the destination is unlocked). Expired locks are ignored and removed
when next read.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from roost.couch import CouchClient
from roost.errors import Conflict, NotFound
from roost.instances import Instance

LOCKS_DOCTYPE = "io.roost.dav.locks"
TOKEN_PREFIX = "opaquelocktoken:"  # noqa: S105 - a URI scheme, not a secret
DEFAULT_TIMEOUT = 3600
MAX_TIMEOUT = 7 * 24 * 3600


@dataclass(frozen=True)
class Lock:
    token: str
    path: str  # VFS path: "/" or "/a/b"
    depth: str  # "0" | "infinity"
    scope: str  # "exclusive" | "shared"
    owner: str  # XML inside DAV:owner
    principal: str  # who took it (Principal.label): only they may use the token
    timeout: int
    expires_at: float
    rev: str = ""

    def covers(self, path: str) -> bool:
        """Whether this lock protects `path` (itself, or below it with depth infinity)."""
        if path == self.path:
            return True
        return self.depth == "infinity" and _is_below(path, self.path)

    def is_below(self, path: str) -> bool:
        """Whether this lock sits strictly below `path`."""
        return _is_below(self.path, path)

    @property
    def seconds_left(self) -> int:
        return max(0, int(self.expires_at - time.time()))

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "_id": self.token[len(TOKEN_PREFIX) :],
            "path": self.path,
            "depth": self.depth,
            "scope": self.scope,
            "owner": self.owner,
            "principal": self.principal,
            "timeout": self.timeout,
            "expires_at": self.expires_at,
        }
        if self.rev:
            doc["_rev"] = self.rev
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Lock:
        return cls(
            token=TOKEN_PREFIX + str(doc["_id"]),
            path=str(doc["path"]),
            depth=str(doc["depth"]),
            scope=str(doc["scope"]),
            owner=str(doc.get("owner") or ""),
            principal=str(doc.get("principal") or ""),
            timeout=int(doc["timeout"]),
            expires_at=float(doc["expires_at"]),
            rev=str(doc.get("_rev") or ""),
        )


def _is_below(path: str, ancestor: str) -> bool:
    if ancestor == "/":
        return path != "/"
    return path.startswith(ancestor + "/")


def parse_timeout(header: str | None) -> int:
    """`Second-600`, `Infinite, Second-4100000000` → seconds, capped at MAX_TIMEOUT."""
    if not header:
        return DEFAULT_TIMEOUT
    for part in header.split(","):
        value = part.strip()
        if value.lower() == "infinite":
            return MAX_TIMEOUT
        if value.lower().startswith("second-"):
            try:
                return max(1, min(int(value[7:]), MAX_TIMEOUT))
            except ValueError:
                continue
    return DEFAULT_TIMEOUT


class LockStore:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch

    @staticmethod
    def db(instance: Instance) -> str:
        return instance.db(LOCKS_DOCTYPE)

    async def all(self, instance: Instance) -> list[Lock]:
        """Every live lock of the instance (expired ones are deleted on the way)."""
        result = await self.couch.all_docs(self.db(instance), params={"include_docs": True})
        now = time.time()
        live: list[Lock] = []
        for row in result["rows"]:
            doc = row.get("doc")
            if not doc or str(doc.get("_id", "")).startswith("_"):
                continue
            lock = Lock.from_doc(doc)
            if lock.expires_at <= now:
                await self._delete(instance, lock)
            else:
                live.append(lock)
        return live

    async def create(
        self,
        instance: Instance,
        *,
        path: str,
        depth: str,
        scope: str,
        owner: str,
        principal: str,
        seconds: int,
    ) -> Lock:
        lock = Lock(
            token=f"{TOKEN_PREFIX}{uuid.uuid4()}",
            path=path,
            depth=depth,
            scope=scope,
            owner=owner,
            principal=principal,
            timeout=seconds,
            expires_at=time.time() + seconds,
        )
        doc = lock.to_doc()
        await self.couch.put_doc(self.db(instance), doc)
        return Lock.from_doc(doc)

    async def refresh(self, instance: Instance, lock: Lock, seconds: int) -> Lock:
        refreshed = Lock(
            **{**lock.__dict__, "timeout": seconds, "expires_at": time.time() + seconds}
        )
        doc = refreshed.to_doc()
        await self.couch.put_doc(self.db(instance), doc)
        return Lock.from_doc(doc)

    async def remove(self, instance: Instance, lock: Lock) -> None:
        await self._delete(instance, lock)

    async def remove_at_or_below(self, instance: Instance, path: str, locks: list[Lock]) -> None:
        """Drop the locks on `path` and below (after a DELETE or a MOVE of `path`)."""
        for lock in locks:
            if lock.path == path or lock.is_below(path):
                await self._delete(instance, lock)

    async def _delete(self, instance: Instance, lock: Lock) -> None:
        try:
            await self.couch.delete_doc(
                self.db(instance), lock.token[len(TOKEN_PREFIX) :], lock.rev
            )
        except (NotFound, Conflict):
            pass
