"""The store client: its own HTTP pool, group reads and group commit, against the real store.

Concurrent single-document requests share store requests; every caller must still get
exactly its own answer. `couchdb` (couchdb-python, its own connections) checks what is
really stored.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import couchdb
import httpx
import pytest

from roost.config import Config
from roost.couch import CouchClient
from roost.errors import Conflict, NotFound, RoostError
from tests.store_requests import StoreRequests


@pytest.fixture
async def couch(config: Config) -> AsyncIterator[CouchClient]:
    client = CouchClient(config.couchdb_url or "")
    yield client
    await client.aclose()


def _db(config: Config) -> str:
    return f"{config.db_prefix}couchtest-{secrets.token_hex(3)}"


async def test_concurrent_writes_each_get_their_own_answer(
    couch: CouchClient, config: Config
) -> None:
    db = _db(config)
    docs = [{"_id": f"doc-{n:03d}", "n": n} for n in range(60)]
    revs = await asyncio.gather(*(couch.put_doc(db, doc) for doc in docs))
    assert all(rev.startswith("1-") for rev in revs)
    assert [doc["_rev"] for doc in docs] == revs
    # Two writers of one document with the same revision: one wins, one conflicts.
    first, second = dict(docs[0], n=-1), dict(docs[0], n=-2)
    results = await asyncio.gather(
        couch.put_doc(db, first), couch.put_doc(db, second), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "str"]
    # New documents racing for one id: exactly one is created.
    racing = [{"_id": "claimed", "by": n} for n in range(8)]
    outcomes = await asyncio.gather(
        *(couch.put_doc(db, doc, exclusive=True) for doc in racing), return_exceptions=True
    )
    assert sum(isinstance(o, str) for o in outcomes) == 1
    assert sum(isinstance(o, Conflict) for o in outcomes) == 7
    winner = next(doc for doc, o in zip(racing, outcomes, strict=True) if isinstance(o, str))

    server = couchdb.Server(config.couchdb_url)
    stored = server[db]
    assert stored["claimed"]["by"] == winner["by"]
    assert {doc_id for doc_id in stored if doc_id.startswith("doc-")} == {
        doc["_id"] for doc in docs
    }
    assert stored["doc-007"]["n"] == 7
    # Each writer got its own document's revision (PouchDB Server answers `_bulk_docs`
    # out of order: pairing rows by position would hand out another document's).
    for doc, rev in zip(docs[1:], revs[1:], strict=True):
        assert stored[doc["_id"]]["_rev"] == rev


async def test_bulk_results_come_in_the_order_sent(couch: CouchClient, config: Config) -> None:
    db = _db(config)
    docs = [{"_id": f"{n:03d}-{secrets.token_hex(2)}"} for n in range(40)]
    docs.reverse()
    rows = await couch.bulk_docs(db, docs)
    assert [row["id"] for row in rows] == [doc["_id"] for doc in docs]
    stored = couchdb.Server(config.couchdb_url)[db]
    assert all(stored[row["id"]]["_rev"] == row["rev"] for row in rows)


async def test_a_bad_document_in_a_batch_fails_alone(couch: CouchClient, config: Config) -> None:
    db = _db(config)
    await couch.ensure_db(db)
    good = [{"_id": f"ok-{n}", "n": n} for n in range(5)]
    # A member no document may have: refused (400 by CouchDB, 500 by PouchDB Server).
    with pytest.raises(RoostError) as alone:
        await couch.put_doc(db, {"_id": "bad", "_foo": 1})
    bad = {"_id": "bad", "_foo": 1}
    outcomes = await asyncio.gather(
        *(couch.put_doc(db, doc) for doc in [*good[:2], bad, *good[2:]]),
        return_exceptions=True,
    )
    assert type(outcomes[2]) is type(alone.value)
    assert all(isinstance(o, str) for i, o in enumerate(outcomes) if i != 2)
    assert await couch.get_doc_or_none(db, "bad") is None
    assert [
        d["n"] for d in await asyncio.gather(*(couch.get_doc(db, str(g["_id"])) for g in good))
    ] == [
        0,
        1,
        2,
        3,
        4,
    ]


async def test_concurrent_reads_see_what_was_written_before_them(
    couch: CouchClient, config: Config
) -> None:
    db = _db(config)
    for n in range(20):
        await couch.put_doc(db, {"_id": f"r-{n}", "n": n})
    deleted = {"_id": "gone"}
    await couch.put_doc(db, deleted)
    await couch.delete_doc(db, "gone", deleted["_rev"])
    ids = [f"r-{n}" for n in range(20)] + ["gone", "never", "r-3"]
    found = await asyncio.gather(*(couch.get_doc_or_none(db, doc_id) for doc_id in ids))
    assert [None if doc is None else doc["n"] for doc in found] == [*range(20), None, None, 3]
    # A read made after a write returns sees it, however the reads are grouped.
    doc = found[0]
    assert doc is not None
    doc["n"] = 100
    await couch.put_doc(db, doc)
    again = await asyncio.gather(*(couch.get_doc_or_none(db, "r-0") for _ in range(5)))
    assert [d["n"] if d else None for d in again] == [100] * 5
    # A database that does not exist answers None, as one missing document would.
    missing = await asyncio.gather(
        *(couch.get_doc_or_none(f"{db}-missing", f"x{n}") for n in range(3))
    )
    assert missing == [None, None, None]
    with pytest.raises(NotFound):
        await couch.get_doc(db, "never")


async def test_lookups_started_side_by_side_leave_in_one_request(
    couch: CouchClient, config: Config
) -> None:
    db = _db(config)
    for n in range(3):
        await couch.put_doc(db, {"_id": f"s-{n}", "n": n})
    requests = StoreRequests(couch)
    found = await asyncio.gather(
        *(couch.get_doc_or_none(db, f"s-{n}") for n in range(3)),
        couch.get_doc_or_none(db, "absent"),
    )
    assert [None if doc is None else doc["n"] for doc in found] == [0, 1, 2, None]
    assert [(r.method, r.last_segment) for r in requests.sent] == [("POST", "_all_docs")]
    # A lone lookup is still the plain GET it always was.
    requests.clear()
    lone = await couch.get_doc_or_none(db, "s-1")
    assert lone is not None and lone["n"] == 1
    assert [(r.method, r.last_segment) for r in requests.sent] == [("GET", "s-1")]


async def test_two_writes_of_one_document_started_together_never_share_a_request(
    couch: CouchClient, config: Config
) -> None:
    """PouchDB Server stores two writes of one id in one `_bulk_docs` inconsistently (its
    `_changes` then crashes on the document): they must leave one after the other."""
    db = _db(config)
    await couch.put_doc(db, {"_id": "seed"})
    requests = StoreRequests(couch)
    for round_ in range(5):
        same = f"same-{round_}"
        outcomes = await asyncio.gather(
            couch.put_doc(db, {"_id": same, "n": 1}),
            couch.put_doc(db, {"_id": same, "n": 2}),
            couch.put_doc(db, {"_id": f"other-{round_}"}),
            return_exceptions=True,
        )
        assert sorted(type(o).__name__ for o in outcomes[:2]) == ["Conflict", "str"]
        assert isinstance(outcomes[2], str)
    bodies = [
        r.json_body
        for r in requests.sent
        if r.method in ("PUT", "POST") and r.json_body is not None
    ]
    for body in bodies:
        ids = [doc["_id"] for doc in body.get("docs", [body])]
        assert len(ids) == len(set(ids)), ids
    # The store's feed reads every document (it died on a document written twice at once).
    async with httpx.AsyncClient(base_url=config.couchdb_url or "") as raw:
        feed = await raw.get(f"/{db}/_changes", params={"include_docs": "true"})
    assert feed.status_code == 200
    assert {row["id"] for row in feed.json()["results"]} >= {f"same-{n}" for n in range(5)}


async def test_a_database_removed_meanwhile_is_created_again_on_write(
    couch: CouchClient, config: Config
) -> None:
    db = _db(config)
    await couch.put_doc(db, {"_id": "a"})
    other = CouchClient(config.couchdb_url or "")  # another process deletes it
    try:
        await other.delete_db(db)
    finally:
        await other.aclose()
    revs = await asyncio.gather(*(couch.put_doc(db, {"_id": f"b{n}"}) for n in range(4)))
    assert len(revs) == 4
    assert {doc_id for doc_id in couchdb.Server(config.couchdb_url)[db]} == {
        "b0",
        "b1",
        "b2",
        "b3",
    }
