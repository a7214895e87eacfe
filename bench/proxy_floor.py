"""The floor under `/data` GET: a bare uvicorn + Starlette app that only forwards the GET.

    .venv/bin/python bench/proxy_floor.py [--requests 2000]

In one run, on the same store and the same documents, GET by id at concurrency 1 and 16:
- direct: straight to the store;
- floor: a one-route Starlette app, served by uvicorn exactly as `roost serve` serves
  Roost (one worker, httptools, uvloop), that reads the document with Roost's own store
  client (`CouchClient.get_doc`: the same keep-alive pool) and answers it as JSON. No
  middleware, no instance, no token, no permission decision;
- Roost: `GET /data/{doctype}/{id}` with a token, through everything.

Each proxy's ratio to direct and its CPU per request (user + system of its process) show
how much of Roost's cost is Python's HTTP layer itself and how much is Roost's own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from data_api import DOCTYPE, DOMAIN, interleaved, seed
from load import Requests

from roost.config import Config
from roost.couch import quote_db
from roost.embedded_store import free_port
from stack import running_stack


def serve_floor(port: int, store_url: str) -> None:
    """The floor app, served until killed (run in its own process by `main`)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    from roost import fast_json
    from roost.couch import CouchClient

    couch = CouchClient(store_url)

    async def forward(request: Request) -> Response:
        doc = await couch.get_doc(request.path_params["db"], request.path_params["docid"])
        return Response(fast_json.dumps(doc), media_type="application/json")

    async def ready(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(
        routes=[Route("/", ready), Route("/{db:path}/{docid}", forward, methods=["GET"])]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


def measure(
    config: Config, floor_url: str, roost_url: str, pids: dict[str, int], total: int
) -> str:
    store_url = str(config.couchdb_url)
    db, token, ids = asyncio.run(seed(config, store_url, roost_url))
    paths = {
        "direct": Requests([f"{store_url}/{quote_db(db)}/{doc_id}" for doc_id in ids]),
        "floor": Requests([f"{floor_url}/{quote_db(db)}/{doc_id}" for doc_id in ids]),
        "roost": Requests(
            [f"{roost_url}/data/{DOCTYPE}/{doc_id}" for doc_id in ids],
            headers={"Host": DOMAIN, "Authorization": f"Bearer {token}"},
        ),
    }
    lines = [
        "| concurrency | path | docs/s | ratio to direct | p50 / p99 ms | p50 overhead ms "
        "| proxy CPU ms/op |",
        "|---|---|---|---|---|---|---|",
    ]
    processes = {name: [pid] for name, pid in pids.items()}
    for concurrency in (1, 16):
        count = total if concurrency > 1 else max(200, total // 4)
        measured = interleaved(concurrency, count, paths, processes)
        direct = measured["direct"].row("direct")
        for name, result in measured.items():
            row = result.row(name)
            cpu = f"{result.cpu_ms(name):.2f}" if name in pids else "—"
            lines.append(
                f"| {concurrency} | {name} | {row[1]:.0f} | **{row[1] / direct[1]:.2f}×** "
                f"| {row[2]:.2f} / {row[3]:.2f} | {row[2] - direct[2]:+.2f} | {cpu} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "STORE_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_floor(int(args.serve[0]), args.serve[1])
        return
    work = Path(tempfile.mkdtemp(prefix="roost-floor-"))
    with running_stack(work) as stack:
        port = free_port()
        floor = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), stack.store_url],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        floor_url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{floor_url}/", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the floor app did not start") from None
                    time.sleep(0.2)
            pids = {"floor": floor.pid, "roost": stack.roost_pid}
            table = measure(stack.config, floor_url, stack.roost_url, pids, args.requests)
        finally:
            floor.terminate()
            floor.wait(timeout=15)
    print(f"Store: {stack.backend}; GET by id, {args.requests} requests at concurrency 16.\n")
    print(table)


if __name__ == "__main__":
    main()
