"""Share-link codes: the secret part of a public URL (`/s/{code}`).

A code is the link's id (32 hex digits, like every document id, so the link is found with
one read, no index) followed by 32 random base64url characters (192 bits). Only the code's
SHA-256 is stored: the code carries enough entropy for a fast hash, and a copy of the
database opens nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Final

ID_LENGTH: Final = 32
_CODE: Final = re.compile(r"[0-9a-f]{32}[A-Za-z0-9_-]{32}")


def new_link_id() -> str:
    return secrets.token_hex(ID_LENGTH // 2)


def new_code(link_id: str) -> str:
    return link_id + secrets.token_urlsafe(24)


def link_id_of(code: str) -> str | None:
    """The link id a well-formed code names, or None for anything else."""
    if not _CODE.fullmatch(code):
        return None
    return code[:ID_LENGTH]


def digest(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def same_digest(stored: str, code: str) -> bool:
    return hmac.compare_digest(stored, digest(code))
