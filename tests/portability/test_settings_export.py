"""The owner starts an export from /settings, waits for it, downloads a valid archive."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from roost.instances import Instance
from roost.portability.archive import ArchiveReader
from roost.portability.errors import ExportNotFound
from roost.portability.exports import ExportJobs
from roost.services import Services
from tests.conftest import PASSPHRASE
from tests.portability.support import populate


async def _ready(client: httpx.AsyncClient, export_id: str) -> dict[str, object]:
    for _ in range(600):
        listed = (await client.get("/settings/exports")).json()
        state = next(e for e in listed if e["id"] == export_id)
        if state["state"] != "running":
            return dict(state)
        await asyncio.sleep(0.05)
    raise AssertionError("the export never finished")


async def test_owner_exports_from_settings_and_downloads_a_valid_archive(
    client: httpx.AsyncClient, instance: Instance, services: Services, tmp_path: Path
) -> None:
    await populate(services, instance, "web")
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    started = await client.post("/settings/exports", json={})
    assert started.status_code == 202, started.text
    export_id = started.json()["id"]
    assert started.json()["state"] == "running"
    busy = await client.post("/settings/exports", json={})
    assert busy.status_code == 409  # one export at a time

    state = await _ready(client, export_id)
    assert state["state"] == "ready", state
    assert state["download"] == f"/settings/exports/{export_id}"
    download = await client.get(f"/settings/exports/{export_id}")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    saved = tmp_path / "download.tar.gz"
    await asyncio.to_thread(saved.write_bytes, download.content)
    reader = ArchiveReader(saved)
    names = [member.name for member in reader]
    assert reader.manifest is not None and reader.manifest.domain == instance.domain
    assert "documents/io-cozy-contacts.ndjson" in names

    page = await client.get("/settings")
    assert f'href="/settings/exports/{export_id}"' in page.text
    assert (await client.get("/settings/exports/20000101T000000Z-00000000")).status_code == 404
    assert (await client.get("/settings/exports/..%2F..%2Fetc")).status_code == 404


async def test_the_settings_form_starts_an_export_with_csrf(
    client: httpx.AsyncClient, instance: Instance
) -> None:
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    page = await client.get("/settings")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    forged = await client.post("/settings/exports", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert (await client.get("/settings/exports")).json() == []
    made = await client.post("/settings/exports", data={"csrf_token": token.group(1)})
    assert made.status_code == 303
    [state] = (await client.get("/settings/exports")).json()
    assert (await _ready(client, str(state["id"])))["state"] == "ready"


async def test_a_token_cannot_export_or_download(
    client: httpx.AsyncClient,
    instance: Instance,
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    await client.post("/auth/login", json={"passphrase": PASSPHRASE})
    started = await client.post("/settings/exports", json={})
    export_id = started.json()["id"]
    await _ready(client, export_id)
    token = await issue_token(instance, "io.cozy.files io.cozy.contacts")
    headers = {"Authorization": f"Bearer {token}"}
    stranger = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with stranger:
        assert (
            await stranger.post("/settings/exports", json={}, headers=headers)
        ).status_code == 403
        assert (await stranger.get("/settings/exports", headers=headers)).status_code == 403
        download = await stranger.get(f"/settings/exports/{export_id}", headers=headers)
        assert download.status_code == 403
        anonymous = await stranger.get(f"/settings/exports/{export_id}")
        assert anonymous.status_code in (401, 403)
    assert len((await client.get("/settings/exports")).json()) == 1  # nothing started


async def test_a_new_instance_under_the_same_domain_sees_no_old_exports(
    services: Services, new_instance: Callable[..., Awaitable[Instance]], tmp_path: Path
) -> None:
    jobs = ExportJobs(services.couch, services.vfs, tmp_path / "exports")
    first = await new_instance("again")
    await jobs.start(first)
    await jobs.wait()
    [state] = await jobs.states(first)
    assert state.state == "ready"
    await services.instances.remove(first.domain)
    second = await services.instances.create(first.domain, PASSPHRASE)
    assert await jobs.states(second) == []
    with pytest.raises(ExportNotFound):
        jobs.path_of(second, state.id)
