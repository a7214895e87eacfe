"""Which revisions a replicator lacks (`_revs_diff`) and fetching revisions (`_bulk_get`,
`open_revs`), with the credential's scope applied.

`_revs_diff` answers truthfully for every id: it only says which of the revisions the
device names Roost lacks, and revision ids are hashes a device cannot guess, so it tells
nothing about documents outside the scope. Only `possible_ancestors` (real revision ids)
is withheld from restricted tokens.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from roost import fast_json
from roost.couch import CouchClient, quote_db, quote_doc_id, raise_for_couch
from roost.errors import BadRequest, NotFound, StoreUnavailable
from roost.replication.scope import (
    Scope,
    bulk_get_entries,
    deletion_stub,
    missing_entry,
    once_readable,
    store_bulk_get,
)
from roost.types import JSONDoc

MAX_REVS_PER_ID = 1000
# Up to this many revisions without inline attachments, a whole-doctype `_bulk_get` is read
# whole; larger ones are streamed, so memory stays bounded.
BUFFERED_BULK_GET = 1000
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class _Winner:
    rev: str
    deleted: bool


def parse_revs_diff(body: Any) -> dict[str, list[str]]:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object {id: [revs]}")
    for doc_id, revs in body.items():
        if not isinstance(revs, list) or not all(isinstance(r, str) for r in revs):
            raise BadRequest(f"the revisions of {doc_id!r} must be a list of strings")
        if len(revs) > MAX_REVS_PER_ID:
            raise BadRequest(f"at most {MAX_REVS_PER_ID} revisions per document")
    return body


def parse_bulk_get(body: Any) -> list[JSONDoc]:
    if not isinstance(body, dict) or not isinstance(body.get("docs"), list):
        raise BadRequest('the body must be {"docs": [{"id", "rev"}…]}')
    docs: list[JSONDoc] = []
    for item in body["docs"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise BadRequest('each entry of "docs" needs an "id"')
        clean: JSONDoc = {"id": item["id"]}
        if item.get("rev") is not None:
            if not isinstance(item["rev"], str):
                raise BadRequest("rev must be a string")
            clean["rev"] = item["rev"]
        atts_since = item.get("atts_since")
        if atts_since is not None:
            if not isinstance(atts_since, list) or not all(isinstance(r, str) for r in atts_since):
                raise BadRequest("atts_since must be a list of revisions")
            clean["atts_since"] = atts_since
        docs.append(clean)
    return docs


def _answers_in_order(answer: Mapping[str, Any], docs: list[JSONDoc]) -> bool:
    """Whether `answer` holds one item per request of `docs`, in order, each one revision."""
    items = answer.get("results")
    return (
        isinstance(items, list)
        and len(items) == len(docs)
        and all(
            isinstance(item, dict)
            and item.get("id") == request["id"]
            and isinstance(item.get("docs"), list)
            and len(item["docs"]) == 1
            for item, request in zip(items, docs, strict=True)
        )
    )


class Revisions:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch

    async def revs_diff(self, db: str, scope: Scope, wanted: Mapping[str, list[str]]) -> JSONDoc:
        """The store's `_revs_diff`; for a restricted reader, an id whose current revision it
        may not read (and never could) answers what an id the store never saw answers, and
        `possible_ancestors` (real revision ids) is withheld."""
        if not wanted:
            return {}
        hidden = set() if scope.whole else await self._hidden_ids(db, scope, wanted)
        # The store itself answers for a hidden id, asked about under an id no document has:
        # the answer is then the store's own for a missing id, whatever its quirks.
        probes = {doc_id: f"{doc_id}~{secrets.token_hex(16)}" for doc_id in hidden}
        asked = {probes.get(doc_id, doc_id): revs for doc_id, revs in wanted.items()}
        try:
            stored: JSONDoc = await self.couch.json_request(
                "POST", f"/{quote_db(db)}/_revs_diff", json_body=asked
            )
        except NotFound:
            return {doc_id: {"missing": revs} for doc_id, revs in wanted.items() if revs}
        answer: JSONDoc = {}
        for doc_id in wanted:
            entry = stored.get(probes.get(doc_id, doc_id))
            if entry is None:
                continue
            if not scope.whole and isinstance(entry, dict):
                entry.pop("possible_ancestors", None)
            answer[doc_id] = entry
        return answer

    async def _hidden_ids(self, db: str, scope: Scope, wanted: Mapping[str, list[str]]) -> set[str]:
        """The ids whose winning revision `scope` may not read and whose document was never in
        it. A document that left the scope stays known to the device (it received a deletion
        stub), so its revisions are answered truthfully."""
        ids = {doc_id for doc_id, revs in wanted.items() if revs}
        if not ids:
            return set()
        winners = await self._winners(db, ids)
        unreadable = [doc for doc in winners.values() if not scope.readable(doc)]
        if not unreadable:
            return set()
        candidates = [(doc["_id"], str(doc["_rev"]), None) for doc in unreadable]
        left = await once_readable(self.couch, db, scope, candidates)
        return {doc_id for doc_id, rev, _ in candidates if (doc_id, rev) not in left}

    async def bulk_get_stream(
        self, db: str, docs: list[JSONDoc], *, revs: bool, latest: bool, attachments: bool
    ) -> AsyncIterator[bytes]:
        """`_bulk_get` for a whole-doctype reader. A replicator's batch (PouchDB asks 100 at
        a time) without inline attachments is read as `_fetch` does, each document once;
        a larger one, or one with attachments, is the store's answer streamed byte for
        byte, so memory stays bounded."""
        if not docs:
            # PouchDB Server never answers an empty `_bulk_get`.
            yield b'{"results":[]}'
            return
        if not attachments and len(docs) <= BUFFERED_BULK_GET:
            results, _, _, raw = await self._fetch(
                db, docs, revs=revs, latest=latest, attachments=False
            )
            yield raw if raw is not None else _ENCODER.encode({"results": results}).encode()
            return
        params = {
            "revs": revs or None,
            "latest": latest or None,
            "attachments": attachments or None,
        }
        try:
            async with self.couch.stream(
                "POST", f"/{quote_db(db)}/_bulk_get", params=params, json_body={"docs": docs}
            ) as response:
                async for chunk in response.aiter_bytes():
                    yield chunk
        except NotFound:
            missing = [{"id": d["id"], "docs": [missing_entry(d)]} for d in docs]
            yield json.dumps({"results": missing}).encode()

    async def bulk_get(
        self,
        db: str,
        scope: Scope,
        docs: list[JSONDoc],
        *,
        revs: bool,
        latest: bool,
        attachments: bool,
    ) -> bytes:
        """`_bulk_get` for a restricted reader, as JSON: unreadable revisions become deletion
        stubs (document left the scope) or `not_found` errors (never in scope). When every
        revision is shown as the store gave it, the store's answer is passed on."""
        # Revisions are always asked for: they tell whether a document left the scope.
        results, requests, current, raw = await self._fetch(
            db, docs, revs=True, latest=latest, attachments=attachments
        )
        altered = await self._apply_scope(db, scope, results, requests, revs=revs, current=current)
        if raw is not None and not altered:
            return raw
        return _ENCODER.encode({"results": results}).encode()

    async def _fetch(
        self, db: str, docs: list[JSONDoc], *, revs: bool, latest: bool, attachments: bool
    ) -> tuple[list[JSONDoc], list[JSONDoc], dict[str, JSONDoc], bytes | None]:
        """The revisions `docs` asks for as `_bulk_get` results (`results[i]` answers
        `requests[i]`), and the current revision the store gave for each id.

        A replicator asks for the revisions the feed just listed, nearly always the current
        ones, so the store is first asked for each id's current revision: each document is
        read once, and that one read also tells which revision is current (no second lookup
        of the winners). Only what this leaves unanswered (an older or conflicting revision,
        a deletion, a missing document) is asked again exactly as requested. With inline
        attachments (`atts_since` differs per request) the requests go as they are.

        The last member is the store's answer as it came when it answers `docs` exactly
        (every request answered by the first read, no id twice), else None."""
        current: dict[str, JSONDoc] = {}
        answered: list[JSONDoc | None] = [None] * len(docs)
        raw: bytes | None = None
        if not attachments and docs:
            ids = list(dict.fromkeys(request["id"] for request in docs))
            first, raw = await self._current_revisions(db, ids, revs=revs)
            for _, entry in bulk_get_entries(first):
                doc = entry.get("ok")
                if isinstance(doc, dict) and isinstance(doc.get("_rev"), str):
                    current[str(doc.get("_id"))] = doc
            for index, request in enumerate(docs):
                doc = current.get(request["id"])
                if doc is not None and request.get("rev") in (None, doc["_rev"]):
                    answered[index] = {"ok": dict(doc)}
        again = [request for request, entry in zip(docs, answered, strict=True) if entry is None]
        if raw is not None and (again or not _answers_in_order(first, docs)):
            raw = None
        found = await store_bulk_get(
            self.couch, db, again, revs=revs, latest=latest, attachments=attachments
        )
        # PouchDB Server answers repeated ids once; CouchDB once per request.
        exact = iter(zip(again, found.get("results", []), strict=False))
        results: list[JSONDoc] = []
        requests: list[JSONDoc] = []
        for request, answer in zip(docs, answered, strict=True):
            if answer is not None:
                results.append({"id": request["id"], "docs": [answer]})
                requests.append(request)
                continue
            pair = next(exact, None)
            if pair is None:
                continue
            asked, item = pair
            entries = [self._normalise(asked, each) for each in item.get("docs", [])]
            results.append({"id": asked["id"], "docs": entries})
            requests.append(asked)
        return results, requests, current, raw

    async def _current_revisions(
        self, db: str, ids: list[str], *, revs: bool
    ) -> tuple[JSONDoc, bytes | None]:
        """The store's `_bulk_get` of each id's current revision, decoded and as it came."""
        try:
            response = await self.couch.request(
                "POST",
                f"/{quote_db(db)}/_bulk_get",
                params={"revs": revs or None},
                json_body={"docs": [{"id": doc_id} for doc_id in ids]},
            )
            raise_for_couch(response)
        except NotFound:
            return {"results": []}, None
        try:
            answer = fast_json.loads(response.content)
        except ValueError:
            raise StoreUnavailable("CouchDB answered with invalid JSON") from None
        if not isinstance(answer, dict):
            raise StoreUnavailable("the store's _bulk_get answer is not an object")
        return answer, response.content

    async def open_revs(
        self,
        db: str,
        scope: Scope,
        doc_id: str,
        wanted: str | list[str],
        *,
        revs: bool,
        latest: bool,
    ) -> list[JSONDoc]:
        """`GET /{id}?open_revs=…` as a JSON list. For a restricted reader a leaf it may not
        see is left out (`all`) or answered `missing` (a list), and when nothing is visible
        the answer is the store's own for an id it does not hold."""
        params = {"open_revs": wanted, "revs": revs or not scope.whole, "latest": latest or None}
        entries = await self._open_revs(db, doc_id, params)
        if scope.whole:
            return entries
        results: list[JSONDoc] = []
        requests: list[JSONDoc] = []
        for entry in entries:
            own = entry.get("ok", {}).get("_rev") if isinstance(entry.get("ok"), dict) else None
            own = own or entry.get("missing")
            request: JSONDoc = {"id": doc_id}
            if wanted != "all" and own is not None:
                request["rev"] = own
            results.append({"id": doc_id, "docs": [self._normalise(request, entry)]})
            requests.append(request)
        await self._apply_scope(db, scope, results, requests, revs=revs)
        visible: list[JSONDoc] = []
        for item in results:
            entry = item["docs"][0]
            if "ok" in entry:
                visible.append({"ok": entry["ok"]})
            elif wanted != "all":
                visible.append({"missing": entry["error"]["rev"]})
        if not any("ok" in e for e in visible):
            probe = f"{doc_id}~{secrets.token_hex(16)}"
            absent = await self._open_revs(db, probe, {**params, "revs": revs or None})
            renamed: list[JSONDoc] = json.loads(json.dumps(absent).replace(probe, doc_id))
            return renamed
        return visible

    async def _open_revs(self, db: str, doc_id: str, params: Mapping[str, Any]) -> list[JSONDoc]:
        response = await self.couch.request(
            "GET",
            f"/{quote_db(db)}/{quote_doc_id(doc_id)}",
            params=params,
            headers={"Accept": "application/json"},
        )
        raise_for_couch(response)
        entries: list[JSONDoc] = response.json()
        return entries

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _normalise(request: Mapping[str, Any], entry: JSONDoc) -> JSONDoc:
        if "ok" in entry:
            return entry
        if "missing" in entry:
            return missing_entry(request, str(entry["missing"]))
        if isinstance(entry.get("error"), dict):
            return entry
        return missing_entry(request)

    async def _winners(self, db: str, ids: set[str]) -> dict[str, JSONDoc]:
        """Each id's winning revision, with its body: the live document, or a bare
        tombstone."""
        result = await self.couch.all_docs(db, keys=sorted(ids), params={"include_docs": True})
        winners: dict[str, JSONDoc] = {}
        for row in result.get("rows", []):
            value = row.get("value")
            if isinstance(row.get("doc"), dict):
                winners[row["id"]] = row["doc"]
            elif isinstance(value, Mapping) and value.get("deleted"):
                winners[row["id"]] = {"_id": row["id"], "_rev": value.get("rev"), "_deleted": True}
        return winners

    async def _winning_revs(self, db: str, ids: set[str]) -> dict[str, _Winner]:
        """Each id's winning revision and whether it is a deletion, without its body."""
        if not ids:
            return {}
        result = await self.couch.all_docs(db, keys=sorted(ids))
        winners: dict[str, _Winner] = {}
        for row in result.get("rows", []):
            value = row.get("value")
            if isinstance(value, Mapping) and isinstance(value.get("rev"), str):
                winners[str(row.get("id"))] = _Winner(value["rev"], bool(value.get("deleted")))
        return winners

    async def _apply_scope(
        self,
        db: str,
        scope: Scope,
        results: list[JSONDoc],
        requests: list[JSONDoc],
        *,
        revs: bool,
        current: dict[str, JSONDoc] | None = None,
    ) -> bool:
        """Replace what `scope` may not see, and say whether anything was replaced: a readable
        old revision is shown only while the current one is readable too (as `GET ?rev=`
        does); an unreadable revision becomes a deletion stub if the document was once in
        scope, else the very entry the store gives for an id it does not hold (`results[i]`
        answers `requests[i]`): the revision in it is the one asked for, never the
        document's own.

        Each document is decided once. `current` holds the current revisions already read
        (id → document); for a readable revision of any other id, the current revision is
        looked up (the index only, its body when it is neither deleted nor at hand)."""
        found = [
            entry["ok"]
            for item in results
            for entry in item["docs"]
            if isinstance(entry.get("ok"), dict)
        ]
        if not found:
            return False
        current = dict(current or {})
        readable = {(doc["_id"], doc["_rev"]): scope.readable(doc) for doc in found}
        unknown = {doc_id for (doc_id, _), ok in readable.items() if ok and doc_id not in current}
        if unknown:
            current.update(
                await self._current(db, unknown, {(d["_id"], d["_rev"]): d for d in found})
            )

        def current_readable(doc_id: str, rev: str) -> bool:
            now = current.get(doc_id)
            if now is None or now["_rev"] == rev:
                return True
            key = (doc_id, now["_rev"])
            if key not in readable:
                readable[key] = scope.readable(now)
            return readable[key]

        candidates = [
            (doc["_id"], doc["_rev"], doc.get("_revisions"))
            for doc in found
            if not readable[(doc["_id"], doc["_rev"])]
        ]
        left = await once_readable(self.couch, db, scope, candidates) if candidates else set()
        altered = False
        for item, request in zip(results, requests, strict=True):
            for index, entry in enumerate(item["docs"]):
                doc = entry.get("ok")
                if not isinstance(doc, dict):
                    continue
                key = (doc["_id"], doc["_rev"])
                if readable[key] and current_readable(*key):
                    shown = doc
                elif key in left:
                    shown = deletion_stub(doc["_id"], doc["_rev"], doc.get("_revisions"))
                    altered = True
                else:
                    item["docs"][index] = missing_entry(request)
                    altered = True
                    continue
                if not revs and "_revisions" in shown:
                    shown.pop("_revisions")
                    altered = True
                item["docs"][index] = {"ok": shown}
        return altered

    async def _current(
        self, db: str, ids: set[str], at_hand: Mapping[tuple[str, str], JSONDoc]
    ) -> dict[str, JSONDoc]:
        """The current revision of each id: the live document, or a bare tombstone. The
        index says which revision it is; a body not `at_hand` is read."""
        winners = await self._winning_revs(db, ids)
        missing = {
            doc_id
            for doc_id, winner in winners.items()
            if not winner.deleted and (doc_id, winner.rev) not in at_hand
        }
        bodies = await self._winners(db, missing) if missing else {}
        current: dict[str, JSONDoc] = {}
        for doc_id, winner in winners.items():
            doc = at_hand.get((doc_id, winner.rev)) or bodies.get(doc_id)
            if winner.deleted or doc is None:
                doc = {"_id": doc_id, "_rev": winner.rev, "_deleted": True}
            current[doc_id] = doc
        return current

    async def all_docs_by_keys(
        self,
        db: str,
        scope: Scope,
        keys: list[str],
        *,
        include_docs: bool,
        conflicts: bool,
    ) -> JSONDoc:
        """`_all_docs` with `keys` for a restricted reader (PouchDB 7 replicators fetch
        first revisions this way): a document it may not read answers like a missing one."""
        result = await self.couch.all_docs(
            db, keys=keys, params={"include_docs": True, "conflicts": conflicts or None}
        )
        rows: list[JSONDoc] = []
        for row in result.get("rows", []):
            doc = row.get("doc")
            value = row.get("value")
            if isinstance(doc, dict):
                visible = scope.readable(doc)
            elif isinstance(value, Mapping) and value.get("deleted"):
                visible = scope.readable({"_id": row.get("id"), "_deleted": True})
            else:
                visible = "error" in row
            if not visible:
                rows.append({"key": row.get("key"), "error": "not_found"})
                continue
            if not include_docs:
                row.pop("doc", None)
            rows.append(row)
        return {"total_rows": len(rows), "offset": 0, "rows": rows}

    async def attachment(
        self, db: str, scope: Scope, doc_id: str, name: str, rev: str | None
    ) -> tuple[str, AsyncIterator[bytes]]:
        """(content type, bytes) of one attachment: replicators fetch them one by one. The
        document must be readable at that revision, and, for a restricted reader, now too."""
        params = {"rev": rev} if rev else None
        try:
            doc = await self.couch.get_doc(db, doc_id, params=params)
        except NotFound:
            # "deleted" would tell a restricted reader that the id once existed.
            raise NotFound("missing") from None
        if not scope.whole:
            current = doc if not rev else await self.couch.get_doc_or_none(db, doc_id)
            if not scope.readable(doc) or current is None or not scope.readable(current):
                raise NotFound("missing")
        info = (doc.get("_attachments") or {}).get(name)
        if not isinstance(info, dict):
            raise NotFound("missing")
        path = f"/{quote_db(db)}/{quote_doc_id(doc_id)}/{quote(name, safe='')}"

        async def body() -> AsyncIterator[bytes]:
            async with self.couch.stream("GET", path, params=params) as response:
                async for chunk in response.aiter_bytes():
                    yield chunk

        return str(info.get("content_type") or "application/octet-stream"), body()
