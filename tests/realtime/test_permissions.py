"""Each event is checked against the subscriber's permissions before it is sent; a socket
whose credentials stop being good is closed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID, PermissionSet, verify_token
from roost.services import Services
from roost.sessions import COOKIE_NAME
from tests.conftest import LiveServer
from tests.realtime.support import WAIT, RealtimeClient, realtime_socket

CONTACTS = "io.cozy.contacts"
FILES = "io.cozy.files"


async def _mkdir(http: httpx.AsyncClient, name: str, parent: str = ROOT_DIR_ID) -> str:
    response = await http.post(f"/files/{parent}", params={"Type": "directory", "Name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def _upload(http: httpx.AsyncClient, name: str, parent: str) -> str:
    response = await http.post(
        f"/files/{parent}",
        params={"Type": "file", "Name": name},
        content=b"bytes of " + name.encode(),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def test_a_folder_grant_receives_events_of_that_folder_only(
    live_server: LiveServer,
    instance: Instance,
    live_http: httpx.AsyncClient,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    shared = await _mkdir(live_http, "Shared")
    inner = await _mkdir(live_http, "Inner", shared)
    private = await _mkdir(live_http, "Private")
    token = await issue_token(instance, f"{FILES}:GET:{shared}")
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(token)
        await rt.subscribe(FILES)

        secret = await _upload(live_http, "diary.txt", private)
        visible = await _upload(live_http, "holiday.txt", shared)
        frame = await rt.event("CREATED", visible)
        assert frame["payload"]["doc"]["name"] == "holiday.txt"
        deep = await _upload(live_http, "deep.txt", inner)
        await rt.event("CREATED", deep)  # a grant on a folder covers its subtree

        # Moving a file out of the folder: the subscriber sees it leave, not where it went.
        moved = await live_http.patch(
            f"/files/{visible}",
            json={"data": {"type": FILES, "id": visible, "attributes": {"dir_id": private}}},
        )
        assert moved.status_code == 200, moved.text
        frame = await rt.event("DELETED", visible)
        assert frame["payload"]["doc"] == {
            "_id": visible,
            "_rev": frame["payload"]["doc"]["_rev"],
            "_deleted": True,
        }
        # Writes in the private folder after the move, then one in the shared folder: the
        # feed is read in order, so once the last arrives the others were filtered out.
        renamed = await live_http.patch(
            f"/files/{secret}",
            json={"data": {"type": FILES, "id": secret, "attributes": {"name": "diary2.txt"}}},
        )
        assert renamed.status_code == 200, renamed.text
        last = await _upload(live_http, "last.txt", shared)
        await rt.event("CREATED", last)
        frames_about_private = [
            f
            for f in rt.seen
            if f.get("event") != "error"
            and (
                f["payload"]["id"] in (secret, private)
                or f["payload"]["doc"].get("dir_id") == private
            )
        ]
        assert frames_about_private == []


async def test_a_selector_grant_sees_only_matching_documents(
    live_server: LiveServer,
    instance: Instance,
    live_http: httpx.AsyncClient,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    token = await issue_token(instance, f"{CONTACTS}:GET:friends:group")
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(token)
        await rt.subscribe(CONTACTS)
        work = (
            await live_http.post(f"/data/{CONTACTS}/", json={"fullname": "Boss", "group": "work"})
        ).json()
        friend = (
            await live_http.post(f"/data/{CONTACTS}/", json={"fullname": "Pal", "group": "friends"})
        ).json()
        frame = await rt.event("CREATED", friend["id"])
        assert frame["payload"]["doc"]["fullname"] == "Pal"
        assert work["id"] not in rt.ids_seen()

        # A friend who becomes a colleague leaves the grant: a bare DELETED, not the new doc.
        moved = await live_http.put(
            f"/data/{CONTACTS}/{friend['id']}",
            json={"_id": friend["id"], "_rev": friend["rev"], "fullname": "Pal", "group": "work"},
        )
        assert moved.status_code == 200, moved.text
        frame = await rt.event("DELETED", friend["id"])
        assert "group" not in frame["payload"]["doc"]


async def test_subscribe_to_an_ungranted_doctype_is_refused(
    live_server: LiveServer,
    instance: Instance,
    live_http: httpx.AsyncClient,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    token = await issue_token(instance, f"{CONTACTS}:GET")
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(token)
        await rt.send("SUBSCRIBE", {"type": "org.example.todos"})
        refusal = await rt.next(lambda f: f.get("event") == "error")
        assert refusal["payload"]["status"] == "403"
        assert "org.example.todos" in refusal["payload"]["title"]
        await rt.send("SUBSCRIBE", {"type": "io.cozy.permissions"})  # reserved on /data
        refusal = await rt.next(lambda f: f.get("event") == "error")
        assert refusal["payload"]["status"] == "403"

        # Nothing was subscribed: a todo written now never arrives, a contact does.
        await rt.subscribe(CONTACTS)
        todo = await live_http.post("/data/org.example.todos/", json={"label": "not for you"})
        assert todo.status_code == 201, todo.text
        contact = (await live_http.post(f"/data/{CONTACTS}/", json={"fullname": "C"})).json()
        await rt.event("CREATED", contact["id"])
        assert todo.json()["id"] not in rt.ids_seen()


async def test_messages_before_auth_and_bad_auth_close_the_socket(
    live_server: LiveServer, instance: Instance
) -> None:
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.send("SUBSCRIBE", {"type": CONTACTS})
        frame = await rt.next(lambda f: f.get("event") == "error")
        assert frame["payload"]["status"] == "401"
        await _closed(rt, 1008)
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth("not-a-token")
        frame = await rt.next(lambda f: f.get("event") == "error")
        assert frame["payload"]["status"] == "401"
        await _closed(rt, 1008)


async def test_a_foreign_page_cannot_ride_on_the_owner_session(
    live_server: LiveServer, instance: Instance, services: Services
) -> None:
    session = await services.sessions.open(instance, "realtime test")
    headers = {"Cookie": f"{COOKIE_NAME}={session.id}", "Origin": "https://evil.example"}
    async with realtime_socket(live_server.port, instance.domain, headers=headers) as rt:
        await rt.auth("")
        frame = await rt.next(lambda f: f.get("event") == "error")
        assert frame["payload"]["status"] == "401"
        await _closed(rt, 1008)


async def test_subscriptions_per_socket_are_capped(
    live_server: LiveServer, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    token = await issue_token(instance, f"{CONTACTS}:GET")
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(token)
        for n in range(100):
            await rt.send("SUBSCRIBE", {"type": CONTACTS, "id": f"c{n}"})
        await rt.send("SUBSCRIBE", {"type": CONTACTS, "id": "one-too-many"})
        frame = await rt.next(lambda f: f.get("event") == "error")
        assert frame["payload"]["status"] == "429"
        assert frame["payload"]["source"] == CONTACTS


async def test_doctypes_per_socket_are_capped(
    live_server: LiveServer, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    token = await issue_token(instance, "org.example.capped.*")
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(token)
        for n in range(20):
            await rt.send("SUBSCRIBE", {"type": f"org.example.capped.d{n}"})
        await rt.send("SUBSCRIBE", {"type": "org.example.capped.d20"})
        frame = await rt.next(lambda f: f.get("event") == "error")
        assert frame["payload"]["status"] == "429"
        assert frame["payload"]["source"] == "org.example.capped.d20"


async def _closed(rt: RealtimeClient, code: int) -> None:
    """Wait (generously) for the server to close the socket; check its close code."""

    async def drain() -> None:
        while True:
            rt.seen.append(json.loads(await rt.ws.recv()))

    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(drain(), WAIT)
    assert rt.ws.close_code == code


@pytest.mark.parametrize("how", ["permission-deleted", "stamp-changed", "app-password-revoked"])
async def test_revoked_credentials_close_the_socket(
    how: str,
    live_server: LiveServer,
    instance: Instance,
    services: Services,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    if how == "app-password-revoked":
        password, secret = await services.app_passwords.create(
            instance, "phone", PermissionSet.from_inline(CONTACTS)
        )
    else:
        secret = await issue_token(instance, CONTACTS)
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(secret)
        await rt.subscribe(CONTACTS)
        if how == "permission-deleted":
            claims = verify_token(
                secret,
                secret=instance.secret,
                issuer=instance.domain,
                stamp=instance.stamp,
                audiences=("cli",),
            )
            assert claims.permission_id is not None
            await services.permission_docs.delete(instance, claims.permission_id)
        elif how == "stamp-changed":
            await services.instances.revoke_all_tokens(instance)
        else:
            await services.app_passwords.revoke(instance, password.id)
        # Closed once the live server's caches (cache_ttl_seconds) let the change through.
        await _closed(rt, 1008)
        closing = [f for f in rt.seen if f.get("event") == "error"]
        assert closing[-1]["payload"]["status"] == "401"


async def test_malformed_messages_are_answered_and_the_socket_stays_open(
    live_server: LiveServer,
    instance: Instance,
    live_http: httpx.AsyncClient,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    token = await issue_token(instance, f"{CONTACTS}:GET")
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(token)
        cases = [
            ("not json", "400"),
            (json.dumps({"method": "SUBSCRIBE", "payload": {"type": "x" * 2000}}), "400"),
            (json.dumps([1, 2]), "400"),
            (json.dumps({"method": "PUBLISH", "payload": {}}), "405"),
            (json.dumps({"method": "SUBSCRIBE"}), "404"),
            (json.dumps({"method": "SUBSCRIBE", "payload": {"type": CONTACTS, "id": 7}}), "400"),
            (json.dumps({"method": "AUTH", "payload": token}), "400"),
            (json.dumps({"method": "SUBSCRIBE", "payload": {"type": "Not A Doctype"}}), "403"),
        ]
        for text, status in cases:
            await rt.ws.send(text)
            frame = await rt.next(lambda f: f.get("event") == "error")
            assert frame["payload"]["status"] == status, (text[:60], frame)
        # Still open and working.
        await rt.subscribe(CONTACTS)
        created = (await live_http.post(f"/data/{CONTACTS}/", json={"fullname": "Ok"})).json()
        await rt.event("CREATED", created["id"])
