"""import-bank end to end: statements dropped in the watched folder through the `/files` API
become Cozy-shaped accounts and operations, written by the sandboxed app the real job runner
ran; a re-import duplicates nothing; a malformed file writes nothing and says why."""

from __future__ import annotations

import re
from typing import Any

import pytest

from roost.banks.categories import displayed_category
from tests.banks.conftest import banks_jobs_done

from .bank_samples import (
    CAMT053,
    CAMT053_OPERATIONS,
    CSV_BAD_AMOUNT,
    CSV_FR,
    CSV_FR_MAPPING,
    CSV_FR_OPERATIONS,
    OFX_SGML_FR,
    OFX_SGML_FR_OPERATIONS,
    OFX_TRUNCATED,
    OFX_XML_US,
    OFX_XML_US_OPERATIONS,
    QFX,
    QFX_OPERATIONS,
    QIF,
    QIF_OPERATIONS,
    big_ofx,
)
from .conftest import Drive

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]  # builds + compiles the guests once

SLUG = "import-bank"
FOLDER = "/Imports/Bank statements"
ACCOUNTS, OPERATIONS = "io.cozy.bank.accounts", "io.cozy.bank.operations"
COZY_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T00:00:00Z$")


def amounts_by_account(
    accounts: list[dict[str, Any]], ops: list[dict[str, Any]]
) -> dict[str, list[float]]:
    number = {a["_id"]: a["number"] for a in accounts}
    out: dict[str, list[float]] = {}
    for op in sorted(ops, key=lambda o: (o["date"], o["_id"])):
        out.setdefault(number[op["account"]], []).append(op["amount"])
    return out


def assert_cozy_shaped(accounts: list[dict[str, Any]], ops: list[dict[str, Any]]) -> None:
    ids = {a["_id"] for a in accounts}
    for op in ops:
        assert op["account"] in ids
        assert isinstance(op["amount"], float | int) and not isinstance(op["amount"], bool)
        assert COZY_DATE.match(op["date"]), op["date"]
        assert op["label"] and op["originalBankLabel"] and re.fullmatch(r"[A-Z]{3}", op["currency"])
        assert op["toCategorize"] is True
        assert op["cozyMetadata"]["createdByApp"] == SLUG


async def test_statements_of_every_format_import_once(drive: Drive) -> None:
    await drive.install(SLUG)
    folder = await drive.folder(FOLDER)
    mapping = await drive.http.post("/data/io.roost.bank.csvmappings/", json=CSV_FR_MAPPING)
    assert mapping.status_code in (200, 201), mapping.text

    files = {
        "releve-octobre.ofx": OFX_SGML_FR,
        "chase-card.ofx": OFX_XML_US,
        "wells.qfx": QFX,
        "camt053.xml": CAMT053,
        "quicken.qif": QIF,
        "export.csv": CSV_FR,
    }
    ids = {name: await drive.drop(folder, name, content) for name, content in files.items()}
    for name, file_id in ids.items():
        runs = await drive.runs(SLUG, file_id)
        if runs[-1].state != "done":
            print("\n".join(str(x.get("line")) for x in runs[-1].log))
        assert [r.state for r in runs] == ["done"], (name, runs[-1].error)
        ledger = await drive.ledger(SLUG, file_id)
        assert ledger is not None and ledger["state"] == "imported", ledger

    accounts, ops = await drive.docs(ACCOUNTS), await drive.docs(OPERATIONS)
    assert_cozy_shaped(accounts, ops)
    by_account = amounts_by_account(accounts, ops)
    for number, amounts in {**OFX_SGML_FR_OPERATIONS, **CAMT053_OPERATIONS}.items():
        assert sorted(by_account[number]) == sorted(amounts)
    assert sorted(by_account["4111111111111111"]) == sorted(OFX_XML_US_OPERATIONS)
    assert sorted(by_account["9876543210"]) == sorted(QFX_OPERATIONS)
    assert sorted(by_account["Compte Courant QIF"]) == sorted(QIF_OPERATIONS)
    # The saved mapping named the CSV's account; the two identical card lines stay two.
    assert sorted(by_account["00012345678"]) == sorted(CSV_FR_OPERATIONS)
    expected = (
        sum(len(v) for v in (*OFX_SGML_FR_OPERATIONS.values(), *CAMT053_OPERATIONS.values()))
        + len(OFX_XML_US_OPERATIONS)
        + len(QFX_OPERATIONS)
        + len(QIF_OPERATIONS)
        + len(CSV_FR_OPERATIONS)
    )
    assert len(ops) == expected

    # Balances as of the statement, with their date; a pending CAMT entry is "coming".
    by_number = {a["number"]: a for a in accounts}
    assert by_number["30021234567"]["balance"] == 3012.26
    assert by_number["30021234567"]["balanceDate"] == "2026-10-31"
    assert by_number["FR7630006000011234567890189"]["iban"] == "FR7630006000011234567890189"
    assert by_number["FR7630006000011234567890189"]["balance"] == 1265.5
    assert by_number["4111111111111111"]["type"] == "CreditCard"
    coming = [op for op in ops if op["isComing"]]
    assert [op["amount"] for op in coming] == [-12.0]
    # A zoned OFX date-time keeps its own day (not moved by a conversion to UTC).
    fee = next(op for op in ops if op["label"] == "FOREIGN TRANSACTION FEE")
    assert fee["date"] == "2026-10-04T00:00:00Z" and fee["vendorId"] == "2026100424692160"
    # Windows-1252 and ISO-8859-1 text arrives as the person would read it.
    labels = {op["label"] for op in ops}
    assert "VIR SALAIRE OCTOBRE SOCIÉTÉ GÉNÉRALE DES EAUX" in labels
    assert "Boulangerie Pâtisserie CB 06/10 PAIN" in labels

    # Dropped again, under other names: every run says "unchanged", nothing is duplicated.
    before = {d["_id"]: d["_rev"] for d in ops + accounts}
    again = {
        name: await drive.drop(folder, "copy-" + name, content) for name, content in files.items()
    }
    for name, file_id in again.items():
        runs = await drive.runs(SLUG, file_id)
        assert [r.state for r in runs] == ["done"], (name, runs[-1].error)
        totals = runs[-1].result["output"]["totals"]
        assert totals[OPERATIONS]["created"] == 0 and totals[OPERATIONS]["updated"] == 0, name
        assert totals[ACCOUNTS]["created"] == 0, name
    after = {d["_id"]: d["_rev"] for d in await drive.docs(OPERATIONS) + await drive.docs(ACCOUNTS)}
    assert after == before


async def test_a_malformed_statement_writes_nothing_and_says_why(drive: Drive) -> None:
    await drive.install(SLUG)
    folder = await drive.folder(FOLDER)
    for name, content, why in (
        ("cut.ofx", OFX_TRUNCATED, "not a valid OFX statement"),
        ("bad.csv", CSV_BAD_AMOUNT, "line 3: '12,3,4' is not an amount"),
        ("scan.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\n", "not a bank statement"),
    ):
        file_id = await drive.drop(folder, name, content)
        runs = await drive.runs(SLUG, file_id)
        # Ended at once (a retry would read the same bytes), in Collect's words.
        assert [r.state for r in runs] == ["errored"] and runs[-1].attempts == 1
        assert (runs[-1].error or "").startswith(f"INVALID_FILE: {name}: {why}"), runs[-1].error
        assert "Traceback" not in (runs[-1].error or "")
        ledger = await drive.ledger(SLUG, file_id)
        assert ledger is not None and ledger["state"] == "errored"
        assert ledger["error"].startswith(why) and ledger["file"]["name"] == name
    assert await drive.docs(ACCOUNTS) == [] and await drive.docs(OPERATIONS) == []


async def test_files_outside_the_watched_folder_are_left_alone(drive: Drive) -> None:
    await drive.install(SLUG)
    elsewhere = await drive.folder("/Documents")
    file_id = await drive.drop(elsewhere, "releve.ofx", OFX_SGML_FR)
    runs = await drive.runs(SLUG, file_id)
    assert [r.state for r in runs] == ["done"]
    assert runs[-1].result["output"]["files"] == []
    assert await drive.docs(OPERATIONS) == []


async def operation_count(drive: Drive) -> int:
    answer = await drive.services.couch.all_docs(drive.instance.db(OPERATIONS))
    return sum(1 for row in answer["rows"] if not str(row["id"]).startswith("_design/"))


async def test_a_ten_thousand_operation_statement_imports_in_one_run_and_once(
    drive: Drive,
) -> None:
    """Bulk writes (world 0.3.0): the whole statement in one run, inside the app's budget
    (a run past it ends `errored`); the same statement again creates and changes nothing."""
    count = 10_000
    statement = big_ofx(count)
    await drive.install(SLUG)
    folder = await drive.folder(FOLDER)
    file_id = await drive.drop(folder, "year.ofx", statement)
    runs = await drive.runs(SLUG, file_id)
    assert [r.state for r in runs] == ["done"], runs[-1].error
    totals = runs[-1].result["output"]["totals"]
    assert totals[OPERATIONS] == {"created": count, "updated": 0, "unchanged": 0}
    assert await operation_count(drive) == count

    again = await drive.drop(folder, "year-copy.ofx", statement)
    runs = await drive.runs(SLUG, again)
    assert [r.state for r in runs] == ["done"], runs[-1].error
    totals = runs[-1].result["output"]["totals"]
    assert totals[OPERATIONS] == {"created": 0, "updated": 0, "unchanged": count}
    assert await operation_count(drive) == count


async def test_imported_operations_are_categorised_by_the_sandboxed_app(drive: Drive) -> None:
    """What the person sees: a statement dropped in the folder, its operations categorised by
    the categoriser app Banks installed (from its built-in table here: no correction yet)."""
    await drive.services.banks.ensure_trigger(drive.instance)  # what opening Home does
    await drive.install(SLUG)
    folder = await drive.folder(FOLDER)
    file_id = await drive.drop(folder, "releve.ofx", OFX_SGML_FR)
    runs = await drive.runs(SLUG, file_id)
    assert [r.state for r in runs] == ["done"], runs[-1].error
    await banks_jobs_done(drive.services, drive.instance)
    ops = await drive.docs(OPERATIONS)
    assert len(ops) == 4 and all(op["toCategorize"] is False for op in ops)
    groceries = next(op for op in ops if "CARREFOUR" in op["label"])
    assert displayed_category(groceries) == "400110"
    assert groceries["cozyMetadata"]["createdByApp"] == SLUG
