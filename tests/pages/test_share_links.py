"""Share links in a real browser: made from Drive's Share dialog, opened in fresh browser
contexts (no cookies, no account), with a password, expired and revoked (410), a drop
link used from a phone in French, the Settings list; axe-core on every page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, FilePayload, Page, expect

from roost.instances import Instance
from roost.permission_docs import PERMISSIONS_DOCTYPE
from roost.permissions import PermissionSet
from roost.services import Services
from tests.conftest import LiveServer
from tests.pages.conftest import (
    PHONE,
    Site,
    assert_accessible,
    new_context,
    screenshot,
    sign_in,
)
from tests.sharing.helpers import make_file, make_folder, names_in
from tests.thumbnails.pictures import jpeg


@pytest.fixture
async def api(
    site: Site, live_server: LiveServer, issue_token: Callable[..., Awaitable[str]]
) -> AsyncIterator[httpx.AsyncClient]:
    """The instance's API with a token (another device, not the page)."""
    token = await issue_token(
        site.instance, "io.cozy.files io.roost.share_links io.cozy.photos.albums"
    )
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{live_server.port}",
        headers={"Host": site.instance.domain, "Authorization": f"Bearer {token}"},
        timeout=30,
    ) as client:
        yield client


async def share_from_drive(
    page: Page, site: Site, name: str, *, drop: bool = False, password: str = ""
) -> str:
    """Drive → ⋯ → Share → the dialog's choices → the link it shows."""
    await page.goto(site.url("/drive"))
    await page.get_by_role("button", name=f"Actions for {name}", exact=True).click()
    await page.get_by_role("menuitem", name="Share").click()
    dialog = page.get_by_role("dialog", name=f"Share {name}")
    await expect(dialog).to_be_visible()
    if drop:
        await dialog.get_by_label("Only send files into it", exact=False).check()
    if password:
        await dialog.get_by_label("Password (optional)").fill(password)
    await assert_accessible(page)
    await dialog.get_by_role("button", name="Create the link").click()
    field = dialog.get_by_label("The link to give")
    await expect(field).to_be_visible()
    await expect(field).to_be_focused()
    await dialog.get_by_role("button", name="Copy the link").click()
    await expect(dialog.get_by_text("Copied.")).to_be_visible()
    url = await field.input_value()
    assert url.startswith(f"{site.origin}/s/")
    await dialog.get_by_role("button", name="Close").click()
    return url


async def expire(services: Services, site: Site, url: str) -> None:
    """Time passes: the link's stored expiry moves into the past, as the clock would."""
    link_id = urlsplit(url).path.removeprefix("/s/")[:32]
    db = site.instance.db(PERMISSIONS_DOCTYPE)
    doc = await services.couch.get_doc(db, link_id)
    stored = PermissionSet.from_json(doc["permissions"])
    past = datetime.now(UTC) - timedelta(minutes=1)
    doc["permissions"] = PermissionSet(rules=stored.rules, expires_at=past).to_json()
    await services.couch.put_doc(db, doc)


async def test_share_with_a_password_open_it_elsewhere_then_expire_it(
    page: Page,
    browser: Browser,
    site: Site,
    api: httpx.AsyncClient,
    services: Services,
) -> None:
    holidays = await make_folder(api, "Holidays")
    await make_file(api, "sea.txt", b"the sea is blue\n", holidays)
    beach = await make_folder(api, "Beach", holidays)
    await make_file(api, "shell.txt", b"a shell\n", beach)
    await make_file(api, "elsewhere.txt", b"not shared\n")
    await sign_in(page, site)
    url = await share_from_drive(page, site, "Holidays", password="open sesame")

    stranger = await new_context(browser)
    try:
        visit = await stranger.new_page()
        answer = await visit.goto(url)
        assert answer is not None and answer.status == 401
        await expect(visit.get_by_role("heading", level=1)).to_have_text(
            "This share is protected by a password"
        )
        await assert_accessible(visit)
        await visit.get_by_label("Password").fill("wrong guess")
        await visit.get_by_role("button", name="Open").click()
        await expect(visit.get_by_role("alert")).to_have_text(
            "That password is not right. Try again."
        )
        await expect(visit.get_by_text("sea.txt")).to_have_count(0)
        await visit.get_by_label("Password").fill("open sesame")
        await visit.get_by_role("button", name="Open").click()
        await expect(visit.get_by_role("heading", level=1)).to_have_text("Holidays")
        await expect(visit.get_by_role("link", name="sea.txt", exact=True)).to_be_visible()
        await expect(visit.get_by_text("elsewhere.txt")).to_have_count(0)
        await assert_accessible(visit)
        await screenshot(visit, "share-folder-desktop")
        await visit.get_by_role("link", name="Beach").click()
        await expect(visit.get_by_role("link", name="shell.txt", exact=True)).to_be_visible()
        await visit.get_by_role("link", name="shell.txt", exact=True).click()
        await expect(visit.get_by_role("heading", level=1)).to_have_text("shell.txt")
        await expect(visit.locator("pre.shared-preview-text")).to_have_text("a shell\n")
        await assert_accessible(visit)
        # The Download button's target, fetched with this visitor's cookies (the password's).
        href = await visit.get_by_role("link", name="Download", exact=True).get_attribute("href")
        assert href is not None and href.endswith("?Dl=1")
        saved = await visit.evaluate(
            """async (url) => {
              const answer = await fetch(url);
              return {status: answer.status, body: await answer.text(),
                      disposition: answer.headers.get("content-disposition")};
            }""",
            href,
        )
        assert saved == {
            "status": 200,
            "body": "a shell\n",
            "disposition": 'attachment; filename="shell.txt"',
        }

        await expire(services, site, url)
        gone = await visit.goto(url)
        assert gone is not None and gone.status == 410
        await expect(visit.get_by_role("heading", name="This link no longer works")).to_be_visible()
        await expect(visit.get_by_text("Ce lien ne fonctionne plus")).to_be_visible()
        await assert_accessible(visit)
    finally:
        await stranger.close()


async def test_revoke_in_settings_then_the_link_is_gone(
    page: Page, browser: Browser, site: Site, api: httpx.AsyncClient
) -> None:
    await make_file(api, "recipe.txt", b"flour, eggs, milk\n")
    await sign_in(page, site)
    url = await share_from_drive(page, site, "recipe.txt")
    stranger = await new_context(browser)
    try:
        visit = await stranger.new_page()
        await visit.goto(url)
        await expect(visit.get_by_role("heading", level=1)).to_have_text("recipe.txt")
        await assert_accessible(visit)

        await page.goto(site.url("/settings#share-links"))
        section = page.locator("#share-links")
        entry = section.locator("li.share-link")
        await expect(entry).to_have_count(1)
        await expect(entry).to_contain_text("recipe.txt")
        await expect(entry).to_contain_text("Anyone can see and download this file")
        await expect(entry).to_contain_text("Last opened")
        await assert_accessible(page)
        await section.get_by_role("button", name="Revoke the link to recipe.txt").click()
        await expect(section.get_by_text("Nothing is shared by link.")).to_be_visible()
        # The visit is in the access log, told in words, under the (revoked) link's name.
        await expect(page.locator("#accesses")).to_contain_text(
            "The link to recipe.txt read 1 file"
        )

        gone = await visit.goto(url)
        assert gone is not None and gone.status == 410
        missing = await visit.goto(url[:-3] + ("abc" if not url.endswith("abc") else "abd"))
        assert missing is not None and missing.status == 404
        await expect(visit.get_by_role("heading", name="Nothing here")).to_be_visible()
        await assert_accessible(visit)
    finally:
        await stranger.close()


async def test_a_drop_link_from_a_phone_in_french(
    page: Page, browser: Browser, site: Site, api: httpx.AsyncClient
) -> None:
    inbox = await make_folder(api, "Inbox")
    await make_file(api, "private-notes.txt", b"mine\n", inbox)
    await sign_in(page, site)
    url = await share_from_drive(page, site, "Inbox", drop=True)

    phone = await new_context(browser, viewport=PHONE, locale="fr-FR")
    try:
        visit = await phone.new_page()
        await visit.goto(url)
        await expect(visit.get_by_role("heading", level=1)).to_have_text(
            "Envoyer des fichiers dans Inbox"
        )
        await expect(visit.locator("#drop")).to_have_attribute("data-ready", "true")
        await expect(visit.get_by_text("private-notes.txt")).to_have_count(0)
        width = await visit.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # nothing wider than the phone
        await assert_accessible(visit)
        await visit.get_by_label("Fichiers à envoyer").set_input_files(
            [
                FilePayload(name="private-notes.txt", mimeType="text/plain", buffer=b"theirs\n"),
                FilePayload(name="photo.jpg", mimeType="image/jpeg", buffer=b"\xff\xd8not really"),
            ]
        )
        await visit.get_by_role("button", name="Envoyer", exact=True).click()
        await expect(visit.get_by_role("status")).to_have_text("2 sur 2 fichiers envoyés")
        await expect(visit.locator(".drop-upload.ok")).to_have_count(2)
        await expect(visit.locator("progress").first).to_have_js_property("value", 1)
        await screenshot(visit, "share-drop-phone")
        await assert_accessible(visit)
    finally:
        await phone.close()
    names = await names_in(api, inbox)
    assert sorted(names) == ["photo.jpg", "private-notes (2).txt", "private-notes.txt"]
    mine = await api.get(f"/files/download/{names['private-notes.txt']}")
    assert mine.content == b"mine\n"  # never overwritten
    theirs = await api.get(f"/files/download/{names['private-notes (2).txt']}")
    assert theirs.content == b"theirs\n"


async def test_an_album_on_a_phone_and_a_password_with_the_keyboard(
    page: Page,
    browser: Browser,
    site: Site,
    api: httpx.AsyncClient,
    services: Services,
) -> None:
    album = await api.post("/data/io.cozy.photos.albums/", json={"name": "Summer"})
    assert album.status_code == 201, album.text
    album_id = album.json()["id"]
    photos = [await make_file(api, f"sea-{n}.jpg", jpeg(quality=60 + n)) for n in range(3)]
    await make_file(api, "not-in-the-album.jpg", jpeg())
    added = await api.post(
        f"/data/io.cozy.photos.albums/{album_id}/relationships/references",
        json={"data": [{"type": "io.cozy.files", "id": photo} for photo in photos]},
    )
    assert added.status_code in (200, 204), added.text
    made = await api.post(
        "/share-links",
        json={
            "target": {"type": "io.cozy.photos.albums", "id": album_id},
            "password": "summer sun",
        },
    )
    assert made.status_code == 201, made.text
    url = made.json()["url"].replace(f"http://{site.instance.domain}", site.origin)

    phone = await new_context(browser, viewport=PHONE)
    try:
        visit = await phone.new_page()
        await visit.goto(url)
        # Keyboard only: the field has the focus, Enter sends the form.
        await expect(visit.get_by_label("Password")).to_be_focused()
        await visit.keyboard.type("summer sun")
        await visit.keyboard.press("Enter")
        await expect(visit.get_by_role("heading", level=1)).to_have_text("Summer")
        tiles = visit.locator(".shared-photo img")
        await expect(tiles).to_have_count(3)
        for n in range(3):
            await expect(tiles.nth(n)).to_have_js_property("complete", True)
            assert await tiles.nth(n).evaluate("img => img.naturalWidth") > 0  # a thumbnail
        await expect(visit.get_by_text("not-in-the-album.jpg")).to_have_count(0)
        width = await visit.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        await assert_accessible(visit)
        await screenshot(visit, "share-album-phone")
        await visit.keyboard.press("Tab")
        await expect(visit.locator(".shared-photo a").first).to_be_focused()
        await visit.keyboard.press("Enter")
        await expect(visit.get_by_role("heading", level=1)).to_have_text("sea-0.jpg")
        await expect(visit.locator(".shared-preview-image")).to_be_visible()
        await assert_accessible(visit)
    finally:
        await phone.close()


async def test_a_full_drop_folder_says_so_in_plain_words(
    browser: Browser,
    live_server: LiveServer,
    new_instance: Callable[..., Awaitable[Instance]],
    issue_token: Callable[..., Awaitable[str]],
) -> None:
    small = Site(await new_instance("full", quota_bytes=2000), live_server.port)
    token = await issue_token(small.instance, "io.cozy.files io.roost.share_links")
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{live_server.port}",
        headers={"Host": small.instance.domain, "Authorization": f"Bearer {token}"},
        timeout=30,
    ) as api:
        inbox = await make_folder(api, "Inbox")
        made = await api.post(
            "/share-links", json={"target": {"type": "io.cozy.files", "id": inbox}, "kind": "drop"}
        )
        assert made.status_code == 201, made.text
        url = made.json()["url"].replace(f"http://{small.instance.domain}", small.origin)
        stranger = await new_context(browser)
        try:
            visit = await stranger.new_page()
            await visit.goto(url)
            await expect(visit.locator("#drop")).to_have_attribute("data-ready", "true")
            await visit.get_by_label("Files to send").set_input_files(
                [FilePayload(name="big.bin", mimeType="application/x-test", buffer=b"x" * 5000)]
            )
            await visit.get_by_role("button", name="Send", exact=True).click()
            await expect(visit.locator(".drop-upload.failed")).to_contain_text(
                "Not enough space: the owner's storage is full. The file was not sent."
            )
            await expect(visit.get_by_role("status")).to_have_text("0 of 1 files sent")
            await assert_accessible(visit)
        finally:
            await stranger.close()
        assert await names_in(api, inbox) == {}
