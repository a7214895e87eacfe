"""Matching predicates over rules (cozy-stack's `match.go` and `vfs.Allows`).

A permission set is a disjunction of rules: it allows an action when some rule does. There are
no deny rules. Verbs passed here are already normalised (HEAD mapped to GET by the caller).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .doctypes import FILES_DOCTYPE, match_type
from .rules import Rule
from .targets import FileTarget, Target

__all__ = [
    "NON_INHERITED_SELECTORS",
    "allow",
    "allow_file",
    "allow_id",
    "allow_on_fields",
    "allow_whole_type",
    "rule_allows_file",
    "rule_allows_target",
]

# Selectors that only ever match the file itself, never through its ancestors. cozy-stack
# exempts mime and class; Roost also exempts type, or a "type=directory" rule would cover
# every file in every sub-directory.
NON_INHERITED_SELECTORS: Final = frozenset({"mime", "class", "type"})


def _applies(rule: Rule, verb: str, doctype: str) -> bool:
    return verb in rule.verbs and match_type(rule.type, doctype)


def _values_match(rule: Rule, target: Target) -> bool:
    assert rule.selector is not None
    fetched = target.fetch(rule.selector)
    return any(value in fetched for value in rule.values)


def rule_allows_target(rule: Rule, target: Target) -> bool:
    """Whether the rule's values admit `target` (type and verb checked elsewhere)."""
    if rule.whole_type:
        return True
    if rule.selector is None:
        return target.id in rule.values
    return _values_match(rule, target)


def rule_allows_file(rule: Rule, target: FileTarget) -> bool:
    """Like `rule_allows_target`, with cozy's subtree inheritance for files."""
    if rule.whole_type:
        return True
    if rule.selector is None:
        lineage = target.lineage_ids()
        return any(value in lineage for value in rule.values)
    if _values_match(rule, target):
        return True
    if rule.selector in NON_INHERITED_SELECTORS:
        return False
    return any(_values_match(rule, ancestor) for ancestor in target.ancestors)


def allow_whole_type(rules: Iterable[Rule], verb: str, doctype: str) -> bool:
    return any(_applies(r, verb, doctype) and r.whole_type for r in rules)


def allow_id(rules: Iterable[Rule], verb: str, doctype: str, doc_id: str) -> bool:
    return any(
        _applies(r, verb, doctype) and (r.whole_type or (r.selector is None and doc_id in r.values))
        for r in rules
    )


def allow(rules: Iterable[Rule], verb: str, doctype: str, target: Target) -> bool:
    return any(_applies(r, verb, doctype) and rule_allows_target(r, target) for r in rules)


def allow_file(rules: Iterable[Rule], verb: str, target: FileTarget) -> bool:
    return any(_applies(r, verb, FILES_DOCTYPE) and rule_allows_file(r, target) for r in rules)


def allow_on_fields(
    rules: Iterable[Rule], verb: str, doctype: str, target: Target, fields: Iterable[str]
) -> bool:
    """Cozy's AllowOnFields: only rules with values and a selector among `fields` count."""
    wanted = frozenset(fields)
    return any(
        _applies(r, verb, doctype)
        and not r.whole_type
        and r.selector in wanted
        and _values_match(r, target)
        for r in rules
    )
