"""`/files`: upload, download, conditional requests, checksums, quota."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx

from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID
from roost.services import Services
from tests.stored import FILES, stored_revs
from tests.web.files_support import FilesApi, IssueToken, content_md5, files_api, stored_bytes


async def _owner(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> FilesApi:
    return await files_api(client, instance, issue_token, "io.cozy.files")


async def test_upload_download_round_trip(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await _owner(client, instance, issue_token)
    content = os.urandom(300_000) + "é\x00".encode()
    response = await api.upload(
        "photo.jpg",
        content,
        headers={"Content-MD5": content_md5(content), "Content-Type": "image/jpeg"},
        params={"Tags": "holidays,beach", "CreatedAt": "2020-01-02T03:04:05Z"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/vnd.api+json")
    data = response.json()["data"]
    assert data["type"] == "io.cozy.files"
    assert response.headers["location"].endswith(f"/files/{data['id']}")
    attributes = data["attributes"]
    assert attributes["type"] == "file"
    assert attributes["name"] == "photo.jpg"
    assert attributes["dir_id"] == ROOT_DIR_ID
    assert attributes["size"] == len(content)
    assert attributes["md5sum"] == content_md5(content)
    assert attributes["mime"] == "image/jpeg"
    assert attributes["class"] == "image"
    assert attributes["tags"] == ["holidays", "beach"]
    assert attributes["created_at"].startswith("2020-01-02T03:04:05")
    assert attributes["trashed"] is False
    assert data["meta"]["rev"]
    assert data["relationships"]["parent"]["data"]["id"] == ROOT_DIR_ID

    downloaded = await api.download(data["id"])
    assert downloaded.status_code == 200
    assert downloaded.content == content
    assert hashlib.md5(downloaded.content).hexdigest() == hashlib.md5(content).hexdigest()
    assert downloaded.headers["content-type"] == "image/jpeg"
    assert downloaded.headers["content-length"] == str(len(content))
    assert downloaded.headers["etag"] == f'"{content_md5(content)}"'
    assert downloaded.headers["content-disposition"].startswith("inline")

    attachment = await api.download_path("/photo.jpg", Dl="1")
    assert attachment.status_code == 200
    assert attachment.content == content
    assert attachment.headers["content-disposition"] == 'attachment; filename="photo.jpg"'


async def test_streamed_upload_without_length(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await _owner(client, instance, issue_token)
    chunks = [os.urandom(65_536) for _ in range(5)]

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    response = await api.upload("stream.bin", body())
    assert response.status_code == 201, response.text
    file_id = response.json()["data"]["id"]
    assert (await api.download(file_id)).content == b"".join(chunks)


async def test_unicode_names_and_disposition(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await _owner(client, instance, issue_token)
    # Decomposed on input, stored composed (NFC).
    file_id = await api.upload_ok("re\u0301sume\u0301 v2.txt", b"cv")
    assert (await api.attributes(file_id))["name"] == "résumé v2.txt"
    response = await api.download(file_id, Dl="1")
    assert response.headers["content-disposition"].startswith("attachment; filename*=UTF-8''")
    assert "r%C3%A9sum%C3%A9%20v2.txt" in response.headers["content-disposition"]


async def test_range_requests(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await _owner(client, instance, issue_token)
    content = bytes(range(256)) * 100
    file_id = await api.upload_ok("ranges.bin", content)

    first = await api.download(file_id, {"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.content == content[:100]
    assert first.headers["content-range"] == f"bytes 0-99/{len(content)}"

    tail = await api.download(file_id, {"Range": "bytes=-10"})
    assert tail.status_code == 206
    assert tail.content == content[-10:]

    multi = await api.download(file_id, {"Range": "bytes=0-1,100-101"})
    assert multi.status_code == 206
    assert multi.headers["content-type"].startswith("multipart/byteranges; boundary=")

    beyond = await api.download(file_id, {"Range": f"bytes={len(content)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(content)}"

    etag = first.headers["etag"]
    still = await api.download(file_id, {"Range": "bytes=0-9", "If-Range": etag})
    assert still.status_code == 206
    changed = await api.download(file_id, {"Range": "bytes=0-9", "If-Range": '"other"'})
    assert changed.status_code == 200
    assert changed.content == content


async def test_etag_and_if_none_match(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await _owner(client, instance, issue_token)
    file_id = await api.upload_ok("cached.txt", b"v1")
    first = await api.download(file_id)
    etag = first.headers["etag"]

    cached = await api.download(file_id, {"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert (await api.download(file_id, {"If-None-Match": f'W/{etag}, "x"'})).status_code == 304
    assert (await api.download(file_id, {"If-None-Match": "*"})).status_code == 304
    assert (await api.download(file_id, {"If-None-Match": '"x"'})).status_code == 200

    assert (await api.overwrite(file_id, b"v2")).status_code == 200
    fresh = await api.download(file_id, {"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.content == b"v2"
    assert fresh.headers["etag"] != etag


async def test_if_match_on_overwrite(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken
) -> None:
    api = await _owner(client, instance, issue_token)
    file_id = await api.upload_ok("doc.txt", b"one")
    rev = await api.rev(file_id)

    ok = await api.overwrite(file_id, b"two", {"If-Match": rev})
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["attributes"]["md5sum"] == content_md5(b"two")
    assert ok.json()["data"]["meta"]["rev"] != rev

    stale = await api.overwrite(file_id, b"three", {"If-Match": rev})
    assert stale.status_code == 412
    assert stale.json()["error"]
    assert (await api.download(file_id)).content == b"two"

    quoted = await api.overwrite(file_id, b"four", {"If-Match": f'"{await api.rev(file_id)}"'})
    assert quoted.status_code == 200
    assert (await api.download(file_id)).content == b"four"


async def test_content_md5_mismatch_stores_nothing(
    client: httpx.AsyncClient,
    instance: Instance,
    issue_token: IssueToken,
    services: Services,
) -> None:
    api = await _owner(client, instance, issue_token)
    before = await stored_bytes(services, instance)
    response = await api.upload("bad.txt", b"hello", headers={"Content-MD5": content_md5(b"other")})
    assert response.status_code == 412
    assert response.json()["error"]
    assert (await api.metadata("/bad.txt")).status_code == 404
    assert (await stored_bytes(services, instance)).nothing_added_since(before)

    file_id = await api.upload_ok("good.txt", b"hello")
    rev = await api.rev(file_id)
    bad_put = await api.overwrite(file_id, b"world", {"Content-MD5": content_md5(b"hello")})
    assert bad_put.status_code == 412
    assert await api.rev(file_id) == rev
    assert (await api.download(file_id)).content == b"hello"

    stored, on_disk = (
        await stored_revs(services, instance, FILES),
        await stored_bytes(services, instance),
    )
    malformed = await api.upload("bad2.txt", b"x", headers={"Content-MD5": "not base64!"})
    assert malformed.status_code == 400
    assert await stored_revs(services, instance, FILES) == stored
    assert (await stored_bytes(services, instance)).nothing_added_since(on_disk)


async def test_same_name_is_409(
    client: httpx.AsyncClient, instance: Instance, issue_token: IssueToken, services: Services
) -> None:
    api = await _owner(client, instance, issue_token)
    first = await api.upload_ok("twice.txt", b"1")
    folder = await api.mkdir_ok("folder")
    before = await stored_revs(services, instance, FILES)
    again = await api.upload("twice.txt", b"2")
    assert again.status_code == 409
    assert again.json()["error"]
    assert (await api.mkdir("folder")).status_code == 409
    assert (await api.upload("folder", b"x")).status_code == 409
    # The clashes wrote nothing: the first file keeps its content, the folder stays a folder.
    assert await stored_revs(services, instance, FILES) == before
    assert (await api.download(first)).content == b"1"
    assert (await api.attributes(folder))["type"] == "directory"


async def test_bad_input_is_4xx(
    client: httpx.AsyncClient,
    instance: Instance,
    issue_token: IssueToken,
    services: Services,
) -> None:
    api = await _owner(client, instance, issue_token)
    headers = api.headers
    await services.vfs.root(instance)  # the tree a new instance gets on first use, made first
    before, on_disk = (
        await stored_revs(services, instance, FILES),
        await stored_bytes(services, instance),
    )
    assert (await client.post("/files/", params={"Name": "x"}, headers=headers)).status_code == 400
    no_name = await client.post("/files/", params={"Type": "file"}, headers=headers)
    assert no_name.status_code == 400
    for name in ("a/b", "..", ".", "", "x\x00y"):
        response = await api.upload(name, b"x")
        assert 400 <= response.status_code < 500, (name, response.status_code)
    missing_parent = await api.upload("x.txt", b"x", dir_id="no-such-dir")
    assert missing_parent.status_code == 404
    assert await stored_revs(services, instance, FILES) == before
    assert (await stored_bytes(services, instance)).nothing_added_since(on_disk)
    file_id = await api.upload_ok("plain.txt", b"x")
    dir_id = await api.mkdir_ok("not-a-file")
    before, on_disk = (
        await stored_revs(services, instance, FILES),
        await stored_bytes(services, instance),
    )
    into_file = await api.upload("y.txt", b"y", dir_id=file_id)
    assert 400 <= into_file.status_code < 500
    bad_date = await api.upload("d.txt", b"x", params={"CreatedAt": "yesterday"})
    assert bad_date.status_code == 400
    assert (await api.get("no-such-file")).status_code == 404
    assert (await api.download("no-such-file")).status_code == 404
    assert 400 <= (await api.download(dir_id)).status_code < 500
    assert 400 <= (await api.overwrite(dir_id, b"x")).status_code < 500
    assert await stored_revs(services, instance, FILES) == before
    assert (await stored_bytes(services, instance)).nothing_added_since(on_disk)
    unauthenticated = await client.get(f"/files/{file_id}")
    assert unauthenticated.status_code == 401


async def test_quota_is_507_before_storing(
    client: httpx.AsyncClient,
    issue_token: IssueToken,
    new_instance: Callable[..., Awaitable[Instance]],
    services: Services,
) -> None:
    small = await new_instance("quota", quota_bytes=1000)
    api = await files_api(client, small, issue_token, "io.cozy.files")
    host = {"Host": small.domain}
    api.headers.update(host)
    await api.upload_ok("fits.bin", b"x" * 600)
    before = await stored_bytes(services, small)

    consumed = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal consumed
        for _ in range(10):
            consumed += 1
            yield b"y" * 100

    # A declared size over the quota is refused before any byte is read.
    refused = await api.upload("big.bin", body(), headers={"Content-Length": "1000"})
    assert refused.status_code == 507
    assert refused.json()["error"]
    assert consumed == 0
    assert (await api.metadata("/big.bin")).status_code == 404

    # Without a declared size, the upload is cut when it crosses the quota.
    streamed = await api.upload("big2.bin", body())
    assert streamed.status_code == 507
    assert (await api.metadata("/big2.bin")).status_code == 404
    assert (await stored_bytes(services, small)).nothing_added_since(before)

    usage = (await api.disk_usage()).json()["data"]["attributes"]
    assert int(usage["used"]) == 600
    assert int(usage["quota"]) == 1000


async def test_disk_usage_numbers(
    client: httpx.AsyncClient,
    issue_token: IssueToken,
    new_instance: Callable[..., Awaitable[Instance]],
) -> None:
    fresh = await new_instance("usage", quota_bytes=10_000)
    api = await files_api(client, fresh, issue_token, "io.cozy.files")
    api.headers["Host"] = fresh.domain
    empty = await api.disk_usage()
    assert empty.status_code == 200, empty.text
    body = empty.json()["data"]
    assert body["type"] == "io.cozy.settings"
    assert body["id"] == "io.cozy.settings.disk-usage"
    assert int(body["attributes"]["used"]) == 0

    kept = await api.upload_ok("kept.bin", b"k" * 100)
    trashed = await api.upload_ok("trashed.bin", b"t" * 30)
    assert (await api.overwrite(kept, b"n" * 40)).status_code == 200  # 100 bytes become a version
    assert (await api.trash(trashed)).status_code == 200
    usage = (await api.disk_usage()).json()["data"]["attributes"]
    assert int(usage["quota"]) == 10_000
    # `files` is live content, `trash` trashed content, `used` all three together.
    assert int(usage["files"]) == 40
    assert int(usage["trash"]) == 30
    assert int(usage["versions"]) == 100
    assert int(usage["used"]) == 40 + 30 + 100
