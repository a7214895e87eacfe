"""bank-connector: imports bank accounts and operations from a bank's JSON API.

Input (the stack passes the decrypted account; the bank's address is an account field, or
the input's ``bank_url``, else the bank the manifest names)::

    {"credentials": {"login": "...", "password": "...", "bank_url": "https://bank.example.com"}}

The bank API: ``POST /api/login`` -> ``{"token"}``; ``GET /api/accounts`` ->
``{"accounts": [{"id", "label", "iban", "balance", "currency", "type"}]}``;
``GET /api/accounts/{id}/transactions`` -> ``{"transactions": [{"id", "date", "amount",
"label", "currency"}]}``.

Failures are reported with the SDK's error vocabulary (docs/apps.md, "Reporting errors from
a connector"): a refused login is ``LOGIN_FAILED``, a bank that does not answer
``VENDOR_DOWN``, an answer of an unexpected shape ``SITE_CHANGED``.

Idempotent: every document gets a deterministic ``_id`` from the bank's own ids, and is
only written when it changed - a re-run creates no duplicates.
"""

import json
import re

import roost_sdk as roost
import wit_world

DEFAULT_BANK = "https://bank.example.com"
ACCOUNTS = "io.cozy.bank.accounts"
OPERATIONS = "io.cozy.bank.operations"


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def _bank_key(bank_url):
    host = re.sub(r"^https?://", "", bank_url).split("/")[0]
    return _slug(host)


def import_all(params):
    creds = params.get("credentials") or {}
    bank_url = str(params.get("bank_url") or creds.get("bank_url") or DEFAULT_BANK).rstrip("/")
    if not creds.get("login") or not creds.get("password"):
        roost.fail(roost.LOGIN_FAILED, "no login or password is set for this account")
    key = _bank_key(bank_url)
    roost.info(f"logging in to {bank_url}")
    resp = roost.fetch(
        "POST",
        bank_url + "/api/login",
        json_body={"login": creds["login"], "password": creds["password"]},
    )
    roost.check_login(resp, "the bank refused the credentials")
    token = json.loads(resp["body"])["token"]
    auth = {"Authorization": "Bearer " + token}

    stats = {
        "accounts": {"created": 0, "updated": 0, "unchanged": 0},
        "operations": {"created": 0, "updated": 0, "unchanged": 0},
    }
    accounts = roost.fetch_json("GET", bank_url + "/api/accounts", headers=auth)["accounts"]
    for acc in accounts:
        acc_id = f"{key}-{_slug(acc['id'])}"
        doc = {
            "_id": acc_id,
            "label": acc.get("label", ""),
            "institutionLabel": params.get("bank_label", key),
            "type": acc.get("type", "Checkings"),
            "number": acc.get("iban", ""),
            "balance": acc.get("balance", 0),
            "currency": acc.get("currency", "EUR"),
            "vendorId": str(acc["id"]),
        }
        outcome, _ = roost.upsert(ACCOUNTS, doc)
        stats["accounts"][outcome] += 1
        txs = roost.fetch_json(
            "GET", f"{bank_url}/api/accounts/{acc['id']}/transactions", headers=auth
        )["transactions"]
        for tx in txs:
            op = {
                "_id": f"{key}-{_slug(acc['id'])}-{_slug(tx['id'])}",
                "account": acc_id,
                "label": tx.get("label", ""),
                "amount": tx["amount"],
                "date": tx["date"],
                "currency": tx.get("currency", acc.get("currency", "EUR")),
                "vendorId": str(tx["id"]),
            }
            outcome, _ = roost.upsert(OPERATIONS, op)
            stats["operations"][outcome] += 1
    roost.info(
        f"imported {len(accounts)} accounts, {stats['operations']['created']} new operations"
    )
    return stats


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        return roost.run_connector(import_all, input)
