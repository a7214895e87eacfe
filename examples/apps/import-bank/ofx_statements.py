"""OFX 1.x (SGML), OFX 2.x (XML) and QFX statements, read with ofxtools.

ofxtools is strict and types every value, so a few well-known bank dialects are smoothed
first, on the raw bytes: decimal commas in amounts (French and Belgian banks), and date-times
cut to their day - ofxtools converts them to UTC, which would move an operation stamped
``20261005000000[+2:CEST]`` to the 4th.

ofxtools reads the header (and the text encoding it names) and parses and converts (types
and checks) the envelope - sign-on, accounts, balances, currencies. The transactions
(``STMTTRN`` of each ``BANKTRANLIST``) are cut out of the message before ofxtools sees it
and read here, each checked for what an operation needs (type, date, amount, FITID): its
tree and typed models cost about a millisecond per transaction in the sandbox, most of the
run's 30 s budget for a 10,000-operation statement.
"""

import os
import re
import warnings
from datetime import date
from decimal import Decimal, InvalidOperation
from io import BytesIO
from xml.sax.saxutils import unescape

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


_ENTITIES = {"&nbsp;": " ", "&apos;": "'", "&quot;": '"'}
_NEEDED = ("TRNTYPE", "DTPOSTED", "TRNAMT", "FITID")
_TRANLIST = re.compile(r"<BANKTRANLIST>(.*?)</BANKTRANLIST>", re.S)
_STMTTRN = re.compile(r"<STMTTRN>(.*?)</STMTTRN>", re.S)
# A leaf and its text, SGML (unclosed) or XML; an aggregate's tag matches with no text.
_LEAF = re.compile(r"<([A-Z0-9.]+)>([^<]*)")
_ACCTID = re.compile(r"<ACCTID>([^<\r\n]*)")


def _leaves(block):
    fields = {}
    for tag, text in _LEAF.findall(block):
        text = text.strip()
        if text and tag not in fields:
            fields[tag] = unescape(text, _ENTITIES)
    return fields


def _ofx_day(text):
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])) if len(text) == 8 else None
    except ValueError:
        return None


class _Transaction:
    """A ``STMTTRN`` read as ofxtools would have typed it (the fields used here)."""

    def __init__(self, fields):
        missing = [tag for tag in _NEEDED if not fields.get(tag)]
        if missing:
            raise FileRejected(f"not a valid OFX statement (a transaction has no {missing[0]})")
        self.trntype = fields["TRNTYPE"]
        self.dtposted = _ofx_day(fields["DTPOSTED"])
        if self.dtposted is None:
            raise FileRejected(f"not a valid OFX statement ({fields['DTPOSTED']!r} is not a date)")
        self.dtuser = _ofx_day(fields["DTUSER"]) if fields.get("DTUSER") else None
        amount = fields["TRNAMT"]
        try:
            self.trnamt = Decimal(amount)
        except InvalidOperation:
            raise FileRejected(f"not a valid OFX statement ({amount!r} is not an amount)") from None
        if not self.trnamt.is_finite():
            raise FileRejected(f"not a valid OFX statement ({amount!r} is not an amount)")
        self.fitid = fields["FITID"]
        self.name, self.memo = fields.get("NAME"), fields.get("MEMO")
        self.cursym = fields.get("CURSYM")


class _StatementTree(OFXTree):
    """ofxtools' tree of the statement without its transactions, which are kept apart in
    ``transactions``: {account id: [[fields of each STMTTRN] for each BANKTRANLIST]}."""

    def _read(self, source):
        header, message = OFXTree._read(source)
        self.transactions = {}
        kept, last = [], 0
        for listed in _TRANLIST.finditer(message):
            ids = _ACCTID.findall(message, 0, listed.start())
            acctid = unescape(ids[-1].strip(), _ENTITIES) if ids else None
            found = [_leaves(block) for block in _STMTTRN.findall(listed.group(1))]
            self.transactions.setdefault(acctid, []).append(found)
            kept += [message[last : listed.start(1)], _STMTTRN.sub("", listed.group(1))]
            last = listed.end(1)
        kept.append(message[last:])
        return header, "".join(kept)


def parse(data):
    tree = _StatementTree()
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
        lists = tree.transactions.get(number) or [[]]
        for trn in map(_Transaction, lists.pop(0)):
            name, memo = clean_label(trn.name), clean_label(trn.memo)
            label = name if not memo or memo in name else (f"{name} {memo}" if name else memo)
            operations.append(
                {
                    "date": trn.dtposted,
                    "realisationDate": trn.dtuser,
                    "amount": trn.trnamt,
                    "label": label,
                    "currency": trn.cursym or stmt.curdef,
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
