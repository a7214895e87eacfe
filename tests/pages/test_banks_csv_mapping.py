"""A CSV column mapping saved on the Banks page, then used by the importer.

The French bank's export of `tests/importers/bank_samples.py`, with columns named as no
guess knows them ("Jour", "Opération", "Sorties", "Entrées"): without a mapping the importer
cannot read it; the person saves one on the Banks page (a form with a mistake saves nothing
and says why, by the field), drops the file in the importer's folder from Drive, and Banks
shows its operations with the right amounts in the account the mapping names.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from babel.numbers import format_currency
from playwright.async_api import Page, expect

from roost.banks.csv_mappings import MAPPINGS_DOCTYPE
from roost.services import Services
from tests.importers.bank_samples import CSV_FR, CSV_FR_MAPPING, CSV_FR_OPERATIONS
from tests.importers.conftest import importers_compiled, running_jobs  # noqa: F401
from tests.pages.bank_imports import (
    file_id,
    imported,
    install_importer,
    make_folders,
    shows,
    upload,
)
from tests.pages.conftest import Site, assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles the importer

HEADER = "Date;Libellé;Débit euros;Crédit euros;Date de valeur".encode("cp1252")
OWN_HEADER = "Jour;Opération;Sorties;Entrées;Jour de valeur".encode("cp1252")
EXPORT = CSV_FR.replace(HEADER, OWN_HEADER)
ACCOUNT = cast(dict[str, str], CSV_FR_MAPPING["account"])


async def saved_mappings(services: Services, site: Site) -> list[dict[str, object]]:
    found = await services.documents.find(
        site.instance, MAPPINGS_DOCTYPE, {"selector": {}, "limit": 100}
    )
    return list(found.get("docs", []))


async def test_a_mapping_saved_on_the_banks_page_reads_the_banks_csv(
    page: Page,
    site: Site,
    running_jobs: Services,  # noqa: F811
    importers_compiled: Path,  # noqa: F811
) -> None:
    assert OWN_HEADER in EXPORT
    services = running_jobs
    await install_importer(services, site.instance)
    await sign_in(page, site)
    await page.goto(site.url("/banks"))
    mappings = page.get_by_role("region", name="Your bank's CSV files")
    form = mappings.locator("form.new-mapping")

    # A mistake: no label column, no amount. Nothing is saved, each field says why.
    await form.get_by_label("Date column", exact=True).fill("Jour")
    await form.get_by_label("Debit column").fill("Jour")
    async with page.expect_response(lambda r: r.url.endswith("/banks/csv-mappings")) as posted:
        await form.get_by_role("button", name="Save the mapping").click()
    assert (await posted.value).status == 400
    await expect(page.locator("#mapping-error")).to_be_visible()
    await expect(form.get_by_label("Label column")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#mapping-label_column-error")).to_have_text("Fill in this field.")
    await expect(page.locator("#mapping-debit_column-error")).to_have_text(
        "Each column may be named once."
    )
    await expect(form.get_by_label("Date column", exact=True)).to_have_value("Jour")
    assert await saved_mappings(services, site) == []
    await assert_accessible(page)

    await form.get_by_label("Name of this mapping").fill("Ma banque")
    await form.get_by_label("Label column").fill("Opération")
    await form.get_by_label("Debit column").fill("Sorties")
    await form.get_by_label("Credit column").fill("Entrées")
    await form.get_by_label("Value date column").fill("Jour de valeur")
    await form.get_by_label("Dates are written").select_option("day")
    await form.get_by_label("Columns are separated by").select_option("semicolon")
    await expect(form.get_by_label("Amounts are written with a decimal comma")).to_be_checked()
    await form.get_by_label("Account number").fill(ACCOUNT["number"])
    await form.get_by_label("Account name").fill(ACCOUNT["label"])
    await form.get_by_role("button", name="Save the mapping").click()
    await expect(page).to_have_url(site.url("/banks#csv-mappings"))
    saved = mappings.locator(".csv-mapping")
    await expect(saved).to_have_count(1)
    await expect(saved).to_contain_text("Ma banque")
    await expect(saved).to_contain_text("Debit: Sorties")
    await assert_accessible(page)
    await mappings.scroll_into_view_if_needed()
    await screenshot(page, "banks-csv-mapping-desktop")

    # The export dropped in the importer's folder from Drive is read with it.
    folder_url = await make_folders(page, site)
    await upload(page, {"releve.csv": EXPORT})
    await expect(page.locator("#upload-list li.upload.ok")).to_have_count(1)
    await imported(services, site.instance, [await file_id(page, "releve.csv")])
    assert folder_url.startswith(site.url("/drive/"))

    await page.goto(site.url("/banks"))
    rows = page.locator("tr.operation")

    async def listed() -> bool:
        return await rows.count() == len(CSV_FR_OPERATIONS)

    await shows(page, listed)
    amounts = await rows.locator(".amount").all_inner_texts()
    expected = [format_currency(amount, "EUR", locale="en") for amount in CSV_FR_OPERATIONS]
    assert sorted(amounts) == sorted(expected)
    await expect(page.locator(".account", has_text=ACCOUNT["label"])).to_have_count(1)
    await expect(rows.filter(has_text="PRLV SEPA EDF").locator(".account-name")).to_have_text(
        ACCOUNT["label"]
    )

    # Removed, it is gone from the page and from the store.
    await mappings.get_by_role("button", name="Remove the mapping Ma banque").click()
    await expect(mappings.locator(".csv-mapping")).to_have_count(0)
    assert await saved_mappings(services, site) == []
