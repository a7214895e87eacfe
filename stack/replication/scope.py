"""What one credential may see of a doctype while replicating, and how a document that
left its scope is shown.

Visibility is decided on the revision the device would receive. A revision the token may
not read is either invisible (the document was never in scope: its id never shows) or, when
an earlier revision of the same document was readable, replaced by a *deletion stub*
`{"_id", "_rev", "_deleted": true}` carrying the real revision id and history: the device
then deletes its copy. If the document comes back into scope, its next revision descends
from the stub and replaces it on the device. The stub carries no content, and the server's
document is never touched by it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

from roost.couch import CouchClient, quote_db
from roost.errors import NotFound
from roost.permissions import DocumentTarget, PermissionSet, decide
from roost.types import JSONDoc

# How far back in a document's history Roost looks for a readable revision. Older bodies
# are often gone anyway (compaction keeps only leaves).
MAX_ANCESTORS = 10

DocRev = tuple[str, str]


def generation(rev: str) -> int:
    head, _, _ = rev.partition("-")
    try:
        return int(head)
    except ValueError:
        return 0


def ancestors(revisions: Mapping[str, Any] | None, limit: int = MAX_ANCESTORS) -> list[str]:
    """Parent first, from a `_revisions` object `{"start": n, "ids": [...]}`."""
    if not isinstance(revisions, Mapping):
        return []
    start, ids = revisions.get("start"), revisions.get("ids")
    if not isinstance(start, int) or not isinstance(ids, list):
        return []
    return [f"{start - i}-{ids[i]}" for i in range(1, min(len(ids), limit + 1))]


def deletion_stub(doc_id: str, rev: str, revisions: Any = None) -> JSONDoc:
    stub: JSONDoc = {"_id": doc_id, "_rev": rev, "_deleted": True}
    if revisions is not None:
        stub["_revisions"] = revisions
    return stub


class Scope:
    """The read side of one permission set on one doctype, as `decide` answers it at `now`
    (the time of the request; a feed that outlives a grant's expiry is cut by its own
    request-level decision at the next request)."""

    def __init__(self, permissions: PermissionSet, doctype: str, *, now: datetime) -> None:
        self.permissions = permissions
        self.doctype = doctype
        self.now = now

    @cached_property
    def whole(self) -> bool:
        return decide(self.permissions, "GET", self.doctype, None, now=self.now).allowed

    def readable(self, doc: Mapping[str, Any]) -> bool:
        if self.whole:
            return True
        target = DocumentTarget(doc)
        return decide(self.permissions, "GET", self.doctype, target, now=self.now).allowed


def bulk_get_entries(result: Mapping[str, Any]) -> Iterable[tuple[str, JSONDoc]]:
    """(requested id, entry) pairs of a store's `_bulk_get` answer."""
    for item in result.get("results", []):
        for entry in item.get("docs", []):
            yield str(item.get("id", "")), entry


async def store_bulk_get(
    couch: CouchClient,
    db: str,
    docs: list[JSONDoc],
    *,
    revs: bool,
    latest: bool = False,
    attachments: bool = False,
) -> JSONDoc:
    """The store's `_bulk_get` answer; a database not created yet holds nothing."""
    if not docs:
        return {"results": []}
    params = {"revs": revs or None, "latest": latest or None, "attachments": attachments or None}
    try:
        result: JSONDoc = await couch.json_request(
            "POST", f"/{quote_db(db)}/_bulk_get", params=params, json_body={"docs": docs}
        )
    except NotFound:
        return {"results": [{"id": d["id"], "docs": [missing_entry(d)]} for d in docs]}
    return result


def missing_entry(request: Mapping[str, Any], rev: str | None = None) -> JSONDoc:
    """CouchDB's shape for a revision that cannot be returned."""
    wanted = rev or request.get("rev") or "undefined"
    return {
        "error": {"id": request.get("id"), "rev": wanted, "error": "not_found", "reason": "missing"}
    }


async def once_readable(
    couch: CouchClient, db: str, scope: Scope, candidates: list[tuple[str, str, Any]]
) -> set[DocRev]:
    """The (id, rev) among `candidates` whose document had a readable earlier revision.

    A candidate is (id, unreadable rev, its `_revisions` or None). Two batched store
    requests at most, whatever the number of candidates.
    """
    wanted = [c for c in candidates if generation(c[1]) > 1]
    if not wanted:
        return set()
    histories: dict[DocRev, Any] = {(i, r): h for i, r, h in wanted if h is not None}
    unknown = [{"id": i, "rev": r} for i, r, h in wanted if h is None]
    if unknown:
        found = await store_bulk_get(couch, db, unknown, revs=True)
        for _, entry in bulk_get_entries(found):
            doc = entry.get("ok")
            if isinstance(doc, dict):
                histories[(doc["_id"], doc["_rev"])] = doc.get("_revisions")
    lookups: list[JSONDoc] = []
    parents: dict[DocRev, list[DocRev]] = {}
    for (doc_id, rev), history in histories.items():
        chain = [(doc_id, ancestor) for ancestor in ancestors(history)]
        parents[(doc_id, rev)] = chain
        lookups.extend({"id": doc_id, "rev": ancestor} for _, ancestor in chain)
    readable_revs: set[DocRev] = set()
    if lookups:
        found = await store_bulk_get(couch, db, lookups, revs=False)
        for _, entry in bulk_get_entries(found):
            doc = entry.get("ok")
            if isinstance(doc, dict) and not doc.get("_deleted") and scope.readable(doc):
                readable_revs.add((doc["_id"], doc["_rev"]))
    return {key for key, chain in parents.items() if any(p in readable_revs for p in chain)}
