"""OAuth 2 errors (RFC 6749 §5.2, RFC 7591 §3.2.2): a code from the RFCs and a description."""

from __future__ import annotations

from roost.errors import RoostError


class OAuthError(RoostError):
    """Answered as `{"error": code, "error_description": reason}` by the OAuth routes."""

    def __init__(self, error: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.error = error
        self.status = status


def invalid_request(reason: str) -> OAuthError:
    return OAuthError("invalid_request", reason)


def invalid_client(reason: str) -> OAuthError:
    return OAuthError("invalid_client", reason, 401)


def invalid_grant(reason: str) -> OAuthError:
    return OAuthError("invalid_grant", reason)


def invalid_scope(reason: str) -> OAuthError:
    return OAuthError("invalid_scope", reason)


def invalid_client_metadata(reason: str) -> OAuthError:
    return OAuthError("invalid_client_metadata", reason)


def invalid_redirect_uri(reason: str) -> OAuthError:
    return OAuthError("invalid_redirect_uri", reason)
