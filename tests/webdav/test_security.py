"""Who may do what through WebDAV: credentials, scoped app passwords, traversal, XML bombs."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from roost.dav.locks import LOCKS_DOCTYPE
from roost.permissions import PermissionSet
from roost.services import Services
from tests.stored import FILES, stored_revs
from tests.webdav.conftest import DavSite
from tests.webdav.rawhttp import raw_request

LOCKINFO = (
    b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
    b"</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
)
PROPPATCH = (
    b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set><D:prop>'
    b"<x:color>red</x:color></D:prop></D:set></D:propertyupdate>"
)


@pytest.fixture(scope="module")
def tree(dav_site: DavSite) -> Iterator[str]:
    """/sec/{open,closed}/ with a file in each; returns the id of /sec/open."""
    with dav_site.client() as http:
        for path in ("/dav/files/sec/", "/dav/files/sec/open/", "/dav/files/sec/closed/"):
            assert http.request("MKCOL", path).status_code in (201, 405)
        http.put("/dav/files/sec/open/a.txt", content=b"open file")
        http.put("/dav/files/sec/closed/b.txt", content=b"closed file")
    yield ""


def _snapshot(http: httpx.Client) -> str:
    response = http.request("PROPFIND", "/dav/files/sec/", headers={"Depth": "1"})
    assert response.status_code == 207
    return response.text


def test_no_credentials_is_401_with_basic_challenge(dav_site: DavSite) -> None:
    response = httpx.request("PROPFIND", dav_site.url, headers={"Depth": "0"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="Roost"'
    wrong = httpx.request("PROPFIND", dav_site.url, auth=("u", "roost-ap-nope-nope"))
    assert wrong.status_code == 401
    assert "Basic" in wrong.headers["WWW-Authenticate"]


async def test_token_works_as_bearer_and_as_basic_password(dav_site: DavSite, issue_token) -> None:
    token = await issue_token(dav_site.instance, "io.cozy.files:GET")
    async with httpx.AsyncClient() as http:
        bearer = await http.request(
            "PROPFIND", dav_site.url, headers={"Depth": "0", "Authorization": f"Bearer {token}"}
        )
        assert bearer.status_code == 207
        basic = await http.request(
            "PROPFIND", dav_site.url, headers={"Depth": "0"}, auth=("any", token)
        )
        assert basic.status_code == 207


async def test_read_only_password_cannot_write_anything(
    dav_site: DavSite, tree, app_password
) -> None:
    secret = await app_password(dav_site.instance, "io.cozy.files:GET")
    with dav_site.client() as owner, dav_site.client(secret) as reader:
        before = _snapshot(owner)
        assert reader.get("/dav/files/sec/open/a.txt").content == b"open file"
        dest = {"Destination": f"{dav_site.base}/dav/files/sec/new.txt"}
        attempts = [
            reader.put("/dav/files/sec/open/a.txt", content=b"changed"),
            reader.put("/dav/files/sec/new.txt", content=b"new"),
            reader.delete("/dav/files/sec/open/a.txt"),
            reader.request("MKCOL", "/dav/files/sec/newdir/"),
            reader.request("PROPPATCH", "/dav/files/sec/open/a.txt", content=PROPPATCH),
            reader.request("COPY", "/dav/files/sec/open/a.txt", headers=dest),
            reader.request("MOVE", "/dav/files/sec/open/a.txt", headers=dest),
            reader.request("LOCK", "/dav/files/sec/open/a.txt", content=LOCKINFO),
            reader.request("LOCK", "/dav/files/sec/unmapped.txt", content=LOCKINFO),
        ]
        assert [r.status_code for r in attempts] == [403] * len(attempts)
        assert _snapshot(owner) == before
        assert owner.get("/dav/files/sec/open/a.txt").content == b"open file"


async def test_subtree_password_stays_in_its_subtree(
    dav_site: DavSite, tree, services: Services, app_password
) -> None:
    open_dir = await services.vfs.lookup(dav_site.instance, "/sec/open")
    secret = await app_password(dav_site.instance, f"io.cozy.files:ALL:{open_dir.id}")
    base = dav_site.base
    with dav_site.client() as owner, dav_site.client(secret) as scoped:
        # inside: everything works
        assert (
            scoped.request("PROPFIND", "/dav/files/sec/open/", headers={"Depth": "1"}).status_code
            == 207
        )
        assert scoped.put("/dav/files/sec/open/inside.txt", content=b"in").status_code == 201
        assert scoped.delete("/dav/files/sec/open/inside.txt").status_code == 204
        # (taken after the writes inside: they change the folders' ETags, as they should)
        before = _snapshot(owner)
        # outside: neither listed nor read
        assert (
            scoped.request("PROPFIND", "/dav/files/sec/", headers={"Depth": "1"}).status_code == 404
        )
        assert scoped.request("PROPFIND", "/dav/files/", headers={"Depth": "0"}).status_code == 404
        assert scoped.get("/dav/files/sec/closed/b.txt").status_code == 404
        # no COPY or MOVE across the boundary, in either direction; what lies outside the
        # grant is answered as missing (404), exactly like what does not exist at all
        out = {"Destination": f"{base}/dav/files/sec/closed/stolen.txt"}
        assert scoped.request("COPY", "/dav/files/sec/open/a.txt", headers=out).status_code == 404
        assert scoped.request("MOVE", "/dav/files/sec/open/a.txt", headers=out).status_code == 404
        into = {"Destination": f"{base}/dav/files/sec/open/b.txt"}
        assert (
            scoped.request("COPY", "/dav/files/sec/closed/b.txt", headers=into).status_code == 404
        )
        assert scoped.request("MOVE", "/dav/files/sec/closed/b.txt", headers=into).status_code in (
            403,
            404,
        )
        hidden = scoped.delete("/dav/files/sec/closed/b.txt")
        missing = scoped.delete("/dav/files/sec/closed/no-such-file.txt")
        assert (hidden.status_code, hidden.text) == (missing.status_code, missing.text)
        assert hidden.status_code == 404
        assert scoped.put("/dav/files/sec/closed/c.txt", content=b"c").status_code == 404
        assert _snapshot(owner) == before
        assert owner.get("/dav/files/sec/closed/b.txt").content == b"closed file"


@pytest.mark.parametrize(
    "target",
    [
        "/dav/files/sec/open/../closed/b.txt",
        "/dav/files/sec/open/%2e%2e/closed/b.txt",
        "/dav/files/sec/open/%2E%2E/closed/b.txt",
        "/dav/files/sec/open%2F..%2Fclosed/b.txt",
        "/dav/files/sec/open/..%5Cclosed/b.txt",
        "/dav/files/sec/open\\..\\closed\\b.txt",
        "/dav/files/%2e%2e/%2e%2e/etc/passwd",
        "/dav/files/../../etc/passwd",
        "/dav/files/sec/%00/b.txt",
    ],
)
async def test_traversal_is_refused(
    dav_site: DavSite, tree, services: Services, app_password, target: str
) -> None:
    open_dir = await services.vfs.lookup(dav_site.instance, "/sec/open")
    secret = await app_password(dav_site.instance, f"io.cozy.files:ALL:{open_dir.id}")
    for method in ("GET", "DELETE", "PUT"):
        status, body = raw_request(dav_site.port, method, target, password=secret, body=b"x")
        assert status in (400, 404), (method, target, status, body)
    with dav_site.client() as owner:
        assert owner.get("/dav/files/sec/closed/b.txt").content == b"closed file"


@pytest.mark.parametrize(
    "destination",
    [
        "http://evil.example/dav/files/sec/copied.txt",
        "http://127.0.0.1:1/dav/files/sec/copied.txt",
        "/elsewhere/copied.txt",
        "/dav/filesX/copied.txt",
        "/dav/files/sec/../../copied.txt",
        "/dav/files/sec/%2e%2e/copied.txt",
        "ftp://127.0.0.1/dav/files/copied.txt",
    ],
)
def test_destination_outside_the_tree_is_refused(dav_site: DavSite, tree, destination: str) -> None:
    with dav_site.client() as owner:
        before = _snapshot(owner)
        for method in ("COPY", "MOVE"):
            status, _ = raw_request(
                dav_site.port,
                method,
                "/dav/files/sec/open/a.txt",
                password=dav_site.password,
                headers={"Destination": destination},
            )
            assert status in (400, 403, 502), (method, destination, status)
        assert _snapshot(owner) == before


async def test_another_instance_is_not_reachable(
    dav_site: DavSite, tree, new_instance, services: Services
) -> None:
    other = await new_instance("other")
    _, secret = await services.app_passwords.create(
        other,
        "x",
        PermissionSet.from_inline("io.cozy.files"),
    )
    # The other instance's password means nothing on this instance.
    with dav_site.client(secret) as http:
        assert http.request("PROPFIND", "/dav/files/", headers={"Depth": "0"}).status_code == 401


# Dead properties live in the file documents, locks in their own database.
STORED = (FILES, LOCKS_DOCTYPE)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol9;</D:displayname>'
    + b"</D:prop></D:propfind>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:x>&xxe;</D:x></D:prop></D:set>'
    b"</D:propertyupdate>"
)


@pytest.mark.parametrize("method", ["PROPFIND", "PROPPATCH", "LOCK"])
@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])
async def test_xml_bombs_are_refused_with_flat_memory(
    app, instance, services: Services, method: str, body: bytes
) -> None:
    _, secret = await services.app_passwords.create(
        instance,
        "x",
        PermissionSet.from_inline("io.cozy.files"),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{instance.domain}") as http:
        await http.put("/dav/files/target.txt", content=b"t", auth=("u", secret))
        before = [await stored_revs(services, instance, doctype) for doctype in STORED]
        tracemalloc.start()
        try:
            response = await http.request(
                method, "/dav/files/target.txt", content=body, auth=("u", secret)
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert response.status_code == 400
        assert peak < 4 * 1024 * 1024, peak
        assert b"root:" not in response.content
        # Refused before any change: no property set, no lock taken, the file as it was.
        assert [await stored_revs(services, instance, doctype) for doctype in STORED] == before
        assert (await http.get("/dav/files/target.txt", auth=("u", secret))).content == b"t"
