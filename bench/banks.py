"""The Banks page with 50,000 operations: server time of a render vs the store's own queries.

    .venv/bin/python bench/banks.py [--operations 50000] [--renders 30] [--no-write]

Starts the embedded PouchDB Server (or uses ROOST_COUCHDB_URL) and `roost serve` in its own
process; writes three accounts and `--operations` Cozy-shaped operations over four years
straight into the store (as a replication would), signs in, renders `/banks` once — which
builds the Mango indexes and, the history being large, has the sums computed in the
background (both timed apart) — then renders it `--renders` times — newest page, a filtered
page (an account and words), a category page — at concurrency 1 over loopback. The
reference, in the same run: the store answering the page's own first-page Mango query and
the read of the stored sums directly. Goal: ≤ 150 ms per render (issue 12).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import median, percentile, write_section

from roost.banks.summary import SUMMARY_DOCTYPE, SUMMARY_ID
from roost.config import Config
from roost.couch import quote_db
from roost.services import Services
from stack import running_stack

DOMAIN = "banks.roost.test"
PASSPHRASE = "correct horse battery staple"
LABELS = (
    ("CB CARREFOUR MARKET", -62.0, "400110"),
    ("CB BOULANGERIE DU MARCHE", -4.5, "400160"),
    ("PRLV SEPA FREE MOBILE", -19.99, None),
    ("PRLV SEPA EDF", -74.0, None),
    ("CB SNCF INTERNET", -48.0, None),
    ("VIR SALAIRE ACME SAS", 2480.0, "200110"),
    ("PRLV LOYER", -850.0, "401020"),
    ("CB PHARMACIE DU PORT", -12.3, None),
    ("CB RESTAURANT LE ZINC", -31.0, None),
    ("RETRAIT DAB", -40.0, None),
    ("CB AMAZON EU", -27.9, None),
    ("VIR CPAM REMBOURSEMENT", 16.5, None),
)


def operations(count: int, rng: random.Random) -> list[dict[str, Any]]:
    start = date.today() - timedelta(days=4 * 365)
    docs = []
    for index in range(count):
        label, amount, manual = LABELS[index % len(LABELS)]
        day = start + timedelta(days=rng.randrange(4 * 365))
        doc: dict[str, Any] = {
            "_id": f"op-{index:06d}",
            "label": f"{label} {day.day:02d}/{day.month:02d}",
            "amount": round(amount * rng.uniform(0.8, 1.2), 2),
            "date": f"{day.isoformat()}T00:00:00Z",
            "currency": "EUR",
            "account": ("checking", "checking", "card", "savings")[index % 4],
            "toCategorize": False,
        }
        if manual and index % 50 == 0:
            doc["manualCategoryId"] = manual
        elif manual:
            doc["cozyCategoryId"], doc["cozyCategoryProba"] = manual, 0.8
        docs.append(doc)
    return docs


async def _timed(total: int, one: Callable[[int], Awaitable[None]]) -> list[float]:
    latencies = []
    for index in range(total):
        started = time.perf_counter()
        await one(index)
        latencies.append(time.perf_counter() - started)
    return latencies


def _ms(samples: list[float]) -> str:
    return f"{median(samples) * 1000:.0f} / {percentile(samples, 0.95) * 1000:.0f}"


async def run(store_url: str, roost_url: str, config: Config, count: int, renders: int) -> str:
    services = Services.build(config, store_url)
    instance = await services.instances.create(DOMAIN, PASSPHRASE)
    couch = services.couch
    await couch.bulk_docs(
        instance.db("io.cozy.bank.accounts"),
        [
            {"_id": "checking", "label": "Compte courant", "type": "Checkings", "balance": 1520.4},
            {"_id": "card", "label": "Carte", "type": "CreditCard", "balance": -230.0},
            {"_id": "savings", "label": "Livret A", "type": "Savings", "balance": 8200.0},
        ],
    )
    rng = random.Random(12)
    docs = operations(count, rng)
    started = time.perf_counter()
    db = instance.db("io.cozy.bank.operations")
    for offset in range(0, len(docs), 2000):
        await couch.bulk_docs(db, docs[offset : offset + 2000])
    seeded = time.perf_counter() - started
    await services.aclose()

    async with (
        httpx.AsyncClient(base_url=roost_url, headers={"Host": DOMAIN}, timeout=600) as roost,
        httpx.AsyncClient(base_url=store_url, timeout=600) as direct,
    ):
        login = await roost.post("/auth/login", json={"passphrase": PASSPHRASE})
        login.raise_for_status()
        started = time.perf_counter()
        # The store builds the Mango indexes on the first page; with the embedded store and
        # a large history that outlasts the store timeout (503): the build goes on, ask again.
        while (await roost.get("/banks")).status_code == 503:  # noqa: ASYNC110
            await asyncio.sleep(1)
        first = time.perf_counter() - started
        # The sums are computed in the background: wait until the page has them.
        started = time.perf_counter()
        while "being added up" in (await roost.get("/banks")).text:  # noqa: ASYNC110
            await asyncio.sleep(1)  # another process computes them
        summed = time.perf_counter() - started

        pages = ("/banks", "/banks?account=checking&q=carrefour", "/banks?category=400100")
        for path in pages:  # warm each shape once (the account index may still be building)
            while (await roost.get(path)).status_code == 503:  # noqa: ASYNC110
                await asyncio.sleep(1)

        async def render(path: str) -> Callable[[int], Awaitable[None]]:
            async def one(_: int) -> None:
                answer = await roost.get(path)
                answer.raise_for_status()

            return one

        results = {path: await _timed(renders, await render(path)) for path in pages}

        async def store_first_page(_: int) -> None:
            answer = await direct.post(
                f"/{quote_db(db)}/_find",
                json={
                    "selector": {"date": {"$gt": ""}},
                    "sort": [{"date": "desc"}],
                    "use_index": "roost-banks-date",
                    "limit": 51,
                },
            )
            answer.raise_for_status()

        async def store_views(_: int) -> None:
            summary_db = quote_db(instance.db(SUMMARY_DOCTYPE))
            (await direct.get(f"/{summary_db}/{SUMMARY_ID}")).raise_for_status()

        store_page = await _timed(renders, store_first_page)
        store_sums = await _timed(renders, store_views)

    lines = [
        f"{count:,} operations written in {seeded:.1f} s (straight to the store); the first "
        f"render, which builds the Mango indexes, took {first:.1f} s; the sums of every "
        f"operation were then ready {summed:.1f} s later (computed in the background).",
        "",
        "| what | p50 / p95 ms |",
        "|---|---|",
        "| `GET /banks` (newest 50, balances, both charts, recurring, alerts) "
        f"| **{_ms(results[pages[0]])}** |",
        f"| `GET /banks?account=checking&q=carrefour` | {_ms(results[pages[1]])} |",
        f"| `GET /banks?category=400100` (checked here, on batches) | {_ms(results[pages[2]])} |",
        f"| store alone: the first page's Mango query | {_ms(store_page)} |",
        f"| store alone: reading the stored sums | {_ms(store_sums)} |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--operations", type=int, default=50_000)
    parser.add_argument("--renders", type=int, default=30)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roost-bench-"))
    with running_stack(work) as stack:
        table = asyncio.run(
            run(stack.store_url, stack.roost_url, stack.config, args.operations, args.renders)
        )
    try:
        load = Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        load = "unknown"
    body = (
        f"Store: {stack.backend}; load average {load} at the end (the machine is shared). "
        "One `roost serve` process and the store on the same machine "
        "as the client, one request at a time over loopback (the time measured is the "
        "server's plus a loopback round trip). Goal: ≤ 150 ms per render.\n\n" + table
    )
    print(table)
    if not args.no_write:
        write_section("Banks page (bench/banks.py)", body)


if __name__ == "__main__":
    main()
