"""Tokens: HS256 JWTs with a per-instance secret; algorithm pinned; stamp revokes all."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.permissions import AUDIENCES, InvalidToken, TokenClaims, issue_token, verify_token

SECRET = b"s" * 32
OTHER_SECRET = b"o" * 32
ISSUER = "alice.roost.localhost"
STAMP = "stamp-1"
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def make(**kw: Any) -> str:
    args: dict[str, Any] = {
        "secret": SECRET,
        "audience": "app",
        "issuer": ISSUER,
        "subject": "contacts",
        "stamp": STAMP,
        "ttl": timedelta(hours=1),
        "now": NOW,
    }
    args.update(kw)
    return issue_token(**args)


def verify(token: str, **kw: Any) -> TokenClaims:
    args: dict[str, Any] = {"secret": SECRET, "issuer": ISSUER, "stamp": STAMP, "now": NOW}
    args.update(kw)
    return verify_token(token, **args)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(
    header: dict[str, Any], payload: dict[str, Any], key: bytes | None, digest: Any = None
) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), digest or hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def good_payload() -> dict[str, Any]:
    return {
        "aud": "app",
        "iss": ISSUER,
        "sub": "contacts",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 3600,
        "stamp": STAMP,
    }


def test_round_trip() -> None:
    token = make(permission_id="perm1", scope="io.cozy.contacts:GET", session_id="sess1")
    claims = verify(token)
    assert claims.audience == "app"
    assert claims.issuer == ISSUER
    assert claims.subject == "contacts"
    assert claims.issued_at == NOW
    assert claims.expires_at == NOW + timedelta(hours=1)
    assert claims.issued_at.tzinfo == UTC
    assert claims.permission_id == "perm1"
    assert claims.scope == "io.cozy.contacts:GET"
    assert claims.session_id == "sess1"
    assert claims.stamp == STAMP
    assert claims.token_id


def test_claim_names_on_the_wire() -> None:
    token = make(permission_id="p", scope="s", session_id="sid")
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(payload) == {
        "aud",
        "iss",
        "sub",
        "iat",
        "exp",
        "pid",
        "scope",
        "stamp",
        "sid",
        "jti",
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_optional_claims_are_left_out() -> None:
    token = make(ttl=None)
    payload = jwt.decode(token, options={"verify_signature": False})
    assert set(payload) == {"aud", "iss", "sub", "iat", "stamp", "jti"}
    claims = verify(token, now=NOW + timedelta(days=3650))
    assert claims.expires_at is None
    assert claims.permission_id is None and claims.scope is None and claims.session_id is None


def test_tokens_are_unique() -> None:
    assert make() != make()


@pytest.mark.parametrize("audience", sorted(AUDIENCES))
def test_every_audience(audience: str) -> None:
    assert verify(make(audience=audience), audiences=[audience]).audience == audience


@pytest.mark.parametrize(
    ("token_kw", "verify_kw", "reason"),
    [
        ({}, {"now": NOW + timedelta(hours=1, seconds=6)}, "expired"),
        ({}, {"now": NOW + timedelta(days=1)}, "expired"),
        ({}, {"secret": OTHER_SECRET}, "bad signature"),
        ({}, {"issuer": "bob.roost.localhost"}, "wrong issuer"),
        ({}, {"audiences": ["konn"]}, "wrong audience"),
        ({"audience": "refresh"}, {"audiences": ["access"]}, "wrong audience"),
        ({}, {"stamp": "stamp-2"}, "revoked"),
        ({}, {"now": NOW - timedelta(minutes=1)}, "malformed"),
    ],
)
def test_refusals(token_kw: dict[str, Any], verify_kw: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidToken) as err:
        verify(make(**token_kw), **verify_kw)
    assert err.value.reason == reason


def test_leeway() -> None:
    token = make()
    verify(token, now=NOW + timedelta(hours=1, seconds=5))
    with pytest.raises(InvalidToken, match="expired"):
        verify(token, now=NOW + timedelta(hours=1, seconds=2), leeway_seconds=0)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "malformed"),
        ("abc", "malformed"),
        ("a.b", "malformed"),
        ("a.b.c.d", "malformed"),
        ("!!!.b.c", "malformed"),
        ("é.b.c", "malformed"),
    ],
)
def test_garbage(token: str, reason: str) -> None:
    with pytest.raises(InvalidToken) as err:
        verify(token)
    assert err.value.reason == reason


def test_alg_none_is_refused() -> None:
    for alg in ("none", "None", "NONE"):
        with pytest.raises(InvalidToken) as err:
            verify(forge({"alg": alg, "typ": "JWT"}, good_payload(), None))
        assert err.value.reason == "bad signature"
    # an unsigned token carrying the signature of a genuine one
    genuine = make()
    head = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    with pytest.raises(InvalidToken):
        verify(head + genuine[genuine.index(".") :])


def test_other_algorithms_are_refused() -> None:
    with pytest.raises(InvalidToken, match="bad signature"):
        verify(forge({"alg": "HS512", "typ": "JWT"}, good_payload(), SECRET, hashlib.sha512))
    with pytest.raises(InvalidToken, match="bad signature"):
        verify(forge({"alg": "RS256", "typ": "JWT"}, good_payload(), SECRET))


def test_forged_with_the_right_secret_is_accepted() -> None:
    """The forging helper is correct: the refusals above are about the algorithm."""
    claims = verify(forge({"alg": "HS256", "typ": "JWT"}, good_payload(), SECRET))
    assert claims.subject == "contacts"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"aud": ["app"]}, "malformed"),
        ({"aud": "admin"}, "wrong audience"),
        ({"iss": None}, "malformed"),
        ({"sub": 3}, "malformed"),
        ({"stamp": None}, "malformed"),
        ({"iat": "yesterday"}, "malformed"),
        ({"iat": True}, "malformed"),
        ({"exp": "never"}, "malformed"),
        ({"pid": 3}, "malformed"),
    ],
)
def test_bad_claims(change: dict[str, Any], reason: str) -> None:
    payload = {k: v for k, v in {**good_payload(), **change}.items() if v is not None}
    with pytest.raises(InvalidToken) as err:
        verify(forge({"alg": "HS256", "typ": "JWT"}, payload, SECRET))
    assert err.value.reason == reason


def test_issue_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        make(secret=b"short")
    with pytest.raises(ValueError, match="audience"):
        make(audience="admin")
    with pytest.raises(ValueError, match="ttl"):
        make(ttl=timedelta(0))
    with pytest.raises(ValueError, match="timezone"):
        make(now=datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="32 bytes"):
        verify(make(), secret=b"short")


def test_invalid_token_reasons_are_fixed() -> None:
    with pytest.raises(ValueError):
        InvalidToken("because")


# ----- property: any single-byte change is refused ----------------------------------------

TOKEN = make(permission_id="perm1", scope="io.cozy.contacts:GET", session_id="s1", ttl=None)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(TOKEN) - 1), st.integers(0, 255))
def test_any_single_byte_change_is_refused(index: int, byte: int) -> None:
    raw = bytearray(TOKEN.encode("ascii"))
    if raw[index] == byte:
        byte = (byte + 1) % 256
    raw[index] = byte
    with pytest.raises(InvalidToken):
        verify(raw.decode("latin-1"))


def test_every_last_character_variant_is_refused() -> None:
    """base64url's last character carries spare bits: decoders that ignore them would accept
    a different string with the same signature."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for index in (len(TOKEN) - 1, TOKEN.index(".") - 1, TOKEN.rindex(".") - 1):
        for c in alphabet:
            if c != TOKEN[index]:
                with pytest.raises(InvalidToken):
                    verify(TOKEN[:index] + c + TOKEN[index + 1 :])
