"""Realtime fan-out: events per second delivered to 100 websocket subscribers.

    .venv/bin/python bench/realtime.py [--subscribers 100] [--docs 500] [--no-write]

Starts the embedded PouchDB Server (or uses ROOST_COUCHDB_URL) and `roost serve` in its own
process, opens the sockets (AUTH with a token, SUBSCRIBE io.cozy.contacts), then writes the
documents straight into the store with `_bulk_docs` — the way another process would — and
times until every subscriber has every event it may see. Two cases: tokens on the whole
doctype (one decision per event and subscriber) and selector tokens that see half of the
documents (each event matched against each subscriber's grant). Prints the rates; writes
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from roost.config import Config
from roost.couch import quote_db
from roost.permissions import PermissionSet
from roost.services import Services
from stack import running_stack

DOCTYPE = "io.cozy.contacts"
DOMAIN = "realtime.roost.test"
BATCH = 100


async def _socket(roost_url: str, token: str) -> ClientConnection:
    port = urlsplit(roost_url).port
    ws = await connect(
        f"ws://{DOMAIN}:{port}/realtime/",
        host="127.0.0.1",
        port=port,
        subprotocols=["io.cozy.websocket"],  # type: ignore[list-item]
        max_queue=None,
        open_timeout=60,
    )
    await ws.send(json.dumps({"method": "AUTH", "payload": token}))
    await ws.send(json.dumps({"method": "SUBSCRIBE", "payload": {"type": DOCTYPE}}))
    await ws.send(json.dumps({"method": "BARRIER"}))  # answered 405 once SUBSCRIBE is done
    while json.loads(await ws.recv()).get("event") != "error":
        pass
    return ws


async def _case(
    store: httpx.AsyncClient, db: str, sockets: list[ClientConnection], docs: int, expect: int
) -> tuple[float, float]:
    """Write `docs` documents (half of them in group "a"); every socket must receive
    `expect` events. Returns (events delivered per second, seconds)."""

    async def receive(ws: ClientConnection) -> None:
        for _ in range(expect):
            await ws.recv()

    readers = [asyncio.create_task(receive(ws)) for ws in sockets]
    started = time.perf_counter()
    for first in range(0, docs, BATCH):
        batch = [
            {"fullname": f"n{n}", "group": "a" if n % 2 == 0 else "b"}
            for n in range(first, min(first + BATCH, docs))
        ]
        (await store.post(f"/{quote_db(db)}/_bulk_docs", json={"docs": batch})).raise_for_status()
    await asyncio.wait_for(asyncio.gather(*readers), timeout=600)
    elapsed = time.perf_counter() - started
    return expect * len(sockets) / elapsed, elapsed


async def run(store_url: str, roost_url: str, config: Config, subscribers: int, docs: int) -> str:
    services = Services.build(config, store_url)
    instance = await services.instances.create(DOMAIN, secrets.token_urlsafe(12))
    db = instance.db(DOCTYPE)
    await services.couch.ensure_db(db)

    async def token(scope: str) -> str:
        return await services.tokens.issue(
            instance,
            audience="cli",
            subject="bench",
            permissions=PermissionSet.from_inline(scope),
            ttl=timedelta(hours=1),
            kind="cli",
        )

    whole = await token(f"{DOCTYPE}:GET")
    selector = await token(f"{DOCTYPE}:GET:a:group")
    await services.aclose()

    rows = []
    async with httpx.AsyncClient(base_url=store_url, timeout=60) as store:
        for label, secret, expect in (
            ("whole doctype", whole, docs),
            ("selector (sees half)", selector, docs // 2),
        ):
            sockets = [await _socket(roost_url, secret) for _ in range(subscribers)]
            try:
                rate, elapsed = await _case(store, db, sockets, docs, expect)
            finally:
                for ws in sockets:
                    await ws.close()
            rows.append((label, expect, rate, elapsed))
    lines = [
        "| subscribers' grant | events per subscriber | deliveries | seconds "
        "| events/s delivered |",
        "|---|---|---|---|---|",
    ]
    for label, expect, rate, elapsed in rows:
        lines.append(
            f"| {label} | {expect} | {expect * subscribers} | {elapsed:.2f} | **{rate:.0f}** |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    with running_stack(work) as stack:
        table = asyncio.run(
            run(stack.store_url, stack.roost_url, stack.config, args.subscribers, args.docs)
        )
    body = (
        f"Store: {stack.backend}. One `roost serve` process (uvicorn, one worker), the store "
        f"and the client on the same machine; {args.subscribers} websocket subscribers on "
        f"`{DOCTYPE}`, {args.docs} documents written straight into the store with "
        "`_bulk_docs` (as another process would), timed from the first write until every "
        "subscriber has every event it may see. Every delivery passed "
        "`roost.permissions.decide`.\n\n" + table
    )
    print(table)
    if not args.no_write:
        write_section("Realtime (bench/realtime.py)", body)


if __name__ == "__main__":
    main()
