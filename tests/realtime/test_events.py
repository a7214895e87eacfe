"""Events reach subscribers from every write path, and from other processes, through the
store's changes feed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from roost.couch import CouchClient
from roost.instances import Instance
from roost.permissions import PermissionSet
from roost.services import Services
from roost.sessions import COOKIE_NAME
from tests.conftest import LiveServer
from tests.realtime.support import realtime_socket

CONTACTS = "io.cozy.contacts"


async def test_contact_created_updated_deleted_through_data(
    live_server: LiveServer,
    instance: Instance,
    live_http: httpx.AsyncClient,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    token = await issue_token(instance, f"{CONTACTS}:GET")
    async with realtime_socket(live_server.port, instance.domain) as rt:
        assert rt.ws.subprotocol == "io.cozy.websocket"
        await rt.auth(token)
        await rt.subscribe(CONTACTS)

        created = await live_http.post(f"/data/{CONTACTS}/", json={"fullname": "Ada"})
        assert created.status_code == 201, created.text
        doc_id, rev = created.json()["id"], created.json()["rev"]
        frame = await rt.event("CREATED", doc_id)
        assert frame["payload"]["type"] == CONTACTS
        assert frame["payload"]["doc"]["fullname"] == "Ada"
        assert frame["payload"]["doc"]["_rev"] == rev

        updated = await live_http.put(
            f"/data/{CONTACTS}/{doc_id}", json={"_id": doc_id, "_rev": rev, "fullname": "Ada L."}
        )
        assert updated.status_code == 200, updated.text
        frame = await rt.event("UPDATED", doc_id)
        assert frame["payload"]["doc"]["fullname"] == "Ada L."

        deleted = await live_http.delete(
            f"/data/{CONTACTS}/{doc_id}", params={"rev": updated.json()["rev"]}
        )
        assert deleted.status_code == 200, deleted.text
        frame = await rt.event("DELETED", doc_id)
        assert frame["payload"]["doc"]["_deleted"] is True
        assert frame["payload"]["doc"]["_rev"] == deleted.json()["rev"]


async def test_one_id_subscription_gets_that_document_only(
    live_server: LiveServer,
    instance: Instance,
    live_http: httpx.AsyncClient,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    first = (await live_http.post(f"/data/{CONTACTS}/", json={"fullname": "One"})).json()
    token = await issue_token(instance, f"{CONTACTS}:GET")
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(token)
        await rt.subscribe(CONTACTS, first["id"])
        other = (await live_http.post(f"/data/{CONTACTS}/", json={"fullname": "Two"})).json()
        changed = await live_http.put(
            f"/data/{CONTACTS}/{first['id']}",
            json={"_id": first["id"], "_rev": first["rev"], "fullname": "One!"},
        )
        assert changed.status_code == 200
        await rt.event("UPDATED", first["id"])
        assert other["id"] not in rt.ids_seen()


async def test_webdav_put_is_a_files_created_event(
    live_server: LiveServer, instance: Instance, services: Services
) -> None:
    session = await services.sessions.open(instance, "realtime test")
    _, password = await services.app_passwords.create(
        instance, "dav", PermissionSet.from_inline("io.cozy.files")
    )
    cookie = {"Cookie": f"{COOKIE_NAME}={session.id}"}
    async with realtime_socket(live_server.port, instance.domain, headers=cookie) as rt:
        await rt.auth("")  # the owner's page: the session cookie of the handshake
        await rt.subscribe("io.cozy.files")
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{live_server.port}",
            headers={"Host": instance.domain},
            auth=("laptop", password),
        ) as dav:
            put = await dav.put("/dav/files/from-the-laptop.txt", content=b"hello from davfs2")
            assert put.status_code == 201, put.text
        frame = await rt.next(
            lambda f: (
                f.get("event") == "CREATED"
                and f["payload"]["doc"].get("name") == "from-the-laptop.txt"
            )
        )
        assert frame["payload"]["type"] == "io.cozy.files"
        assert frame["payload"]["doc"]["type"] == "file"
        assert frame["payload"]["doc"]["size"] == str(len(b"hello from davfs2"))


async def test_writes_of_another_process_and_straight_into_couchdb_arrive(
    live_server: LiveServer,
    instance: Instance,
    client: httpx.AsyncClient,
    issue_token: Callable[..., Awaitable[str]],
    services: Services,
) -> None:
    """`client` is a second Roost app (its own services, hub and caches) on the same store;
    the raw write is what any other CouchDB client would do."""
    token = await issue_token(instance, CONTACTS)
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(token)
        await rt.subscribe(CONTACTS)

        other = await client.post(
            f"/data/{CONTACTS}/",
            json={"fullname": "From the other process"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert other.status_code == 201, other.text
        frame = await rt.event("CREATED", other.json()["id"])
        assert frame["payload"]["doc"]["fullname"] == "From the other process"

        raw = CouchClient(services.couch.base_url)
        try:
            doc = {"_id": "written-by-couch", "fullname": "Raw"}
            rev = await raw.put_doc(instance.db(CONTACTS), doc)
        finally:
            await raw.aclose()
        frame = await rt.event("CREATED", "written-by-couch")
        assert frame["payload"]["doc"]["_rev"] == rev


async def test_a_database_created_after_the_subscription_is_followed(
    live_server: LiveServer,
    instance: Instance,
    live_http: httpx.AsyncClient,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    doctype = "io.cozy.notes.misc"  # no document yet: its database does not exist
    token = await issue_token(instance, doctype)
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(token)
        await rt.subscribe(doctype)
        created = await live_http.post(f"/data/{doctype}/", json={"text": "first ever"})
        assert created.status_code == 201, created.text
        await rt.event("CREATED", created.json()["id"])


async def test_unsubscribe_stops_the_events(
    live_server: LiveServer,
    instance: Instance,
    live_http: httpx.AsyncClient,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    token = await issue_token(instance, f"{CONTACTS} org.example.todos")
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(token)
        await rt.subscribe(CONTACTS)
        await rt.subscribe("org.example.todos")
        await rt.send("UNSUBSCRIBE", {"type": CONTACTS})
        await rt.barrier()
        contact = (await live_http.post(f"/data/{CONTACTS}/", json={"fullname": "X"})).json()
        operation = await live_http.post("/data/org.example.todos/", json={"label": "Bread"})
        assert operation.status_code == 201, operation.text
        await rt.event("CREATED", operation.json()["id"])
        # The socket left the contacts follower at UNSUBSCRIBE: nothing of it can come.
        await rt.barrier()
        assert contact["id"] not in rt.ids_seen()


async def test_replicated_writes_are_events(
    live_server: LiveServer,
    instance: Instance,
    live_http: httpx.AsyncClient,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    token = await issue_token(instance, f"{CONTACTS}:GET")
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(token)
        await rt.subscribe(CONTACTS)
        pushed = await live_http.post(
            f"/data/{CONTACTS}/_bulk_docs",
            json={
                "new_edits": False,
                "docs": [{"_id": "from-a-phone", "_rev": "1-abc", "fullname": "Replicated"}],
            },
        )
        assert pushed.status_code == 201, pushed.text
        frame = await rt.event("CREATED", "from-a-phone")
        assert frame["payload"]["doc"]["_rev"] == "1-abc"


async def test_trashing_a_file_is_an_update_and_destroying_it_a_deletion(
    live_server: LiveServer,
    instance: Instance,
    live_http: httpx.AsyncClient,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    token = await issue_token(instance, "io.cozy.files:GET")
    async with realtime_socket(live_server.port, instance.domain) as rt:
        await rt.auth(token)
        await rt.subscribe("io.cozy.files")
        uploaded = await live_http.post(
            "/files/io.cozy.files.root-dir",
            params={"Type": "file", "Name": "old-draft.txt"},
            content=b"draft",
        )
        assert uploaded.status_code == 201, uploaded.text
        file_id = uploaded.json()["data"]["id"]
        await rt.event("CREATED", file_id)
        trashed = await live_http.delete(f"/files/{file_id}")
        assert trashed.status_code == 200, trashed.text
        frame = await rt.event("UPDATED", file_id)
        assert frame["payload"]["doc"]["trashed"] is True
        destroyed = await live_http.delete(f"/files/trash/{file_id}")
        assert destroyed.status_code in (200, 204), destroyed.text
        frame = await rt.event("DELETED", file_id)
        assert frame["payload"]["doc"]["_deleted"] is True
