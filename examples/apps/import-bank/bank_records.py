"""Statement records (what every format parses to) and the Cozy documents made from them.

A parser returns a list of accounts::

    {"institution": str, "number": str, "iban": str, "label": str, "type": str,
     "currency": "EUR", "balance": Decimal | None, "balanceDate": date | None,
     "operations": [{"date": date, "amount": Decimal, "label": str, "currency": str,
                     "ref": str | None, "realisationDate": date | None,
                     "valueDate": date | None, "type": str, "isComing": bool}]}

``to_documents`` turns them into ``io.cozy.bank.accounts`` and ``io.cozy.bank.operations``
documents with ids that do not change from one import of the same statement to the next.
"""

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from roost_importer import FileRejected, now_iso, occurrence_ids, stable_id

ACCOUNTS = "io.cozy.bank.accounts"
OPERATIONS = "io.cozy.bank.operations"
ACCOUNT_TYPES = {
    "CHECKING": "Checkings",
    "SAVINGS": "Savings",
    "MONEYMRKT": "Savings",
    "CREDITLINE": "Loan",
    "CD": "LongTermSavings",
    "CREDITCARD": "CreditCard",
}
# Amounts: digits with optional thousands separators (space, NBSP, ', .) and a decimal mark.
_SPACES = re.compile(r"[\s\u00a0\u202f']")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def parse_amount(text, decimal_comma=None):
    """``'-1 337,42'`` / ``'1,234.56'`` / ``'+80.5'`` -> Decimal; FileRejected if not a number.

    With both marks present the last one is the decimal mark; with a comma only, it is the
    decimal mark unless ``decimal_comma`` is False (then a thousands separator).
    """
    raw = str(text)
    s = _SPACES.sub("", raw).replace("\u20ac", "").replace("EUR", "")
    negative = s.endswith("-") or (s.startswith("(") and s.endswith(")"))
    s = s.strip("()").rstrip("-") if negative and not s.startswith("-") else s
    if "," in s and "." in s:
        if s.rfind(",") > s.rfind("."):
            s = s.replace(".", "").replace(",", ".")
        else:
            s = s.replace(",", "")
    elif "," in s:
        s = s.replace(",", "." if decimal_comma is not False else "")
    try:
        value = Decimal(s)
    except InvalidOperation:
        raise FileRejected(f"{raw.strip()!r} is not an amount") from None
    if not value.is_finite():
        raise FileRejected(f"{raw.strip()!r} is not an amount")
    return -value if negative and value > 0 else value


def iso_day(d):
    return d.isoformat() if isinstance(d, date) and not isinstance(d, datetime) else None


def _cozy_date(d):
    # Cozy's banking connectors store midnight UTC of the booking day.
    return f"{d.isoformat()}T00:00:00Z"


def _number(value):
    return float(value)


def clean_label(text):
    return re.sub(r"\s+", " ", str(text or "")).strip()


def _account_doc(account, fmt):
    number = account.get("iban") or account.get("number") or ""
    institution = account.get("institution") or ""
    doc = {
        "_id": stable_id("io.cozy.bank.accounts", institution, number),
        "label": account.get("label") or (f"Account {number}" if number else "Imported account"),
        "institutionLabel": institution,
        "number": account.get("number") or number,
        "type": account.get("type") or "Checkings",
        "currency": account.get("currency") or "EUR",
        "vendorId": number,
        "metadata": {"importedFrom": fmt, "dateImport": now_iso()},
    }
    if account.get("iban"):
        doc["iban"] = account["iban"]
    if account.get("balance") is not None:
        doc["balance"] = _number(account["balance"])
        if account.get("balanceDate"):
            doc["balanceDate"] = account["balanceDate"].isoformat()
    if not _CURRENCY.match(doc["currency"]):
        raise FileRejected(f"{doc['currency']!r} is not a currency code")
    return doc


def to_documents(accounts, fmt):
    """{doctype: [documents]} for a parsed statement file (raises FileRejected if empty)."""
    if not accounts:
        raise FileRejected(f"this {fmt.upper()} file holds no account")
    if not any(a["operations"] for a in accounts) and all(
        a.get("balance") is None for a in accounts
    ):
        raise FileRejected(f"this {fmt.upper()} file holds no operation")
    account_docs, operation_docs = [], []
    imported = now_iso()
    for account in accounts:
        acc = _account_doc(account, fmt)
        account_docs.append(acc)
        ops = []
        used_refs = set()
        for op in account["operations"]:
            label = clean_label(op.get("label")) or "(no label)"
            currency = op.get("currency") or acc["currency"]
            if not _CURRENCY.match(currency):
                raise FileRejected(f"{currency!r} is not a currency code")
            doc = {
                "label": label,
                "originalBankLabel": label,
                "amount": _number(op["amount"]),
                "currency": currency,
                "date": _cozy_date(op["date"]),
                "account": acc["_id"],
                "vendorAccountId": acc["vendorId"],
                "type": op.get("type") or "none",
                "isComing": bool(op.get("isComing")),
                "toCategorize": True,
                "metadata": {"importedFrom": fmt, "dateImport": imported, "version": 1},
            }
            for key in ("realisationDate", "valueDate"):
                if op.get(key):
                    doc[key] = _cozy_date(op[key])
            ref = op.get("ref")
            doc["_id"] = None
            if ref:
                doc["vendorId"] = ref
                # A reference is meant to be unique per account, but some banks reuse one
                # (a purchase and its fee): a second use is keyed like an operation without.
                if ref not in used_refs:
                    used_refs.add(ref)
                    doc["_id"] = stable_id(OPERATIONS, acc["_id"], "ref", ref)
            ops.append(doc)
        unkeyed = [d for d in ops if d["_id"] is None]
        occurrence_ids(
            unkeyed,
            lambda d: (d["date"], d["amount"], d["originalBankLabel"], d.get("vendorId", "")),
            lambda k, i, acc_id=acc["_id"]: stable_id(OPERATIONS, acc_id, *k, i),
        )
        operation_docs.extend(ops)
    return {ACCOUNTS: account_docs, OPERATIONS: operation_docs}


def keep_newer_balance(current, doc):
    """An account update from an older statement must not move its balance back in time."""
    old, new = current.get("balanceDate"), doc.get("balanceDate")
    if "balance" in current and (not new or (old and new < old)):
        doc.pop("balance", None)
        doc.pop("balanceDate", None)
