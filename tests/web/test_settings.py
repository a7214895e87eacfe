"""The owner manages app passwords from /settings (JSON and HTML form); nobody else can."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx

from roost.instances import Instance
from tests.conftest import PASSPHRASE


async def test_owner_creates_lists_and_revokes_an_app_password(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    created = await client.post(
        "/settings/app-passwords",
        json={"label": "laptop", "scope": "io.cozy.contacts:GET", "ttl": "1d"},
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    listed = (await client.get("/settings/app-passwords")).json()
    assert [(p["label"], p["scope"]) for p in listed] == [("laptop", "io.cozy.contacts:GET")]
    assert listed[0]["expires_at"] is not None
    assert "secret" not in listed[0]

    as_password = httpx.BasicAuth("anyone", secret)
    fresh = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with fresh:
        ok = await fresh.get("/data/io.cozy.contacts/_all_docs", auth=as_password)
        assert ok.status_code == 200
        write = await fresh.post("/data/io.cozy.contacts/", json={}, auth=as_password)
        assert write.status_code == 403
        assert (await fresh.get("/settings/app-passwords", auth=as_password)).status_code == 403

        revoked = await client.delete(f"/settings/app-passwords/{listed[0]['id']}")
        assert revoked.status_code == 200
        after = await fresh.get("/data/io.cozy.contacts/_all_docs", auth=as_password)
        assert after.status_code == 401


async def test_settings_page_form_needs_csrf_and_shows_the_secret_once(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    assert (await client.get("/settings")).status_code == 303
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    page = await client.get("/settings")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    refused = await client.post(
        "/settings/app-passwords", data={"label": "x", "csrf_token": "forged"}
    )
    assert refused.status_code == 403
    made = await client.post(
        "/settings/app-passwords",
        data={"label": "phone", "scope": "io.cozy.files:GET", "csrf_token": token.group(1)},
    )
    assert made.status_code == 200
    assert "roost-ap-" in made.text
    again = await client.get("/settings")
    assert "phone" in again.text and "roost-ap-" not in again.text


async def test_bad_scope_is_a_clear_400(
    client: httpx.AsyncClient, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    bad = await client.post("/settings/app-passwords", json={"label": "x", "scope": "io.cozy.*"})
    assert bad.status_code == 400
    assert "scope" in bad.json()["reason"]
