"""Strict JSON (RFC 8259): the one parser for request bodies and for apps' output.

Python's `json` accepts more than JSON, and what it lets through breaks later, after a
write or when an answer is rendered: `NaN`, `Infinity` and `1e999` (a float overflow), a
lone surrogate (`"\\ud800"`, which UTF-8 cannot encode), 100 000 nested brackets
(RecursionError). No HTTP here: the web layer and the app store both use it.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from roost.errors import BadRequest

__all__ = ["MAX_JSON_DEPTH", "parse_json"]

# Deeper documents are refused: Python's JSON codec, JSON Schema validation and the store
# client all recurse (a few hundred levels crash them), and no real document comes close.
MAX_JSON_DEPTH = 100
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json(raw: bytes | str) -> Any:
    """Strict JSON (RFC 8259) or BadRequest.

    Python's `json` accepts more than JSON, and what it lets through breaks later, after a
    write: `NaN`, `Infinity` and `1e999` (a float overflow) make the JSON answer fail, as
    does a lone surrogate (`"\\ud800"`), which UTF-8 cannot encode; 100 000 nested
    brackets raise RecursionError. Bodies are UTF-8 (a BOM is tolerated).
    """
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_no_constant, parse_float=_float, parse_int=_int)
    except RecursionError:
        raise BadRequest(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the body is not valid JSON: {error}") from None
    _check_value(value)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _int(text: str) -> int:
    value = int(text)
    # Past a double's range the store (JavaScript, or CouchDB's) would turn it into Infinity.
    if abs(value) > sys.float_info.max:
        raise ValueError(f"the number {text[:20]}… is out of range")
    return value


def _check_value(value: Any) -> None:
    """Depth and lone surrogates, walked without recursion."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise BadRequest("the JSON holds a lone UTF-16 surrogate (\\ud800-\\udfff)")
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise BadRequest(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
