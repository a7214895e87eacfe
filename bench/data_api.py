"""GET-by-id and POST through Roost vs straight against the same CouchDB, in one run.

    .venv/bin/python bench/data_api.py [--requests 2000] [--no-write]

Starts the embedded PouchDB Server (or uses ROOST_COUCHDB_URL), runs `roost serve` in its
own process, then drives both with the same httpx client at concurrency 1 and 16.
Prints docs/s, p50, p99 and the Roost/direct ratio; writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from process_cpu import cpu_seconds, process_tree
from report import median, percentile, write_section

from roost.couch import quote_db
from roost.permissions import PermissionSet
from roost.services import Services
from stack import BenchStack, running_stack

DOCTYPE = "io.cozy.contacts"
DOMAIN = "bench.roost.test"


async def _drive(
    concurrency: int, total: int, one: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        for index in counter:
            started = time.perf_counter()
            await one(index)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started), latencies


def _row(name: str, rate: float, latencies: list[float]) -> tuple[str, float, float, float]:
    return name, rate, median(latencies) * 1000, percentile(latencies, 0.99) * 1000


def _cpu_ms_per_op(pids: list[int], before: float, count: int) -> float:
    return (cpu_seconds(pids) - before) * 1000 / count


async def run(stack: BenchStack, total: int) -> str:
    store_url, roost_url, config = stack.store_url, stack.roost_url, stack.config
    roost_pids = [stack.roost_pid]
    store_pids = process_tree([stack.store_pid]) if stack.store_pid else []
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

    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    direct = httpx.AsyncClient(base_url=store_url, limits=limits, timeout=30)
    roost = httpx.AsyncClient(
        base_url=roost_url,
        limits=limits,
        timeout=30,
        headers={"Host": DOMAIN, "Authorization": f"Bearer {token}"},
    )
    body = {
        "fullname": "Ada Lovelace",
        "email": [{"address": "ada@example.org"}],
        "groups": ["family"],
    }
    ids: list[str] = []
    response = await roost.post(f"/data/{DOCTYPE}/", json=body)
    response.raise_for_status()
    for _ in range(200):
        response = await direct.post(f"/{quote_db(db)}", json=body)
        ids.append(response.json()["id"])

    async def roost_get(index: int) -> None:
        (await roost.get(f"/data/{DOCTYPE}/{ids[index % len(ids)]}")).raise_for_status()

    async def direct_get(index: int) -> None:
        (await direct.get(f"/{quote_db(db)}/{ids[index % len(ids)]}")).raise_for_status()

    async def roost_post(index: int) -> None:
        (await roost.post(f"/data/{DOCTYPE}/", json=body)).raise_for_status()

    async def direct_post(index: int) -> None:
        (await direct.post(f"/{quote_db(db)}", json=body)).raise_for_status()

    rows = []
    for concurrency in (1, 16):
        count = total if concurrency > 1 else max(200, total // 4)
        for label, roost_op, direct_op in (
            ("GET by id", roost_get, direct_get),
            ("POST", roost_post, direct_post),
        ):
            await _drive(concurrency, 50, direct_op)  # warm both paths
            await _drive(concurrency, 50, roost_op)
            store_before = cpu_seconds(store_pids)
            d_rate, d_lat = await _drive(concurrency, count, direct_op)
            direct_store_cpu = _cpu_ms_per_op(store_pids, store_before, count)
            roost_before, store_before = cpu_seconds(roost_pids), cpu_seconds(store_pids)
            r_rate, r_lat = await _drive(concurrency, count, roost_op)
            roost_cpu = _cpu_ms_per_op(roost_pids, roost_before, count)
            store_cpu = _cpu_ms_per_op(store_pids, store_before, count)
            rows.append(
                (
                    label,
                    concurrency,
                    _row("direct", d_rate, d_lat),
                    _row("roost", r_rate, r_lat),
                    (roost_cpu, store_cpu, direct_store_cpu),
                )
            )
    await direct.aclose()
    await roost.aclose()

    lines = [
        "| operation | concurrency | direct docs/s | Roost docs/s | ratio | direct p50 / p99 ms "
        "| Roost p50 / p99 ms | p50 overhead ms | Roost CPU ms/op "
        "| store CPU ms/op, via Roost / direct |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, concurrency, d, r, (roost_cpu, store_cpu, direct_store_cpu) in rows:
        lines.append(
            f"| {label} | {concurrency} | {d[1]:.0f} | {r[1]:.0f} | **{r[1] / d[1]:.2f}×** "
            f"| {d[2]:.2f} / {d[3]:.2f} | {r[2]:.2f} / {r[3]:.2f} | {r[2] - d[2]:+.2f} "
            f"| {roost_cpu:.2f} | {store_cpu:.2f} / {direct_store_cpu:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    with running_stack(work) as stack:
        table = asyncio.run(run(stack, args.requests))
    body = (
        f"Store: {stack.backend}. One `roost serve` process (uvicorn, one worker) and the store "
        f"on the same machine as the client; `{args.requests}` requests per case at concurrency "
        "16, a quarter of that at concurrency 1. Goal: GET ratio ≥ 0.7× at concurrency 16, "
        "p50 overhead ≤ 1 ms.\n\n" + table
    )
    print(table)
    if not args.no_write:
        write_section("Data API (bench/data_api.py)", body)


if __name__ == "__main__":
    main()
