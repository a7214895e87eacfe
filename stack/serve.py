"""`roost serve`: one process owning its data directory, its store and its HTTP server.

Start-up: take the data directory's lock (a second `roost serve` on the same directory is
refused with `DataDirectoryInUse`), stop any store a crashed predecessor left running, start
the embedded store (unless `ROOST_COUCHDB_URL` names one) and record it in the runtime file
(`roost.store_runtime`), then serve HTTP.

Stop: SIGTERM (systemd, `docker stop`, `kill`), SIGINT (Ctrl-C) and SIGHUP (a closed
terminal) all stop it the same way: uvicorn stops accepting and finishes the requests in
flight (for up to `GRACEFUL_STOP_SECONDS`), then the store is stopped, the runtime file
removed and the lock released; the exit status is 0. A signal that arrives while the
store is still starting stops it too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import click
import uvicorn

from roost.config import Config
from roost.heap import settle_after_start_up
from roost.services import Services
from roost.store_access import own_data_directory, own_embedded_store
from roost.store_runtime import DataDirectoryLock, StoreRuntime

DEMO_DOMAIN = "alice.localhost"

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Requests still running this long after a stop signal are cut (long-polled `_changes`
# would otherwise hold the stop for minutes): well within `docker stop`'s 10 s.
GRACEFUL_STOP_SECONDS = 5


class _StopRequested(Exception):
    """A stop signal arrived before the HTTP server was running."""


class _StopSignals:
    """Routes the stop signals to uvicorn once it serves, and aborts start-up before that.

    uvicorn handles SIGINT and SIGTERM itself while it serves, restores the handlers it
    found when it is done, then re-sends the signal it caught. Left at the default, that
    re-sent SIGTERM killed the process before the store could be stopped: so the handlers
    it finds are these, which only ask the server to exit.
    """

    def __init__(self) -> None:
        self.server: uvicorn.Server | None = None
        self._aborted = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.server is not None:
            self.server.handle_exit(signum, frame)
        elif not self._aborted:
            # Only once: a second signal must not interrupt the clean-up of the first.
            self._aborted = True
            raise _StopRequested

    @contextmanager
    def installed(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(config: Config, host: str, port: int, *, demo: bool) -> None:
    """Serve until a stop signal; raises `DataDirectoryInUse` if another process owns it."""
    from roost.app import create_app

    stop = _StopSignals()
    with stop.installed():
        try:
            with (
                own_data_directory(config) as lock,
                _store(config, lock, port) as (url, restarts),
            ):
                if demo:
                    asyncio.run(_ensure_demo(config, url, port))
                    if not config.default_instance:
                        # A demo box reached as localhost or by IP still shows alice's instance.
                        config = dataclasses.replace(config, default_instance=DEMO_DOMAIN)
                app = create_app(config, couchdb_url=url)
                app.state.services.store_restarts = restarts
                settle_after_start_up()  # what the process keeps for life: out of the GC's walks
                server = uvicorn.Server(
                    uvicorn.Config(
                        app,
                        host=host,
                        port=port,
                        log_config=None,
                        access_log=False,
                        timeout_graceful_shutdown=GRACEFUL_STOP_SECONDS,
                    )
                )
                stop.server = server
                server.run()
        except _StopRequested:
            pass


@contextmanager
def _store(
    config: Config, lock: DataDirectoryLock, http_port: int
) -> Iterator[tuple[str, Callable[[], int]]]:
    if config.couchdb_url:
        lock.write(StoreRuntime(owner_pid=os.getpid(), role="serve"))
        try:
            yield config.couchdb_url, _no_restarts
        finally:
            lock.clear()
        return
    # The store must not take the port this server is about to bind (free until then).
    with own_embedded_store(config, lock, "serve", avoid_ports=(http_port,)) as store:
        yield store.url, lambda: store.restarts


def _no_restarts() -> int:
    return 0


async def _ensure_demo(config: Config, url: str, port: int) -> None:
    services = Services.build(config, url)
    try:
        domain = DEMO_DOMAIN
        secret_file = config.data_dir / "demo-passphrase.txt"
        if await services.instances.find(domain) is None:
            passphrase = secrets.token_urlsafe(12)
            await services.instances.create(domain, passphrase)
            secret_file.parent.mkdir(parents=True, exist_ok=True)
            secret_file.write_text(passphrase + "\n")
            secret_file.chmod(0o600)
        passphrase = secret_file.read_text().strip() if secret_file.exists() else "(set earlier)"
        click.echo(
            f"\n  Demo instance:  http://{domain}:{port}/\n"
            f"  Passphrase:     {passphrase}\n"
            f"  (stored in {secret_file})\n"
        )
    finally:
        await services.aclose()
