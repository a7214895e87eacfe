"""ISO 20022 CAMT.053 (BankToCustomerStatement), any schema version, several statements.

Elements are matched on local names: each version (camt.053.001.02 ... .13) has its own
namespace. The XML declaration's encoding is honoured (some banks send ISO-8859-1). A DTD is
refused outright: a statement never needs one, and entities are how XML bombs work.
"""

import xml.etree.ElementTree as ET
from datetime import date

from bank_records import parse_amount
from roost_importer import FileRejected

_ABSENT = ("", "NOTPROVIDED", "NONREF")


def looks_like_camt(data):
    head = data[:4096]
    return b"BkToCstmrStmt" in head or b"camt.053" in head


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _child(node, *path):
    for name in path:
        if node is None:
            return None
        node = next((c for c in node if _local(c.tag) == name), None)
    return node


def _children(node, name):
    return [c for c in node if _local(c.tag) == name] if node is not None else []


def _text(node, *path):
    found = _child(node, *path)
    return (found.text or "").strip() if found is not None and found.text else ""


def _date(node, where):
    text = _text(node, "Dt") or _text(node, "DtTm")[:10]
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise FileRejected(f"{where}: {text!r} is not a date") from None


def _signed(amount_node, indicator, where):
    if amount_node is None or not amount_node.text:
        raise FileRejected(f"{where} has no amount")
    value = parse_amount(amount_node.text, decimal_comma=False)
    if indicator not in ("CRDT", "DBIT"):
        raise FileRejected(f"{where} is neither a credit nor a debit")
    return (value if indicator == "CRDT" else -value), amount_node.get("Ccy") or ""


def _party_name(tx, credit):
    parties = _child(tx, "RltdPties")
    role = "Dbtr" if credit else "Cdtr"
    return _text(parties, role, "Nm") or _text(parties, role, "Pty", "Nm")


def _entry(ntry, where, currency):
    amount, ccy = _signed(_child(ntry, "Amt"), _text(ntry, "CdtDbtInd"), where)
    booked = _date(_child(ntry, "BookgDt"), where) or _date(_child(ntry, "ValDt"), where)
    if booked is None:
        raise FileRejected(f"{where} has no booking date")
    status = _text(ntry, "Sts") or _text(ntry, "Sts", "Cd")
    tx = _child(ntry, "NtryDtls", "TxDtls")
    refs = _child(tx, "Refs")
    words = []
    if tx is not None:
        words.append(_party_name(tx, amount > 0))
        words.extend(_text(u) for u in _children(_child(tx, "RmtInf"), "Ustrd"))
    words.append(_text(ntry, "AddtlNtryInf"))
    label = " ".join(w for w in words if w) or _text(ntry, "BkTxCd", "Prtry", "Cd")
    ref = next(
        (
            r
            for r in (
                _text(ntry, "AcctSvcrRef"),
                _text(refs, "AcctSvcrRef"),
                _text(ntry, "NtryRef"),
                _text(refs, "EndToEndId"),
            )
            if r not in _ABSENT
        ),
        None,
    )
    return {
        "date": booked,
        "valueDate": _date(_child(ntry, "ValDt"), where),
        "amount": amount,
        "label": label,
        "currency": ccy or currency,
        "ref": ref,
        "type": "transfer" if _child(tx, "RltdPties") is not None else "none",
        "isComing": status in ("PDNG", "INFO"),
    }


def parse(data):
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise FileRejected("a CAMT.053 statement may not carry a DTD")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise FileRejected(f"not well-formed XML ({e})") from None
    body = root if _local(root.tag) == "BkToCstmrStmt" else _child(root, "BkToCstmrStmt")
    if body is None:
        raise FileRejected("not a CAMT.053 statement (no BkToCstmrStmt)")
    statements = _children(body, "Stmt")
    if not statements:
        raise FileRejected("this CAMT.053 file holds no statement")
    accounts = {}
    for n, stmt in enumerate(statements, 1):
        acct = _child(stmt, "Acct")
        iban = _text(acct, "Id", "IBAN")
        number = iban or _text(acct, "Id", "Othr", "Id")
        if not number:
            raise FileRejected(f"statement {n} names no account")
        currency = _text(acct, "Ccy") or "EUR"
        svcr = _child(acct, "Svcr", "FinInstnId")
        institution = _text(svcr, "Nm") or _text(svcr, "BICFI") or _text(svcr, "BIC")
        closing = None
        for bal in _children(stmt, "Bal"):
            code = _text(bal, "Tp", "CdOrPrtry", "Cd")
            if code in ("CLBD", "CLAV") and (closing is None or code == "CLBD"):
                amount, _ = _signed(
                    _child(bal, "Amt"), _text(bal, "CdtDbtInd"), f"statement {n} balance"
                )
                closing = (amount, _date(_child(bal, "Dt"), f"statement {n} balance"))
        operations = [
            _entry(ntry, f"statement {n}, entry {i}", currency)
            for i, ntry in enumerate(_children(stmt, "Ntry"), 1)
        ]
        account = accounts.setdefault(
            (institution, number),
            {
                "institution": institution,
                "number": number,
                "iban": iban,
                "label": _text(acct, "Nm"),
                "type": "Checkings",
                "currency": currency,
                "balance": None,
                "balanceDate": None,
                "operations": [],
            },
        )
        account["operations"].extend(operations)
        if closing is not None and (
            account["balanceDate"] is None or (closing[1] and closing[1] >= account["balanceDate"])
        ):
            account["balance"], account["balanceDate"] = closing
    return list(accounts.values())
