"""The settings page's plain words: choices made into permission sets, and back into words.

A person creating an app password picks a folder, what it may do (read only, read and
write, upload only) and when it expires; `password_permissions` turns those choices into
the permission set the server stores. `describe_access` says what a stored set allows in
words (no doctype, no id, no inline rule), and `group_accesses` folds the access log into
sentences ("Banks read 240 bank operations"), grouped by who and what, newest first.
The sentences themselves are written, and translated, by the template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from roost.errors import BadRequest
from roost.permissions import FILES_DOCTYPE, PermissionSet, Rule
from roost.permissions.describe import FRIENDLY_NAMES

READ_VERBS: Final = frozenset({"GET"})
#: The person's choice → the verbs on files it grants.
ACCESS_CHOICES: Final[dict[str, frozenset[str]]] = {
    "read": READ_VERBS,
    "write": frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"}),
    "upload": frozenset({"POST"}),
}
EXPIRY_CHOICES: Final[dict[str, timedelta | None]] = {
    "never": None,
    "1d": timedelta(days=1),
    "30d": timedelta(days=30),
    "1y": timedelta(days=365),
}
_READ_METHODS: Final = frozenset({"GET", "HEAD", "PROPFIND", "OPTIONS", "REPORT"})
_ADD_METHODS: Final = frozenset({"POST", "PUT", "MKCOL"})
_DELETE_METHODS: Final = frozenset({"DELETE"})


def password_permissions(access: str, folder_id: str) -> PermissionSet:
    """The set an app password gets from the form's choices (`folder_id` "" = all files)."""
    verbs = ACCESS_CHOICES.get(access)
    if verbs is None:
        raise BadRequest("access must be one of: read, write, upload")
    values = (folder_id,) if folder_id else ()
    return PermissionSet.from_rules([Rule(FILES_DOCTYPE, verbs, values)])


def expiry_of(choice: str) -> timedelta | None:
    if choice not in EXPIRY_CHOICES:
        raise BadRequest("expiry must be one of: never, 1d, 30d, 1y")
    return EXPIRY_CHOICES[choice]


def _access_kind(verbs: frozenset[str]) -> str:
    if verbs <= READ_VERBS:
        return "read"
    if verbs <= frozenset({"POST"}):
        return "upload"
    return "write"


def _thing(doctype: str) -> str:
    friendly = FRIENDLY_NAMES.get(doctype)
    if friendly is not None:
        return friendly
    # Not a known kind of data: its last words ("io.cozy.bank.groups" → "bank groups").
    words = doctype.removeprefix("io.cozy.").removeprefix("io.roost.").replace(".", " ")
    return words.replace("*", "").strip() or "data"


@dataclass(frozen=True)
class AccessLine:
    """One thing a password may do: `kind` read/write/upload, on files in `folder` or on
    `thing` (another kind of data)."""

    kind: str
    files: bool
    folder: str | None
    thing: str


def describe_access(
    permissions: PermissionSet, folder_paths: Mapping[str, str]
) -> list[AccessLine]:
    lines = []
    for rule in permissions.rules:
        kind = _access_kind(rule.verbs)
        if rule.type == FILES_DOCTYPE and rule.selector is None:
            folders: list[str | None] = [folder_paths.get(v, "") for v in rule.values]
            for folder in folders or [None]:
                # A folder since deleted ("") is still described, without a path.
                lines.append(AccessLine(kind, True, folder, ""))
        else:
            lines.append(AccessLine(kind, False, None, _thing(rule.type)))
    return lines


@dataclass
class AccessGroup:
    """Everything one caller did of one kind to one kind of data."""

    who: str
    action: str  # read, added, uploaded, changed, deleted
    thing: str
    files: bool
    count: int
    last_at: str


def _action(verb: str, files: bool) -> str:
    if verb in _READ_METHODS:
        return "read"
    if verb in _ADD_METHODS:
        return "uploaded" if files else "added"
    if verb in _DELETE_METHODS:
        return "deleted"
    return "changed"


def _who(entry: Mapping[str, Any], names: Mapping[str, str]) -> str:
    app = entry.get("app")
    if isinstance(app, str) and app:
        return names.get(app, app[:1].upper() + app[1:])
    principal = str(entry.get("principal") or "")
    _kind, _, subject = principal.partition(":")
    return names.get(subject) or names.get(principal) or ""


def group_accesses(entries: list[dict[str, Any]], names: Mapping[str, str]) -> list[AccessGroup]:
    """Entries (newest first) folded by (who, action, data); groups ordered by last access.

    Only what happened counts: refused and failed requests are left to the JSON log.

    `names` maps app slugs, app password ids and device ids to what the person called
    them; an unnamed caller's `who` is "" (the template says "A program").
    """
    groups: dict[tuple[str, str, str], AccessGroup] = {}
    for entry in entries:
        doctype = entry.get("doctype") or ""
        status = entry.get("status")
        if not doctype or (isinstance(status, int) and status >= 400):
            # Refused or failed: nothing was read or written (the JSON log keeps them).
            continue
        files = doctype == FILES_DOCTYPE
        who = _who(entry, names)
        action = _action(str(entry.get("verb") or ""), files)
        thing = "files" if files else _thing(doctype).removeprefix("your ")
        key = (who, action, thing)
        count = entry.get("count")
        amount = count if isinstance(count, int) and count > 0 else 1
        group = groups.get(key)
        if group is None:
            groups[key] = AccessGroup(who, action, thing, files, amount, str(entry.get("at")))
        else:
            group.count += amount
            group.last_at = max(group.last_at, str(entry.get("at")))
    return sorted(groups.values(), key=lambda g: g.last_at, reverse=True)
