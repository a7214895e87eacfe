"""One permission rule: a doctype, some verbs, optionally restricted to values of a field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from .doctypes import is_wildcard, validate_doctype
from .errors import InvalidRule
from .verbs import ALL_VERBS, normalise_verbs

__all__ = ["SELECTOR_PATTERN", "Rule", "validate_selector"]

SELECTOR_PATTERN: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


def validate_selector(selector: str) -> str:
    """A selector names one top-level field: letters, digits, '_', '.', '-'."""
    if not isinstance(selector, str) or not SELECTOR_PATTERN.fullmatch(selector):
        raise InvalidRule(
            f"invalid selector {selector!r}: a selector names one top-level field "
            "(letters, digits, '_', '.', '-')"
        )
    return selector


@dataclass(frozen=True)
class Rule:
    """`type` + `verbs`, optionally limited to documents whose `selector` field (default: the
    id) is one of `values`. Empty `values` means the whole doctype.

    Normalisation on construction: empty verbs or {"ALL"} become all five verbs; a selector
    with no values is dropped (it would grant the whole doctype anyway, as in cozy-stack);
    lists become tuples. `title` and `description` are presentation only and do not take part
    in equality.
    """

    type: str
    verbs: frozenset[str] = ALL_VERBS
    values: tuple[str, ...] = ()
    selector: str | None = None
    title: str = field(default="", compare=False)
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        validate_doctype(self.type, allow_wildcard=True)
        object.__setattr__(self, "verbs", normalise_verbs(self.verbs))
        values = self.values
        if isinstance(values, str):
            raise InvalidRule(f"values must be a list of strings, not the string {values!r}")
        values = tuple(values)
        for value in values:
            if not isinstance(value, str):
                raise InvalidRule(f"rule values must be strings, got {value!r}")
            if value == "":
                raise InvalidRule("rule values may not be empty strings")
        object.__setattr__(self, "values", values)
        selector = self.selector
        if selector == "":
            selector = None
        if selector is not None:
            validate_selector(selector)
        if not values:
            selector = None
        object.__setattr__(self, "selector", selector)
        if not isinstance(self.title, str):
            raise InvalidRule(f"a rule title must be a string, got {self.title!r}")
        if not isinstance(self.description, str):
            raise InvalidRule(f"a rule description must be a string, got {self.description!r}")

    @property
    def whole_type(self) -> bool:
        """True when the rule covers every document of its type (no values)."""
        return not self.values

    @property
    def is_wildcard(self) -> bool:
        return is_wildcard(self.type)

    @property
    def read_only(self) -> bool:
        return self.verbs == frozenset({"GET"})

    def allows_verb(self, verb: str) -> bool:
        return verb in self.verbs
