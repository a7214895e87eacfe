"""VFS fixtures: the process's VFS service and helpers to stage bytes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from roost.instances import Instance
from roost.services import Services
from roost.vfs import VFS, FileContent, FileDoc


@pytest.fixture
def vfs(services: Services) -> VFS:
    return services.vfs


async def read_content(content: FileContent) -> bytes:
    """The bytes of a file or version, read through the blob store (local or S3)."""
    return b"".join([chunk async for chunk in content.chunks()])


async def chunks_of(data: bytes, size: int = 7000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture
def upload(vfs: VFS) -> Callable[..., Awaitable[FileDoc]]:
    async def put(instance: Instance, parent: FileDoc, name: str, data: bytes) -> FileDoc:
        content = await vfs.stage(instance, chunks_of(data), size=len(data))
        async with content:
            return await vfs.create_file(instance, parent, name, content)

    return put
