"""Recurring series: a salary and a subscription are found, noise is not; the job stores
them as `io.cozy.bank.recurrence` documents and forgets a series that is gone."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from roost.banks.doctypes import OPERATIONS_DOCTYPE, RECURRENCE_DOCTYPE
from roost.banks.recurring import detect
from roost.instances import Instance
from roost.services import Services
from tests.banks.conftest import Seed, operation, stored

TODAY = date(2026, 6, 20)


def _series() -> list[dict[str, Any]]:
    docs = []
    for month in range(1, 7):
        # Salary: the last working days, a slightly different amount each month.
        docs.append(
            operation(
                f"salary-{month}",
                f"VIR SALAIRE ACME SAS {month:02d}/2026",
                2450.0 + month * 3,
                date(2026, month, 27 if month % 2 else 28).isoformat(),
            )
        )
        docs.append(
            operation(
                f"netflix-{month}",
                "PRLV SEPA NETFLIX.COM",
                -13.49,
                date(2026, month, 5).isoformat(),
            )
        )
    start = date(2026, 4, 4)
    for week in range(8):
        docs.append(
            operation(
                f"basket-{week}",
                "CB AMAP DU QUARTIER",
                -18.0,
                (start + timedelta(days=7 * week)).isoformat(),
            )
        )
    # Noise: same shop, irregular days and amounts.
    for index, (day, amount) in enumerate(
        [("2026-01-03", -54.2), ("2026-01-09", -8.1), ("2026-02-27", -120.0), ("2026-03-02", -33.0)]
    ):
        docs.append(operation(f"shop-{index}", "CB CARREFOUR CITY", amount, day))
    return docs


def test_a_salary_a_subscription_and_a_weekly_basket_are_found_and_noise_is_not() -> None:
    found = {recurrence.label: recurrence for recurrence in detect(_series(), TODAY)}
    assert set(found) == {
        "VIR SALAIRE ACME SAS 06/2026",
        "PRLV SEPA NETFLIX.COM",
        "CB AMAP DU QUARTIER",
    }
    salary = found["VIR SALAIRE ACME SAS 06/2026"]
    assert (salary.frequency, salary.count, salary.status) == ("monthly", 6, "ongoing")
    assert salary.amount > 0
    netflix = found["PRLV SEPA NETFLIX.COM"]
    assert (netflix.frequency, netflix.amount, netflix.latest) == ("monthly", -13.49, "2026-06-05")
    assert netflix.next_expected == "2026-07-05"
    basket = found["CB AMAP DU QUARTIER"]
    assert (basket.frequency, basket.count) == ("weekly", 8)
    # The basket's last one was in May: more than 1.5 weeks ago, the series is over.
    assert basket.status == "finished"


def test_two_operations_are_not_a_series() -> None:
    docs = [
        operation("a", "PRLV SEPA GYM CLUB", -30.0, "2026-05-01"),
        operation("b", "PRLV SEPA GYM CLUB", -30.0, "2026-06-01"),
    ]
    assert detect(docs, TODAY) == []


async def test_the_series_are_stored_and_forgotten_when_gone(
    services: Services, instance: Instance, seed: Seed
) -> None:
    await seed(OPERATIONS_DOCTYPE, _series())
    await services.banks.refresh_recurrences(instance, TODAY)
    docs = await stored(services.couch, instance, RECURRENCE_DOCTYPE)
    assert sorted(doc["automaticLabel"] for doc in docs) == [
        "CB AMAP DU QUARTIER",
        "PRLV SEPA NETFLIX.COM",
        "VIR SALAIRE ACME SAS 06/2026",
    ]
    netflix = next(doc for doc in docs if doc["automaticLabel"] == "PRLV SEPA NETFLIX.COM")
    assert netflix["stats"]["deltas"]["median"] in (28.0, 29.0, 30.0, 31.0)
    assert netflix["amounts"] == [-13.49] and netflix["status"] == "ongoing"
    # Asked again with nothing new: nothing rewritten.
    revs = {doc["_id"]: doc["_rev"] for doc in docs}
    await services.banks.refresh_recurrences(instance, TODAY)
    again = await stored(services.couch, instance, RECURRENCE_DOCTYPE)
    assert {doc["_id"]: doc["_rev"] for doc in again} == revs
    # Far in the future, the window holds none of them any more.
    await services.banks.refresh_recurrences(instance, TODAY + timedelta(days=800))
    assert await stored(services.couch, instance, RECURRENCE_DOCTYPE) == []
