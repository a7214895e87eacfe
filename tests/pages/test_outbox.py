"""The outbox in a real browser, on a phone: what would leave is readable, approval sends once.

The proposal is made through the outbox service (the host call's shaping included); the
wasm app proposing it end to end is in tests/outbox/. A real loopback server is the insurer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from roost.apps.host.outbox import shape_proposal
from roost.services import Services
from tests.outbox.insurer import Insurer, insurer
from tests.pages.conftest import PHONE, Site, assert_accessible, new_context, screenshot, sign_in

ACCEPTANCE = {
    "type": "acceptance",
    "offer": "offer-car1",
    "monthly_premium": 31.42,
    "annual_premium": 377.04,
    "currency": "EUR",
    "quoted_on": "2026-11-22",
}


@pytest.fixture
def the_insurer() -> Iterator[Insurer]:
    with insurer() as server:
        yield server


async def propose(services: Services, site: Site, url: str, **changes: Any) -> dict[str, Any]:
    request = {
        "url": url,
        "method": "POST",
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(ACCEPTANCE),
        "summary": "Accept the car insurance offer at 31.42 EUR a month",
        **changes,
    }
    shaped = shape_proposal("insurance-offer", request)
    doc: dict[str, Any] = await services.outbox.propose(
        site.instance, shaped, now=datetime.now(UTC)
    )
    return doc


async def test_the_outbox_on_a_phone_shows_what_leaves_and_sends_it_once(
    browser: Browser, site: Site, services: Services, the_insurer: Insurer
) -> None:
    url = the_insurer.origin + "/v1/acceptances"
    sent = await propose(services, site, url)
    refused = await propose(services, site, url, summary="Share your trips with the insurer")
    context = await new_context(browser, viewport=PHONE)
    page = await context.new_page()
    try:
        await sign_in(page, site)
        await page.goto(site.url("/outbox"))
        waiting = page.get_by_role("region", name="Waiting for your decision")
        await expect(waiting.get_by_role("link", name=sent["summary"])).to_be_visible()
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await assert_accessible(page)
        await screenshot(page, "outbox-phone")

        await waiting.get_by_role("link", name=sent["summary"]).click()
        await expect(page).to_have_url(site.url(f"/outbox/{sent['_id']}"))
        main = page.locator("main")
        await expect(main).to_contain_text(the_insurer.origin)
        await expect(main).to_contain_text("Monthly premium")
        await expect(page.locator("#outbox-fields")).to_contain_text("31.42")
        assert "{" not in await main.inner_text()  # fields, never raw braces
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await assert_accessible(page)
        await screenshot(page, "outbox-proposal-phone")
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Download the exact content").click()
        download = await download_info.value
        exact = (await download.path()).read_bytes()
        assert json.loads(exact) == ACCEPTANCE
        assert the_insurer.received == []

        await page.get_by_role("button", name="Approve and send").click()
        await expect(page.locator("#proposal-state")).to_have_text("Sent")
        await expect(main).to_contain_text("answered with status 201")
        await assert_accessible(page)
        [request] = the_insurer.received
        assert request.body == exact and request.method == "POST"

        await page.goto(site.url(f"/outbox/{refused['_id']}"))
        await page.get_by_role("button", name="Refuse").click()
        await expect(page.locator("#proposal-state")).to_have_text("Refused: not sent")
        await page.goto(site.url("/outbox"))
        decided = page.get_by_role("region", name="Decided")
        await expect(decided.get_by_role("listitem")).to_have_count(2)
        await assert_accessible(page)
        assert len(the_insurer.received) == 1
    finally:
        await context.close()
