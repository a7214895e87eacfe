"""Two stack processes (two live servers, own services and caches) over one store and disk."""

from __future__ import annotations

import concurrent.futures

import httpx

from tests.conftest import LiveServer
from tests.webdav.conftest import DavSite

LOCKINFO = (
    b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
    b"</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
)


def _other(dav_site: DavSite, live_server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{live_server.port}",
        headers={"Host": dav_site.instance.domain},
        auth=("user", dav_site.password),
        timeout=60,
    )


def test_a_lock_taken_on_one_process_holds_on_the_other(
    dav_site: DavSite, live_server: LiveServer
) -> None:
    with dav_site.client() as first, _other(dav_site, live_server) as second:
        assert first.request("MKCOL", "/dav/files/procs/").status_code == 201
        assert second.put("/dav/files/procs/shared.txt", content=b"v1").status_code == 201
        assert first.get("/dav/files/procs/shared.txt").content == b"v1"
        lock = first.request("LOCK", "/dav/files/procs/shared.txt", content=LOCKINFO)
        assert lock.status_code == 200
        token = lock.headers["Lock-Token"]
        assert second.put("/dav/files/procs/shared.txt", content=b"no").status_code == 423
        assert (
            second.request("LOCK", "/dav/files/procs/shared.txt", content=LOCKINFO).status_code
            == 423
        )
        # Neither refusal wrote: the content is the first version on both processes.
        assert first.get("/dav/files/procs/shared.txt").content == b"v1"
        assert second.get("/dav/files/procs/shared.txt").content == b"v1"
        ok = second.put("/dav/files/procs/shared.txt", content=b"v2", headers={"If": f"({token})"})
        assert ok.status_code == 204
        assert first.get("/dav/files/procs/shared.txt").content == b"v2"
        unlock = second.request(
            "UNLOCK", "/dav/files/procs/shared.txt", headers={"Lock-Token": token}
        )
        assert unlock.status_code == 204


def test_one_name_is_created_once_across_processes(
    dav_site: DavSite, live_server: LiveServer
) -> None:
    with dav_site.client() as first:
        first.request("MKCOL", "/dav/files/procs2/")

    def mkcol(which: int) -> int:
        client = dav_site.client() if which % 2 else _other(dav_site, live_server)
        with client:
            return client.request("MKCOL", "/dav/files/procs2/same/").status_code

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(mkcol, range(6)))
    assert sorted(statuses) == [201] + [405] * 5, statuses
    with _other(dav_site, live_server) as second:
        listing = second.request("PROPFIND", "/dav/files/procs2/", headers={"Depth": "1"})
    assert listing.text.count("<D:href>/dav/files/procs2/same/</D:href>") == 1


def test_a_download_sees_what_the_other_process_just_wrote(
    dav_site: DavSite, live_server: LiveServer
) -> None:
    """Downloads answer from the folder's listing this process holds once the folder's
    stamp says nothing changed: a change made through the other process shows at once."""
    with dav_site.client() as first, _other(dav_site, live_server) as second:
        assert first.request("MKCOL", "/dav/files/fresh/").status_code == 201
        assert first.put("/dav/files/fresh/a.txt", content=b"one").status_code == 201
        assert first.request("PROPFIND", "/dav/files/fresh/", headers={"Depth": "1"}).is_success
        assert first.get("/dav/files/fresh/a.txt").content == b"one"
        assert second.put("/dav/files/fresh/a.txt", content=b"two").status_code == 204
        again = first.get("/dav/files/fresh/a.txt")
        assert again.content == b"two"
        assert again.headers["ETag"] == second.head("/dav/files/fresh/a.txt").headers["ETag"]
        assert second.put("/dav/files/fresh/b.txt", content=b"new").status_code == 201
        assert first.get("/dav/files/fresh/b.txt").content == b"new"
        assert (
            second.request(
                "MOVE", "/dav/files/fresh/a.txt", headers={"Destination": "/dav/files/fresh/c.txt"}
            ).status_code
            == 201
        )
        assert first.get("/dav/files/fresh/a.txt").status_code == 404
        assert first.get("/dav/files/fresh/c.txt").content == b"two"
        assert second.delete("/dav/files/fresh/c.txt").status_code == 204
        assert first.get("/dav/files/fresh/c.txt").status_code == 404
        assert first.head("/dav/files/fresh/b.txt").status_code == 200
