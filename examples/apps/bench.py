#!/usr/bin/env python3
"""Run latency of the sandbox (meant to become ``bench/apps.py``; prints, never asserts).

For the C example (doc-stats) and a Python guest (health-bills with no documents, so one
``data.find`` round trip per run): ``.cwasm`` load time, run p50/p90 (fresh Store +
instantiate + ``run`` with host calls), runs/s at concurrency 2, and process RSS with the
Python apps loaded. Needs ``examples/apps/build.sh`` first; compiles into
``.cache/apps-cwasm`` once.

    .venv/bin/python examples/apps/bench.py [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from roost.apps.budget import MIB, RunBudget
from roost.apps.compiler import ComponentCache
from roost.apps.runtime import AppRuntime
from roost.apps.services import NotFound, Services
from roost.permissions import PermissionSet

ROOT = Path(__file__).resolve().parents[2]
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


async def measure(
    rt: AppRuntime, name: str, wasm: bytes, payload: str, mem: int, runs: int
) -> None:
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
    print(
        f"{name:24} load {load_ms:6.2f} ms  run p50 {statistics.median(times) * 1000:6.2f} ms"
        f"  p90 {times[int(len(times) * 0.9)] * 1000:6.2f} ms  {rate:6.0f} runs/s @2"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    rt = AppRuntime(ROOT / ".cache" / "apps-cwasm")
    apps = ROOT / "examples" / "apps"
    await measure(
        rt,
        "doc-stats (C)",
        (apps / "doc-stats" / "app.wasm").read_bytes(),
        json.dumps({"doctype": "io.cozy.bank.operations"}),
        4,
        args.runs,
    )
    for slug in ("health-bills", "insurance-offer", "bank-connector"):
        rt.cache.ensure((apps / slug / "app.wasm").read_bytes())
    await measure(
        rt,
        "health-bills (Python)",
        (apps / "health-bills" / "app.wasm").read_bytes(),
        "{}",
        64,
        args.runs,
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MiB (includes compiles when the cache was cold)")
    rt.close()


if __name__ == "__main__":
    asyncio.run(main())
