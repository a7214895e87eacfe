"""How a process reaches the store of its data directory, whether a server runs or not.

A CLI command gets its store with **`store_url(config)`** (a context manager yielding a
CouchDB URL) or, more often, runs its work with **`run_with_services(config, work)`**:

- `ROOST_COUCHDB_URL` set: that server, shared by everyone; nothing is started.
- A `roost serve` runs on the data directory: the embedded store *that server* started,
  found through the runtime file (`roost.store_runtime`). The store's files are never
  opened a second time.
- Nothing runs: the command takes the data directory's lock, starts the embedded store for
  its own use and stops it when done; a `roost serve` started meanwhile is refused, and a
  second command waits for the first to finish.

`roost serve` itself uses `own_data_directory` and `own_embedded_store`: it takes the lock
or is refused with `DataDirectoryInUse`, and owns the store for its whole life.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx

from roost.config import Config
from roost.embedded_store import EmbeddedStore, stop_stray_stores
from roost.errors import StoreUnavailable
from roost.processes import process_is_running
from roost.services import Services
from roost.store_runtime import DataDirectoryLock, Role, StoreRuntime

T = TypeVar("T")

# How long a command waits for a server that holds the lock to publish its store's port.
STARTING_SERVER_WAIT_SECONDS = 30.0


@contextmanager
def own_data_directory(config: Config) -> Iterator[DataDirectoryLock]:
    """Hold the data directory's lock for the block, or raise `DataDirectoryInUse`."""
    lock = DataDirectoryLock(config.data_dir)
    if not lock.try_acquire():
        raise lock.refusal()
    try:
        yield lock
    finally:
        lock.release()


@contextmanager
def own_embedded_store(
    config: Config, lock: DataDirectoryLock, role: Role, *, avoid_ports: Collection[int] = ()
) -> Iterator[EmbeddedStore]:
    """Start the embedded store under `lock`, after stopping any store a dead owner left."""
    stop_stray_stores(config.couch_dir, _recorded_store_pid(lock))
    owner = StoreRuntime(owner_pid=os.getpid(), role=role)
    lock.write(owner)

    def record(pid: int, port: int) -> None:
        lock.write(StoreRuntime(owner_pid=owner.owner_pid, role=role, store_pid=pid, port=port))

    store = EmbeddedStore(
        config.couch_dir, port=_embedded_port(config), on_spawn=record, avoid_ports=avoid_ports
    )
    try:
        store.start()
        yield store
    finally:
        store.stop()
        lock.clear()


@contextmanager
def store_url(config: Config) -> Iterator[str]:
    """The CouchDB URL a command uses; see the module docstring for which store it is."""
    if config.couchdb_url:
        yield config.couchdb_url
        return
    lock = DataDirectoryLock(config.data_dir)
    waiting_since = time.monotonic()
    told = False
    while True:
        if lock.try_acquire():
            try:
                with own_embedded_store(config, lock, "command") as store:
                    yield store.url
            finally:
                lock.release()
            return
        runtime = lock.read()
        holder_alive = runtime is not None and process_is_running(runtime.owner_pid)
        if runtime is not None and holder_alive and runtime.role == "serve":
            # A server still starting (or restarting its store) has no answering port yet.
            if runtime.url is not None and _answers(runtime.url):
                yield runtime.url
                return
        elif runtime is not None and holder_alive:
            # Another command owns a store for a moment; wait as long as it lives.
            if not told:
                print(f"waiting for {runtime.describe()} to finish…", file=sys.stderr)
                told = True
            waiting_since = time.monotonic()
        if time.monotonic() - waiting_since > STARTING_SERVER_WAIT_SECONDS:
            raise StoreUnavailable(
                f"the data directory {config.data_dir} is locked but its store does not "
                f"answer ({runtime.describe() if runtime else 'no runtime file'})"
            )
        time.sleep(0.1)


def run_with_services(config: Config, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run `work` with the services of this command, over `store_url(config)`."""
    with store_url(config) as url:

        async def main() -> T:
            services = Services.build(config, url)
            try:
                return await work(services)
            finally:
                await services.aclose()

        return asyncio.run(main())


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _recorded_store_pid(lock: DataDirectoryLock) -> int | None:
    runtime = lock.read()
    return runtime.store_pid if runtime is not None else None


def _embedded_port(config: Config) -> int | None:
    raw = config.extra.get("embedded_port")
    return int(raw) if raw else None
