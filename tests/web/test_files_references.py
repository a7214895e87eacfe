"""References between files and documents, from both sides."""

from __future__ import annotations

import httpx

from roost.instances import Instance
from roost.services import Services
from tests.stored import FILES, stored_revs
from tests.web.files_support import FilesApi, IssueToken, files_api

ALBUMS = "io.cozy.photos.albums"


async def _album(api: FilesApi, name: str) -> str:
    response = await api.http.post(f"/data/{ALBUMS}/", json={"name": name}, headers=api.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_references_from_the_file_side(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken, services: Services
) -> None:
    api = await files_api(client, instance, issue_token, f"io.cozy.files {ALBUMS}")
    album = await _album(api, "Summer")
    other = await _album(api, "Winter")
    photo = await api.upload_ok("beach.jpg", b"jpeg")

    added = await api.add_referenced_by(photo, [(ALBUMS, album), (ALBUMS, other)])
    assert added.status_code == 200, added.text
    body = added.json()
    assert body["meta"]["count"] == 2
    assert body["meta"]["rev"]
    assert {(r["type"], r["id"]) for r in body["data"]} == {(ALBUMS, album), (ALBUMS, other)}
    # Adding again is idempotent.
    again = await api.add_referenced_by(photo, [(ALBUMS, album)])
    assert again.json()["meta"]["count"] == 2

    meta = (await api.get(photo)).json()["data"]
    refs = meta["relationships"]["referenced_by"]["data"]
    assert {(r["type"], r["id"]) for r in refs} == {(ALBUMS, album), (ALBUMS, other)}

    listed = await api.references(ALBUMS, album)
    assert listed.status_code == 200, listed.text
    assert [entry["id"] for entry in listed.json()["data"]] == [photo]
    assert listed.json()["data"][0]["type"] == "io.cozy.files"

    removed = await api.remove_referenced_by(photo, [(ALBUMS, other)])
    assert removed.status_code == 200
    assert removed.json()["meta"]["count"] == 1
    assert (await api.references(ALBUMS, other)).json()["data"] == []

    bad_bodies: list[object] = [
        {"data": [{"type": ALBUMS}]},
        {"data": [{"type": "Not A Doctype", "id": "x"}]},
        {"data": "nope"},
        [],
    ]
    before = await stored_revs(services, instance, FILES)
    for bad in bad_bodies:
        response = await client.post(
            f"/files/{photo}/relationships/referenced_by", json=bad, headers=api.headers
        )
        assert response.status_code == 400, bad
    assert await stored_revs(services, instance, FILES) == before
    refs = (await api.get(photo)).json()["data"]["relationships"]["referenced_by"]["data"]
    assert refs == [{"type": ALBUMS, "id": album}]


async def test_references_from_the_document_side(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await files_api(client, instance, issue_token, f"io.cozy.files {ALBUMS}")
    album = await _album(api, "Trip")
    photos = [await api.upload_ok(f"p{i}.jpg", b"x" * i) for i in range(5)]

    added = await api.add_references(ALBUMS, album, photos)
    assert added.status_code == 204, added.text
    for photo in photos:
        refs = (await api.get(photo)).json()["data"]["relationships"]["referenced_by"]["data"]
        assert refs == [{"type": ALBUMS, "id": album}]

    listed = await api.references(ALBUMS, album)
    assert sorted(entry["id"] for entry in listed.json()["data"]) == sorted(photos)
    assert listed.json()["meta"]["count"] == 5

    # Paginated.
    first = await api.references(ALBUMS, album, **{"page[limit]": "2"})
    assert len(first.json()["data"]) == 2
    next_link = first.json()["links"]["next"]
    cursor = httpx.URL(next_link).params["page[cursor]"]
    second = await api.references(ALBUMS, album, **{"page[limit]": "2", "page[cursor]": cursor})
    assert len(second.json()["data"]) == 2
    assert not {e["id"] for e in first.json()["data"]} & {e["id"] for e in second.json()["data"]}

    removed = await api.remove_references(ALBUMS, album, photos[:3])
    assert removed.status_code == 204
    listed = await api.references(ALBUMS, album)
    assert sorted(entry["id"] for entry in listed.json()["data"]) == sorted(photos[3:])

    # Directories cannot be referenced; missing files are 404; nothing is half-done.
    folder = await api.mkdir_ok("not-a-photo")
    refused = await api.add_references(ALBUMS, album, [photos[0], folder])
    assert refused.status_code == 400
    missing = await api.add_references(ALBUMS, album, [photos[0], "no-such-file"])
    assert missing.status_code == 404
    assert "referenced_by" not in (await api.get(photos[0])).json()["data"].get("relationships", {})


async def test_references_need_both_permissions(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken, services: Services
) -> None:
    owner = await files_api(client, instance, issue_token, f"io.cozy.files {ALBUMS}")
    album = await _album(owner, "Private")
    photo = await owner.upload_ok("secret.jpg", b"s")
    files_before = await stored_revs(services, instance, FILES)
    albums_before = await stored_revs(services, instance, ALBUMS)

    files_only = await files_api(client, instance, issue_token, "io.cozy.files")
    assert (await files_only.add_referenced_by(photo, [(ALBUMS, album)])).status_code == 403
    assert (await files_only.add_references(ALBUMS, album, [photo])).status_code == 403
    assert (await files_only.references(ALBUMS, album)).status_code in (403, 404)

    albums_only = await files_api(client, instance, issue_token, ALBUMS)
    assert (await albums_only.add_references(ALBUMS, album, [photo])).status_code in (403, 404)
    assert (await albums_only.add_referenced_by(photo, [(ALBUMS, album)])).status_code in (
        403,
        404,
    )

    read_files = await files_api(client, instance, issue_token, f"io.cozy.files:GET {ALBUMS}")
    assert (await read_files.add_references(ALBUMS, album, [photo])).status_code == 403
    assert "referenced_by" not in (await owner.get(photo)).json()["data"].get("relationships", {})
    assert await stored_revs(services, instance, FILES) == files_before
    assert await stored_revs(services, instance, ALBUMS) == albums_before

    # Reading the references of an album needs the album; files one may not read are hidden.
    assert (await owner.add_references(ALBUMS, album, [photo])).status_code == 204
    album_reader = await files_api(client, instance, issue_token, f"{ALBUMS}:GET")
    listed = await album_reader.references(ALBUMS, album)
    assert listed.status_code == 200
    assert listed.json()["data"] == []
    both = await files_api(client, instance, issue_token, f"{ALBUMS}:GET io.cozy.files:GET")
    assert [e["id"] for e in (await both.references(ALBUMS, album)).json()["data"]] == [photo]


async def test_file_referenced_by_selector(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    owner = await files_api(client, instance, issue_token, f"io.cozy.files {ALBUMS}")
    album = await _album(owner, "Shared album")
    shown = await owner.upload_ok("shown.jpg", b"1")
    hidden = await owner.upload_ok("hidden.jpg", b"2")
    await owner.add_references(ALBUMS, album, [shown])
    viewer = await files_api(
        client, instance, issue_token, f"io.cozy.files:GET:{ALBUMS}/{album}:referenced_by"
    )
    assert (await viewer.download(shown)).content == b"1"
    assert (await viewer.download(hidden)).status_code == 404
