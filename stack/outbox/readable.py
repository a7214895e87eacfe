"""A proposal's body in words a person reads: fields and values, never raw braces.

A JSON object or array becomes a list of fields (nested keys joined with " › ", list items
numbered); a form (``application/x-www-form-urlencoded``) becomes its fields; other text
is shown as text; anything else is "N bytes", to download. The exact bytes are always
downloadable beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

__all__ = ["ReadableBody", "readable_body"]

MAX_FIELDS: Final = 500


@dataclass(frozen=True)
class ReadableBody:
    #: ``empty``, ``fields``, ``text`` or ``binary``.
    kind: str
    size: int
    fields: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""
    #: More fields than shown: the download has them all.
    truncated: bool = False


def _label(key: str) -> str:
    words = key.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else key


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


class _Members(list[tuple[str, Any]]):
    """A JSON object's members in order, duplicates kept: a key given twice is shown twice,
    so no value that leaves can hide behind another (a receiver may read either)."""


def _flatten(value: Any, path: str, out: list[tuple[str, str]]) -> None:
    if isinstance(value, _Members):
        if not value:
            out.append((path or "(empty)", "—"))
        for key, inner in value:
            label = _label(str(key))
            _flatten(inner, f"{path} › {label}" if path else label, out)
    elif isinstance(value, list):
        if not value:
            out.append((path or "(empty list)", "—"))
        for index, inner in enumerate(value, start=1):
            _flatten(inner, f"{path} {index}" if path else f"Item {index}", out)
    else:
        out.append((path or "Value", _value(value)))


def readable_body(body: bytes, content_type: str) -> ReadableBody:
    size = len(body)
    if not body:
        return ReadableBody("empty", 0)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return ReadableBody("binary", size)
    media = content_type.split(";")[0].strip().lower()
    fields: list[tuple[str, str]] = []
    if media == "application/json" or media.endswith("+json") or text.lstrip()[:1] in "{[":
        try:
            _flatten(json.loads(text, object_pairs_hook=_Members), "", fields)
        except (ValueError, RecursionError):
            fields = []
    elif media == "application/x-www-form-urlencoded":
        try:
            fields = [(_label(k), v) for k, v in parse_qsl(text, keep_blank_values=True)]
        except ValueError:
            fields = []
    if fields:
        return ReadableBody("fields", size, fields[:MAX_FIELDS], truncated=len(fields) > MAX_FIELDS)
    return ReadableBody("text", size, text=text)
