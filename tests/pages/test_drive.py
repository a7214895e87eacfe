"""Drive in a real browser: folders, uploads (button, folder, drag and drop), live updates
from WebDAV, rename, move, trash and restore, zip downloads, quota, search, phone size."""

from __future__ import annotations

import base64
import re
import struct
import zipfile
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from roost.file_queries import FileQueries, FolderCursor
from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID
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


def png(seed: int) -> bytes:
    """A small, valid PNG (a 4x4 grey square whose shade is `seed`): a photo for the tests."""
    raw = b"".join(b"\x00" + bytes([seed % 256]) * 4 for _ in range(4))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def thirty_files() -> dict[str, bytes]:
    files = {f"photo-{n:02}.png": png(n) for n in range(10)}
    files.update({f"note-{n:02}.txt": f"note number {n}\n".encode() * (n + 1) for n in range(20)})
    return files


@pytest.fixture
async def api(
    site: Site, live_server: LiveServer, issue_token: Callable[..., Awaitable[str]]
) -> AsyncIterator[httpx.AsyncClient]:
    """The /files API of the site's instance, with a token (another device, not the page)."""
    token = await issue_token(site.instance, "io.cozy.files")
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{live_server.port}",
        headers={"Host": site.instance.domain, "Authorization": f"Bearer {token}"},
        timeout=30,
    ) as client:
        yield client


async def mkdir(api: httpx.AsyncClient, name: str, parent: str = ROOT_DIR_ID) -> str:
    response = await api.post(f"/files/{parent}", params={"Type": "directory", "Name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def upload(
    api: httpx.AsyncClient, name: str, content: bytes, parent: str = ROOT_DIR_ID
) -> str:
    response = await api.post(
        f"/files/{parent}", params={"Type": "file", "Name": name}, content=content
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def listing(api: httpx.AsyncClient, folder: str) -> dict[str, dict[str, object]]:
    response = await api.get(f"/files/{folder}", params={"page[limit]": 1000})
    assert response.status_code == 200, response.text
    return {item["attributes"]["name"]: item for item in response.json().get("included", [])}


async def drop_files(page: Page, files: dict[str, bytes]) -> None:
    """What the browser does when files are dropped on the page (a real DataTransfer)."""
    encoded = {name: base64.b64encode(data).decode() for name, data in files.items()}
    await page.evaluate(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, data] of Object.entries(files)) {
                const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
                const type = name.endsWith('.png') ? 'image/png' : 'text/plain';
                transfer.items.add(new File([bytes], name, { type }));
            }
            const target = document.getElementById('entries');
            for (const kind of ['dragenter', 'dragover', 'drop']) {
                const init = { bubbles: true, cancelable: true, dataTransfer: transfer };
                target.dispatchEvent(new DragEvent(kind, init));
            }
        }""",
        encoded,
    )


def row(page: Page, name: str) -> Locator:
    return page.locator("#entries li.entry", has=page.locator(".name", has_text=name))


async def open_menu(page: Page, name: str) -> None:
    await page.get_by_role("button", name=f"Actions for {name}", exact=True).click()


async def test_new_folder_then_thirty_files_dropped_each_with_its_progress(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    await sign_in(page, site)
    await page.goto(site.url("/drive"))
    await expect(page.get_by_text("This folder is empty.")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("button", name="New folder").click()
    await page.get_by_role("dialog").get_by_label("Name").fill("Holidays")
    await page.get_by_role("dialog").get_by_role("button", name="Create").click()
    await expect(page.locator("main").get_by_role("status")).to_have_text(
        "Folder created: Holidays"
    )
    await page.get_by_role("link", name="Holidays").click()
    await expect(page.get_by_role("navigation", name="Folder path")).to_contain_text("Holidays")
    await page.wait_for_selector("#drive[data-ready=true]")

    files = thirty_files()
    await drop_files(page, files)
    uploads = page.locator("#upload-list li.upload")
    await expect(uploads).to_have_count(30)
    await expect(page.locator("#upload-list li.upload.ok")).to_have_count(30)
    for bar in await page.locator("#upload-list progress").all():
        await expect(bar).to_have_attribute("value", "100")
    await expect(page.locator("main").get_by_role("status")).to_have_text("30 of 30 files uploaded")
    await expect(page.locator("#entries li.entry")).to_have_count(30)
    await assert_accessible(page)
    await screenshot(page, "drive-uploads-desktop")

    folder = page.url.rsplit("/", 1)[1]
    stored = await listing(api, folder)
    assert sorted(stored) == sorted(files)
    for name, data in files.items():
        response = await api.get(f"/files/download/{stored[name]['id']}")
        assert response.content == data

    # After a reload the server renders the same 30, sorted by name.
    await page.reload()
    names = await page.locator("#entries li.entry .name").all_inner_texts()
    assert names == sorted(files)


async def test_a_whole_folder_by_the_folder_button(
    page: Page, site: Site, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    camera = tmp_path / "Camera"
    (camera / "2026").mkdir(parents=True)
    files = thirty_files()
    for index, (name, data) in enumerate(files.items()):
        (camera / ("2026" if index % 2 else "") / name).write_bytes(data)
    await sign_in(page, site)
    await page.goto(site.url("/drive"))
    await page.wait_for_selector("#drive[data-ready=true]")
    await page.locator("#folder-input").set_input_files(camera)
    await expect(page.locator("#upload-list li.upload.ok")).to_have_count(30)
    await expect(row(page, "Camera")).to_be_visible()
    root = await listing(api, ROOT_DIR_ID)
    camera_id = str(root["Camera"]["id"])
    inside = await listing(api, camera_id)
    year = await listing(api, str(inside["2026"]["id"]))
    assert len(inside) == 16 and len(year) == 15  # 15 files + the 2026 folder, and 15 in it


async def test_a_file_put_by_webdav_appears_without_a_reload(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    await sign_in(page, site)
    await page.goto(site.url("/drive"))
    await page.wait_for_selector("#drive[data-ready=true]")
    await page.evaluate("window.notReloaded = true")
    await page.wait_for_timeout(500)  # the socket subscribes right after the page loads
    response = await api.put("/dav/files/from-laptop.txt", content=b"written elsewhere")
    assert response.status_code == 201, response.text
    await expect(row(page, "from-laptop.txt")).to_be_visible()
    await expect(page.locator("main").get_by_role("status")).to_have_text(
        "New here: from-laptop.txt"
    )
    assert await page.evaluate("window.notReloaded") is True
    # And a trash from another device takes it away.
    await api.delete(f"/files/{(await listing(api, ROOT_DIR_ID))['from-laptop.txt']['id']}")
    await expect(row(page, "from-laptop.txt")).to_have_count(0)


async def test_trash_restore_and_empty_the_trash(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    await upload(api, "keep.txt", b"keep me")
    await upload(api, "drop.txt", b"drop me")
    await sign_in(page, site)
    await page.goto(site.url("/drive"))
    await open_menu(page, "keep.txt")
    await page.get_by_role("menuitem", name="Move to trash").click()
    await expect(row(page, "keep.txt")).to_have_count(0)
    await expect(page.locator("main").get_by_role("status")).to_have_text(
        "Moved to the trash: keep.txt"
    )
    await open_menu(page, "drop.txt")
    await page.get_by_role("menuitem", name="Move to trash").click()
    await expect(row(page, "drop.txt")).to_have_count(0)

    await page.get_by_role("link", name="Trash", exact=True).click()
    await expect(page).to_have_url(site.url("/drive/trash"))
    await expect(page.locator("#entries li.entry")).to_have_count(2)
    await assert_accessible(page)
    await screenshot(page, "trash-desktop")
    await page.get_by_role("checkbox", name="Select keep.txt").check()
    await page.locator("#selection-bar").get_by_role("button", name="Restore").click()
    await expect(row(page, "keep.txt")).to_have_count(0)
    assert "keep.txt" in await listing(api, ROOT_DIR_ID)

    await page.get_by_role("button", name="Empty trash").click()
    await page.get_by_role("dialog").get_by_role("button", name="Confirm").click()
    await expect(page.get_by_text("The trash is empty.").first).to_be_visible()
    trash = await api.get("/files/trash")
    assert trash.json()["data"] == []
    await page.goto(site.url("/drive"))
    await expect(row(page, "keep.txt")).to_be_visible()
    await expect(row(page, "drop.txt")).to_have_count(0)


async def test_download_a_folder_as_a_zip_with_the_same_bytes(
    page: Page, site: Site, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    folder = await mkdir(api, "Papers")
    inner = await mkdir(api, "Taxes", folder)
    files = {
        "Papers/a.txt": b"A" * 1000,
        "Papers/photo.png": png(7),
        "Papers/Taxes/2025.txt": b"due",
    }
    await upload(api, "a.txt", files["Papers/a.txt"], folder)
    await upload(api, "photo.png", files["Papers/photo.png"], folder)
    await upload(api, "2025.txt", files["Papers/Taxes/2025.txt"], inner)
    await mkdir(api, "Empty", folder)
    await sign_in(page, site)
    await page.goto(site.url("/drive"))
    await page.get_by_role("checkbox", name="Select Papers").check()
    await expect(page.locator("#selection-count")).to_have_text("1 selected")
    async with page.expect_download() as waiting:
        await page.locator("#selection-bar").get_by_role("button", name="Download as zip").click()
    download = await waiting.value
    assert download.suggested_filename == "Papers.zip"
    saved = tmp_path / "Papers.zip"
    await download.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        contents = {n: archive.read(n) for n in names if not n.endswith("/")}
    assert contents == files
    assert "Papers/Empty/" in names


async def test_rename_and_move_with_the_folder_picker(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    archive = await mkdir(api, "Archive")
    await upload(api, "draft.txt", b"text")
    await sign_in(page, site)
    await page.goto(site.url("/drive"))
    await open_menu(page, "draft.txt")
    await page.get_by_role("menuitem", name="Rename").click()
    await page.get_by_role("dialog").get_by_label("Name").fill("final.txt")
    await page.get_by_role("dialog").get_by_role("button", name="Save").click()
    await expect(row(page, "final.txt")).to_be_visible()
    await expect(row(page, "draft.txt")).to_have_count(0)

    await open_menu(page, "final.txt")
    await page.get_by_role("menuitem", name="Move", exact=True).click()
    dialog = page.get_by_role("dialog", name="Move final.txt")
    await dialog.get_by_role("button", name="Archive").click()
    await expect(dialog.locator("#move-path")).to_contain_text("Archive")
    await assert_accessible(page)
    await dialog.get_by_role("button", name="Move here").click()
    await expect(row(page, "final.txt")).to_have_count(0)
    assert "final.txt" in await listing(api, archive)
    assert "draft.txt" not in await listing(api, ROOT_DIR_ID)


async def test_quota_exceeded_says_so_in_plain_words(
    browser: Browser,
    live_server: LiveServer,
    new_instance: Callable[..., Awaitable[Instance]],
    tmp_path: Path,
) -> None:
    small = Site(await new_instance("quota", quota_bytes=1000), live_server.port)
    big = tmp_path / "too-big.bin"
    big.write_bytes(b"x" * 5000)
    context = await new_context(browser)
    page = await context.new_page()
    try:
        await sign_in(page, small)
        await page.goto(small.url("/drive"))
        await expect(page.locator(".storage-text")).to_have_text("0 B of 1 KB used")
        await page.wait_for_selector("#drive[data-ready=true]")
        await page.locator("#file-input").set_input_files(big)
        await expect(page.locator("main").get_by_role("status")).to_have_text(
            "Not enough space: your storage is full. "
            "Free some space or empty the trash, then try again."
        )
        await expect(page.locator("#upload-list li.upload.failed")).to_have_count(1)
        await expect(page.locator("#entries li.entry")).to_have_count(0)
        await screenshot(page, "drive-quota-desktop")
    finally:
        await context.close()


async def test_a_big_folder_opens_with_one_page_and_shows_more(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    folder = await mkdir(api, "Many")
    for n in range(130):
        await upload(api, f"file-{n:03}.txt", b"x", folder)
    await sign_in(page, site)
    await page.goto(site.url(f"/drive/{folder}"))
    await expect(page.locator("#entries li.entry")).to_have_count(100)
    await page.get_by_role("link", name="Show more").click()
    await expect(page.locator("#entries li.entry")).to_have_count(130)
    await expect(page.get_by_role("link", name="Show more")).to_have_count(0)
    names = await page.locator("#entries li.entry .name").all_inner_texts()
    assert names == [f"file-{n:03}.txt" for n in range(130)]
    # Sorted by size, largest first, and in the grid view: the server renders it.
    await page.goto(site.url(f"/drive/{folder}?sort=name&order=desc&view=grid"))
    assert (await page.locator("#entries li.entry .name").first.inner_text()) == "file-129.txt"
    await expect(page.locator("#entries.grid")).to_be_visible()


async def test_a_folder_pages_from_the_store_folders_first_in_every_order(
    site: Site, services: Services, api: httpx.AsyncClient
) -> None:
    """Keyset pages of the folder view, two at a time, read to the end in each order: every
    entry exactly once, folders first, then files in the order asked; trash left out."""
    holder = await mkdir(api, "Holder")
    folders = {name: await mkdir(api, name, holder) for name in ("beta", "Alpha")}
    sizes = {"c.txt": 30, "A.txt": 10, "b.txt": 20, "d.txt": 20}
    files = {name: await upload(api, name, b"x" * size, holder) for name, size in sizes.items()}
    gone = await upload(api, "gone.txt", b"bye", holder)
    assert (await api.delete(f"/files/{gone}")).status_code == 200
    queries = FileQueries(services.couch, services.vfs)

    async def read_all(sort: str, descending: bool) -> list[str]:
        names: list[str] = []
        cursor = None
        for _ in range(10):
            page = await queries.folder_page(
                site.instance, holder, sort=sort, descending=descending, limit=2, after=cursor
            )
            names.extend(doc.name for doc in page.entries)
            cursor = page.cursor
            if cursor is None:
                return names
            assert FolderCursor.decode(cursor.encode()) == cursor
        raise AssertionError("the pages never ended")

    assert await read_all("name", False) == ["Alpha", "beta", "A.txt", "b.txt", "c.txt", "d.txt"]
    assert await read_all("name", True) == ["beta", "Alpha", "d.txt", "c.txt", "b.txt", "A.txt"]
    by_size = await read_all("size", True)
    assert sorted(by_size[:2]) == ["Alpha", "beta"]
    assert by_size[2] == "c.txt" and sorted(by_size[3:5]) == ["b.txt", "d.txt"]
    assert by_size[5] == "A.txt"
    by_date = await read_all("date", False)
    assert sorted(by_date[:2]) == sorted(folders) and sorted(by_date[2:]) == sorted(files)
    for text in ("", "[]", '[2,1,"x"]', '[0,true,"x"]', "[0,1,2]", "{", '[0,[1],"x"]'):
        assert FolderCursor.decode(text) is None, text


async def test_search_by_name_across_the_tree(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    deep = await mkdir(api, "Deep", await mkdir(api, "Work"))
    await upload(api, "Invoice-March.pdf", b"%PDF-1.4", deep)
    await upload(api, "holiday.txt", b"sun")
    await sign_in(page, site)
    await page.goto(site.url("/drive"))
    await page.get_by_role("searchbox", name="Search by name").fill("invoice")
    await page.get_by_role("searchbox", name="Search by name").press("Enter")
    await expect(page.locator("main").get_by_role("status")).to_have_text("1 result")
    await expect(page.get_by_role("link", name="Invoice-March.pdf")).to_be_visible()
    await expect(page.get_by_text("in /Work/Deep")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("link", name="Invoice-March.pdf").click()
    await expect(page).to_have_url(site.url(f"/drive/{deep}") + page.url[page.url.index("#") :])
    await expect(row(page, "Invoice-March.pdf")).to_have_class("entry highlight")


async def test_preview_and_versions(page: Page, site: Site, api: httpx.AsyncClient) -> None:
    note = await upload(api, "note.txt", b"first words")
    response = await api.put(f"/files/{note}", content=b"second words")
    assert response.status_code == 200, response.text
    await upload(api, "dot.png", png(3))
    await sign_in(page, site)
    await page.goto(site.url("/drive"))
    await page.get_by_role("link", name="note.txt").click()
    preview = page.get_by_role("dialog", name="note.txt")
    await expect(preview.locator("pre")).to_have_text("second words")
    await preview.get_by_role("button", name="Close").click()
    await page.get_by_role("link", name="dot.png").click()
    await expect(
        page.get_by_role("dialog", name="dot.png").get_by_role("img", name="dot.png")
    ).to_be_visible()
    await page.keyboard.press("Escape")

    await open_menu(page, "note.txt")
    await page.get_by_role("menuitem", name="Versions").click()
    versions = page.get_by_role("dialog", name="note.txt")
    await expect(versions.get_by_role("button", name="Restore")).to_have_count(1)
    await assert_accessible(page)
    await versions.get_by_role("button", name="Restore").click()
    await expect(page.locator("main").get_by_role("status")).to_contain_text(
        "Restored the version of"
    )
    content = await api.get(f"/files/download/{note}")
    assert content.content == b"first words"


async def test_drive_on_a_phone_in_french(
    browser: Browser, site: Site, api: httpx.AsyncClient
) -> None:
    photos = await mkdir(api, "Photos de vacances")
    await upload(api, "plage.png", png(9), photos)
    await upload(api, "liste de courses.txt", b"pain, fromage")
    for viewport, suffix in ((PHONE, "phone"), (None, "desktop")):
        for locale, lang_suffix in (("en-GB", ""), ("fr-FR", "-fr")):
            context = await new_context(
                browser, locale=locale, **({"viewport": viewport} if viewport else {})
            )
            page = await context.new_page()
            try:
                await sign_in(page, site)
                await page.goto(site.url("/drive"))
                await expect(row(page, "liste de courses.txt")).to_be_visible()
                if locale == "fr-FR":
                    await expect(
                        page.get_by_role("button", name="Envoyer des fichiers")
                    ).to_be_visible()
                    await expect(row(page, "Photos de vacances").locator(".size")).to_have_text(
                        "Dossier"
                    )
                if viewport:
                    width = await page.evaluate("document.documentElement.scrollWidth")
                    assert width <= PHONE["width"]
                await assert_accessible(page)
                await screenshot(page, f"drive-{suffix}{lang_suffix}")
                if not lang_suffix:
                    await page.get_by_role("link", name="Photos de vacances").click()
                    await expect(row(page, "plage.png")).to_be_visible()
                    await assert_accessible(page)
                    await screenshot(page, f"drive-folder-{suffix}")
                    await page.goto(site.url("/drive/search?q=plage"))
                    await assert_accessible(page)
                    await screenshot(page, f"drive-search-{suffix}")
            finally:
                await context.close()


async def test_home_shows_the_recent_files_newest_first(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    folder = await mkdir(api, "Letters")
    await upload(api, "older.txt", b"1", folder)
    await upload(api, "newer.txt", b"2")
    trashed = await upload(api, "gone.txt", b"3")
    assert (await api.delete(f"/files/{trashed}")).status_code == 200
    await sign_in(page, site)
    recent = page.get_by_role("region", name="Recent files")
    links = recent.get_by_role("link")
    await expect(links).to_have_text(["newer.txt", "older.txt"])
    await links.nth(1).click()
    await expect(page).to_have_url(re.compile(f"/drive/{folder}#file-"))
    await expect(row(page, "older.txt")).to_have_class("entry highlight")


async def test_copy_a_file_here_and_into_another_folder(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    other = await mkdir(api, "Backup")
    await upload(api, "plan.txt", b"the plan")
    await sign_in(page, site)
    await page.goto(site.url("/drive"))
    await open_menu(page, "plan.txt")
    await page.get_by_role("menuitem", name="Copy").click()
    dialog = page.get_by_role("dialog", name="Copy plan.txt")
    await dialog.get_by_role("button", name="Copy here").click()
    await expect(row(page, "plan (2).txt")).to_be_visible()
    await open_menu(page, "plan.txt")
    await page.get_by_role("menuitem", name="Copy").click()
    await dialog.get_by_role("button", name="Backup").click()
    await expect(dialog.locator("#move-path")).to_contain_text("Backup")
    await dialog.get_by_role("button", name="Copy here").click()
    await expect(page.locator("main").get_by_role("status")).to_have_text("Copied: plan.txt")
    copied = await listing(api, other)
    answer = await api.get(f"/files/download/{copied['plan.txt']['id']}")
    assert answer.content == b"the plan"
    root = await listing(api, ROOT_DIR_ID)
    assert {"plan.txt", "plan (2).txt"} <= set(root)


async def test_keyboard_only_rename_and_a_plain_missing_page(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    note = await upload(api, "keys.txt", b"k")
    await sign_in(page, site)
    await page.goto(site.url("/drive"))
    await page.wait_for_selector("#drive[data-ready=true]")
    more = page.get_by_role("button", name="Actions for keys.txt")
    await more.focus()
    await page.keyboard.press("Enter")
    menu = page.get_by_role("menu")
    await expect(menu.get_by_role("menuitem", name="Open")).to_be_focused()
    for _ in range(2):
        await page.keyboard.press("ArrowDown")
    await expect(menu.get_by_role("menuitem", name="Rename")).to_be_focused()
    await page.keyboard.press("Enter")
    name = page.get_by_role("dialog").get_by_label("Name")
    await expect(name).to_be_focused()
    await page.keyboard.press("Control+a")
    await page.keyboard.type("typed.txt")
    await page.keyboard.press("Enter")
    await expect(row(page, "typed.txt")).to_be_visible()
    await expect(row(page, "typed.txt").locator(".name")).to_be_focused()
    assert (await api.get(f"/files/{note}")).json()["data"]["attributes"]["name"] == "typed.txt"

    answer = await page.goto(site.url(f"/drive/{note}"))
    assert answer is not None and answer.status == 404
    await expect(page.get_by_role("heading", name="This folder is not here")).to_be_visible()
    await assert_accessible(page)


async def test_dark_mode_keeps_the_contrast(
    browser: Browser, site: Site, api: httpx.AsyncClient
) -> None:
    await upload(api, "night.txt", b"n")
    context = await browser.new_context(color_scheme="dark", locale="en-GB")
    page = await context.new_page()
    try:
        await sign_in(page, site)
        await assert_accessible(page)
        await page.goto(site.url("/drive"))
        await expect(row(page, "night.txt")).to_be_visible()
        background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 21, 28)"
        await assert_accessible(page)
        await screenshot(page, "drive-desktop-dark")
    finally:
        await context.close()
