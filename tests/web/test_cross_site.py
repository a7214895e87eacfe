"""Unsafe requests from another origin (an app's `{slug}.{instance}` origin included) never
ride on the owner's session cookie."""

from __future__ import annotations

import httpx
import pytest

from roost.instances import Instance
from tests.conftest import PASSPHRASE

NEW_CONTACT = {"fullname": "Planted"}


async def _count_contacts(client: httpx.AsyncClient) -> int:
    listing = await client.get("/data/io.cozy.contacts/_all_docs")
    return len(listing.json()["rows"]) if listing.status_code == 200 else 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://bank-connector.{domain}"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
    ids=["other-site", "app-origin", "null-origin", "fetch-same-site", "fetch-cross-site"],
)
async def test_foreign_unsafe_requests_are_anonymous(
    client: httpx.AsyncClient, instance: Instance, headers: dict[str, str]
) -> None:
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    before = await _count_contacts(client)
    sent = {k: v.format(domain=instance.domain) for k, v in headers.items()}
    answer = await client.post("/data/io.cozy.contacts/", json=NEW_CONTACT, headers=sent)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    assert await _count_contacts(client) == before


async def test_same_origin_and_safe_requests_keep_the_session(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    same = {"Origin": f"http://{instance.domain}", "Sec-Fetch-Site": "same-origin"}
    created = await client.post("/data/io.cozy.contacts/", json=NEW_CONTACT, headers=same)
    assert created.status_code == 201
    # A plain GET from elsewhere (a link) still sees the session: reads are not state changes.
    read = await client.get(
        f"/data/io.cozy.contacts/{created.json()['id']}", headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert read.status_code == 200
