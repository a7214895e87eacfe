"""`/apps`: install (with consent), list, run and remove apps; serve app UIs on their origin.

- `GET /apps` (owner page) · `GET /apps/` JSON list · `GET /apps/{slug}` JSON
- `POST /apps/install` (owner; a `.tar.gz` as multipart field `package` or as the raw body)
  → the consent page (HTML) or `403 consent_required` with the lines (JSON); the package is
  kept in a staging area until `POST /apps/install/{staging}/accept`. JSON clients may send
  `?consent=true` to accept in one step.
- `POST /apps/{slug}/run` (owner session, or the app's own token): JSON in, JSON out.
- `POST /apps/{slug}/accounts` (owner): store a connector's credentials, encrypted.
- `DELETE /apps/{slug}` / `POST /apps/{slug}/uninstall` (owner): revoke and remove.
- `GET /apps/{slug}/open` (owner): go to the app's UI on `{slug}.{instance}` with its token.
- On an app origin, every other GET serves the app's `ui/` with its token injected and a
  strict CSP; the token allows exactly the manifest's grant.
"""

from __future__ import annotations

import hmac
import html
import mimetypes
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from roost.appstore import app_service
from roost.appstore.service import AppService, ConsentRequired, InstalledApp, describe_run
from roost.errors import BadRequest, Forbidden, NotFound, RoostError
from roost.instances import Instance
from roost.principals import Principal
from roost.sessions import csrf_token
from roost.web.context import (
    instance_of,
    optional_principal,
    principal_of,
    read_body,
    read_json,
    services_of,
)
from roost.web.templating import templates

MAX_PACKAGE_BYTES = 128 * 1024 * 1024
UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _apps(request: Request) -> AppService:
    return app_service(services_of(request))


async def _owner(request: Request) -> Principal:
    principal = await principal_of(request)
    if not principal.is_owner:
        raise Forbidden("only the owner, signed in, installs and removes apps")
    return principal


STAGING_MAX_AGE_SECONDS = 3600


def _staging_dir(request: Request) -> Path:
    """Pending installs of this instance (a package waits here for the owner's consent)."""
    folder = _apps(request).root / "staging" / instance_of(request).domain
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob("*.tar.gz"):
        try:
            if now - old.stat().st_mtime > STAGING_MAX_AGE_SECONDS:
                old.unlink()
        except OSError:
            pass
    return folder


async def _check_csrf(request: Request, principal: Principal, value: str) -> None:
    expected = csrf_token(instance_of(request), principal.session_id or "")
    if not hmac.compare_digest(expected, value or ""):
        raise Forbidden("CSRF check failed: reload the page and try again")


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


# -- listing ------------------------------------------------------
async def apps_page(request: Request, **extra: Any) -> Response:
    principal = await optional_principal(request)
    if principal is None or not principal.is_owner:
        return RedirectResponse("/auth/login?redirect=/apps", status_code=303)
    instance = instance_of(request)
    apps = [a.to_json() for a in await _apps(request).list_installed(instance)]
    return templates.TemplateResponse(
        request,
        "apps.html",
        {
            "domain": instance.domain,
            "apps": apps,
            "csrf_token": csrf_token(instance, principal.session_id or ""),
            "error": None,
            "message": None,
            **extra,
        },
    )


async def list_apps(request: Request) -> Response:
    principal = await principal_of(request)
    instance = instance_of(request)
    apps = await _apps(request).list_installed(instance)
    if not principal.is_owner:
        apps = [a for a in apps if principal.app_slug == a.slug]
    return JSONResponse([a.to_json() for a in apps])


async def get_app(request: Request) -> Response:
    principal = await principal_of(request)
    slug = request.path_params["slug"]
    if not principal.is_owner and principal.app_slug != slug:
        raise NotFound(f"no app {slug!r} is installed")
    app = await _apps(request).get(instance_of(request), slug)
    body = app.to_json()
    body["consent"] = app.manifest.describe()
    return JSONResponse(body)


# -- install ------------------------------------------------------
async def _upload(request: Request) -> tuple[bytes, dict[str, str]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=10, max_part_size=MAX_PACKAGE_BYTES)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = form.get("package")
        if not isinstance(upload, UploadFile):
            raise BadRequest("send the package as the multipart field 'package'")
        data = await upload.read(MAX_PACKAGE_BYTES + 1)
        if len(data) > MAX_PACKAGE_BYTES:
            raise BadRequest("the package is too large")
        return data, fields
    return await read_body(request, MAX_PACKAGE_BYTES), {}


def _consent_context(
    request: Request, instance: Instance, principal: Principal, exc: ConsentRequired, staging: str
) -> dict[str, Any]:
    manifest = exc.manifest
    budget = _apps(request).limits
    from roost.apps.budget import FUEL_PER_CPU_SECOND, effective_budget

    b = effective_budget(manifest.budget, budget, python_guest=True)
    return {
        "domain": instance.domain,
        "name": manifest.name,
        "version": manifest.version,
        "description": list(manifest.description),
        "permissions": exc.lines,
        "egress": list(manifest.egress),
        "triggers": [str(t) for t in manifest.triggers],
        "budget": {
            "cpu_seconds": round(b.fuel / FUEL_PER_CPU_SECOND, 2),
            "memory_mib": int(b.memory_mib),
            "wall_seconds": b.wall_seconds,
        },
        "upgrade": exc.upgrade,
        "staging": staging,
        "csrf_token": csrf_token(instance, principal.session_id or ""),
    }


async def install(request: Request) -> Response:
    principal = await _owner(request)
    instance = instance_of(request)
    data, fields = await _upload(request)
    html_form = bool(fields) or _wants_html(request)
    if fields:
        await _check_csrf(request, principal, fields.get("csrf_token", ""))
    service = _apps(request)
    try:
        package = await service.read(data)
        consent = request.query_params.get("consent") == "true" and not html_form
        app = await service.install(instance, package, consent=consent)
    except ConsentRequired as exc:
        staging = secrets.token_hex(16)
        target = _staging_dir(request) / f"{staging}.tar.gz"
        target.write_bytes(data)
        if html_form:
            return templates.TemplateResponse(
                request,
                "apps_consent.html",
                _consent_context(request, instance, principal, exc, staging),
            )
        return JSONResponse(
            {
                "error": exc.error,
                "reason": exc.reason,
                "slug": exc.manifest.slug,
                "consent": exc.lines,
                "upgrade": exc.upgrade,
                "staging": staging,
            },
            status_code=403,
        )
    except RoostError as exc:
        if html_form:
            return await apps_page(request, error=exc.reason)
        raise
    return JSONResponse(app.to_json(), status_code=201)


async def accept(request: Request) -> Response:
    principal = await _owner(request)
    instance = instance_of(request)
    staging = request.path_params["staging"]
    if not staging.isalnum() or len(staging) > 64:
        raise NotFound("no such pending install")
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    is_form = content_type == "application/x-www-form-urlencoded"
    if is_form:
        raw = await read_body(request, 16 * 1024)
        fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        await _check_csrf(request, principal, fields.get("csrf_token", ""))
    path = _staging_dir(request) / f"{staging}.tar.gz"
    if not path.is_file():
        raise NotFound("no such pending install (it may have been accepted already)")
    service = _apps(request)
    try:
        package = await service.read(path.read_bytes())
        app = await service.install(instance, package, consent=True)
    finally:
        path.unlink(missing_ok=True)
    if is_form:
        return await apps_page(request, message=f"{app.doc['name']} is installed.")
    return JSONResponse(app.to_json(), status_code=201)


async def uninstall(request: Request) -> Response:
    principal = await _owner(request)
    if request.method == "POST":
        raw = await read_body(request, 16 * 1024)
        fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        await _check_csrf(request, principal, fields.get("csrf_token", ""))
    slug = request.path_params["slug"]
    await _apps(request).uninstall(instance_of(request), slug)
    if request.method == "POST":
        return RedirectResponse("/apps", status_code=303)
    return JSONResponse({"ok": True, "slug": slug})


# -- accounts and runs ------------------------------------------------------
async def create_account(request: Request) -> Response:
    await _owner(request)
    slug = request.path_params["slug"]
    service = _apps(request)
    instance = instance_of(request)
    app = await service.get(instance, slug)
    if app.type != "konnector":
        raise BadRequest("only connectors have accounts")
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("credentials"), dict):
        raise BadRequest('send {"credentials": {...}, "label": "..."}')
    missing = [
        f.name for f in app.manifest.fields if f.required and f.name not in body["credentials"]
    ]
    if missing:
        raise BadRequest(f"missing account fields: {', '.join(missing)}")
    account = await service.accounts.create(
        instance, slug, body["credentials"], label=str(body.get("label", ""))
    )
    return JSONResponse(account, status_code=201)


async def run(request: Request) -> Response:
    principal = await principal_of(request)
    slug = request.path_params["slug"]
    if not principal.is_owner and principal.app_slug != slug:
        raise Forbidden("only the owner or the app itself may run it")
    # No body means no input; any body (chunked too) must be JSON within the limit.
    has_body = request.headers.get("content-length") not in (None, "0") or (
        "transfer-encoding" in request.headers
    )
    body = await read_json(request) if has_body else {}
    result = await _apps(request).run(instance_of(request), slug, body)
    return JSONResponse(describe_run(result), status_code=200 if result.ok else 422)


# -- app UIs ------------------------------------------------------
async def open_app(request: Request) -> Response:
    principal = await optional_principal(request)
    slug = request.path_params["slug"]
    if principal is None or not principal.is_owner:
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
    target = _ui_file(service, app, request.path_params.get("path", ""))
    mime = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    headers = {
        "Content-Security-Policy": UI_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if mime != "text/html":
        return Response(target.read_bytes(), media_type=mime, headers=headers)
    # HTML needs the app's token: from the /open redirect, or the app's own Bearer token.
    token = request.query_params.get("roost_token")
    principal = None
    if token:
        principal = await services_of(request).authenticator.authenticate(
            instance, authorization=f"Bearer {token}", session_cookie=None
        )
    if principal is None or principal.app_slug != slug:
        scheme = "https" if services_of(request).config.https else request.url.scheme
        port = f":{request.url.port}" if request.url.port else ""
        return RedirectResponse(f"{scheme}://{instance.domain}{port}/apps/{quote(slug)}/open", 303)
    page = target.read_text("utf-8", "replace")
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
    AppOriginRoute(),
    Route("/apps", apps_page, methods=["GET"]),
    Route("/apps/", list_apps, methods=["GET"]),
    Route("/apps/install", install, methods=["POST"]),
    Route("/apps/install/{staging}/accept", accept, methods=["POST"]),
    Route("/apps/{slug}", get_app, methods=["GET"]),
    Route("/apps/{slug}", uninstall, methods=["DELETE"]),
    Route("/apps/{slug}/uninstall", uninstall, methods=["POST"]),
    Route("/apps/{slug}/accounts", create_account, methods=["POST"]),
    Route("/apps/{slug}/run", run, methods=["POST"]),
    Route("/apps/{slug}/open", open_app, methods=["GET"]),
]
