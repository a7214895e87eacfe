"""The sums the page shows: exact to the cent, spending by parent category (transfers out
of budget left out), recomputed when the operations changed, and the balance history."""

from __future__ import annotations

from roost.banks.doctypes import OPERATIONS_DOCTYPE
from roost.banks.summary import INLINE_LIMIT, balance_history, summarise
from roost.instances import Instance
from roost.services import Services
from tests.banks.conftest import Seed, operation


def test_sums_are_exact_and_spending_is_by_parent_category() -> None:
    docs = [operation(f"c{index}", "CAFE", -0.1, "2026-01-05") for index in range(10)]
    docs += [
        operation("rent", "LOYER", -850.0, "2026-01-03", manualCategoryId="401020"),
        operation("salary", "SALAIRE", 2500.0, "2026-01-28", manualCategoryId="200110"),
        operation("savings", "VIR LIVRET", -300.0, "2026-02-01", manualCategoryId="600170"),
        operation("other", "CB X", -20.0, "2026-02-02", "card"),
        {"_id": "broken", "label": "no amount", "date": "2026-02-02"},
    ]
    sums = summarise(docs)
    assert sums.count == 14
    assert sums.by_account == {"checking": 1349.0, "card": -20.0}
    assert sums.by_account_month["checking"] == {"2026-01": 1649.0, "2026-02": -300.0}
    assert sums.spending == {"2026-01": {"0": 1.0, "401000": 850.0}, "2026-02": {"0": 20.0}}


def test_the_balance_history_goes_back_from_todays_balance() -> None:
    flows = {"2026-01": 100.0, "2026-02": -40.0, "2026-03": 25.0}
    points = balance_history(1000.0, flows, ["2026-01", "2026-02"])
    # End of February: today's balance minus March's flow.
    assert points == [("2026-01", 1015.0), ("2026-02", 975.0)]


async def test_stored_sums_follow_new_operations(
    services: Services, instance: Instance, seed: Seed
) -> None:
    summaries = services.banks.summaries
    assert (await summaries.current(instance)).count == 0
    await seed(OPERATIONS_DOCTYPE, [operation("a", "A", -10.0, "2026-01-01")])
    first = await summaries.current(instance)
    assert (first.count, first.by_account, first.fresh) == (1, {"checking": -10.0}, True)
    await seed(OPERATIONS_DOCTYPE, [operation("b", "B", 35.5, "2026-01-02")])
    second = await summaries.current(instance)
    assert second.by_account == {"checking": 25.5} and INLINE_LIMIT > 2
