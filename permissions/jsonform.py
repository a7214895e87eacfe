"""The JSON form of permission sets.

Two shapes are read:

- cozy's map, as in manifests and `io.cozy.permissions` documents::

      {"contacts": {"type": "io.cozy.contacts", "verbs": ["GET"], "description": "…"}}

  where Roost extension keys (`egress`, `budget`, `expires_at`) may sit next to the rules;
- Roost's explicit form, which is also what `to_json` writes::

      {"rules": {"contacts": {…}}, "egress": ["https://api.example"],
       "budget": {"wall_seconds": 2}, "expires_at": "2030-01-01T00:00:00+00:00"}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from .budget import Budget
from .doctypes import MAXIMAL_TYPE
from .egress import normalise_egress_pattern
from .errors import InvalidRule
from .rules import Rule
from .verbs import sorted_verbs

__all__ = [
    "EXTENSION_KEYS",
    "ParsedSet",
    "parse_expiry",
    "parse_set",
    "rule_from_json",
    "rule_to_json",
    "rules_to_json",
]

EXTENSION_KEYS: Final = frozenset({"egress", "budget", "expires_at", "maximal"})
RULE_KEYS: Final = frozenset({"type", "verbs", "values", "selector", "description", "title"})


@dataclass(frozen=True)
class ParsedSet:
    rules: tuple[Rule, ...]
    maximal: bool
    egress: tuple[str, ...]
    budget: Budget | None
    expires_at: datetime | None


def _string_list(title: str, key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidRule(f"rule {title!r}: {key} must be a list of strings, got {value!r}")
    for item in value:
        if not isinstance(item, str):
            raise InvalidRule(f"rule {title!r}: {key} must contain only strings, got {item!r}")
    return list(value)


def _optional_string(title: str, key: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidRule(f"rule {title!r}: {key} must be a string, got {value!r}")


def rule_from_json(title: str, data: Any) -> Rule:
    """One rule from its JSON object; `title` is its key in the map."""
    if not isinstance(data, Mapping):
        raise InvalidRule(f"rule {title!r} must be an object with a type, got {data!r}")
    unknown = set(data) - RULE_KEYS
    if unknown:
        raise InvalidRule(
            f"rule {title!r}: unknown key(s) {sorted(map(str, unknown))}; "
            "expected type, verbs, values, selector, description"
        )
    doctype = data.get("type")
    if not isinstance(doctype, str) or doctype == "":
        raise InvalidRule(f"rule {title!r}: type is missing or not a string")
    own_title = _optional_string(title, "title", data.get("title"))
    try:
        return Rule(
            type=doctype,
            verbs=frozenset(_string_list(title, "verbs", data.get("verbs"))),
            values=tuple(_string_list(title, "values", data.get("values"))),
            selector=_optional_string(title, "selector", data.get("selector")),
            title=own_title if own_title else title,
            description=_optional_string(title, "description", data.get("description")) or "",
        )
    except InvalidRule as exc:
        raise InvalidRule(f"rule {title!r}: {exc}") from None


def rule_to_json(rule: Rule, key: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": rule.type, "verbs": sorted_verbs(rule.verbs)}
    if rule.values:
        out["values"] = list(rule.values)
    if rule.selector is not None:
        out["selector"] = rule.selector
    if rule.description:
        out["description"] = rule.description
    if rule.title and rule.title != key:
        out["title"] = rule.title
    return out


def rules_to_json(rules: Sequence[Rule]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for index, rule in enumerate(rules):
        key = rule.title or f"rule{index}"
        suffix = 2
        while key in out:
            key = f"{rule.title or f'rule{index}'}-{suffix}"
            suffix += 1
        out[key] = rule_to_json(rule, key)
    return out


def parse_expiry(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidRule(f"expires_at is not an ISO 8601 date-time: {value!r}") from None
    else:
        raise InvalidRule(f"expires_at must be an ISO 8601 string, got {value!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidRule(f"expires_at must carry a time zone (e.g. +00:00 or Z): {value!r}")
    return moment.astimezone(UTC)


def _parse_egress(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidRule(f"egress must be a list of origin patterns, got {value!r}")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise InvalidRule(f"egress patterns must be strings, got {item!r}")
        out.append(normalise_egress_pattern(item))
    return tuple(out)


def parse_set(data: Any, *, allow_maximal: bool) -> ParsedSet:
    if not isinstance(data, Mapping):
        raise InvalidRule(f"a permission set must be a JSON object, got {type(data).__name__}")
    for key in data:
        if not isinstance(key, str):
            raise InvalidRule(f"permission keys must be strings, got {key!r}")
    rest = {k: v for k, v in data.items() if k not in EXTENSION_KEYS}
    rules_value = rest.get("rules")
    if isinstance(rules_value, Mapping) and "type" not in rules_value:
        extra = sorted(set(rest) - {"rules"})
        if extra:
            raise InvalidRule(
                f"unexpected key(s) {extra} next to 'rules': "
                "expected only rules, egress, budget, expires_at"
            )
        rules_map: Mapping[str, Any] = rules_value
    else:
        rules_map = rest
    maximal = data.get("maximal", False)
    if not isinstance(maximal, bool):
        raise InvalidRule(f"maximal must be true or false, got {maximal!r}")
    rules: list[Rule] = []
    for title, raw in rules_map.items():
        if not isinstance(title, str):
            raise InvalidRule(f"rule titles must be strings, got {title!r}")
        if isinstance(raw, Mapping) and raw.get("type") == MAXIMAL_TYPE and allow_maximal:
            maximal = True
            continue
        rules.append(rule_from_json(title, raw))
    if maximal and not allow_maximal:
        raise InvalidRule("a maximal permission set is not accepted here")
    budget_value = data.get("budget")
    return ParsedSet(
        rules=tuple(rules),
        maximal=maximal,
        egress=_parse_egress(data.get("egress")),
        budget=None if budget_value is None else Budget.from_json(budget_value),
        expires_at=parse_expiry(data.get("expires_at")),
    )
