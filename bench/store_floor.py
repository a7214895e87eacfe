#!/usr/bin/env python3
"""The floor under Roost's small-file WebDAV figures: the store alone, against WsgiDAV.

A file server that keeps its metadata in CouchDB must write at least one document per
file it receives and read at least one per file it serves. This bench measures, in one
run on the same machine, with the same client shape as `bench/dav.py` (httpx, 8 threads,
loopback):

- WsgiDAV: PUT and GET of 4 KiB files (the reference of issue 13's goals);
- the embedded store alone, doing only that minimum and nothing else (no bytes, no
  permission check, no HTTP server in front): one ~500-byte file document per PUT
  (`PUT /db/{id}`), the same documents written eight to a `_bulk_docs` (what perfect group
  commit of eight concurrent uploads would send), one `GET /db/{id}` per file, and eight
  read per `_all_docs` request (perfect group reads);
- the store's CPU per document in each case.

The store's rate is therefore an upper bound on any file server built on it, Roost
included, with the client sharing the cores as it does in `bench/dav.py`.

    .venv/bin/python bench/store_floor.py [--files 2000] [--no-write]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dav import CONCURRENCY, Server, start_wsgidav
from process_cpu import cpu_seconds, load_average
from report import write_section

from roost.embedded_store import EmbeddedStore

#: A file document as Roost stores one (io.cozy.files fields, cozyMetadata): ~500 bytes.
FILE_DOC = {
    "type": "file",
    "name": "f00000.bin",
    "dir_id": "0f3c2b8e5a6d4e1f9a7b3c5d7e9f1a2b",
    "path": "/bench/small/f00000.bin",
    "size": "4096",
    "md5sum": "sK4dAO8b7Rsn3ljA0bf0fA==",
    "mime": "application/octet-stream",
    "class": "application",
    "executable": False,
    "trashed": False,
    "created_at": "2026-12-06T16:00:00.000000Z",
    "updated_at": "2026-12-06T16:00:00.000000Z",
    "tags": [],
    "cozyMetadata": {
        "doctypeVersion": "1",
        "metadataVersion": 1,
        "createdAt": "2026-12-06T16:00:00.000000Z",
        "updatedAt": "2026-12-06T16:00:00.000000Z",
        "uploadedAt": "2026-12-06T16:00:00.000000Z",
        "uploadedOn": "https://alice.localhost/",
        "createdOn": "https://alice.localhost/",
    },
}


def timed(pids: list[int], action: Callable[[], None]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of `pids`) taken by `action`."""
    cpu = cpu_seconds(pids)
    start = time.perf_counter()
    action()
    return time.perf_counter() - start, cpu_seconds(pids) - cpu


def store_rows(store: EmbeddedStore, files: int) -> dict[str, tuple[float, float]]:
    """files/s and store CPU ms per file, for each way of doing the minimum."""
    assert store._process is not None
    pids = [store._process.pid]
    rows: dict[str, tuple[float, float]] = {}
    limits = httpx.Limits(max_connections=CONCURRENCY * 2, max_keepalive_connections=16)
    pool = concurrent.futures.ThreadPoolExecutor(CONCURRENCY)
    with httpx.Client(base_url=store.url, timeout=120, limits=limits) as http:
        for db in ("floor-one", "floor-bulk", "floor-warm"):
            http.put(f"/{db}").raise_for_status()
        for index in range(100):  # warm-up (not counted)
            http.put(f"/floor-warm/w{index}", json=FILE_DOC).raise_for_status()

        def body(index: int) -> bytes:
            return json.dumps({**FILE_DOC, "name": f"f{index:05d}.bin"}).encode()

        def put_one() -> None:
            def one(index: int) -> None:
                http.put(
                    f"/floor-one/f{index:05d}",
                    content=body(index),
                    headers={"Content-Type": "application/json"},
                ).raise_for_status()

            list(pool.map(one, range(files)))

        seconds, cpu = timed(pids, put_one)
        rows["PUT: one document per file, c8"] = (files / seconds, cpu * 1000 / files)

        def put_bulk() -> None:
            def batch(first: int) -> None:
                docs = [
                    {**FILE_DOC, "_id": f"f{i:05d}", "name": f"f{i:05d}.bin"}
                    for i in range(first, min(first + CONCURRENCY, files))
                ]
                http.post("/floor-bulk/_bulk_docs", json={"docs": docs}).raise_for_status()

            # One batch of eight at a time: each upload's wait is one shared store request.
            for first in range(0, files, CONCURRENCY):
                batch(first)

        seconds, cpu = timed(pids, put_bulk)
        rows["PUT: eight documents per `_bulk_docs` (group commit)"] = (
            files / seconds,
            cpu * 1000 / files,
        )

        def get_one() -> None:
            def one(index: int) -> None:
                http.get(f"/floor-one/f{index:05d}").raise_for_status()

            list(pool.map(one, range(files)))

        seconds, cpu = timed(pids, get_one)
        rows["GET: one document per file, c8"] = (files / seconds, cpu * 1000 / files)

        def get_grouped() -> None:
            for first in range(0, files, CONCURRENCY):
                keys = [f"f{i:05d}" for i in range(first, min(first + CONCURRENCY, files))]
                http.post(
                    "/floor-one/_all_docs",
                    params={"include_docs": "true"},
                    json={"keys": keys},
                ).raise_for_status()

        seconds, cpu = timed(pids, get_grouped)
        rows["GET: eight documents per `_all_docs` (group reads)"] = (
            files / seconds,
            cpu * 1000 / files,
        )
    pool.shutdown()
    return rows


def wsgidav_rows(server: Server, files: int) -> dict[str, tuple[float, float]]:
    rows: dict[str, tuple[float, float]] = {}
    limits = httpx.Limits(max_connections=CONCURRENCY * 2, max_keepalive_connections=16)
    pool = concurrent.futures.ThreadPoolExecutor(CONCURRENCY)
    bodies = [bytes([i % 256]) * 4096 for i in range(files)]
    with httpx.Client(auth=server.auth, timeout=120, limits=limits) as http:
        http.request("MKCOL", server.url + "small/")
        for index in range(100):  # warm-up, as bench/dav.py's servers get (not counted)
            http.put(server.url + f"warm-{index}.bin", content=bodies[0]).raise_for_status()

        def put() -> None:
            def one(index: int) -> None:
                http.put(
                    server.url + f"small/f{index:05d}.bin", content=bodies[index]
                ).raise_for_status()

            list(pool.map(one, range(files)))

        seconds, cpu = timed(server.pids(), put)
        rows["PUT 4 KiB, c8"] = (files / seconds, cpu * 1000 / files)

        def get() -> None:
            def one(index: int) -> None:
                http.get(server.url + f"small/f{index:05d}.bin").raise_for_status()

            list(pool.map(one, range(files)))

        seconds, cpu = timed(server.pids(), get)
        rows["GET 4 KiB, c8"] = (files / seconds, cpu * 1000 / files)
    pool.shutdown()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roost-floor-"))
    store = EmbeddedStore(work / "couchdb")
    wsgidav: Server | None = None
    try:
        store.start()
        wsgidav = start_wsgidav(work)
        reference = wsgidav_rows(wsgidav, args.files)
        floor = store_rows(store, args.files)
    finally:
        if wsgidav is not None:
            wsgidav.stop()
        store.stop()
        shutil.rmtree(work, ignore_errors=True)
    put_ref = reference["PUT 4 KiB, c8"][0]
    get_ref = reference["GET 4 KiB, c8"][0]
    lines = [
        "| what | files/s | CPU ms per file | vs WsgiDAV |",
        "|---|---|---|---|",
    ]
    for name, (rate, cpu) in reference.items():
        lines.append(f"| WsgiDAV {name} | {rate:.0f} | {cpu:.2f} | 1.00× |")
    for name, (rate, cpu) in floor.items():
        ref = get_ref if name.startswith("GET") else put_ref
        lines.append(f"| store alone, {name} | {rate:.0f} | {cpu:.2f} | {rate / ref:.2f}× |")
    table = "\n".join(lines)
    print(table)
    print(f"load average {load_average():.2f}")
    if args.no_write:
        return
    write_section(
        "Store floor under small-file WebDAV (bench/store_floor.py)",
        "The embedded store (PouchDB Server 4.2.0) doing only the minimum a file server on "
        "CouchDB must do per small file - write one ~500-byte file document per PUT, read "
        "one per GET - with no Roost in front, measured in the same run as WsgiDAV with the "
        f"client of `bench/dav.py` (httpx, {CONCURRENCY} threads, loopback, {args.files} "
        f"files). CPU is the server's own (the store's, WsgiDAV's). Load average at the end: "
        f"{load_average():.2f}. A Roost figure cannot exceed the store's row for the same "
        "operation: issue 13's goals (PUT ≥ 1.5× WsgiDAV, GET ≥ 1.0×) are above this floor "
        "where its ratio is below them.\n\n" + table,
    )


if __name__ == "__main__":
    main()
