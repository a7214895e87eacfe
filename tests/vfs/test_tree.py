"""Directories, files, names, moves, copies: the VFS's tree as a specification."""

from __future__ import annotations

import asyncio
import base64
import hashlib

import pytest

from roost.config import Config
from roost.errors import Forbidden
from roost.permissions import ROOT_DIR_ID, TRASH_DIR_ID
from roost.services import Services
from roost.vfs import (
    VFS,
    FileNotFound,
    FixedDirectory,
    InvalidMove,
    InvalidName,
    NameConflict,
    NotInTrash,
    normalize_name,
)
from tests.vfs.conftest import chunks_of, read_content


async def test_root_and_trash_exist_with_fixed_ids(vfs: VFS, instance) -> None:
    root = await vfs.root(instance)
    assert root.id == ROOT_DIR_ID and root.path == "/" and root.is_dir
    trash = await vfs.get(instance, TRASH_DIR_ID)
    assert trash.path == "/.cozy_trash" and trash.dir_id == ROOT_DIR_ID
    vfs.documents.ready.discard(instance.domain)  # a second process: ensure() is idempotent
    await vfs.ensure(instance)


async def test_file_document_has_cozy_shape(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    docs = await vfs.create_dir(instance, root, "Docs")
    data = b"hello roost\n" * 1000
    file = await upload(instance, docs, "note.txt", data)
    raw = (await vfs.get(instance, file.id)).doc
    assert raw["type"] == "file" and raw["name"] == "note.txt" and raw["dir_id"] == docs.id
    assert raw["size"] == str(len(data))
    assert raw["md5sum"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    assert raw["sha256"] == hashlib.sha256(data).hexdigest()
    assert raw["mime"] == "text/plain" and raw["class"] == "text"
    assert raw["trashed"] is False and raw["tags"] == []
    assert raw["cozyMetadata"]["createdAt"] and raw["created_at"] and raw["updated_at"]
    assert docs.doc["path"] == "/Docs"
    content = await vfs.open(instance, file)
    assert await read_content(content) == data
    assert await vfs.path_of(instance, file) == "/Docs/note.txt"
    assert (await vfs.lookup(instance, "/Docs/note.txt")).id == file.id


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "nul\x00", "tab\tname", "x" * 256])
def test_invalid_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidName):
        normalize_name(bad)


def test_names_are_nfc() -> None:
    assert normalize_name("e\u0301te\u0301") == "\u00e9t\u00e9"
    assert normalize_name("é" * 127) == "é" * 127  # 254 bytes
    with pytest.raises(InvalidName):
        normalize_name("é" * 128)


async def test_same_name_twice_is_a_conflict(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    await vfs.create_dir(instance, root, "Same")
    with pytest.raises(NameConflict):
        await vfs.create_dir(instance, root, "Same")
    with pytest.raises(NameConflict):
        await upload(instance, root, "Same", b"x")
    # NFD spelling of an existing NFC name is the same name
    await vfs.create_dir(instance, root, "\u00e9t\u00e9")
    with pytest.raises(NameConflict):
        await vfs.create_dir(instance, root, "e\u0301te\u0301")


async def test_concurrent_creations_of_one_name_make_one_entry(vfs: VFS, instance) -> None:
    root = await vfs.root(instance)
    results = await asyncio.gather(
        *(vfs.create_dir(instance, root, "Race") for _ in range(8)), return_exceptions=True
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    assert len(created) == 1
    assert all(isinstance(r, NameConflict) for r in results if isinstance(r, BaseException))
    names = [entry.name for entry in await vfs.list_dir(instance, root)]
    assert names.count("Race") == 1


async def test_stale_reservation_is_taken_over(vfs: VFS, instance) -> None:
    root = await vfs.root(instance)
    # A crash between the reservation and the document: an old reservation, no document.
    await vfs.couch.put_doc(
        vfs.names_db(instance),
        {"_id": f"{root.id}/Ghost", "file_id": "nope", "reserved_at": "2000-01-01T00:00:00Z"},
    )
    assert await vfs.child(instance, root, "Ghost") is None
    ghost = await vfs.create_dir(instance, root, "Ghost")
    child = await vfs.child(instance, root, "Ghost")
    assert child is not None and child.id == ghost.id


async def test_move_directory_updates_descendant_paths(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    a = await vfs.create_dir(instance, root, "A")
    b = await vfs.create_dir(instance, a, "B")
    c = await vfs.create_dir(instance, b, "C")
    file = await upload(instance, c, "f.bin", b"abc")
    target = await vfs.create_dir(instance, root, "Target")
    moved = await vfs.move(instance, a, parent=target, name="A2")
    assert moved.path == "/Target/A2"
    assert (await vfs.get(instance, b.id)).path == "/Target/A2/B"
    assert (await vfs.get(instance, c.id)).path == "/Target/A2/B/C"
    assert (await vfs.lookup(instance, "/Target/A2/B/C/f.bin")).id == file.id
    with pytest.raises(FileNotFound):
        await vfs.lookup(instance, "/A")
    # the bytes did not move
    assert await read_content(await vfs.open(instance, file)) == b"abc"
    with pytest.raises(InvalidMove):
        await vfs.move(instance, moved, parent=await vfs.get(instance, c.id))
    with pytest.raises(InvalidMove):
        await vfs.move(instance, root, parent=target)


async def test_move_onto_taken_name_conflicts(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    one = await upload(instance, root, "one.txt", b"1")
    await upload(instance, root, "two.txt", b"2")
    with pytest.raises(NameConflict):
        await vfs.move(instance, one, name="two.txt")
    renamed = await vfs.move(instance, one, name="uno.txt")
    assert renamed.name == "uno.txt"
    assert await vfs.child(instance, root, "one.txt") is None


async def test_copy_tree_shares_bytes(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    src = await vfs.create_dir(instance, root, "Src")
    sub = await vfs.create_dir(instance, src, "Sub")
    await upload(instance, sub, "x.bin", b"x" * 5000)
    copied = await vfs.copy(instance, src, root, "Dst")
    copied_file = await vfs.lookup(instance, "/Dst/Sub/x.bin")
    assert await read_content(await vfs.open(instance, copied_file)) == b"x" * 5000
    assert copied.path == "/Dst"
    with pytest.raises(InvalidMove):
        await vfs.copy(instance, src, sub, "loop")


async def test_trash_and_restore(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    folder = await vfs.create_dir(instance, root, "Work")
    file = await upload(instance, folder, "report.pdf", b"%PDF")
    trashed = await vfs.trash(instance, file)
    assert trashed.trashed and trashed.dir_id == TRASH_DIR_ID
    assert trashed.restore_path == "/Work"
    # something else takes the name meanwhile: restore renames
    await upload(instance, folder, "report.pdf", b"new")
    restored = await vfs.restore(instance, trashed)
    assert restored.dir_id == folder.id and restored.name == "report (2).pdf"
    assert not restored.trashed and "restore_path" not in restored.doc
    # a trashed directory keeps its subtree, with paths under the trash
    sub = await vfs.create_dir(instance, folder, "Sub")
    gone = await vfs.trash(instance, folder)
    assert gone.path is not None and gone.path.startswith("/.cozy_trash/")
    assert (await vfs.get(instance, sub.id)).path == gone.path + "/Sub"
    back = await vfs.restore(instance, gone)
    assert back.path == "/Work"


async def test_restore_recreates_missing_parent(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    folder = await vfs.create_dir(instance, root, "Gone")
    file = await upload(instance, folder, "a.txt", b"a")
    trashed = await vfs.trash(instance, file)
    await vfs.destroy(instance, await vfs.get(instance, folder.id))
    restored = await vfs.restore(instance, trashed)
    assert await vfs.path_of(instance, restored) == "/Gone/a.txt"


async def test_destroy_is_recursive_and_removes_bytes(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    top = await vfs.create_dir(instance, root, "Top")
    mid = await vfs.create_dir(instance, top, "Mid")
    files = [await upload(instance, mid, f"f{i}", b"z" * 100) for i in range(3)]
    contents = [await vfs.open(instance, f) for f in files]
    await vfs.destroy(instance, top)
    for file, content in zip(files, contents, strict=True):
        assert await vfs.get_or_none(instance, file.id) is None
        assert not await vfs.blobs.exists(instance.domain, file.id, content.internal_id)
    assert await vfs.get_or_none(instance, mid.id) is None
    assert await vfs.child(instance, root, "Top") is None
    await vfs.create_dir(instance, root, "Top")  # the name is free again


async def test_stage_aborts_on_short_body(vfs: VFS, instance) -> None:
    from roost.vfs import IncompleteUpload

    before = set(await vfs.blobs.temporaries())
    with pytest.raises(IncompleteUpload):
        await vfs.stage(instance, chunks_of(b"abc"), size=10)
    assert set(await vfs.blobs.temporaries()) == before


async def test_stale_parent_copy_never_gives_a_wrong_path(vfs: VFS, instance) -> None:
    root = await vfs.root(instance)
    old = await vfs.create_dir(instance, root, "Before")
    await vfs.move(instance, old, name="After")  # `old` is now a stale copy
    child = await vfs.create_dir(instance, old, "Child")
    assert child.path == "/After/Child"
    gone = await vfs.create_dir(instance, root, "Gone2")
    await vfs.trash(instance, gone)
    with pytest.raises(Forbidden):
        await vfs.create_dir(instance, gone, "inside the trash")


async def test_trash_guards_are_the_domain_s(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    trash_dir = await vfs.get(instance, TRASH_DIR_ID)
    for fixed in (root, trash_dir):
        with pytest.raises(FixedDirectory):
            await vfs.trash(instance, fixed)
    folder = await vfs.create_dir(instance, root, "guarded")
    inner = await upload(instance, folder, "inner.txt", b"i")
    with pytest.raises(NotInTrash):
        vfs.check_destroyable(inner)
    await vfs.trash(instance, folder)
    vfs.check_destroyable(await vfs.get(instance, folder.id))
    nested = await vfs.get(instance, inner.id)
    with pytest.raises(NotInTrash):
        await vfs.restore(instance, nested)
    assert (await vfs.get(instance, inner.id)).rev == nested.rev


async def test_a_confirmed_place_is_never_one_another_process_changed(
    vfs: VFS, instance, config: Config
) -> None:
    """`confirm_place` vouches for a cached folder only while the reservations of it and
    of its ancestors still name them: once another process trashed or renamed an ancestor,
    a stale copy is not confirmed, and a creation into it reads the folder and refuses."""
    root = await vfs.root(instance)
    top = await vfs.create_dir(instance, root, "Confirmed")
    inner = await vfs.create_dir(instance, top, "inner")
    vfs.cache.remember(instance, top)
    assert (await vfs.tree.confirm_place(instance, inner)).confirmed_at is not None

    other = Services.build(config, config.couchdb_url or "")
    try:
        await other.vfs.trash(instance, await other.vfs.get(instance, top.id))
    finally:
        await other.aclose()

    vfs.cache.remember(instance, top)  # this process still holds the copy from before
    stale = await vfs.tree.confirm_place(instance, inner)
    assert stale.confirmed_at is None
    content = await vfs.stage(instance, chunks_of(b"late"), size=4)
    async with content:
        with pytest.raises(Forbidden):
            await vfs.create_file(instance, stale, "late.txt", content)
    in_trash = await vfs.get(instance, inner.id)
    assert await vfs.list_dir(instance, in_trash, fresh=True) == []

    # The same for a rename of the folder itself, through the other process.
    moved = await vfs.create_dir(instance, root, "Renamed later")
    vfs.cache.remember(instance, moved)
    other = Services.build(config, config.couchdb_url or "")
    try:
        await other.vfs.move(instance, await other.vfs.get(instance, moved.id), name="Renamed")
    finally:
        await other.aclose()
    assert (await vfs.tree.confirm_place(instance, moved)).confirmed_at is None
    child = await vfs.create_dir(instance, moved, "child")
    assert child.path == "/Renamed/child"
