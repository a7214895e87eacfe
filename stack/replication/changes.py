"""The `_changes` feed of one doctype, as one credential may see it.

Every store request is built here. A feed with a limit (a replicator's batch) is one store
request per page, read whole through the store pool; a feed without one is streamed and
read row by row (`ResultsStream`) as it comes, so a feed of any size runs in bounded memory.
A filtered feed reads pages of at most `PAGE_SIZE` rows with their documents, sized to what
is still wanted, and decides each document once, on the copy the page brought. Long-poll and
continuous feeds are timed by Roost (`ChangeWatch`), never by the store.

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
import math
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from roost import fast_json
from roost.couch import CouchClient, quote_db, raise_for_couch
from roost.errors import NotFound, StoreUnavailable
from roost.permissions import PermissionSet
from roost.replication.json_stream import ResultsStream, Row
from roost.replication.query import ChangesQuery
from roost.replication.scope import Scope, deletion_stub, generation, once_readable
from roost.replication.selector import matches
from roost.replication.watch import ChangeWatch
from roost.types import JSONDoc

PAGE_SIZE = 500
# Smaller store pages cost more in requests than they save in rows.
MIN_PAGE = 20
# A store page may take a while; a silent connection would look dead to a client waiting
# with a heartbeat, so filtered scans also emit heartbeats between rows.
_HEARTBEAT_TICK = object()


# Marks the end of what one store chunk gave: rows are written out in one piece, not one
# ASGI message per row.
class _Flush:
    pass


_FLUSH = _Flush()


# One encoder for every row: `json.dumps` with options builds a new one on each call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


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
        self.pass_rates = PassRates()

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
        if query.filtered or not scope.whole:
            events = self._scan_filtered(db, scope, query, since, want)
        else:
            events = self._scan_plain(db, query, since, want)
        async for event in events:
            yield event

    async def _rows(
        self, db: str, params: JSONDoc, stream: ResultsStream, *, buffered: bool
    ) -> AsyncIterator[list[Row]]:
        """The rows of one store `_changes` answer, as they are decoded. A bounded answer is
        read whole through the store pool, much cheaper than a streamed request; an
        unbounded one (no limit, or inline attachments) is streamed."""
        path = f"/{quote_db(db)}/_changes"
        if buffered:
            response = await self.couch.request("GET", path, params=_seq_param(params))
            raise_for_couch(response)
            yield stream.feed(response.content)
        else:
            async with self.couch.stream("GET", path, params=_seq_param(params)) as response:
                async for chunk in response.aiter_bytes():
                    yield stream.feed(chunk)
        # Read to the end even after the last wanted row: a response left unread costs the
        # pooled connection to the store.
        stream.close()

    async def _scan_plain(
        self, db: str, query: ChangesQuery, since: Any, want: int | None
    ) -> AsyncIterator[_Event]:
        """A whole-doctype reader's feed: the store's rows passed on as they are (design
        documents left out), one store request per `want` rows."""
        sent = 0
        while True:
            page = None if want is None else want - sent
            params = _store_params(query, since, page, style=query.style)
            stream = ResultsStream()
            rows_read = 0
            stopped_at: Any = None
            bounded = page is not None and page <= PAGE_SIZE and not params["attachments"]
            try:
                async for rows in self._rows(db, params, stream, buffered=bounded):
                    for row in rows:
                        rows_read += 1
                        value = row.value
                        if stopped_at is not None or _is_design(value):
                            continue
                        yield _Row(row.text, value.get("seq"))
                        sent += 1
                        if want is not None and sent >= want:
                            stopped_at = value.get("seq")
                    yield _FLUSH
            except NotFound:
                yield _End(since, None)
                return
            if stopped_at is not None:
                yield _End(stopped_at, None)
                return
            last_seq = stream.meta.get("last_seq", since)
            if page is None or rows_read < page or query.descending:
                pending = stream.meta.get("pending")
                yield _End(last_seq, pending if isinstance(pending, int) else None)
                return
            since = last_seq

    async def _scan_filtered(
        self, db: str, scope: Scope, query: ChangesQuery, since: Any, want: int | None
    ) -> AsyncIterator[_Event]:
        """A filtered feed: pages of rows with their documents, each document decided once,
        on the copy the page brought. A page is sized to what is still wanted, from the
        share of rows that passed so far, so a short feed reads little more than it sends."""
        # Restricted tokens follow winners only: a conflicting branch may be outside the
        # scope, and asking for it would fail the device's batch.
        style = query.style if scope.whole else "main_only"
        # Documents are read when something must be decided on them.
        needs_docs = query.selector is not None or not scope.whole
        sent = read = passed = 0
        key = _FeedKey(db, scope.permissions, query.doc_ids, _dumps(query.selector), style)
        prior = self.pass_rates.get(key)
        try:
            while True:
                page = (
                    PAGE_SIZE if query.descending else _page_size(want, sent, read, passed, prior)
                )
                params = _store_params(query, since, page, style=style, include_docs=needs_docs)
                try:
                    rows, texts, meta = await self._page(db, params, texts=query.include_docs)
                except NotFound:
                    yield _End(since, None)
                    return
                shown, consumed = await self._filter_page(
                    db, scope, query, rows, texts, None if want is None else want - sent
                )
                read += consumed
                passed += len(shown)
                for text, seq in shown:
                    yield _Row(text, seq)
                    sent += 1
                    if want is not None and sent >= want:
                        yield _End(seq, None)
                        return
                yield _FLUSH
                last_seq = meta.get("last_seq", since)
                if len(rows) < page or query.descending:
                    yield _End(last_seq, None)
                    return
                since = last_seq
        finally:
            if read:
                self.pass_rates.put(key, passed / read)

    async def _page(
        self, db: str, params: JSONDoc, *, texts: bool
    ) -> tuple[list[JSONDoc], list[str] | None, JSONDoc]:
        """One page of a filtered feed (at most `PAGE_SIZE` rows, held whole anyway): its
        rows, their exact source text when `texts` (to pass a row on unchanged), and the
        rest of the answer (`last_seq`). Without texts the C decoder reads it in one go."""
        response = await self.couch.request(
            "GET", f"/{quote_db(db)}/_changes", params=_seq_param(params)
        )
        raise_for_couch(response)
        if texts:
            stream = ResultsStream()
            decoded = stream.feed(response.content)
            stream.close()
            return [row.value for row in decoded], [row.text for row in decoded], stream.meta
        try:
            answer = fast_json.loads(response.content)
        except ValueError:
            raise StoreUnavailable("CouchDB answered with invalid JSON") from None
        rows = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(rows, list):
            raise StoreUnavailable("the store's _changes answer has no results")
        return rows, None, answer

    async def _filter_page(
        self,
        db: str,
        scope: Scope,
        query: ChangesQuery,
        rows: list[JSONDoc],
        texts: list[str] | None,
        want: int | None,
    ) -> tuple[list[tuple[str, Any]], int]:
        """The rows of one page this scope and filter let through, in order, as text; at
        most `want`. Rows are decided in order and only until `want` may be reached, so the
        rest of a page costs nothing; a document outside the scope is a deletion stub when
        an earlier revision was readable (batched store lookups, `once_readable`). A row
        passed on unchanged with its document is the store's own text (`texts`). Also says
        how many rows were looked at."""
        out: list[tuple[str, Any]] = []
        index = 0
        while index < len(rows) and (want is None or len(out) < want):
            need = None if want is None else want - len(out)
            decided: list[tuple[int, bool]] = []  # (row index, is a stub candidate)
            candidates: list[tuple[str, str, Any]] = []
            while index < len(rows) and (need is None or len(decided) < need):
                row = rows[index]
                index += 1
                doc_id = row.get("id")
                if _is_design(row) or (query.doc_ids is not None and doc_id not in query.doc_ids):
                    continue
                doc = row.get("doc") or {}
                if scope.readable(doc):
                    if query.selector is None or matches(query.selector, doc):
                        decided.append((index - 1, False))
                    continue
                rev = doc.get("_rev")
                # A first revision had no readable predecessor: it was never in scope.
                if isinstance(rev, str) and generation(rev) > 1:
                    decided.append((index - 1, True))
                    candidates.append((str(doc_id), rev, None))
            left = await once_readable(self.couch, db, scope, candidates) if candidates else set()
            for at, stub_candidate in decided:
                row = rows[at]
                if stub_candidate:
                    rev = row["doc"]["_rev"]
                    if (row.get("id"), rev) not in left:
                        continue
                    stub = deletion_stub(str(row.get("id")), rev)
                    if query.selector is not None and not matches(query.selector, stub):
                        continue
                    shown: JSONDoc = {
                        "seq": row.get("seq"),
                        "id": row.get("id"),
                        "changes": [{"rev": rev}],
                        "deleted": True,
                    }
                    if query.include_docs:
                        shown["doc"] = stub
                    text = _dumps(shown)
                elif texts is not None:
                    text = texts[at]  # the store's row, exactly as asked for
                else:
                    text = _dumps({key: value for key, value in row.items() if key != "doc"})
                out.append((text, row.get("seq")))
                if want is not None and len(out) >= want:
                    # The rows after this one were read for nothing.
                    return out, at + 1
        return out, index


def _is_design(row: JSONDoc) -> bool:
    return str(row.get("id", "")).startswith("_design/")


def _store_params(
    query: ChangesQuery, since: Any, limit: int | None, *, style: str, include_docs: bool = False
) -> JSONDoc:
    return {
        "feed": "normal",
        "since": since,
        "limit": limit,
        "style": style,
        "include_docs": query.include_docs or include_docs,
        "conflicts": (query.conflicts and query.include_docs) or None,
        "attachments": (query.attachments and query.include_docs) or None,
        "descending": query.descending or None,
    }


def _page_size(
    want: int | None, sent: int, read: int, passed: int, prior: float | None = None
) -> int:
    """Rows to ask the store for next: what is still wanted, scaled by the share of rows
    that passed so far in this request, or else in the feed's previous one (`prior`), with
    a margin of 5 %, within [MIN_PAGE, PAGE_SIZE]. The rows of a page past the last one
    sent are read again by the device's next request: with 25 %, a restricted pull read a
    fifth of its documents twice; with 5 %, a page sometimes falls short and a small one
    follows. Three interleaved pairs of `bench/replication.py`: selector-restricted pull
    0.76-0.85x against 0.59-0.75x of the direct pull."""
    if want is None:
        return PAGE_SIZE
    remaining = want - sent
    rate = passed / read if read else prior
    if rate is None:
        estimate = remaining
    elif rate == 0:
        estimate = PAGE_SIZE
    else:
        estimate = math.ceil(remaining / rate * 1.05)
    return max(MIN_PAGE, min(PAGE_SIZE, estimate))


@dataclass(frozen=True)
class _FeedKey:
    db: str
    permissions: PermissionSet
    doc_ids: frozenset[str] | None
    selector: str
    style: str


class PassRates:
    """The share of rows that passed the last filtered scan of a feed, per feed (database,
    permission set, filter), for the next request's first page: a replicator asks for the
    same feed batch after batch, and a first page sized right is one store request instead
    of two. A hint for page sizes only; it never decides what a row shows."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._rates: OrderedDict[_FeedKey, float] = OrderedDict()

    def get(self, key: _FeedKey) -> float | None:
        rate = self._rates.get(key)
        if rate is not None:
            self._rates.move_to_end(key)
        return rate

    def put(self, key: _FeedKey, rate: float) -> None:
        self._rates[key] = rate
        self._rates.move_to_end(key)
        while len(self._rates) > self.size:
            self._rates.popitem(last=False)


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
