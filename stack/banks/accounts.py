"""Bank accounts (`io.cozy.bank.accounts`): their balances, grouped by kind, with a total.

Aggregators and statements send many raw account types; they are grouped for display as
Cozy Banks does (docs/account-types.md there): PEA, life insurance… are long-term savings,
Bank/Cash/Deposit are checkings, consumer and revolving credit are loans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from roost.banks.doctypes import ACCOUNTS_DOCTYPE
from roost.couch import CouchClient
from roost.instances import Instance

#: Display groups, in the order shown.
GROUPS: Final = (
    "Checkings",
    "Savings",
    "CreditCard",
    "Loan",
    "LongTermSavings",
    "Business",
    "Joint",
    "Other",
)
_RAW_TYPES: Final = {
    "checkings": "Checkings",
    "checking": "Checkings",
    "bank": "Checkings",
    "cash": "Checkings",
    "deposit": "Checkings",
    "current": "Checkings",
    "savings": "Savings",
    "saving": "Savings",
    "creditcard": "CreditCard",
    "credit card": "CreditCard",
    "card": "CreditCard",
    "loan": "Loan",
    "consumercredit": "Loan",
    "revolvingcredit": "Loan",
    "mortgage": "Loan",
    "longtermsavings": "LongTermSavings",
    "pea": "LongTermSavings",
    "pee": "LongTermSavings",
    "perco": "LongTermSavings",
    "perp": "LongTermSavings",
    "lifeinsurance": "LongTermSavings",
    "market": "LongTermSavings",
    "business": "Business",
    "article83": "Business",
    "joint": "Joint",
}
MAX_ACCOUNTS: Final = 1000


def account_group(raw_type: object) -> str:
    if not isinstance(raw_type, str):
        return "Other"
    return _RAW_TYPES.get(raw_type.strip().lower(), "Other")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True)
class Account:
    id: str
    label: str
    institution: str
    group: str
    balance: float | None  # None: the bank gave none (then the operations' sum is shown)
    currency: str
    number: str
    doc: Mapping[str, Any]

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Account:
        label = doc.get("shortLabel") or doc.get("label")
        currency = doc.get("currency")
        return cls(
            id=str(doc["_id"]),
            label=label if isinstance(label, str) and label else str(doc["_id"]),
            institution=str(doc.get("institutionLabel") or ""),
            group=account_group(doc.get("type")),
            balance=_number(doc.get("balance")),
            currency=currency if isinstance(currency, str) and len(currency) == 3 else "EUR",
            number=str(doc.get("number") or ""),
            doc=doc,
        )


@dataclass(frozen=True)
class AccountGroup:
    name: str
    accounts: list[Account]
    total: float


@dataclass(frozen=True)
class Balances:
    groups: list[AccountGroup]
    total: float


class Accounts:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch

    async def all(self, instance: Instance) -> list[Account]:
        answer = await self.couch.all_docs(
            instance.db(ACCOUNTS_DOCTYPE), params={"include_docs": True, "limit": MAX_ACCOUNTS}
        )
        accounts = [
            Account.from_doc(row["doc"])
            for row in answer.get("rows", [])
            if isinstance(row.get("doc"), dict) and not str(row["id"]).startswith("_design/")
        ]
        return sorted(accounts, key=lambda account: (account.label.lower(), account.id))

    async def get(self, instance: Instance, account_id: str) -> Account | None:
        if not account_id or account_id.startswith("_"):
            return None
        doc = await self.couch.get_doc_or_none(instance.db(ACCOUNTS_DOCTYPE), account_id)
        return Account.from_doc(doc) if doc is not None else None


def balance_of(account: Account, sums: Mapping[str, float]) -> float:
    """The bank's balance when it gave one, else the sum of the account's operations."""
    return account.balance if account.balance is not None else sums.get(account.id, 0.0)


def grouped(accounts: list[Account], sums: Mapping[str, float]) -> Balances:
    """Accounts by display group (in GROUPS order), each group and all with their total."""
    groups = []
    for name in GROUPS:
        members = [account for account in accounts if account.group == name]
        if members:
            total = round(sum(balance_of(account, sums) for account in members), 2)
            groups.append(AccountGroup(name, members, total))
    return Balances(groups, round(sum(group.total for group in groups), 2))
