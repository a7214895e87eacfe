"""CPU per small WebDAV PUT and GET, Roost and its store apart, optionally with a profile.

    .venv/bin/python bench/dav_cpu.py [--files 600] [--warm-up 1000] [--profile roost.prof]

Throughput on a shared 2-core machine says little; the CPU time each process spent per
operation (utime + stime from /proc, before and after a fixed number of operations) is
stable under load. Starts the embedded store (or uses ROOST_COUCHDB_URL) and one
`roost serve`, warms up with `--warm-up` PUTs and GETs elsewhere (as `bench/dav.py`: a
store just started compiles its hot code during its first thousands of requests), then
PUTs `--files` 4 KiB files at concurrency 8, GETs them back and PROPFINDs the folder once.
With `--profile`, `roost serve` runs under cProfile and writes its stats there on exit
(read them with `python -m pstats`). Prints the load average with each figure, and
writes nothing else.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dav import start_roost
from process_cpu import cpu_seconds, load_average

CONCURRENCY = 8
BENCH = Path(__file__).resolve().parent


def runner(profile: str | None, trace: Path | None) -> list[str] | None:
    """How to start `roost serve`: plain, under cProfile, or with its store requests counted."""
    if trace is not None:
        return [sys.executable, str(BENCH / "store_trace.py"), str(trace)]
    if profile:
        import roost.cli

        return [sys.executable, "-m", "cProfile", "-o", profile, roost.cli.__file__]
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--files", type=int, default=600)
    parser.add_argument("--warm-up", type=int, default=1000)
    parser.add_argument("--profile", help="write roost serve's cProfile stats to this file")
    parser.add_argument(
        "--py-spy",
        help="sample roost serve with py-spy during the PUTs; collapsed stacks to this file",
    )
    parser.add_argument(
        "--count-requests",
        action="store_true",
        help="count roost serve's store requests per operation (bench/store_trace.py)",
    )
    args = parser.parse_args()
    count: int = args.files
    work = Path(tempfile.mkdtemp(prefix="roost-davcpu-"))
    trace = work / "store-requests.json" if args.count_requests else None
    server, store = start_roost(work, runner(args.profile, trace))
    roost_pid = server.processes[0].pid

    def store_requests() -> dict[str, int]:
        if trace is None:
            return {}
        trace.unlink(missing_ok=True)
        os.kill(roost_pid, signal.SIGUSR1)
        for _ in range(100):
            if trace.exists():
                try:
                    counts: dict[str, int] = json.loads(trace.read_text())
                    return counts
                except ValueError:
                    pass  # being written
            time.sleep(0.05)
        raise RuntimeError("roost serve did not write its store request counts")

    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    try:
        with httpx.Client(auth=server.auth, timeout=120, limits=limits) as http:
            base = server.url
            http.request("MKCOL", base + "bench/")
            http.request("MKCOL", base + "bench/small/")
            http.request("MKCOL", base + "bench/warm/")
            pool = concurrent.futures.ThreadPoolExecutor(CONCURRENCY)

            def warm(n: int) -> None:
                url = base + f"bench/warm/w{n:05d}.bin"
                http.put(url, content=b"w" * 4096).raise_for_status()
                http.get(url).raise_for_status()

            list(pool.map(warm, range(args.warm_up)))
            bodies = [hashlib.sha256(str(n).encode()).digest() * 128 for n in range(count)]

            def phase(name: str, one: Callable[[int], None]) -> None:
                requests_before = store_requests()
                roost_before = cpu_seconds([roost_pid])
                store_before = cpu_seconds(server.extra_pids)
                started = time.perf_counter()
                list(pool.map(one, range(count)))
                seconds = time.perf_counter() - started
                roost_ms = (cpu_seconds([roost_pid]) - roost_before) * 1000 / count
                store_ms = (cpu_seconds(server.extra_pids) - store_before) * 1000 / count
                print(
                    f"{name}: Roost {roost_ms:.2f} ms CPU/op, store {store_ms:.2f} ms CPU/op, "
                    f"together {roost_ms + store_ms:.2f}; {count / seconds:.0f} ops/s; "
                    f"load average {load_average():.2f}",
                    flush=True,
                )
                if trace is not None:
                    after = store_requests()
                    spent = {k: n - requests_before.get(k, 0) for k, n in after.items()}
                    print(f"  store requests per op: {sum(spent.values()) / count:.2f}")
                    for shape, n in sorted(spent.items(), key=lambda item: -item[1]):
                        if n:
                            print(f"    {n / count:6.3f}  {shape}")

            def put(n: int) -> None:
                url = base + f"bench/small/f{n:05d}.bin"
                http.put(url, content=bodies[n]).raise_for_status()

            def get(n: int) -> None:
                response = http.get(base + f"bench/small/f{n:05d}.bin")
                if response.status_code != 200 or response.content != bodies[n]:
                    raise RuntimeError(f"file {n} came back wrong")

            sampler = None
            if args.py_spy:
                py_spy = Path(sys.executable).parent / "py-spy"
                options = ["--format", "raw", "--nonblocking", "--output", args.py_spy]
                sampler = subprocess.Popen(
                    [str(py_spy), "record", "--pid", str(roost_pid), *options],
                    stdout=subprocess.DEVNULL,
                )
                time.sleep(1)  # attached before the first PUT
            phase(f"PUT 4 KiB, c={CONCURRENCY}", put)
            if sampler is not None:
                sampler.send_signal(signal.SIGINT)
                sampler.wait(timeout=30)
            phase(f"GET 4 KiB, c={CONCURRENCY}", get)
            for which in ("first after the uploads", "second"):
                requests_before = store_requests()
                roost_before = cpu_seconds([roost_pid])
                store_before = cpu_seconds(server.extra_pids)
                started = time.perf_counter()
                listing = http.request("PROPFIND", base + "bench/small/", headers={"Depth": "1"})
                wall_ms = (time.perf_counter() - started) * 1000
                roost_ms = (cpu_seconds([roost_pid]) - roost_before) * 1000
                store_ms = (cpu_seconds(server.extra_pids) - store_before) * 1000
                print(
                    f"PROPFIND Depth 1, {which}: {wall_ms:.0f} ms, "
                    f"{listing.text.count('response>') // 2} entries; CPU Roost {roost_ms:.0f} "
                    f"ms, store {store_ms:.0f} ms"
                )
                if trace is not None:
                    after = store_requests()
                    spent = {k: n - requests_before.get(k, 0) for k, n in after.items()}
                    print(
                        "  store requests: " + ", ".join(f"{k} {n}" for k, n in spent.items() if n)
                    )
            pool.shutdown()
    finally:
        server.stop()
        if store is not None:
            store.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
