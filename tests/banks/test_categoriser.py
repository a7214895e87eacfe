"""The categoriser, a sandboxed app every instance has: new operations written by any client
get the two models' guesses; a category the person corrects teaches the local model, and the
next similar operation gets it. The model itself (examples/apps/sdk/roost_categoriser.py,
pure Python shared by the guests) is also tested here directly, in CPython."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from roost.banks.categories import displayed_category
from roost.banks.categoriser_app import SLUG as CATEGORISER
from roost.banks.doctypes import ACCOUNTS_DOCTYPE, OPERATIONS_DOCTYPE
from roost.instances import Instance
from roost.services import Services
from tests.apps.conftest import EXAMPLES
from tests.banks.conftest import Seed, account, banks_jobs_done, operation


def _guest_module(name: str) -> Any:
    if str(EXAMPLES / "sdk") not in sys.path:
        sys.path.append(str(EXAMPLES / "sdk"))
    return importlib.import_module(name)


model = _guest_module("roost_categoriser")
LocalModel, rule_guess, words_of = model.LocalModel, model.rule_guess, model.words_of


def test_words_leave_out_dates_card_numbers_and_bank_wording() -> None:
    assert words_of("CB CARREFOUR MARKET 12/03 CARTE 4974XXXX1234") == ["carrefour", "market"]
    assert words_of("PRLV SEPA Électricité de France") == ["electricite", "france"]


def test_the_rule_table_knows_common_merchants_and_says_nothing_of_unknown_ones() -> None:
    assert rule_guess("PRLV SEPA FREE MOBILE") is not None
    assert rule_guess("PRLV SEPA FREE MOBILE").category == "400150"
    assert rule_guess("VIR SALAIRE ACME SAS").category == "200110"
    assert rule_guess("LA FOURNEE DOREE") is None


def test_the_local_model_is_sure_only_of_labels_like_the_corrections() -> None:
    model = LocalModel(
        [
            {"label": "LA FOURNEE DOREE 02/03", "amount": -4.1, "manualCategoryId": "400160"},
            {"label": "CINE LUMIERE", "amount": -9.5, "manualCategoryId": "400830"},
        ]
    )
    same = model.guess("CB LA FOURNEE DOREE 14/03", -3.2)
    assert same is not None and same.category == "400160" and same.probability > 0.8
    assert model.guess("GARAGE DU CENTRE", -120) is None
    half = model.guess("FOURNEE MARTIN", -2.0)
    assert half is not None and half.probability < 0.8


async def test_a_correction_teaches_the_categoriser_app(
    running_jobs: Services, instance: Instance, seed: Seed
) -> None:
    services = running_jobs
    await services.banks.ensure_trigger(instance)
    await seed(ACCOUNTS_DOCTYPE, [account("checking", "Compte courant", balance=1000.0)])
    await seed(
        OPERATIONS_DOCTYPE,
        [
            operation("op-1", "CB LA FOURNEE DOREE 02/03", -4.10, "2026-03-02"),
            operation("op-2", "PRLV SEPA FREE MOBILE", -19.99, "2026-03-05"),
        ],
    )
    jobs = await banks_jobs_done(services, instance)
    # The person installed nothing: Banks did, in the background, then ran it once to catch
    # up with what arrived meanwhile; the operations are never one run each.
    assert (await services.apps.get(instance, CATEGORISER)).slug == CATEGORISER
    runs = [job for job in jobs if job.message.get("slug") == CATEGORISER]
    assert 1 <= len(runs) <= 2
    first = await services.documents.get(instance, OPERATIONS_DOCTYPE, "op-1")
    phone = await services.documents.get(instance, OPERATIONS_DOCTYPE, "op-2")
    assert first["toCategorize"] is False and displayed_category(first) == "0"
    assert displayed_category(phone) == "400150"  # from the rule table
    assert "manualCategoryId" not in phone  # the person's field is never written by the job
    # Written through the sandbox's host calls, in the access log like any app's.
    await services.access_log.flush()
    entries = await services.access_log.query(instance, app=CATEGORISER)
    assert any("data.update-many" in str(entry.get("path")) for entry in entries)

    await services.banks.correct_category(instance, "op-1", "400160")
    await seed(
        OPERATIONS_DOCTYPE,
        [
            operation("op-3", "CB LA FOURNEE DOREE 14/03", -3.20, "2026-03-14"),
            operation("op-4", "CB GARAGE DU CENTRE", -120.0, "2026-03-15"),
        ],
    )
    await banks_jobs_done(services, instance)
    learned = await services.documents.get(instance, OPERATIONS_DOCTYPE, "op-3")
    assert learned["localCategoryId"] == "400160" and learned["localCategoryProba"] > 0.8
    assert displayed_category(learned) == "400160"
    other = await services.documents.get(instance, OPERATIONS_DOCTYPE, "op-4")
    assert displayed_category(other) == "0"
