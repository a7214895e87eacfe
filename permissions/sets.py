"""Permission sets: what one token, app, app password or share link may do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from .budget import Budget, budget_within
from .describe import describe_set
from .doctypes import FILES_DOCTYPE, is_valid_doctype, match_type
from .egress import egress_subset, normalise_egress_pattern
from .errors import InvalidRule
from .inline import format_rules, parse_scope
from .jsonform import parse_set, rules_to_json
from .matching import (
    allow,
    allow_file,
    allow_id,
    allow_on_fields,
    allow_whole_type,
)
from .rules import Rule
from .subset import rules_subset
from .targets import FileTarget, Target
from .verbs import ALL_VERBS, request_verb

__all__ = ["PermissionSet"]


def _aware_utc(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise InvalidRule(f"{what} must be a datetime, got {moment!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidRule(f"{what} must be timezone-aware (UTC)")
    return moment.astimezone(UTC)


def _expiry_within(child: datetime | None, parent: datetime | None) -> bool:
    if parent is None:
        return True
    return child is not None and child <= parent


@dataclass(frozen=True)
class PermissionSet:
    """A disjunction of rules, plus Roost's egress, budget and expiry.

    `maximal` is the owner's own session: every verb on every doctype (reserved doctypes are
    still guarded by `check_readable` / `check_writable`). Expiry is not looked at by
    `allows`; pass `now` to `check` or call `is_expired`.
    """

    rules: tuple[Rule, ...] = ()
    maximal: bool = False
    egress: tuple[str, ...] = ()
    budget: Budget | None = None
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        rules = tuple(self.rules)
        for rule in rules:
            if not isinstance(rule, Rule):
                raise InvalidRule(f"a permission set holds Rule objects, got {rule!r}")
        object.__setattr__(self, "rules", rules)
        if not isinstance(self.maximal, bool):
            raise InvalidRule(f"maximal must be a bool, got {self.maximal!r}")
        if isinstance(self.egress, str):
            raise InvalidRule("egress must be a list of patterns, not a single string")
        object.__setattr__(self, "egress", tuple(normalise_egress_pattern(p) for p in self.egress))
        if self.budget is not None and not isinstance(self.budget, Budget):
            raise InvalidRule(f"budget must be a Budget, got {self.budget!r}")
        if self.expires_at is not None:
            object.__setattr__(self, "expires_at", _aware_utc(self.expires_at, "expires_at"))

    # ----- construction -------------------------------------------------------------------

    @classmethod
    def maximal_set(cls) -> PermissionSet:
        """The owner's session: allowed everything."""
        return cls(maximal=True)

    @classmethod
    def from_rules(cls, rules: Iterable[Rule]) -> PermissionSet:
        return cls(rules=tuple(rules))

    @classmethod
    def from_inline(cls, scope: str, *, allow_maximal: bool = False) -> PermissionSet:
        """Parse an inline scope like `io.cozy.contacts:GET,POST:family:groups io.cozy.files`.

        The scope `*` (maximal) is refused unless `allow_maximal`.
        """
        rules, maximal = parse_scope(scope, allow_maximal=allow_maximal)
        return cls(rules=tuple(rules), maximal=maximal)

    def to_inline(self) -> str:
        """The inline scope. Egress, budget, expiry, titles and descriptions are not part of
        it; raises `InvalidRule` when a value cannot be spelled inline."""
        if self.maximal:
            return "*"
        return format_rules(self.rules)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, allow_maximal: bool = False) -> PermissionSet:
        """Read cozy's rule map or Roost's `{"rules", "egress", "budget", "expires_at"}` form.

        A maximal set (`"maximal": true`, or a rule of type `*`) is refused unless
        `allow_maximal`, so a manifest can never ask for it.
        """
        parsed = parse_set(data, allow_maximal=allow_maximal)
        return cls(
            rules=parsed.rules,
            maximal=parsed.maximal,
            egress=parsed.egress,
            budget=parsed.budget,
            expires_at=parsed.expires_at,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rules": rules_to_json(self.rules),
            "egress": list(self.egress),
            "budget": None if self.budget is None else self.budget.to_json(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
        }
        if self.maximal:
            out["maximal"] = True
        return out

    # ----- matching -----------------------------------------------------------------------

    @staticmethod
    def _prelude(verb: str, doctype: str) -> str | bool:
        """The normalised verb, or a final answer (True for OPTIONS, False when invalid)."""
        if isinstance(verb, str) and isinstance(doctype, str):
            return _prelude(verb, doctype)
        return _prelude.__wrapped__(verb, doctype)

    def allows(self, verb: str, doctype: str, target: Target | None = None) -> bool:
        """Whether `verb` on `doctype` is allowed; with no target, on the whole doctype.

        For `io.cozy.files` with a `FileTarget`, permissions on a folder cover its subtree.
        """
        v = self._prelude(verb, doctype)
        if isinstance(v, bool):
            return v
        if self.maximal:
            return True
        if target is None:
            return allow_whole_type(self.rules, v, doctype)
        if doctype == FILES_DOCTYPE and isinstance(target, FileTarget):
            return allow_file(self.rules, v, target)
        return allow(self.rules, v, doctype, target)

    def allows_whole_type(self, verb: str, doctype: str) -> bool:
        v = self._prelude(verb, doctype)
        if isinstance(v, bool):
            return v
        return self.maximal or allow_whole_type(self.rules, v, doctype)

    def allows_some(self, verb: str, doctype: str) -> bool:
        """Whether some rule grants `verb` on `doctype` for at least some documents.

        Handlers use it to tell "you may not touch this doctype" (403) from "this document
        is not one of yours" (answered like a missing document, so nothing leaks).
        """
        v = self._prelude(verb, doctype)
        if isinstance(v, bool):
            return v
        return self.maximal or any(
            v in rule.verbs and match_type(rule.type, doctype) for rule in self.rules
        )

    def allows_id(self, verb: str, doctype: str, doc_id: str) -> bool:
        """Whole-type, or a rule without selector listing `doc_id` (no file inheritance)."""
        v = self._prelude(verb, doctype)
        if isinstance(v, bool):
            return v
        return self.maximal or allow_id(self.rules, v, doctype, doc_id)

    def allows_on_fields(self, verb: str, doctype: str, target: Target, *fields: str) -> bool:
        """Cozy's AllowOnFields: a rule with values and a selector among `fields` allows
        `target` (for listing, e.g. only the triggers whose worker is konnector)."""
        v = self._prelude(verb, doctype)
        if isinstance(v, bool):
            return v
        return self.maximal or allow_on_fields(self.rules, v, doctype, target, fields)

    def doctypes(self) -> frozenset[str]:
        """The rule types of this set (wildcards included as written)."""
        return frozenset(rule.type for rule in self.rules)

    # ----- relations ----------------------------------------------------------------------

    def is_subset_of(self, parent: PermissionSet) -> bool:
        """True when this set can never do more than `parent`.

        Every rule must be covered by a parent rule (see `subset.py`), egress patterns by
        parent patterns, the expiry may not be later and every parent budget limit must be
        kept. A maximal set is never a subset; a maximal parent covers every rule and every
        egress pattern (its own expiry and budget, if any, still bind).
        """
        if self.maximal:
            return False
        if not _expiry_within(self.expires_at, parent.expires_at):
            return False
        if not budget_within(self.budget, parent.budget):
            return False
        if parent.maximal:
            return True
        return egress_subset(self.egress, parent.egress) and rules_subset(self.rules, parent.rules)

    def is_expired(self, now: datetime) -> bool:
        if self.expires_at is None:
            return False
        return _aware_utc(now, "now") >= self.expires_at

    def describe(self) -> list[str]:
        """Plain-English lines for a consent page."""
        return describe_set(
            self.rules,
            maximal=self.maximal,
            egress=self.egress,
            budget=self.budget,
            expires_at=self.expires_at,
        )


# Asked two or more times per decision, for every document of a feed or a listing: pure,
# so worked out once per (verb, doctype).
@lru_cache(maxsize=2048)
def _prelude(verb: str, doctype: str) -> str | bool:
    normalised = request_verb(verb)
    if normalised == "OPTIONS":
        return True
    if normalised not in ALL_VERBS or not is_valid_doctype(doctype):
        return False
    return normalised
