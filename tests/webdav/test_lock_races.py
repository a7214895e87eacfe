"""Exclusive LOCKs exclude under concurrency: through one stack, and through two stacks
(two live servers, each with its own services and event loop) over one store."""

from __future__ import annotations

import asyncio
import re

import httpx

from tests.conftest import LiveServer
from tests.webdav.conftest import DavSite

RACERS = 50


def _lockinfo(scope: str) -> bytes:
    return (
        f'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:{scope}/>'
        "</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
    ).encode()


def _client(port: int, dav_site: DavSite) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Host": dav_site.instance.domain},
        auth=("user", dav_site.password),
        timeout=120,
        limits=httpx.Limits(max_connections=RACERS),
    )


async def _race(
    dav_site: DavSite, ports: list[int], paths: list[str], scope: str = "exclusive"
) -> list[httpx.Response]:
    """RACERS LOCK requests sent at once, spread over the servers and the paths."""
    clients = [_client(port, dav_site) for port in ports]
    try:
        return list(
            await asyncio.gather(
                *(
                    clients[i % len(clients)].request(
                        "LOCK", paths[i % len(paths)], content=_lockinfo(scope)
                    )
                    for i in range(RACERS)
                )
            )
        )
    finally:
        for client in clients:
            await client.aclose()


def _active_locks(dav_site: DavSite, path: str) -> list[str]:
    body = (
        b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:">'
        b"<D:prop><D:lockdiscovery/></D:prop></D:propfind>"
    )
    with dav_site.client() as client:
        answer = client.request("PROPFIND", path, headers={"Depth": "0"}, content=body)
    assert answer.status_code == 207
    return re.findall(r"<D:locktoken><D:href>([^<]+)</D:href>", answer.text)


async def _exactly_one_wins(dav_site: DavSite, ports: list[int], folder: str) -> None:
    with dav_site.client() as owner:
        assert owner.request("MKCOL", f"/dav/files/{folder}/").status_code == 201
        assert owner.put(f"/dav/files/{folder}/doc.txt", content=b"v1").status_code == 201
    answers = await _race(dav_site, ports, [f"/dav/files/{folder}/doc.txt"])
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [423] * (RACERS - 1), statuses
    winner = next(answer for answer in answers if answer.status_code == 200)
    token = winner.headers["Lock-Token"]
    # The store holds that one lock and no other, and it protects the resource.
    assert _active_locks(dav_site, f"/dav/files/{folder}/doc.txt") == [token[1:-1]]
    with dav_site.client() as owner:
        assert owner.put(f"/dav/files/{folder}/doc.txt", content=b"no").status_code == 423
        assert owner.get(f"/dav/files/{folder}/doc.txt").content == b"v1"
        unlock = owner.request(
            "UNLOCK", f"/dav/files/{folder}/doc.txt", headers={"Lock-Token": token}
        )
        assert unlock.status_code == 204
        assert owner.put(f"/dav/files/{folder}/doc.txt", content=b"v2").status_code == 204
    assert _active_locks(dav_site, f"/dav/files/{folder}/doc.txt") == []


async def test_one_of_many_exclusive_locks_wins_in_one_process(dav_site: DavSite) -> None:
    await _exactly_one_wins(dav_site, [dav_site.port], "race-one")


async def test_one_of_many_exclusive_locks_wins_across_processes(
    dav_site: DavSite, live_server: LiveServer
) -> None:
    await _exactly_one_wins(dav_site, [dav_site.port, live_server.port], "race-two")


async def test_one_lock_of_an_unmapped_url_wins(dav_site: DavSite, live_server: LiveServer) -> None:
    with dav_site.client() as owner:
        assert owner.request("MKCOL", "/dav/files/race-new/").status_code == 201
    answers = await _race(
        dav_site, [dav_site.port, live_server.port], ["/dav/files/race-new/new.txt"]
    )
    statuses = [answer.status_code for answer in answers]
    assert sorted(status for status in statuses if status != 423) in ([200], [201]), statuses
    assert statuses.count(423) == RACERS - 1
    assert len(_active_locks(dav_site, "/dav/files/race-new/new.txt")) == 1


async def test_shared_locks_are_all_granted_together(dav_site: DavSite) -> None:
    with dav_site.client() as owner:
        assert owner.request("MKCOL", "/dav/files/race-shared/").status_code == 201
        assert owner.put("/dav/files/race-shared/doc.txt", content=b"s").status_code == 201
    answers = await _race(dav_site, [dav_site.port], ["/dav/files/race-shared/doc.txt"], "shared")
    assert [answer.status_code for answer in answers] == [200] * RACERS
    tokens = {answer.headers["Lock-Token"][1:-1] for answer in answers}
    assert set(_active_locks(dav_site, "/dav/files/race-shared/doc.txt")) == tokens
    with dav_site.client() as owner:
        exclusive = owner.request(
            "LOCK", "/dav/files/race-shared/doc.txt", content=_lockinfo("exclusive")
        )
        assert exclusive.status_code == 423
    # The refused exclusive lock left no trace: the shared holders are exactly as they were.
    assert set(_active_locks(dav_site, "/dav/files/race-shared/doc.txt")) == tokens


async def test_a_collection_and_its_member_are_never_both_locked(
    dav_site: DavSite, live_server: LiveServer
) -> None:
    """Depth-infinity locks of a collection racing exclusive locks of a member: at most
    one of all of them holds (they live in different store documents)."""
    with dav_site.client() as owner:
        assert owner.request("MKCOL", "/dav/files/race-tree/").status_code == 201
        assert owner.put("/dav/files/race-tree/member.txt", content=b"m").status_code == 201
    answers = await _race(
        dav_site,
        [dav_site.port, live_server.port],
        ["/dav/files/race-tree/", "/dav/files/race-tree/member.txt"],
    )
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) <= {200, 423}, statuses
    assert statuses.count(200) <= 1, statuses
    held = _active_locks(dav_site, "/dav/files/race-tree/member.txt")
    assert len(held) == statuses.count(200)


async def test_an_expired_lock_excludes_no_more(dav_site: DavSite) -> None:
    with dav_site.client() as owner:
        assert owner.request("MKCOL", "/dav/files/race-expiry/").status_code == 201
        assert owner.put("/dav/files/race-expiry/doc.txt", content=b"e").status_code == 201
        first = owner.request(
            "LOCK",
            "/dav/files/race-expiry/doc.txt",
            content=_lockinfo("exclusive"),
            headers={"Timeout": "Second-1"},
        )
        assert first.status_code == 200
        again = owner.request(
            "LOCK", "/dav/files/race-expiry/doc.txt", content=_lockinfo("exclusive")
        )
        assert again.status_code == 423
        held = _active_locks(dav_site, "/dav/files/race-expiry/doc.txt")
        assert held == [first.headers["Lock-Token"][1:-1]]
        await asyncio.sleep(1.5)  # let the first lock expire
        second = owner.request(
            "LOCK", "/dav/files/race-expiry/doc.txt", content=_lockinfo("exclusive")
        )
        assert second.status_code == 200
    assert _active_locks(dav_site, "/dav/files/race-expiry/doc.txt") == [
        second.headers["Lock-Token"][1:-1]
    ]
