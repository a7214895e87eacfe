"""health-bills: links health-reimbursement bills to the bank operations that paid them.

A bill (``io.cozy.bills``, ``type`` "health_costs", as Cozy's health connectors write them)
matches a bank operation (``io.cozy.bank.operations``) when:

- the amounts are equal to the cent (a reimbursement is a credit: operation amount > 0),
- the operation's date is within ``window_days`` (default 10) of the bill's date,
- the operation's label names the bill's vendor (or one of its known aliases).

A match is recorded both ways, as Cozy's banks app reads it: ``bill.matchingOperation`` =
operation id, and ``operation.bills`` gains ``"io.cozy.bills:<bill id>"``. Bills already
matched are skipped, so a re-run changes nothing.

Input (optional): ``{"window_days": 10}``. Output: ``{"matched": [...], "unmatched": [...]}``.
"""

import json
from datetime import date

import roost_sdk as roost
import wit_world
from componentize_py_types import Err

BILLS = "io.cozy.bills"
OPERATIONS = "io.cozy.bank.operations"
ALIASES = {
    "ameli": ["ameli", "cpam", "c.p.a.m", "assurance maladie"],
    "harmonie": ["harmonie", "harmonie mutuelle"],
    "mgen": ["mgen"],
    "alan": ["alan"],
}


def _day(text):
    return date.fromisoformat(str(text)[:10])


def _cents(value):
    return round(float(value) * 100)


def _names(vendor):
    v = str(vendor or "").lower().strip()
    return ALIASES.get(v, [v]) if v else []


def _vendor_matches(vendor, label):
    label = str(label or "").lower()
    return any(name and name in label for name in _names(vendor))


def match(params):
    window = int(params.get("window_days", 10))
    bills = [
        b
        for b in roost.find_all(BILLS, {"type": "health_costs"})
        if not b.get("matchingOperation") and b.get("amount") is not None and b.get("date")
    ]
    credits = [o for o in roost.find_all(OPERATIONS) if float(o.get("amount", 0)) > 0]
    taken = set()
    for op in credits:
        for ref in op.get("bills") or []:
            taken.add((op["_id"], ref))
    matched, unmatched = [], []
    for bill in sorted(bills, key=lambda b: b["date"]):
        bill_day = _day(bill["date"])
        candidates = []
        for op in credits:
            if _cents(op["amount"]) != _cents(bill["amount"]):
                continue
            gap = abs((_day(op["date"]) - bill_day).days)
            if gap > window or not _vendor_matches(bill.get("vendor"), op.get("label")):
                continue
            if any(o == op["_id"] for o, _ in taken):
                continue  # one operation pays one bill here
            candidates.append((gap, op["date"], op))
        if not candidates:
            unmatched.append(bill["_id"])
            continue
        candidates.sort(key=lambda c: (c[0], c[1]))
        op = candidates[0][2]
        ref = f"{BILLS}:{bill['_id']}"
        op_doc = dict(op)
        op_doc["bills"] = [*(op.get("bills") or []), ref]
        stored_op = roost.update(OPERATIONS, op_doc)
        op.update(stored_op)
        bill_doc = dict(bill)
        bill_doc["matchingOperation"] = op["_id"]
        roost.update(BILLS, bill_doc)
        taken.add((op["_id"], ref))
        matched.append({"bill": bill["_id"], "operation": op["_id"], "amount": bill["amount"]})
        roost.info(
            f"bill {bill['_id']} ({bill['amount']}) paid by {op['label']} on {op['date'][:10]}"
        )
    return {"matched": matched, "unmatched": unmatched}


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        try:
            return json.dumps(match(json.loads(input or "{}")))
        except roost.RoostError as e:
            raise Err(json.dumps({"error": e.code, "message": e.message})) from None
