"""Settings in a real browser: an app password made from a folder and plain words, listed,
used over WebDAV, revoked; accessible, on a phone, in French."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from roost.permissions import ROOT_DIR_ID
from tests.conftest import LiveServer
from tests.pages.conftest import PHONE, Site, assert_accessible, new_context, screenshot, sign_in


@pytest.fixture
async def dav(site: Site, live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    """Another program on another device: it has only what the page gives it."""
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{live_server.port}",
        headers={"Host": site.instance.domain},
        timeout=30,
    ) as client:
        yield client


async def _mkdir(dav: httpx.AsyncClient, token: str, name: str, parent: str = ROOT_DIR_ID) -> str:
    response = await dav.post(
        f"/files/{parent}",
        params={"Type": "directory", "Name": name},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def test_an_app_password_for_one_folder_is_made_listed_used_and_revoked(
    page: Page, site: Site, dav: httpx.AsyncClient, issue_token: Callable[..., Awaitable[str]]
) -> None:
    token = await issue_token(site.instance, "io.cozy.files")
    await _mkdir(dav, token, "Papers")
    await sign_in(page, site)
    await page.get_by_role("navigation", name="Spaces").get_by_role("link", name="Settings").click()
    await expect(page).to_have_url(site.url("/settings"))
    await expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    await expect(page.get_by_text("No app passwords yet.")).to_be_visible()
    await assert_accessible(page)

    await page.get_by_label("Name").fill("scanner")
    await page.get_by_label("Folder").select_option(label="/Papers")
    await page.get_by_label("Upload only").check()
    await page.get_by_label("Expires").select_option(label="In 30 days")
    await page.get_by_role("button", name="Create the password").click()

    secret_field = page.get_by_label("New app password", exact=True)
    await expect(secret_field).to_be_visible()
    secret = await secret_field.input_value()
    assert secret.startswith("roost-ap-")
    await page.get_by_role("button", name="Copy").click()
    await expect(page.get_by_text("Copied.")).to_be_visible()
    listed = page.locator("li.password", has_text="scanner")
    await expect(listed).to_contain_text(
        "Can only add files to /Papers, without seeing what is there"
    )
    await expect(listed).to_contain_text("Never used")
    await expect(page.locator("main")).not_to_contain_text("io.cozy")
    await assert_accessible(page)
    await screenshot(page, "settings-desktop")

    auth = httpx.BasicAuth("scanner", secret)
    put = await dav.put("/dav/files/Papers/scan.pdf", content=b"%PDF-1.4 scan", auth=auth)
    assert put.status_code == 201, put.text
    assert (await dav.put("/dav/files/elsewhere.pdf", content=b"x", auth=auth)).status_code in (
        403,
        404,
    )
    assert (await dav.get("/dav/files/Papers/scan.pdf", auth=auth)).status_code in (403, 404)

    await page.goto(site.url("/settings"))
    await expect(page.locator("#accesses")).to_contain_text("scanner uploaded 1 file")
    await expect(secret_field).to_have_count(0)  # shown once
    await page.get_by_role("button", name="Revoke scanner").click()
    await expect(page.get_by_text("No app passwords yet.")).to_be_visible()
    refused = await dav.put("/dav/files/Papers/again.pdf", content=b"x", auth=auth)
    assert refused.status_code == 401


async def test_settings_on_a_phone_in_french(browser: Browser, site: Site) -> None:
    context = await new_context(browser, viewport=PHONE, locale="fr-FR")
    try:
        page = await context.new_page()
        await sign_in(page, site)
        await page.goto(site.url("/settings"))
        await expect(page.get_by_role("heading", name="Paramètres", exact=True)).to_be_visible()
        await expect(
            page.get_by_role("heading", name="Mots de passe d’application")
        ).to_be_visible()
        await expect(page.get_by_role("button", name="Changer la phrase de passe")).to_be_visible()
        await expect(page.get_by_label("Déposer seulement")).to_be_visible()
        # Nothing wider than the phone.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        await assert_accessible(page)
        await screenshot(page, "settings-phone-fr")
    finally:
        await context.close()
