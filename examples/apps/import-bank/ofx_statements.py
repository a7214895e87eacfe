"""OFX 1.x (SGML), OFX 2.x (XML) and QFX statements, read with ofxtools.

ofxtools is strict and types every value, so a few well-known bank dialects are smoothed
first, on the raw bytes: decimal commas in amounts (French and Belgian banks), and date-times
cut to their day - ofxtools converts them to UTC, which would move an operation stamped
``20261005000000[+2:CEST]`` to the 4th.
"""

import os
import re
import warnings
from io import BytesIO

# ofxtools reads the home directory when imported (for its client's config); the sandbox has
# none, so give it one that is never touched by the parser.
os.environ.setdefault("HOME", "/nonexistent")

from bank_records import ACCOUNT_TYPES, clean_label
from ofxtools.Parser import OFXTree
from roost_importer import FileRejected

_DECIMAL_COMMA = re.compile(rb"(<(?:TRNAMT|BALAMT|UNITPRICE)>\s*[-+]?\d*),(\d)")
_DATETIME = re.compile(rb"(<(?:DTPOSTED|DTUSER|DTAVAIL|DTASOF|DTSTART|DTEND)>\s*)(\d{8})[^<\r\n]*")
OPERATION_TYPES = {
    "CREDIT": "transfer",
    "DEBIT": "none",
    "INT": "financial fee",
    "DIV": "deposit",
    "FEE": "financial fee",
    "SRVCHG": "financial fee",
    "DEP": "deposit",
    "ATM": "cash",
    "POS": "debit card",
    "XFER": "transfer",
    "CHECK": "check",
    "PAYMENT": "direct debit",
    "CASH": "cash",
    "DIRECTDEP": "deposit",
    "DIRECTDEBIT": "direct debit",
    "REPEATPMT": "direct debit",
    "OTHER": "none",
}


def looks_like_ofx(data):
    head = data[:2048].upper()
    return b"OFXHEADER" in head or b"<OFX>" in head or b"<OFX " in head


def _normalise(data):
    data = _DECIMAL_COMMA.sub(rb"\1.\2", data)
    return _DATETIME.sub(rb"\1\2", data)


def _day(value):
    return value.date() if value is not None else None


def parse(data):
    tree = OFXTree()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. QFX's <INTU.BID>: skipped, as it should be
            tree.parse(BytesIO(_normalise(data)))
            ofx = tree.convert()
    except Exception as e:  # ofxtools raises many kinds (ParseError, ValueError, KeyError...)
        detail = clean_label(str(e))[:200] or type(e).__name__
        raise FileRejected(f"not a valid OFX statement ({detail})") from None
    institution = ""
    signon = getattr(ofx, "signonmsgsrsv1", None)
    fi = getattr(getattr(signon, "sonrs", None), "fi", None)
    if fi is not None and getattr(fi, "org", None):
        institution = fi.org
    accounts = []
    for stmt in ofx.statements:
        acct = stmt.account
        number = str(acct.acctid)
        kind = getattr(acct, "accttype", None) or (
            "CREDITCARD" if stmt.__class__.__name__ == "CCSTMTRS" else "CHECKING"
        )
        bank = getattr(acct, "bankid", None) or ""
        operations = []
        for trn in stmt.banktranlist or []:
            name, memo = clean_label(trn.name), clean_label(trn.memo)
            label = name if not memo or memo in name else (f"{name} {memo}" if name else memo)
            operations.append(
                {
                    "date": _day(trn.dtposted),
                    "realisationDate": _day(trn.dtuser),
                    "amount": trn.trnamt,
                    "label": label,
                    "currency": getattr(getattr(trn, "currency", None), "cursym", None)
                    or stmt.curdef,
                    "ref": str(trn.fitid) if trn.fitid else None,
                    "type": OPERATION_TYPES.get(trn.trntype, "none"),
                    "isComing": False,
                }
            )
        ledger = stmt.ledgerbal
        accounts.append(
            {
                "institution": institution or bank,
                "number": number,
                "iban": "",
                "label": "",
                "type": ACCOUNT_TYPES.get(kind, "Checkings"),
                "currency": stmt.curdef,
                "balance": ledger.balamt if ledger is not None else None,
                "balanceDate": _day(ledger.dtasof) if ledger is not None else None,
                "operations": operations,
            }
        )
    return accounts
