"""A share link's public pages over HTTP, with no account: what each kind of link shows,
what it refuses (and that nothing changed), passwords, 404 and 410, and the access log."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from roost.instances import Instance
from roost.permission_docs import PERMISSIONS_DOCTYPE
from roost.permissions import PermissionSet
from roost.services import Services
from roost.sharing.links import MAX_PASSWORD_FAILURES
from tests.sharing.helpers import make_file, make_folder, names_in, path_of, share, share_docs

SCOPE = "io.cozy.files io.roost.share_links io.cozy.photos.albums"


async def _client(app: Starlette, instance: Instance, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://{instance.domain}",
        headers=headers,
    )


@pytest.fixture
async def api(
    app: Starlette, instance: Instance, issue_token: Callable[..., Awaitable[str]]
) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(app, instance, await issue_token(instance, SCOPE)) as client:
        yield client


@pytest.fixture
async def visitor(app: Starlette, instance: Instance) -> AsyncIterator[httpx.AsyncClient]:
    """Someone holding the link and nothing else (a fresh cookie jar)."""
    async with await _client(app, instance, None) as client:
        yield client


async def test_a_shared_folder_lists_previews_downloads_and_zips(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient
) -> None:
    folder = await make_folder(api, "Holidays")
    sub = await make_folder(api, "Beach", folder)
    note = await make_file(api, "note.txt", b"sunny\n" * 100, folder)
    shell = await make_file(api, "shell.bin", bytes(range(256)) * 40, sub)
    link = await share(api, folder)
    base = path_of(link)

    home = await visitor.get(base)
    assert home.status_code == 200
    assert home.headers["referrer-policy"] == "no-referrer"
    assert "note.txt" in home.text and "Beach" in home.text
    assert "shell.bin" not in home.text  # inside the sub-folder
    inner = await visitor.get(f"{base}/folder/{sub}")
    assert inner.status_code == 200 and "shell.bin" in inner.text
    view = await visitor.get(f"{base}/view/{note}")
    assert view.status_code == 200 and f"{base}/raw/{note}" in view.text
    assert view.text.count("sunny") == 100  # the text itself, in the page
    big = await make_file(api, "big.txt", b"a" * 300_000 + b"THE END", folder)
    start = await visitor.get(f"{base}/view/{big}")
    assert "Only the beginning is shown" in start.text and "THE END" not in start.text

    raw = await visitor.get(f"{base}/raw/{note}")
    assert raw.status_code == 200 and raw.content == b"sunny\n" * 100
    part = await visitor.get(f"{base}/raw/{shell}", headers={"Range": "bytes=256-511"})
    assert part.status_code == 206 and part.content == bytes(range(256))
    saved = await visitor.get(f"{base}/raw/{note}", params={"Dl": "1"})
    assert saved.headers["content-disposition"].startswith("attachment")

    zipped = await visitor.get(f"{base}/zip/{folder}")
    assert zipped.status_code == 200
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        assert archive.read("Holidays/note.txt") == b"sunny\n" * 100
        assert archive.read("Holidays/Beach/shell.bin") == bytes(range(256)) * 40


async def test_a_link_to_folder_a_cannot_read_folder_b(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient
) -> None:
    a = await make_folder(api, "A")
    b = await make_folder(api, "B")
    in_b = await make_file(api, "secret.txt", b"secret", b)
    base = path_of(await share(api, a))
    missing = await visitor.get(f"{base}/raw/{'0' * 32}")
    assert missing.status_code == 404
    for path in (f"/raw/{in_b}", f"/view/{in_b}", f"/folder/{b}", f"/zip/{b}"):
        answer = await visitor.get(base + path)
        assert answer.status_code == 404, path
        assert answer.text == missing.text  # byte for byte: no existence oracle
    thumb = await visitor.get(f"{base}/thumbnails/{in_b}/small")
    assert thumb.status_code == 404
    # A link to one file reads that file only, not its folder's other files.
    other = await make_file(api, "other.txt", b"other", a)
    one = path_of(await share(api, await make_file(api, "one.txt", b"one", a)))
    assert (await visitor.get(f"{one}/raw/{other}")).status_code == 404


async def test_a_read_only_link_cannot_write(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient
) -> None:
    folder = await make_folder(api, "Docs")
    await make_file(api, "a.txt", b"a", folder)
    base = path_of(await share(api, folder))
    before = await names_in(api, folder)
    refused = await visitor.post(f"{base}/upload", params={"Name": "evil.txt"}, content=b"x")
    assert refused.status_code == 403
    # The link is no credential for the files API either.
    sneaky = await visitor.post(
        f"/files/{folder}", params={"Type": "file", "Name": "evil.txt"}, content=b"x"
    )
    assert sneaky.status_code == 401
    assert await names_in(api, folder) == before


async def test_drop_links_take_files_and_show_nothing(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient
) -> None:
    inbox = await make_folder(api, "Inbox")
    existing = await make_file(api, "report.pdf", b"%PDF-1.4 mine", inbox)
    link = await share(api, inbox, kind="drop")
    base = path_of(link)
    page = await visitor.get(base)
    assert page.status_code == 200 and "Inbox" in page.text
    assert "report.pdf" not in page.text
    for path in (f"/raw/{existing}", f"/view/{existing}", f"/folder/{inbox}", f"/zip/{inbox}"):
        assert (await visitor.get(base + path)).status_code == 404, path

    for body in (b"%PDF-1.4 first", b"%PDF-1.4 second"):
        sent = await visitor.post(
            f"{base}/upload",
            params={"Name": "report.pdf"},
            content=body,
            headers={"Content-Type": "application/pdf"},
        )
        assert sent.status_code == 201, sent.text
        assert set(sent.json()) == {"uploaded", "size"}  # no name, no id, nothing of the folder
    names = await names_in(api, inbox)
    assert sorted(names) == ["report (2).pdf", "report (3).pdf", "report.pdf"]
    mine = await api.get(f"/files/download/{existing}")
    assert mine.content == b"%PDF-1.4 mine"  # never overwritten
    second = await api.get(f"/files/download/{names['report (3).pdf']}")
    assert second.content == b"%PDF-1.4 second"
    bad = await visitor.post(f"{base}/upload", params={"Name": "a/b"}, content=b"x")
    assert bad.status_code == 400
    assert (await visitor.post(f"{base}/upload", content=b"x")).status_code == 400
    assert sorted(await names_in(api, inbox)) == sorted(names)


async def test_a_full_quota_refuses_a_drop_plainly(
    app: Starlette,
    new_instance: Callable[..., Awaitable[Instance]],
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    small = await new_instance("small", quota_bytes=1000)
    async with await _client(app, small, await issue_token(small, SCOPE)) as api:
        inbox = await make_folder(api, "Inbox")
        base = path_of(await share(api, inbox, kind="drop"))
        async with await _client(app, small, None) as visitor:
            full = await visitor.post(
                f"{base}/upload", params={"Name": "big.bin"}, content=b"x" * 5000
            )
        assert full.status_code == 507
        assert full.json()["error"] == "quota_exceeded"
        assert await names_in(api, inbox) == {}


async def test_passwords_wrong_then_right_then_limited(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, app: Starlette, instance: Instance
) -> None:
    folder = await make_folder(api, "Private")
    await make_file(api, "diary.txt", b"dear diary", folder)
    link = await share(api, folder, password="open sesame")
    other = await share(api, folder, password="open sesame")
    base = path_of(link)
    form = await visitor.get(base)
    assert form.status_code == 401 and 'name="password"' in form.text and "diary" not in form.text
    assert (await visitor.get(f"{base}/zip/{folder}")).status_code == 401
    wrong = await visitor.post(f"{base}/password", data={"password": "guess"})
    assert wrong.status_code == 401 and "not right" in wrong.text
    right = await visitor.post(f"{base}/password", data={"password": "open sesame"})
    assert right.status_code == 303 and right.headers["location"] == base
    cookie = right.headers["set-cookie"]
    assert f"Path={base}" in cookie and "HttpOnly" in cookie
    opened = await visitor.get(base)
    assert opened.status_code == 200 and "diary.txt" in opened.text
    # The cookie is this link's only: the other link (same folder, same password) asks again.
    name, value = cookie.split(";")[0].split("=", 1)
    async with await _client(app, instance, None) as elsewhere:
        asked = await elsewhere.get(path_of(other), headers={"Cookie": f"{name}={value}"})
        assert asked.status_code == 401
        for _ in range(MAX_PASSWORD_FAILURES):
            await elsewhere.post(f"{path_of(other)}/password", data={"password": "nope"})
        locked = await elsewhere.post(
            f"{path_of(other)}/password", data={"password": "open sesame"}
        )
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert "Too many" in locked.text


async def test_expired_revoked_and_unknown_links(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, services: Services, instance: Instance
) -> None:
    folder = await make_folder(api, "Soon gone")
    in_a_day = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    expiring = await share(api, folder, expires_at=in_a_day)
    assert (await visitor.get(path_of(expiring))).status_code == 200
    # Time passes: the stored expiry is moved into the past, as the clock would.
    doc = await services.couch.get_doc(instance.db(PERMISSIONS_DOCTYPE), expiring["id"])
    stored = PermissionSet.from_json(doc["permissions"])
    past = datetime.now(UTC) - timedelta(minutes=1)
    doc["permissions"] = PermissionSet(rules=stored.rules, expires_at=past).to_json()
    await services.permission_docs.update(instance, doc)
    gone = await visitor.get(path_of(expiring))
    assert gone.status_code == 410
    assert "This link no longer works" in gone.text and "Ce lien ne fonctionne plus" in gone.text
    assert (await visitor.get(f"{path_of(expiring)}/zip/{folder}")).status_code == 410

    revoked = await share(api, folder)
    assert (await api.delete(f"/share-links/{revoked['id']}")).status_code == 204
    assert (await visitor.get(path_of(revoked))).status_code == 410

    code = path_of(revoked).removeprefix("/s/")
    forged = code[:32] + ("A" if code[32] != "A" else "B") + code[33:]
    for path in (f"/s/{forged}", "/s/nothing", f"/s/{'0' * 32}{'x' * 32}"):
        unknown = await visitor.get(path)
        assert unknown.status_code == 404, path
        assert "Nothing here" in unknown.text and "Rien ici" in unknown.text


async def test_visits_are_logged_and_last_use_is_throttled(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient, services: Services, instance: Instance
) -> None:
    folder = await make_folder(api, "Logged")
    note = await make_file(api, "n.txt", b"n", folder)
    link = await share(api, folder)
    base = path_of(link)
    # A burst at once (a page loading its thumbnails), then more visits.
    burst = await asyncio.gather(*(visitor.get(base) for _ in range(12)))
    assert {answer.status_code for answer in burst} == {200}
    for _ in range(2):
        assert (await visitor.get(base)).status_code == 200
    assert (await visitor.get(f"{base}/raw/{note}")).status_code == 200
    docs = {d["_id"]: d for d in await share_docs(services, instance)}
    # Created (1), then one last-use write for fifteen visits.
    assert docs[link["id"]]["_rev"].startswith("2-")
    assert docs[link["id"]]["share"]["last_used_at"] is not None
    listed = (await api.get(f"/share-links/{link['id']}")).json()
    assert listed["last_used_at"] == docs[link["id"]]["share"]["last_used_at"]
    entries = await services.access_log.query(instance, limit=100)
    mine = [e for e in entries if e["principal"] == f"share-link:{link['id']}"]
    assert sorted(e["path"] for e in mine) == sorted([base] * 14 + [f"{base}/raw/{note}"])
    assert all(e["doctype"] == "io.cozy.files" for e in mine)
    assert any(e["bytes_out"] == 1 and e["path"].endswith(note) for e in mine)


async def test_an_album_link_shows_its_photos_only(
    api: httpx.AsyncClient, visitor: httpx.AsyncClient
) -> None:
    album = await api.post("/data/io.cozy.photos.albums/", json={"name": "Summer 2024"})
    assert album.status_code == 201, album.text
    album_id = album.json()["id"]
    shown = await make_file(api, "sea.txt", b"sea")
    hidden = await make_file(api, "not-in-album.txt", b"no")
    added = await api.post(
        f"/data/io.cozy.photos.albums/{album_id}/relationships/references",
        json={"data": [{"type": "io.cozy.files", "id": shown}]},
    )
    assert added.status_code in (200, 204), added.text
    link = await share(api, album_id, doctype="io.cozy.photos.albums")
    assert link["target"]["name"] == "Summer 2024" and link["target"]["what"] == "album"
    base = path_of(link)
    page = await visitor.get(base)
    assert page.status_code == 200 and "Summer 2024" in page.text and "sea.txt" in page.text
    assert "not-in-album" not in page.text
    assert (await visitor.get(f"{base}/raw/{shown}")).content == b"sea"
    assert (await visitor.get(f"{base}/raw/{hidden}")).status_code == 404
