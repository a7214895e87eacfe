"""bank-connector: imports bank accounts and operations from a bank's JSON API.

Input (the stack passes the decrypted account and the konnector's settings)::

    {"bank_url": "https://bank.example", "credentials": {"login": "...", "password": "..."}}

The bank API: ``POST /api/login`` -> ``{"token"}``; ``GET /api/accounts`` ->
``{"accounts": [{"id", "label", "iban", "balance", "currency", "type"}]}``;
``GET /api/accounts/{id}/transactions`` -> ``{"transactions": [{"id", "date", "amount",
"label", "currency"}]}``.

Idempotent: every document gets a deterministic ``_id`` from the bank's own ids, and is
only written when it changed - a re-run creates no duplicates.
"""

import json
import re

import roost_sdk as roost
import wit_world
from componentize_py_types import Err

ACCOUNTS = "io.cozy.bank.accounts"
OPERATIONS = "io.cozy.bank.operations"


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def _bank_key(bank_url):
    host = re.sub(r"^https?://", "", bank_url).split("/")[0]
    return _slug(host)


def import_all(params):
    bank_url = str(params.get("bank_url", "")).rstrip("/")
    creds = params.get("credentials") or {}
    if not bank_url or not creds.get("login") or not creds.get("password"):
        raise roost.RoostError("bad_input", "bank_url and credentials {login, password} are needed")
    key = _bank_key(bank_url)
    roost.info(f"logging in to {bank_url}")
    resp = roost.fetch(
        "POST",
        bank_url + "/api/login",
        json_body={"login": creds["login"], "password": creds["password"]},
    )
    if resp["status"] in (401, 403):
        raise roost.RoostError("LOGIN_FAILED", "the bank refused the credentials")
    if resp["status"] >= 400:
        raise roost.RoostError("VENDOR_DOWN", f"login answered {resp['status']}")
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
        try:
            return json.dumps(import_all(json.loads(input or "{}")))
        except roost.RoostError as e:
            raise Err(json.dumps({"error": e.code, "message": e.message})) from None
