"""Operations one page at a time from the store, with every filter, and the refusals."""

from __future__ import annotations

import pytest

from roost.banks.doctypes import ACCOUNTS_DOCTYPE, OPERATIONS_DOCTYPE
from roost.banks.operations import OperationCursor, OperationFilter, _next_batch
from roost.errors import BadRequest
from roost.instances import Instance
from roost.services import Services
from tests.banks.conftest import Seed, account, operation


@pytest.fixture
async def seeded(seed: Seed) -> None:
    await seed(
        ACCOUNTS_DOCTYPE,
        [account("checking", "Compte courant"), account("savings", "Livret A", type="Savings")],
    )
    docs = [
        operation(f"day-{day:02d}", f"CB SHOP NUMBER {day}", -float(day), f"2026-01-{day:02d}")
        for day in range(1, 29)
    ]
    docs += [
        operation("salary", "VIR SALAIRE ACME", 2500.0, "2026-01-28", manualCategoryId="200110"),
        operation(
            "pharmacy",
            "PHARMACIE DU PORT",
            -23.5,
            "2026-01-15",
            cozyCategoryId="400610",
            cozyCategoryProba=0.8,
        ),
        operation("saving", "VERSEMENT LIVRET", 200.0, "2026-01-10", "savings"),
        # Two on the same day as another page boundary candidate.
        operation("same-a", "CB BAKERY", -2.0, "2026-01-20"),
        operation("same-b", "CB BAKERY", -2.5, "2026-01-20"),
    ]
    await seed(OPERATIONS_DOCTYPE, docs)


async def _ids(services: Services, instance: Instance, filters: OperationFilter) -> list[str]:
    page = await services.banks.operations.page(instance, filters)
    return [operation.id for operation in page.operations]


async def test_the_pages_walk_every_operation_once_newest_first(
    services: Services, instance: Instance, seeded: None
) -> None:
    seen: list[str] = []
    cursor: OperationCursor | None = None
    while True:
        page = await services.banks.operations.page(
            instance, OperationFilter(), limit=7, after=cursor
        )
        seen += [operation.id for operation in page.operations]
        days = [operation.day for operation in page.operations]
        assert days == sorted(days, reverse=True)
        if page.cursor is None:
            break
        cursor = OperationCursor.decode(page.cursor.encode())
    assert len(seen) == len(set(seen)) == 33


async def test_each_filter_selects_what_it_says(
    services: Services, instance: Instance, seeded: None
) -> None:
    assert await _ids(services, instance, OperationFilter(account="savings")) == ["saving"]
    assert await _ids(services, instance, OperationFilter(category="200110")) == ["salary"]
    # A parent selects its children: health expenses are under health.
    assert await _ids(services, instance, OperationFilter(category="400600")) == ["pharmacy"]
    ranged = await _ids(
        services, instance, OperationFilter(date_from="2026-01-26", date_to="2026-01-27")
    )
    assert ranged == ["day-27", "day-26"]
    large = await _ids(services, instance, OperationFilter(amount_min=25, amount_max=200))
    assert set(large) == {"day-25", "day-26", "day-27", "day-28", "saving"}
    assert sorted(await _ids(services, instance, OperationFilter(words="bakery"))) == [
        "same-a",
        "same-b",
    ]
    assert await _ids(services, instance, OperationFilter(words="salaire acme")) == ["salary"]
    assert await _ids(services, instance, OperationFilter(words="Pharmacie PORT")) == ["pharmacy"]
    assert await _ids(services, instance, OperationFilter(words="pharmacie garage")) == []


async def test_a_search_over_many_batches_walks_every_match_once_newest_first(
    services: Services, instance: Instance, seed: Seed
) -> None:
    """600 operations, four a day, one in nine a match: the pages of 7 go through batches
    sized from what matched so far, and still give each match once, in order."""
    docs = []
    for index in range(600):
        day = f"2025-{1 + index // 112:02d}-{1 + index // 4 % 28:02d}"
        label = "CB ÉPICERIE RARE" if index % 9 == 0 else "CB COMMON SHOP"
        docs.append(operation(f"op-{index:03d}", label, -1.0, day))
    await seed(OPERATIONS_DOCTYPE, docs)
    expected = sorted(
        ((doc["date"], doc["_id"]) for doc in docs if "RARE" in doc["label"]), reverse=True
    )
    seen: list[tuple[str, str]] = []
    cursor: OperationCursor | None = None
    pages = 0
    while True:
        page = await services.banks.operations.page(
            instance, OperationFilter(words="epicerie rare"), limit=7, after=cursor
        )
        pages += 1
        seen += [(operation.date, operation.id) for operation in page.operations]
        if page.cursor is None:
            break
        cursor = OperationCursor.decode(page.cursor.encode())
    assert seen == expected
    assert pages == len(expected) // 7 + 1


def test_a_batch_is_sized_from_the_share_that_matched_so_far() -> None:
    # 17 of 102 matched (one in six), 34 still missing: about 204 more, with a margin.
    assert _next_batch(missing=34, found=17, scanned=102) == 255
    assert _next_batch(missing=34, found=0, scanned=102) == 500  # nothing yet: the most
    assert _next_batch(missing=40, found=10, scanned=5000) == 500  # never past the most
    assert _next_batch(missing=3, found=47, scanned=47) == 4  # at least what is missing


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"min": "ten"}, "min must be an amount"),
        ({"max": "12.345"}, "max must be an amount"),
        ({"min": "50", "max": "10"}, "smallest amount is larger"),
        ({"from": "2026-13-01"}, "from must be a date"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "ends before it starts"),
        ({"category": "123456"}, "category must be one of"),
    ],
)
def test_a_malformed_filter_is_refused_with_its_reason(params: dict[str, str], reason: str) -> None:
    with pytest.raises(BadRequest) as refused:
        OperationFilter.parse(params)
    assert reason in refused.value.reason


def test_amounts_take_a_comma_or_a_dot() -> None:
    assert OperationFilter.parse({"min": "12,50", "max": "99.9"}).amount_min == 12.5
