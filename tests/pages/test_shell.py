"""The shell in a real browser: sign in, the spaces, sign out, both languages, phone size."""

from __future__ import annotations

from playwright.async_api import Browser, Page, expect

from tests.pages.conftest import (
    PHONE,
    Site,
    assert_accessible,
    new_context,
    screenshot,
    sign_in,
)

SPACES = ("Home", "Drive", "Photos", "Banks", "Collect", "Store", "Outbox", "Settings")


async def test_sign_in_page_is_accessible_and_refuses_a_wrong_passphrase(
    page: Page, site: Site
) -> None:
    await page.goto(site.url("/drive"))
    await expect(page).to_have_url(site.url("/auth/login?redirect=/drive"))
    await assert_accessible(page)
    await screenshot(page, "sign-in-desktop")
    await page.get_by_label("Passphrase").fill("not the passphrase")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong passphrase.")
    await assert_accessible(page)
    await page.get_by_label("Passphrase").fill("correct horse battery staple")
    await page.get_by_role("button", name="Sign in").click()
    # Back where the person was going.
    await expect(page).to_have_url(site.url("/drive"))


async def test_the_shell_leads_to_every_space_and_signs_out(page: Page, site: Site) -> None:
    await sign_in(page, site)
    nav = page.get_by_role("navigation", name="Spaces")
    for label in SPACES:
        await expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    await expect(page.get_by_role("heading", name="Welcome home")).to_be_visible()
    await expect(page.get_by_text("No files yet.")).to_be_visible()
    await expect(page.get_by_text("Nothing new. You are all caught up.")).to_be_visible()
    await expect(page.locator(".storage-text")).to_contain_text("used")
    await assert_accessible(page)
    await screenshot(page, "home-desktop")

    await nav.get_by_role("link", name="Store").click()
    await expect(page.get_by_role("heading", level=1, name="Store")).to_be_visible()
    await expect(nav.get_by_role("link", name="Store")).to_have_attribute("aria-current", "page")
    await assert_accessible(page)

    await nav.get_by_role("link", name="Drive").click()
    await expect(page).to_have_url(site.url("/drive"))
    await expect(page.get_by_role("button", name="Upload files")).to_be_visible()

    # Keyboard only: the skip link is the first stop and leads to the content.
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    await expect(skip).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main#main")).to_be_focused()

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(site.url("/auth/login"))
    await page.goto(site.url("/"))
    await expect(page).to_have_url(site.url("/auth/login"))


async def test_french_from_the_browser_language(browser: Browser, site: Site) -> None:
    context = await new_context(browser, locale="fr-FR")
    page = await context.new_page()
    try:
        await page.goto(site.url("/auth/login"))
        await expect(page.locator("html")).to_have_attribute("lang", "fr")
        await expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
        await sign_in(page, site)
        nav = page.get_by_role("navigation", name="Espaces")
        for label in (
            "Accueil",
            "Drive",
            "Photos",
            "Banques",
            "Collecte",
            "Store",
            "Boîte d’envoi",
            "Paramètres",
        ):
            await expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
        await expect(page.get_by_role("heading", name="Bienvenue chez vous")).to_be_visible()
        await expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
        await assert_accessible(page)
        await screenshot(page, "home-desktop-fr")
        await page.goto(site.url("/drive"))
        await expect(page.get_by_role("button", name="Envoyer des fichiers")).to_be_visible()
        # The owner's own choice wins over the browser's language, on every page after.
        await page.get_by_label("Langue").select_option("en")
        await page.get_by_role("button", name="Changer").click()
        await expect(page).to_have_url(site.url("/drive"))
        await expect(page.get_by_role("button", name="Upload files")).to_be_visible()
        await page.goto(site.url("/"))
        await expect(page.get_by_role("heading", name="Welcome home")).to_be_visible()
    finally:
        await context.close()


async def test_the_shell_on_a_phone(browser: Browser, site: Site) -> None:
    context = await new_context(browser, viewport=PHONE)
    page = await context.new_page()
    try:
        await sign_in(page, site)
        await expect(page.get_by_role("heading", name="Welcome home")).to_be_visible()
        # Nothing wider than the screen but the scrolling list of spaces.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        await assert_accessible(page)
        await screenshot(page, "home-phone")
        await page.goto(site.url("/auth/login"))
        await screenshot(page, "sign-in-phone")
    finally:
        await context.close()
