"""A folder's ETag changes whenever anything in its subtree changes (sync clients skip
folders whose ETag they already saw), and only then."""

from __future__ import annotations

import re

import httpx

from roost.services import Services
from tests.vfs.conftest import chunks_of
from tests.webdav.conftest import DavSite

DEPTH_0 = {"Depth": "0"}


def _etag(http: httpx.Client, path: str) -> str:
    response = http.request("PROPFIND", path, headers=DEPTH_0)
    assert response.status_code == 207, response.text
    found = re.findall(r"<D:getetag>([^<]*)</D:getetag>", response.text)
    assert len(found) == 1
    return str(found[0])


def _listing_etags(http: httpx.Client, path: str) -> dict[str, str]:
    response = http.request("PROPFIND", path, headers={"Depth": "1"})
    assert response.status_code == 207
    pairs = re.findall(
        r"<D:href>([^<]*)</D:href>.*?<D:getetag>([^<]*)</D:getetag>", response.text, re.S
    )
    return dict(pairs)


FOLDERS = ["/dav/files/et/", "/dav/files/et/a/", "/dav/files/et/a/b/", "/dav/files/et/a/b/c/"]
SIBLING = "/dav/files/et/sib/"


def _snapshot(http: httpx.Client) -> dict[str, str]:
    return {path: _etag(http, path) for path in ["/dav/files/", *FOLDERS, SIBLING]}


def test_a_change_deep_down_changes_every_ancestor_and_no_sibling(dav_site: DavSite) -> None:
    with dav_site.client() as http:
        for path in [*FOLDERS, SIBLING]:
            assert http.request("MKCOL", path).status_code == 201
        assert http.put(SIBLING + "s.txt", content=b"sibling").status_code == 201
        before = _snapshot(http)

        # A new file three levels below /et/: /et, a, b, c (and the root) change.
        assert http.put(FOLDERS[-1] + "new.txt", content=b"one").status_code == 201
        created = _snapshot(http)
        for path in ["/dav/files/", *FOLDERS]:
            assert created[path] != before[path], path
        assert created[SIBLING] == before[SIBLING]

        # Nothing written: nothing changes (a sync client then skips the subtree).
        assert _snapshot(http) == created

        # New content for the file: every ancestor again.
        assert http.put(FOLDERS[-1] + "new.txt", content=b"two").status_code == 204
        overwritten = _snapshot(http)
        for path in FOLDERS:
            assert overwritten[path] != created[path], path
        assert overwritten[SIBLING] == before[SIBLING]

        # A move changes both sides: the folder left and the folder entered.
        moved = http.request(
            "MOVE",
            FOLDERS[-1] + "new.txt",
            headers={"Destination": dav_site.base + SIBLING + "new.txt"},
        )
        assert moved.status_code == 201
        after_move = _snapshot(http)
        for path in [*FOLDERS, SIBLING]:
            assert after_move[path] != overwritten[path], path

        # A deletion (to the trash) too, and a folder's listing shows the same ETags.
        assert http.delete(SIBLING + "s.txt").status_code == 204
        after_delete = _snapshot(http)
        assert after_delete[SIBLING] != after_move[SIBLING]
        assert after_delete[FOLDERS[-1]] == after_move[FOLDERS[-1]]
        listing = _listing_etags(http, "/dav/files/et/")
        assert listing["/dav/files/et/a/"] == after_delete["/dav/files/et/a/"]
        assert listing["/dav/files/et/sib/"] == after_delete[SIBLING]
        # GET on a folder answers the same validator.
        assert http.get(SIBLING).headers["ETag"] == after_delete[SIBLING]


async def test_a_write_through_another_process_changes_the_etags(
    dav_site: DavSite, services: Services
) -> None:
    """`services` is not the server's: its VFS is another stack process on the same store."""
    with dav_site.client() as http:
        assert http.request("MKCOL", "/dav/files/far/").status_code == 201
        assert http.request("MKCOL", "/dav/files/far/deep/").status_code == 201
        assert http.request("MKCOL", "/dav/files/far/other/").status_code == 201
        before = {p: _etag(http, p) for p in ["/dav/files/far/", "/dav/files/far/other/"]}

    vfs = services.vfs
    deep = await vfs.lookup(dav_site.instance, "/far/deep")
    content = await vfs.stage(dav_site.instance, chunks_of(b"elsewhere"), size=9)
    async with content:
        await vfs.create_file(dav_site.instance, deep, "x.txt", content)

    with dav_site.client() as http:
        assert _etag(http, "/dav/files/far/") != before["/dav/files/far/"]
        assert _etag(http, "/dav/files/far/other/") == before["/dav/files/far/other/"]
