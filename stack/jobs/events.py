"""`@event` trigger arguments: which document changes fire the trigger.

Arguments are space-separated rules in cozy-stack's shape,
`doctype[:VERBS[:values[:selector]]]`: VERBS is a comma list of CREATED, UPDATED, DELETED
(empty: all three); values, when given, restrict to documents whose id (or `selector`
field, top-level, compared as strings like permission selectors) is one of them.
`io.cozy.contacts:CREATED` fires on every new contact;
`io.cozy.bank.operations:CREATED,UPDATED:acc1,acc2:account` on operations of two accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roost.jobs.errors import InvalidTrigger
from roost.permissions import DocumentTarget, InvalidRule, validate_doctype

__all__ = ["EVENT_VERBS", "EventRule", "parse_event_rules", "validate_event_verb"]

EVENT_VERBS = ("CREATED", "UPDATED", "DELETED")


def validate_event_verb(verb: str) -> str:
    upper = verb.upper()
    if upper not in EVENT_VERBS:
        raise ValueError(f"an event verb is one of {', '.join(EVENT_VERBS)}, not {verb!r}")
    return upper


@dataclass(frozen=True)
class EventRule:
    doctype: str
    verbs: frozenset[str]
    values: tuple[str, ...] = ()
    selector: str | None = None

    def matches(self, doctype: str, verb: str, doc: Mapping[str, Any]) -> bool:
        if doctype != self.doctype or verb not in self.verbs:
            return False
        if not self.values:
            return True
        target = DocumentTarget(doc)
        found = target.fetch(self.selector) if self.selector else [target.id]
        return any(value in self.values for value in found)


def _parse_rule(text: str) -> EventRule:
    parts = text.split(":")
    if len(parts) > 4:
        raise InvalidTrigger(f"an @event rule is doctype[:VERBS[:values[:selector]]], not {text!r}")
    doctype = parts[0]
    try:
        validate_doctype(doctype)
    except InvalidRule as error:
        raise InvalidTrigger(str(error)) from None
    verbs: frozenset[str] = frozenset(EVENT_VERBS)
    if len(parts) > 1 and parts[1]:
        try:
            verbs = frozenset(validate_event_verb(v) for v in parts[1].split(","))
        except ValueError as error:
            raise InvalidTrigger(str(error)) from None
    values = tuple(v for v in parts[2].split(",") if v) if len(parts) > 2 else ()
    selector = parts[3] if len(parts) > 3 and parts[3] else None
    if selector is not None and not values:
        raise InvalidTrigger(f"the @event rule {text!r} names a selector but no values")
    return EventRule(doctype, verbs, values, selector)


def parse_event_rules(arguments: str) -> tuple[EventRule, ...]:
    rules = tuple(_parse_rule(text) for text in arguments.split())
    if not rules:
        raise InvalidTrigger("@event needs a doctype, e.g. io.cozy.contacts:CREATED")
    return rules
