"""JWT tokens: HS256 with a per-instance secret, algorithm pinned when verifying.

Claims: `aud` (one of `AUDIENCES`), `iss` (the instance domain), `sub`, `iat`, `exp` (left out
for tokens that do not expire), `pid` (the permission document), `scope` (inline scope),
`stamp` (the instance's security stamp: changing it revokes every token), `sid` (session id)
and a random `jti`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import jwt

from .errors import InvalidToken

__all__ = [
    "ALGORITHM",
    "AUDIENCES",
    "MIN_SECRET_BYTES",
    "Audience",
    "TokenClaims",
    "issue_token",
    "verify_token",
]

Audience = Literal["app", "konn", "access", "refresh", "share", "cli"]
AUDIENCES: Final[frozenset[str]] = frozenset({"app", "konn", "access", "refresh", "share", "cli"})
ALGORITHM: Final = "HS256"
MIN_SECRET_BYTES: Final = 32

_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class TokenClaims:
    audience: str
    issuer: str
    subject: str
    issued_at: datetime
    expires_at: datetime | None
    permission_id: str | None
    scope: str | None
    stamp: str
    session_id: str | None
    token_id: str | None = None


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes | bytearray):
        raise TypeError("the token secret must be bytes")
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes long")


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def issue_token(
    *,
    secret: bytes,
    audience: str,
    issuer: str,
    subject: str,
    stamp: str,
    ttl: timedelta | None,
    permission_id: str | None = None,
    scope: str | None = None,
    session_id: str | None = None,
    now: datetime | None = None,
) -> str:
    """Mint a signed token. `ttl=None` makes a token without `exp` (revoked only by deleting
    its permission document or changing the stamp)."""
    _check_secret(secret)
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}: expected one of {sorted(AUDIENCES)}")
    if not issuer:
        raise ValueError("a token needs an issuer")
    issued = _now(now)
    iat = int(issued.timestamp())
    payload: dict[str, Any] = {
        "aud": audience,
        "iss": issuer,
        "sub": subject,
        "iat": iat,
        "stamp": stamp,
        "jti": secrets.token_urlsafe(16),
    }
    if ttl is not None:
        seconds = ttl.total_seconds()
        if seconds <= 0:
            raise ValueError("ttl must be positive (or None for a token without expiry)")
        payload["exp"] = iat + math.ceil(seconds)
    if permission_id is not None:
        payload["pid"] = permission_id
    if scope is not None:
        payload["scope"] = scope
    if session_id is not None:
        payload["sid"] = session_id
    return jwt.encode(payload, bytes(secret), algorithm=ALGORITHM)


def _b64_canonical(segment: str) -> bytes:
    """Decode one base64url segment, refusing any non-canonical spelling (so that no two
    different token strings carry the same bytes)."""
    if not _SEGMENT.fullmatch(segment):
        raise InvalidToken("malformed", "invalid base64url segment")
    try:
        raw = base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidToken("malformed", "invalid base64url segment") from None
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != segment:
        raise InvalidToken("malformed", "non-canonical base64url segment")
    return raw


def _check_shape(token: str) -> None:
    if not isinstance(token, str) or not token.isascii():
        raise InvalidToken("malformed", "not an ASCII string")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("malformed", "a JWT has three dot-separated parts")
    header_raw = _b64_canonical(parts[0])
    try:
        header = json.loads(header_raw)
    except ValueError:
        raise InvalidToken("malformed", "header is not JSON") from None
    if not isinstance(header, dict) or header.get("alg") != ALGORITHM:
        raise InvalidToken("bad signature", "algorithm is not HS256")
    _b64_canonical(parts[1])
    if parts[2] == "":
        raise InvalidToken("bad signature", "unsigned token")
    _b64_canonical(parts[2])


def _str_claim(payload: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise InvalidToken("malformed", f"missing claim {name}")
        return None
    if not isinstance(value, str):
        raise InvalidToken("malformed", f"claim {name} is not a string")
    return value


def _time_claim(payload: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    value = payload.get(name)
    if value is None:
        if required:
            raise InvalidToken("malformed", f"missing claim {name}")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidToken("malformed", f"claim {name} is not a number")
    return float(value)


def verify_token(
    token: str,
    *,
    secret: bytes,
    issuer: str,
    stamp: str,
    audiences: Collection[str] | None = None,
    now: datetime | None = None,
    leeway_seconds: int = 5,
) -> TokenClaims:
    """Check a token and return its claims, or raise `InvalidToken` with the reason.

    Only HS256 is accepted. `audiences=None` accepts any of the known audiences.
    """
    _check_secret(secret)
    current = _now(now).timestamp()
    _check_shape(token)
    try:
        payload = jwt.decode(
            token,
            bytes(secret),
            algorithms=[ALGORITHM],
            options={
                "verify_signature": True,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
            },
        )
    except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError) as exc:
        raise InvalidToken("bad signature", str(exc)) from None
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed", str(exc)) from None
    if not isinstance(payload, dict):
        raise InvalidToken("malformed", "payload is not an object")

    audience = _str_claim(payload, "aud", required=True)
    token_issuer = _str_claim(payload, "iss", required=True)
    subject = _str_claim(payload, "sub", required=True)
    token_stamp = _str_claim(payload, "stamp", required=True)
    iat = _time_claim(payload, "iat", required=True)
    exp = _time_claim(payload, "exp", required=False)
    permission_id = _str_claim(payload, "pid", required=False)
    scope = _str_claim(payload, "scope", required=False)
    session_id = _str_claim(payload, "sid", required=False)
    token_id = _str_claim(payload, "jti", required=False)
    assert audience is not None and token_issuer is not None
    assert subject is not None and token_stamp is not None and iat is not None

    if token_issuer != issuer:
        raise InvalidToken("wrong issuer", f"issued by {token_issuer!r}")
    if audience not in AUDIENCES or (audiences is not None and audience not in audiences):
        raise InvalidToken("wrong audience", f"audience {audience!r}")
    if exp is not None and current > exp + leeway_seconds:
        raise InvalidToken("expired")
    if iat > current + leeway_seconds:
        raise InvalidToken("malformed", "issued in the future")
    if not hmac.compare_digest(token_stamp.encode("utf-8"), stamp.encode("utf-8")):
        raise InvalidToken("revoked", "security stamp changed")

    return TokenClaims(
        audience=audience,
        issuer=token_issuer,
        subject=subject,
        issued_at=datetime.fromtimestamp(iat, UTC),
        expires_at=None if exp is None else datetime.fromtimestamp(exp, UTC),
        permission_id=permission_id,
        scope=scope,
        stamp=token_stamp,
        session_id=session_id,
        token_id=token_id,
    )
