"""The `_changes` feed of one doctype, as one credential may see it.

Every store request is built here (normal feeds, pages of at most `PAGE_SIZE` rows when
filtering); the store's answer is read row by row (`ResultsStream`) and written out as it
comes, so a feed of any size runs in bounded memory. Long-poll and continuous feeds are
timed by Roost (`ChangeWatch`), never by the store.

Filtering happens here, in this order: design documents are dropped for everyone (they
hold server-side code; a device has no use for Roost's indexes); then the credential's
scope (restricted tokens see readable documents and deletion stubs, see `scope.py`); then
the client's own `_doc_ids` / `_selector` filter. A filtered feed honours `limit` on the
rows it returns, as CouchDB does: PouchDB stops reading when a page comes back short.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from roost.couch import CouchClient, quote_db
from roost.errors import NotFound
from roost.replication.json_stream import ResultsStream
from roost.replication.query import ChangesQuery
from roost.replication.scope import Scope, deletion_stub, once_readable
from roost.replication.selector import matches
from roost.replication.watch import ChangeWatch
from roost.types import JSONDoc

PAGE_SIZE = 500
# A store page may take a while; a silent connection would look dead to a client waiting
# with a heartbeat, so filtered scans also emit heartbeats between rows.
_HEARTBEAT_TICK = object()


# Marks the end of what one store chunk gave: rows are written out in one piece, not one
# ASGI message per row.
class _Flush:
    pass


_FLUSH = _Flush()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class _Row:
    text: str
    seq: Any


@dataclass
class _End:
    last_seq: Any
    pending: int | None


_Event = _Row | _End | _Flush


class ChangeFeed:
    def __init__(self, couch: CouchClient, watch: ChangeWatch) -> None:
        self.couch = couch
        self.watch = watch

    async def stream(self, db: str, scope: Scope, query: ChangesQuery) -> AsyncIterator[bytes]:
        """The whole HTTP body, chunk by chunk. The first store request is made before the
        first chunk, so a store error still becomes a proper error answer."""
        since = query.since
        if since == "now":
            since = await self.watch.update_seq(db)
        if query.feed == "normal":
            body = self._normal(db, scope, query, since)
        else:
            body = self._waiting(db, scope, query, since)
        async for chunk in body:
            yield chunk

    # -- feeds -----------------------------------------------------------------------------

    async def _normal(
        self, db: str, scope: Scope, query: ChangesQuery, since: Any
    ) -> AsyncIterator[bytes]:
        pending: list[str] = ['{"results":[\n']
        wrote_row = False
        end = _End(since, None)
        async for event in _heartbeats(self._scan(db, scope, query, since, query.limit), query):
            if isinstance(event, _Row):
                pending.append(",\n" + event.text if wrote_row else event.text)
                wrote_row = True
                continue
            if isinstance(event, _End):
                end = event
            elif event is _HEARTBEAT_TICK:
                pending.append("\n")
            if pending:
                yield "".join(pending).encode()
                pending = []
        pending.append(_tail(end))
        yield "".join(pending).encode()

    async def _waiting(
        self, db: str, scope: Scope, query: ChangesQuery, since: Any
    ) -> AsyncIterator[bytes]:
        continuous = query.feed == "continuous"
        deadline = time.monotonic() + query.timeout
        baseline = await self.watch.update_seq(db)
        sent = 0
        wrote_row = False
        if not continuous:
            yield b'{"results":[\n'
        while True:
            want = None if query.limit is None else query.limit - sent
            events = _heartbeats(self._scan(db, scope, query, since, want), query)
            out: list[str] = []
            async for event in events:
                if isinstance(event, _Row):
                    if continuous:
                        out.append(event.text + "\n")
                    else:
                        out.append(",\n" + event.text if wrote_row else event.text)
                    wrote_row = True
                    sent += 1
                    continue
                if event is _HEARTBEAT_TICK:
                    out.append("\n")
                elif isinstance(event, _End):
                    since = event.last_seq
                if out:
                    yield "".join(out).encode()
                    out = []
            limit_reached = query.limit is not None and sent >= query.limit
            if limit_reached or (sent and not continuous):
                break
            # Nothing (more) to send: wait for the database to move, with heartbeats.
            changed = None
            while changed is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                step = min(remaining, query.heartbeat) if query.heartbeat else remaining
                changed = await self.watch.wait(db, baseline, step)
                if changed is None and query.heartbeat and deadline - time.monotonic() > 0:
                    yield b"\n"
            if changed is None:
                break
            baseline = changed
        if continuous:
            yield (_dumps({"last_seq": since}) + "\n").encode()
        else:
            yield _tail(_End(since, None)).encode()

    # -- the scan --------------------------------------------------------------------------

    async def _scan(
        self, db: str, scope: Scope, query: ChangesQuery, since: Any, want: int | None
    ) -> AsyncIterator[_Event]:
        """Rows after `since` that this scope may see, at most `want`, then one `_End`."""
        needs_docs = query.selector is not None or not scope.whole
        paged = needs_docs or query.doc_ids is not None
        sent = 0
        while True:
            if paged:
                page: int | None = PAGE_SIZE
            else:
                page = None if want is None else want - sent
            params: JSONDoc = {
                "feed": "normal",
                "since": since,
                "limit": page,
                # Restricted tokens follow winners only: a conflicting branch may be
                # outside the scope, and asking for it would fail the device's batch.
                "style": query.style if scope.whole else "main_only",
                "include_docs": query.include_docs or needs_docs,
                "conflicts": (query.conflicts and query.include_docs) or None,
                "attachments": (query.attachments and query.include_docs) or None,
                "descending": query.descending or None,
            }
            stream = ResultsStream()
            rows_read = 0
            held: list[tuple[Any, JSONDoc]] = []  # (row, doc) kept for one page
            stopped_at: Any = None
            try:
                async with self.couch.stream(
                    "GET", f"/{quote_db(db)}/_changes", params=_seq_param(params)
                ) as response:
                    async for chunk in response.aiter_bytes():
                        for row in stream.feed(chunk):
                            rows_read += 1
                            value = row.value
                            if stopped_at is not None or str(value.get("id", "")).startswith(
                                "_design/"
                            ):
                                continue
                            if paged:
                                held.append((value, value.get("doc") or {}))
                                continue
                            yield _Row(row.text, value.get("seq"))
                            sent += 1
                            if want is not None and sent >= want:
                                stopped_at = value.get("seq")
                        yield _FLUSH
                    # Read to the end even after the last wanted row: a response left
                    # unread costs the pooled connection to the store.
                    stream.close()
            except NotFound:
                yield _End(since, None)
                return
            if stopped_at is not None:
                yield _End(stopped_at, None)
                return
            if paged:
                for text, seq in await self._filter_page(db, scope, query, held):
                    yield _Row(text, seq)
                    sent += 1
                    if want is not None and sent >= want:
                        yield _End(seq, None)
                        return
            last_seq = stream.meta.get("last_seq", since)
            exhausted = page is None or rows_read < page or query.descending
            if exhausted:
                pending = stream.meta.get("pending")
                yield _End(last_seq, pending if not paged and isinstance(pending, int) else None)
                return
            since = last_seq

    async def _filter_page(
        self, db: str, scope: Scope, query: ChangesQuery, held: list[tuple[Any, JSONDoc]]
    ) -> list[tuple[str, Any]]:
        """The rows of one page this scope and filter let through, in order, as text."""
        decisions: list[tuple[JSONDoc, JSONDoc, bool]] = []  # (row, doc, is_stub_candidate)
        candidates: list[tuple[str, str, Any]] = []
        for row, doc in held:
            doc_id = row.get("id")
            if query.doc_ids is not None and doc_id not in query.doc_ids:
                continue
            if scope.readable(doc):
                decisions.append((row, doc, False))
            elif isinstance(doc.get("_rev"), str):
                decisions.append((row, doc, True))
                candidates.append((str(doc_id), doc["_rev"], None))
        left = await once_readable(self.couch, db, scope, candidates) if candidates else set()
        out: list[tuple[str, Any]] = []
        for row, doc, stub_candidate in decisions:
            if stub_candidate:
                if (row.get("id"), doc["_rev"]) not in left:
                    continue
                doc = deletion_stub(str(row.get("id")), doc["_rev"])
                row = {
                    "seq": row.get("seq"),
                    "id": row.get("id"),
                    "changes": [{"rev": doc["_rev"]}],
                    "deleted": True,
                    "doc": doc,
                }
            if query.selector is not None and not matches(query.selector, doc):
                continue
            shown = dict(row)
            if not query.include_docs:
                shown.pop("doc", None)
            out.append((_dumps(shown), row.get("seq")))
        return out


def _seq_param(params: JSONDoc) -> JSONDoc:
    # A sequence that is a JSON array (old BigCouch style) goes back JSON-encoded.
    since = params.get("since")
    if isinstance(since, list):
        params = {**params, "since": _dumps(since)}
    return params


def _tail(end: _End) -> str:
    tail: JSONDoc = {"last_seq": end.last_seq}
    if end.pending is not None:
        tail["pending"] = end.pending
    return "\n],\n" + _dumps(tail)[1:] + "\n"


async def _heartbeats(events: AsyncIterator[_Event], query: ChangesQuery) -> AsyncIterator[Any]:
    """`events`, with `_HEARTBEAT_TICK` whenever nothing came for a heartbeat period."""
    if not query.heartbeat:
        async for event in events:
            yield event
        return
    iterator = events.__aiter__()
    pending: asyncio.Task[Any] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=query.heartbeat)
            if not done:
                yield _HEARTBEAT_TICK
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                return
            finally:
                pending = None
            yield event
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
