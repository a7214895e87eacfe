"""A 10,000-operation bank statement end to end: the file arrives → every operation stored
and categorised, against the store writing the same documents with one `_bulk_docs`.

    .venv/bin/python bench/imports.py [--operations 10000] [--no-write]

Needs the guests built (`examples/apps/build.sh examples/apps/import-bank
examples/apps/categorise-operations`). Starts the embedded PouchDB Server (or uses
ROOST_COUCHDB_URL) and `roost serve` in its own process; makes an instance, signs in and opens
Home (which gives the instance its Banks trigger and installs the categoriser app, as for
every person), installs import-bank through `POST /apps/install` with consent, and makes the
watched folder. Then the measured part: the statement (an OFX 2.x file generated here, the
one tests/importers uses) is uploaded into the folder with `POST /files`; the import-bank run
(parse + write, world 0.3.0 bulk calls) and the categoriser's runs (debounced: one or a
few) follow on the server's job runner. Timed from the upload until the last operation is
stored, then until the last one is categorised (read from the job documents' own times,
checked against the store at the end). The reference, in the same run: the same number of
Cozy-shaped operation documents written straight into a fresh database of the same store
with one `_bulk_docs` request.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # tests/: the statement
from report import write_section

from roost.apps.runtime import AppRuntime
from roost.banks.categoriser_app import SLUG as CATEGORISER
from roost.config import Config
from roost.couch import quote_db
from roost.jobs import DONE, ERRORED, JOBS_DOCTYPE
from roost.services import Services
from stack import running_stack
from tests.importers.bank_samples import big_ofx

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = "imports.roost.test"
PASSPHRASE = "correct horse battery staple"
IMPORTER = "import-bank"
FOLDER = ("Imports", "Bank statements")
OPERATIONS = "io.cozy.bank.operations"
EXAMPLES = ROOT / "examples" / "apps"


def _place_compiled(config: Config) -> None:
    """Compile both guests once into the shared cache and give the server the artifacts, so
    that installing them (timed apart, not measured) compiles nothing."""
    runtime = AppRuntime(ROOT / ".cache" / "apps-cwasm")
    target = config.cache_dir / "apps"
    target.mkdir(parents=True, exist_ok=True)
    try:
        for slug in (IMPORTER, CATEGORISER):
            wasm = EXAMPLES / slug / "app.wasm"
            if not wasm.is_file():
                raise SystemExit(f"{wasm} is missing: run examples/apps/build.sh first")
            compiled = runtime.cache.ensure(wasm.read_bytes())
            shutil.copyfile(compiled.path, target / compiled.path.name)
    finally:
        runtime.close()


def _package(slug: str) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for name in ("manifest.json", "app.wasm"):
            tar.add(EXAMPLES / slug / name, arcname=f"{slug}/{name}")
    return buf.getvalue()


def _seconds(stamp: str | None) -> float:
    assert stamp, "a finished job has its time"
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def _jobs(direct: httpx.AsyncClient, jobs_db: str) -> list[dict[str, Any]]:
    answer = await direct.get(f"/{jobs_db}/_all_docs", params={"include_docs": "true"})
    if answer.status_code == 404:
        return []
    answer.raise_for_status()
    return [
        row["doc"]
        for row in answer.json()["rows"]
        if not row["id"].startswith("_design/") and row["doc"].get("worker") == "app"
    ]


async def _categorised(direct: httpx.AsyncClient, ops_db: str, count: int) -> int:
    answer = await direct.post(
        f"/{ops_db}/_find",
        json={"selector": {"toCategorize": False}, "fields": ["_id"], "limit": count + 1},
    )
    answer.raise_for_status()
    return len(answer.json()["docs"])


async def run(store_url: str, roost_url: str, config: Config, count: int) -> dict[str, float]:
    services = Services.build(config, store_url)
    instance = await services.instances.create(DOMAIN, PASSPHRASE)
    await services.aclose()
    statement = big_ofx(count)
    jobs_db = quote_db(instance.db(JOBS_DOCTYPE))
    ops_db = quote_db(instance.db(OPERATIONS))
    async with (
        httpx.AsyncClient(base_url=roost_url, headers={"Host": DOMAIN}, timeout=600) as roost,
        httpx.AsyncClient(base_url=store_url, timeout=600) as direct,
    ):
        (await roost.post("/auth/login", json={"passphrase": PASSPHRASE})).raise_for_status()
        (await roost.get("/")).raise_for_status()  # Home: the Banks trigger, the categoriser
        asked = await roost.post(
            "/apps/install",
            content=_package(IMPORTER),
            headers={"content-type": "application/gzip"},
        )
        staging = asked.json()["staging"]
        (await roost.post(f"/apps/install/{staging}/accept")).raise_for_status()
        dir_id = "io.cozy.files.root-dir"
        for name in FOLDER:
            made = await roost.post(f"/files/{dir_id}", params={"Type": "directory", "Name": name})
            made.raise_for_status()
            dir_id = made.json()["data"]["id"]
        installed = {d["slug"] for d in (await roost.get("/apps/")).json()}
        assert {IMPORTER, CATEGORISER} <= installed, installed

        started = time.time()
        upload = await roost.post(
            f"/files/{dir_id}",
            params={"Type": "file", "Name": "year.ofx"},
            content=statement,
            headers={"Content-Type": "application/x-ofx"},
        )
        upload.raise_for_status()
        uploaded = time.time() - started
        while True:
            docs = await _jobs(direct, jobs_db)
            imports = [d for d in docs if d["message"].get("slug") == IMPORTER]
            sorts = [d for d in docs if d["message"].get("slug") == CATEGORISER]
            finished = (DONE, ERRORED)
            if any(d["state"] == ERRORED for d in imports + sorts):
                break
            if imports and all(d["state"] in finished for d in imports + sorts):
                if sorts and await _categorised(direct, ops_db, count) >= count:
                    break
            if time.time() - started > 900:
                raise SystemExit("the import did not finish in 15 minutes")
            await asyncio.sleep(0.5)
        bad = [d.get("error") for d in imports + sorts if d["state"] == ERRORED]
        if bad:
            raise SystemExit(f"a run failed: {bad}")
        written = max(_seconds(d["finished_at"]) for d in imports) - started
        categorised = max(_seconds(d["finished_at"]) for d in sorts) - started
        runs = len(sorts)

        # The reference: the same number of operation documents, one `_bulk_docs`.
        reference_db = quote_db(f"{config.db_prefix}reference-{count}")
        (await direct.put(f"/{reference_db}")).raise_for_status()
        reference_docs = [
            {
                "_id": f"ref-{i:08d}",
                "label": f"CB CARREFOUR MARKET {i % 97}",
                "amount": -(1 + i % 250),
                "date": "2026-03-02T00:00:00Z",
                "currency": "EUR",
                "account": "checking",
                "toCategorize": True,
            }
            for i in range(count)
        ]
        begun = time.perf_counter()
        answer = await direct.post(f"/{reference_db}/_bulk_docs", json={"docs": reference_docs})
        answer.raise_for_status()
        reference = time.perf_counter() - begun
        await direct.delete(f"/{reference_db}")
    return {
        "uploaded": uploaded,
        "written": written,
        "categorised": categorised,
        "runs": runs,
        "reference": reference,
        "bytes": len(statement),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--operations", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    count = args.operations
    work = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    with running_stack(work) as stack:
        _place_compiled(stack.config)
        got = asyncio.run(run(stack.store_url, stack.roost_url, stack.config, count))
    try:
        load = Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        load = "unknown"
    end_to_end = count / got["categorised"]
    reference = count / got["reference"]
    table = "\n".join(
        [
            "| what | seconds | operations/s |",
            "|---|---|---|",
            f"| upload of the {got['bytes'] / 2**20:.1f} MiB OFX (`POST /files`) "
            f"| {got['uploaded']:.1f} | |",
            f"| file arrives → every operation stored (import-bank: parse + write) "
            f"| {got['written']:.1f} | {count / got['written']:,.0f} |",
            f"| stored → every operation categorised ({got['runs']:.0f} categoriser run(s)) "
            f"| {got['categorised'] - got['written']:.1f} | |",
            f"| **file arrives → every operation categorised** | **{got['categorised']:.1f}** "
            f"| **{end_to_end:,.0f}** |",
            f"| reference: the store alone, one `_bulk_docs` of {count:,} documents "
            f"| {got['reference']:.1f} | {reference:,.0f} |",
            "",
            f"End to end: **{end_to_end / reference:.2f}×** the store's own bulk write "
            f"({count:,} operations).",
        ]
    )
    body = (
        f"Store: {stack.backend}; load average {load} at the end (the machine is shared: "
        "above its core count, other work ran alongside and these figures are slower than "
        "the machine's own). "
        "One `roost serve` process and the store on the same machine as the client. The "
        "statement is uploaded into the watched folder through `POST /files`; import-bank "
        "(world 0.3.0: `get-many`, `create-many`, a thousand per call) and the categoriser "
        "app (an `@event` trigger debounced by 1 s) run in the server's job runner, in "
        "WebAssembly.\n\n" + table
    )
    print(table)
    if not args.no_write:
        write_section("Bank statement import (bench/imports.py)", body)


if __name__ == "__main__":
    main()
