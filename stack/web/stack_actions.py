"""The stack's own actions (settings, apps, devices, exports) as permission rules.

Managing app passwords, installing apps, managing OAuth clients, reading the access log and
exporting the instance are rules on stack-managed doctypes, asked through the one decision
(`roost.permissions.decide`, surface ``"stack"``) like any other. The owner's session is
the maximal set, so it holds them all; a token holds one only if it was granted it.

- app passwords: GET lists, POST creates, DELETE revokes (`io.roost.app_passwords`);
- apps: POST on the whole `io.cozy.apps` installs (consent included); GET, POST, DELETE and
  PUT on one app's document see, run, uninstall it and store a connector's account;
- OAuth clients: GET lists, DELETE revokes (`io.cozy.oauth.clients`);
- the access log: GET (`io.roost.access`, asked in `roost.web.access`);
- exports: GET lists and downloads, POST starts one (`io.cozy.exports`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from roost.access_log import ACCESS_DOCTYPE
from roost.app_passwords import APP_PASSWORDS_DOCTYPE
from roost.appstore.service import APPS_DOCTYPE
from roost.errors import Forbidden
from roost.oauth.clients import CLIENTS_DOCTYPE
from roost.permissions import SOME_DOCUMENTS, DocumentTarget, SomeDocuments, Target, decide
from roost.principals import Principal

# cozy-stack's doctype for exports of a whole instance (its "move" feature).
EXPORTS_DOCTYPE: Final = "io.cozy.exports"

__all__ = [
    "ACCESS_DOCTYPE",
    "APPS_DOCTYPE",
    "APP_PASSWORDS_DOCTYPE",
    "CLIENTS_DOCTYPE",
    "EXPORTS_DOCTYPE",
    "SOME_DOCUMENTS",
    "allows",
    "app_target",
    "is_the_app_itself",
    "require",
]


def allows(
    principal: Principal,
    verb: str,
    doctype: str,
    target: Target | SomeDocuments | None = None,
) -> bool:
    """Whether `principal` may do `verb` on `doctype` (the whole doctype without `target`)."""
    return decide(
        principal.permissions, verb, doctype, target, now=datetime.now(UTC), surface="stack"
    ).allowed


def require(
    principal: Principal,
    verb: str,
    doctype: str,
    target: Target | SomeDocuments | None = None,
    *,
    refusal: str,
) -> None:
    """`Forbidden(refusal)` unless `principal` may do `verb` on `doctype`.

    The refusal names the action ("only the owner, signed in, manages app passwords"): the
    caller knows the action exists, so a plain 403 leaks nothing and reads better than a
    doctype name.
    """
    if not allows(principal, verb, doctype, target):
        raise Forbidden(refusal)


def app_target(doc: Mapping[str, Any]) -> DocumentTarget:
    """An installed app or connector as a permission target: its stored document."""
    return DocumentTarget(doc)


def is_the_app_itself(principal: Principal, slug: str) -> bool:
    """Whether the request is made by app `slug` with its own token.

    An identity check, not a permission: an app may always see its own installation and run
    itself, whatever its manifest grants, the way a session may always close itself. No rule
    in a set could say "this token's own app" without naming it.
    """
    return principal.app_slug is not None and principal.app_slug == slug
