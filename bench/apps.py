#!/usr/bin/env python3
"""Run latency of the WebAssembly sandbox, against a process-per-run reference.

For the C example (doc-stats) and a Python guest (health-bills with no documents, so one
``data.find`` round trip per run): ``.cwasm`` load time, run p50/p90 (fresh Store +
instantiate + ``run`` with host calls), runs/s at concurrency 2, and process RSS with the
Python apps loaded. The reference, measured in the same run, is what Cozy does for each
connector run: start a fresh Node.js process (here one that only prints a JSON answer).
Runs on the event loop `roost serve` runs apps on (uvloop when installed, as uvicorn picks).
Needs ``examples/apps/build.sh`` first; compiles into ``.cache/apps-cwasm`` once.

    .venv/bin/python bench/apps.py [--runs 200] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wasmtime
from report import write_section

from roost.apps.budget import MIB, RunBudget
from roost.apps.compiler import ComponentCache
from roost.apps.run_threads import RunThreads
from roost.apps.runtime import AppRuntime
from roost.apps.services import NotFound, Services
from roost.permissions import PermissionSet

ROOT = Path(__file__).resolve().parents[1]
GRANT = PermissionSet.from_json(
    {
        "ops": {"type": "io.cozy.bank.operations", "verbs": ["GET", "PUT"]},
        "bills": {"type": "io.cozy.bills", "verbs": ["GET", "PUT"]},
    }
)


class TinyData:
    def __init__(self, n: int) -> None:
        self.docs = [
            {"_id": f"op{i:04d}", "amount": -i, "label": "x", "date": "2026-10-01"}
            for i in range(n)
        ]

    async def get(self, doctype: str, doc_id: str) -> dict[str, Any]:
        raise NotFound(doc_id)

    async def find(
        self,
        doctype: str,
        selector: Mapping[str, Any],
        *,
        limit: int,
        skip: int = 0,
        sort: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        return self.docs[skip : skip + limit] if doctype == "io.cozy.bank.operations" else []


def process_per_run(runs: int) -> float:
    """p50 seconds to start a Node.js process that answers one JSON line (the reference)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            ["node", "-e", "process.stdout.write(JSON.stringify({ok: true}))"],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def handoff_p50(runs: int) -> float:
    """p50 of the run mechanism with no wasm at all: a run thread (`RunThreads`, a parked
    thread reused; a thread of its own so a guest blocked past its deadline can be
    abandoned, issue 9) and one host call crossing to the event loop and back, as
    `data.find` does."""
    loop = asyncio.get_running_loop()
    threads = RunThreads()

    async def host_call() -> bytes:
        return b"[]"

    def body(done: asyncio.Future[None]) -> None:
        asyncio.run_coroutine_threadsafe(host_call(), loop).result(5)
        loop.call_soon_threadsafe(done.set_result, None)

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done: asyncio.Future[None] = loop.create_future()
        threads.submit(functools.partial(body, done))
        await done
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def instantiate_p50(rt: AppRuntime, digest: str, mem: int, runs: int) -> float:
    """p50 of what every run pays before the guest's code: a fresh Store and instantiate.

    The floor under a run's latency with wasmtime-py's component API, which has no
    `InstancePre` (checked on 50 and 51): imports are resolved again on each instantiate.
    """
    comp = rt.cache.load(digest)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        store = wasmtime.Store(rt.engine.engine)
        store.set_wasi(wasmtime.WasiConfig())
        store.set_limits(memory_size=mem * MIB)
        store.set_fuel(10**10)
        store.set_epoch_deadline(rt.engine.ticks_for(10))
        instance = rt.linker.instantiate(store, comp)
        if instance.get_func(store, "run") is None:
            raise SystemExit("no run export")
        times.append(time.perf_counter() - start)
        del instance, store
    return statistics.median(times)


async def measure(
    rt: AppRuntime, name: str, wasm: bytes, payload: str, mem: int, runs: int
) -> tuple[str, float, float, float, float, float]:
    compiled = rt.cache.ensure(wasm)
    t = time.perf_counter()
    ComponentCache(rt.cache.dir, rt.engine).load(compiled.wasm_sha256)
    load_ms = (time.perf_counter() - t) * 1000
    services = Services(data=TinyData(10))  # type: ignore[arg-type]
    budget = RunBudget(fuel=10**10, memory_bytes=mem * MIB, wall_seconds=10)

    async def once() -> float:
        start = time.perf_counter()
        r = await rt.run(
            compiled.wasm_sha256, payload, app=name, grant=GRANT, services=services, budget=budget
        )
        if not r.ok:
            raise SystemExit(f"{name}: {r.reason} {r.error}")
        return time.perf_counter() - start

    for _ in range(20):
        await once()
    times = sorted([await once() for _ in range(runs)])
    start = time.perf_counter()

    async def worker() -> None:
        for _ in range(runs // 2):
            await once()

    await asyncio.gather(worker(), worker())
    rate = (runs // 2 * 2) / (time.perf_counter() - start)
    p50 = statistics.median(times)
    p90 = times[int(len(times) * 0.9)]
    floor = instantiate_p50(rt, compiled.wasm_sha256, mem, runs)
    print(
        f"{name:24} load {load_ms:6.2f} ms  run p50 {p50 * 1000:6.2f} ms"
        f"  p90 {p90 * 1000:6.2f} ms  {rate:6.0f} runs/s @2"
        f"  instantiate alone p50 {floor * 1000:6.2f} ms"
    )
    return name, load_ms, p50, p90, rate, floor


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    reference = process_per_run(max(20, args.runs // 10))
    print(f"{'node process per run':24} p50 {reference * 1000:6.2f} ms (reference)")
    handoff = await handoff_p50(args.runs)
    print(f"{'thread + one host call':24} p50 {handoff * 1000:6.2f} ms (no wasm: the floor)")
    rt = AppRuntime(ROOT / ".cache" / "apps-cwasm")
    apps = ROOT / "examples" / "apps"
    rows = []
    rows.append(
        await measure(
            rt,
            "doc-stats (C)",
            (apps / "doc-stats" / "app.wasm").read_bytes(),
            json.dumps({"doctype": "io.cozy.bank.operations"}),
            4,
            args.runs,
        )
    )
    for slug in ("health-bills", "insurance-offer", "bank-connector"):
        rt.cache.ensure((apps / slug / "app.wasm").read_bytes())
    rows.append(
        await measure(
            rt,
            "health-bills (Python)",
            (apps / "health-bills" / "app.wasm").read_bytes(),
            "{}",
            64,
            args.runs,
        )
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MiB (includes compiles when the cache was cold)")
    rt.close()
    lines = [
        "| guest | load .cwasm ms | run p50 ms | run p90 ms | runs/s (2 at once) "
        "| faster than a process per run | Store + instantiate alone, p50 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, load_ms, p50, p90, rate, floor in rows:
        lines.append(
            f"| {name} | {load_ms:.2f} | {p50 * 1000:.2f} | {p90 * 1000:.2f} | {rate:.0f} "
            f"| **{reference / p50:.1f}×** | {floor * 1000:.2f} |"
        )
    body = (
        "A run is a fresh wasmtime Store + instantiate + `run` with one `data.find` host "
        "call, fuel and epoch deadline on. Reference (same run): starting one Node.js "
        f"process per run, as Cozy does for connectors: p50 {reference * 1000:.1f} ms. "
        f"Peak RSS of the benchmark process with the three Python apps loaded: {rss:.0f} MiB. "
        "The last column is what every run pays before the guest's own code runs (a fresh "
        "Store and `instantiate`), measured alone: wasmtime-py's component API has no "
        "`InstancePre` (50 and 51 checked), so imports are resolved again on each run. "
        "Floor of the run mechanism itself, with no wasm at all (a run thread, so a "
        "guest blocked past its deadline can be abandoned, and one host call crossing to "
        f"the event loop and back): p50 {handoff * 1000:.2f} ms. Runs on the event loop "
        f"`roost serve` runs apps on ({type(asyncio.get_running_loop()).__module__})."
        "\n\n" + "\n".join(lines)
    )
    if not args.no_write:
        write_section("Apps runtime (bench/apps.py)", body)


def server_loop() -> asyncio.AbstractEventLoop:
    """The event loop `roost serve` runs apps on: uvicorn's choice, uvloop when installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=server_loop) as runner:
        runner.run(main())
