"""When CouchDB goes away: 503 JSON at once (never a hang, never a 500), and back to normal
when it returns.

A small TCP proxy sits between a dedicated app and the suite's store, so the store can be
cut off and brought back without disturbing the other tests. The embedded store's
supervisor is tested on a PouchDB Server of its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from roost.app import create_app
from roost.config import Config
from roost.embedded_store import EmbeddedStore, free_port
from roost.instances import Instance
from roost.permissions import PermissionSet
from roost.services import Services
from tests.conftest import PASSPHRASE

CONTACTS = "io.cozy.contacts"
# Generous bound: a request must answer, one way or the other, well before this.
NO_HANG_SECONDS = 20.0


class TcpProxy:
    """Forwards 127.0.0.1:port to the store. `stop()` cuts every connection; `drop=True`
    accepts connections and closes them at once (a store dying mid-request)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.drop = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._writers.add(client_w)
        if self.drop:
            client_w.close()
            return
        try:
            store_r, store_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        self._writers.add(store_w)
        for source, sink in ((client_r, store_w), (store_r, client_w)):
            task = asyncio.create_task(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            sink.close()


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@dataclasses.dataclass
class Rig:
    proxy: TcpProxy
    http: httpx.AsyncClient
    instance: Instance
    token: str
    doc: dict[str, Any]


@pytest.fixture
async def rig(
    config: Config,
    new_instance: Callable[..., Awaitable[Instance]],
    issue_token: Callable[..., Awaitable[str]],
) -> AsyncIterator[Rig]:
    store = urlsplit(config.couchdb_url or "")
    proxy = TcpProxy(store.hostname or "127.0.0.1", store.port or 5984)
    await proxy.start()
    proxied = dataclasses.replace(
        config, couchdb_url=_through(config.couchdb_url or "", proxy.port)
    )
    services = Services.build(proxied, proxied.couchdb_url or "")
    instance = await new_instance("outage")
    token = await issue_token(instance, f"{CONTACTS} io.cozy.doctypes:GET")
    transport = httpx.ASGITransport(app=create_app(proxied, services=services))
    try:
        async with httpx.AsyncClient(
            transport=transport,
            base_url=f"http://{instance.domain}",
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            created = await http.post(f"/data/{CONTACTS}/", json={"fullname": "Before"})
            assert created.status_code == 201, created.text
            yield Rig(proxy, http, instance, token, created.json()["data"])
    finally:
        await proxy.stop()
        await services.aclose()


Request = Callable[[Rig], Awaitable[httpx.Response]]

REQUESTS: list[Any] = [
    pytest.param(lambda r: r.http.get(f"/data/{CONTACTS}/{r.doc['_id']}"), id="GET doc"),
    pytest.param(
        lambda r: r.http.get(f"/data/{CONTACTS}/{r.doc['_id']}", params={"open_revs": "all"}),
        id="GET open_revs",
    ),
    pytest.param(lambda r: r.http.post(f"/data/{CONTACTS}/", json={"a": 1}), id="POST doc"),
    pytest.param(
        lambda r: r.http.put(f"/data/{CONTACTS}/{r.doc['_id']}", json={**r.doc, "x": 1}),
        id="PUT doc",
    ),
    pytest.param(
        lambda r: r.http.delete(f"/data/{CONTACTS}/{r.doc['_id']}", params={"rev": "1-x"}),
        id="DELETE doc",
    ),
    pytest.param(
        lambda r: r.http.post(f"/data/{CONTACTS}/_find", json={"selector": {}}), id="_find"
    ),
    pytest.param(lambda r: r.http.get(f"/data/{CONTACTS}/_all_docs"), id="_all_docs"),
    pytest.param(lambda r: r.http.get("/data/_all_doctypes"), id="_all_doctypes"),
    pytest.param(
        lambda r: r.http.post(
            "/auth/login", json={"passphrase": PASSPHRASE}, headers={"Authorization": ""}
        ),
        id="login",
    ),
]


async def _answer_within_bound(request: Request, rig: Rig) -> httpx.Response:
    return await asyncio.wait_for(request(rig), timeout=NO_HANG_SECONDS)


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "reason"}
    assert body["error"] == "store_unavailable"


async def _until_ok(rig: Rig) -> httpx.Response:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:
        response = await rig.http.get(f"/data/{CONTACTS}/{rig.doc['_id']}")
        if response.status_code == 200 or loop.time() > deadline:
            return response
        await asyncio.sleep(0.1)


async def _all_at_once(rig: Rig) -> dict[str, httpx.Response]:
    """Every request of the table, concurrently, each bounded in time."""
    names = [param.id for param in REQUESTS]
    answers = await asyncio.gather(
        *(_answer_within_bound(param.values[0], rig) for param in REQUESTS)
    )
    return dict(zip(names, answers, strict=True))


async def test_a_stopped_store_answers_503_json_then_recovers(rig: Rig) -> None:
    await rig.proxy.stop()

    down = await _all_at_once(rig)

    assert {name: r.status_code for name, r in down.items()} == dict.fromkeys(down, 503)
    for response in down.values():
        _assert_unavailable(response)

    await rig.proxy.start()
    back = await _until_ok(rig)
    assert back.status_code == 200
    assert (back.json()["_rev"], back.json()["fullname"]) == (rig.doc["_rev"], "Before")
    up = await _all_at_once(rig)
    statuses = {name: r.status_code for name, r in up.items()}
    # DELETE names a stale revision on purpose: the store answered, so 409.
    assert statuses == {**dict.fromkeys(up, 200), "POST doc": 201, "DELETE doc": 409}


async def test_a_store_that_drops_connections_answers_503_json(rig: Rig) -> None:
    rig.proxy.drop = True
    # Restarting the proxy also cuts the connections pooled by the app's client.
    await rig.proxy.stop()
    await rig.proxy.start()

    down = await _all_at_once(rig)

    assert {name: r.status_code for name, r in down.items()} == dict.fromkeys(down, 503)
    for response in down.values():
        _assert_unavailable(response)
    rig.proxy.drop = False
    assert (await _until_ok(rig)).status_code == 200


# -- the embedded store's supervisor -----------------------------------------------------


@pytest.mark.skipif(
    bool(os.environ.get("ROOST_COUCHDB_URL")),
    reason="the embedded store is not used when ROOST_COUCHDB_URL names an external CouchDB",
)
async def test_the_embedded_store_is_restarted_after_a_crash(
    config: Config, tmp_path: Path, issue_token: Callable[..., Awaitable[str]]
) -> None:
    store = EmbeddedStore(tmp_path / "couchdb")
    await asyncio.to_thread(store.start)
    own = dataclasses.replace(config, couchdb_url=store.url, data_dir=tmp_path)
    services = Services.build(own, store.url)
    try:
        instance = await services.instances.create("crash.roost.test", PASSPHRASE)
        token = await services.tokens.issue(
            instance,
            audience="cli",
            subject="test",
            permissions=PermissionSet.from_inline(CONTACTS),
            ttl=None,
        )
        transport = httpx.ASGITransport(app=create_app(own, services=services))
        async with httpx.AsyncClient(
            transport=transport,
            base_url=f"http://{instance.domain}",
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            created = await http.post(f"/data/{CONTACTS}/", json={"fullname": "Survivor"})
            assert created.status_code == 201
            url = f"/data/{CONTACTS}/{created.json()['id']}"

            await asyncio.to_thread(store.kill)
            during = await asyncio.wait_for(http.get(url), timeout=NO_HANG_SECONDS)
            # Either the retry outlived the restart, or a clean 503.
            if during.status_code != 200:
                _assert_unavailable(during)

            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while (response := await http.get(url)).status_code != 200:
                assert loop.time() < deadline, response.text
                await asyncio.sleep(0.2)
        assert store.restarts == 1
        assert response.json()["fullname"] == "Survivor"
    finally:
        await services.aclose()
        await asyncio.to_thread(store.stop)
