"""Is one set of rules contained in another (cozy-stack's `IsSubSetOf`, made sound)?

A child rule is covered when one parent rule
- matches every doctype the child matches (same type, or a parent wildcard covering it),
- has every verb of the child, and
- is whole-type, or has the same selector and every value of the child.

cozy-stack lets a whole-type child rule pass under a parent rule limited to some values (the
"all values contained" test is vacuous for an empty list); Roost refuses it, so a subset
never allows what its parent refuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .doctypes import type_covers
from .rules import Rule

__all__ = ["rule_covered", "rules_subset"]


def _covers(parent: Rule, child: Rule) -> bool:
    if not type_covers(parent.type, child.type):
        return False
    if not child.verbs <= parent.verbs:
        return False
    if parent.whole_type:
        return True
    if child.whole_type or parent.selector != child.selector:
        return False
    return set(child.values) <= set(parent.values)


def rule_covered(child: Rule, parent_rules: Iterable[Rule]) -> bool:
    return any(_covers(parent, child) for parent in parent_rules)


def rules_subset(child: Iterable[Rule], parent: Sequence[Rule]) -> bool:
    return all(rule_covered(rule, parent) for rule in child)
