"""Comparing a documented answer with the server's actual one.

Values the server generates (ids, revisions, dates, tokens, secrets) cannot be written in
the docs as they will be: a documented value of such a shape is a *variable*. The first time
it is met in an answer it is bound to the actual value at that place; from then on every
occurrence of the same documented value — in later requests' URLs, headers and bodies, and
in later answers — stands for the bound actual value. `…` elides: in a string it matches any
text (an elided value of 12 characters or more is a variable too); as an object member
(`"…": "…"` or a bare `…`) it allows members not shown; as the last item of a list, items
not shown. Anything else is compared exactly.
"""

from __future__ import annotations

import json
import re
from typing import Any

ELLIPSIS = "…"
_WORD = r"A-Za-z0-9_\-"
_SHAPES = {
    "jwt": rf"eyJ[{_WORD}]*\.[{_WORD}]+\.[{_WORD}]+",
    "elided": rf"[{_WORD}+/=.:]*{ELLIPSIS}",
    "rev": r"\d+-[0-9a-f]{32}",
    "iso_date": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)",
    "http_date": r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT",
    "hex_id": r"[0-9a-f]{32}",
    # A random secret (session id, code, registration token) as the docs show one: 22 or
    # more base64url characters with at least one digit, so that long words are not taken.
    "secret": rf"(?=[{_WORD}]*\d)[{_WORD}]{{22,}}={{0,2}}",
}
_VOLATILE = re.compile(
    rf"(?<![{_WORD}])(?:"
    + "|".join(f"(?P<{kind}>{shape})" for kind, shape in _SHAPES.items())
    + rf")(?![{_WORD}])"
)
# What an actual value of each shape may look like (looser than the documented shape).
_ACTUAL = {
    "jwt": rf"[{_WORD}]+\.[{_WORD}]+\.[{_WORD}]+",
    "iso_date": _SHAPES["iso_date"],
    "http_date": _SHAPES["http_date"],
    "hex_id": r"[0-9a-f]{32}",
    "secret": rf"[{_WORD}]{{16,}}={{0,2}}",
}
_NAMED_ELISION = 12
_HEX = re.compile(r"[0-9a-f]+")
_EPOCH_SECONDS = 1_000_000_000


class Bindings:
    """Documented value → actual value, for one page's scenario."""

    def __init__(self, fixed: dict[str, str]) -> None:
        self.fixed = dict(fixed)  # e.g. the documented host → the test instance's host
        self.learned: dict[str, str] = {}

    def copy(self) -> Bindings:
        twin = Bindings(self.fixed)
        twin.learned = dict(self.learned)
        return twin

    def substitute(self, text: str) -> str:
        """`text` (a request's URL, header or body) with every bound value replaced."""
        for table in (self.fixed, self.learned):
            for documented in sorted(table, key=len, reverse=True):
                text = text.replace(documented, table[documented])
        return text

    def match_text(self, documented: str, actual: str) -> bool:
        """Does `actual` match `documented`? Binds the variables met on success."""
        for source, target in self.fixed.items():
            documented = documented.replace(source, target)
        parts: list[str] = []
        pending: dict[str, tuple[str, str]] = {}  # documented token → (group, kind)
        position = 0
        for found in _VOLATILE.finditer(documented):
            parts.append(re.escape(documented[position : found.start()]))
            token, kind = found.group(0), found.lastgroup or ""
            if kind == "elided" and _HEX.fullmatch(token[:-1]):
                parts.append(r"[0-9a-f]+")  # a shortened id (`5f0c…`) stands for any id
            elif kind == "elided" and len(token) <= _NAMED_ELISION:
                parts.append(re.escape(token[:-1]) + r".*?")  # anonymous: not a variable
            elif token in self.learned:
                parts.append(re.escape(self.learned[token]))
            elif token in pending:
                parts.append(f"(?P={pending[token][0]})")
            else:
                group = f"g{len(pending)}"
                pending[token] = (group, kind)
                if kind == "elided":
                    shape = re.escape(token[:-1]) + r".*?"
                elif kind == "rev":  # the generation is the contract, the hash is generated
                    shape = re.escape(token.split("-", 1)[0]) + r"-[0-9a-f]+"
                else:
                    shape = _ACTUAL[kind]
                parts.append(f"(?P<{group}>{shape})")
            position = found.end()
        parts.append(re.escape(documented[position:]))
        matched = re.fullmatch("".join(parts), actual, re.DOTALL)
        if matched is None:
            return False
        for token, (group, _kind) in pending.items():
            self.learned[token] = matched.group(group)
        return True

    def match_number(self, documented: int | float, actual: Any) -> bool:
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        if documented == actual:
            return True
        # Epoch seconds (`client_id_issued_at`) are dates: variables like the others.
        if isinstance(documented, int) and isinstance(actual, int):
            if documented >= _EPOCH_SECONDS and actual >= _EPOCH_SECONDS:
                key = str(documented)
                bound = self.learned.setdefault(key, str(actual))
                return bound == str(actual)
        return False


def load_documented_json(text: str) -> Any:
    """JSON as the docs write it: a bare `…` is `"…": "…"` as an object member, else `"…"`."""
    out: list[str] = []
    stack: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            out.append(char)
            continue
        if char == '"':
            in_string = True
        elif char in "{[":
            stack.append(char)
        elif char in "}]" and stack:
            stack.pop()
        elif char == ELLIPSIS:
            is_member = stack and stack[-1] == "{" and "".join(out).rstrip()[-1:] != ":"
            out.append(f'"{ELLIPSIS}": "{ELLIPSIS}"' if is_member else f'"{ELLIPSIS}"')
            continue
        out.append(char)
    return json.loads("".join(out))


def compare_json(
    documented: Any, actual: Any, bindings: Bindings, path: str = "$", *, unordered: bool = False
) -> list[str]:
    """The differences between a documented JSON value and the actual one (none: a match).

    `unordered`: lists are compared as collections (each documented item against the first
    answered one it matches), for answers whose order depends on generated ids.
    """
    if isinstance(documented, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {_short(actual)}"]
        errors: list[str] = []
        is_open = documented.get(ELLIPSIS) == ELLIPSIS
        for key, value in documented.items():
            if key == ELLIPSIS:
                continue
            if key not in actual:
                errors.append(f"{path}.{key}: documented but missing")
                continue
            errors += compare_json(
                value, actual[key], bindings, f"{path}.{key}", unordered=unordered
            )
        if not is_open:
            extra = [key for key in actual if key not in documented]
            if extra:
                errors.append(f"{path}: members not documented: {', '.join(extra)}")
        return errors
    if isinstance(documented, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {_short(actual)}"]
        is_open = bool(documented) and documented[-1] == ELLIPSIS
        shown = documented[:-1] if is_open else documented
        if len(actual) < len(shown) or (not is_open and len(actual) != len(shown)):
            return [f"{path}: {len(shown)} items documented, {len(actual)} answered"]
        if unordered:
            return _compare_unordered(shown, actual, bindings, path)
        errors = []
        for index, value in enumerate(shown):
            errors += compare_json(
                value, actual[index], bindings, f"{path}[{index}]", unordered=unordered
            )
        return errors
    if isinstance(documented, str):
        if documented == ELLIPSIS:
            return []
        if isinstance(actual, str) and bindings.match_text(documented, actual):
            return []
        return [f"{path}: documented {_short(documented)}, got {_short(actual)}"]
    if isinstance(documented, bool) or documented is None:
        return [] if documented is actual else [f"{path}: documented {documented}, got {actual}"]
    if bindings.match_number(documented, actual):
        return []
    return [f"{path}: documented {documented}, got {_short(actual)}"]


def _compare_unordered(
    shown: list[Any], actual: list[Any], bindings: Bindings, path: str
) -> list[str]:
    unused = list(range(len(actual)))
    errors: list[str] = []
    for index, value in enumerate(shown):
        for candidate in unused:
            trial = bindings.copy()
            if not compare_json(value, actual[candidate], trial, path, unordered=True):
                bindings.learned = trial.learned
                unused.remove(candidate)
                break
        else:
            errors.append(f"{path}[{index}]: no answered item matches {_short(value)}")
    return errors


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 200 else text[:200] + "…"
