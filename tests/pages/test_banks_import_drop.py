"""Bank statements dropped from the Drive page into the importer's folder, seen in Banks.

The issue's scenario, in a real browser on a live Roost, with the sandboxed `import-bank`
app run by a real job runner (this test process is the stack process that runs jobs; the
live server runs none): drop an OFX and a CAMT.053 into "/Imports/Bank statements" from the
Drive page, and the operations appear in Banks, categorised; drop them again — the same
names are refused by Drive, copies under other names are imported as "nothing new" — and
Banks counts no duplicate; correct one category on the Banks page, and the next statement's
similar operation gets it. Everything is checked on the pages (how and where the categories
are computed is not this test's business).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from roost.services import Services
from tests.importers.bank_samples import (
    CAMT053,
    CAMT053_OPERATIONS,
    OFX_SGML_FR,
    OFX_SGML_FR_OPERATIONS,
)
from tests.importers.conftest import importers_compiled, running_jobs  # noqa: F401
from tests.pages.bank_imports import (
    file_id,
    imported,
    install_importer,
    make_folders,
    operation,
    shows,
    upload,
)
from tests.pages.conftest import Site, assert_accessible, screenshot, sign_in
from tests.pages.test_drive import drop_files

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles the importer

OCTOBER = {"releve-octobre.ofx": OFX_SGML_FR, "camt053-octobre.xml": CAMT053}
OCTOBER_COUNT = sum(
    len(v) for v in (*OFX_SGML_FR_OPERATIONS.values(), *CAMT053_OPERATIONS.values())
)
# The bank's next statement: the same CAMT.053 a month later, with the bank's new references
# (the operations are new ones, their labels those of October).
NOVEMBER = (
    CAMT053.replace(b"2026-10-31", b"2026-11-30")
    .replace(b"2026-10", b"2026-11")
    .replace(b"202610", b"202611")
    .replace(b"<NtryRef>LA-1<", b"<NtryRef>LA-2<")
)
NOVEMBER_COUNT = sum(len(v) for v in CAMT053_OPERATIONS.values())
ALLOWANCE = "Caisse d'Allocations ALLOCATIONS OCTOBRE"


async def test_statements_dropped_in_drive_become_categorised_operations_once_and_learn(
    page: Page,
    site: Site,
    running_jobs: Services,  # noqa: F811
    importers_compiled: Path,  # noqa: F811
) -> None:
    services = running_jobs
    await install_importer(services, site.instance)
    await sign_in(page, site)

    # Collect says where to put the statements, not a schedule.
    await page.goto(site.url("/collect"))
    card = page.locator(".connector-card", has_text="Bank statement importer")
    await expect(card).to_contain_text("Runs when you add a file to /Imports/Bank statements")
    await card.get_by_role("link", name="Bank statement importer").click()
    when = page.get_by_role("region", name="When it runs")
    await expect(when).to_contain_text("Runs when you add a file to /Imports/Bank statements")
    await expect(page.locator("#accounts")).to_contain_text("It needs no account")
    await assert_accessible(page)
    await page.goto(site.url("/banks"))
    await expect(page.locator("#no-operations")).to_have_text("No operations yet.")

    # The folder, made from the Drive page, then the two statements dropped on it.
    folder_url = await make_folders(page, site)
    await drop_files(page, OCTOBER)
    await expect(page.locator("#upload-list li.upload.ok")).to_have_count(2)
    october = [await file_id(page, name) for name in OCTOBER]
    await imported(services, site.instance, october)

    # Banks lists them, categorised (the bank gave no category: these are Roost's).
    await page.goto(site.url("/banks"))
    rows = page.locator("tr.operation")
    salary = operation(page, "VIR SALAIRE OCTOBRE SOCIÉTÉ GÉNÉRALE DES EAUX")
    rent = operation(page, "PRLV LOYER FONCIÈRE DU MAIL")

    async def october_categorised() -> bool:
        return (
            await rows.count() == OCTOBER_COUNT
            and await salary.locator(".category-name").inner_text() == "Activity income"
            and await rent.locator(".category-name").inner_text() == "Rent"
        )

    await shows(page, october_categorised)
    await expect(salary.locator(".category-source")).to_have_text("guessed from the label")
    await expect(operation(page, ALLOWANCE).locator(".category-name")).to_have_text(
        "To be categorized"
    )
    await expect(page.locator(".account-group")).not_to_have_count(0)
    await assert_accessible(page)

    # Dropped again: Drive refuses the same names and says so; nothing is imported.
    await page.goto(folder_url)
    await page.wait_for_selector("#drive[data-ready=true]")
    await drop_files(page, OCTOBER)
    await expect(page.locator("#upload-list li.upload.failed")).to_have_count(2)
    await expect(page.locator("main").get_by_role("status")).to_contain_text("is already here")
    # The same statements downloaded twice from the bank come with other names: imported
    # again, they create nothing.
    copies = {f"copie de {name}": data for name, data in OCTOBER.items()}
    await upload(page, copies)
    await expect(page.locator("#upload-list li.upload.ok")).to_have_count(2)
    await imported(services, site.instance, [await file_id(page, name) for name in copies])
    await page.goto(site.url("/banks"))
    await expect(rows).to_have_count(OCTOBER_COUNT)
    await expect(salary).to_have_count(1)

    # The person gives the allowance its category…
    await operation(page, ALLOWANCE).get_by_role("link").click()
    await page.get_by_label("Category").select_option(label="Allocations")
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(re.compile(r"/banks#operation-"))
    allowances = operation(page, ALLOWANCE)
    await expect(allowances.locator(".category-source")).to_have_text("chosen by you")

    # …and the next month's statement brings the same allowance: it gets that category.
    await page.goto(folder_url)
    await page.wait_for_selector("#drive[data-ready=true]")
    await upload(page, {"camt053-novembre.xml": NOVEMBER})
    await expect(page.locator("#upload-list li.upload.ok")).to_have_count(1)
    await imported(services, site.instance, [await file_id(page, "camt053-novembre.xml")])
    await page.goto(site.url("/banks"))

    async def november_learned() -> bool:
        return await rows.count() == OCTOBER_COUNT + NOVEMBER_COUNT and (
            await allowances.locator(".category-source").all_inner_texts()
        ) == ["learned from your corrections", "chosen by you"]

    await shows(page, november_learned)
    await expect(allowances.locator(".category-name")).to_have_text(["Allocations", "Allocations"])
    await assert_accessible(page)
    await screenshot(page, "banks-imported-desktop")
