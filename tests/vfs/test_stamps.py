"""Subtree stamps: a directory's ETag changes with anything below it, and only then."""

from __future__ import annotations

import asyncio

from roost.instances import Instance
from roost.vfs import VFS, FileDoc
from tests.vfs.conftest import chunks_of


async def _etags(vfs: VFS, instance: Instance, *dirs: FileDoc) -> list[str]:
    fresh = [await vfs.get(instance, d.id) for d in dirs]
    return [doc.etag for doc in await vfs.with_subtree_stamps(instance, fresh)]


async def test_concurrent_uploads_all_land_and_change_the_folder_etags(
    vfs: VFS, instance: Instance, upload
) -> None:
    root = await vfs.root(instance)
    top = await vfs.create_dir(instance, root, "Stamped")
    inbox = await vfs.create_dir(instance, top, "inbox")
    quiet = await vfs.create_dir(instance, top, "quiet")
    before = await _etags(vfs, instance, top, inbox, quiet)
    assert before == await _etags(vfs, instance, top, inbox, quiet)  # nothing written

    names = [f"p{n:02d}.jpg" for n in range(24)]
    await asyncio.gather(*(upload(instance, inbox, name, name.encode()) for name in names))
    after = await _etags(vfs, instance, top, inbox, quiet)
    assert after[0] != before[0] and after[1] != before[1]
    assert after[2] == before[2]
    listed = await vfs.list_dir(instance, inbox, fresh=True)
    assert [doc.name for doc in listed] == names

    # The trash and deletion for good change the folders they touch.
    await vfs.trash(instance, listed[0])
    trashed = await _etags(vfs, instance, top, inbox, quiet)
    assert trashed[1] != after[1] and trashed[2] == before[2]
    gone = (await vfs.list_trash(instance))[0]
    trash_dir = await vfs.get(instance, gone.dir_id or "")
    (trash_before,) = await _etags(vfs, instance, trash_dir)
    await vfs.destroy(instance, gone)
    (trash_after,) = await _etags(vfs, instance, trash_dir)
    assert trash_after != trash_before


async def test_a_renamed_folder_changes_its_old_and_new_ancestors(
    vfs: VFS, instance: Instance
) -> None:
    root = await vfs.root(instance)
    left = await vfs.create_dir(instance, root, "Left")
    right = await vfs.create_dir(instance, root, "Right")
    moving = await vfs.create_dir(instance, left, "moving")
    content = await vfs.stage(instance, chunks_of(b"x"), size=1)
    async with content:
        await vfs.create_file(instance, moving, "x.txt", content)
    before = await _etags(vfs, instance, left, right)
    await vfs.move(instance, await vfs.get(instance, moving.id), parent=right)
    after = await _etags(vfs, instance, left, right)
    assert after[0] != before[0] and after[1] != before[1]
