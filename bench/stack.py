"""A store and a `roost serve` process for one benchmark run, started and stopped together.

The store is the embedded PouchDB Server (or `ROOST_COUCHDB_URL`); Roost runs in its own
process, as in production, so its CPU is measured apart from the client's.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from roost.config import Config
from roost.embedded_store import EmbeddedStore, free_port


@dataclass(frozen=True)
class BenchStack:
    store_url: str
    roost_url: str
    config: Config
    backend: str
    store_pid: int | None
    roost_pid: int


@contextmanager
def running_stack(work: Path, *, env: dict[str, str] | None = None) -> Iterator[BenchStack]:
    external = os.environ.get("ROOST_COUCHDB_URL")
    store = None
    if external:
        store_url = external
    else:
        store = EmbeddedStore(work / "couchdb")
        store.start()
        store_url = store.url
    prefix = f"bench{secrets.token_hex(3)}-"
    config = Config(data_dir=work / "data", couchdb_url=store_url, db_prefix=prefix)
    try:
        with roost_serve(store_url, prefix, config.data_dir, env or {}) as (roost_url, roost_pid):
            yield BenchStack(
                store_url=store_url,
                roost_url=roost_url,
                config=config,
                backend=(
                    "Apache CouchDB (ROOST_COUCHDB_URL)"
                    if external
                    else "embedded PouchDB Server 4.2.0"
                ),
                store_pid=store._process.pid if store is not None and store._process else None,
                roost_pid=roost_pid,
            )
    finally:
        # After `roost serve` stopped: it must not lose its store while shutting down.
        if store is not None:
            store.stop()


@contextmanager
def roost_serve(
    store_url: str, prefix: str, data_dir: Path, env: dict[str, str]
) -> Iterator[tuple[str, int]]:
    """One `roost serve` process on `store_url`; yields its URL and pid once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "roost.cli", "serve", "--port", str(port)],
        env={
            **os.environ,
            "ROOST_COUCHDB_URL": store_url,
            "ROOST_DB_PREFIX": prefix,
            "ROOST_DATA": str(data_dir),
            "ROOST_LOG_LEVEL": "warning",
            **env,
        },
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/status", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("roost serve did not start") from None
                time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)
