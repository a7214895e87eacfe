"""Minting tokens: every token points to an `io.cozy.permissions` document."""

from __future__ import annotations

from datetime import timedelta

from roost.instances import Instance
from roost.permission_docs import PermissionDocs
from roost.permissions import PermissionSet, issue_token

DEFAULT_TTL = {
    "cli": timedelta(minutes=30),
    "app": timedelta(hours=24),
    "konn": timedelta(minutes=30),
    "access": timedelta(hours=1),
    "share": None,
}


class TokenService:
    def __init__(self, permission_docs: PermissionDocs) -> None:
        self.permission_docs = permission_docs

    async def issue(
        self,
        instance: Instance,
        *,
        audience: str,
        subject: str,
        permissions: PermissionSet,
        ttl: timedelta | None,
        kind: str | None = None,
        source_id: str | None = None,
        session_id: str | None = None,
    ) -> str:
        """Store `permissions` as a new permission document and sign a token pointing to it."""
        doc = await self.permission_docs.create(
            instance, kind or audience, permissions, source_id=source_id
        )
        return self.sign(
            instance,
            audience=audience,
            subject=subject,
            permission_id=doc["_id"],
            ttl=ttl,
            session_id=session_id,
        )

    @staticmethod
    def sign(
        instance: Instance,
        *,
        audience: str,
        subject: str,
        permission_id: str,
        ttl: timedelta | None,
        session_id: str | None = None,
    ) -> str:
        """A token for an existing permission document (an installed app's, say)."""
        return issue_token(
            secret=instance.secret,
            audience=audience,
            issuer=instance.domain,
            subject=subject,
            stamp=instance.stamp,
            ttl=ttl,
            permission_id=permission_id,
            session_id=session_id,
        )


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `1h`, `7d`, `2w`, or combinations such as `1h30m`."""
    import re

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    parts = re.fullmatch(r"((\d+)[smhdw])+", text.strip())
    if not parts:
        raise ValueError(f"invalid duration {text!r}: use e.g. 30m, 1h, 7d")
    seconds = sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhdw])", text))
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return timedelta(seconds=seconds)
