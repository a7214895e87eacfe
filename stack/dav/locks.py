"""WebDAV's `LockStore` port over CouchDB, so every stack process sees the same locks.

One document per locked path, its id derived from the path, holding every lock of that
path. Taking a lock is a conditional write of that document (created without a revision,
or updated with the one read): of two processes racing for one resource, CouchDB accepts
one write and answers the other 409, which then reads the document again and finds the
winner's lock. Expired locks are ignored, dropped from their document at its next write,
and documents holding only expired locks are deleted when next read.

The documents live in the instance's names database (`io.roost.files.names`, ids
`lock:{sha256 of the path}`, which no name reservation can take): a write request reads the
locks that could cover what it changes — those of its paths and of each of their ancestors,
known keys — and that read shares one `_all_docs` request with the name lookup of the same
request (and of the other requests waiting for that database). Only what needs every lock
(a LOCK's conflicts, a collection moved or deleted with its members, `lockdiscovery` in
PROPFIND) reads the whole `lock:` key range.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from roost.couch import CouchClient
from roost.couch_batches import Batcher
from roost.errors import Conflict, NotFound
from roost.instances import Instance
from roost.webdav.locks import TOKEN_PREFIX, Lock
from roost.webdav.ports import Conflict as PortConflict
from roost.webdav.ports import LockConflict, Unavailable

from .errors import as_port_errors

# The database holding the locks (shared with the name reservations, see above).
LOCKS_DOCTYPE = "io.roost.files.names"
PREFIX = "lock:"
# Each retry follows a write that won meanwhile, so this bounds a burst of that many writers.
_ATTEMPTS = 64

Doc = dict[str, Any]


def slot_id(path: str) -> str:
    """The id of the document holding the locks of `path` (fixed length, any path)."""
    return PREFIX + hashlib.sha256(path.encode("utf-8")).hexdigest()


def self_and_ancestors(path: str) -> list[str]:
    """`/a/b` → `/`, `/a`, `/a/b`: every path whose lock may cover `path`."""
    found = ["/"]
    parts = [part for part in path.split("/") if part]
    for end in range(1, len(parts) + 1):
        found.append("/" + "/".join(parts[:end]))
    return found


def _entry(lock: Lock) -> Doc:
    return {
        "token": lock.token[len(TOKEN_PREFIX) :],
        "depth": lock.depth,
        "scope": lock.scope,
        "owner": lock.owner,
        "principal": lock.principal,
        "timeout": lock.timeout,
        "expires_at": lock.expires_at,
    }


def _locks_of(doc: Doc | None) -> list[Lock]:
    if not doc or not isinstance(doc.get("locks"), list):
        return []
    path = str(doc.get("path") or "/")
    return [
        Lock(
            token=TOKEN_PREFIX + str(item["token"]),
            path=path,
            depth=str(item["depth"]),
            scope=str(item["scope"]),
            owner=str(item.get("owner") or ""),
            principal=str(item.get("principal") or ""),
            timeout=int(item["timeout"]),
            expires_at=float(item["expires_at"]),
        )
        for item in doc["locks"]
        if isinstance(item, dict)
    ]


class CouchLockStore:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch
        # Every WebDAV write reads the instance's locks: the requests of one instance that
        # arrive while a read is in flight share the next one (still read after they came).
        self._reads: Batcher[Instance, list[Lock]] = Batcher(self._read_shared)

    @staticmethod
    def db(instance: Instance) -> str:
        return instance.db(LOCKS_DOCTYPE)

    async def all(self, instance: Instance) -> list[Lock]:
        """Every live lock of the instance (documents left with none are deleted)."""
        with as_port_errors():
            return list(await self._reads.submit(self.db(instance), instance))

    async def _read_shared(self, db: str, callers: list[Instance]) -> list[list[Lock]]:
        live = await self._read(callers[0])
        return [live] * len(callers)

    async def covering(self, instance: Instance, paths: list[str]) -> list[Lock]:
        """The live locks covering any of `paths` (one read of known keys, shared)."""
        slots = sorted({slot_id(path) for wanted in paths for path in self_and_ancestors(wanted)})
        with as_port_errors():
            docs = await self.couch.get_docs(self.db(instance), slots)
        now = time.time()
        return [
            lock
            for doc in docs
            for lock in _locks_of(doc)
            if lock.live(now) and any(lock.covers(path) for path in paths)
        ]

    async def _read(self, instance: Instance) -> list[Lock]:
        result = await self.couch.all_docs(
            self.db(instance),
            params={
                "include_docs": True,
                "startkey": PREFIX,
                "endkey": PREFIX[:-1] + ";",  # ';' follows ':': the end of the prefix
                "inclusive_end": False,
            },
        )
        now = time.time()
        live: list[Lock] = []
        for row in result["rows"]:
            doc = row.get("doc")
            if not doc or not isinstance(doc.get("locks"), list):
                continue
            locks = _locks_of(doc)
            alive = [lock for lock in locks if lock.live(now)]
            if locks and not alive:
                await self._delete(instance, doc)
            live.extend(alive)
        return live

    async def add(self, instance: Instance, lock: Lock) -> Lock:
        def change(current: list[Lock]) -> list[Lock]:
            if any(lock.conflicts_with(other) for other in current):
                raise LockConflict("the resource is already locked")
            return [*current, lock]

        await self._change(instance, lock.path, change)
        return lock

    async def refresh(self, instance: Instance, lock: Lock, seconds: int) -> Lock:
        refreshed = lock.refreshed(seconds)

        def change(current: list[Lock]) -> list[Lock]:
            if not any(other.token == lock.token for other in current):
                raise PortConflict("that lock has expired or was removed")
            return [refreshed if other.token == lock.token else other for other in current]

        await self._change(instance, lock.path, change)
        return refreshed

    async def remove(self, instance: Instance, lock: Lock) -> None:
        await self._change(
            instance,
            lock.path,
            lambda current: [other for other in current if other.token != lock.token],
        )

    async def _change(
        self, instance: Instance, path: str, change: Callable[[list[Lock]], list[Lock]]
    ) -> None:
        """Apply `change` (live locks of `path` → new list) with a conditional write,
        reading again after every write another process won."""
        db, doc_id = self.db(instance), slot_id(path)
        with as_port_errors():
            for _ in range(_ATTEMPTS):
                doc = await self.couch.get_doc_or_none(db, doc_id)
                now = time.time()
                current = [lock for lock in _locks_of(doc) if lock.live(now)]
                wanted = change(current)
                if doc is None and not wanted:
                    return
                try:
                    if wanted:
                        new: Doc = {
                            "_id": doc_id,
                            "path": path,
                            "locks": [_entry(lock) for lock in wanted],
                        }
                        if doc is not None:
                            new["_rev"] = doc["_rev"]
                        await self.couch.put_doc(db, new, exclusive=True)
                    elif doc is not None:
                        await self.couch.delete_doc(db, doc_id, str(doc["_rev"]))
                    return
                except Conflict:
                    continue  # another process wrote this path's locks meanwhile
        raise Unavailable("the locks of this resource kept changing; try again")

    async def _delete(self, instance: Instance, doc: Doc) -> None:
        try:
            await self.couch.delete_doc(self.db(instance), str(doc["_id"]), str(doc["_rev"]))
        except (NotFound, Conflict):
            pass  # removed or rewritten by another request meanwhile
