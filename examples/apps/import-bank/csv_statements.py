"""Bank statements in CSV, read with a column mapping: a saved one, else guessed from the header.

A saved mapping is an ``io.roost.bank.csvmappings`` document (written by the person or the
Banks page)::

    {"columns": {"date": "Date", "label": "Libellé", "debit": "Débit", "credit": "Crédit",
                 "amount": null, "valueDate": "Date de valeur", "currency": null,
                 "reference": null},
     "delimiter": ";", "decimalComma": true, "dayFirst": true,
     "account": {"number": "FR76 ...", "label": "Compte courant", "institution": "Ma banque",
                 "currency": "EUR"}}

The first saved mapping whose columns are all in the file's header wins. French exports are
the default: ``;`` separator, decimal comma, day-first dates, Windows-1252 when not UTF-8,
preamble lines before the header skipped, and a debit column whose sign comes from the
column, not from the number (some banks print debits positive, others negative).
"""

import csv
import io
import re
import unicodedata
from datetime import date

from bank_records import parse_amount
from roost_importer import FileRejected

GUESSES = {
    "date": (
        "date",
        "date operation",
        "date de l'operation",
        "date comptable",
        "dateop",
        "date d'operation",
    ),
    "valueDate": ("date de valeur", "date valeur", "datevalue", "value date"),
    "label": (
        "libelle",
        "libelle operation",
        "label",
        "description",
        "intitule",
        "libelle simplifie",
        "detail",
        "payee",
    ),
    "amount": ("montant", "amount", "montant (eur)", "montant(euros)", "montant eur", "valeur"),
    "debit": ("debit", "debit euros", "debit (eur)", "debit eur"),
    "credit": ("credit", "credit euros", "credit (eur)", "credit eur"),
    "currency": ("devise", "currency"),
    "reference": ("reference", "ref", "numero d'operation", "id"),
}
_DATE = re.compile(r"^(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{2,4})")


def _key(text):
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"\s+", " ", plain).strip().strip('"').lower()


def _delimiter(line, asked):
    if asked:
        return asked
    return max((";", ",", "\t"), key=line.count)


def _header_index(lines, delimiter, mapping):
    wanted = {_key(c) for c in (mapping or {}).get("columns", {}).values() if c}
    for i, line in enumerate(lines[:30]):
        cells = {
            _key(c) for c in next(csv.reader([line], delimiter=_delimiter(line, delimiter)), [])
        }
        if wanted and wanted <= cells:
            return i
        if not wanted and cells & set(GUESSES["date"]) and (cells & set(GUESSES["label"])):
            return i
    return None


def choose_mapping(text, saved):
    """The saved mapping that fits this file's header, or None (guessing then)."""
    lines = text.splitlines()
    for mapping in saved:
        if _header_index(lines, mapping.get("delimiter"), mapping) is not None:
            return mapping
    return None


def _parse_date(text, day_first):
    m = _DATE.match(text.strip())
    if not m:
        raise FileRejected(f"{text!r} is not a date")
    a, b, c = (int(x) for x in m.groups())
    if len(m.group(1)) == 4:
        y, month, day = a, b, c
    else:
        y = c + 2000 if c < 100 else c
        day, month = (a, b) if day_first else (b, a)
    try:
        return date(y, month, day)
    except ValueError:
        raise FileRejected(f"{text!r} is not a date") from None


def parse(text, mapping):
    mapping = mapping or {}
    lines = text.splitlines()
    start = _header_index(lines, mapping.get("delimiter"), mapping)
    if start is None:
        raise FileRejected(
            "no header row with a date and a label column was found; save a column mapping "
            "for this bank's CSV"
        )
    delimiter = _delimiter(lines[start], mapping.get("delimiter"))
    reader = csv.reader(io.StringIO("\n".join(lines[start:])), delimiter=delimiter)
    header = [_key(h) for h in next(reader)]
    columns = {}
    for field, names in GUESSES.items():
        saved = (mapping.get("columns") or {}).get(field)
        candidates = (_key(saved),) if saved else ([] if mapping.get("columns") else names)
        columns[field] = next((header.index(n) for n in candidates if n in header), None)
    if columns["date"] is None or columns["label"] is None:
        raise FileRejected("the mapping names no date or no label column found in the header")
    if columns["amount"] is None and columns["debit"] is None and columns["credit"] is None:
        raise FileRejected("no amount, debit or credit column was found in the header")
    decimal_comma = mapping.get("decimalComma", delimiter != ",")
    day_first = mapping.get("dayFirst", True)
    account_info = mapping.get("account") or {}
    operations = []
    for n, row in enumerate(reader, start + 2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))

        def cell(field, row=row):
            index = columns[field]
            return row[index].strip() if index is not None else ""

        where = f"line {n}"
        if not cell("date"):
            raise FileRejected(f"{where}: no date")
        try:
            when = _parse_date(cell("date"), day_first)
            if cell("amount"):
                amount = parse_amount(cell("amount"), decimal_comma)
            elif cell("debit"):
                amount = -abs(parse_amount(cell("debit"), decimal_comma))
            elif cell("credit"):
                amount = abs(parse_amount(cell("credit"), decimal_comma))
            else:
                raise FileRejected("no amount")
            value_day = _parse_date(cell("valueDate"), day_first) if cell("valueDate") else None
        except FileRejected as e:
            raise FileRejected(f"{where}: {e}") from None
        operations.append(
            {
                "date": when,
                "valueDate": value_day,
                "amount": amount,
                "label": cell("label"),
                "currency": cell("currency").upper() or None,
                "ref": cell("reference") or None,
                "type": "none",
                "isComing": False,
            }
        )
    if not operations:
        raise FileRejected("this CSV file holds no operation")
    number = str(account_info.get("number") or "CSV")
    return [
        {
            "institution": str(account_info.get("institution") or ""),
            "number": number,
            "iban": str(account_info.get("iban") or ""),
            "label": str(account_info.get("label") or ""),
            "type": str(account_info.get("type") or "Checkings"),
            "currency": str(account_info.get("currency") or "EUR"),
            "balance": None,
            "balanceDate": None,
            "operations": operations,
        }
    ]
