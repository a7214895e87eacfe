"""`/auth/…`: the owner's login and logout (HTML form and JSON)."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from roost.errors import BadRequest, Forbidden, TooManyRequests, Unauthorized
from roost.sessions import COOKIE_NAME, csrf_token
from roost.web.context import (
    instance_of,
    optional_principal,
    read_body,
    read_json,
    services_of,
)
from roost.web.templating import templates

CSRF_COOKIE = "roost_csrf"
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip() in _FORM_TYPES


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


def _same_token(expected: str, given: str) -> bool:
    """Constant-time comparison that also accepts non-ASCII input (hmac refuses str ones)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


async def login_page(request: Request) -> Response:
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
    services = services_of(request)
    instance = instance_of(request)
    form = _is_form(request)
    redirect = "/"
    if form:
        raw = await read_body(request, 16 * 1024)
        from urllib.parse import parse_qs

        fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        cookie_token = request.cookies.get(CSRF_COOKIE, "")
        if not cookie_token or not _same_token(cookie_token, fields.get("csrf_token", "")):
            raise Forbidden("CSRF check failed: reload the login page and try again")
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
    answer: Response
    if form:
        answer = RedirectResponse(redirect, status_code=303)
    else:
        answer = JSONResponse({"ok": True, "expires_at": session.expires_at.isoformat()})
    _set_cookie(request, answer, COOKIE_NAME, session.id, services.config.session_ttl_seconds)
    return answer


async def logout(request: Request) -> Response:
    services = services_of(request)
    instance = instance_of(request)
    principal = await optional_principal(request)
    if principal is None or not principal.is_owner or principal.session_id is None:
        raise Unauthorized("not logged in")
    form = _is_form(request)
    if form:
        from urllib.parse import parse_qs

        raw = await read_body(request, 16 * 1024)
        fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        expected = csrf_token(instance, principal.session_id)
        if not _same_token(expected, fields.get("csrf_token", "")):
            raise Forbidden("CSRF check failed")
    await services.sessions.close(instance, principal.session_id)
    answer: Response = (
        RedirectResponse("/auth/login", status_code=303) if form else JSONResponse({"ok": True})
    )
    answer.delete_cookie(COOKIE_NAME, path="/")
    return answer


async def home(request: Request) -> Response:
    instance = instance_of(request)
    principal = await optional_principal(request)
    if principal is None or not principal.is_owner or principal.session_id is None:
        return RedirectResponse("/auth/login", status_code=303)
    return templates.TemplateResponse(
        request,
        "home.html",
        {"domain": instance.domain, "csrf_token": csrf_token(instance, principal.session_id)},
    )


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/auth/login", login_page, methods=["GET"]),
    Route("/auth/login", login, methods=["POST"]),
    Route("/auth/logout", logout, methods=["POST"]),
    Route("/auth/login", logout, methods=["DELETE"]),
]
