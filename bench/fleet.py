"""A fleet's figures: many instances on one store, one and two stacks, local disk vs S3.

    .venv/bin/python bench/fleet.py [--instances 50] [--doctypes 10] [--files 300] [--no-write]
        [--open-databases N] [--descriptors-only]

On the embedded store the default is 50 instances (PouchDB Server is the one-person store);
with ROOST_COUCHDB_URL (an Apache CouchDB cluster) pass `--instances 1000`. Measures:

- creating the instances, each with `--doctypes` doctypes holding one document: seconds
  per instance, and the store's size afterwards;
- memory (RSS) and open file descriptors of `roost serve` and of the store, with the
  LevelDB databases the embedded store holds open: idle, at each quarter of the creation,
  then after every instance was served once — what grows with the number of instances
  (the embedded store's cap is `--open-databases`, i.e. ROOST_STORE_OPEN_DATABASES; a huge
  value shows the store without one);
- the first request to a cold instance (never served by this stack) vs the next one;
- WebDAV PUT of 4 KiB files at concurrency 8 with the local disk and with S3 (SeaweedFS,
  the test suite's server), each through its own `roost serve`;
- `/data` GET by id at concurrency 16 through one stack, then spread over two stacks
  (two `roost serve` processes on the same store), with the store's direct figure.

`--descriptors-only` stops after the memory and descriptor figures (for large counts).
Nothing here is a test: it prints the table and writes the "Fleet" section of
docs/benchmarks.md (unless `--no-write`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parent.parent))  # for tests.seaweed
from report import median, write_section

from roost.couch import quote_db
from roost.instances import Instance
from roost.permissions import PermissionSet
from roost.services import Services
from stack import roost_serve, running_stack
from tests.seaweed import start_seaweed, weed_binary

DOCTYPES = [f"io.roost.bench.kind{n}" for n in range(100)]
PAYLOAD = os.urandom(4096)


def _rss_mib(pid: int | None) -> float:
    if pid is None:
        return float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _fds(pid: int | None) -> int:
    if pid is None:
        return -1
    return len(os.listdir(f"/proc/{pid}/fd"))


def _open_databases(pid: int | None) -> int:
    """How many LevelDB databases the process holds open (one LOCK file each)."""
    if pid is None:
        return -1
    held = 0
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        try:
            held += os.readlink(entry).endswith("/LOCK")
        except OSError:
            continue
    return held


def _store_cap(work: Path) -> str:
    log = work / "couchdb" / "pouchdb-server.log"
    if not log.exists():
        return "—"
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("keeping at most"):
            return line.split()[3]
    return "—"


def _store_pid(pid: int | None) -> int | None:
    """PouchDB Server runs under a `node` child of the embedded store's launcher, maybe."""
    if pid is None:
        return None
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        kids = [int(k) for k in children.read_text().split()]
    except OSError:
        return pid
    return kids[0] if kids else pid


async def _drive(concurrency: int, total: int, one: Callable[[int], Awaitable[None]]) -> float:
    counter = iter(range(total))

    async def worker() -> None:
        for index in counter:
            await one(index)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def _token(services: Services, instance: Instance, scope: str) -> str:
    return await services.tokens.issue(
        instance,
        audience="cli",
        subject="bench",
        permissions=PermissionSet.from_inline(scope),
        ttl=timedelta(hours=2),
        kind="cli",
    )


async def create_instances(
    services: Services, count: int, doctypes: int, at_quarter: Callable[[int], None]
) -> tuple[list[Instance], float]:
    started = time.perf_counter()
    made = []
    quarters = {count * q // 4 for q in (1, 2, 3)} - {0}
    for index in range(count):
        if index in quarters:
            at_quarter(index)
        instance = await services.instances.create(
            f"p{index:04d}-{secrets.token_hex(2)}.fleet.test", secrets.token_urlsafe(12)
        )
        for doctype in DOCTYPES[:doctypes]:
            await services.couch.put_doc(
                instance.db(doctype), {"_id": "first", "kind": doctype, "n": index}
            )
        made.append(instance)
    return made, (time.perf_counter() - started) / count


async def touch_each(
    services: Services, roost_url: str, instances: list[Instance], doctype: str
) -> tuple[list[float], list[float]]:
    """The first (cold) and second request to each instance through the stack."""
    cold, warm = [], []
    async with httpx.AsyncClient(base_url=roost_url, timeout=60) as client:
        for instance in instances:
            token = await _token(services, instance, doctype)
            headers = {"Host": instance.domain, "Authorization": f"Bearer {token}"}
            for samples in (cold, warm):
                started = time.perf_counter()
                response = await client.get(f"/data/{doctype}/first", headers=headers)
                samples.append(time.perf_counter() - started)
                response.raise_for_status()
    return cold, warm


async def dav_rate(services: Services, roost_url: str, instance: Instance, files: int) -> float:
    _, secret = await services.app_passwords.create(
        instance, "bench", PermissionSet.from_inline("io.cozy.files")
    )
    run = secrets.token_hex(3)
    async with httpx.AsyncClient(
        base_url=roost_url,
        timeout=60,
        auth=httpx.BasicAuth("bench", secret),
        headers={"Host": instance.domain},
        limits=httpx.Limits(max_connections=8),
    ) as client:
        (await client.request("MKCOL", f"/dav/files/{run}/")).raise_for_status()

        async def put(index: int) -> None:
            response = await client.put(f"/dav/files/{run}/f{index}.bin", content=PAYLOAD)
            response.raise_for_status()

        await _drive(8, 40, lambda i: put(files + i))  # warm
        return await _drive(8, files, put)


async def get_rate(urls: list[str], host: str, token: str, ids: list[str], total: int) -> float:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    clients = [
        httpx.AsyncClient(
            base_url=url,
            timeout=60,
            limits=limits,
            headers={"Host": host, "Authorization": f"Bearer {token}"},
        )
        for url in urls
    ]
    try:

        async def get(index: int) -> None:
            client = clients[index % len(clients)]
            (await client.get(f"/data/{DOCTYPES[0]}/{ids[index % len(ids)]}")).raise_for_status()

        await _drive(16, 100, get)
        return await _drive(16, total, get)
    finally:
        for client in clients:
            await client.aclose()


async def direct_rate(store_url: str, db: str, ids: list[str], total: int) -> float:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=store_url, timeout=60, limits=limits) as direct:

        async def get(index: int) -> None:
            (await direct.get(f"/{quote_db(db)}/{ids[index % len(ids)]}")).raise_for_status()

        await _drive(16, 100, get)
        return await _drive(16, total, get)


def _processes(label: str, roost_pid: int, store_pid: int | None) -> str:
    return (
        f"| {label} | {_rss_mib(roost_pid):.0f} | {_fds(roost_pid)} "
        f"| {_rss_mib(store_pid):.0f} | {_fds(store_pid)} | {_open_databases(store_pid)} |"
    )


async def run(args: argparse.Namespace, work: Path) -> str:
    lines: list[str] = []
    with running_stack(work) as stack:
        store_pid = _store_pid(stack.store_pid)
        services = Services.build(stack.config, stack.store_url)
        try:
            memory = [
                "| moment | roost RSS MiB | roost fds | store RSS MiB | store fds "
                "| store open DBs |",
                "|---|---|---|---|---|---|",
                _processes("idle, no instance", stack.roost_pid, store_pid),
            ]
            idle_fds = _fds(store_pid)

            def at_quarter(done: int) -> None:
                memory.append(_processes(f"{done} instances created", stack.roost_pid, store_pid))

            instances, per_instance = await create_instances(
                services, args.instances, args.doctypes, at_quarter
            )
            memory.append(
                _processes(
                    f"{args.instances} instances created (not served yet)",
                    stack.roost_pid,
                    store_pid,
                )
            )
            cold, warm = await touch_each(services, stack.roost_url, instances, DOCTYPES[0])
            memory.append(_processes("each instance served once", stack.roost_pid, store_pid))
            growth = (_fds(store_pid) - idle_fds) / args.instances
            cap = "" if stack.store_pid is None else f", open-database cap {_store_cap(work)}"
            lines += [
                f"**{args.instances} instances × {args.doctypes} doctypes** on "
                f"{stack.backend}{cap}: {per_instance * 1000:.0f} ms per instance created "
                f"({args.doctypes + 1} databases each, written directly to the store); "
                f"store descriptors grew by {growth:.1f} per instance.",
                "",
                *memory,
                "",
                "| request to an instance | p50 ms | max ms |",
                "|---|---|---|",
                f"| first (cold: instance, token and permission not cached) "
                f"| {median(cold) * 1000:.1f} | {max(cold) * 1000:.1f} |",
                f"| second (warm) | {median(warm) * 1000:.1f} | {max(warm) * 1000:.1f} |",
                "",
            ]
            if args.descriptors_only:
                return "\n".join(lines)

            # Data API through one stack, then two.
            target = instances[0]
            token = await _token(services, target, DOCTYPES[0])
            db = target.db(DOCTYPES[0])
            ids = []
            for n in range(200):
                doc = {"_id": f"d{n:04d}", "n": n}
                await services.couch.put_doc(db, doc)
                ids.append(doc["_id"])
            prefix = stack.config.db_prefix
            direct = await direct_rate(stack.store_url, db, ids, args.requests)
            one = await get_rate([stack.roost_url], target.domain, token, ids, args.requests)
            with roost_serve(stack.store_url, prefix, work / "second", {}) as (second_url, _):
                two = await get_rate(
                    [stack.roost_url, second_url], target.domain, token, ids, args.requests
                )
            lines += [
                "| `/data` GET by id, concurrency 16 | docs/s | vs direct |",
                "|---|---|---|",
                f"| direct to the store | {direct:.0f} | 1.00× |",
                f"| one `roost serve` | {one:.0f} | {one / direct:.2f}× |",
                f"| two `roost serve` (requests alternate) | {two:.0f} | {two / direct:.2f}× |",
                "",
            ]

            # WebDAV small files: local disk, then S3.
            local = await dav_rate(services, stack.roost_url, target, args.files)
            s3_row = "| S3 (SeaweedFS on loopback) | not run: no `weed` binary | — |"
            if weed_binary() is not None:
                (work / "seaweed").mkdir()
                seaweed = start_seaweed(work / "seaweed", bucket="fleet-bench")
                try:
                    settings = seaweed.settings(key_prefix="fleet/")
                    env = {f"ROOST_{key.upper()}": value for key, value in settings.items()}
                    with roost_serve(stack.store_url, prefix, work / "s3stack", env) as (s3_url, _):
                        on_s3 = await dav_rate(services, s3_url, target, args.files)
                    s3_row = f"| S3 (SeaweedFS on loopback) | {on_s3:.0f} | {on_s3 / local:.2f}× |"
                finally:
                    seaweed.stop()
            lines += [
                "| WebDAV PUT 4 KiB, concurrency 8 | files/s | vs local disk |",
                "|---|---|---|",
                f"| local disk | {local:.0f} | 1.00× |",
                s3_row,
            ]
        finally:
            await services.aclose()
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_instances = 1000 if os.environ.get("ROOST_COUCHDB_URL") else 50
    parser.add_argument("--instances", type=int, default=default_instances)
    parser.add_argument("--doctypes", type=int, default=10)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument(
        "--open-databases",
        type=int,
        help="the embedded store's cap (ROOST_STORE_OPEN_DATABASES); default: its own",
    )
    parser.add_argument(
        "--descriptors-only",
        action="store_true",
        help="stop after the memory and descriptor figures",
    )
    args = parser.parse_args()
    if args.open_databases is not None:
        os.environ["ROOST_STORE_OPEN_DATABASES"] = str(args.open_databases)
    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="roost-fleet-"))
    table = asyncio.run(run(args, work))
    body = (
        f"Load average when started: {load:.1f}. The client, the stacks and the store share "
        "the machine. Memory and descriptors are read from /proc after each step.\n\n" + table
    )
    print(table)
    if not args.no_write:
        write_section("Fleet (bench/fleet.py)", body)


if __name__ == "__main__":
    main()
