"""Notifications in a real browser: the bell's count, Home's list, the Notifications page
(open, mark as read, mark all), refusals, axe-core, a phone in French."""

from __future__ import annotations

import asyncio

from playwright.async_api import Browser, Page, expect

from roost.notifications.preferences import MAIL_ID, PREFERENCES_DOCTYPE
from roost.services import Services
from tests.conftest import LiveServer
from tests.pages.conftest import PHONE, Site, assert_accessible, new_context, screenshot, sign_in

_POST = """async ([path, fields]) => {
  const answer = await fetch(path, {method: "POST", body: new URLSearchParams(fields)});
  return [answer.status, await answer.text()];
}"""


async def _post(page: Page, path: str, fields: dict[str, str]) -> tuple[int, str]:
    """A form posted from the page itself (its origin, its cookies)."""
    status, text = await page.evaluate(_POST, [path, fields])
    return int(status), str(text)


async def _raise_two(services: Services, site: Site) -> None:
    await services.notifications.create(
        site.instance,
        source="banks",
        category="alert",
        title="Low balance: Compte courant",
        message="The balance of Compte courant is 40.00 EUR.",
        link="/banks?account=checking",
    )
    await services.notifications.create(
        site.instance, source="stack", title="Your Drive is almost full"
    )


async def _following(live_server: LiveServer, site: Site, doctype: str) -> None:
    """Until the server follows `doctype` for the site: the page's socket says it is open
    as soon as it sent SUBSCRIBE, before the server has taken it (no acknowledgement in the
    protocol), and a write in between would not be an event."""
    hub = live_server.app.state.services.realtime
    for _ in range(200):
        if hub.following(site.instance, doctype):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the server never followed {doctype}")


async def test_the_bell_home_and_the_notifications_page(
    page: Page, site: Site, services: Services, live_server: LiveServer
) -> None:
    await _raise_two(services, site)
    await sign_in(page, site)
    bell = page.locator("#bell")
    await expect(page.locator("#bell-count")).to_have_text("2")
    await expect(bell).to_have_attribute("aria-label", "Notifications, 2 unread")
    home = page.get_by_role("region", name="Notifications")
    await expect(home.get_by_role("link", name="Low balance: Compte courant")).to_have_attribute(
        "href", "/banks?account=checking"
    )
    await expect(home).to_contain_text("Your Drive is almost full")

    await bell.click()
    await expect(page).to_have_url(site.url("/notifications"))
    await expect(page.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    await expect(page.locator("#notifications-summary")).to_have_text("2 unread notifications.")
    await expect(page.locator(".notification.unread")).to_have_count(2)
    await assert_accessible(page)

    await page.get_by_role("button", name="Mark as read: Your Drive is almost full").click()
    await expect(page.locator(".notification.unread")).to_have_count(1)
    await expect(page.locator("#bell-count")).to_have_text("1")

    # A notification raised while the page is open appears at the top, without reload.
    await expect(bell).to_have_attribute("data-live", "1")
    await _following(live_server, site, "io.cozy.notifications")
    await services.notifications.create(site.instance, source="stack", title="Backup finished")
    await expect(page.locator(".notification").first).to_contain_text("Backup finished")
    await expect(page.locator("#bell-count")).to_have_text("2")

    await page.get_by_role("button", name="Mark all as read").click()
    await expect(page.locator(".notification.unread")).to_have_count(0)
    await expect(page.locator("#bell-count")).to_be_hidden()
    await expect(bell).to_have_attribute("aria-label", "Notifications, none unread")

    await page.get_by_role("button", name="Open: Low balance: Compte courant").click()
    await expect(page).to_have_url(site.url("/banks?account=checking"))


async def test_refusals_say_why_and_write_nothing(
    page: Page, site: Site, services: Services
) -> None:
    await _raise_two(services, site)
    await sign_in(page, site)
    await page.goto(site.url("/notifications"))
    token = await page.locator("input[name=csrf_token]").first.input_value()
    # No SMTP server on this stack: e-mail cannot be asked for.
    status, text = await _post(
        page,
        "/notifications/mail",
        {"csrf_token": token, "address": "alice@example.org", "enabled": "on"},
    )
    assert status == 400 and "its operator set up no SMTP server" in text
    status, text = await _post(
        page, "/notifications/mail", {"csrf_token": token, "address": "not an address"}
    )
    assert status == 400 and "is not an e-mail address" in text
    db = site.instance.db(PREFERENCES_DOCTYPE)
    assert await services.couch.get_doc_or_none(db, MAIL_ID) is None

    status, _ = await _post(page, "/notifications/no-such-one/read", {"csrf_token": token})
    assert status == 404
    status, _ = await _post(page, "/notifications/read-all", {"csrf_token": "forged"})
    assert status == 403
    assert await services.notifications.unread_count(site.instance) == 2


async def test_notifications_on_a_phone_in_french(
    browser: Browser, site: Site, services: Services
) -> None:
    await _raise_two(services, site)
    context = await new_context(browser, viewport=PHONE, locale="fr-FR")
    try:
        page = await context.new_page()
        await sign_in(page, site)
        await page.goto(site.url("/notifications"))
        await expect(page.locator("#bell")).to_have_attribute(
            "aria-label", "Notifications, 2 non lues"
        )
        await expect(page.locator("#notifications-summary")).to_have_text(
            "2 notifications non lues."
        )
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        await assert_accessible(page)
        await screenshot(page, "notifications-phone-fr")
    finally:
        await context.close()
