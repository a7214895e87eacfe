"""Cached listings: kept through this process's writes, never trusted past the cache's
ttl once another process changed the folder (its subtree stamp says so)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from roost.config import Config
from roost.instances import Instance
from roost.services import Services
from roost.vfs import VFS, FileDoc
from tests.store_requests import StoreRequests
from tests.vfs.conftest import chunks_of


@pytest.fixture
async def other(config: Config) -> AsyncIterator[VFS]:
    """Another stack process's VFS on the same store (its own caches)."""
    services = Services.build(config, config.couchdb_url or "")
    yield services.vfs
    await services.aclose()


async def _names(vfs: VFS, instance: Instance, folder: FileDoc) -> list[str]:
    return [doc.name for doc in await vfs.list_dir(instance, folder)]


async def _put(vfs: VFS, instance: Instance, folder_id: str, name: str) -> FileDoc:
    folder = await vfs.get(instance, folder_id)
    content = await vfs.stage(instance, chunks_of(name.encode()), size=len(name))
    async with content:
        return await vfs.create_file(instance, folder, name, content)


async def _past_ttl(vfs: VFS) -> None:
    await asyncio.sleep(vfs.cache.ttl + 0.1)


async def test_this_process_s_writes_show_at_once(vfs: VFS, instance: Instance) -> None:
    root = await vfs.root(instance)
    folder = await vfs.create_dir(instance, root, "Kept")
    other_folder = await vfs.create_dir(instance, root, "Elsewhere")
    assert await _names(vfs, instance, folder) == []
    await asyncio.gather(*(_put(vfs, instance, folder.id, f"n{n}.txt") for n in range(6)))
    assert await _names(vfs, instance, folder) == [f"n{n}.txt" for n in range(6)]
    gone = (await vfs.list_dir(instance, folder))[0]
    await vfs.trash(instance, gone)
    moved = (await vfs.list_dir(instance, folder))[0]
    await vfs.move(instance, moved, parent=await vfs.get(instance, other_folder.id))
    renamed = (await vfs.list_dir(instance, folder))[0]
    await vfs.move(instance, renamed, name="z-renamed.txt")
    expected = ["n3.txt", "n4.txt", "n5.txt", "z-renamed.txt"]
    assert await _names(vfs, instance, folder) == expected
    assert await _names(vfs, instance, other_folder) == ["n1.txt"]
    # What the store holds agrees (read again, no cache).
    stored = [d.name for d in await vfs.list_dir(instance, folder, fresh=True)]
    assert stored == expected
    await _past_ttl(vfs)
    assert await _names(vfs, instance, folder) == expected


async def test_another_process_s_writes_show_past_the_ttl(
    vfs: VFS, other: VFS, instance: Instance
) -> None:
    root = await vfs.root(instance)
    folder = await vfs.create_dir(instance, root, "Shared listing")
    await _put(vfs, instance, folder.id, "mine-1.txt")
    assert await _names(vfs, instance, folder) == ["mine-1.txt"]

    await _put(other, instance, folder.id, "theirs.txt")
    await _past_ttl(vfs)
    assert await _names(vfs, instance, folder) == ["mine-1.txt", "theirs.txt"]

    # Their write lands between two of ours: ours carry on, and theirs still shows.
    await _put(other, instance, folder.id, "theirs-2.txt")
    await _put(vfs, instance, folder.id, "mine-2.txt")
    await _past_ttl(vfs)
    expected = ["mine-1.txt", "mine-2.txt", "theirs-2.txt", "theirs.txt"]
    assert await _names(vfs, instance, folder) == expected

    # A deletion through the other process, deep below or right in the folder.
    theirs = await other.lookup(instance, "/Shared listing/theirs.txt")
    await other.trash(instance, theirs)
    await _past_ttl(vfs)
    assert await _names(vfs, instance, folder) == ["mine-1.txt", "mine-2.txt", "theirs-2.txt"]


async def test_a_folder_made_here_and_filled_elsewhere(
    vfs: VFS, other: VFS, instance: Instance
) -> None:
    """A new folder's listing is known empty without a read; another process's first
    write into it creates its stamp, which that empty listing does not go with."""
    root = await vfs.root(instance)
    folder = await vfs.create_dir(instance, root, "Fresh")
    await _put(other, instance, folder.id, "first.txt")
    await _past_ttl(vfs)
    assert await _names(vfs, instance, folder) == ["first.txt"]


async def test_a_download_reads_only_the_folder_s_stamp(vfs: VFS, instance: Instance) -> None:
    root = await vfs.root(instance)
    folder = await vfs.create_dir(instance, root, "Downloads")
    written = {name: await _put(vfs, instance, folder.id, name) for name in ("a.txt", "b.txt")}
    requests = StoreRequests(vfs.documents.couch)
    for name, doc in written.items():
        found = await vfs.child(instance, folder, name, reading=True)
        assert found is not None and found.id == doc.id and found.rev == doc.rev
    assert await vfs.child(instance, folder, "absent.txt", reading=True) is None
    assert len(requests.sent) == 3
    assert all(r.last_segment == "_all_docs" and "stamp:" in str(r.params) for r in requests.sent)
    # Concurrent downloads from the folder share their stamp reads.
    requests.clear()
    together = await asyncio.gather(
        *(vfs.child(instance, folder, name, reading=True) for name in ["a.txt", "b.txt"] * 4)
    )
    assert [doc.name for doc in together if doc is not None] == ["a.txt", "b.txt"] * 4
    assert len(requests.sent) == 1
    # Renamed here: found under its new name at once, no longer under the old one.
    renamed = await vfs.move(instance, written["a.txt"], name="c.txt")
    assert (await vfs.child(instance, folder, "c.txt", reading=True)) == renamed
    assert await vfs.child(instance, folder, "a.txt", reading=True) is None
    # Without `reading`, a lookup reads the name and the document as before.
    requests.clear()
    assert (await vfs.child(instance, folder, "b.txt")) is not None
    assert not any("stamp:" in str(r.params) for r in requests.sent)


async def test_a_download_sees_another_process_s_changes_at_once(
    vfs: VFS, other: VFS, instance: Instance
) -> None:
    root = await vfs.root(instance)
    folder = await vfs.create_dir(instance, root, "Shared downloads")
    mine = await _put(vfs, instance, folder.id, "doc.txt")
    assert (await vfs.child(instance, folder, "doc.txt", reading=True)) == mine
    # Created there: found here at once (no waiting for a ttl).
    theirs = await _put(other, instance, folder.id, "there.txt")
    found = await vfs.child(instance, folder, "there.txt", reading=True)
    assert found is not None and found.id == theirs.id
    # Renamed there: the old name is gone here at once, the new one found.
    await other.move(instance, await other.get(instance, mine.id), name="renamed.txt")
    assert await vfs.child(instance, folder, "doc.txt", reading=True) is None
    moved = await vfs.child(instance, folder, "renamed.txt", reading=True)
    assert moved is not None and moved.id == mine.id
    # Listed again (as a client's PROPFIND does): downloads read only the stamp again.
    assert await _names(vfs, instance, folder) == ["renamed.txt", "there.txt"]
    requests = StoreRequests(vfs.documents.couch)
    again = await vfs.child(instance, folder, "renamed.txt", reading=True)
    assert again is not None and again.id == mine.id
    assert len(requests.sent) == 1 and "stamp:" in str(requests.sent[0].params)
