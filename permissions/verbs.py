"""HTTP verbs a rule can grant."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

from .errors import InvalidRule

__all__ = [
    "ALL_KEYWORD",
    "ALL_VERBS",
    "VERB_ORDER",
    "Verb",
    "format_verbs",
    "normalise_verbs",
    "parse_verb_list",
    "request_verb",
    "sorted_verbs",
]

Verb = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

VERB_ORDER: Final[tuple[str, ...]] = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALL_VERBS: Final[frozenset[str]] = frozenset(VERB_ORDER)
ALL_KEYWORD: Final = "ALL"


def normalise_verbs(verbs: Iterable[str]) -> frozenset[str]:
    """Validate a collection of verbs. Empty, or containing "ALL", means all five verbs."""
    if isinstance(verbs, str):
        raise InvalidRule(f"verbs must be a collection of verb names, not the string {verbs!r}")
    collected = list(verbs)
    for verb in collected:
        if not isinstance(verb, str):
            raise InvalidRule(f"a verb must be a string, got {verb!r}")
    if not collected or ALL_KEYWORD in collected:
        return ALL_VERBS
    for verb in collected:
        if verb == "HEAD":
            raise InvalidRule("HEAD cannot be granted on its own: it is implied by GET")
        if verb == "OPTIONS":
            raise InvalidRule("OPTIONS is always allowed and cannot be granted")
        if verb not in ALL_VERBS:
            raise InvalidRule(
                f"unknown verb {verb!r}: expected some of GET, POST, PUT, PATCH, DELETE or ALL"
            )
    return frozenset(collected)


def parse_verb_list(text: str) -> frozenset[str]:
    """Parse the verbs part of an inline rule: "ALL" or "GET,POST"."""
    if text == "":
        raise InvalidRule("the verbs part is empty: write ALL or a comma-separated list")
    parts = text.split(",")
    if any(part == "" for part in parts):
        raise InvalidRule(f"empty verb in {text!r}")
    return normalise_verbs(parts)


def sorted_verbs(verbs: Iterable[str]) -> list[str]:
    """The verbs in canonical order GET, POST, PUT, PATCH, DELETE."""
    present = set(verbs)
    return [verb for verb in VERB_ORDER if verb in present]


def format_verbs(verbs: frozenset[str]) -> str:
    """The inline spelling: "ALL" for all five verbs, else "GET,POST" in canonical order."""
    if verbs >= ALL_VERBS:
        return ALL_KEYWORD
    return ",".join(sorted_verbs(verbs))


def request_verb(method: str) -> str:
    """Map an HTTP request method to the verb that must be granted.

    HEAD needs GET; OPTIONS is returned as is (always allowed); the case is normalised.
    """
    upper = method.upper()
    return "GET" if upper == "HEAD" else upper
