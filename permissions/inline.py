"""The inline (OAuth scope) form of rules: `type[:VERBS[:v1,v2[:selector]]]`, space separated.

Examples::

    io.cozy.contacts
    io.cozy.contacts:GET
    io.cozy.files:GET:io.cozy.files.music-dir
    io.cozy.jobs:POST:sendmail,thumbnail:worker

Verbs are comma-joined, `ALL` meaning all five. The verbs part cannot be left out when values
or a selector follow. Titles and descriptions have no inline form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from .doctypes import MAXIMAL_TYPE
from .errors import InvalidRule
from .rules import Rule
from .verbs import ALL_VERBS, format_verbs, parse_verb_list

__all__ = ["format_rule", "format_rules", "parse_rule", "parse_scope"]

PART_SEP: Final = ":"
VALUE_SEP: Final = ","
_WHITESPACE = re.compile(r"\s")


def parse_rule(text: str) -> Rule:
    """Parse one inline rule, raising `InvalidRule` with the reason."""
    parts = text.split(PART_SEP)
    if len(parts) > 4:
        raise InvalidRule(
            f"invalid rule {text!r}: expected type[:VERBS[:value1,value2[:selector]]], "
            f"found {len(parts) - 1} ':'"
        )
    doctype = parts[0]
    if doctype == "":
        raise InvalidRule(f"invalid rule {text!r}: the doctype is missing")
    verbs = ALL_VERBS if len(parts) < 2 else parse_verb_list(parts[1])
    values: tuple[str, ...] = ()
    if len(parts) >= 3:
        values = tuple(parts[2].split(VALUE_SEP))
        if any(value == "" for value in values):
            raise InvalidRule(f"invalid rule {text!r}: empty value in {parts[2]!r}")
    selector: str | None = None
    if len(parts) == 4:
        selector = parts[3]
        if selector == "":
            raise InvalidRule(f"invalid rule {text!r}: the selector after the last ':' is empty")
    try:
        return Rule(type=doctype, verbs=verbs, values=values, selector=selector)
    except InvalidRule as exc:
        raise InvalidRule(f"invalid rule {text!r}: {exc}") from None


def parse_scope(scope: str, *, allow_maximal: bool = False) -> tuple[list[Rule], bool]:
    """Parse a whitespace-separated scope. Returns (rules, maximal).

    `*` alone means the maximal set and is refused unless `allow_maximal`. An empty scope is
    an empty set (which allows nothing).
    """
    if not isinstance(scope, str):
        raise InvalidRule(f"a scope must be a string, got {scope!r}")
    words = scope.split()
    if MAXIMAL_TYPE in words:
        if not allow_maximal:
            raise InvalidRule("the maximal scope '*' is not accepted here")
        if len(words) != 1:
            raise InvalidRule("the maximal scope '*' cannot be combined with other rules")
        return [], True
    return [parse_rule(word) for word in words], False


def _check_inline_text(rule: Rule, what: str, text: str) -> None:
    if PART_SEP in text or VALUE_SEP in text or _WHITESPACE.search(text):
        raise InvalidRule(
            f"rule on {rule.type} has no inline form: {what} {text!r} contains ':', ',' "
            "or whitespace (use the JSON form)"
        )


def format_rule(rule: Rule) -> str:
    """The inline spelling of a rule (raises `InvalidRule` if a value cannot be spelled)."""
    for value in rule.values:
        _check_inline_text(rule, "value", value)
    out = rule.type
    if rule.verbs != ALL_VERBS or rule.values:
        out += PART_SEP + format_verbs(rule.verbs)
    if rule.values:
        out += PART_SEP + VALUE_SEP.join(rule.values)
        if rule.selector is not None:
            out += PART_SEP + rule.selector
    return out


def format_rules(rules: Iterable[Rule]) -> str:
    return " ".join(format_rule(rule) for rule in rules)
