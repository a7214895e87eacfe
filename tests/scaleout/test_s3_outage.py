"""The S3 store goes away in the middle of an upload: the client gets a 503, no document and
no object remain, and once the store is back an upload works.

A TCP proxy (the one the CouchDB outage tests use) sits between a dedicated stack and the
run's SeaweedFS, so S3 can be cut off without disturbing the other tests."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from roost.app import create_app
from roost.config import Config
from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID
from roost.services import Services
from tests.seaweed import SeaweedS3
from tests.web.test_store_outage import TcpProxy

MiB = 1024 * 1024


@dataclasses.dataclass
class OutageRig:
    proxy: TcpProxy
    services: Services
    http: httpx.AsyncClient
    instance: Instance


@pytest.fixture
async def rig(
    fleet_config: Config,
    seaweed: SeaweedS3,
    new_instance: Callable[..., Awaitable[Instance]],
    issue_token: Callable[..., Awaitable[str]],
    tmp_path: Path,
) -> AsyncIterator[OutageRig]:
    port = int(seaweed.endpoint.rsplit(":", 1)[1])
    proxy = TcpProxy("127.0.0.1", port)
    await proxy.start()
    config = dataclasses.replace(
        fleet_config,
        data_dir=tmp_path,
        s3_endpoint=f"http://127.0.0.1:{proxy.port}",
        s3_key_prefix=f"{fleet_config.s3_key_prefix}outage/",
    )
    services = Services.build(config, config.couchdb_url or "")
    instance = await new_instance("s3outage")
    token = await issue_token(instance, "io.cozy.files")
    transport = httpx.ASGITransport(app=create_app(config, services=services))
    try:
        async with httpx.AsyncClient(
            transport=transport,
            base_url=f"http://{instance.domain}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ) as http:
            yield OutageRig(proxy, services, http, instance)
    finally:
        await proxy.stop()
        await services.aclose()


async def _upload(rig: OutageRig, name: str, body: bytes | AsyncIterator[bytes]) -> httpx.Response:
    return await rig.http.post(
        f"/files/{ROOT_DIR_ID}", params={"Type": "file", "Name": name}, content=body
    )


async def test_an_s3_outage_during_an_upload_answers_503_and_leaves_nothing(
    rig: OutageRig,
) -> None:
    data = os.urandom(24 * MiB)

    async def body_cut_midway() -> AsyncIterator[bytes]:
        for start in range(0, len(data), MiB):
            if start == 12 * MiB:
                # One multipart part has gone to S3; now the store disappears.
                await rig.proxy.stop()
                await asyncio.sleep(0.2)
            yield data[start : start + MiB]

    response = await _upload(rig, "big.bin", body_cut_midway())
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "store_unavailable"

    await rig.proxy.start()
    vfs = rig.services.vfs
    vfs.forget_cached(rig.instance)
    root = await vfs.root(rig.instance)
    assert [c.name for c in await vfs.list_dir(rig.instance, root) if c.name == "big.bin"] == []
    assert await vfs.blobs.blob_count(rig.instance.domain) == 0
    assert await vfs.blobs.temporaries() == []

    again = await _upload(rig, "big.bin", data)
    assert again.status_code == 201, again.text
    file_id = again.json()["data"]["id"]
    downloaded = await rig.http.get(f"/files/download/{file_id}")
    assert downloaded.status_code == 200
    assert downloaded.content == data


async def test_reads_during_an_s3_outage_answer_503(rig: OutageRig) -> None:
    created = await _upload(rig, "small.txt", b"kept safe")
    assert created.status_code == 201, created.text
    file_id = created.json()["data"]["id"]
    await rig.proxy.stop()
    try:
        response = await rig.http.get(f"/files/download/{file_id}")
        assert response.status_code == 503
    finally:
        await rig.proxy.start()
    assert (await rig.http.get(f"/files/download/{file_id}")).content == b"kept safe"
