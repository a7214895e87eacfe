"""Revision trees in a database, as an import writes them: which revisions it lacks, the
live winners, and the replication write (`_bulk_docs` with `new_edits: false`) that adds
revisions with their histories without touching the ones already there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from roost.couch import CouchClient, quote_db
from roost.errors import NotFound
from roost.portability.errors import ImportFailed

__all__ = [
    "BATCH",
    "groups",
    "live_docs",
    "missing_revs",
    "rev_key",
    "winning_revision",
    "write_revisions",
]

BATCH = 500


def rev_key(doc: dict[str, Any]) -> tuple[int, str]:
    position, _, digest = str(doc["_rev"]).partition("-")
    return int(position), digest


def winning_revision(leaves: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """CouchDB's choice among live leaves: the longest history, then the greater rev id."""
    return max(leaves, key=rev_key)


async def missing_revs(
    couch: CouchClient, db: str, docs: list[dict[str, Any]]
) -> dict[str, set[str]]:
    """id → the revisions of `docs` the database lacks."""
    wanted: dict[str, list[str]] = {}
    for doc in docs:
        wanted.setdefault(doc["_id"], []).append(doc["_rev"])
    if not wanted:
        return {}
    try:
        answer = await couch.json_request("POST", f"/{quote_db(db)}/_revs_diff", json_body=wanted)
    except NotFound:
        return {doc_id: set(revs) for doc_id, revs in wanted.items()}
    return {
        doc_id: set(entry.get("missing", []))
        for doc_id, entry in answer.items()
        if isinstance(entry, dict)
    }


async def live_docs(couch: CouchClient, db: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The current winner of each id that exists (not deleted) in the database."""
    if not ids:
        return {}
    result = await couch.all_docs(db, keys=ids, params={"include_docs": True})
    return {
        row["id"]: row["doc"]
        for row in result.get("rows", [])
        if row.get("doc") and not row.get("value", {}).get("deleted")
    }


async def write_revisions(couch: CouchClient, db: str, docs: list[dict[str, Any]]) -> None:
    """Add these revisions (with their histories) to the database's revision trees."""
    if not docs:
        return
    results = await couch.bulk_docs(db, docs, new_edits=False)
    failed = [r for r in results if isinstance(r, dict) and r.get("error")]
    if failed:
        first = failed[0]
        raise ImportFailed(
            f"the store refused {len(failed)} document(s) of {db.rsplit('/', 1)[-1]}, e.g. "
            f"{first.get('id')}: {first.get('reason') or first.get('error')}"
        )


def groups(docs: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Batches of about BATCH documents that never split one id's leaves."""
    batch: list[dict[str, Any]] = []
    for doc in docs:
        if len(batch) >= BATCH and batch[-1]["_id"] != doc["_id"]:
            yield batch
            batch = []
        batch.append(doc)
    if batch:
        yield batch
