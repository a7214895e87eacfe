"""Waiting for a database to change, for long-poll and continuous feeds.

The store's own long-poll is not used: PouchDB Server ignores its `timeout`, and one open
store request per idle device would exhaust the connection pool. Instead one poller per
database (running only while someone waits on it) reads the database's `update_seq` every
`interval` seconds and wakes every waiter when it moves. Roost's own replicated writes poke
the poller so devices syncing through the same process see each other at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from roost.couch import CouchClient, quote_db
from roost.errors import NotFound, StoreUnavailable

_UNSET: Any = object()


class _Watcher:
    def __init__(self) -> None:
        self.latest: Any = _UNSET
        self.changed = asyncio.Event()
        self.poke = asyncio.Event()
        self.waiters = 0
        self.task: asyncio.Task[None] | None = None


class ChangeWatch:
    def __init__(self, couch: CouchClient, interval: float = 1.0) -> None:
        self.couch = couch
        self.interval = interval
        self._watchers: dict[str, _Watcher] = {}

    async def update_seq(self, db: str) -> Any:
        """The database's current `update_seq` (0 for a database not created yet)."""
        try:
            info = await self.couch.json_request("GET", f"/{quote_db(db)}")
        except NotFound:
            return 0
        return info.get("update_seq", 0)

    def notify(self, db: str) -> None:
        watcher = self._watchers.get(db)
        if watcher is not None:
            watcher.poke.set()

    async def wait(self, db: str, baseline: Any, within: float) -> Any | None:
        """The new `update_seq` once it differs from `baseline`; None after `within` s."""
        watcher = self._watchers.get(db)
        if watcher is None:
            watcher = self._watchers[db] = _Watcher()
        watcher.waiters += 1
        if watcher.task is None or watcher.task.done():
            watcher.task = asyncio.create_task(self._poll(db, watcher))
        deadline = time.monotonic() + within
        try:
            while True:
                if watcher.latest is not _UNSET and _position(watcher.latest) != _position(
                    baseline
                ):
                    return watcher.latest
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(watcher.changed.wait(), remaining)
        finally:
            watcher.waiters -= 1

    async def _poll(self, db: str, watcher: _Watcher) -> None:
        try:
            while watcher.waiters > 0:
                watcher.poke.clear()
                try:
                    seq = await self.update_seq(db)
                except StoreUnavailable:
                    seq = _UNSET
                if seq is not _UNSET and _position(seq) != _position(watcher.latest):
                    watcher.latest = seq
                    changed, watcher.changed = watcher.changed, asyncio.Event()
                    changed.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(watcher.poke.wait(), self.interval)
        finally:
            if self._watchers.get(db) is watcher and watcher.waiters <= 0:
                del self._watchers[db]


def _position(seq: Any) -> Any:
    """What of a sequence id tells a change: a cluster's `N-opaque` string names the shard
    copies that answered, which differ from call to call with no write, so only `N` counts."""
    if isinstance(seq, str):
        number, _, _ = seq.partition("-")
        if number.isdigit():
            return int(number)
    return seq
