"""Content, versions, quota and leftovers."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from roost.vfs import VFS, ChecksumMismatch, QuotaExceeded, RevisionMismatch
from roost.vfs.blobs import LocalBlobStore
from tests.vfs.conftest import chunks_of, read_content


async def test_overwrite_keeps_versions(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    file = await upload(instance, root, "v.txt", b"one")
    for data in (b"two", b"three"):
        content = await vfs.stage(instance, chunks_of(data), size=len(data))
        async with content:
            file = await vfs.overwrite_file(instance, file, content)
    assert await read_content(await vfs.open(instance, file)) == b"three"
    versions = await vfs.list_versions(instance, file.id)
    assert [await read_content(await vfs.open_version(instance, v)) for v in versions] == [
        b"one",
        b"two",
    ]


async def test_versions_are_capped(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    file = await upload(instance, root, "cap.txt", b"0")
    keep, vfs.versions_to_keep = vfs.versions_to_keep, 3
    try:
        for i in range(1, 7):
            content = await vfs.stage(instance, chunks_of(str(i).encode()))
            async with content:
                file = await vfs.overwrite_file(instance, file, content)
    finally:
        vfs.versions_to_keep = keep
    versions = await vfs.list_versions(instance, file.id)
    assert len(versions) == 3
    kept = [await read_content(await vfs.open_version(instance, v)) for v in versions]
    assert kept == [b"3", b"4", b"5"]


async def test_if_rev_guards_overwrite(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    file = await upload(instance, root, "g.txt", b"a")
    content = await vfs.stage(instance, chunks_of(b"b"))
    async with content:
        with pytest.raises(RevisionMismatch):
            await vfs.overwrite_file(instance, file, content, if_rev="1-nope")


async def test_concurrent_overwrites_serialise_into_versions(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    file = await upload(instance, root, "c.txt", b"start")

    async def write(i: int) -> None:
        content = await vfs.stage(instance, chunks_of(f"data-{i}".encode()))
        async with content:
            await vfs.overwrite_file(instance, file, content)

    await asyncio.gather(*(write(i) for i in range(6)))
    final = await vfs.get(instance, file.id)
    data = await read_content(await vfs.open(instance, final))
    assert data.startswith(b"data-")
    versions = await vfs.list_versions(instance, file.id)
    assert len(versions) == 6
    contents = {await read_content(await vfs.open_version(instance, v)) for v in versions}
    assert contents | {data} == {b"start"} | {f"data-{i}".encode() for i in range(6)}


async def test_content_md5_is_checked(vfs: VFS, instance) -> None:
    with pytest.raises(ChecksumMismatch):
        await vfs.stage(instance, chunks_of(b"abc"), md5sum="AAAAAAAAAAAAAAAAAAAAAA==")


async def test_quota_refuses_before_storing(vfs: VFS, new_instance, upload) -> None:
    small = await new_instance("quota", quota_bytes=10_000)
    root = await vfs.root(small)
    await upload(small, root, "fits.bin", b"a" * 6000)
    temps = set(await vfs.blobs.temporaries())
    with pytest.raises(QuotaExceeded):
        await vfs.stage(small, chunks_of(b"b" * 6000), size=6000)
    # unknown size: aborted while streaming, nothing left
    with pytest.raises(QuotaExceeded):
        await vfs.stage(small, chunks_of(b"c" * 6000))
    assert set(await vfs.blobs.temporaries()) == temps
    usage = await vfs.disk_usage(small)
    assert usage.used == 6000 and usage.quota == 10_000
    assert [e.name for e in await vfs.list_dir(small, root)] == [".cozy_trash", "fits.bin"]


async def test_disk_usage_counts_trash_and_versions(vfs: VFS, new_instance, upload) -> None:
    inst = await new_instance("usage")
    root = await vfs.root(inst)
    file = await upload(inst, root, "u.bin", b"a" * 100)
    content = await vfs.stage(inst, chunks_of(b"b" * 50))
    async with content:
        file = await vfs.overwrite_file(inst, file, content)
    other = await upload(inst, root, "t.bin", b"c" * 30)
    await vfs.trash(inst, other)
    usage = await vfs.disk_usage(inst)
    assert (usage.files, usage.trash, usage.versions) == (50, 30, 100)


def test_sweep_removes_dead_temps(tmp_path) -> None:
    store = LocalBlobStore(tmp_path)
    store.temp_dir.mkdir(parents=True)
    from roost.vfs.blobs import _HOST

    dead = store.temp_dir / f"{_HOST}-999999999-abc.part"
    old = store.temp_dir / "otherhost-1-def.part"
    mine = store.temp_dir / f"{_HOST}-{os.getpid()}-ghi.part"
    for path in (dead, old, mine):
        path.write_bytes(b"partial")
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert store.sweep_temps_now() == 2
    assert not dead.exists() and not old.exists() and mine.exists()


async def test_revert_makes_a_version_current_and_keeps_the_replaced_one(
    vfs: VFS, instance, upload
) -> None:
    root = await vfs.root(instance)
    file = await upload(instance, root, "revert.txt", b"first")
    content = await vfs.stage(instance, chunks_of(b"second"))
    async with content:
        file = await vfs.overwrite_file(instance, file, content)
    [old] = await vfs.list_versions(instance, file.id)
    reverted = await vfs.revert(instance, file, old.version_id)
    assert await read_content(await vfs.open(instance, reverted)) == b"first"
    kept = [
        await read_content(await vfs.open_version(instance, v))
        for v in await vfs.list_versions(instance, file.id)
    ]
    assert kept == [b"first", b"second"]
    with pytest.raises(RevisionMismatch):
        await vfs.revert(instance, reverted, old.version_id, if_rev=file.rev)
    assert (await vfs.get(instance, file.id)).rev == reverted.rev
