"""Banks in a real browser: accounts with their total, operations filtered, a category
corrected, bad filters refused plainly, and — with a stack process running the jobs and a
loopback SMTP server — a balance alert that becomes a live notification and an e-mail.
Accessible (axe-core), on a phone, in French."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from roost.banks.doctypes import ACCOUNTS_DOCTYPE, OPERATIONS_DOCTYPE, SETTINGS_DOCTYPE, SETTINGS_ID
from roost.config import Config
from roost.services import Services
from tests.banks.conftest import BANK_SCOPE, account, operation
from tests.conftest import LiveServer
from tests.notifications.smtp import Inbox, smtp_inbox  # noqa: F401
from tests.pages.conftest import PHONE, Site, assert_accessible, new_context, screenshot, sign_in

# What sticks out of a phone's width (the spaces' menu scrolls on its own), for the message.
_TOO_WIDE = """(width) => [...document.querySelectorAll('body *')]
  .filter(e => !e.closest('nav') && e.getBoundingClientRect().right > width + 1)
  .slice(0, 8).map(e => `${e.tagName}#${e.id} ${Math.round(e.getBoundingClientRect().right)}`)"""

Seed = Callable[[str, list[dict[str, Any]]], Awaitable[None]]


@pytest.fixture
async def bank_api(
    site: Site, live_server: LiveServer, issue_token: Callable[..., Awaitable[str]]
) -> AsyncIterator[httpx.AsyncClient]:
    """An importer on another device: it writes through the live server's replication API."""
    token = await issue_token(site.instance, BANK_SCOPE)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{live_server.port}",
        headers={"Host": site.instance.domain, "Authorization": f"Bearer {token}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture
def seed(bank_api: httpx.AsyncClient) -> Seed:
    async def write(doctype: str, docs: list[dict[str, Any]]) -> None:
        answer = await bank_api.post(f"/data/{doctype}/_bulk_docs", json={"docs": docs})
        assert answer.status_code == 201, answer.text

    return write


async def _seed_two_accounts(seed: Seed) -> None:
    await seed(
        ACCOUNTS_DOCTYPE,
        [
            account("checking", "Compte courant", balance=1234.56),
            account("livret", "Livret A", balance=5000.0, type="Savings"),
        ],
    )
    await seed(
        OPERATIONS_DOCTYPE,
        [
            operation(
                "salary", "VIR SALAIRE ACME", 2500.0, "2026-03-28", manualCategoryId="200110"
            ),
            operation("rent", "PRLV LOYER MARS", -850.0, "2026-03-03", manualCategoryId="401020"),
            operation("bread", "CB LA FOURNEE DOREE", -4.2, "2026-03-02"),
            operation(
                "phone",
                "PRLV SEPA FREE MOBILE",
                -19.99,
                "2026-03-05",
                cozyCategoryId="400150",
                cozyCategoryProba=0.8,
            ),
            operation("saving", "VERSEMENT LIVRET", 300.0, "2026-03-10", "livret"),
        ],
    )


async def test_accounts_total_filters_and_a_corrected_category(
    page: Page, site: Site, seed: Seed
) -> None:
    await _seed_two_accounts(seed)
    await sign_in(page, site)
    await page.get_by_role("navigation", name="Spaces").get_by_role("link", name="Banks").click()
    await expect(page).to_have_url(site.url("/banks"))
    await expect(page.get_by_role("heading", name="Banks", exact=True)).to_be_visible()
    await expect(page.locator("#banks-total")).to_have_text("€6,234.56")
    await expect(page.locator(".account-group")).to_have_count(2)
    await expect(page.locator("tr.operation")).to_have_count(5)
    await expect(page.locator("#operation-phone .category-name")).to_have_text("Telecom")
    await expect(page.locator("#operation-salary .amount")).to_have_text("€2,500.00")
    await expect(page.locator("#balance-chart-title")).to_have_count(1)
    await expect(page.locator("#spending-table")).to_contain_text("Housing, real estate")
    await assert_accessible(page)
    await screenshot(page, "banks-desktop")

    await page.get_by_label("Amount at least").fill("300")
    await page.get_by_role("button", name="Search").click()
    rows = page.locator("tr.operation")
    await expect(rows).to_have_count(3)
    assert sorted(await rows.evaluate_all("rs => rs.map(r => r.dataset.id)")) == [
        "rent",
        "salary",
        "saving",
    ]
    await page.get_by_role("search").get_by_label("Account").select_option(label="Livret A")
    await page.get_by_role("button", name="Search").click()
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-id", "saving")
    await page.get_by_role("link", name="Clear").click()
    await page.get_by_label("Words in the label").fill("fournee")
    await page.get_by_role("button", name="Search").click()
    await expect(rows).to_have_count(1)

    await page.get_by_role("link", name="CB LA FOURNEE DOREE").click()
    await expect(page.locator("#operation-category")).to_contain_text("To be categorized")
    await page.get_by_label("Category").select_option(label="Snacks and work meals")
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(site.url("/banks#operation-bread"))
    await expect(page.locator("#operation-bread .category-name")).to_have_text(
        "Snacks and work meals"
    )
    await expect(page.locator("#operation-bread .category-source")).to_have_text("chosen by you")


async def test_bad_filters_and_alerts_are_refused_plainly_and_nothing_is_written(
    page: Page, site: Site, seed: Seed, services: Services
) -> None:
    await _seed_two_accounts(seed)
    await sign_in(page, site)
    answer = await page.goto(site.url("/banks?account=no-such-account"))
    assert answer is not None and answer.status == 400
    await expect(page.locator("#banks-error")).to_have_text("there is no such account")
    answer = await page.goto(site.url("/banks?min=lots"))
    assert answer is not None and answer.status == 400
    await expect(page.locator("#banks-error")).to_contain_text("min must be an amount")
    await expect(page.locator("tr.operation")).to_have_count(0)

    await page.goto(site.url("/banks"))
    await page.get_by_label("Tell me when").select_option("balanceLower")
    await page.get_by_label("Amount", exact=True).fill("not a number")
    async with page.expect_response(lambda r: r.url.endswith("/banks/alerts")) as posted:
        await page.get_by_role("button", name="Add the alert").click()
    assert (await posted.value).status == 400
    await expect(page.locator("#banks-error")).to_contain_text("must be an amount")
    db = site.instance.db(SETTINGS_DOCTYPE)
    assert await services.couch.get_doc_or_none(db, SETTINGS_ID) is None


async def test_banks_on_a_phone_in_french(browser: Browser, site: Site, seed: Seed) -> None:
    await _seed_two_accounts(seed)
    context = await new_context(browser, viewport=PHONE, locale="fr-FR")
    try:
        page = await context.new_page()
        await sign_in(page, site)
        await page.goto(site.url("/banks"))
        await expect(page.get_by_role("heading", name="Banques", exact=True)).to_be_visible()
        await expect(page.locator("#operation-phone .category-name")).to_have_text(
            "Internet, TV, télécom"
        )
        await expect(page.locator("#banks-total")).to_contain_text("6\u202f234,56")
        width = await page.evaluate("document.documentElement.scrollWidth")
        wide = await page.evaluate(_TOO_WIDE, PHONE["width"])
        assert width <= PHONE["width"], wide
        await assert_accessible(page)
        await screenshot(page, "banks-phone-fr")
    finally:
        await context.close()


@pytest.fixture
async def job_process(config: Config, smtp_inbox: Inbox) -> AsyncIterator[Services]:  # noqa: F811
    """Another stack process, with the job runner on and the operator's SMTP server set."""
    smtp = dataclasses.replace(
        config,
        smtp_host="127.0.0.1",
        smtp_port=smtp_inbox.port,
        smtp_from="roost@box.example",
        smtp_starttls=False,
    )
    built = Services.build(smtp, smtp.couchdb_url or "")
    await built.jobs.start()
    try:
        yield built
    finally:
        await built.aclose()


async def test_a_balance_alert_becomes_a_live_notification_and_an_e_mail(
    page: Page,
    site: Site,
    seed: Seed,
    job_process: Services,
    smtp_inbox: Inbox,  # noqa: F811
) -> None:
    await seed(ACCOUNTS_DOCTYPE, [account("checking", "Compte courant")])
    await seed(OPERATIONS_DOCTYPE, [operation("pay", "VIR SALAIRE ACME", 600.0, "2026-03-01")])
    await job_process.notifications.preferences.set(site.instance, "alice@example.org", True)
    await sign_in(page, site)
    await page.goto(site.url("/banks"))
    bell = page.locator("#bell")
    await expect(bell).to_have_attribute("aria-label", "Notifications, none unread")
    await expect(page.locator("#bell-count")).to_be_hidden()
    await page.get_by_label("Tell me when").select_option("balanceLower")
    await page.get_by_label("Amount", exact=True).fill("100")
    await page.get_by_role("button", name="Add the alert").click()
    await expect(page.locator(".alert-rule")).to_contain_text("A balance below €100.00")

    # The statement arrives (an importer writes the operations): the balance goes to 40.
    await seed(
        OPERATIONS_DOCTYPE,
        [
            operation("rent", "PRLV LOYER MARS", -500.0, "2026-03-03"),
            operation("bread", "CB BOULANGERIE", -60.0, "2026-03-04"),
        ],
    )
    # No reload: the bell follows the notifications live.
    await expect(page.locator("#bell-count")).to_have_text("1")
    await expect(bell).to_have_attribute("aria-label", "Notifications, 1 unread")
    await expect(page.locator("#bell-status")).to_have_text(
        "New notification: Low balance: Compte courant"
    )
    deadline = time.monotonic() + 30
    while not smtp_inbox.messages and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)  # the SMTP server runs in its own thread
    [(recipients, message)] = smtp_inbox.messages
    assert recipients == ["alice@example.org"]
    assert message["Subject"] == "Low balance: Compte courant"

    await bell.click()
    await expect(page).to_have_url(site.url("/notifications"))
    item = page.locator(".notification").first
    await expect(item).to_contain_text("The balance of Compte courant is 40.00 EUR")
    await item.get_by_role("button", name="Open").click()
    await expect(page).to_have_url(site.url("/banks?account=checking"))
    await expect(page.locator("#bell-count")).to_be_hidden()


async def test_a_health_bill_and_its_reimbursement_show_on_both_sides(
    page: Page, site: Site, seed: Seed
) -> None:
    """As the health-bills app links them: `bills` on the operation, `matchingOperation`
    on the bill."""
    await seed(ACCOUNTS_DOCTYPE, [account("checking", "Compte courant", balance=100.0)])
    await seed(
        OPERATIONS_DOCTYPE,
        [operation("cpam", "VIR CPAM PARIS", 16.5, "2026-03-12", bills=["io.cozy.bills:bill-1"])],
    )
    await seed(
        "io.cozy.bills",
        [
            {
                "_id": "bill-1",
                "type": "health_costs",
                "vendor": "ameli",
                "amount": 16.5,
                "date": "2026-03-05",
                "matchingOperation": "cpam",
                "invoice": "io.cozy.files:pdf-1",
            },
            {
                "_id": "bill-2",
                "type": "health_costs",
                "vendor": "Harmonie",
                "amount": 8.0,
                "date": "2026-03-06",
            },
        ],
    )
    await sign_in(page, site)
    await page.goto(site.url("/banks"))
    row = page.locator("#operation-cpam")
    await expect(row.locator(".bill-link")).to_contain_text("Bill: ameli, €16.50")
    await expect(row.get_by_role("link", name="see the bill")).to_have_attribute(
        "href", "/files/download/pdf-1"
    )
    health = page.get_by_role("region", name="Health reimbursements")
    reimbursed = health.locator("[data-bill=bill-1]")
    await expect(
        reimbursed.get_by_role("link", name="reimbursed: see the operation")
    ).to_have_attribute("href", "/banks/operations/cpam")
    await expect(health.locator("[data-bill=bill-2]")).to_contain_text(
        "waiting for the reimbursement"
    )
    await reimbursed.get_by_role("link", name="reimbursed: see the operation").click()
    await expect(page.get_by_role("heading", name="VIR CPAM PARIS")).to_be_visible()
    await expect(page.locator(".bill-link")).to_contain_text("ameli")
    await assert_accessible(page)
