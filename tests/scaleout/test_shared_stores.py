"""Stacks with different data directories, sharing one CouchDB and one S3 store: what one
writes, the other serves, byte for byte; a name is created once however many race for it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

import httpx

from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID
from tests.scaleout.conftest import Stack

RACERS = 50


async def test_a_webdav_upload_through_one_stack_downloads_identical_through_the_other(
    stacks: list[Stack], dav_password: str, fleet_instance: Instance
) -> None:
    first, second = stacks
    auth = httpx.BasicAuth("user", dav_password)
    data = os.urandom(9 * 1024 * 1024 + 321)  # past one multipart part
    put = await first.http.put("/dav/files/shared.bin", content=data, auth=auth)
    assert put.status_code == 201, put.text
    got = await second.http.get("/dav/files/shared.bin", auth=auth)
    assert got.status_code == 200
    assert got.content == data
    ranged = await second.http.get(
        "/dav/files/shared.bin", auth=auth, headers={"Range": "bytes=1000-1999"}
    )
    assert ranged.status_code == 206
    assert ranged.content == data[1000:2000]
    # Neither stack wrote file bytes to its own data directory.
    for stack in stacks:
        assert not any(path.is_file() for path in (stack.data_dir / "files").rglob("*"))
    assert await second.services.vfs.blobs.blob_count(fleet_instance.domain) == 1


async def _race(stacks: list[Stack], token: str, name: str) -> list[int]:
    async def create(index: int) -> int:
        stack = stacks[index % len(stacks)]
        response = await stack.http.post(
            f"/files/{ROOT_DIR_ID}",
            params={"Type": "file", "Name": name},
            content=f"racer {index}".encode(),
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.status_code

    return list(await asyncio.gather(*(create(index) for index in range(RACERS))))


async def _files_named(stack: Stack, instance: Instance, name: str) -> list[str]:
    root = await stack.services.vfs.root(instance)
    stack.services.vfs.forget_cached(instance)
    return [
        child.id
        for child in await stack.services.vfs.list_dir(instance, root)
        if child.name == name
    ]


async def test_fifty_concurrent_creations_of_one_name_on_one_stack_make_one_file(
    stacks: list[Stack], fleet_instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    token = await issue_token(fleet_instance, "io.cozy.files")
    statuses = await _race(stacks[:1], token, "one-stack.txt")
    assert sorted(statuses) == [201] + [409] * (RACERS - 1)
    assert len(await _files_named(stacks[0], fleet_instance, "one-stack.txt")) == 1
    # The losers' bytes are gone too: one blob, no temporaries.
    assert await stacks[0].services.vfs.blobs.blob_count(fleet_instance.domain) == 1
    assert await stacks[0].services.vfs.blobs.temporaries() == []


async def test_fifty_concurrent_creations_of_one_name_on_two_stacks_make_one_file(
    stacks: list[Stack], fleet_instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> None:
    token = await issue_token(fleet_instance, "io.cozy.files")
    statuses = await _race(stacks, token, "two-stacks.txt")
    assert sorted(statuses) == [201] + [409] * (RACERS - 1)
    for stack in stacks:
        assert len(await _files_named(stack, fleet_instance, "two-stacks.txt")) == 1
    assert await stacks[1].services.vfs.blobs.blob_count(fleet_instance.domain) == 1
