"""WebDAV locks (RFC 4918 §6-7): what a lock is and which locks exclude which.

Locks name paths, not file ids (a lock protects a URL: after a MOVE the source's locks are
gone and the destination is unlocked). Where they are kept is the `LockStore` port's job
(`roost.webdav.ports`); the stack keeps them in CouchDB so every process sees them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace

TOKEN_PREFIX = "opaquelocktoken:"  # noqa: S105 - a URI scheme, not a secret
DEFAULT_TIMEOUT = 3600
MAX_TIMEOUT = 7 * 24 * 3600


@dataclass(frozen=True)
class Lock:
    token: str
    path: str  # VFS path: "/" or "/a/b"
    depth: str  # "0" | "infinity"
    scope: str  # "exclusive" | "shared"
    owner: str  # XML inside DAV:owner
    principal: str  # who took it (Caller.label): only they may use the token
    timeout: int
    expires_at: float

    @classmethod
    def new(
        cls, *, path: str, depth: str, scope: str, owner: str, principal: str, seconds: int
    ) -> Lock:
        return cls(
            token=f"{TOKEN_PREFIX}{uuid.uuid4()}",
            path=path,
            depth=depth,
            scope=scope,
            owner=owner,
            principal=principal,
            timeout=seconds,
            expires_at=time.time() + seconds,
        )

    def refreshed(self, seconds: int) -> Lock:
        return replace(self, timeout=seconds, expires_at=time.time() + seconds)

    def covers(self, path: str) -> bool:
        """Whether this lock protects `path` (itself, or below it with depth infinity)."""
        if path == self.path:
            return True
        return self.depth == "infinity" and _is_below(path, self.path)

    def is_below(self, path: str) -> bool:
        """Whether this lock sits strictly below `path`."""
        return _is_below(self.path, path)

    def overlaps(self, other: Lock) -> bool:
        """Whether the two locks protect some resource in common."""
        return other.covers(self.path) or self.covers(other.path)

    def conflicts_with(self, other: Lock) -> bool:
        """Whether the two cannot be held together: they overlap and one is exclusive."""
        return "exclusive" in (self.scope, other.scope) and self.overlaps(other)

    def live(self, now: float) -> bool:
        return self.expires_at > now

    @property
    def seconds_left(self) -> int:
        return max(0, int(self.expires_at - time.time()))


def _is_below(path: str, ancestor: str) -> bool:
    if ancestor == "/":
        return path != "/"
    return path.startswith(ancestor + "/")


def parse_timeout(header: str | None) -> int:
    """`Second-600`, `Infinite, Second-4100000000` → seconds, capped at MAX_TIMEOUT."""
    if not header:
        return DEFAULT_TIMEOUT
    for part in header.split(","):
        value = part.strip()
        if value.lower() == "infinite":
            return MAX_TIMEOUT
        if value.lower().startswith("second-"):
            try:
                return max(1, min(int(value[7:]), MAX_TIMEOUT))
            except ValueError:
                continue
    return DEFAULT_TIMEOUT
