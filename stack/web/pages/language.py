"""`POST /settings/language`: the owner's choice of language for the pages.

Kept in a long-lived cookie (`roost_lang`) on this browser, so the choice also applies to
the sign-in page, before any session exists; and as the instance's language
(`roost.notifications.language`), in which the notifications and their e-mails are said. A
form from the shell, with the session's CSRF token.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from roost.errors import BadRequest, Forbidden
from roost.notifications.language import SETTINGS_DOCTYPE
from roost.web.auth import _safe_redirect
from roost.web.context import services_of
from roost.web.forms import read_owner_form
from roost.web.i18n import LANGUAGE_COOKIE, LANGUAGES
from roost.web.pages.shell import owner_or_login

ONE_YEAR = 365 * 24 * 3600


async def choose_language(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        if request.headers.get("authorization"):
            # A token or an app password is not a person at a browser: refuse, don't redirect.
            raise Forbidden("only the owner's signed-in session chooses the pages' language")
        return owner
    fields = await read_owner_form(request, max_bytes=4096)
    language = fields.get("language", "")
    if language not in LANGUAGES:
        raise BadRequest(f"language must be one of {', '.join(LANGUAGES)}")
    if not owner.may("PUT", SETTINGS_DOCTYPE):
        raise Forbidden("this session may not change the instance's settings")
    await owner.services.notifications.language.set(owner.instance, language)
    answer = RedirectResponse(_safe_redirect(fields.get("redirect")), status_code=303)
    secure = services_of(request).config.https or request.url.scheme == "https"
    answer.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=ONE_YEAR,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    return answer


ROUTES = [Route("/settings/language", choose_language, methods=["POST"])]
