"""The alerts the person sets, and when they fire.

Stored as Cozy Banks stores them, in the `io.cozy.bank.settings` document `configuration`:
`notifications.balanceLower[]` and `notifications.transactionGreater[]` hold rules
`{id, value, enabled, accountOrGroup?: {_id}}`; `notifications.healthBillLinked.enabled`
says whether a reimbursement received is told. Roost adds `roostAlertState`, what it last
saw per rule and account, so a low balance is told once when it crosses the line (and again
only after it went back above), never at every import.

Pure rules here; the Banks job (`service.py`) reads the settings, calls these, raises
the notifications and writes the state back. An alert's words are `Words` (English message
ids, French in `banks.po`): the notification says them in the instance's language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from roost.banks.categories import HEALTH, parent_of
from roost.banks.operations import Operation, parse_amount
from roost.errors import BadRequest
from roost.notifications.words import Day, Money, Words

BALANCE_LOWER: Final = "balanceLower"
TRANSACTION_GREATER: Final = "transactionGreater"
REIMBURSEMENT: Final = "healthBillLinked"
KINDS: Final = (BALANCE_LOWER, TRANSACTION_GREATER, REIMBURSEMENT)
MAX_RULES: Final = 20
STATE_FIELD: Final = "roostAlertState"


@dataclass(frozen=True)
class Rule:
    kind: str
    id: int
    value: float
    account: str | None  # None: every account
    enabled: bool = True


@dataclass(frozen=True)
class Alert:
    """What to tell the person (becomes a notification)."""

    title: Words
    message: Words
    link: str


def rules_of(settings: Mapping[str, Any]) -> list[Rule]:
    notifications = settings.get("notifications")
    if not isinstance(notifications, dict):
        return []
    found = []
    for kind in (BALANCE_LOWER, TRANSACTION_GREATER):
        entries = notifications.get(kind)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            value = entry.get("value")
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            scope = entry.get("accountOrGroup")
            account = scope.get("_id") if isinstance(scope, dict) else None
            found.append(
                Rule(
                    kind,
                    int(entry.get("id") or 0),
                    float(value),
                    account if isinstance(account, str) else None,
                    entry.get("enabled") is not False,
                )
            )
    linked = notifications.get(REIMBURSEMENT)
    if isinstance(linked, dict) and linked.get("enabled") is True:
        found.append(Rule(REIMBURSEMENT, 0, 0.0, None))
    return found


def with_rule(
    settings: Mapping[str, Any], kind: str, value_text: str, account: str | None
) -> dict[str, Any]:
    """The settings with one more rule; BadRequest for an unknown kind or a non-number."""
    if kind not in KINDS:
        raise BadRequest(f"an alert is one of {', '.join(KINDS)}, not {kind[:40]!r}")
    updated = dict(settings)
    notifications = dict(updated.get("notifications") or {})
    if kind == REIMBURSEMENT:
        notifications[REIMBURSEMENT] = {"enabled": True}
    else:
        amount = parse_amount(value_text, "the alert's amount")
        entries = [e for e in notifications.get(kind) or [] if isinstance(e, dict)]
        if len(entries) >= MAX_RULES:
            raise BadRequest(f"at most {MAX_RULES} alerts of one kind")
        next_id = max((int(e.get("id") or 0) for e in entries), default=0) + 1
        entry: dict[str, Any] = {"id": next_id, "value": amount, "enabled": True}
        if account:
            entry["accountOrGroup"] = {"_id": account}
        notifications[kind] = [*entries, entry]
    updated["notifications"] = notifications
    return updated


def without_rule(settings: Mapping[str, Any], kind: str, rule_id: int) -> dict[str, Any]:
    if kind not in KINDS:
        raise BadRequest(f"an alert is one of {', '.join(KINDS)}, not {kind[:40]!r}")
    updated = dict(settings)
    notifications = dict(updated.get("notifications") or {})
    if kind == REIMBURSEMENT:
        notifications[REIMBURSEMENT] = {"enabled": False}
    else:
        entries = [e for e in notifications.get(kind) or [] if isinstance(e, dict)]
        kept = [e for e in entries if int(e.get("id") or 0) != rule_id]
        if len(kept) == len(entries):
            raise BadRequest("there is no such alert")
        notifications[kind] = kept
    updated["notifications"] = notifications
    return updated


@dataclass(frozen=True)
class AccountBalance:
    id: str
    label: str
    balance: float
    currency: str


def balance_alerts(
    rules: Iterable[Rule], balances: Iterable[AccountBalance], state: Mapping[str, str]
) -> tuple[list[Alert], dict[str, str]]:
    """Low-balance alerts for the balances that crossed a rule's line since last seen, and
    the new state (`"balanceLower:<rule>:<account>"` → "below" | "above")."""
    alerts = []
    new_state = dict(state)
    accounts = list(balances)
    for rule in rules:
        if rule.kind != BALANCE_LOWER or not rule.enabled:
            continue
        for account in accounts:
            if rule.account is not None and rule.account != account.id:
                continue
            key = f"{BALANCE_LOWER}:{rule.id}:{account.id}"
            below = account.balance < rule.value
            if below and state.get(key) != "below":
                alerts.append(
                    Alert(
                        Words("Low balance: %(account)s", {"account": account.label}),
                        Words(
                            "The balance of %(account)s is %(balance)s, below your alert at "
                            "%(limit)s.",
                            {
                                "account": account.label,
                                "balance": Money(account.balance, account.currency),
                                "limit": Money(rule.value, account.currency),
                            },
                        ),
                        f"/banks?account={account.id}",
                    )
                )
            new_state[key] = "below" if below else "above"
    return alerts, new_state


def operation_alerts(rules: Iterable[Rule], operation: Operation) -> list[Alert]:
    """Alerts a newly arrived operation raises: larger than a rule's amount, or a health
    reimbursement received."""
    alerts = []
    for rule in rules:
        if not rule.enabled:
            continue
        if rule.kind == TRANSACTION_GREATER:
            if rule.account is not None and rule.account != operation.account:
                continue
            if abs(operation.amount) > rule.value:
                amount = {"amount": Money(abs(operation.amount), operation.currency)}
                alerts.append(
                    Alert(
                        Words("Credit of %(amount)s", amount)
                        if operation.amount > 0
                        else Words("Debit of %(amount)s", amount),
                        Words(
                            "%(label)s on %(day)s: more than your alert at %(limit)s.",
                            {
                                "label": operation.label,
                                "day": Day(operation.day),
                                "limit": Money(rule.value, operation.currency),
                            },
                        ),
                        f"/banks?account={operation.account}#operation-{operation.id}"
                        if operation.account
                        else f"/banks#operation-{operation.id}",
                    )
                )
        elif rule.kind == REIMBURSEMENT:
            health = parent_of(operation.category) == HEALTH or bool(operation.bills)
            if operation.amount > 0 and health:
                alerts.append(
                    Alert(
                        Words("Health reimbursement received"),
                        Words(
                            "%(label)s: %(amount)s on %(day)s.",
                            {
                                "label": operation.label,
                                "amount": Money(operation.amount, operation.currency),
                                "day": Day(operation.day),
                            },
                        ),
                        f"/banks#operation-{operation.id}",
                    )
                )
    return alerts
