"""`/files`: directories, metadata by id and path, listing, rename/move/tags, trash, versions."""

from __future__ import annotations

import httpx

from roost.config import Config
from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID, TRASH_DIR_ID
from roost.services import Services
from tests.stored import FILES, stored_revs
from tests.web.files_support import FilesApi, IssueToken, content_md5, files_api, files_on_disk


async def _owner(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> FilesApi:
    return await files_api(client, instance, issue_token, "io.cozy.files")


async def test_directory_create_and_metadata(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await _owner(client, instance, issue_token)
    created = await api.mkdir(
        "Photos", params={"Tags": "albums", "CreatedAt": "2021-05-06T07:08:09Z"}
    )
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["attributes"]["type"] == "directory"
    assert data["attributes"]["path"] == "/Photos"
    assert data["attributes"]["tags"] == ["albums"]
    assert data["attributes"]["created_at"].startswith("2021-05-06T07:08:09")
    photos = data["id"]
    inner = await api.mkdir_ok("2024", dir_id=photos)
    file_id = await api.upload_ok("a.txt", b"a", dir_id=inner)

    by_path = await api.metadata("/Photos/2024")
    assert by_path.status_code == 200
    assert by_path.json()["data"]["id"] == inner
    file_by_path = await api.metadata("/Photos/2024/a.txt")
    assert file_by_path.json()["data"]["id"] == file_id
    assert (await api.metadata("/Photos/nothing")).status_code == 404
    assert (await api.metadata("relative/path")).status_code in (400, 404)
    root = await api.metadata("/")
    assert root.json()["data"]["id"] == ROOT_DIR_ID

    listing = await api.get(photos)
    assert listing.status_code == 200
    body = listing.json()
    contents = body["data"]["relationships"]["contents"]["data"]
    assert [entry["id"] for entry in contents] == [inner]
    assert [entry["id"] for entry in body["included"]] == [inner]
    assert body["included"][0]["attributes"]["name"] == "2024"


async def test_directory_listing_is_paginated(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await _owner(client, instance, issue_token)
    folder = await api.mkdir_ok("many")
    names = sorted(f"f{i:02d}.txt" for i in range(7))
    for name in names:
        await api.upload_ok(name, name.encode(), dir_id=folder)

    seen: list[str] = []
    params = {"page[limit]": "3"}
    pages = 0
    while True:
        response = await api.get(folder, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["data"]["relationships"]["contents"]["data"]) <= 3
        seen += [entry["attributes"]["name"] for entry in body.get("included", [])]
        pages += 1
        next_link = body.get("links", {}).get("next")
        if not next_link:
            break
        cursor = httpx.URL(next_link).params["page[cursor]"]
        params = {"page[limit]": "3", "page[cursor]": cursor}
    assert sorted(seen) == names
    assert len(seen) == len(set(seen))
    assert pages == 3
    assert body["meta"]["count"] == 7
    assert (await api.get(folder, params={"page[limit]": "zero"})).status_code == 400


async def test_rename_move_and_tags(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken, services: Services
) -> None:
    api = await _owner(client, instance, issue_token)
    source = await api.mkdir_ok("src")
    destination = await api.mkdir_ok("dst")
    file_id = await api.upload_ok("old.txt", b"content", dir_id=source)

    renamed = await api.patch(file_id, {"name": "new.txt", "tags": ["kept"]})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["data"]["attributes"]["name"] == "new.txt"
    assert renamed.json()["data"]["attributes"]["tags"] == ["kept"]

    moved = await api.patch(file_id, {"dir_id": destination})
    assert moved.status_code == 200, moved.text
    assert moved.json()["data"]["attributes"]["dir_id"] == destination
    assert (await api.metadata("/dst/new.txt")).json()["data"]["id"] == file_id
    assert (await api.metadata("/src/old.txt")).status_code == 404
    assert (await api.download(file_id)).content == b"content"

    # Moving a directory moves its subtree; paths follow.
    sub = await api.mkdir_ok("sub", dir_id=source)
    moved_dir = await api.patch(sub, {"dir_id": destination, "name": "sub2"})
    assert moved_dir.json()["data"]["attributes"]["path"] == "/dst/sub2"

    # Into its own subtree: refused, nothing changes.
    loop = await api.patch(destination, {"dir_id": sub})
    assert 400 <= loop.status_code < 500
    assert (await api.attributes(destination))["path"] == "/dst"

    # A name taken in the destination: 409.
    await api.upload_ok("taken.txt", b"x", dir_id=destination)
    before = await stored_revs(services, instance, FILES)
    clash = await api.patch(file_id, {"name": "taken.txt"})
    assert clash.status_code == 409

    missing = await api.patch(file_id, {"dir_id": "no-such-dir"})
    assert 400 <= missing.status_code < 500
    bad = await api.patch(file_id, {"name": "a/b"})
    assert bad.status_code == 400
    bad_tags = await api.patch(file_id, {"tags": "not-a-list"})
    assert bad_tags.status_code == 400
    not_json = await client.patch(
        f"/files/{file_id}",
        content=b"{",
        headers={**api.headers, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    # None of the refused patches wrote anything: every file document keeps its revision.
    assert await stored_revs(services, instance, FILES) == before
    kept = await api.attributes(file_id)
    assert (kept["name"], kept["dir_id"]) == ("new.txt", destination)


async def test_patch_if_match(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await _owner(client, instance, issue_token)
    file_id = await api.upload_ok("im.txt", b"x")
    rev = await api.rev(file_id)
    assert (await api.patch(file_id, {"tags": ["a"]}, {"If-Match": rev})).status_code == 200
    stale = await api.patch(file_id, {"name": "other.txt"}, {"If-Match": rev})
    assert stale.status_code == 412
    assert (await api.attributes(file_id))["name"] == "im.txt"
    assert (await api.trash(file_id, {"If-Match": rev})).status_code == 412
    kept = await api.attributes(file_id)
    assert (kept["trashed"], kept["tags"], kept["dir_id"]) == (False, ["a"], ROOT_DIR_ID)


async def test_trash_restore_and_destroy(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken, services: Services
) -> None:
    api = await _owner(client, instance, issue_token)
    folder = await api.mkdir_ok("work")
    file_id = await api.upload_ok("draft.txt", b"first", dir_id=folder)

    trashed = await api.trash(file_id)
    assert trashed.status_code == 200, trashed.text
    attributes = trashed.json()["data"]["attributes"]
    assert attributes["trashed"] is True
    assert attributes["dir_id"] == TRASH_DIR_ID
    assert attributes["restore_path"] == "/work"
    assert (await api.metadata("/work/draft.txt")).status_code == 404

    listing = await api.list_trash()
    assert listing.status_code == 200
    assert file_id in [entry["id"] for entry in listing.json()["data"]]

    # Someone creates the same name meanwhile: the restored file is renamed.
    newer = await api.upload_ok("draft.txt", b"second", dir_id=folder)
    restored = await api.restore(file_id)
    assert restored.status_code == 200, restored.text
    restored_attributes = restored.json()["data"]["attributes"]
    assert restored_attributes["trashed"] is False
    assert restored_attributes["dir_id"] == folder
    assert restored_attributes["name"] != "draft.txt"
    assert restored_attributes["name"].startswith("draft")
    assert (await api.download(file_id)).content == b"first"
    assert (await api.download(newer)).content == b"second"
    assert file_id not in [entry["id"] for entry in (await api.list_trash()).json()["data"]]

    # Restoring something that is not in the trash is a client error, and changes nothing.
    before = await stored_revs(services, instance, FILES)
    assert 400 <= (await api.restore(newer)).status_code < 500
    assert await stored_revs(services, instance, FILES) == before

    # Destroy one, then empty the rest.
    assert (await api.trash(newer)).status_code == 200
    assert (await api.destroy(newer)).status_code == 204
    assert (await api.get(newer)).status_code == 404
    assert (await api.trash(folder)).status_code == 200
    emptied = await api.empty_trash()
    assert emptied.status_code == 204
    assert (await api.list_trash()).json()["data"] == []
    assert (await api.get(file_id)).status_code == 404
    assert (await api.get(folder)).status_code == 404
    # Destroying a file that is not in the trash is refused.
    alive = await api.upload_ok("alive.txt", b"x")
    assert 400 <= (await api.destroy(alive)).status_code < 500
    assert (await api.download(alive)).content == b"x"
    # The fixed directories cannot be trashed.
    before = await stored_revs(services, instance, FILES)
    assert 400 <= (await api.trash(ROOT_DIR_ID)).status_code < 500
    assert await stored_revs(services, instance, FILES) == before
    assert (await api.attributes(ROOT_DIR_ID))["path"] == "/"


async def test_versions_after_overwrite(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await _owner(client, instance, issue_token)
    file_id = await api.upload_ok("notes.txt", b"version one")
    assert (await api.overwrite(file_id, b"version two")).status_code == 200
    assert (await api.overwrite(file_id, b"version three!")).status_code == 200

    listed = await api.versions(file_id)
    assert listed.status_code == 200, listed.text
    versions = listed.json()["data"]
    assert len(versions) == 2
    assert {v["type"] for v in versions} == {"io.cozy.files.versions"}
    md5s = {v["attributes"]["md5sum"] for v in versions}
    assert md5s == {content_md5(b"version one"), content_md5(b"version two")}
    oldest = next(v for v in versions if v["attributes"]["md5sum"] == content_md5(b"version one"))
    assert oldest["id"].startswith(f"{file_id}/")
    version_id = oldest["id"].split("/", 1)[1]

    # Also as an included relationship of the file.
    meta = await api.get(file_id, params={"include": "old_versions"})
    related = meta.json()["data"]["relationships"]["old_versions"]["data"]
    assert {entry["id"] for entry in related} == {v["id"] for v in versions}
    assert {entry["id"] for entry in meta.json()["included"]} == {v["id"] for v in versions}

    old = await api.download_version(file_id, version_id)
    assert old.status_code == 200
    assert old.content == b"version one"
    assert old.headers["etag"] == f'"{content_md5(b"version one")}"'
    assert (await api.download_version(file_id, "no-such-version")).status_code == 404

    reverted = await api.revert(file_id, version_id)
    assert reverted.status_code == 200, reverted.text
    assert reverted.json()["data"]["attributes"]["md5sum"] == content_md5(b"version one")
    assert (await api.download(file_id)).content == b"version one"
    # The content replaced by the revert is kept as a version in turn.
    after = (await api.versions(file_id)).json()["data"]
    assert content_md5(b"version three!") in {v["attributes"]["md5sum"] for v in after}


async def test_patch_metadata_and_trash(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken, services: Services
) -> None:
    api = await _owner(client, instance, issue_token)
    file_id = await api.upload_ok("tool.sh", b"#!/bin/sh\n")
    changed = await api.patch(
        file_id,
        {
            "executable": True,
            "cozyMetadata": {"favorite": True},
            "updated_at": "2023-01-02T03:04:05Z",
        },
    )
    assert changed.status_code == 200, changed.text
    attributes = changed.json()["data"]["attributes"]
    assert attributes["executable"] is True
    assert attributes["cozyMetadata"]["favorite"] is True
    assert attributes["updated_at"] == "2023-01-02T03:04:05Z"
    before = await stored_revs(services, instance, FILES)
    for bad in (
        {"executable": "yes"},
        {"cozyMetadata": {"createdByApp": "me"}},
        {"updated_at": "soon"},
        {"md5sum": "forged"},
        {"type": "directory"},
    ):
        assert (await api.patch(file_id, bad)).status_code == 400, bad
    assert await stored_revs(services, instance, FILES) == before
    kept = await api.attributes(file_id)
    assert (kept["executable"], kept["updated_at"]) == (True, "2023-01-02T03:04:05Z")

    trashed = await api.patch(file_id, {"move_to_trash": True})
    assert trashed.status_code == 200
    assert trashed.json()["data"]["attributes"]["trashed"] is True


async def test_upload_date_header_and_tags(
    client: httpx.AsyncClient,
    instance: Instance,
    issue_token: IssueToken,
    services: Services,
    config: Config,
) -> None:
    api = await _owner(client, instance, issue_token)
    response = await api.upload(
        "dated.txt",
        b"d",
        headers={"Date": "Mon, 19 Sep 2016 12:38:04 GMT"},
        params={"Tags": "a, b,,a", "Executable": "true"},
    )
    assert response.status_code == 201, response.text
    attributes = response.json()["data"]["attributes"]
    assert attributes["updated_at"].startswith("2016-09-19T12:38:04")
    assert attributes["created_at"].startswith("2016-09-19T12:38:04")
    assert attributes["tags"] == ["a", "b"]
    assert attributes["executable"] is True
    before, on_disk = await stored_revs(services, instance, FILES), files_on_disk(config.files_dir)
    bad = await api.upload("undated.txt", b"d", headers={"Date": "not a date"})
    assert bad.status_code == 400
    assert await stored_revs(services, instance, FILES) == before
    assert files_on_disk(config.files_dir) <= on_disk


async def test_head_requests(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await _owner(client, instance, issue_token)
    file_id = await api.upload_ok("head.bin", b"0123456789")
    head = await client.head(f"/files/download/{file_id}", headers=api.headers)
    assert head.status_code == 200
    assert head.headers["content-length"] == "10"
    assert head.content == b""
    meta = await client.head(f"/files/{file_id}", headers=api.headers)
    assert meta.status_code == 200
    assert (await client.head("/files/no-such-file", headers=api.headers)).status_code == 404
