"""PKCE (RFC 7636), S256 only: the `plain` method protects nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from roost.oauth.errors import invalid_grant, invalid_request

# 43 to 128 characters of the unreserved set (RFC 7636 §4.1); a challenge is a base64url
# SHA-256, always 43 characters.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def check_challenge(challenge: str | None, method: str | None) -> str:
    if method != "S256":
        raise invalid_request("PKCE is required with code_challenge_method=S256")
    if not challenge or not _CHALLENGE.fullmatch(challenge):
        raise invalid_request("code_challenge must be the base64url SHA-256 of the verifier")
    return challenge


def check_verifier(verifier: str | None, challenge: str) -> None:
    if not verifier or not _VERIFIER.fullmatch(verifier):
        raise invalid_grant("code_verifier is missing or malformed")
    if not hmac.compare_digest(challenge_of(verifier), challenge):
        raise invalid_grant("code_verifier does not match the code_challenge")
