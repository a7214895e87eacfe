"""Health bills (`io.cozy.bills`) and the bank operations that reimbursed them.

The health-bills example app (examples/apps/health-bills) links them both ways, as Cozy
Banks reads them: the operation's `bills` holds `"io.cozy.bills:<id>"`, the bill's
`matchingOperation` the operation's id. Banks shows the bill on the operation and the
operation on the bill; the bill's PDF is its `invoice` (`"io.cozy.files:<id>"`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from roost.banks.doctypes import BILLS_DOCTYPE
from roost.couch import CouchClient
from roost.instances import Instance

HEALTH_TYPE: Final = "health_costs"
MAX_BILLS: Final = 500


@dataclass(frozen=True)
class Bill:
    id: str
    vendor: str
    amount: float
    date: str
    file_id: str | None  # the bill's PDF in the person's Drive
    operation_id: str | None  # the operation that reimbursed it
    health: bool

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Bill:
        invoice = doc.get("invoice")
        file_id = None
        if isinstance(invoice, str) and invoice.startswith("io.cozy.files:"):
            file_id = invoice.split(":", 1)[1] or None
        amount = doc.get("amount")
        matching = doc.get("matchingOperation")
        return cls(
            id=str(doc["_id"]),
            vendor=str(doc.get("vendor") or ""),
            amount=float(amount) if isinstance(amount, int | float) else 0.0,
            date=str(doc.get("date") or "")[:10],
            file_id=file_id,
            operation_id=matching if isinstance(matching, str) and matching else None,
            health=doc.get("type") == HEALTH_TYPE,
        )


class Reimbursements:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch

    async def bills(self, instance: Instance, ids: Iterable[str]) -> dict[str, Bill]:
        """The bills of these ids that exist (by id)."""
        wanted = sorted({bill_id for bill_id in ids if bill_id and not bill_id.startswith("_")})
        if not wanted:
            return {}
        answer = await self.couch.all_docs(
            instance.db(BILLS_DOCTYPE), keys=wanted, params={"include_docs": True}
        )
        return {
            row["id"]: Bill.from_doc(row["doc"])
            for row in answer.get("rows", [])
            if isinstance(row.get("doc"), dict)
        }

    async def health_bills(self, instance: Instance, limit: int = 20) -> list[Bill]:
        """The newest health bills, reimbursed or still waiting."""
        answer = await self.couch.find(
            instance.db(BILLS_DOCTYPE),
            {"selector": {"type": HEALTH_TYPE}, "limit": MAX_BILLS},
        )
        bills = [Bill.from_doc(doc) for doc in answer.get("docs", [])]
        bills.sort(key=lambda bill: (bill.date, bill.id), reverse=True)
        return bills[:limit]
