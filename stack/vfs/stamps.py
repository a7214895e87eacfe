"""Subtree stamps: what makes a directory's ETag change when anything below it changes.

Sync clients (Nextcloud's desktop client, rclone, any client walking a tree) compare a
folder's ETag with the one they saw last and skip the whole subtree when it is the same.
A directory document's revision changes only when the directory itself is written, so each
directory also has a *stamp*: one document per directory id in `io.roost.files.stamps`,
rewritten whenever something below it is created, changed, moved or deleted. The ETag of a
directory is its revision and its stamp's revision together (`FileDoc.etag`).

Every write of a file document touches the stamps of its parent and of each ancestor up to
the root (their ids come from the directory cache: no walk of the tree, no listing). The
writes of one instance are group-committed: a writer's stamps join the batch being
assembled, one `_bulk_docs` writes the batch as soon as the previous one is done (never on
a timer), and each writer returns once the batch holding its stamps is stored. So a request
that changed a file answers only after every ancestor's ETag has changed, and concurrent
writers into one folder share one store request. The stamps live in CouchDB, so every stack
process reads the same ETags; a stamp written meanwhile by another process is read again
and rewritten (CouchDB's conflict answer).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterable
from typing import Final

from roost.couch import CouchClient
from roost.errors import RoostError
from roost.instances import Instance

STAMPS_DOCTYPE: Final = "io.roost.files.stamps"
# A stamp written by another process between our read and our write: read and write again.
_ATTEMPTS: Final = 8

log = logging.getLogger("roost.vfs.stamps")


class _Batch:
    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.dir_ids: set[str] = set()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class SubtreeStamps:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch
        # The revision of each stamp as this process last wrote or read it, per database.
        self._revs: dict[str, dict[str, str]] = {}
        # Per instance: the batch being assembled, and whether a flush is running.
        self._waiting: dict[str, _Batch] = {}
        self._flushing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps weak references

    @staticmethod
    def db(instance: Instance) -> str:
        return instance.db(STAMPS_DOCTYPE)

    async def touch(self, instance: Instance, dir_ids: Iterable[str]) -> None:
        """Change the stamps of `dir_ids` (a directory and its ancestors); returns once
        they are stored. Never raises for the store: a lost stamp costs a sync client one
        extra walk, never a wrong file, so it must not fail the write that caused it."""
        wanted = {dir_id for dir_id in dir_ids if dir_id}
        if not wanted:
            return
        domain = instance.domain
        batch = self._waiting.get(domain)
        if batch is None:
            batch = self._waiting[domain] = _Batch(instance)
        batch.dir_ids |= wanted
        if domain not in self._flushing:
            self._flushing.add(domain)
            task = asyncio.get_running_loop().create_task(self._flush(domain))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.shield(batch.done)

    async def _flush(self, domain: str) -> None:
        """Write the waiting batches of an instance one after the other until none waits."""
        try:
            while (batch := self._waiting.pop(domain, None)) is not None:
                try:
                    await self._write(batch.instance, batch.dir_ids)
                except RoostError as error:
                    log.warning("subtree stamps not written: %s", error.reason)
                except Exception:  # a stamp must never take a request down with it
                    log.exception("subtree stamps not written")
                finally:
                    batch.done.set_result(None)
        finally:
            self._flushing.discard(domain)

    async def _write(self, instance: Instance, dir_ids: set[str]) -> None:
        db = self.db(instance)
        revs = self._revs.setdefault(db, {})
        pending = sorted(dir_ids)
        for _ in range(_ATTEMPTS):
            unknown = [dir_id for dir_id in pending if dir_id not in revs]
            if unknown:
                await self._read_revs(db, unknown)
            docs: list[dict[str, str]] = []
            for dir_id in pending:
                doc = {"_id": dir_id, "stamp": secrets.token_hex(6)}
                if dir_id in revs:
                    doc["_rev"] = revs[dir_id]
                docs.append(doc)
            results = await self.couch.bulk_docs(db, docs)
            conflicted: list[str] = []
            for dir_id, result in zip(pending, results, strict=False):
                if "rev" in result and "error" not in result:
                    revs[dir_id] = str(result["rev"])
                else:
                    revs.pop(dir_id, None)
                    conflicted.append(dir_id)
            if not conflicted:
                return
            pending = conflicted
        log.warning("subtree stamps kept conflicting: %d left", len(pending))

    async def _read_revs(self, db: str, dir_ids: list[str]) -> None:
        result = await self.couch.all_docs(db, keys=dir_ids)
        revs = self._revs.setdefault(db, {})
        for row in result["rows"]:
            value = row.get("value")
            if isinstance(value, dict) and value.get("rev") and not value.get("deleted"):
                revs[str(row["key"])] = str(value["rev"])

    async def read(self, instance: Instance, dir_ids: Iterable[str]) -> dict[str, str]:
        """The current stamp revision of each directory that has one (one store read)."""
        wanted = sorted({dir_id for dir_id in dir_ids if dir_id})
        if not wanted:
            return {}
        result = await self.couch.all_docs(self.db(instance), keys=wanted)
        found: dict[str, str] = {}
        for row in result["rows"]:
            value = row.get("value")
            if isinstance(value, dict) and value.get("rev") and not value.get("deleted"):
                found[str(row["key"])] = str(value["rev"])
        return found
