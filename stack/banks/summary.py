"""Sums over every operation — per account, per account and month, spent per month and
category — kept in one document so the Banks page reads them in one request.

Why not CouchDB views: PouchDB Server (the embedded store) runs JavaScript map functions
slowly (half a minute for 5,000 operations on this project's machine) and reduces at every
query (half a second for 5,000), far from a 150 ms page. Instead the sums are computed here,
from one pass over the operations (`_all_docs`, 5,000 at a time), and stored in the
instance's `io.roost.bank.summaries` document `summary` with the operations database's
`update_seq` at that moment. The page uses the stored sums when the sequence still matches;
when it does not, it recomputes them at once for a small history (`INLINE_LIMIT`), else
shows the last ones (saying so) while the Banks job's follow-up recomputes them.
Amounts are summed in cents, so the totals are exact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from roost.banks.categories import displayed_category, parent_of
from roost.banks.doctypes import OPERATIONS_DOCTYPE
from roost.banks.operations import account_of
from roost.couch import CouchClient, quote_db
from roost.errors import Conflict, NotFound
from roost.instances import Instance

SUMMARY_DOCTYPE: Final = "io.roost.bank.summaries"
SUMMARY_ID: Final = "summary"
#: Up to this many operations, stale sums are recomputed while the page waits.
INLINE_LIMIT: Final = 5000
_BATCH: Final = 5000
OUT_OF_BUDGET: Final = "600100"


@dataclass(frozen=True)
class Sums:
    by_account: dict[str, float] = field(default_factory=dict)  # account id → sum
    by_account_month: dict[str, dict[str, float]] = field(default_factory=dict)
    spending: dict[str, dict[str, float]] = field(default_factory=dict)  # month → parent → spent
    count: int = 0
    fresh: bool = True  # False: older than the operations (a recomputation is on its way)


def summarise(docs: Iterable[Mapping[str, Any]]) -> Sums:
    """The sums of these operations (debits out of budget are not spending)."""
    accounts: dict[str, int] = defaultdict(int)
    months: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    spent: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    count = 0
    for doc in docs:
        amount = doc.get("amount")
        day = doc.get("date")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            continue
        if not isinstance(day, str) or len(day) < 7:
            continue
        cents = round(amount * 100)
        account = account_of(doc)
        month = day[:7]
        accounts[account] += cents
        months[account][month] += cents
        if cents < 0:
            parent = parent_of(displayed_category(doc))
            if parent != OUT_OF_BUDGET:
                spent[month][parent] -= cents
        count += 1
    return Sums(
        by_account={key: value / 100 for key, value in accounts.items()},
        by_account_month={
            key: {month: value / 100 for month, value in inner.items()}
            for key, inner in months.items()
        },
        spending={
            month: {parent: value / 100 for parent, value in inner.items()}
            for month, inner in spent.items()
        },
        count=count,
    )


def balance_history(
    balance: float, flows: Mapping[str, float], months: list[str]
) -> list[tuple[str, float]]:
    """The balance at the end of each of `months` (ascending "YYYY-MM"), from today's
    `balance` and each month's net flow: going back, each later month's flow is taken off."""
    points = []
    running = balance
    for month in sorted((month for month in flows if month > months[-1]), reverse=True):
        running -= flows[month]
    for month in reversed(months):
        points.append((month, round(running, 2)))
        running -= flows.get(month, 0.0)
    return list(reversed(points))


class Summaries:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch

    async def _state(self, instance: Instance) -> tuple[str, int]:
        """The operations database's update sequence and document count."""
        try:
            info = await self.couch.json_request(
                "GET", f"/{quote_db(instance.db(OPERATIONS_DOCTYPE))}"
            )
        except NotFound:
            return "", 0
        return str(info.get("update_seq", "")), int(info.get("doc_count") or 0)

    async def _operations(self, instance: Instance) -> list[dict[str, Any]]:
        db = instance.db(OPERATIONS_DOCTYPE)
        docs: list[dict[str, Any]] = []
        start: str | None = None
        while True:
            params: dict[str, Any] = {"include_docs": True, "limit": _BATCH + 1}
            if start is not None:
                params["startkey"] = start
            answer = await self.couch.all_docs(db, params=params)
            rows = answer.get("rows", [])
            for row in rows[:_BATCH]:
                if isinstance(row.get("doc"), dict) and not row["id"].startswith("_design/"):
                    docs.append(row["doc"])
            if len(rows) <= _BATCH:
                return docs
            start = rows[_BATCH]["id"]

    async def compute(self, instance: Instance) -> Sums:
        """Sum every operation now and store the sums."""
        seq, _ = await self._state(instance)
        sums = summarise(await self._operations(instance))
        db = instance.db(SUMMARY_DOCTYPE)
        previous = await self.couch.get_doc_or_none(db, SUMMARY_ID)
        doc: dict[str, Any] = {
            "_id": SUMMARY_ID,
            "seq": seq,
            "count": sums.count,
            "byAccount": sums.by_account,
            "byAccountMonth": sums.by_account_month,
            "spending": sums.spending,
        }
        if previous is not None:
            doc["_rev"] = previous["_rev"]
        try:
            await self.couch.put_doc(db, doc)
        except Conflict:
            pass  # another process stored sums at the same moment
        return sums

    async def current(self, instance: Instance, *, compute: bool = True) -> Sums:
        """The stored sums when they are up to date; else recomputed now when the history is
        small (and `compute`), else the stored ones marked not fresh (the caller schedules
        `compute`)."""
        seq, count = await self._state(instance)
        if not seq or count == 0:
            return Sums()
        stored = await self.couch.get_doc_or_none(instance.db(SUMMARY_DOCTYPE), SUMMARY_ID)
        if stored is not None and stored.get("seq") == seq:
            return _from_doc(stored, fresh=True)
        if compute and count <= INLINE_LIMIT:
            return await self.compute(instance)
        return _from_doc(stored or {}, fresh=False)


def _from_doc(doc: Mapping[str, Any], *, fresh: bool) -> Sums:
    def numbers(value: Any) -> dict[str, float]:
        if not isinstance(value, dict):
            return {}
        return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float)}

    def nested(value: Any) -> dict[str, dict[str, float]]:
        if not isinstance(value, dict):
            return {}
        return {str(k): numbers(v) for k, v in value.items()}

    return Sums(
        by_account=numbers(doc.get("byAccount")),
        by_account_month=nested(doc.get("byAccountMonth")),
        spending=nested(doc.get("spending")),
        count=int(doc.get("count") or 0),
        fresh=fresh,
    )
