"""OAuth 2 for devices (RFC 6749 code grant with RFC 7636 PKCE, RFC 7591/7592 registration,
RFC 7009 revocation). No HTTP here: see `roost.web.oauth`."""

from roost.oauth.errors import OAuthError
from roost.oauth.service import AuthorizationError, AuthorizationRequest, OAuthService

__all__ = ["AuthorizationError", "AuthorizationRequest", "OAuthError", "OAuthService"]
