"""The category form of an operation's page: the person's choice applies over what a machine
wrote since the page was drawn (the categoriser's guesses), but not over a category the
person chose meanwhile in another tab — that one is refused, and nothing changes."""

from __future__ import annotations

import re

import httpx

from roost.banks.doctypes import ACCOUNTS_DOCTYPE, OPERATIONS_DOCTYPE
from roost.instances import Instance
from roost.services import Services
from tests.banks.conftest import Seed, account, operation
from tests.conftest import PASSPHRASE


def _form(html: str) -> dict[str, str]:
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    assert {"csrf_token", "rev", "shown_manual"} <= set(fields), fields
    return fields


async def _operation(services: Services, instance: Instance) -> dict[str, object]:
    doc = await services.couch.get_doc(instance.db(OPERATIONS_DOCTYPE), "bread")
    return dict(doc)


async def test_a_machine_write_meanwhile_does_not_undo_the_persons_choice(
    client: httpx.AsyncClient, instance: Instance, services: Services, seed: Seed
) -> None:
    await seed(ACCOUNTS_DOCTYPE, [account("checking", "Compte courant")])
    await seed(OPERATIONS_DOCTYPE, [operation("bread", "CB LA FOURNEE", -4.2, "2026-03-02")])
    assert (await client.post("/auth/login", json={"passphrase": PASSPHRASE})).status_code < 400
    page = await client.get("/banks/operations/bread")
    assert page.status_code == 200
    form = _form(page.text)

    # The categoriser writes its guess after the page was drawn.
    doc = await _operation(services, instance)
    await services.couch.put_doc(
        instance.db(OPERATIONS_DOCTYPE),
        {**doc, "localCategoryId": "400110", "localCategoryProba": 0.3, "toCategorize": False},
    )
    saved = await client.post(
        "/banks/operations/bread/category", data={**form, "category": "400160"}
    )
    assert saved.status_code == 303, saved.text
    doc = await _operation(services, instance)
    assert doc["manualCategoryId"] == "400160" and doc["localCategoryId"] == "400110"


async def test_a_category_chosen_in_another_tab_meanwhile_is_not_overwritten(
    client: httpx.AsyncClient, instance: Instance, services: Services, seed: Seed
) -> None:
    await seed(ACCOUNTS_DOCTYPE, [account("checking", "Compte courant")])
    await seed(OPERATIONS_DOCTYPE, [operation("bread", "CB LA FOURNEE", -4.2, "2026-03-02")])
    assert (await client.post("/auth/login", json={"passphrase": PASSPHRASE})).status_code < 400
    first_tab = _form((await client.get("/banks/operations/bread")).text)
    second_tab = _form((await client.get("/banks/operations/bread")).text)
    chosen = await client.post(
        "/banks/operations/bread/category", data={**second_tab, "category": "400160"}
    )
    assert chosen.status_code == 303
    before = await _operation(services, instance)

    stale = await client.post(
        "/banks/operations/bread/category", data={**first_tab, "category": "400110"}
    )
    assert stale.status_code == 409
    assert await _operation(services, instance) == before
