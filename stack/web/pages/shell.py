"""What every page of the shell shares: the owner's session, the language, the storage meter.

`owner_or_login(request)` answers who is signed in (or a redirect to the sign-in page);
`render(...)` fills the base layout's context (navigation, storage used against the quota,
sign-out form, language) and renders a template.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from roost.errors import Forbidden
from roost.instances import Instance
from roost.notifications import NOTIFICATIONS_DOCTYPE
from roost.outbox import OUTBOX_DOCTYPE
from roost.permissions import FILES_DOCTYPE, Outcome, decide
from roost.principals import Principal
from roost.services import Services
from roost.sessions import csrf_token
from roost.web.context import instance_of, principal_of, services_of
from roost.web.forms import owner_session
from roost.web.i18n import language_of
from roost.web.templating import templates

# (key, path, label) — the label is translated when rendered; "soon" spaces come next.
SPACES: Final = (
    ("home", "/", "Home"),
    ("drive", "/drive", "Drive"),
    ("photos", "/photos", "Photos"),
    ("banks", "/banks", "Banks"),
    ("collect", "/collect", "Collect"),
    ("store", "/store", "Store"),
    ("outbox", "/outbox", "Outbox"),
    ("settings", "/settings", "Settings"),
)


@dataclass(frozen=True)
class Owner:
    """The signed-in owner, for one request."""

    services: Services
    instance: Instance
    principal: Principal
    session_id: str

    def now(self) -> datetime:
        return datetime.now(UTC)

    def may(self, verb: str, doctype: str, target: Any = None) -> bool:
        decision = decide(
            self.principal.permissions, verb, doctype, target, now=self.now(), surface="stack"
        )
        return decision.outcome is Outcome.ALLOW


async def owner_or_login(request: Request) -> Owner | Response:
    principal = await owner_session(request)
    if principal is None or principal.session_id is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        login = "/auth/login" if target == "/" else f"/auth/login?redirect={quote(target)}"
        return RedirectResponse(login, status_code=303)
    return Owner(services_of(request), instance_of(request), principal, principal.session_id)


async def signed_in_owner(request: Request, refusal: str) -> Owner:
    """The owner's session for a form or a page script: 401 without credentials (or with
    broken ones), 403 for a token or an app password (no person at a browser)."""
    await principal_of(request)
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        raise Forbidden(refusal)
    return owner


async def storage_meter(owner: Owner) -> dict[str, Any] | None:
    """Bytes used against the quota, or None when the owner may not read file sizes."""
    if not owner.may("GET", FILES_DOCTYPE):
        return None
    usage = await owner.services.vfs.disk_usage(owner.instance, fresh=False)
    percent = None
    if usage.quota:
        percent = min(100, round(usage.used * 100 / usage.quota))
    return {"used": usage.used, "quota": usage.quota, "percent": percent}


async def unread_notifications(owner: Owner) -> int | None:
    """The bell's count, or None (no bell) when the owner may not read notifications."""
    if not owner.may("GET", NOTIFICATIONS_DOCTYPE):
        return None
    return await owner.services.notifications.unread_count(owner.instance)


async def waiting_in_outbox(owner: Owner) -> int | None:
    """How many messages wait for the owner's decision (the count by Outbox in the
    navigation), or None when the owner may not read the outbox."""
    if not owner.may("GET", OUTBOX_DOCTYPE):
        return None
    return await owner.services.outbox.waiting_count(owner.instance, now=owner.now())


async def render(
    request: Request,
    owner: Owner,
    template: str,
    context: dict[str, Any],
    *,
    space: str,
    status_code: int = 200,
) -> Response:
    # The shell's three questions to the store, asked at once.
    storage, unread, waiting = await asyncio.gather(
        storage_meter(owner), unread_notifications(owner), waiting_in_outbox(owner)
    )
    full = {
        "domain": owner.instance.domain,
        "csrf_token": csrf_token(owner.instance, owner.session_id),
        "space": space,
        "spaces": SPACES,
        "storage": storage,
        "unread_notifications": unread,
        "outbox_waiting": waiting,
        **context,
    }
    response = templates.TemplateResponse(request, template, full, status_code=status_code)
    # Pages hold the owner's data: never kept by a shared cache, never framed elsewhere.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Language"] = language_of(request)
    return response
