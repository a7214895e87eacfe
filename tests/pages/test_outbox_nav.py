"""The outbox in the shell's navigation: reachable from every page, with the number of
messages waiting for the person's decision, on a desktop and on a 390 px phone (the spaces
wrap onto a second line, nothing sticks out), in English and in French."""

from __future__ import annotations

from datetime import UTC, datetime

from playwright.async_api import Browser, Page, expect

from roost.apps.host.outbox import shape_proposal
from roost.services import Services
from tests.pages.conftest import Site, assert_accessible, new_context, screenshot, sign_in

PHONE_390 = {"width": 390, "height": 844}
# Everything right of the screen's edge (the message when something does not fit).
_TOO_WIDE = """(width) => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > width + 1)
  .slice(0, 8).map(e => `${e.tagName}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`)"""


async def _propose(services: Services, site: Site, summary: str) -> None:
    """What the insurance-offer app's `propose` host call stores (the host's own shaping)."""
    shaped = shape_proposal(
        "insurance-offer",
        {
            "url": "https://insurer.example/v1/acceptances",
            "method": "POST",
            "summary": summary,
            "body": '{"offer": "car1", "accepted": true}',
            "headers": {"content-type": "application/json"},
        },
    )
    await services.outbox.propose(site.instance, shaped, now=datetime.now(UTC))


async def test_the_outbox_is_in_the_navigation_with_what_waits(
    page: Page, browser: Browser, site: Site, services: Services
) -> None:
    await sign_in(page, site)
    nav = page.get_by_role("navigation", name="Spaces")
    outbox = nav.get_by_role("link", name="Outbox")
    await expect(outbox).to_be_visible()
    await expect(nav.locator("#outbox-waiting")).to_have_count(0)

    await _propose(services, site, "Accept the car insurance offer")
    await _propose(services, site, "Accept the home insurance offer")
    await page.reload()
    await expect(nav.locator("#outbox-waiting")).to_have_text("2 waiting for your decision")
    await expect(outbox).to_have_accessible_name("Outbox 2 waiting for your decision")
    await assert_accessible(page)
    await outbox.click()
    await expect(page).to_have_url(site.url("/outbox"))
    await expect(outbox).to_have_attribute("aria-current", "page")

    for locale, name in (("en-GB", "Outbox"), ("fr-FR", "Boîte d’envoi")):
        phone = await new_context(browser, viewport=PHONE_390, locale=locale)
        try:
            small = await phone.new_page()
            await sign_in(small, site)
            link = small.get_by_role("navigation").get_by_role("link", name=name)
            await expect(link).to_be_visible()
            await expect(link.locator(".nav-count")).to_contain_text("2")
            # The spaces wrap: every link is on the screen, nothing is wider than it.
            box = await link.bounding_box()
            assert box is not None and box["x"] + box["width"] <= PHONE_390["width"]
            width = await small.evaluate("document.documentElement.scrollWidth")
            wide = await small.evaluate(_TOO_WIDE, PHONE_390["width"])
            assert width <= PHONE_390["width"], wide
            await assert_accessible(small)
            if locale == "fr-FR":
                await screenshot(small, "shell-nav-outbox-phone-fr")
        finally:
            await phone.close()
