"""Doctype names, wildcard matching and the reserved-doctype table.

The table mirrors cozy-stack's `model/permission/doctype.go`: some stack-managed doctypes are
invisible through the generic `/data` API, others may be read there but only written through
their dedicated API. Roost adds its own (`io.roost.*`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import Final, Literal

from .errors import InvalidRule, PermissionDenied

__all__ = [
    "FILES_DOCTYPE",
    "MAXIMAL_TYPE",
    "RESERVED_DOCTYPES",
    "WILDCARD_SUFFIX",
    "Reservation",
    "check_readable",
    "check_writable",
    "is_readable",
    "is_valid_doctype",
    "is_wildcard",
    "is_writable",
    "match_type",
    "trim_wildcard",
    "type_covers",
    "validate_doctype",
]

FILES_DOCTYPE: Final = "io.cozy.files"
MAXIMAL_TYPE: Final = "*"
WILDCARD_SUFFIX: Final = ".*"

_NAME = re.compile(r"[a-z0-9._]+")

Reservation = Literal["unreadable", "read-only"]

_UNREADABLE: Final = "unreadable"
_READ_ONLY: Final = "read-only"

RESERVED_DOCTYPES: Final[Mapping[str, Reservation]] = MappingProxyType(
    {
        # Global databases
        "io.cozy.account_types": _UNREADABLE,
        "io.cozy.konnectors.maintenance": _UNREADABLE,
        "io.cozy.remote.secrets": _UNREADABLE,
        # Only the stack may touch them
        "io.cozy.sessions": _UNREADABLE,
        "io.cozy.permissions": _UNREADABLE,
        "io.cozy.intents": _UNREADABLE,
        "io.cozy.oauth.clients": _UNREADABLE,
        "io.cozy.oauth.access_codes": _UNREADABLE,
        "io.cozy.files.archives": _UNREADABLE,
        "io.cozy.sharings": _UNREADABLE,
        "io.cozy.shared": _UNREADABLE,
        "io.cozy.accounts.soft_deleted": _UNREADABLE,
        # Synthetic doctypes (API only)
        "io.cozy.certified.carbon_copy": _UNREADABLE,
        "io.cozy.certified.electronic_safe": _UNREADABLE,
        "io.cozy.files.sizes": _UNREADABLE,
        "io.cozy.triggers.state": _UNREADABLE,
        "io.cozy.sharings.answer": _UNREADABLE,
        "io.cozy.sharings.moved": _UNREADABLE,
        "io.cozy.support": _UNREADABLE,
        "com.bitwarden.profiles": _UNREADABLE,
        "io.cozy.office.url": _UNREADABLE,
        "io.cozy.notes.url": _UNREADABLE,
        "io.cozy.apps.open": _UNREADABLE,
        "io.cozy.apps.logs": _UNREADABLE,
        # Synthetic doctypes (realtime events only)
        "io.cozy.auth.confirmations": _UNREADABLE,
        "io.cozy.jobs.events": _UNREADABLE,
        "io.cozy.sharings.initial_sync": _UNREADABLE,
        "io.cozy.notes.events": _UNREADABLE,
        "io.cozy.notes.telepointers": _UNREADABLE,
        "io.cozy.files.thumbnails": _UNREADABLE,
        # Only the stack may write them
        "io.cozy.jobs": _READ_ONLY,
        "io.cozy.triggers": _READ_ONLY,
        "io.cozy.apps": _READ_ONLY,
        "io.cozy.konnectors": _READ_ONLY,
        "io.cozy.files": _READ_ONLY,
        "io.cozy.files.versions": _READ_ONLY,
        "io.cozy.notifications": _READ_ONLY,
        "io.cozy.remote.requests": _READ_ONLY,
        "io.cozy.sessions.logins": _READ_ONLY,
        "io.cozy.notes.steps": _READ_ONLY,
        "io.cozy.notes.images": _READ_ONLY,
        "com.bitwarden.contacts": _READ_ONLY,
        # Roost's own
        "io.roost.access": _READ_ONLY,
        "io.roost.connector.runs": _READ_ONLY,
        "io.roost.app_passwords": _UNREADABLE,
        "io.roost.sessions": _UNREADABLE,
        # Proposals wait for the person's approval: apps reach them only through the
        # outbox host calls, so no write path can change what the person is shown.
        "io.roost.outbox": _UNREADABLE,
    }
)


def is_wildcard(doctype: str) -> bool:
    return doctype.endswith(WILDCARD_SUFFIX)


def trim_wildcard(doctype: str) -> str:
    return doctype[: -len(WILDCARD_SUFFIX)] if is_wildcard(doctype) else doctype


# Pure, and asked three times or more per decision (every document of a replicated feed).
@lru_cache(maxsize=1024)
def _name_problem(name: str) -> str | None:
    if name == "":
        return "it is empty"
    if not _NAME.fullmatch(name):
        return "only lowercase letters a-z, digits, '.' and '_' are allowed"
    if name.startswith(".") or name.endswith("."):
        return "it may not start or end with a dot"
    if ".." in name:
        return "it may not contain two dots in a row"
    if "." not in name:
        return "it needs at least one dot (reverse-DNS, like io.cozy.contacts)"
    return None


def validate_doctype(name: str, *, allow_wildcard: bool = False) -> str:
    """Return `name` if it is a valid doctype name, else raise `InvalidRule` saying why.

    With `allow_wildcard`, `prefix.*` is accepted when it has at least 3 dots counting the one
    of `.*`: `io.cozy.bank.*` is fine, `io.cozy.*` is too broad.
    """
    if not isinstance(name, str):
        raise InvalidRule(f"a doctype must be a string, got {name!r}")
    if name == MAXIMAL_TYPE:
        raise InvalidRule(
            "'*' (every doctype) is not a rule type: "
            "only the owner's session is maximal (PermissionSet.maximal_set())"
        )
    checked = name
    if is_wildcard(name):
        if not allow_wildcard:
            raise InvalidRule(
                f"{name!r} is not a valid doctype name: wildcards are not allowed here"
            )
        if name.count(".") < 3:
            raise InvalidRule(
                f"{name!r} is too broad a wildcard: it needs at least 3 dots "
                "including '.*' (io.cozy.bank.* is fine, io.cozy.* is not)"
            )
        checked = trim_wildcard(name)
    problem = _name_problem(checked)
    if problem is not None:
        raise InvalidRule(f"{name!r} is not a valid doctype name: {problem}")
    return name


def is_valid_doctype(name: str, *, allow_wildcard: bool = False) -> bool:
    try:
        validate_doctype(name, allow_wildcard=allow_wildcard)
    except InvalidRule:
        return False
    return True


def match_type(rule_type: str, doctype: str) -> bool:
    """Cozy's MatchType: equal, or a wildcard `p.*` and doctype is `p` or starts with `p.`."""
    if rule_type == doctype:
        return True
    if not is_wildcard(rule_type):
        return False
    prefix = trim_wildcard(rule_type)
    return doctype == prefix or doctype.startswith(prefix + ".")


def type_covers(parent_type: str, child_type: str) -> bool:
    """True when every doctype matched by `child_type` is matched by `parent_type`."""
    if parent_type == child_type:
        return True
    if not is_wildcard(parent_type):
        return False
    return match_type(parent_type, trim_wildcard(child_type))


def is_readable(doctype: str) -> bool:
    return is_valid_doctype(doctype) and RESERVED_DOCTYPES.get(doctype) != _UNREADABLE


def is_writable(doctype: str) -> bool:
    return is_valid_doctype(doctype) and doctype not in RESERVED_DOCTYPES


def check_readable(doctype: str, *, verb: str = "GET") -> None:
    """Raise `PermissionDenied` if `doctype` may not be read through the generic data API."""
    try:
        validate_doctype(doctype)
    except InvalidRule as exc:
        raise PermissionDenied(verb, doctype, str(exc)) from None
    if RESERVED_DOCTYPES.get(doctype) == _UNREADABLE:
        raise PermissionDenied(
            verb, doctype, f"{doctype} is a reserved doctype: it cannot be read through this API"
        )


def check_writable(doctype: str, *, verb: str = "POST") -> None:
    """Raise `PermissionDenied` if `doctype` may not be written through the generic data API."""
    try:
        validate_doctype(doctype)
    except InvalidRule as exc:
        raise PermissionDenied(verb, doctype, str(exc)) from None
    reservation = RESERVED_DOCTYPES.get(doctype)
    if reservation == _UNREADABLE:
        raise PermissionDenied(
            verb, doctype, f"{doctype} is a reserved doctype: it cannot be used through this API"
        )
    if reservation == _READ_ONLY:
        raise PermissionDenied(
            verb,
            doctype,
            f"{doctype} is read-only through this API: it is written through its own API",
        )
