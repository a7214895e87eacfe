"""WebDAV behaviours real clients depend on (beyond litmus)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import re
import socket
import time
from datetime import UTC, datetime

import httpx
import pytest

from roost.services import Services
from tests.vfs.conftest import read_content
from tests.webdav.conftest import DavSite

WIN32_PROPPATCH = (
    '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" '
    'xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>'
    "<Z:Win32CreationTime>Wed, 01 Jan 2020 10:00:00 GMT</Z:Win32CreationTime>"
    "<Z:Win32LastModifiedTime>Thu, 02 Jan 2020 10:00:00 GMT</Z:Win32LastModifiedTime>"
    "<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>"
    "</D:prop></D:set></D:propertyupdate>"
)


def _hrefs(body: str) -> list[str]:
    return re.findall(r"<D:href>([^<]*)</D:href>", body)


def test_propfind_without_slash_empty_body_and_depths(dav_site: DavSite) -> None:
    with dav_site.client() as http:
        assert http.request("MKCOL", "/dav/files/proto/").status_code == 201
        http.put("/dav/files/proto/one.txt", content=b"1")
        # Windows: no trailing slash, no body, Depth 1 → 207 listing, never a redirect
        response = http.request("PROPFIND", "/dav/files/proto", headers={"Depth": "1"})
        assert response.status_code == 207
        assert _hrefs(response.text) == ["/dav/files/proto/", "/dav/files/proto/one.txt"]
        assert "<D:getlastmodified>" in response.text and "<D:getetag>" in response.text
        # empty <prop/> is not an error
        empty = http.request(
            "PROPFIND",
            "/dav/files/proto/",
            headers={"Depth": "0"},
            content=b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop/></D:propfind>',
        )
        assert empty.status_code == 207
        infinite = http.request("PROPFIND", "/dav/files/proto/", headers={"Depth": "infinity"})
        assert infinite.status_code == 403
        assert "propfind-finite-depth" in infinite.text
        # the trash is not part of the tree
        root = http.request("PROPFIND", "/dav/files/", headers={"Depth": "1"})
        assert ".cozy_trash" not in root.text
        assert http.request("PROPFIND", "/dav/files/.cozy_trash/").status_code == 404
        # MKCOL and DELETE accept both spellings
        assert http.request("MKCOL", "/dav/files/proto/noslash").status_code == 201
        assert http.request("MKCOL", "/dav/files/proto/noslash").status_code == 405
        assert http.delete("/dav/files/proto/noslash").status_code == 204


def test_quota_properties(dav_site: DavSite) -> None:
    body = (
        b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-used-bytes/>'
        b"<D:quota-available-bytes/></D:prop></D:propfind>"
    )
    with dav_site.client() as http:
        response = http.request("PROPFIND", "/dav/files/", headers={"Depth": "0"}, content=body)
    assert response.status_code == 207
    used_match = re.search(r"<D:quota-used-bytes>(\d+)<", response.text)
    available_match = re.search(r"<D:quota-available-bytes>(\d+)<", response.text)
    assert used_match, response.text
    assert int(used_match.group(1)) >= 0
    if dav_site.services.vfs.free_bytes() is None:
        # An object store without a quota has no free space to tell: the property is absent.
        assert available_match is None
    else:
        assert available_match, response.text
        assert int(available_match.group(1)) > 0


def test_put_get_range_etag_and_versions(dav_site: DavSite, services: Services) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    with dav_site.client() as http:
        http.request("MKCOL", "/dav/files/content/")
        created = http.put("/dav/files/content/blob.bin", content=data)
        assert created.status_code == 201
        etag = created.headers["ETag"]
        whole = http.get("/dav/files/content/blob.bin")
        assert whole.content == data and whole.headers["ETag"] == etag
        part = http.get("/dav/files/content/blob.bin", headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.content == data[1000:2000]
        assert (
            http.get("/dav/files/content/blob.bin", headers={"If-None-Match": etag}).status_code
            == 304
        )
        head = http.head("/dav/files/content/blob.bin")
        assert head.headers["content-length"] == str(len(data)) and head.content == b""

        # chunked upload (Finder sends no Content-Length) overwrites and keeps a version
        def chunks():
            yield b"new "
            yield b"content"

        assert http.put("/dav/files/content/blob.bin", content=chunks()).status_code == 204
        assert http.get("/dav/files/content/blob.bin").content == b"new content"
        assert (
            http.put(
                "/dav/files/content/blob.bin", content=b"x", headers={"If-Match": etag}
            ).status_code
            == 412
        )


@pytest.mark.parametrize("size", [0, 1, 4096, 64 * 1024, 64 * 1024 + 1])
def test_small_files_around_the_inline_read_answer_whole(dav_site: DavSite, size: int) -> None:
    """Up to 64 KiB a GET is read in one go from the blob; past it, streamed. Either way
    GET answers every byte and HEAD the same length with no body."""
    data = bytes((i * 7) % 251 for i in range(size))
    with dav_site.client() as http:
        http.request("MKCOL", "/dav/files/inline/")
        assert http.put(f"/dav/files/inline/{size}.bin", content=data).status_code == 201
        got = http.get(f"/dav/files/inline/{size}.bin")
        assert got.status_code == 200 and got.content == data
        assert got.headers["content-length"] == str(size)
        head = http.head(f"/dav/files/inline/{size}.bin")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(size)
        assert head.headers["etag"] == got.headers["etag"]


async def test_overwrite_makes_a_version(dav_site: DavSite, services: Services) -> None:
    with dav_site.client() as http:
        http.request("MKCOL", "/dav/files/versions/")
        for text in (b"v1", b"v2", b"v3"):
            http.put("/dav/files/versions/doc.txt", content=text)
    doc = await services.vfs.lookup(dav_site.instance, "/versions/doc.txt")
    versions = await services.vfs.list_versions(dav_site.instance, doc.id)
    contents = [
        await read_content(await services.vfs.open_version(dav_site.instance, v)) for v in versions
    ]
    assert contents == [b"v1", b"v2"]


def test_mtime_from_x_oc_mtime_and_win32_proppatch(dav_site: DavSite) -> None:
    with dav_site.client() as http:
        http.request("MKCOL", "/dav/files/mtime/")
        put = http.put(
            "/dav/files/mtime/old.txt", content=b"old", headers={"X-OC-Mtime": "1577836800"}
        )
        assert put.status_code == 201 and put.headers["X-OC-Mtime"] == "accepted"
        assert http.head("/dav/files/mtime/old.txt").headers["Last-Modified"] == (
            "Wed, 01 Jan 2020 00:00:00 GMT"
        )
        http.put("/dav/files/mtime/win.txt", content=b"w")
        patched = http.request("PROPPATCH", "/dav/files/mtime/win.txt", content=WIN32_PROPPATCH)
        assert patched.status_code == 207 and "200 OK" in patched.text
        assert http.head("/dav/files/mtime/win.txt").headers["Last-Modified"] == (
            "Thu, 02 Jan 2020 10:00:00 GMT"
        )
        listing = http.request(
            "PROPFIND",
            "/dav/files/mtime/win.txt",
            headers={"Depth": "0"},
            content=b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" '
            b'xmlns:Z="urn:schemas-microsoft-com:" xmlns:oc="http://owncloud.org/ns"><D:prop>'
            b"<Z:Win32FileAttributes/><oc:checksums/></D:prop></D:propfind>",
        )
        assert "00000020" in listing.text
        assert f"MD5:{hashlib.md5(b'w').hexdigest()}" in listing.text
        moved = http.request(
            "MOVE",
            "/dav/files/mtime/old.txt",
            headers={
                "Destination": f"{dav_site.base}/dav/files/mtime/renamed.txt",
                "X-OC-Mtime": "1600000000",
            },
        )
        assert moved.status_code == 201
        assert http.head("/dav/files/mtime/renamed.txt").headers["Last-Modified"] == (
            datetime.fromtimestamp(1600000000, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
        )


async def test_delete_goes_to_the_trash(dav_site: DavSite, services: Services) -> None:
    with dav_site.client() as http:
        http.request("MKCOL", "/dav/files/bin/")
        http.put("/dav/files/bin/gone.txt", content=b"recover me")
        assert http.delete("/dav/files/bin/gone.txt").status_code == 204
        assert http.get("/dav/files/bin/gone.txt").status_code == 404
    trash = await services.vfs.list_trash(dav_site.instance)
    assert any(doc.name.startswith("gone") and doc.restore_path == "/bin" for doc in trash)


async def test_lock_unmapped_url_creates_an_empty_locked_file(dav_site: DavSite) -> None:
    lockinfo = (
        b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
        b"</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>davfs2</D:owner></D:lockinfo>"
    )
    with dav_site.client() as http:
        http.request("MKCOL", "/dav/files/locked/")
        lock = http.request("LOCK", "/dav/files/locked/new.txt", content=lockinfo)
        assert lock.status_code == 201
        token = lock.headers["Lock-Token"]
        assert http.get("/dav/files/locked/new.txt").content == b""
        assert http.put("/dav/files/locked/new.txt", content=b"no token").status_code == 423
        assert http.get("/dav/files/locked/new.txt").content == b""
        ok = http.put("/dav/files/locked/new.txt", content=b"with", headers={"If": f"({token})"})
        assert ok.status_code == 204
        assert (
            http.request(
                "UNLOCK", "/dav/files/locked/new.txt", headers={"Lock-Token": token}
            ).status_code
            == 204
        )
        assert http.put("/dav/files/locked/new.txt", content=b"free").status_code == 204


async def test_over_quota_is_507_and_leaves_nothing(dav_site: DavSite, services: Services) -> None:
    instance = dav_site.instance
    live = dav_site.services
    used = (await services.vfs.disk_usage(instance)).used
    room = 1_000_000
    await services.instances.set_quota(instance, used + room)
    live.instances._cache.pop(instance.domain, None)  # the live server reads the new quota now
    live.vfs.usage._cache.pop(instance.domain, None)
    try:
        temps_before = set(await live.vfs.blobs.temporaries())
        with dav_site.client() as http:
            http.request("MKCOL", "/dav/files/quota/")
            known = http.put("/dav/files/quota/big.bin", content=b"a" * (room + 10))
            assert known.status_code == 507

            def stream():
                for _ in range(room // 65536 + 10):
                    yield b"b" * 65536

            streamed = http.put("/dav/files/quota/streamed.bin", content=stream())
            assert streamed.status_code == 507
            listing = http.request("PROPFIND", "/dav/files/quota/", headers={"Depth": "1"})
            assert _hrefs(listing.text) == ["/dav/files/quota/"]
            assert http.put("/dav/files/quota/small.bin", content=b"fits").status_code == 201
        assert set(await live.vfs.blobs.temporaries()) <= temps_before
    finally:
        await services.instances.set_quota(instance, None)
        live.instances._cache.pop(instance.domain, None)


def test_disconnect_mid_upload_leaves_no_file_and_no_temp(dav_site: DavSite) -> None:
    import base64

    blobs = dav_site.services.vfs.blobs

    def temporaries() -> set[str]:
        # The blob store's own listing (a temp dir, or S3 keys), outside the server's loop.
        return set(asyncio.run(blobs.temporaries()))

    before = temporaries()
    auth = base64.b64encode(f"u:{dav_site.password}".encode()).decode()
    with dav_site.client() as http:
        http.request("MKCOL", "/dav/files/cut/")
    head = (
        "PUT /dav/files/cut/half.bin HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{dav_site.port}\r\nAuthorization: Basic {auth}\r\n"
        "Content-Length: 10000000\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", dav_site.port)) as sock:
        sock.sendall(head + b"z" * 3_000_000)
        # Wait until the server has really started writing before going away.
        deadline = time.monotonic() + 30
        # (An S3 store shows nothing until a whole part is sent: then this waits it out.)
        while not (temporaries() - before) and time.monotonic() < deadline:
            time.sleep(0.02)
    # The server notices the disconnect on its own schedule: wait for its cleanup.
    deadline = time.monotonic() + 30
    while temporaries() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (temporaries() - before)
    with dav_site.client() as http:
        assert http.head("/dav/files/cut/half.bin").status_code == 404


async def test_concurrent_puts_end_in_one_file_and_versions(
    dav_site: DavSite, services: Services
) -> None:
    bodies = [f"writer {i} ".encode() * 1000 for i in range(8)]
    with dav_site.client() as http:
        http.request("MKCOL", "/dav/files/race/")

    def put(body: bytes) -> int:
        with dav_site.client() as client:
            return client.put("/dav/files/race/same.txt", content=body).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(put, bodies))
    assert all(status in (201, 204) for status in statuses), statuses
    assert statuses.count(201) == 1
    with dav_site.client() as http:
        final = http.get("/dav/files/race/same.txt").content
        listing = http.request("PROPFIND", "/dav/files/race/", headers={"Depth": "1"})
    assert final in bodies
    assert _hrefs(listing.text) == ["/dav/files/race/", "/dav/files/race/same.txt"]
    doc = await services.vfs.lookup(dav_site.instance, "/race/same.txt")
    versions = await services.vfs.list_versions(dav_site.instance, doc.id)
    assert len(versions) == 7


@pytest.mark.parametrize(
    "name", ["é t é.txt", "日本語 ファイル.md", "emoji 🎉.bin", "100% #1 & more.txt"]
)
def test_unicode_names_round_trip(dav_site: DavSite, name: str) -> None:
    from urllib.parse import quote

    with dav_site.client() as http:
        http.request("MKCOL", "/dav/files/names/")
        url = "/dav/files/names/" + quote(name)
        assert http.put(url, content=name.encode()).status_code in (201, 204)
        assert http.get(url).content == name.encode()
        head = http.head(url)
        assert head.content == b"" and head.headers["content-length"] == str(len(name.encode()))
        assert http.get(url, headers={"Range": "bytes=1-2"}).content == name.encode()[1:3]
        listing = http.request("PROPFIND", "/dav/files/names/", headers={"Depth": "1"})
        assert f"/dav/files/names/{quote(name, safe='')}" in _hrefs(listing.text)


def test_httpx_is_available() -> None:
    assert httpx.__version__
