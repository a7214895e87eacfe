"""Metadata rules and references, without HTTP: what a PATCH may change, and references
merged into the current revision."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from roost.errors import BadRequest
from roost.types import DocId, Doctype
from roost.vfs import VFS, FileDoc, InvalidName
from roost.vfs.metadata import file_patch, references_of

ALBUMS = Doctype("io.cozy.photos.albums")


async def test_patch_rules_validate_before_anything_changes(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    file = await upload(instance, root, "rules.txt", b"r")
    refused: list[dict[str, Any]] = [
        {"size": "3"},
        {"move_to_trash": "yes"},
        {"tags": "one"},
        {"created_at": None},
        {"updated_at": "yesterday"},
        {"executable": "true"},
        {"cozyMetadata": {"favorite": True, "other": 1}},
        {"type": "directory"},
        {"name": 3},
        {"dir_id": 3},
    ]
    for attributes in refused:
        with pytest.raises(BadRequest):
            file_patch(file, attributes)
    with pytest.raises(InvalidName):
        file_patch(file, {"name": "a/b"})
    assert (await vfs.get(instance, file.id)).rev == file.rev


def test_patch_rules_build_the_change() -> None:
    file = FileDoc(
        {"_id": "f", "_rev": "1-a", "type": "file", "name": "a.txt", "dir_id": "d",
         "cozyMetadata": {"createdAt": "2024-01-01T00:00:00Z"}}
    )  # fmt: skip
    assert file_patch(file, {"move_to_trash": True}).to_trash
    change = file_patch(
        file,
        {"name": "b.txt", "tags": ["x", "x", "y"], "cozyMetadata": {"favorite": True}},
    )
    assert change.moving and change.name == "b.txt" and change.dir_id is None
    assert change.fields["tags"] == ["x", "y"]
    assert change.fields["cozyMetadata"] == {"createdAt": "2024-01-01T00:00:00Z", "favorite": True}
    # Echoed, unchanged attributes are no move.
    assert not file_patch(file, {"name": "a.txt", "dir_id": "d", "type": "file"}).moving


async def test_concurrent_reference_changes_are_all_kept(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    photo = await upload(instance, root, "photo.jpg", b"jpeg")
    albums = [(ALBUMS, DocId(f"album-{i}")) for i in range(6)]
    # Every change starts from the same (soon stale) revision.
    await asyncio.gather(*(vfs.change_references(instance, photo, add=[ref]) for ref in albums))
    current = await vfs.get(instance, photo.id)
    assert sorted(references_of(current)) == sorted(albums)
    await vfs.change_references(instance, current, remove=albums[:2])
    current = await vfs.get(instance, photo.id)
    assert sorted(references_of(current)) == sorted(albums[2:])
    listed = await vfs.referencing(instance, ALBUMS, "album-4")
    assert [file.id for file in listed] == [photo.id]


async def test_an_unchanged_reference_set_writes_nothing(vfs: VFS, instance, upload) -> None:
    root = await vfs.root(instance)
    photo = await upload(instance, root, "same.jpg", b"jpeg")
    photo = await vfs.change_references(instance, photo, add=[(ALBUMS, DocId("a"))])
    again = await vfs.change_references(instance, photo, add=[(ALBUMS, DocId("a"))])
    assert again.rev == photo.rev == (await vfs.get(instance, photo.id)).rev
