"""Minting tokens (every token points to an `io.cozy.permissions` document), and
verifying them once per token string."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Final

from roost.instances import Instance
from roost.permission_docs import PermissionDocs
from roost.permissions import PermissionSet, TokenClaims, issue_token, verify_token

# Seconds of grace `verify_token` gives an expired token (its default `leeway_seconds`).
EXPIRY_LEEWAY_SECONDS: Final = 5
# Verified token strings remembered per process; past that the oldest are forgotten.
MAX_VERIFIED_TOKENS: Final = 4096

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


class VerifiedTokens:
    """`verify_token` answers, remembered per token string.

    Checking a token's signature (and base64 and JSON) is a pure function of the token,
    the instance's secret, domain and security stamp, and the time: profiled on
    `GET /data/{doctype}/{id}`, it was about a fifth of Roost's CPU per request. So a token
    that verified is remembered with the secret, domain and stamp it verified against,
    and its claims are reused only while all three are still the instance's and its
    expiry (with `verify_token`'s leeway) has not passed; otherwise it is verified again,
    which raises the same `InvalidToken` as always. Revocation is untouched: a new stamp
    no longer matches, and the permission document is still read (through its own short
    cache) on every request. Only tokens that verified are kept, so a client sending
    garbage cannot fill this.
    """

    def __init__(
        self,
        max_entries: int = MAX_VERIFIED_TOKENS,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_entries = max_entries
        self.clock = clock  # seconds since the epoch: the tests move it past an expiry
        self._verified: dict[tuple[str, str], tuple[bytes, str, float, TokenClaims]] = {}

    def verify(self, instance: Instance, token: str, audiences: Collection[str]) -> TokenClaims:
        """`verify_token(token, …)` for this instance; `InvalidToken` if it does not hold."""
        key = (instance.domain, token)
        now = self.clock()
        known = self._verified.get(key)
        if known is not None:
            secret, stamp, valid_until, claims = known
            if (
                secret == instance.secret
                and stamp == instance.stamp
                and claims.audience in audiences
                and now <= valid_until
            ):
                return claims
            del self._verified[key]
        claims = verify_token(
            token,
            secret=instance.secret,
            issuer=instance.domain,
            stamp=instance.stamp,
            audiences=audiences,
            now=datetime.fromtimestamp(now, UTC),
            leeway_seconds=EXPIRY_LEEWAY_SECONDS,
        )
        expires = claims.expires_at
        valid_until = (
            float("inf") if expires is None else expires.timestamp() + EXPIRY_LEEWAY_SECONDS
        )
        if len(self._verified) >= self.max_entries:
            del self._verified[next(iter(self._verified))]
        self._verified[key] = (instance.secret, instance.stamp, valid_until, claims)
        return claims


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
