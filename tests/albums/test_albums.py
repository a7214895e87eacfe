"""Albums against the real store: the rules of `roost.albums.Albums`, and its refusals, each
shown to leave the albums and the files' references exactly as they were."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from roost.albums import ALBUMS_DOCTYPE, Albums
from roost.errors import BadRequest, Conflict
from roost.file_queries import FileQueries
from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID, Hidden, PermissionDenied, PermissionSet
from roost.principals import Principal
from roost.services import Services
from roost.vfs import FileDoc
from tests.thumbnails.pictures import jpeg

OWNER = Principal(kind="owner", permissions=PermissionSet.maximal_set(), subject="owner")


def grant(scope: str) -> Principal:
    return Principal(kind="token", permissions=PermissionSet.from_inline(scope), subject="app")


@pytest.fixture
async def instance(new_instance: Callable[..., Awaitable[Instance]]) -> Instance:
    return await new_instance("albums")


@pytest.fixture
def albums(services: Services) -> Albums:
    return Albums(services.documents, services.vfs, FileQueries(services.couch, services.vfs))


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


@pytest.fixture
def put_file(services: Services, instance: Instance) -> Callable[..., Awaitable[FileDoc]]:
    async def put(name: str, data: bytes, parent_id: str = ROOT_DIR_ID) -> FileDoc:
        vfs = services.vfs
        parent = await vfs.directory(instance, parent_id)
        content = await vfs.stage(instance, _chunks(data), size=len(data))
        async with content:
            return await vfs.create_file(instance, parent, name, content)

    return put


async def references(services: Services, instance: Instance, file: FileDoc) -> list[str]:
    fresh = await services.vfs.get(instance, file.id)
    return [ref["id"] for ref in fresh.doc.get("referenced_by") or []]


async def names(albums: Albums, instance: Instance) -> list[str]:
    return [album.name for album in await albums.every(instance, OWNER)]


async def test_an_album_is_made_filled_renamed_emptied_and_deleted_and_its_photos_stay(
    services: Services,
    instance: Instance,
    albums: Albums,
    put_file: Callable[..., Awaitable[FileDoc]],
) -> None:
    old = await put_file("old.jpg", jpeg(taken="2020:01:01 10:00:00"))
    new = await put_file("new.jpg", jpeg(taken="2024:01:01 10:00:00"))
    await services.thumbnails.process(instance, old.id)
    await services.thumbnails.process(instance, new.id)
    album = await albums.create(instance, OWNER, "  Summer  ")
    assert album.name == "Summer" and album.size == 0
    stored = await services.documents.get(instance, ALBUMS_DOCTYPE, album.id)
    assert stored["name"] == "Summer" and stored["auto"] is False

    assert await albums.add(instance, OWNER, album.id, [old.id, new.id, old.id]) == 2
    assert await albums.add(instance, OWNER, album.id, [new.id]) == 0  # already in it
    assert await references(services, instance, old) == [album.id]
    [listed] = await albums.every(instance, OWNER)
    assert (listed.name, listed.size, listed.cover) == ("Summer", 2, new.id)
    photos = await albums.photos(instance, OWNER, album.id, 1)
    assert [doc.id for _, doc in photos.page.items] == [new.id]
    following = await albums.photos(instance, OWNER, album.id, 1, photos.page.cursor)
    assert [doc.id for _, doc in following.page.items] == [old.id]
    assert following.page.cursor is None

    renamed = await albums.rename(instance, OWNER, album.id, "Summer 2024")
    assert renamed.name == "Summer 2024"
    assert await names(albums, instance) == ["Summer 2024"]

    assert await albums.remove(instance, OWNER, album.id, [old.id]) == 1
    assert await references(services, instance, old) == []
    assert [a.size for a in await albums.every(instance, OWNER)] == [1]

    assert await albums.delete(instance, OWNER, album.id) == 1
    assert await names(albums, instance) == []
    assert await services.documents.get_or_none(instance, ALBUMS_DOCTYPE, album.id) is None
    for photo in (old, new):  # the photos stay, with no reference to the album left
        assert await references(services, instance, photo) == []
        assert (await services.vfs.get(instance, photo.id)).name == photo.name


async def test_a_trashed_photo_leaves_the_count_and_is_unlinked_when_the_album_goes(
    services: Services,
    instance: Instance,
    albums: Albums,
    put_file: Callable[..., Awaitable[FileDoc]],
) -> None:
    kept = await put_file("kept.jpg", jpeg(taken="2024:01:01 10:00:00"))
    binned = await put_file("binned.jpg", jpeg(taken="2024:01:02 10:00:00"))
    album = await albums.create(instance, OWNER, "Mixed")
    await albums.add(instance, OWNER, album.id, [kept.id, binned.id])
    await services.vfs.trash(instance, await services.vfs.get(instance, binned.id))
    [listed] = await albums.every(instance, OWNER)
    assert listed.size == 1 and listed.cover == kept.id
    page = await albums.photos(instance, OWNER, album.id, 10)
    assert [doc.id for _, doc in page.page.items] == [kept.id]
    assert await albums.delete(instance, OWNER, album.id) == 2
    assert await references(services, instance, binned) == []


async def test_bad_names_and_taken_names_are_refused_and_nothing_is_made(
    instance: Instance, albums: Albums
) -> None:
    album = await albums.create(instance, OWNER, "Family")
    other = await albums.create(instance, OWNER, "Friends")
    for bad in ("", "   ", "x" * 256, "line\nbreak", 42, None):
        with pytest.raises(BadRequest):
            await albums.create(instance, OWNER, bad)
        with pytest.raises(BadRequest):
            await albums.rename(instance, OWNER, album.id, bad)
    with pytest.raises(Conflict):
        await albums.create(instance, OWNER, "FAMILY")
    with pytest.raises(Conflict):
        await albums.rename(instance, OWNER, other.id, "family")
    assert await names(albums, instance) == ["Family", "Friends"]
    # Renaming to its own name (in another case) is no clash.
    assert (await albums.rename(instance, OWNER, album.id, "family")).name == "family"


async def test_a_file_that_is_no_photo_refuses_the_whole_addition(
    services: Services,
    instance: Instance,
    albums: Albums,
    put_file: Callable[..., Awaitable[FileDoc]],
) -> None:
    photo = await put_file("photo.jpg", jpeg(taken="2024:01:01 10:00:00"))
    text = await put_file("notes.txt", b"not a photo")
    folder = await services.vfs.directory(instance, ROOT_DIR_ID)
    album = await albums.create(instance, OWNER, "Strict")
    for ids in ([photo.id, text.id], [photo.id, folder.id], [], ["x"] * 1001, [photo.id, 7]):
        with pytest.raises(BadRequest):
            await albums.add(instance, OWNER, album.id, ids)  # type: ignore[arg-type]
    with pytest.raises(Hidden):
        await albums.add(instance, OWNER, album.id, [photo.id, "no-such-file"])
    assert await references(services, instance, photo) == []
    assert await references(services, instance, text) == []
    for missing in ("no-such-album", "_all_docs", ""):
        with pytest.raises(Hidden):
            await albums.add(instance, OWNER, missing, [photo.id])
    assert await references(services, instance, photo) == []


async def test_refusals_by_permission_change_nothing(
    services: Services,
    instance: Instance,
    albums: Albums,
    put_file: Callable[..., Awaitable[FileDoc]],
) -> None:
    vfs = services.vfs
    root = await vfs.directory(instance, ROOT_DIR_ID)
    shared = await vfs.create_dir(instance, root, "Shared")
    inside = await put_file("inside.jpg", jpeg(taken="2024:01:01 10:00:00"), shared.id)
    outside = await put_file("outside.jpg", jpeg(taken="2024:01:02 10:00:00"))
    album = await albums.create(instance, OWNER, "Holidays")
    secret = await albums.create(instance, OWNER, "Secret")
    await albums.add(instance, OWNER, album.id, [outside.id])
    before = await services.documents.get(instance, ALBUMS_DOCTYPE, album.id)

    reader = grant("io.cozy.photos.albums:GET io.cozy.files")
    with pytest.raises(PermissionDenied):
        await albums.add(instance, reader, album.id, [inside.id])
    with pytest.raises(PermissionDenied):
        await albums.rename(instance, reader, album.id, "Mine now")
    with pytest.raises(PermissionDenied):
        await albums.delete(instance, reader, album.id)
    with pytest.raises(PermissionDenied):
        await albums.create(instance, reader, "New")

    # May change this one album and the Shared folder, nothing else.
    one = grant(f"io.cozy.photos.albums:GET,PUT,DELETE:{album.id} io.cozy.files:ALL:{shared.id}")
    with pytest.raises(Hidden):  # a file it may not read: as if missing
        await albums.add(instance, one, album.id, [inside.id, outside.id])
    with pytest.raises(Hidden):  # an album it may not read: as if missing
        await albums.add(instance, one, secret.id, [inside.id])
    with pytest.raises(Hidden):
        await albums.rename(instance, one, secret.id, "Found")
    with pytest.raises(PermissionDenied):  # outside.jpg is in it, out of reach
        await albums.delete(instance, one, album.id)
    assert [a.name for a in await albums.every(instance, one)] == ["Holidays"]
    assert [a.size for a in await albums.every(instance, one)] == [None]  # counts would tell

    after = await services.documents.get(instance, ALBUMS_DOCTYPE, album.id)
    assert after == before
    assert await references(services, instance, inside) == []
    assert await references(services, instance, outside) == [album.id]
    assert await names(albums, instance) == ["Holidays", "Secret"]
    # What it may do, it does: its own photo in its own album; it sees only that one.
    assert await albums.add(instance, one, album.id, [inside.id]) == 1
    page = await albums.photos(instance, one, album.id, 10)
    assert [doc.id for _, doc in page.page.items] == [inside.id]


async def test_an_expired_grant_does_nothing(
    services: Services,
    instance: Instance,
    albums: Albums,
    put_file: Callable[..., Awaitable[FileDoc]],
) -> None:
    from datetime import UTC, datetime

    photo = await put_file("p.jpg", jpeg(taken="2024:01:01 10:00:00"))
    album = await albums.create(instance, OWNER, "Old")
    expired = Principal(
        kind="token",
        permissions=PermissionSet(
            rules=PermissionSet.from_inline("io.cozy.photos.albums io.cozy.files").rules,
            expires_at=datetime(2000, 1, 1, tzinfo=UTC),
        ),
        subject="app",
    )
    with pytest.raises(PermissionDenied):
        await albums.add(instance, expired, album.id, [photo.id])
    assert await albums.every(instance, expired) == []
    assert await references(services, instance, photo) == []
