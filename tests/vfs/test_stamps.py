"""Subtree stamps: a directory's ETag changes with anything below it, and only then."""

from __future__ import annotations

import asyncio

from roost.config import Config
from roost.instances import Instance
from roost.services import Services
from roost.vfs import VFS, FileDoc
from roost.vfs.stamps import ROTATE_AFTER
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


async def test_a_busy_folder_stamp_moves_to_new_generations_and_never_goes_missing(
    vfs: VFS, instance: Instance, upload
) -> None:
    """The stamps of a folder written to again and again never grow a long revision
    history (the store's cost per write grows with it): past `ROTATE_AFTER` revisions a
    new generation takes over, and the folder's ETag changes at every write throughout."""
    root = await vfs.root(instance)
    busy = await vfs.create_dir(instance, root, "Busy")
    seen = set(await _etags(vfs, instance, busy))
    writes = 2 * ROTATE_AFTER + 3
    for n in range(writes):
        await upload(instance, busy, f"f{n:03d}.txt", b"x")
        (etag,) = await _etags(vfs, instance, busy)
        assert etag not in seen, n
        seen.add(etag)

    stamps = await vfs.couch.all_docs(
        vfs.names_db(instance),
        params={"startkey": f"stamp:{root.id}/{busy.id}/", "endkey": f"stamp:{root.id}/{busy.id}0"},
    )
    revisions = [int(row["value"]["rev"].split("-")[0]) for row in stamps["rows"]]
    # Read independently of the VFS: the live generations and their revision counts.
    assert 1 <= len(revisions) <= 2
    assert max(revisions) <= ROTATE_AFTER
    # The root's stamp (written by every one of those writes, and by the folder's creation).
    root_stamps = await vfs.couch.all_docs(
        vfs.names_db(instance),
        params={"startkey": f"stamp:/{root.id}/", "endkey": f"stamp:/{root.id}0"},
    )
    assert all(int(r["value"]["rev"].split("-")[0]) <= ROTATE_AFTER for r in root_stamps["rows"])


async def test_two_processes_rotating_one_stamp_both_change_the_etag(
    vfs: VFS, instance: Instance, config: Config
) -> None:
    """Another process's VFS on the same store writes into the same folder in turns with
    this one: each write changes the ETag both of them read, across generations."""
    other_services = Services.build(config, config.couchdb_url or "")
    try:
        await _take_turns(vfs, other_services.vfs, instance)
    finally:
        await other_services.aclose()


async def _take_turns(vfs: VFS, other: VFS, instance: Instance) -> None:
    root = await vfs.root(instance)
    shared = await vfs.create_dir(instance, root, "Shared")
    seen: set[str] = set()
    for n in range(ROTATE_AFTER + 4):
        writer = vfs if n % 2 else other
        parent = await writer.get(instance, shared.id)
        content = await writer.stage(instance, chunks_of(b"y"), size=1)
        async with content:
            await writer.create_file(instance, parent, f"g{n:03d}.txt", content)
        (mine,) = await _etags(vfs, instance, shared)
        (theirs,) = await _etags(other, instance, shared)
        assert mine == theirs
        assert mine not in seen, n
        seen.add(mine)
