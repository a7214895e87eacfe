"""Mango selectors evaluated by Roost, for `_changes?filter=_selector`.

PouchDB Server crashes on `filter=_selector`, so the store is never asked to filter: Roost
reads each changed document and matches it here. Semantics follow CouchDB's Mango: a
missing field matches only `{"$exists": false}`; comparisons use CouchDB's ordering of
types (null < false < true < numbers < strings < arrays < objects). Strings compare by
code point, where CouchDB uses ICU collation (it orders "a" before "B"); `$regex` uses
Python's `re` rather than PCRE.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from roost.errors import BadRequest

Selector = Mapping[str, Any]

_MISSING = object()
_COMBINATIONS = {"$and", "$or", "$nor", "$not"}
_CONDITIONS = {
    "$lt",
    "$lte",
    "$eq",
    "$ne",
    "$gte",
    "$gt",
    "$exists",
    "$type",
    "$in",
    "$nin",
    "$size",
    "$mod",
    "$regex",
    "$all",
    "$elemMatch",
    "$allMatch",
    "$keyMapMatch",
    "$beginsWith",
}
_TYPES = {"null", "boolean", "number", "string", "array", "object"}
MAX_DEPTH = 32


def validate_selector(selector: Any) -> dict[str, Any]:
    """The selector if well formed; `BadRequest` naming the problem otherwise."""
    if not isinstance(selector, dict):
        raise BadRequest("a selector is a JSON object")
    _validate_object(selector, 0)
    return selector


def _validate_object(selector: Mapping[str, Any], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BadRequest("the selector is nested too deeply")
    for key, value in selector.items():
        if key in _COMBINATIONS:
            _validate_combination(key, value, depth)
        elif key.startswith("$"):
            raise BadRequest(f"unknown selector operator {key}")
        else:
            _validate_condition(value, depth + 1)


def _validate_combination(key: str, value: Any, depth: int) -> None:
    if key == "$not":
        if not isinstance(value, dict):
            raise BadRequest("$not takes a selector object")
        _validate_object(value, depth + 1)
        return
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise BadRequest(f"{key} takes a list of selector objects")
    for item in value:
        _validate_object(item, depth + 1)


def _is_operator_object(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(k.startswith("$") for k in value)


def _validate_condition(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BadRequest("the selector is nested too deeply")
    if not isinstance(value, dict) or not value:
        return
    operators = [k for k in value if k.startswith("$")]
    if operators and len(operators) != len(value):
        raise BadRequest("a field condition mixes operators and sub-fields")
    if not operators:
        _validate_object(value, depth)
        return
    for op, argument in value.items():
        if op in _COMBINATIONS:
            if op == "$not":
                _validate_condition(argument, depth + 1)
            elif not isinstance(argument, list):
                raise BadRequest(f"{op} takes a list")
            else:
                for item in argument:
                    _validate_condition(item, depth + 1)
        elif op not in _CONDITIONS:
            raise BadRequest(f"unknown selector operator {op}")
        else:
            _validate_argument(op, argument, depth)


def _validate_argument(op: str, argument: Any, depth: int) -> None:
    if op in ("$in", "$nin", "$all") and not isinstance(argument, list):
        raise BadRequest(f"{op} takes a list")
    if op == "$exists" and not isinstance(argument, bool):
        raise BadRequest("$exists takes true or false")
    if op == "$type" and argument not in _TYPES:
        raise BadRequest(f"$type takes one of {', '.join(sorted(_TYPES))}")
    if op == "$size" and (not isinstance(argument, int) or isinstance(argument, bool)):
        raise BadRequest("$size takes an integer")
    if op == "$mod":
        if (
            not isinstance(argument, list)
            or len(argument) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in argument)
            or argument[0] == 0
        ):
            raise BadRequest("$mod takes [divisor, remainder], integers, divisor not 0")
    if op == "$regex":
        if not isinstance(argument, str):
            raise BadRequest("$regex takes a string")
        try:
            _compiled(argument)
        except re.error as error:
            raise BadRequest(f"invalid $regex: {error}") from None
    if op == "$beginsWith" and not isinstance(argument, str):
        raise BadRequest("$beginsWith takes a string")
    if op in ("$elemMatch", "$allMatch", "$keyMapMatch"):
        if not isinstance(argument, dict):
            raise BadRequest(f"{op} takes a selector object")
        _validate_condition(argument, depth + 1)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# -- matching -------------------------------------------------------------------------


def matches(selector: Selector, doc: Any) -> bool:
    """Whether `doc` satisfies the (validated) selector."""
    return _match_object(selector, doc)


def _match_object(selector: Selector, doc: Any) -> bool:
    for key, value in selector.items():
        if key == "$and":
            if not all(_match_object(item, doc) for item in value):
                return False
        elif key == "$or":
            if not any(_match_object(item, doc) for item in value):
                return False
        elif key == "$nor":
            if any(_match_object(item, doc) for item in value):
                return False
        elif key == "$not":
            if _match_object(value, doc):
                return False
        elif not _match_condition(value, _field(doc, key)):
            return False
    return True


def _split_path(path: str) -> list[str]:
    """`a.b` → ["a", "b"]; a backslash escapes a dot (`a\\.b` is one field)."""
    parts: list[str] = []
    current = []
    escaped = False
    for char in path:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _field(doc: Any, path: str) -> Any:
    value = doc
    for part in _split_path(path):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _match_condition(condition: Any, value: Any) -> bool:
    if isinstance(condition, dict) and condition and not _is_operator_object(condition):
        # `{"name": {"first": "x"}}` reads as `{"name.first": "x"}`.
        return _match_object(condition, value if value is not _MISSING else {})
    if not _is_operator_object(condition):
        return value is not _MISSING and _equal(value, condition)
    for op, argument in condition.items():
        if not _OPERATORS[op](value, argument):
            return False
    return True


def _type_rank(value: Any) -> int:
    if value is None:
        return 0
    if value is False:
        return 1
    if value is True:
        return 2
    if isinstance(value, int | float):
        return 3
    if isinstance(value, str):
        return 4
    if isinstance(value, list):
        return 5
    return 6


def compare(a: Any, b: Any) -> int:
    """CouchDB's view collation order, with code-point string comparison."""
    rank_a, rank_b = _type_rank(a), _type_rank(b)
    if rank_a != rank_b:
        return -1 if rank_a < rank_b else 1
    if rank_a in (3, 4):
        return -1 if a < b else (1 if a > b else 0)
    if rank_a == 5:
        for left, right in zip(a, b, strict=False):
            order = compare(left, right)
            if order:
                return order
        return (len(a) > len(b)) - (len(a) < len(b))
    if rank_a == 6:
        left_items, right_items = list(a.items()), list(b.items())
        for (lk, lv), (rk, rv) in zip(left_items, right_items, strict=False):
            order = compare(lk, rk) or compare(lv, rv)
            if order:
                return order
        return (len(left_items) > len(right_items)) - (len(left_items) < len(right_items))
    return 0


def _equal(a: Any, b: Any) -> bool:
    return compare(a, b) == 0


def _present(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    return lambda value, argument: value is not _MISSING and test(value, argument)


def _type_name(value: Any) -> str:
    return ("null", "boolean", "boolean", "number", "string", "array", "object")[_type_rank(value)]


def _not(value: Any, argument: Any) -> bool:
    return not _match_condition(argument, value)


def _and(value: Any, argument: Any) -> bool:
    return all(_match_condition(item, value) for item in argument)


def _or(value: Any, argument: Any) -> bool:
    return any(_match_condition(item, value) for item in argument)


def _nor(value: Any, argument: Any) -> bool:
    return not any(_match_condition(item, value) for item in argument)


def _elem_match(value: Any, argument: Any) -> bool:
    return isinstance(value, list) and any(_match_condition(argument, item) for item in value)


def _all_match(value: Any, argument: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(_match_condition(argument, item) for item in value)
    )


def _key_map_match(value: Any, argument: Any) -> bool:
    return isinstance(value, dict) and any(_match_condition(argument, key) for key in value)


def _in(value: Any, argument: Any) -> bool:
    # As CouchDB: an array field matches when one of its elements is listed.
    items = value if isinstance(value, list) else [value]
    return any(_equal(item, x) for item in items for x in argument)


def _mod(value: Any, argument: Any) -> bool:
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    divisor, remainder = int(argument[0]), int(argument[1])
    # Erlang's rem: the sign follows the dividend.
    result = abs(value) % abs(divisor)
    signed: int = result if value >= 0 else -result
    return signed == remainder


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": _present(lambda v, a: compare(v, a) < 0),
    "$lte": _present(lambda v, a: compare(v, a) <= 0),
    "$gt": _present(lambda v, a: compare(v, a) > 0),
    "$gte": _present(lambda v, a: compare(v, a) >= 0),
    "$eq": _present(_equal),
    "$ne": _present(lambda v, a: not _equal(v, a)),
    "$exists": lambda v, a: (v is not _MISSING) == a,
    "$type": _present(lambda v, a: _type_name(v) == a),
    "$in": _present(_in),
    "$nin": _present(lambda v, a: not _in(v, a)),
    "$size": _present(lambda v, a: isinstance(v, list) and len(v) == a),
    "$mod": _present(_mod),
    "$regex": _present(lambda v, a: isinstance(v, str) and _compiled(a).search(v) is not None),
    "$beginsWith": _present(lambda v, a: isinstance(v, str) and v.startswith(a)),
    "$all": _present(
        lambda v, a: isinstance(v, list) and all(any(_equal(i, x) for i in v) for x in a)
    ),
    "$elemMatch": _present(_elem_match),
    "$allMatch": _present(_all_match),
    "$keyMapMatch": _present(_key_map_match),
    "$not": _not,
    "$and": _and,
    "$or": _or,
    "$nor": _nor,
}
