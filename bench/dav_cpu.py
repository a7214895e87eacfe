"""CPU per small WebDAV PUT and GET, Roost and its store apart, optionally with a profile.

    .venv/bin/python bench/dav_cpu.py [--files 600] [--profile roost.prof]

Throughput on a shared 2-core machine says little; the CPU time each process spent per
operation (utime + stime from /proc, before and after a fixed number of operations) is
stable under load. Starts the embedded store (or uses ROOST_COUCHDB_URL) and one
`roost serve`, warms up with 20 PUTs, then PUTs `--files` 4 KiB files at concurrency 8,
GETs them back and PROPFINDs the folder once. With `--profile`, `roost serve` runs under
cProfile and writes its stats there on exit (read them with `python -m pstats`).
Prints the load average with each figure, and writes nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dav import DOMAIN, Server, _wait_http

from roost.config import Config
from roost.embedded_store import EmbeddedStore, free_port
from roost.permissions import PermissionSet
from roost.services import Services

CONCURRENCY = 8


def start(work: Path, profile: str | None) -> tuple[Server, EmbeddedStore | None]:
    external = os.environ.get("ROOST_COUCHDB_URL")
    store = None if external else EmbeddedStore(work / "couchdb")
    if store is not None:
        store.start()
    store_url = external or (store.url if store else "")
    prefix = f"davcpu{secrets.token_hex(3)}-"
    data = work / "data"
    config = Config(data_dir=data, couchdb_url=store_url, db_prefix=prefix)

    async def setup() -> str:
        services = Services.build(config, store_url)
        instance = await services.instances.create(DOMAIN, secrets.token_urlsafe(12))
        _, secret = await services.app_passwords.create(
            instance, "bench", PermissionSet.from_inline("io.cozy.files")
        )
        await services.aclose()
        return secret

    secret = asyncio.run(setup())
    port = free_port()
    command = [sys.executable]
    if profile:
        import roost.cli

        command += ["-m", "cProfile", "-o", profile, roost.cli.__file__]
    else:
        command += ["-m", "roost.cli"]
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env=dict(
            os.environ,
            ROOST_COUCHDB_URL=store_url,
            ROOST_DB_PREFIX=prefix,
            ROOST_DATA=str(data),
            ROOST_LOG_LEVEL="warning",
            ROOST_DEFAULT_INSTANCE=DOMAIN,
        ),
    )
    server = Server("Roost", f"http://127.0.0.1:{port}/dav/files/", ("bench", secret), [process])
    if store is not None and store._process is not None:
        server.extra_pids.append(store._process.pid)
    _wait_http(server.url)
    return server, store


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--files", type=int, default=600)
    parser.add_argument("--profile", help="write roost serve's cProfile stats to this file")
    args = parser.parse_args()
    count: int = args.files
    work = Path(tempfile.mkdtemp(prefix="roost-davcpu-"))
    server, store = start(work, args.profile)
    roost_pid = server.processes[0].pid
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    try:
        with httpx.Client(auth=server.auth, timeout=120, limits=limits) as http:
            base = server.url
            http.request("MKCOL", base + "bench/")
            http.request("MKCOL", base + "bench/small/")
            for n in range(20):
                http.put(base + f"bench/warm{n}.bin", content=b"w" * 4096).raise_for_status()
            bodies = [hashlib.sha256(str(n).encode()).digest() * 128 for n in range(count)]
            pool = concurrent.futures.ThreadPoolExecutor(CONCURRENCY)

            def phase(name: str, one: Callable[[int], None]) -> None:
                roost_before = server.cpu_seconds([roost_pid])
                store_before = server.cpu_seconds(server.extra_pids)
                started = time.perf_counter()
                list(pool.map(one, range(count)))
                seconds = time.perf_counter() - started
                roost_ms = (server.cpu_seconds([roost_pid]) - roost_before) * 1000 / count
                store_ms = (server.cpu_seconds(server.extra_pids) - store_before) * 1000 / count
                print(
                    f"{name}: Roost {roost_ms:.2f} ms CPU/op, store {store_ms:.2f} ms CPU/op, "
                    f"together {roost_ms + store_ms:.2f}; {count / seconds:.0f} ops/s; "
                    f"load average {os.getloadavg()[0]:.2f}",
                    flush=True,
                )

            def put(n: int) -> None:
                url = base + f"bench/small/f{n:05d}.bin"
                http.put(url, content=bodies[n]).raise_for_status()

            def get(n: int) -> None:
                response = http.get(base + f"bench/small/f{n:05d}.bin")
                if response.status_code != 200 or response.content != bodies[n]:
                    raise RuntimeError(f"file {n} came back wrong")

            phase(f"PUT 4 KiB, c={CONCURRENCY}", put)
            phase(f"GET 4 KiB, c={CONCURRENCY}", get)
            started = time.perf_counter()
            listing = http.request("PROPFIND", base + "bench/small/", headers={"Depth": "1"})
            print(
                f"PROPFIND Depth 1, first after the uploads: "
                f"{(time.perf_counter() - started) * 1000:.0f} ms, "
                f"{listing.text.count('response>') // 2} entries"
            )
            pool.shutdown()
    finally:
        server.stop()
        if store is not None:
            store.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
