"""GET-by-id and POST through Roost vs straight against the same CouchDB, in one run.

    .venv/bin/python bench/data_api.py [--requests 2000] [--no-write]

Starts the embedded PouchDB Server (or uses ROOST_COUCHDB_URL), runs `roost serve` in its
own process, then drives both with the same load generator (`bench/load.js`, Node's HTTP
client with keep-alive) at concurrency 1 and 16, taking turns (`ROUNDS`) so that both meet
the same load from the rest of the machine. Prints
docs/s, p50, p99, the Roost/direct ratio, and the CPU per request of Roost and of the
store (user + system, from /proc); writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import Requests, drive
from process_cpu import cpu_seconds, process_tree
from report import median, percentile, write_section

from roost.config import Config
from roost.couch import quote_db
from roost.permissions import PermissionSet
from roost.services import Services
from stack import BenchStack, running_stack

DOCTYPE = "io.cozy.contacts"
DOMAIN = "bench.roost.test"
# Turns taken by the paths compared (see `interleaved`).
ROUNDS = 5


def _row(name: str, rate: float, latencies: list[float]) -> tuple[str, float, float, float]:
    return name, rate, median(latencies) * 1000, percentile(latencies, 0.99) * 1000


@dataclass
class Measured:
    """One path's requests over all rounds: rate, latencies, CPU per request by process
    (`client`: the load generator's)."""

    count: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # seconds, by process group

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def cpu_ms(self, process: str) -> float:
        return self.cpu.get(process, 0.0) * 1000 / self.count

    def row(self, name: str) -> tuple[str, float, float, float]:
        return _row(name, self.rate, self.latencies)


def interleaved(
    concurrency: int,
    total: int,
    paths: dict[str, Requests],
    processes: dict[str, list[int]],
    rounds: int = ROUNDS,
) -> dict[str, Measured]:
    """`total` requests per path, in `rounds` turns taken one path after the other.

    Other work on the machine comes and goes; measured one after the other, the paths would
    each meet different weather. Taking turns, each sees about the same. The CPU of each
    named process group is read around each turn."""
    measured = {name: Measured() for name in paths}
    for requests in paths.values():
        drive(requests, concurrency, 50)  # warm every path
    for turn in range(rounds):
        count = total // rounds + (1 if turn < total % rounds else 0)
        for name, requests in paths.items():
            before = {process: cpu_seconds(pids) for process, pids in processes.items()}
            done = drive(requests, concurrency, count)
            result = measured[name]
            result.seconds += done.seconds
            result.count += count
            result.latencies += done.latencies
            result.cpu["client"] = result.cpu.get("client", 0.0) + done.client_cpu
            for process, pids in processes.items():
                spent = cpu_seconds(pids) - before[process]
                result.cpu[process] = result.cpu.get(process, 0.0) + spent
    return measured


BODY = {
    "fullname": "Ada Lovelace",
    "email": [{"address": "ada@example.org"}],
    "groups": ["family"],
}


async def seed(config: Config, store_url: str, roost_url: str) -> tuple[str, str, list[str]]:
    """An instance, a token for its contacts, and 200 contacts: (database, token, ids)."""
    services = Services.build(config, store_url)
    instance = await services.instances.create(DOMAIN, secrets.token_urlsafe(12))
    token = await services.tokens.issue(
        instance,
        audience="cli",
        subject="bench",
        permissions=PermissionSet.from_inline(DOCTYPE),
        ttl=timedelta(hours=1),
        kind="cli",
    )
    db = instance.db(DOCTYPE)
    await services.couch.ensure_db(db)
    await services.aclose()
    async with httpx.AsyncClient(base_url=store_url, timeout=30) as direct:
        # One write through Roost first: it creates what a first write creates.
        async with httpx.AsyncClient(
            base_url=roost_url,
            timeout=30,
            headers={"Host": DOMAIN, "Authorization": f"Bearer {token}"},
        ) as roost:
            (await roost.post(f"/data/{DOCTYPE}/", json=BODY)).raise_for_status()
        ids = [(await direct.post(f"/{quote_db(db)}", json=BODY)).json()["id"] for _ in range(200)]
    return db, token, ids


def run(stack: BenchStack, total: int) -> str:
    store_url, roost_url = stack.store_url, stack.roost_url
    roost_pids = [stack.roost_pid]
    store_pids = process_tree([stack.store_pid]) if stack.store_pid else []
    db, token, ids = asyncio.run(seed(stack.config, store_url, roost_url))
    json_type = {"Content-Type": "application/json"}
    as_roost = {"Host": DOMAIN, "Authorization": f"Bearer {token}"}
    bodies = [json.dumps(BODY).encode()]
    roost_get = Requests(
        [f"{roost_url}/data/{DOCTYPE}/{doc_id}" for doc_id in ids], headers=as_roost
    )
    direct_get = Requests([f"{store_url}/{quote_db(db)}/{doc_id}" for doc_id in ids])
    roost_post = Requests(
        [f"{roost_url}/data/{DOCTYPE}/"], "POST", {**as_roost, **json_type}, bodies=bodies
    )
    direct_post = Requests([f"{store_url}/{quote_db(db)}"], "POST", json_type, bodies=bodies)

    processes = {"roost": roost_pids, "store": store_pids}
    rows = []
    for concurrency in (1, 16):
        count = total if concurrency > 1 else max(200, total // 4)
        for label, roost_op, direct_op in (
            ("GET by id", roost_get, direct_get),
            ("POST", roost_post, direct_post),
        ):
            paths = {"direct": direct_op, "roost": roost_op}
            result = interleaved(concurrency, count, paths, processes)
            d, r = result["direct"], result["roost"]
            rows.append(
                (
                    label,
                    concurrency,
                    d.row("direct"),
                    r.row("roost"),
                    (r.cpu_ms("roost"), r.cpu_ms("store"), d.cpu_ms("store")),
                    (r.cpu_ms("client"), d.cpu_ms("client")),
                )
            )

    lines = [
        "| operation | concurrency | direct docs/s | Roost docs/s | ratio | direct p50 / p99 ms "
        "| Roost p50 / p99 ms | p50 overhead ms | Roost CPU ms/op "
        "| store CPU ms/op, via Roost / direct | client CPU ms/op, Roost / direct |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, concurrency, d, r, (roost_cpu, store_cpu, direct_store_cpu), client in rows:
        lines.append(
            f"| {label} | {concurrency} | {d[1]:.0f} | {r[1]:.0f} | **{r[1] / d[1]:.2f}×** "
            f"| {d[2]:.2f} / {d[3]:.2f} | {r[2]:.2f} / {r[3]:.2f} | {r[2] - d[2]:+.2f} "
            f"| {roost_cpu:.2f} | {store_cpu:.2f} / {direct_store_cpu:.2f} "
            f"| {client[0]:.2f} / {client[1]:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    with running_stack(work) as stack:
        table = run(stack, args.requests)
    load = os.getloadavg()[0]
    body = (
        f"Store: {stack.backend}. One `roost serve` process (uvicorn, one worker) and the store "
        "on the same machine as the client, `bench/load.js` (Node's HTTP client, keep-alive: "
        "about 0.4 ms of CPU per request; Python's httpx, used before, spent about 2 ms, as "
        "much as the store, and the benchmark measured mostly its client); "
        f"`{args.requests}` requests per case at concurrency "
        f"16, a quarter of that at concurrency 1, in {ROUNDS} turns per path; load average "
        f"{load:.1f} at the end. Issue 13's goals: GET ≥ 0.9× direct at concurrency 16 with a "
        "p50 overhead ≤ 0.5 ms at concurrency 1; POST ≥ 1.0× at concurrency 16. CPU per "
        "request is user + system time of the process, from /proc.\n\n" + table
    )
    print(table)
    if not args.no_write:
        write_section("Data API (bench/data_api.py)", body)


if __name__ == "__main__":
    main()
