"""import-bank: bank statements dropped in a folder become accounts and operations.

Reads OFX 1.x/2.x and QFX (ofxtools), ISO 20022 CAMT.053, QIF, and CSV with a column
mapping (see csv_statements.py) from the watched folder (account field ``folder``, default
``/Imports/Bank statements``), and writes ``io.cozy.bank.accounts`` and
``io.cozy.bank.operations`` in Cozy's shape (bank_records.py). The file's own transaction
ids (FITID, AcctSvcrRef, NtryRef, EndToEndId, a CSV reference column) make the operation
ids; without one, a hash of (account, date, amount, label, occurrence). A re-import of the
same statement creates nothing. The shared machinery is sdk/roost_importer.py.
"""

import camt_statements
import csv_statements
import ofx_statements  # first: it prepares the environment ofxtools needs at import
import qif_statements
import roost_sdk as roost
import wit_world
from bank_records import ACCOUNTS, OPERATIONS, keep_newer_balance, to_documents
from roost_importer import FileRejected, decode_text, entry_point, run_importer

SLUG = "import-bank"
DEFAULT_FOLDER = "/Imports/Bank statements"
CSV_MAPPINGS = "io.roost.bank.csvmappings"


def _saved_mappings():
    try:
        return roost.find_all(CSV_MAPPINGS)
    except roost.RoostError as e:
        if e.code in ("not_found", "forbidden"):
            return []
        raise


def parse_statement(name, data):
    lower = name.lower()
    if ofx_statements.looks_like_ofx(data):
        fmt = "qfx" if lower.endswith(".qfx") else "ofx"
        return fmt, to_documents(ofx_statements.parse(data), fmt)
    if camt_statements.looks_like_camt(data) or (
        lower.endswith(".xml") and b"<Document" in data[:2048]
    ):
        return "camt.053", to_documents(camt_statements.parse(data), "camt.053")
    if qif_statements.looks_like_qif(data):
        return "qif", to_documents(qif_statements.parse(data, decode_text(data)), "qif")
    if lower.endswith((".csv", ".txt")):
        text = decode_text(data)
        mapping = csv_statements.choose_mapping(text, _saved_mappings())
        return "csv", to_documents(csv_statements.parse(text, mapping), "csv")
    raise FileRejected("not a bank statement this importer reads (OFX, QFX, CAMT.053, QIF or CSV)")


def import_statements(params):
    return run_importer(
        params,
        slug=SLUG,
        default_folder=DEFAULT_FOLDER,
        parse=parse_statement,
        order=(ACCOUNTS, OPERATIONS),
        keep={ACCOUNTS: keep_newer_balance},
    )


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        return _run(input)


_run = entry_point(import_statements)
