"""QIF (Quicken Interchange Format) bank, cash and card registers.

One field per line (a letter code, then the value), ``^`` ends a record. QIF has no
transaction ids and no currency, and its dates are month-first or day-first depending on
who wrote the file: the order is decided over the whole file (any first field above 12
settles it; if none does, day-first, the European default).
"""

import re
from datetime import date

from bank_records import parse_amount
from roost_importer import FileRejected

REGISTERS = {
    "bank": "Checkings",
    "cash": "Checkings",
    "ccard": "CreditCard",
    "oth a": "Savings",
    "oth l": "Loan",
}
_DATE = re.compile(r"^\s*(\d{1,4})\s*[/.\-]\s*(\d{1,2})\s*(?:[/.\-']\s*)?(\d{2,4})\s*$")


def looks_like_qif(data):
    return data.lstrip(b"\xef\xbb\xbf \r\n\t")[:6].lower() in (
        b"!type:",
        b"!accou",
        b"!optio",
        b"!clear",
    )


def _parts(text):
    compact = re.sub(r"\s", "", text)
    if re.fullmatch(r"\d{8}", compact):
        return int(compact[:4]), int(compact[4:6]), int(compact[6:]), "iso"
    m = _DATE.match(text.replace("'", "/"))
    if not m:
        raise FileRejected(f"{text!r} is not a date")
    a, b, c = (int(x) for x in m.groups())
    if len(m.group(1)) == 4:
        return a, b, c, "iso"
    year = c + 2000 if c < 100 and ("'" in text or c < 70) else (c + 1900 if c < 100 else c)
    return a, b, year, "pair"


def _records(text):
    register, record = None, {}
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith("!"):
            header = line[1:].strip().lower()
            if header.startswith("type:"):
                register = header[5:].strip()
            elif header == "account":
                register = "account"
            continue
        code, value = line[0], line[1:].strip()
        if code == "^":
            if register == "account":
                yield "account", dict(record)
            elif record:
                yield register, dict(record)
            record = {}
            continue
        if code in "SE$%":
            continue  # split lines: the record's total amount (T) is what the account saw
        record[code] = value
    if record:
        raise FileRejected("the last record is not ended by '^'")


def parse(data, text):
    accounts, current = [], None
    rows = []
    for register, record in _records(text):
        if register == "account":
            current = {"name": record.get("N", ""), "type": record.get("T", "").lower()}
            continue
        if register not in REGISTERS:
            continue  # investment registers and lists (categories, classes...): no operations
        if "D" not in record or ("T" not in record and "U" not in record):
            raise FileRejected(f"record {len(rows) + 1} has no date or no amount")
        rows.append((current, register, record))
    if not rows:
        raise FileRejected("this QIF file holds no bank operation")
    day_first = True
    for _, _, record in rows:
        a, b, _, kind = _parts(record["D"])
        if kind == "pair" and a > 12:
            day_first = True
            break
        if kind == "pair" and b > 12:
            day_first = False
            break
    by_account = {}
    for current, register, record in rows:
        a, b, y, kind = _parts(record["D"])
        if kind == "iso":
            y, month, day = a, b, y
        else:
            day, month = (a, b) if day_first else (b, a)
        try:
            when = date(y, month, day)
        except ValueError:
            raise FileRejected(f"{record['D']!r} is not a date") from None
        name = (current or {}).get("name") or "QIF"
        account = by_account.get(name)
        if account is None:
            account = by_account[name] = {
                "institution": "",
                "number": name,
                "iban": "",
                "label": name if current else "",
                "type": REGISTERS.get((current or {}).get("type", ""), REGISTERS[register]),
                "currency": "EUR",
                "balance": None,
                "balanceDate": None,
                "operations": [],
            }
            accounts.append(account)
        payee, memo = record.get("P", ""), record.get("M", "")
        label = payee if not memo or memo in payee else (f"{payee} {memo}" if payee else memo)
        account["operations"].append(
            {
                "date": when,
                "amount": parse_amount(record.get("T") or record["U"]),
                "label": label,
                "ref": None,
                "type": "check" if record.get("N", "").isdigit() else "none",
                "isComing": False,
            }
        )
    return accounts
