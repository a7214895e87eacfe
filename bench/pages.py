#!/usr/bin/env python3
"""Server time to render a Drive folder of 10,000 files and the first timeline page of
20,000 photos (goal: at most 150 ms each).

    .venv/bin/python bench/pages.py [--files 10000] [--photos 20000] [--rounds 15] [--no-write]

Starts the embedded PouchDB Server (or uses ROOST_COUCHDB_URL) and `roost serve` in its own
process, writes the file documents straight into the store with `_bulk_docs` (no bytes: the
pages read documents only), builds the views' indexes (timed apart), signs in, and times
whole page requests from a client on the same
machine: the first page and a later one (five "Show more"/"Load more" steps on) of the
folder and of the timeline. The reference, measured in the same run, is the store's own
time to answer the same page's view read (`include_docs`, the same rows), i.e. what the
page costs before Roost checks permissions and renders HTML. Writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import median, percentile, write_section

from roost.couch import quote_db
from roost.file_queries import PAGES_DESIGN
from roost.permissions import FILES_DOCTYPE, ROOT_DIR_ID
from roost.services import Services
from roost.vfs.usage import USAGE_DESIGN
from stack import running_stack

DOMAIN = "pages.roost.test"
BATCH = 1000
_MORE = re.compile(r'id="more"[^>]*href="([^"]+)"')
_LOAD_MORE = re.compile(r'id="photos-more"[^>]*href="([^"]+)"')


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _file(folder: str, n: int, **extra: Any) -> dict[str, Any]:
    moment = (datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=7 * n)).isoformat()
    return {
        "_id": secrets.token_hex(16),
        "type": "file",
        "name": f"file-{n:05}.txt",
        "dir_id": folder,
        "created_at": moment,
        "updated_at": moment,
        "size": str(100 + n % 5000),
        "mime": "text/plain",
        "class": "text",
        "trashed": False,
        "tags": [],
        **extra,
    }


async def _seed(store: httpx.AsyncClient, db: str, docs: list[dict[str, Any]]) -> None:
    for first in range(0, len(docs), BATCH):
        answer = await store.post(
            f"/{quote_db(db)}/_bulk_docs", json={"docs": docs[first : first + BATCH]}
        )
        answer.raise_for_status()


async def _timed(client: httpx.AsyncClient, path: str, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = await client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return samples


async def _later(client: httpx.AsyncClient, path: str, pattern: re.Pattern[str]) -> str:
    """The page five "more" steps on."""
    for _ in range(5):
        answer = await client.get(path)
        answer.raise_for_status()
        match = pattern.search(answer.text)
        if match is None:
            raise RuntimeError(f"no next page after {path}")
        href = unescape(match.group(1))
        path = href if href.startswith("/") else urlsplit(path).path + href
    return path


async def run(
    store_url: str, roost_url: str, config: Any, files: int, photos: int, rounds: int
) -> str:
    services = Services.build(config, store_url)
    passphrase = secrets.token_urlsafe(16)
    instance = await services.instances.create(DOMAIN, passphrase)
    await services.vfs.ensure(instance)
    root = await services.vfs.directory(instance, ROOT_DIR_ID)
    folder = await services.vfs.create_dir(instance, root, "Many")
    album = await services.vfs.create_dir(instance, root, "Camera")
    await services.aclose()
    db = instance.db(FILES_DOCTYPE)
    many = [_file(folder.id, n) for n in range(files)]
    pictures = []
    for n in range(photos):
        taken = (datetime(2015, 1, 1) + timedelta(hours=5 * n)).strftime("%Y-%m-%dT%H:%M:%S")
        pictures.append(
            _file(
                album.id,
                n,
                name=f"IMG_{n:05}.jpg",
                mime="image/jpeg",
                **{"class": "image"},
                metadata={"datetime": taken, "width": 4000, "height": 3000},
            )
        )
    port = urlsplit(roost_url).port
    async with (
        httpx.AsyncClient(base_url=store_url, timeout=600) as store,
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Host": DOMAIN}, timeout=600
        ) as client,
    ):
        (await client.post("/auth/login", json={"passphrase": passphrase})).raise_for_status()
        folder_page = f"/drive/{folder.id}"
        # Before the seeding: the pages put their design document (empty views, built at once).
        (await client.get("/photos")).raise_for_status()
        (await client.get(folder_page)).raise_for_status()
        seeding = time.perf_counter()
        await _seed(store, db, many + pictures)
        seeded = time.perf_counter() - seeding
        view = f"/{quote_db(db)}/{PAGES_DESIGN}/_view"
        # The indexes are built by reading each view once, straight from the store, with no
        # time limit: a page request would give up (503) after the stack's store timeout.
        builds = {}
        for name, path in (
            ("folder-name", f"{view}/folder-name"),
            ("timeline", f"{view}/timeline"),
            # The storage meter every page shows reads the stack's disk usage view.
            ("usage", f"/{quote_db(db)}/{USAGE_DESIGN}/_view/bytes"),
        ):
            started = time.perf_counter()
            (await store.get(path, params={"limit": "1"})).raise_for_status()
            builds[name] = time.perf_counter() - started
        later_folder = await _later(client, folder_page, _MORE)
        later_photos = await _later(client, "/photos", _LOAD_MORE)
        folder_read = {
            "include_docs": "true",
            "limit": "101",
            "startkey": f'["{folder.id}","name",0]',
            "endkey": f'["{folder.id}","name",0,{{}}]',
        }
        folder_files = {
            **folder_read,
            "startkey": f'["{folder.id}","name",1]',
            "endkey": f'["{folder.id}","name",1,{{}}]',
        }
        timeline_read = {"include_docs": "true", "limit": "121", "descending": "true"}

        async def store_time(path: str, params: list[dict[str, str]]) -> list[float]:
            samples = []
            for _ in range(rounds):
                started = time.perf_counter()
                for query in params:
                    (await store.get(path, params=query)).raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            return samples

        cases = [
            (
                f"Drive folder of {files:,} files, first page (100 rows)",
                await _timed(client, folder_page, rounds),
                await store_time(f"{view}/folder-name", [folder_read, folder_files]),
            ),
            (
                "Drive folder, sixth page (after five 'Show more')",
                await _timed(client, later_folder, rounds),
                None,
            ),
            (
                f"Photos timeline of {photos:,} photos, first page (120 photos)",
                await _timed(client, "/photos", rounds),
                await store_time(f"{view}/timeline", [timeline_read]),
            ),
            (
                "Photos timeline, sixth page (after five 'Load more')",
                await _timed(client, later_photos, rounds),
                None,
            ),
        ]
    lines = [
        f"Seeded {files + photos:,} documents with `_bulk_docs` in {seeded:.1f} s. Building "
        "the views' indexes over them (once per database; each later read only adds what "
        f"changed) took {builds['folder-name']:.1f} s for the folder view (name order) and "
        f"{builds['timeline']:.1f} s for the timeline view ({builds['usage']:.1f} s for the "
        "disk usage view the storage meter reads). Load average while measuring: "
        f"{_load()}.",
        "",
        "| page | median ms | p90 ms | store's own view read, median ms | goal |",
        "|---|---|---|---|---|",
    ]
    for label, samples, reference in cases:
        ref = f"{median(reference):.0f}" if reference else "—"
        goal = "≤ 150 ms" if "first page" in label else ""
        typical, p90 = median(samples), percentile(samples, 0.9)
        lines.append(f"| {label} | **{typical:.0f}** | {p90:.0f} | {ref} | {goal} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--photos", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    with running_stack(work) as stack:
        table = asyncio.run(
            run(
                stack.store_url, stack.roost_url, stack.config, args.files, args.photos, args.rounds
            )
        )
    body = (
        f"Store: {stack.backend}. One `roost serve` process (uvicorn, one worker), the store "
        "and the client on the same machine; times are whole page requests (permission "
        "checks, rendering, loopback HTTP) as the owner's browser would make them.\n\n" + table
    )
    print(body)
    if not args.no_write:
        write_section("Pages (bench/pages.py)", body)


if __name__ == "__main__":
    main()
