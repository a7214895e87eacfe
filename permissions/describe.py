"""Plain-English lines describing a permission set, for consent pages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from .budget import Budget, budget_within
from .doctypes import is_wildcard, trim_wildcard
from .egress import pattern_covers
from .rules import Rule
from .subset import rule_covered
from .targets import ROOT_DIR_ID, TRASH_DIR_ID
from .verbs import ALL_VERBS, VERB_ORDER

__all__ = [
    "FRIENDLY_NAMES",
    "describe_added",
    "describe_budget",
    "describe_rule",
    "describe_set",
    "plain_noun",
    "plain_verbs",
]

FRIENDLY_NAMES: Final = {
    "io.cozy.contacts": "your contacts",
    "io.cozy.contacts.groups": "your contact groups",
    "io.cozy.files": "your files",
    "io.cozy.files.versions": "old versions of your files",
    "io.cozy.photos.albums": "your photo albums",
    "io.cozy.calendar.events": "your calendar events",
    "io.cozy.todos": "your to-do lists",
    "io.cozy.notes.documents": "your notes",
    "io.cozy.bank.accounts": "your bank accounts",
    "io.cozy.bank.operations": "your bank operations",
    "io.cozy.bills": "your bills",
    "io.cozy.accounts": "your connector accounts",
    "io.cozy.apps": "your installed apps",
    "io.cozy.konnectors": "your installed connectors",
    "io.cozy.jobs": "background jobs",
    "io.cozy.triggers": "scheduled tasks",
    "io.cozy.settings": "your settings",
    "io.cozy.notifications": "your notifications",
    "io.cozy.doctypes": "the list of your data types",
    "io.roost.access": "the access log",
    "io.roost.outbox": "messages in your outbox, each sent only if you approve it",
}

_VERB_WORDS: Final = {
    "GET": "read",
    "POST": "create",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}

_ID_NAMES: Final = {
    ROOT_DIR_ID: "the root folder",
    TRASH_DIR_ID: "the trash",
}


def _join(words: Sequence[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _verb_phrase(verbs: frozenset[str]) -> str:
    words: list[str] = []
    for verb in VERB_ORDER:
        if verb in verbs and _VERB_WORDS[verb] not in words:
            words.append(_VERB_WORDS[verb])
    phrase = _join(words)
    return phrase[:1].upper() + phrase[1:]


def _noun(doctype: str) -> str:
    if is_wildcard(doctype):
        prefix = trim_wildcard(doctype)
        return f"all data types under {prefix} ({doctype})"
    friendly = FRIENDLY_NAMES.get(doctype)
    if friendly is not None:
        return f"{friendly} ({doctype})"
    return f"documents of type {doctype}"


def _humanise(dotted: str) -> str:
    # `com.example.energy.readings` -> "energy readings": the first two parts name the
    # publisher (reverse DNS), the rest the kind of data.
    parts = [p for p in dotted.split(".") if p]
    kept = parts[2:] if len(parts) > 2 else parts
    return " ".join(p.replace("_", " ").replace("-", " ") for p in kept)


def plain_noun(doctype: str) -> str:
    """What a doctype holds, for a person: no identifier ("your bank operations")."""
    if is_wildcard(doctype):
        return f"all your {_humanise(trim_wildcard(doctype))} data"
    return FRIENDLY_NAMES.get(doctype) or f"your {_humanise(doctype)}"


def plain_verbs(verbs: frozenset[str]) -> list[str]:
    """The verbs of a rule as words, in a stable order, each once ("read", "create"...)."""
    words: list[str] = []
    for verb in VERB_ORDER:
        if verb in (verbs or ALL_VERBS) and _VERB_WORDS[verb] not in words:
            words.append(_VERB_WORDS[verb])
    return words


def _qualifier(rule: Rule) -> str:
    if rule.whole_type:
        return ""
    shown = [_ID_NAMES.get(v, v) for v in rule.values]
    if rule.selector is not None:
        if len(shown) == 1:
            return f" whose {rule.selector} is {shown[0]}"
        return f" whose {rule.selector} is one of {', '.join(shown)}"
    if rule.type == "io.cozy.files":
        things = "folder or file" if len(shown) == 1 else "folders or files"
        return f" limited to the {things} {', '.join(shown)} and everything inside"
    if len(shown) == 1:
        return f" limited to the document {shown[0]}"
    return f" limited to the documents {', '.join(shown)}"


def describe_rule(rule: Rule) -> str:
    verbs = rule.verbs if rule.verbs else ALL_VERBS
    line = f"{_verb_phrase(verbs)} {_noun(rule.type)}{_qualifier(rule)}"
    if rule.description:
        line += f" — {rule.description}"
    return line


def _number(value: float) -> str:
    return f"{value:g}"


def describe_budget(budget: Budget) -> str | None:
    parts: list[str] = []
    if budget.wall_seconds is not None:
        parts.append(f"{_number(budget.wall_seconds)} s")
    if budget.memory_mib is not None:
        parts.append(f"{budget.memory_mib} MiB")
    if budget.fuel is not None:
        parts.append(f"{budget.fuel:,} fuel units")
    if not parts:
        return None
    return "Runs at most " + ", ".join(parts)


def describe_set(
    rules: Sequence[Rule],
    *,
    maximal: bool,
    egress: Sequence[str],
    budget: Budget | None,
    expires_at: datetime | None,
) -> list[str]:
    lines: list[str] = []
    if maximal:
        lines.append("Full access to everything in your Roost, as its owner")
    lines.extend(describe_rule(rule) for rule in rules)
    lines.extend(f"Reach {pattern}" for pattern in egress)
    if budget is not None:
        text = describe_budget(budget)
        if text is not None:
            lines.append(text)
    if expires_at is not None:
        lines.append(f"Until {expires_at.strftime('%Y-%m-%d %H:%M')} UTC")
    if not lines:
        lines.append("No access to your data")
    return lines


def describe_added(
    rules: Sequence[Rule],
    egress: Sequence[str],
    budget: Budget | None,
    *,
    old_rules: Sequence[Rule],
    old_egress: Sequence[str],
    old_budget: Budget | None,
) -> list[str]:
    """The lines for what a new grant allows beyond an old one (an upgrade's consent page):
    each rule no old rule covers, each egress pattern no old pattern covers, and the budget
    when it grows past the old one. Empty when the new grant is within the old."""
    lines = [describe_rule(rule) for rule in rules if not rule_covered(rule, old_rules)]
    lines += [
        f"Reach {pattern}"
        for pattern in egress
        if not any(pattern_covers(old, pattern) for old in old_egress)
    ]
    if not budget_within(budget, old_budget):
        text = describe_budget(budget) if budget is not None else None
        lines.append(text or "Runs with larger limits than the installed version")
    return lines
