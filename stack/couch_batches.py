"""Group commit and group reads: concurrent single-document requests to one database,
sent to the store together.

A WebDAV PUT of a small file costs a few single-document reads and writes, and PouchDB
Server spends about 2 ms of CPU on each request whatever its size. So while one request
to a database is on its way, the reads (and the writes) of that database that arrive meanwhile
wait, and leave together as soon as it is back: one `_all_docs?keys` for the reads, one
`_bulk_docs` for the writes. Nothing waits on a timer: a request that finds the database
idle waits one turn of the event loop (so the lookups a handler starts side by side leave
as one request) and then leaves — alone as the plain `GET` / `PUT` it always was, or with
those — and a batch leaves the moment the store is free again. Each caller still gets
its own answer — its document, its revision, its conflict.

A read is answered only by a store request that started after it arrived, so it sees
every write that was acknowledged before it was made, exactly like its own `GET` would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

Doc = dict[str, Any]
Item = TypeVar("Item")
Answer = TypeVar("Answer")

# Store requests per database kept small enough to parse quickly and fail cheaply.
MAX_BATCH = 100


class Batcher(Generic[Item, Answer]):
    """Per database: items waiting for the request in flight to come back, then sent as one.

    `send(db, items)` answers one result per item, in order, or raises (every caller of
    the batch then gets that exception).
    """

    def __init__(self, send: Callable[[str, list[Item]], Awaitable[list[Answer]]]) -> None:
        self._send = send
        self._waiting: dict[str, list[tuple[Item, asyncio.Future[Answer]]]] = {}
        self._running: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps weak references

    def waiting(self, db: str) -> list[Item]:
        return [item for item, _ in self._waiting.get(db, ())]

    async def submit(self, db: str, item: Item) -> Answer:
        loop = asyncio.get_running_loop()
        if db not in self._running:
            # Nothing on its way to this database. One turn of the loop first: the requests
            # started beside this one (a `gather` of lookups) join it in one store request.
            # The item waits in the queue meanwhile, where `waiting` shows it (a batch never
            # holds two writes of one document).
            self._running.add(db)
            own: asyncio.Future[Answer] = loop.create_future()
            self._waiting.setdefault(db, []).append((item, own))
            try:
                await asyncio.sleep(0)
            except BaseException:
                self._withdraw(db, own)
                self._release(db)
                raise
            queue = self._waiting.get(db, [])
            if len(queue) == 1 and queue[0][1] is own:
                # Alone: it leaves from this very task (no drain task); what arrives
                # meanwhile waits, and leaves when this is back.
                del self._waiting[db]
                try:
                    (answer,) = await self._send(db, [item])
                finally:
                    self._release(db)
                return answer
            # Joined: all of them leave together, through the drain (which outlives this
            # task, so the others' answers never depend on this caller staying).
            self._start_drain(db)
            return await own
        # One future awaited as it is: `gather` around a single one costs a wrapper future
        # and callbacks on every store read and write.
        future: asyncio.Future[Answer] = loop.create_future()
        self._enqueue(db, [(item, future)])
        return await future

    async def submit_many(self, db: str, items: list[Item]) -> list[Answer]:
        """Several items that leave together (in the same request, unless more than
        `MAX_BATCH` wait); one answer per item, in order."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Answer]] = [loop.create_future() for _ in items]
        self._enqueue(db, list(zip(items, futures, strict=True)))
        return list(await asyncio.gather(*futures))

    def _enqueue(self, db: str, entries: list[tuple[Item, asyncio.Future[Answer]]]) -> None:
        self._waiting.setdefault(db, []).extend(entries)
        if db not in self._running:
            self._start_drain(db)

    def _withdraw(self, db: str, future: asyncio.Future[Answer]) -> None:
        rest = [entry for entry in self._waiting.get(db, []) if entry[1] is not future]
        if rest:
            self._waiting[db] = rest
        else:
            self._waiting.pop(db, None)

    def _release(self, db: str) -> None:
        self._running.discard(db)
        if self._waiting.get(db):
            self._start_drain(db)

    def _start_drain(self, db: str) -> None:
        self._running.add(db)
        task = asyncio.get_running_loop().create_task(self._drain(db))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, db: str) -> None:
        try:
            while waiting := self._waiting.pop(db, None):
                batch, rest = waiting[:MAX_BATCH], waiting[MAX_BATCH:]
                if rest:
                    self._waiting[db] = rest + self._waiting.get(db, [])
                try:
                    answers = await self._send(db, [item for item, _ in batch])
                except BaseException as error:
                    failed = batch
                    if isinstance(error, asyncio.CancelledError):
                        failed = batch + self._waiting.pop(db, [])
                    for _, future in failed:
                        if not future.done():
                            future.set_exception(error)
                    if isinstance(error, asyncio.CancelledError):
                        raise
                    continue
                for (_, future), answer in zip(batch, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)
        finally:
            self._running.discard(db)
