"""THE permission check, called by every path that touches data."""

from __future__ import annotations

from datetime import datetime

from .doctypes import match_type, validate_doctype
from .errors import InvalidRule, PermissionDenied
from .sets import PermissionSet
from .targets import Target
from .verbs import ALL_VERBS, request_verb

__all__ = ["check"]


def _reason(permissions: PermissionSet, verb: str, doctype: str, whole: bool) -> str:
    typed = [r for r in permissions.rules if match_type(r.type, doctype)]
    if not typed:
        return f"no permission on {doctype}"
    if not any(verb in r.verbs for r in typed):
        return f"no {verb} permission on {doctype}"
    if whole:
        return f"{verb} on every {doctype} document needs a permission on the whole doctype"
    return f"no {verb} permission on this {doctype} document"


def check(
    permissions: PermissionSet,
    verb: str,
    doctype: str,
    target: Target | None = None,
    *,
    now: datetime,
) -> None:
    """Raise `PermissionDenied` unless `permissions` allow `verb` on `doctype` / `target`.

    OPTIONS is always allowed and HEAD needs GET. With no target the whole doctype must be
    granted. An expired set is refused: `now` is required. Kept for paths not yet asking
    `decide` (which also tells "hide" from "deny"); new code asks `decide`.
    """
    v = request_verb(verb)
    if v == "OPTIONS":
        return
    if v not in ALL_VERBS:
        raise PermissionDenied(verb, doctype, f"{verb} is not a method a permission can grant")
    try:
        validate_doctype(doctype)
    except InvalidRule as exc:
        raise PermissionDenied(verb, doctype, str(exc)) from None
    if permissions.is_expired(now):
        raise PermissionDenied(verb, doctype, "this permission has expired")
    if not permissions.allows(v, doctype, target):
        raise PermissionDenied(verb, doctype, _reason(permissions, v, doctype, target is None))
