"""One follower of one database's `_changes` feed, shared by every subscriber of the process.

Events must reach subscribers whatever wrote the document: the data API, files, WebDAV,
replication, apps, or another `roost serve` process on the same CouchDB. So the follower
reads the store's own changes feed (`feed=longpoll`, `include_docs=true`), never in-process
notifications. It starts at the database's current sequence ("now"), resumes from the last
sequence it saw after a store error (with a growing pause), starts from 0 when the database
does not exist yet (it is created lazily by the first write), and is cancelled when its last
listener leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from roost.couch import CouchClient, quote_db
from roost.errors import NotFound, RoostError, StoreUnavailable
from roost.instances import Instance
from roost.realtime.events import event_from_change
from roost.realtime.gate import FILES_DOCTYPE, EventView
from roost.types import JSONDoc
from roost.vfs import VFS

__all__ = ["ChangesFollower", "Listener"]

log = logging.getLogger("roost.realtime")

Listener = Callable[[EventView], Awaitable[None]]

# Rows per longpoll answer: bounds the memory of one read.
BATCH = 200
RETRY_MIN_SECONDS = 0.2
RETRY_MAX_SECONDS = 5.0


class ChangesFollower:
    def __init__(
        self,
        couch: CouchClient,
        vfs: VFS,
        instance: Instance,
        doctype: str,
        *,
        poll_seconds: float,
        missing_db_seconds: float,
    ) -> None:
        self.couch = couch
        self.vfs = vfs
        self.instance = instance
        self.doctype = doctype
        self.db = instance.db(doctype)
        self.poll_seconds = poll_seconds
        self.missing_db_seconds = missing_db_seconds
        self.listeners: dict[object, Listener] = {}
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.since: str | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"changes {self.db}"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        delay = RETRY_MIN_SECONDS
        while True:
            try:
                if self.since is None:
                    self.since = await self._current_seq()
                    self.ready.set()
                rows, last_seq = await self._poll(self.since)
                for row in rows:
                    await self._dispatch(row)
                self.since = last_seq
                delay = RETRY_MIN_SECONDS
            except NotFound:
                # Not created yet (or deleted): everything from its creation on is news.
                self.since = "0"
                self.ready.set()
                await asyncio.sleep(self.missing_db_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the follower outlives any store hiccup
                reason = error.reason if isinstance(error, RoostError) else repr(error)
                log.warning(
                    "changes feed failed", extra={"fields": {"db": self.db, "error": reason}}
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def _current_seq(self) -> str:
        info = await self.couch.json_request("GET", f"/{quote_db(self.db)}")
        return _seq(info.get("update_seq", "0"))

    async def _poll(self, since: str) -> tuple[list[dict[str, Any]], str]:
        params = {
            "feed": "longpoll",
            "since": since,
            "include_docs": "true",
            "limit": BATCH,
            "timeout": int(self.poll_seconds * 1000),
        }
        async with self.couch.stream(
            "GET",
            f"/{quote_db(self.db)}/_changes",
            params=params,
            read_timeout=self.poll_seconds + 15,
        ) as response:
            body = await response.aread()
        try:
            feed = json.loads(body)
        except ValueError as error:
            raise StoreUnavailable("the changes feed answered invalid JSON") from error
        rows = feed.get("results") if isinstance(feed, dict) else None
        if not isinstance(rows, list):
            raise StoreUnavailable("the changes feed answered no results")
        return [row for row in rows if isinstance(row, dict)], _seq(feed.get("last_seq", since))

    async def _dispatch(self, row: dict[str, Any]) -> None:
        event = event_from_change(self.doctype, row)
        if event is None or not self.listeners:
            return
        if self.doctype == FILES_DOCTYPE and event.doc.get("type") not in ("file", "directory"):
            if not event.deleted:
                return

        async def previous() -> JSONDoc | None:
            return await self._previous_revision(event.doc_id, event.rev)

        view = EventView(
            event,
            fetch_previous=previous,
            file_targets=self.vfs.targets(self.instance) if self.doctype == FILES_DOCTYPE else None,
        )
        for listener in list(self.listeners.values()):
            try:
                await listener(view)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("a realtime listener failed")

    async def _previous_revision(self, doc_id: str, rev: str) -> JSONDoc | None:
        """The revision before `rev`, while the store still has it (until compaction)."""
        try:
            current = await self.couch.get_doc(self.db, doc_id, params={"rev": rev, "revs": "true"})
            revisions = current.get("_revisions") or {}
            ids = revisions.get("ids") or []
            start = int(revisions.get("start") or 0)
            if len(ids) < 2 or start < 2:
                return None
            previous = await self.couch.get_doc(
                self.db, doc_id, params={"rev": f"{start - 1}-{ids[1]}"}
            )
        except (RoostError, ValueError, TypeError):
            return None
        if previous.get("_deleted"):
            return None
        return previous


def _seq(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
