"""Photos in a real browser: the timeline grouped by the day taken, the viewer with the
keyboard, albums made from a selection, photos arriving by WebDAV, the phone size in French,
dark mode, and axe-core."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from roost.file_queries import FileQueries
from roost.services import Services
from tests.conftest import LiveServer
from tests.pages.conftest import PHONE, Site, assert_accessible, new_context, screenshot, sign_in
from tests.pages.test_drive import upload
from tests.pages.test_shell import SPACES
from tests.thumbnails.pictures import jpeg


@pytest.fixture
async def api(
    site: Site, live_server: LiveServer, issue_token: Callable[..., Awaitable[str]]
) -> AsyncIterator[httpx.AsyncClient]:
    token = await issue_token(site.instance, "io.cozy.files")
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{live_server.port}",
        headers={"Host": site.instance.domain, "Authorization": f"Bearer {token}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture
def photo(
    api: httpx.AsyncClient, services: Services, site: Site
) -> Callable[[str, str], Awaitable[str]]:
    async def upload_photo(name: str, taken: str) -> str:
        """Uploads a JPEG whose EXIF says `taken` and runs the thumbnail job's work on it (the
        live server runs no job runner), which writes the `metadata.datetime` the timeline
        sorts and groups by."""
        file_id = await upload(api, name, jpeg(taken=taken))
        await services.thumbnails.process(site.instance, file_id)
        answer = await api.get(f"/files/{file_id}")
        assert answer.json()["data"]["attributes"]["metadata"]["datetime"].startswith(
            taken[:10].replace(":", "-")
        )
        return file_id

    return upload_photo


async def test_the_timeline_groups_by_day_and_the_viewer_steps_with_the_keyboard(
    page: Page,
    site: Site,
    api: httpx.AsyncClient,
    photo: Callable[[str, str], Awaitable[str]],
) -> None:
    evening = await photo("evening.jpg", "2024:05:06 19:00:00")
    morning = await photo("morning.jpg", "2024:05:06 08:00:00")
    await photo("christmas.jpg", "2023:12:25 12:00:00")
    await upload(api, "notes.txt", b"not a photo\n")
    await sign_in(page, site)
    await page.goto(site.url("/photos"))

    months = page.locator(".photo-month")
    await expect(months).to_have_count(2)
    await expect(months.nth(0).get_by_role("heading", level=2)).to_have_text("May 2024")
    await expect(months.nth(1).get_by_role("heading", level=2)).to_have_text("December 2023")
    may_sixth = page.locator(".photo-day[data-day='2024-05-06']")
    await expect(may_sixth.get_by_role("heading", level=3)).to_have_text("Monday, May 6, 2024")
    await expect(may_sixth.locator(".photo-tile")).to_have_count(2)
    names = await may_sixth.locator(".photo-tile").evaluate_all("t => t.map(e => e.dataset.name)")
    assert names == ["evening.jpg", "morning.jpg"]  # newest first
    christmas = page.locator(".photo-day[data-day='2023-12-25'] .photo-tile")
    await expect(christmas).to_have_attribute("data-name", "christmas.jpg")
    await expect(page.locator(".photo-tile")).to_have_count(3)  # the text file is not there
    img = may_sixth.locator("img").first
    await expect(img).to_have_attribute("loading", "lazy")
    await expect(img).to_have_attribute("src", f"/files/{evening}/thumbnails/small")
    await assert_accessible(page)
    await screenshot(page, "photos-desktop")

    await page.get_by_role("link", name="evening.jpg").click()
    viewer = page.get_by_role("dialog", name="Photo 1 of 3: evening.jpg")
    await expect(viewer).to_be_visible()
    await expect(page.get_by_role("button", name="Close")).to_be_focused()
    await expect(viewer.locator("#photo-current")).to_have_attribute(
        "src", f"/files/{evening}/thumbnails/large"
    )
    await assert_accessible(page)
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_role("dialog", name="Photo 2 of 3: morning.jpg")).to_be_visible()
    await expect(viewer.locator("#photo-current")).to_have_count(0)
    await expect(page.locator("#photo-current")).to_have_attribute(
        "src", f"/files/{morning}/thumbnails/large"
    )
    await page.keyboard.press("ArrowLeft")
    await expect(page.get_by_role("dialog", name="Photo 1 of 3: evening.jpg")).to_be_visible()
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("Escape")
    await expect(page.locator("#photo-viewer")).to_be_hidden()
    # Focus goes back to the photo the viewer was on.
    await expect(page.get_by_role("link", name="morning.jpg")).to_be_focused()


async def test_photos_on_a_phone_in_french_and_in_dark_mode(
    browser: Browser, site: Site, photo: Callable[[str, str], Awaitable[str]]
) -> None:
    await photo("plage.jpg", "2024:05:06 10:00:00")
    context = await new_context(browser, viewport=PHONE, locale="fr-FR")
    page = await context.new_page()
    try:
        await sign_in(page, site)
        await page.goto(site.url("/photos"))
        await expect(page.get_by_role("heading", name="Photos", level=1)).to_be_visible()
        await expect(page.get_by_role("heading", name="mai 2024", exact=True)).to_be_visible()
        await expect(page.get_by_role("heading", name="lundi 6 mai 2024")).to_be_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        await assert_accessible(page)
        await screenshot(page, "photos-phone")
        await page.get_by_role("link", name="plage.jpg").click()
        await expect(page.get_by_role("dialog", name="Photo 1 sur 1 : plage.jpg")).to_be_visible()
        await assert_accessible(page)
        await page.keyboard.press("Escape")
        await page.emulate_media(color_scheme="dark")
        await assert_accessible(page)
    finally:
        await context.close()


async def test_an_empty_timeline_then_a_picture_not_read_yet_and_a_bad_cursor(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    await sign_in(page, site)
    await page.goto(site.url("/photos"))
    await expect(page.get_by_text("No photos or videos yet.")).to_be_visible()
    # Before its metadata is read a picture is shown at its file's date (here, today).
    await upload(api, "fresh.jpg", jpeg(taken="2001:01:01 00:00:00"))
    await page.reload()
    await expect(page.get_by_role("link", name="fresh.jpg")).to_be_visible()
    for query in ("after=", "limit=0", "limit=x"):
        status = await page.evaluate(f"async () => (await fetch('/photos?{query}')).status")
        assert status == 400, query


async def test_load_more_continues_the_same_day(
    page: Page, site: Site, photo: Callable[[str, str], Awaitable[str]]
) -> None:
    for hour in range(3):
        await photo(f"day-{hour}.jpg", f"2024:05:06 1{hour}:00:00")
    await photo("before.jpg", "2024:04:30 10:00:00")
    await sign_in(page, site)
    await page.goto(site.url("/photos?limit=2"))
    await expect(page.locator(".photo-tile")).to_have_count(2)
    await page.get_by_role("link", name="Load more").click()
    await expect(page.locator(".photo-tile")).to_have_count(4)
    # The next page's photo of the same day joins that day; one heading per day and month.
    day = page.locator(".photo-day[data-day='2024-05-06'] .photo-tile")
    names = await day.evaluate_all("t => t.map(e => e.dataset.name)")
    assert names == ["day-2.jpg", "day-1.jpg", "day-0.jpg"]
    await expect(page.locator(".photo-day")).to_have_count(2)
    await expect(page.locator(".photo-month")).to_have_count(2)
    await expect(page.get_by_role("link", name="Load more")).to_have_count(0)
    await expect(page.get_by_role("link", name="day-0.jpg")).to_be_focused()


async def test_pages_of_the_timeline_follow_each_other_without_gaps_or_repeats(
    site: Site, services: Services, photo: Callable[[str, str], Awaitable[str]]
) -> None:
    """Paging by key, two at a time, through ties (a burst: three photos of one second)."""
    burst = [await photo(f"burst-{n}.jpg", "2022:08:01 12:00:00") for n in range(3)]
    older = await photo("older.jpg", "2020:01:01 12:00:00")
    queries = FileQueries(services.couch, services.vfs)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await queries.timeline(site.instance, 2, cursor)
        seen.extend(doc.id for _date, doc in page.items)
        cursor = page.cursor
        if cursor is None:
            break
    assert sorted(seen[:3]) == sorted(burst)
    assert seen[3:] == [older]


async def references_of(api: httpx.AsyncClient, file_id: str) -> list[Any]:
    answer = await api.get(f"/files/{file_id}")
    relationships = answer.json()["data"].get("relationships", {})
    return list(relationships.get("referenced_by", {}).get("data") or [])


async def test_an_album_from_the_timeline_filled_renamed_emptied_and_deleted_keeps_the_photos(
    page: Page,
    site: Site,
    api: httpx.AsyncClient,
    photo: Callable[[str, str], Awaitable[str]],
) -> None:
    first = await photo("a.jpg", "2024:05:06 10:00:00")
    second = await photo("b.jpg", "2024:05:05 10:00:00")
    third = await photo("c.jpg", "2024:05:04 10:00:00")
    await sign_in(page, site)
    await page.goto(site.url("/photos"))
    await page.wait_for_selector("#photos[data-ready=true]")
    # Select with the keyboard (Space on the photo's checkbox) and with a click.
    await page.get_by_role("checkbox", name="Select a.jpg").focus()
    await page.keyboard.press("Space")
    await page.get_by_role("checkbox", name="Select b.jpg").check()
    await expect(page.get_by_text("2 selected")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("button", name="Add to album").click()
    picker = page.get_by_role("dialog", name="Add to album")
    await expect(picker).to_be_visible()
    await expect(picker.get_by_label("Choose an album")).to_have_value("")  # none yet: a new one
    await picker.get_by_label("Name of the new album").fill("Summer")
    await assert_accessible(page)
    await picker.get_by_role("button", name="Add", exact=True).click()
    await expect(page.locator("main").get_by_role("status")).to_have_text("Added to Summer: 2")
    await expect(page.locator(".photo-select:checked")).to_have_count(0)
    assert len(await references_of(api, first)) == 1
    assert await references_of(api, third) == []

    await page.get_by_role("link", name="My albums").click()
    card = page.get_by_role("link", name=re.compile("Summer"))
    await expect(card).to_contain_text("2 items")
    await expect(card.locator("img")).to_have_attribute("src", f"/files/{first}/thumbnails/small")
    await assert_accessible(page)
    await screenshot(page, "photos-albums-desktop")
    await card.click()
    await expect(page.get_by_role("heading", name="Summer", level=1)).to_be_visible()
    await expect(page.locator(".photo-tile")).to_have_count(2)
    # The album's photos open in the same viewer, and the keyboard steps through them.
    await page.get_by_role("link", name="a.jpg").click()
    await expect(page.get_by_role("dialog", name="Photo 1 of 2: a.jpg")).to_be_visible()
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_role("dialog", name="Photo 2 of 2: b.jpg")).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(page.locator("#photo-viewer")).to_be_hidden()

    await page.get_by_role("checkbox", name="Select b.jpg").check()
    await page.get_by_role("button", name="Remove from album").click()
    await expect(page.locator("main").get_by_role("status")).to_have_text(
        "Removed from the album: 1"
    )
    await expect(page.locator(".photo-tile")).to_have_count(1)
    await page.reload()
    await expect(page.locator(".photo-tile")).to_have_count(1)
    assert await references_of(api, second) == []

    await page.get_by_role("button", name="Rename").click()
    rename = page.get_by_role("dialog", name="Rename the album")
    await rename.get_by_label("Name").fill("Summer 2024")
    await rename.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("heading", name="Summer 2024", level=1)).to_be_visible()
    await assert_accessible(page)

    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Delete album").click()
    await page.wait_for_url(site.url("/photos/albums"))
    await expect(page.get_by_text("No albums yet.")).to_be_visible()
    await page.get_by_role("link", name="Timeline").click()
    await expect(page.locator(".photo-tile")).to_have_count(3)  # every photo is still there
    for file_id in (first, second, third):
        assert await references_of(api, file_id) == []


async def test_a_taken_album_name_is_said_and_nothing_is_made(
    page: Page, site: Site, photo: Callable[[str, str], Awaitable[str]]
) -> None:
    await photo("a.jpg", "2024:05:06 10:00:00")
    await sign_in(page, site)
    await page.goto(site.url("/photos/albums"))
    await page.wait_for_selector("#photos[data-ready=true]")
    await page.get_by_label("New album").fill("Trips")
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_role("heading", name="Trips", level=1)).to_be_visible()
    await page.goto(site.url("/photos/albums"))
    await page.wait_for_selector("#photos[data-ready=true]")
    await page.get_by_label("New album").fill("trips")
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_role("alert")).to_have_text("An album with that name already exists.")
    await expect(page.locator(".album-card")).to_have_count(1)
    await page.reload()
    await expect(page.locator(".album-card")).to_have_count(1)
    # An album that is not there is a page saying so, not an error.
    await page.goto(site.url("/photos/albums/no-such-album"))
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert (
        await page.evaluate("async () => (await fetch('/albums/nope', {method: 'DELETE'})).status")
    ) == 404


async def test_a_photo_put_by_webdav_appears_and_a_deleted_one_goes_without_a_reload(
    page: Page, site: Site, api: httpx.AsyncClient, photo: Callable[[str, str], Awaitable[str]]
) -> None:
    await photo("older.jpg", "2020:01:01 10:00:00")
    await sign_in(page, site)
    await page.goto(site.url("/photos"))
    await page.wait_for_selector("#photos[data-ready=true]")
    await page.evaluate("window.notReloaded = true")
    await page.wait_for_timeout(500)  # the socket subscribes right after the page loads
    response = await api.put("/dav/files/from-phone.jpg", content=jpeg(taken="2024:05:06 10:00:00"))
    assert response.status_code == 201, response.text
    arrived = page.get_by_role("link", name="from-phone.jpg")
    await expect(arrived).to_be_visible()
    await expect(page.locator("main").get_by_role("status")).to_have_text(
        "New here: from-phone.jpg"
    )
    # Newest first: the new photo (shown at its file date until its EXIF date is read) leads.
    names = await page.locator(".photo-tile").evaluate_all("t => t.map(e => e.dataset.name)")
    assert names == ["from-phone.jpg", "older.jpg"]
    assert await page.evaluate("window.notReloaded") is True
    found = await api.request("PROPFIND", "/dav/files/from-phone.jpg", headers={"Depth": "0"})
    assert found.status_code == 207
    assert (await api.request("DELETE", "/dav/files/from-phone.jpg")).status_code == 204
    await expect(arrived).to_have_count(0)
    await expect(page.locator(".photo-tile")).to_have_count(1)
    assert await page.evaluate("window.notReloaded") is True


async def test_on_a_phone_in_french_every_space_is_in_sight_and_albums_are_accessible(
    browser: Browser, site: Site, photo: Callable[[str, str], Awaitable[str]]
) -> None:
    await photo("plage.jpg", "2024:05:06 10:00:00")
    context = await new_context(browser, viewport=PHONE, locale="fr-FR")
    page = await context.new_page()
    try:
        await sign_in(page, site)
        for path in ("/photos", "/photos/albums", "/drive"):
            await page.goto(site.url(path))
            links = page.get_by_role("navigation", name="Espaces").get_by_role("link")
            await expect(links).to_have_count(len(SPACES))
            for index in range(len(SPACES)):
                link = links.nth(index)
                await expect(link).to_be_in_viewport(ratio=1)
                box = await link.bounding_box()
                assert box is not None
                assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], path
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            await assert_accessible(page)
        await page.goto(site.url("/photos/albums"))
        await page.wait_for_selector("#photos[data-ready=true]")
        await page.get_by_label("Nouvel album").fill("Plage")
        await page.get_by_role("button", name="Créer").click()
        await expect(page.get_by_role("heading", name="Plage", level=1)).to_be_visible()
        await expect(page.get_by_role("button", name="Supprimer l'album")).to_be_visible()
        await assert_accessible(page)
        await screenshot(page, "photos-album-phone")
        await page.emulate_media(color_scheme="dark")
        await assert_accessible(page)
        await page.goto(site.url("/photos/albums"))
        await expect(page.get_by_role("link", name=re.compile("Plage"))).to_contain_text(
            "0 élément"
        )
        await assert_accessible(page)
    finally:
        await context.close()
