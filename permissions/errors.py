"""The three exceptions of the permission layer."""

from __future__ import annotations

__all__ = ["TOKEN_ERROR_REASONS", "InvalidRule", "InvalidToken", "PermissionDenied"]


class InvalidRule(ValueError):
    """A doctype, verb, rule, egress pattern, budget or inline scope is malformed.

    The message says what is wrong, in terms a developer writing a manifest can act on.
    """


class PermissionDenied(Exception):
    """A permission set does not allow `verb` on `doctype` (or the doctype is reserved).

    `reason` is a human sentence, safe to show to the caller.
    """

    def __init__(self, verb: str, doctype: str, reason: str) -> None:
        super().__init__(reason)
        self.verb = verb
        self.doctype = doctype
        self.reason = reason

    def __repr__(self) -> str:
        return (
            f"PermissionDenied(verb={self.verb!r}, doctype={self.doctype!r}, "
            f"reason={self.reason!r})"
        )


TOKEN_ERROR_REASONS = frozenset(
    {"expired", "bad signature", "wrong issuer", "wrong audience", "malformed", "revoked"}
)


class InvalidToken(Exception):
    """A token was refused. `reason` is one of `TOKEN_ERROR_REASONS`.

    `detail` may say more, for logs; never show it to the bearer of the token.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in TOKEN_ERROR_REASONS:
            raise ValueError(f"unknown token error reason {reason!r}")
        super().__init__(reason if not detail else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
