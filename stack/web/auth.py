"""`/auth/…`: the owner's login and logout (HTML form and JSON). Home is `roost.web.pages.home`."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from roost.errors import BadRequest, TooManyRequests, Unauthorized
from roost.sessions import COOKIE_NAME
from roost.web.context import instance_of, read_json, services_of
from roost.web.forms import (
    is_form,
    owner_session,
    read_form,
    read_owner_form,
    verify_csrf,
)
from roost.web.i18n import language_of
from roost.web.templating import templates

CSRF_COOKIE = "roost_csrf"
LOGIN_CSRF_REFUSED = "CSRF check failed: reload the login page and try again"


def _safe_redirect(target: str | None) -> str:
    """Only same-origin paths: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        # Browsers (and urlsplit) drop tabs and newlines: `/\t/evil.example` is `//evil.example`.
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def login_page(request: Request) -> Response:
    """`GET /auth/login`: the form, with a fresh double-submit CSRF cookie."""
    instance = instance_of(request)
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {
            "domain": instance.domain,
            "csrf_token": token,
            "redirect": _safe_redirect(request.query_params.get("redirect")),
            "error": None,
        },
    )
    _set_cookie(request, response, CSRF_COOKIE, token, max_age=3600)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    secure = services_of(request).config.https or request.url.scheme == "https"
    # No Domain attribute: host-only, so an app on a sub-domain never receives it.
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure
    )


async def login(request: Request) -> Response:
    """`POST /auth/login`: the form (CSRF-checked) or JSON; opens a session on success."""
    services = services_of(request)
    instance = instance_of(request)
    form = is_form(request)
    redirect = "/"
    if form:
        fields = await read_form(request)
        # No session yet: the token is a double-submit cookie set by the login page.
        verify_csrf(request.cookies.get(CSRF_COOKIE, ""), fields, refusal=LOGIN_CSRF_REFUSED)
        passphrase = fields.get("passphrase", "")
        redirect = _safe_redirect(fields.get("redirect"))
    else:
        body = await read_json(request, max_bytes=16 * 1024)
        if not isinstance(body, dict) or not isinstance(body.get("passphrase"), str):
            raise BadRequest('expected {"passphrase": "…"}')
        passphrase = body["passphrase"]
    wait = await services.login_limiter.retry_after(instance)
    if wait is not None:
        raise TooManyRequests("too many failed logins; try again later", retry_after=wait)
    if not passphrase or not await services.instances.verify_passphrase(instance, passphrase):
        await services.login_limiter.record_failure(instance)
        if form:
            response = templates.TemplateResponse(
                request,
                "login.html",
                {
                    "domain": instance.domain,
                    "csrf_token": request.cookies.get(CSRF_COOKIE, ""),
                    "redirect": redirect,
                    "error": "Wrong passphrase.",
                },
                status_code=401,
            )
            return response
        raise Unauthorized("wrong passphrase")
    await services.login_limiter.reset(instance)
    session = await services.sessions.open(instance, request.headers.get("user-agent", ""))
    # Until the person chooses one, what the stack tells them later (notifications, their
    # e-mails) is in the language of the browser they signed in with.
    await services.notifications.language.adopt(instance, language_of(request))
    answer: Response
    if form:
        answer = RedirectResponse(redirect, status_code=303)
    else:
        answer = JSONResponse({"ok": True, "expires_at": session.expires_at.isoformat()})
    _set_cookie(request, answer, COOKIE_NAME, session.id, services.config.session_ttl_seconds)
    return answer


async def logout(request: Request) -> Response:
    """`POST /auth/logout` (form or JSON), `DELETE /auth/login`: close this session.

    A session closes itself: an identity check, no permission rule.
    """
    services = services_of(request)
    instance = instance_of(request)
    principal = await owner_session(request)
    if principal is None or principal.session_id is None:
        raise Unauthorized("not logged in")
    form = is_form(request)
    if form:
        await read_owner_form(request, refusal="CSRF check failed")
    await services.sessions.close(instance, principal.session_id)
    answer: Response = (
        RedirectResponse("/auth/login", status_code=303) if form else JSONResponse({"ok": True})
    )
    answer.delete_cookie(COOKIE_NAME, path="/")
    return answer


ROUTES = [
    Route("/auth/login", login_page, methods=["GET"]),
    Route("/auth/login", login, methods=["POST"]),
    Route("/auth/logout", logout, methods=["POST"]),
    Route("/auth/login", logout, methods=["DELETE"]),
]
