"""The outbox in a real browser, on a phone: what would leave is readable, approval sends once.

The insurance-offer app (a real component) is installed on the browser's instance and
proposes two acceptances; a real loopback server is the insurer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, expect
from starlette.applications import Starlette

from roost.services import Services
from tests.apps.conftest import doc_stats_wasm, examples_built, stack_apps_ready  # noqa: F401
from tests.apps.stack_helpers import install
from tests.conftest import PASSPHRASE
from tests.outbox.helpers import AS_OF, offer, offer_package, run, seed_driving
from tests.outbox.insurer import Insurer, insurer
from tests.pages.conftest import PHONE, Site, assert_accessible, new_context, screenshot, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles the guest once


@pytest.fixture
def the_insurer() -> Iterator[Insurer]:
    with insurer() as server:
        yield server


@pytest.fixture
async def site_owner(app: Starlette, site: Site) -> AsyncIterator[httpx.AsyncClient]:
    """The owner of the browser's instance, signed in through the API."""
    transport = httpx.ASGITransport(app=app)
    base = f"http://{site.instance.domain}"
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        signed = await client.post("/auth/login", json={"passphrase": PASSPHRASE})
        assert signed.status_code < 400
        yield client


async def test_the_outbox_on_a_phone_shows_what_leaves_and_sends_it_once(
    browser: Browser,
    site: Site,
    site_owner: httpx.AsyncClient,
    services: Services,
    stack_apps_ready: Path,  # noqa: F811
    the_insurer: Insurer,
) -> None:
    await seed_driving(site_owner)
    await install(site_owner, offer_package([the_insurer.origin]))
    assert (await run(site_owner, AS_OF))["ok"]
    url = the_insurer.origin + "/v1/acceptances"
    first = await run(site_owner, {"accept": "offer-car1", "insurer_url": url})
    second = await run(site_owner, {"accept": "offer-car2", "insurer_url": url})
    sent = await services.outbox.get(site.instance, first["output"]["proposal"])
    refused = await services.outbox.get(site.instance, second["output"]["proposal"])
    car1 = await offer(site_owner, "offer-car1")

    context = await new_context(browser, viewport=PHONE)
    page = await context.new_page()
    try:
        await sign_in(page, site)
        await page.goto(site.url("/outbox"))
        waiting = page.get_by_role("region", name="Waiting for your decision")
        await expect(waiting.get_by_role("link", name=sent["summary"])).to_be_visible()
        await expect(waiting.get_by_role("link", name=refused["summary"])).to_be_visible()
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await assert_accessible(page)
        await screenshot(page, "outbox-phone")

        await waiting.get_by_role("link", name=sent["summary"]).click()
        await expect(page).to_have_url(site.url(f"/outbox/{sent['_id']}"))
        main = page.locator("main")
        await expect(main).to_contain_text(the_insurer.origin)
        await expect(main).to_contain_text("Monthly premium")
        await expect(page.locator("#outbox-fields")).to_contain_text(str(car1["monthly_premium"]))
        assert "{" not in await main.inner_text()  # fields, never raw braces
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await assert_accessible(page)
        await screenshot(page, "outbox-proposal-phone")
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Download the exact content").click()
        download = await download_info.value
        exact = (await download.path()).read_bytes()
        assert json.loads(exact)["offer"] == "offer-car1"
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
