"""The access log records every token request; only the owner (or a grant on
io.roost.access) can read it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from roost.instances import Instance
from roost.services import Services
from tests.conftest import PASSPHRASE


async def test_token_requests_are_logged_and_owner_reads_them(
    client: httpx.AsyncClient,
    instance: Instance,
    services: Services,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    token = await issue_token(instance, "io.cozy.contacts:GET,POST")
    created = await client.post(
        "/data/io.cozy.contacts/",
        json={"fullname": "Logged"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201
    await services.access_log.flush()

    assert (await client.get("/settings/access-log")).status_code == 401
    denied = await client.get("/settings/access-log", headers={"Authorization": f"Bearer {token}"})
    assert denied.status_code == 403

    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    answer = await client.get("/settings/access-log")
    assert answer.status_code == 200
    entries = answer.json()["entries"]
    post = [e for e in entries if e["verb"] == "POST" and e["doctype"] == "io.cozy.contacts"]
    assert len(post) == 1
    assert post[0]["principal"] == "token:test"
    assert post[0]["status"] == 201
    assert post[0]["bytes_out"] > 0
    # Reading the log was itself done as the owner: not logged.
    assert all(e["path"] != "/settings/access-log" or e["status"] == 403 for e in entries)


async def test_owner_requests_are_not_logged(
    client: httpx.AsyncClient, instance: Instance, services: Services
) -> None:
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    await client.post("/data/io.cozy.contacts/", json={"fullname": "Mine"})
    await services.access_log.flush()
    entries = (await client.get("/settings/access-log")).json()["entries"]
    assert entries == []
