"""What a share link may do, as a permission set: the only thing its public pages hold.

- a file or a folder, read: GET on it (a folder's rule covers its whole subtree);
- a folder, drop: POST in it, and nothing else (no GET: it can never list the folder);
- an album, read: GET on the album document, and GET on the files that reference it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from roost.permissions import FILES_DOCTYPE, PermissionSet, Rule
from roost.sharing.requests import ALBUMS_DOCTYPE

READ: Final = frozenset({"GET"})
DROP: Final = frozenset({"POST"})


def link_permissions(
    doctype: str, target_id: str, kind: str, expires_at: datetime | None
) -> PermissionSet:
    if doctype == ALBUMS_DOCTYPE:
        rules: tuple[Rule, ...] = (
            Rule(ALBUMS_DOCTYPE, READ, (target_id,)),
            Rule(FILES_DOCTYPE, READ, (f"{ALBUMS_DOCTYPE}/{target_id}",), "referenced_by"),
        )
    else:
        rules = (Rule(FILES_DOCTYPE, DROP if kind == "drop" else READ, (target_id,)),)
    return PermissionSet(rules=rules, expires_at=expires_at)
