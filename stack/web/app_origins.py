"""An app's own origin, `{slug}.{instance}`: its UI, with its token and a strict CSP.

- `GET /apps/{slug}/open` (the owner's session): mint the app's UI token and go to its origin.
- Everything on `{slug}.{instance}` that is not an API path: the app's static files; an HTML
  page gets the app's token, the instance and the slug as `<meta>` tags, and only with the
  app's own token (from the `/open` redirect, or its Bearer token) - else back to `/open`.

App UIs never share the instance's origin: a page of the app cannot read the person's
session cookie or the stack's pages.
"""

from __future__ import annotations

import asyncio
import html
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from roost.appstore import app_service
from roost.appstore.service import AppService, InstalledApp
from roost.errors import NotFound
from roost.vfs.mime import guess_mime
from roost.web.context import instance_of, services_of
from roost.web.forms import owner_session
from roost.web.stack_actions import is_the_app_itself

UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _apps(request: Request) -> AppService:
    return app_service(services_of(request))


async def open_app(request: Request) -> Response:
    """`GET /apps/{slug}/open`: mint the app's UI token and go to its origin (owner only)."""
    principal = await owner_session(request)
    slug = request.path_params["slug"]
    if principal is None:
        return RedirectResponse(f"/auth/login?redirect=/apps/{quote(slug)}/open", status_code=303)
    instance = instance_of(request)
    service = _apps(request)
    app = await service.get(instance, slug)
    token = service.ui_token(instance, app)
    scheme = "https" if services_of(request).config.https else request.url.scheme
    port = f":{request.url.port}" if request.url.port else ""
    return RedirectResponse(
        f"{scheme}://{slug}.{instance.domain}{port}/?roost_token={quote(token)}", status_code=303
    )


def _ui_file(service: AppService, app: InstalledApp, path: str) -> Path:
    root = service.ui_dir(app.wasm_sha256).resolve()
    rel = path.strip("/") or "index.html"
    target = (root / rel).resolve()
    if not target.is_relative_to(root):
        raise NotFound("no such file")
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        raise NotFound("no such file")
    return target


async def app_origin(request: Request) -> Response:
    """Everything on `{slug}.{instance}` that no other route answered: the app's UI."""
    slug = request.scope.get("state", {}).get("app_slug")
    if not slug:
        raise NotFound("no such route")
    instance = instance_of(request)
    service = _apps(request)
    app = await service.get_or_none(instance, slug)
    if app is None or not app.doc.get("has_ui"):
        raise NotFound(f"no app {slug!r} with a UI here")
    # The app's files are on disk: looked up and read off the event loop.
    target = await asyncio.to_thread(_ui_file, service, app, request.path_params.get("path", ""))
    mime = guess_mime(target.name)
    headers = {
        "Content-Security-Policy": UI_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if mime != "text/html":
        body = await asyncio.to_thread(target.read_bytes)
        return Response(body, media_type=mime, headers=headers)
    # HTML needs the app's token: from the /open redirect, or the app's own Bearer token.
    token = request.query_params.get("roost_token")
    principal = None
    if token:
        principal = await services_of(request).authenticator.authenticate(
            instance, authorization=f"Bearer {token}", session_cookie=None
        )
    if principal is None or not is_the_app_itself(principal, slug):
        scheme = "https" if services_of(request).config.https else request.url.scheme
        port = f":{request.url.port}" if request.url.port else ""
        return RedirectResponse(f"{scheme}://{instance.domain}{port}/apps/{quote(slug)}/open", 303)
    page = await asyncio.to_thread(target.read_text, "utf-8", "replace")
    meta = (
        f'<meta name="roost-token" content="{html.escape(token or "", quote=True)}">'
        f'<meta name="roost-instance" content="{html.escape(instance.domain, quote=True)}">'
        f'<meta name="roost-app" content="{html.escape(slug, quote=True)}">'
    )
    lower = page.lower()
    at = lower.find("<head>")
    page = page[: at + 6] + meta + page[at + 6 :] if at >= 0 else meta + page
    headers["Cache-Control"] = "no-store"
    return HTMLResponse(page, headers=headers)


class AppOriginRoute(BaseRoute):
    """Takes GET/HEAD on an app's origin (`{slug}.{instance}`), except the API paths.

    It must come first in the route table, so `/` on an app origin is the app, not the
    instance's home page. On the instance's own origin it matches nothing.
    """

    API_PREFIXES = (
        "/data",
        "/files",
        "/jobs",
        "/apps",
        "/settings",
        "/auth",
        "/dav",
        "/status",
        "/metrics",
        "/realtime",
        "/oauth",
        "/permissions",
        "/sharings",
        "/notifications",
    )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            return Match.NONE, {}
        if not scope.get("state", {}).get("app_slug"):
            return Match.NONE, {}
        path: str = scope["path"]
        for prefix in self.API_PREFIXES:
            if path == prefix or path.startswith(prefix + "/"):
                return Match.NONE, {}
        return Match.FULL, {"endpoint": app_origin, "path_params": {"path": path}}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await app_origin(Request(scope, receive))
        await response(scope, receive, send)


ROUTES: list[BaseRoute] = [
    # First in the route table: `/` on an app's origin is the app, not the instance's home.
    AppOriginRoute(),
    Route("/apps/{slug}/open", open_app, methods=["GET"]),
]
