"""Alerts: stored in Cozy's settings shape, refused whole when malformed, and raised as
notifications once when a balance crosses the line or an operation is larger than asked."""

from __future__ import annotations

from typing import Any

import pytest

from roost.banks.doctypes import (
    ACCOUNTS_DOCTYPE,
    OPERATIONS_DOCTYPE,
    SETTINGS_DOCTYPE,
    SETTINGS_ID,
)
from roost.errors import BadRequest
from roost.instances import Instance
from roost.notifications import NOTIFICATIONS_DOCTYPE
from roost.services import Services
from tests.banks.conftest import Seed, account, banks_settled, operation, stored


async def _settings(services: Services, instance: Instance) -> dict[str, Any] | None:
    return await services.couch.get_doc_or_none(instance.db(SETTINGS_DOCTYPE), SETTINGS_ID)


async def test_alerts_are_kept_in_cozy_banks_settings_shape(
    services: Services, instance: Instance, seed: Seed
) -> None:
    await seed(ACCOUNTS_DOCTYPE, [account("checking", "Compte courant", balance=500.0)])
    await services.banks.add_alert(instance, "balanceLower", "100", "checking")
    await services.banks.add_alert(instance, "transactionGreater", "250,50", None)
    await services.banks.add_alert(instance, "healthBillLinked", "", None)
    settings = await _settings(services, instance)
    assert settings is not None
    assert settings["notifications"]["balanceLower"] == [
        {"id": 1, "value": 100.0, "enabled": True, "accountOrGroup": {"_id": "checking"}}
    ]
    assert settings["notifications"]["transactionGreater"] == [
        {"id": 1, "value": 250.5, "enabled": True}
    ]
    assert settings["notifications"]["healthBillLinked"] == {"enabled": True}
    await services.banks.remove_alert(instance, "transactionGreater", 1)
    kinds = [rule.kind for rule in await services.banks.alert_rules(instance)]
    assert kinds == ["balanceLower", "healthBillLinked"]


@pytest.mark.parametrize(
    ("kind", "value", "account_id", "reason"),
    [
        ("balanceLower", "a hundred", None, "must be an amount"),
        ("balanceLower", "-5", None, "must be an amount"),
        ("balanceLower", "100", "no-such-account", "no such account"),
        ("whenever", "100", None, "an alert is one of"),
    ],
)
async def test_a_malformed_alert_is_refused_and_nothing_is_written(
    services: Services,
    instance: Instance,
    seed: Seed,
    kind: str,
    value: str,
    account_id: str | None,
    reason: str,
) -> None:
    await seed(ACCOUNTS_DOCTYPE, [account("checking", "Compte courant", balance=500.0)])
    with pytest.raises(BadRequest) as refused:
        await services.banks.add_alert(instance, kind, value, account_id)
    assert reason in refused.value.reason
    assert await _settings(services, instance) is None


async def test_a_balance_crossing_its_line_is_told_once_and_a_large_debit_too(
    running_jobs: Services, instance: Instance, seed: Seed
) -> None:
    services = running_jobs
    await services.banks.ensure_trigger(instance)
    # No balance from the bank: the account's balance is the sum of its operations.
    await seed(ACCOUNTS_DOCTYPE, [account("checking", "Compte courant")])
    await seed(OPERATIONS_DOCTYPE, [operation("pay", "VIR SALAIRE", 800.0, "2026-03-01")])
    await banks_settled(services, instance)
    await services.banks.add_alert(instance, "balanceLower", "100", None)
    await services.banks.add_alert(instance, "transactionGreater", "500", None)
    assert await stored(services.couch, instance, NOTIFICATIONS_DOCTYPE) == []

    await seed(OPERATIONS_DOCTYPE, [operation("rent", "PRLV LOYER MARS", -750.0, "2026-03-03")])
    await banks_settled(services, instance)
    notes = await stored(services.couch, instance, NOTIFICATIONS_DOCTYPE)
    titles = sorted(note["title"] for note in notes)
    assert titles == ["Debit of 750.00 EUR", "Low balance: Compte courant"]
    low = next(note for note in notes if note["title"].startswith("Low"))
    assert "50.00 EUR" in low["message"] and low["link"] == "/banks?account=checking"
    assert all(note["source"] == "banks" and note["category"] == "alert" for note in notes)

    # Still below: nothing more. Back above, then below again: told again.
    await seed(OPERATIONS_DOCTYPE, [operation("coffee", "CAFE", -3.0, "2026-03-04")])
    await banks_settled(services, instance)
    assert len(await stored(services.couch, instance, NOTIFICATIONS_DOCTYPE)) == 2
    await seed(OPERATIONS_DOCTYPE, [operation("gift", "VIR CADEAU", 300.0, "2026-03-05")])
    await banks_settled(services, instance)
    await seed(OPERATIONS_DOCTYPE, [operation("bike", "CB VELO", -290.0, "2026-03-06")])
    await banks_settled(services, instance)
    titles = [
        note["title"] for note in await stored(services.couch, instance, NOTIFICATIONS_DOCTYPE)
    ]
    assert titles.count("Low balance: Compte courant") == 2


async def test_a_health_reimbursement_received_is_told(
    running_jobs: Services, instance: Instance, seed: Seed
) -> None:
    services = running_jobs
    await services.banks.add_alert(instance, "healthBillLinked", "", None)  # makes the trigger
    await seed(
        OPERATIONS_DOCTYPE,
        [
            operation("cpam", "VIR CPAM PARIS REMBT", 16.5, "2026-03-10"),
            operation("refund", "REMBOURSEMENT AMAZON", 20.0, "2026-03-11"),
        ],
    )
    await banks_settled(services, instance)
    notes = await stored(services.couch, instance, NOTIFICATIONS_DOCTYPE)
    assert [note["title"] for note in notes] == ["Health reimbursement received"]
    assert "VIR CPAM PARIS REMBT" in notes[0]["message"]
