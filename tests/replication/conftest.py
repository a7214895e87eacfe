"""Fixtures for replication tests: a PouchDB device in Node, a separate PouchDB Server acting
as a CouchDB replicator, and a Roost server answering for one instance on any host name."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from roost.app import create_app
from roost.config import Config
from roost.embedded_store import EmbeddedStore, free_port
from roost.instances import Instance
from tests.conftest import LiveServer

HERE = Path(__file__).parent
DEVICE_SCRIPT = HERE / "pouchdb_client.js"

Device = Callable[..., Awaitable[list[Any]]]


async def run_device(plan: dict[str, Any], *, seconds: float = 600) -> list[Any]:
    """Run one PouchDB session in Node; the steps' results, or an AssertionError with Node's
    own error output."""
    process = await asyncio.create_subprocess_exec(
        "node",
        str(DEVICE_SCRIPT),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(json.dumps(plan).encode()), seconds)
    if process.returncode != 0:
        raise AssertionError(f"PouchDB session failed:\n{err.decode()}")
    results: list[Any] = json.loads(out)
    return results


@pytest.fixture
def device(tmp_path: Path, live_server: LiveServer, instance: Instance) -> Device:
    """`await device("phone", token, steps)`: a named device's session against `instance`,
    its LevelDB kept between sessions."""

    async def session(
        name: str, token: str | None, steps: list[dict[str, Any]], doctype: str = "io.cozy.contacts"
    ) -> list[Any]:
        plan = {
            "dir": str(tmp_path / f"device-{name}"),
            "remote": {
                "url": f"http://127.0.0.1:{live_server.port}/data/{doctype}",
                "host": instance.domain,
                "token": token,
            },
            "steps": steps,
        }
        return await run_device(plan)

    return session


@pytest.fixture(scope="session")
def replicator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    """A PouchDB Server of its own (port, data folder): it crashes when a replication fails,
    and must never take the test store down with it."""
    store = EmbeddedStore(tmp_path_factory.mktemp("replicator"))
    store.start()
    yield store
    store.stop()


@pytest.fixture
def instance_server(config: Config, instance: Instance) -> Iterator[LiveServer]:
    """Roost answering for `instance` whatever the Host: a replicator given only a URL with
    credentials in it cannot send a Host header of its choosing."""
    app = create_app(dataclasses.replace(config, default_instance=instance.domain))
    server = LiveServer(app, free_port())
    server.start()
    yield server
    server.stop()
