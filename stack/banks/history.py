"""Sums over every operation, kept by the store: per account, per month, per category.

One CouchDB design document with two map/reduce views (`_sum`, built in on CouchDB and
PouchDB Server alike). The store keeps them up to date incrementally, so the Banks page's
totals and charts read a few dozen reduced rows, whatever the number of operations:

- `flows`: key `[account id, "YYYY-MM"]`, value the amount — group level 1 gives each
  account's sum, level 2 its net flow per month (the balance history is the balance minus
  the later months' flows);
- `spending`: key `["YYYY-MM", parent category]`, value the debit (positive) — for the
  spending-by-category chart. Operations out of budget (internal transfers, savings…) are
  left out, as Cozy Banks does.

The map functions compute the displayed category with Cozy's rule (`categories.py`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from roost.banks.categories import (
    CATEGORIES,
    GLOBAL_MODEL_THRESHOLD,
    LOCAL_MODEL_THRESHOLD,
    PARENTS,
)
from roost.banks.doctypes import OPERATIONS_DOCTYPE
from roost.couch import CouchClient, quote_db
from roost.errors import Conflict
from roost.instances import Instance

DESIGN_ID: Final = "_design/roost-banks"
# Bumped when a map function changes: the stored design document is then replaced.
VERSION: Final = 1
OUT_OF_BUDGET: Final = "600100"

_ACCOUNT_JS: Final = (
    "var account = typeof doc.account === 'string' ? doc.account : "
    "((doc.relationships && doc.relationships.account && doc.relationships.account.data && "
    "doc.relationships.account.data._id) || '');"
)
_FLOWS_MAP: Final = (
    "function (doc) {"
    " if (typeof doc.amount !== 'number' || typeof doc.date !== 'string') return;"
    f" {_ACCOUNT_JS}"
    " emit([account, doc.date.substring(0, 7)], doc.amount); }"
)
_SPENDING_MAP: Final = (
    "function (doc) {"
    " if (typeof doc.amount !== 'number' || typeof doc.date !== 'string' || doc.amount >= 0)"
    " return;"
    f" var known = {json.dumps(sorted(CATEGORIES))};"
    f" var parents = {json.dumps(list(PARENTS))};"
    " function ok(id) { return typeof id === 'string' && known.indexOf(id) >= 0; }"
    " var id = '0';"
    " if (ok(doc.manualCategoryId)) id = doc.manualCategoryId;"
    f" else if (ok(doc.localCategoryId) && doc.localCategoryProba > {LOCAL_MODEL_THRESHOLD})"
    " id = doc.localCategoryId;"
    f" else if (ok(doc.cozyCategoryId) && doc.cozyCategoryProba > {GLOBAL_MODEL_THRESHOLD})"
    " id = doc.cozyCategoryId;"
    " else if (ok(doc.automaticCategoryId)) id = doc.automaticCategoryId;"
    " var parent = '0';"
    " if (parents.indexOf(id) >= 0) parent = id; else {"
    "  for (var w = 1; w <= id.length; w++) {"
    "   var c = id.substring(0, id.length - w) + new Array(w + 1).join('0');"
    "   if (parents.indexOf(c) >= 0) { parent = c; break; } } }"
    f" if (parent === '{OUT_OF_BUDGET}') return;"
    " emit([doc.date.substring(0, 7), parent], -doc.amount); }"
)
DESIGN: Final[dict[str, Any]] = {
    "language": "javascript",
    "roost_version": VERSION,
    "views": {
        "flows": {"map": _FLOWS_MAP, "reduce": "_sum"},
        "spending": {"map": _SPENDING_MAP, "reduce": "_sum"},
    },
}


@dataclass(frozen=True)
class MonthlyFlows:
    by_account: dict[str, float]  # account id → sum of all its operations
    by_account_month: dict[str, dict[str, float]]  # account id → "YYYY-MM" → net flow


class History:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch
        self._ready: set[str] = set()

    async def ensure_views(self, instance: Instance) -> None:
        db = instance.db(OPERATIONS_DOCTYPE)
        if db in self._ready:
            return
        await self.couch.ensure_db(db)
        current = await self.couch.get_doc_or_none(db, DESIGN_ID)
        if current is None or current.get("roost_version") != VERSION:
            doc: dict[str, Any] = {"_id": DESIGN_ID, **DESIGN}
            if current is not None:
                doc["_rev"] = current["_rev"]
            try:
                await self.couch.put_doc(db, doc)
            except Conflict:
                pass  # another process wrote the same design at once
        self._ready.add(db)

    async def _view(self, instance: Instance, view: str, group_level: int) -> list[dict[str, Any]]:
        await self.ensure_views(instance)
        db = instance.db(OPERATIONS_DOCTYPE)
        answer = await self.couch.json_request(
            "GET",
            f"/{quote_db(db)}/{quote(DESIGN_ID, safe='/')}/_view/{view}",
            params={"group_level": group_level},
        )
        rows: list[dict[str, Any]] = answer.get("rows", [])
        return rows

    async def flows(self, instance: Instance) -> MonthlyFlows:
        by_account_month: dict[str, dict[str, float]] = defaultdict(dict)
        by_account: dict[str, float] = defaultdict(float)
        for row in await self._view(instance, "flows", 2):
            account, month = row["key"]
            value = float(row["value"])
            by_account_month[account][month] = value
            by_account[account] += value
        return MonthlyFlows(
            {key: round(value, 2) for key, value in by_account.items()}, dict(by_account_month)
        )

    async def spending(self, instance: Instance) -> dict[str, dict[str, float]]:
        """ "YYYY-MM" → parent category → amount spent (positive)."""
        months: dict[str, dict[str, float]] = defaultdict(dict)
        for row in await self._view(instance, "spending", 2):
            month, parent = row["key"]
            months[month][parent] = round(float(row["value"]), 2)
        return dict(months)


def balance_history(
    balance: float, flows: dict[str, float], months: list[str]
) -> list[tuple[str, float]]:
    """The balance at the end of each of `months` (ascending "YYYY-MM"), from today's
    `balance` and each month's net flow: going back, each later month's flow is taken off."""
    points = []
    running = balance
    later = sorted((month for month in flows if month > months[-1]), reverse=True)
    for month in later:
        running -= flows[month]
    for month in reversed(months):
        points.append((month, round(running, 2)))
        running -= flows.get(month, 0.0)
    return list(reversed(points))
