"""The realtime domain without websockets: sessions, the hub and its changes followers on
the suite's real store (and, for an outage, through a TCP proxy that can cut it off)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from roost.config import Config
from roost.couch import CouchClient
from roost.instances import Instance
from roost.realtime import (
    CLOSE_SLOW_CONSUMER,
    Close,
    RealtimeHub,
    RealtimeLimits,
    RealtimeSession,
)
from roost.services import Services
from roost.vfs import VFS
from tests.realtime.support import WAIT
from tests.web.test_store_outage import TcpProxy, _through

CONTACTS = "io.cozy.contacts"


def _auth(token: str) -> str:
    return json.dumps({"method": "AUTH", "payload": token})


def _subscribe(doctype: str) -> str:
    return json.dumps({"method": "SUBSCRIBE", "payload": {"type": doctype}})


async def _until(predicate: Callable[[], bool]) -> None:
    async def wait() -> None:
        # The session exposes no event for this; polling is the plainest wait in a test.
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    await asyncio.wait_for(wait(), WAIT)


async def _create(services: Services, instance: Instance, fullname: str) -> str:
    doc_id = uuid.uuid4().hex
    await services.documents.save(instance, CONTACTS, {"_id": doc_id, "fullname": fullname})
    return doc_id


async def _next_frame(session: RealtimeSession) -> dict[str, object]:
    item = await asyncio.wait_for(session.outgoing(), WAIT)
    assert not isinstance(item, Close), item
    frame: dict[str, object] = json.loads(item)
    return frame


async def test_one_follower_per_database_stopped_when_the_last_subscriber_leaves(
    services: Services, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    hub = RealtimeHub(services.couch, services.vfs, RealtimeLimits())
    token = await issue_token(instance, CONTACTS)
    sessions = [
        RealtimeSession(hub, services.realtime_auth, instance.domain, session_cookie=None)
        for _ in range(3)
    ]
    try:
        assert not hub.following(instance, CONTACTS)
        for session in sessions:
            await session.receive(_auth(token))
            await session.receive(_subscribe(CONTACTS))
        assert hub.followers == 1
        assert hub.listeners(instance, CONTACTS) == 3
        assert hub.following(instance, CONTACTS)  # a SUBSCRIBE taken: writes from now on
        created = await _create(services, instance, "Shared")
        for session in sessions:
            frame = await _next_frame(session)
            assert frame["event"] == "CREATED"
        await sessions[0].aclose()
        assert hub.listeners(instance, CONTACTS) == 2
        for session in sessions[1:]:
            await session.aclose()
        assert hub.followers == 0
        assert not hub.following(instance, CONTACTS)
        assert created
    finally:
        await hub.aclose()


async def test_a_slow_consumer_is_closed_with_its_own_code(
    services: Services, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    hub = RealtimeHub(services.couch, services.vfs, RealtimeLimits(queue_frames=5))
    session = RealtimeSession(hub, services.realtime_auth, instance.domain, session_cookie=None)
    try:
        await session.receive(_auth(await issue_token(instance, CONTACTS)))
        await session.receive(_subscribe(CONTACTS))
        # Nobody reads `outgoing()`: the sixth event overflows the queue.
        for n in range(10):
            await _create(services, instance, f"n{n}")
        await _until(lambda: session.closing is not None)
        closing = await session.outgoing()
        assert isinstance(closing, Close)
        assert closing.code == CLOSE_SLOW_CONSUMER
        assert "too slow" in closing.reason
    finally:
        await session.aclose()
        await hub.aclose()


async def test_the_follower_resumes_after_the_store_comes_back(
    config: Config,
    services: Services,
    instance: Instance,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    store = urlsplit(config.couchdb_url or "")
    proxy = TcpProxy(store.hostname or "127.0.0.1", store.port or 5984)
    await proxy.start()
    proxied = dataclasses.replace(
        config, couchdb_url=_through(config.couchdb_url or "", proxy.port)
    )
    couch = CouchClient(proxied.couchdb_url or "", timeout=5)
    hub = RealtimeHub(couch, VFS(couch, config.files_dir), RealtimeLimits(poll_seconds=1.0))
    session = RealtimeSession(hub, services.realtime_auth, instance.domain, session_cookie=None)
    try:
        await _create(services, instance, "Before")
        await session.receive(_auth(await issue_token(instance, CONTACTS)))
        await session.receive(_subscribe(CONTACTS))
        await proxy.stop()  # the follower's store is gone…
        during = await _create(services, instance, "During")
        await proxy.start()  # …and back: the follower resumes from the last sequence it saw
        frame = await _next_frame(session)
        assert frame["event"] == "CREATED"
        payload = frame["payload"]
        assert isinstance(payload, dict)
        assert payload == {"type": CONTACTS, "id": during, "doc": payload["doc"]}
        assert payload["doc"]["fullname"] == "During"
    finally:
        await session.aclose()
        await hub.aclose()
        await couch.aclose()
        await proxy.stop()


async def test_a_socket_that_never_authenticates_is_closed(
    services: Services, instance: Instance
) -> None:
    hub = RealtimeHub(services.couch, services.vfs, RealtimeLimits(auth_seconds=0.2))
    session = RealtimeSession(hub, services.realtime_auth, instance.domain, session_cookie=None)
    try:
        await asyncio.wait_for(session.watch_credentials(), WAIT)
        refusal = await session.outgoing()
        assert isinstance(refusal, str)
        assert json.loads(refusal)["payload"]["status"] == "401"
        closing = await session.outgoing()
        assert isinstance(closing, Close)
        assert closing.code == 1008
    finally:
        await session.aclose()
        await hub.aclose()
