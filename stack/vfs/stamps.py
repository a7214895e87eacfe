"""Subtree stamps: what makes a directory's ETag change when anything below it changes.

Sync clients (Nextcloud's desktop client, rclone, any client walking a tree) compare a
folder's ETag with the one they saw last and skip the whole subtree when it is the same.
A directory document's revision changes only when the directory itself is written, so each
directory also has a *stamp*, a small document rewritten whenever something below it is
created, changed, moved or deleted. The ETag of a directory is its revision and its
stamp's revision together (`FileDoc.etag`).

Every write of a file document touches the stamps of its parent and of each ancestor up to
the root (their ids come from the directory cache: no walk of the tree, no listing). The
stamps live in CouchDB, so every stack process reads the same ETags; a stamp written
meanwhile by another process is read again and rewritten (CouchDB's conflict answer). A
request that changed a file answers only once every ancestor's stamp is stored.

What they cost, and why they are shaped this way (measured, docs/benchmarks.md):

- **No hot documents.** The root's stamp is rewritten by every write of the instance. A
  document rewritten thousands of times carries a revision tree of up to `_revs_limit`
  (1,000) entries, which the store parses and merges on every write: PouchDB Server spent
  10.5 ms of CPU per write of such a document against 3 ms for a fresh one. So a stamp is
  a *generation*: after `ROTATE_AFTER` revisions the next write creates the following
  generation (and writes the old one once more, marked superseded, so that a write another
  process made to it meanwhile still shows as a conflict), the write after it withdraws
  the old one (a reader always finds one of them), and a reader takes the newest
  generation it finds.
- **Listings follow them.** Each stamp write is reported (`on_stamped`) with the stamp it
  replaced — or None when that was not the one this process knew — and the directory
  cache carries its listings along (`roost.vfs.directory_cache`).
- **Found by range, next to the names.** A stamp's id is
  `stamp:{parent id}/{directory id}/{generation}`, so the stamps of every folder of a
  listing are one key-range read, whatever their generations. They live in the names
  database (`io.roost.files.names`), where no reservation id starts with `stamp:`.
- **Sharing the names' writes.** The stamps of concurrent writers of an instance are
  gathered (one batch being assembled, written as soon as the previous one is stored, never
  on a timer), and a batch leaves with the name reservations waiting for that database
  (`CouchClient.write_docs`): during a burst of uploads the stamps and the next files'
  reservations share one `_bulk_docs`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from roost.couch import CouchClient
from roost.couch_batches import Batcher
from roost.errors import RoostError
from roost.instances import Instance

# Where earlier versions kept the stamps (one document per directory, rewritten forever):
# no longer written, still left out of exports.
STAMPS_DOCTYPE: Final = "io.roost.files.stamps"
NAMES_DOCTYPE: Final = "io.roost.files.names"
PREFIX: Final = "stamp:"
# Revisions of one generation before the next: keeps every stamp's revision tree short.
ROTATE_AFTER: Final = 32
# A stamp written by another process between our read and our write: read and write again.
_ATTEMPTS: Final = 8

log = logging.getLogger("roost.vfs.stamps")

# (directory id, its parent's id; "" for the root)
Placed = tuple[str, str]


@dataclass(frozen=True)
class _Known:
    """The newest generation of a stamp as this process last wrote or read it."""

    generation: int
    rev: str
    # The revision of the previous generation, withdrawn with the next write of this one
    # (not with the write that creates it: a reader in between must find one or the other).
    previous_rev: str | None = None

    @property
    def revisions(self) -> int:
        return int(self.rev.split("-", 1)[0])


def stamp_id(parent_id: str, dir_id: str, generation: int) -> str:
    return f"{PREFIX}{parent_id}/{dir_id}/{generation:08d}"


def _range(parent_id: str, dir_id: str | None = None, since: int = 0) -> dict[str, Any]:
    """The `_all_docs` range of the stamps of `parent_id`'s folders (or of one of them,
    from its generation `since`: the withdrawn generations before it stay in the store as
    deletions, each with its revision tree, and the store reads every one in the range)."""
    start = f"{PREFIX}{parent_id}/" + (f"{dir_id}/" if dir_id else "")
    # '0' follows '/': the end of the prefix.
    end = start[:-1] + "0"
    if dir_id and since > 0:
        start = stamp_id(parent_id, dir_id, since)
    return {"startkey": start, "endkey": end, "inclusive_end": False}


def generation_of(stamp: str) -> int:
    """The generation a stamp token names (0 for none)."""
    head = stamp.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def _parse(doc_id: str) -> tuple[str, int] | None:
    """`(directory id, generation)` of a stamp id."""
    try:
        _, dir_id, generation = doc_id[len(PREFIX) :].rsplit("/", 2)
        return dir_id, int(generation)
    except ValueError:
        return None


class _Batch:
    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.placed: set[Placed] = set()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


# Told of each stamp this process wrote: (instance, directory id, the stamp it replaced —
# None if that was not the one this process last knew —, the new stamp).
StampListener = Callable[[Instance, str, str | None, str], None]


def token(known: _Known | None) -> str:
    """A stamp as ETags and cached listings name it ("" for none)."""
    return "" if known is None else f"{known.generation}-{known.rev}"


class SubtreeStamps:
    def __init__(self, couch: CouchClient, *, on_stamped: StampListener | None = None) -> None:
        self.couch = couch
        self.on_stamped = on_stamped
        # Per database: the newest generation of each stamp this process knows.
        self._known: dict[str, dict[Placed, _Known]] = {}
        # Per instance: the batch being assembled, and whether a flush is running.
        self._waiting: dict[str, _Batch] = {}
        self._flushing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps weak references
        self._reads: Batcher[tuple[Placed, int], str] = Batcher(self._read_batch)

    @staticmethod
    def db(instance: Instance) -> str:
        return instance.db(NAMES_DOCTYPE)

    async def touch(self, instance: Instance, placed: Iterable[Placed]) -> None:
        """Change the stamps of `placed` (a directory and its ancestors, each with its
        parent); returns once they are stored. Never raises for the store: a lost stamp
        costs a sync client one extra walk, never a wrong file, so it must not fail the
        write that caused it."""
        wanted = {(dir_id, parent) for dir_id, parent in placed if dir_id}
        if not wanted:
            return
        domain = instance.domain
        batch = self._waiting.get(domain)
        if batch is None:
            batch = self._waiting[domain] = _Batch(instance)
        batch.placed |= wanted
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
                    await self._write(batch.instance, batch.placed)
                except RoostError as error:
                    log.warning("subtree stamps not written: %s", error.reason)
                except Exception:  # a stamp must never take a request down with it
                    log.exception("subtree stamps not written")
                finally:
                    batch.done.set_result(None)
        finally:
            self._flushing.discard(domain)

    async def _write(self, instance: Instance, placed: set[Placed]) -> None:
        db = self.db(instance)
        known = self._known.setdefault(db, {})
        pending = sorted(placed)
        unclean: set[Placed] = set()  # conflicted once: moved from a stamp we did not know
        for _ in range(_ATTEMPTS):
            unknown = [place for place in pending if place not in known]
            if unknown:
                await self._read_known(db, unknown)
            docs: list[dict[str, Any]] = []
            # Per stamp: what it was, its new generation, where its writes are in `docs`.
            written: list[tuple[Placed, _Known | None, int, list[int]]] = []
            for place in pending:
                dir_id, parent = place
                current = known.get(place)
                doc: dict[str, Any] = {"stamp": secrets.token_hex(4)}
                indexes: list[int] = []
                if current is None:
                    generation = 0
                elif current.revisions < ROTATE_AFTER:
                    generation = current.generation
                    doc["_rev"] = current.rev
                    if current.previous_rev is not None:
                        # The generation before, withdrawn now that this one was written
                        # after it (a refusal is left alone: readers take the newest).
                        docs.append(
                            {
                                "_id": stamp_id(parent, dir_id, generation - 1),
                                "_rev": current.previous_rev,
                                "_deleted": True,
                            }
                        )
                else:
                    # The next generation; the current one is written too (marked
                    # superseded) so that a write another process made to it meanwhile
                    # still shows, as a conflict.
                    generation = current.generation + 1
                    indexes.append(len(docs))
                    docs.append(
                        {
                            "_id": stamp_id(parent, dir_id, current.generation),
                            "_rev": current.rev,
                            "superseded": True,
                        }
                    )
                doc["_id"] = stamp_id(parent, dir_id, generation)
                indexes.insert(0, len(docs))
                docs.append(doc)
                written.append((place, current, generation, indexes))
            results = await self.couch.write_docs(db, docs)
            conflicted: list[Placed] = []
            for place, before, generation, indexes in written:
                rows = [results[index] for index in indexes]
                if all("rev" in row and "error" not in row for row in rows):
                    previous = str(rows[1]["rev"]) if len(rows) > 1 else None
                    after = known[place] = _Known(generation, str(rows[0]["rev"]), previous)
                    if self.on_stamped is not None:
                        self.on_stamped(
                            instance,
                            place[0],
                            None if place in unclean else token(before),
                            token(after),
                        )
                else:
                    known.pop(place, None)
                    unclean.add(place)
                    conflicted.append(place)
            if not conflicted:
                return
            pending = conflicted
        log.warning("subtree stamps kept conflicting: %d left", len(pending))
        if self.on_stamped is not None:
            for place in pending:
                self.on_stamped(instance, place[0], None, "")

    async def _read_known(self, db: str, places: list[Placed]) -> None:
        """Learn the newest generation of each stamp of `places` (one range read each)."""
        known = self._known.setdefault(db, {})
        for dir_id, parent in places:
            newest = await self._newest(db, parent, {dir_id}, narrow=True)
            if dir_id in newest:
                known[(dir_id, parent)] = newest[dir_id]

    async def _newest(
        self, db: str, parent: str, dir_ids: set[str], *, narrow: bool, since: int = 0
    ) -> dict[str, _Known]:
        """The newest generation of the stamps of `dir_ids`, all children of `parent`
        (`since`: for a single directory, the oldest generation worth reading)."""
        only = next(iter(dir_ids)) if narrow and len(dir_ids) == 1 else None
        result = await self.couch.all_docs(db, params=_range(parent, only, since))
        newest: dict[str, _Known] = {}
        for row in result["rows"]:
            parsed = _parse(str(row.get("id", "")))
            value = row.get("value")
            if parsed is None or not isinstance(value, dict) or not value.get("rev"):
                continue
            dir_id, generation = parsed
            if dir_id in dir_ids and (
                dir_id not in newest or generation > newest[dir_id].generation
            ):
                newest[dir_id] = _Known(generation, str(value["rev"]))
        return newest

    async def current(self, instance: Instance, place: Placed, *, since: str = "") -> str:
        """The stamp of one directory as stored now ("" for none), read by a store request
        that started after this call; concurrent callers share the reads (one per
        directory, `roost.couch_batches`). `since`: a stamp of it seen before — no older
        generation is read."""
        return await self._reads.submit(self.db(instance), (place, generation_of(since)))

    async def _read_batch(self, db: str, wanted: list[tuple[Placed, int]]) -> list[str]:
        since: dict[Placed, int] = {}
        for place, generation in wanted:
            since[place] = min(generation, since.get(place, generation))
        found: dict[Placed, str] = {}
        for (dir_id, parent), generation in sorted(since.items()):
            newest = await self._newest(db, parent, {dir_id}, narrow=True, since=generation)
            found[(dir_id, parent)] = token(newest.get(dir_id))
        return [found[place] for place, _ in wanted]

    async def read(self, instance: Instance, placed: Iterable[Placed]) -> dict[str, str]:
        """The current stamp of each directory that has one: one range read per parent
        (a folder and its listed subfolders: two)."""
        by_parent: dict[str, set[str]] = {}
        for dir_id, parent in placed:
            if dir_id:
                by_parent.setdefault(parent, set()).add(dir_id)
        db = self.db(instance)
        found: dict[str, str] = {}
        for parent, dir_ids in sorted(by_parent.items()):
            for dir_id, stamp in (await self._newest(db, parent, dir_ids, narrow=True)).items():
                found[dir_id] = token(stamp)
        return found
