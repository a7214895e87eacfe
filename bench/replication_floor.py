"""The store's own share of a pull: the requests a direct pull makes to the store, and those
Roost makes for a whole-doctype and a selector pull, replayed one batch after another
straight against the store (no Roost, no client), timed and with the store's CPU.

    .venv/bin/python bench/replication_floor.py [--docs 10000]

Whatever Roost adds to a pull (bench/replication.py) on top of this is Roost's own work and
its requests' round trips. Roost's store requests per batch of 100: a page of `_changes`
(with documents when the token is restricted: about 2.5 rows read per row sent for a
half-matching selector), `_bulk_get` of each id's current revision, database info, and
the checkpoint (read, read again for Roost's own revision check, write).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from process_cpu import cpu_seconds, process_tree
from replication import contact

from roost.couch import CouchClient, quote_db
from roost.embedded_store import EmbeddedStore

BATCH = 100


async def measure(store: EmbeddedStore, count: int) -> None:
    couch = CouchClient(store.url)
    assert store._process is not None
    pids = process_tree([store._process.pid])
    path = f"/{quote_db('floor/io-cozy-contacts')}"
    await couch.ensure_db("floor/io-cozy-contacts")
    for start in range(0, count, 1000):
        docs = [contact(i) for i in range(start, min(count, start + 1000))]
        await couch.bulk_docs("floor/io-cozy-contacts", docs)
    await couch.request("PUT", path + "/_local/checkpoint", json_body={"last_seq": 0})

    async def get(target: str, **params: object) -> dict[str, Any]:
        response = await couch.request("GET", path + target, params=params)
        answer: dict[str, Any] = response.json()
        return answer

    async def checkpoint(roost: bool) -> None:
        current = await get("/_local/checkpoint")
        if roost:
            await get("/_local/checkpoint")
        body = {"_rev": current["_rev"], "last_seq": 1}
        await couch.request("PUT", path + "/_local/checkpoint", json_body=body)

    async def bulk_get(docs: list[dict[str, str]], **params: object) -> None:
        await couch.request("POST", path + "/_bulk_get", params=params, json_body={"docs": docs})

    async def whole(*, roost: bool) -> int:
        """A whole-doctype pull: a direct replicator asks `_bulk_get` for the revisions the
        feed named; Roost asks for each id's current revision and checks its checkpoint."""
        since: object = 0
        while True:
            feed = await get("/_changes", style="all_docs", limit=BATCH, since=since)
            rows = feed["results"]
            assert isinstance(rows, list)
            if not rows:
                return count
            since = feed["last_seq"]
            if roost:
                await bulk_get([{"id": r["id"]} for r in rows], revs=True)
            else:
                wanted = [{"id": r["id"], "rev": r["changes"][0]["rev"]} for r in rows]
                await bulk_get(wanted, revs=True, latest=True)
            await get("")
            await checkpoint(roost=roost)

    async def roost_selector() -> int:
        since: object = 0
        copied = 0
        while True:
            page = await get(
                "/_changes", style="main_only", limit=BATCH * 5 // 2, since=since, include_docs=True
            )
            rows = page["results"]
            assert isinstance(rows, list)
            sent = [r for r in rows if "family" in r["doc"].get("groups", [])][:BATCH]
            if not sent:
                return copied
            since = sent[-1]["seq"] if len(sent) == BATCH else page["last_seq"]
            copied += len(sent)
            await bulk_get([{"id": r["id"]} for r in sent], revs=True)
            await get("")
            await checkpoint(roost=True)

    cases: dict[str, Callable[[], Awaitable[int]]] = {
        "a direct pull's store requests": lambda: whole(roost=False),
        "Roost's, whole-doctype token": lambda: whole(roost=True),
        "Roost's, selector token (groups=family)": roost_selector,
    }
    print("| store requests of | docs copied | store seconds (best of 3) | store CPU ms/doc |")
    print("|---|---|---|---|")
    for name, run in cases.items():
        await run()
        best: tuple[float, float, int] | None = None
        for _ in range(3):
            cpu, started = cpu_seconds(pids), time.perf_counter()
            copied = await run()
            sample = (time.perf_counter() - started, cpu_seconds(pids) - cpu, copied)
            best = sample if best is None or sample < best else best
        assert best is not None
        took, cpu, copied = best
        print(f"| {name} | {copied} | {took:.2f} | {cpu / copied * 1000:.3f} |")
    await couch.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roost-bench-floor-"))
    store = EmbeddedStore(work / "couchdb")
    store.start()
    try:
        asyncio.run(measure(store, args.docs))
    finally:
        store.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
