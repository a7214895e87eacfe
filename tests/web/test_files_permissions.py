"""`/files` with scoped tokens: subtree inheritance, 404 for what one may not read, 403 for
writes one may not make, and moves that need rights on both ends."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from roost.config import Config
from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID
from roost.services import Services
from tests.stored import FILES, stored_revs
from tests.web.files_support import FilesApi, IssueToken, files_api, files_on_disk


@dataclass
class Tree:
    owner: FilesApi
    inside: str  # /Shared
    inside_file: str  # /Shared/in.txt
    inside_sub: str  # /Shared/sub
    outside: str  # /Private
    outside_file: str  # /Private/out.txt


@pytest.fixture
async def tree(client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken) -> Tree:
    owner = await files_api(client, instance, issue_token, "io.cozy.files")
    inside = await owner.mkdir_ok("Shared")
    inside_file = await owner.upload_ok("in.txt", b"inside", dir_id=inside)
    inside_sub = await owner.mkdir_ok("sub", dir_id=inside)
    outside = await owner.mkdir_ok("Private")
    outside_file = await owner.upload_ok("out.txt", b"outside", dir_id=outside)
    return Tree(owner, inside, inside_file, inside_sub, outside, outside_file)


async def test_read_only_subtree_token_reads_inside_only(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken, tree: Tree
) -> None:
    reader = await files_api(client, instance, issue_token, f"io.cozy.files:GET:{tree.inside}")

    assert (await reader.get(tree.inside)).status_code == 200
    assert (await reader.get(tree.inside_file)).status_code == 200
    assert (await reader.download(tree.inside_file)).content == b"inside"
    assert (await reader.metadata("/Shared/in.txt")).status_code == 200
    assert (await reader.download_path("/Shared/in.txt")).status_code == 200

    # Outside the subtree: exactly like a missing file.
    for response in (
        await reader.get(tree.outside),
        await reader.get(tree.outside_file),
        await reader.download(tree.outside_file),
        await reader.metadata("/Private/out.txt"),
        await reader.metadata("/Private"),
        await reader.download_path("/Private/out.txt"),
        await reader.get(ROOT_DIR_ID),
        await reader.versions(tree.outside_file),
    ):
        assert response.status_code == 404, response.request.url
        assert response.json() == (await reader.get("no-such-id")).json()


async def test_read_only_token_cannot_write(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken, tree: Tree
) -> None:
    reader = await files_api(client, instance, issue_token, f"io.cozy.files:GET:{tree.inside}")
    rev = await tree.owner.rev(tree.inside_file)

    for response in (
        await reader.upload("new.txt", b"x", dir_id=tree.inside),
        await reader.mkdir("new", dir_id=tree.inside),
        await reader.overwrite(tree.inside_file, b"changed"),
        await reader.patch(tree.inside_file, {"name": "renamed.txt"}),
        await reader.patch(tree.inside_file, {"tags": ["x"]}),
        await reader.trash(tree.inside_file),
        await reader.add_referenced_by(tree.inside_file, [("io.cozy.photos.albums", "a1")]),
    ):
        assert response.status_code == 403, (response.request.method, response.request.url)
        assert response.json()["error"] == "forbidden"

    # Nothing changed.
    assert await tree.owner.rev(tree.inside_file) == rev
    assert (await tree.owner.download(tree.inside_file)).content == b"inside"
    assert (await tree.owner.metadata("/Shared/new.txt")).status_code == 404
    assert (await tree.owner.metadata("/Shared/new")).status_code == 404


async def test_listing_shows_only_readable_entries(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken, tree: Tree
) -> None:
    # A token on one file: that file only, not its parent directory nor its siblings.
    single = await files_api(client, instance, issue_token, f"io.cozy.files:GET:{tree.inside_file}")
    assert (await single.get(tree.inside_file)).status_code == 200
    assert (await single.get(tree.inside)).status_code == 404
    assert (await single.get(tree.inside_sub)).status_code == 404

    # Every directory but no file (the `type` selector is not inherited): a listing of
    # /Shared names the sub-directory and hides the file.
    dirs_only = await files_api(client, instance, issue_token, "io.cozy.files:GET:directory:type")
    listing = await dirs_only.get(tree.inside)
    assert listing.status_code == 200, listing.text
    ids = [entry["id"] for entry in listing.json()["data"]["relationships"]["contents"]["data"]]
    assert ids == [tree.inside_sub]
    assert (await dirs_only.get(tree.inside_file)).status_code == 404


async def test_subtree_writer_cannot_move_outside(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken, tree: Tree
) -> None:
    writer = await files_api(client, instance, issue_token, f"io.cozy.files:ALL:{tree.inside}")

    # Inside the subtree, everything works.
    created = await writer.upload_ok("w.txt", b"w", dir_id=tree.inside)
    moved_in = await writer.patch(created, {"dir_id": tree.inside_sub})
    assert moved_in.status_code == 200, moved_in.text

    # Out of the subtree: the destination is not the token's.
    out = await writer.patch(tree.inside_file, {"dir_id": tree.outside})
    assert out.status_code in (403, 404)
    to_root = await writer.patch(tree.inside_file, {"dir_id": ROOT_DIR_ID})
    assert to_root.status_code in (403, 404)
    # Into the subtree from outside: the source is not the token's.
    steal = await writer.patch(tree.outside_file, {"dir_id": tree.inside})
    assert steal.status_code == 404
    # Neither can the shared directory itself be moved to the root.
    assert (await writer.patch(tree.inside_sub, {"dir_id": ROOT_DIR_ID})).status_code in (403, 404)
    # Nor can it create outside.
    assert (await writer.upload("x.txt", b"x", dir_id=tree.outside)).status_code in (403, 404)

    assert (await tree.owner.attributes(tree.inside_file))["dir_id"] == tree.inside
    assert (await tree.owner.attributes(tree.outside_file))["dir_id"] == tree.outside
    assert (await tree.owner.attributes(tree.inside_sub))["dir_id"] == tree.inside
    assert (await tree.owner.metadata("/Private/x.txt")).status_code == 404


async def test_write_only_drop_box(
    client: httpx.AsyncClient,
    instance: Instance,
    issue_token: IssueToken,
    tree: Tree,
    services: Services,
    config: Config,
) -> None:
    # POST only on /Shared: it may drop files in, not read or list anything.
    dropper = await files_api(client, instance, issue_token, f"io.cozy.files:POST:{tree.inside}")
    response = await dropper.upload("dropped.txt", b"drop", dir_id=tree.inside)
    assert response.status_code == 201, response.text
    assert (await dropper.get(tree.inside)).status_code in (403, 404)
    assert (await dropper.download(response.json()["data"]["id"])).status_code in (403, 404)
    assert (await tree.owner.metadata("/Shared/dropped.txt")).status_code == 200
    before, on_disk = await stored_revs(services, instance, FILES), files_on_disk(config.files_dir)
    assert (await dropper.upload("no.txt", b"x", dir_id=tree.outside)).status_code in (403, 404)
    assert await stored_revs(services, instance, FILES) == before
    assert files_on_disk(config.files_dir) <= on_disk


async def test_trash_is_filtered_and_emptying_needs_delete(
    client: httpx.AsyncClient,
    instance: Instance,
    issue_token: IssueToken,
    tree: Tree,
    services: Services,
) -> None:
    await tree.owner.trash(tree.outside_file)
    before = await stored_revs(services, instance, FILES)
    reader = await files_api(client, instance, issue_token, f"io.cozy.files:GET:{tree.inside}")
    listing = await reader.list_trash()
    assert listing.status_code == 200
    assert tree.outside_file not in [entry["id"] for entry in listing.json()["data"]]
    assert (await reader.empty_trash()).status_code == 403
    # No PUT/DELETE rule at all: 403; rules that do not cover the file: 404.
    assert (await reader.restore(tree.outside_file)).status_code == 403
    assert (await reader.destroy(tree.outside_file)).status_code == 403
    writer = await files_api(client, instance, issue_token, f"io.cozy.files:ALL:{tree.inside}")
    assert (await writer.restore(tree.outside_file)).status_code == 404
    assert (await writer.destroy(tree.outside_file)).status_code == 404
    assert (await writer.empty_trash()).status_code == 403
    assert (await tree.owner.get(tree.outside_file)).status_code == 200
    # Not one refused call wrote: the trashed file is still trashed, nothing was destroyed.
    assert await stored_revs(services, instance, FILES) == before
    assert tree.outside_file in [
        entry["id"] for entry in (await tree.owner.list_trash()).json()["data"]
    ]


async def test_tokens_without_files_permission(
    client: httpx.AsyncClient,
    instance: Instance,
    issue_token: IssueToken,
    tree: Tree,
    services: Services,
) -> None:
    other = await files_api(client, instance, issue_token, "io.cozy.contacts")
    assert (await other.get(tree.inside_file)).status_code in (403, 404)
    before = await stored_revs(services, instance, FILES)
    assert (await other.upload("x.txt", b"x")).status_code == 403
    assert await stored_revs(services, instance, FILES) == before
    assert (await other.disk_usage()).status_code == 403
