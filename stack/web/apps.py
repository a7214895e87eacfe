"""`/apps`: install (with consent), list, run and remove apps (their UIs: `app_origins`).

- `GET /apps` (owner page) · `GET /apps/` JSON list · `GET /apps/{slug}` JSON
- `POST /apps/install` (`io.cozy.apps` POST; a `.tar.gz` as multipart field `package` or
  as the raw body) → the consent page (HTML) or `403 consent_required` with the lines
  (JSON); the package is kept in a staging area until `POST /apps/install/{staging}/accept`.
  JSON clients may send `?consent=true` to accept in one step.
- `POST /apps/{slug}/run` (POST on the app's document, or the app's own token): JSON in,
  JSON out.
- `POST /apps/{slug}/accounts` (PUT on the app's document): store a connector's
  credentials, encrypted.
- `DELETE /apps/{slug}` / `POST /apps/{slug}/uninstall` (DELETE on it): revoke and remove.

Installing, reading, running, uninstalling and configuring apps are rules on `io.cozy.apps` (see
`roost.web.stack_actions`): the owner's session holds them, a token only if granted them.
An app may always read and run itself (an identity check). The pages and the consent form
are the owner's session's alone.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from roost.appstore import app_service
from roost.appstore.runs import describe_run
from roost.appstore.service import AppService, ConsentRequired, InstalledApp
from roost.errors import BadRequest, Forbidden, NotFound, RoostError
from roost.instances import Instance
from roost.principals import Principal
from roost.web.context import instance_of, principal_of, read_body, read_json, services_of
from roost.web.forms import (
    is_form,
    owner_session,
    read_owner_form,
    session_csrf_token,
    verify_csrf,
)
from roost.web.stack_actions import (
    APPS_DOCTYPE,
    SOME_DOCUMENTS,
    allows,
    app_target,
    is_the_app_itself,
    require,
)
from roost.web.templating import templates

MAX_PACKAGE_BYTES = 128 * 1024 * 1024


def _apps(request: Request) -> AppService:
    return app_service(services_of(request))


MANAGE_REFUSED = "only the owner, signed in, installs and removes apps"


async def _may_manage(request: Request, verb: str) -> Principal:
    """The principal, if it may `verb` some app at all (403 otherwise, before any lookup)."""
    principal = await principal_of(request)
    require(principal, verb, APPS_DOCTYPE, SOME_DOCUMENTS, refusal=MANAGE_REFUSED)
    return principal


def _may_see(principal: Principal, app: InstalledApp) -> bool:
    return is_the_app_itself(principal, app.slug) or allows(
        principal, "GET", APPS_DOCTYPE, app_target(app.doc)
    )


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


# -- listing ------------------------------------------------------
async def apps_page(request: Request, **extra: Any) -> Response:
    """`GET /apps`: the owner's page of apps; anyone else is sent to the login page."""
    principal = await owner_session(request)
    if principal is None:
        return RedirectResponse("/auth/login?redirect=/apps", status_code=303)
    instance = instance_of(request)
    apps = [a.to_json() for a in await _apps(request).list_installed(instance)]
    return templates.TemplateResponse(
        request,
        "apps.html",
        {
            "domain": instance.domain,
            "apps": apps,
            "csrf_token": session_csrf_token(request, principal),
            "error": None,
            "message": None,
            **extra,
        },
    )


async def list_apps(request: Request) -> Response:
    """`GET /apps/`: the installed apps this principal may see (an app sees itself)."""
    principal = await principal_of(request)
    instance = instance_of(request)
    apps = await _apps(request).list_installed(instance)
    return JSONResponse([a.to_json() for a in apps if _may_see(principal, a)])


async def get_app(request: Request) -> Response:
    """`GET /apps/{slug}`: one app and its consent lines; 404 if absent or not visible."""
    principal = await principal_of(request)
    slug = request.path_params["slug"]
    app = await _apps(request).get_or_none(instance_of(request), slug)
    if app is None or not _may_see(principal, app):
        raise NotFound(f"no app {slug!r} is installed")
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
    return {
        "domain": instance.domain,
        "name": manifest.name,
        "version": manifest.version,
        "description": list(manifest.description),
        "permissions": exc.lines,
        **_apps(request).consent_limits(manifest),
        "upgrade": exc.upgrade,
        "staging": staging,
        "csrf_token": session_csrf_token(request, principal),
    }


async def install(request: Request) -> Response:
    """`POST /apps/install`: a package in, the consent page (or 403 consent_required) out."""
    principal = await principal_of(request)
    # Installing grants the app what its manifest asks: the whole doctype, never a part.
    require(principal, "POST", APPS_DOCTYPE, refusal=MANAGE_REFUSED)
    instance = instance_of(request)
    data, fields = await _upload(request)
    html_form = bool(fields) or _wants_html(request)
    if fields:
        owner = await owner_session(request)
        verify_csrf(session_csrf_token(request, owner) if owner else "", fields)
    service = _apps(request)
    try:
        package = await service.read(data)
        consent = request.query_params.get("consent") == "true" and not html_form
        app = await service.install(instance, package, consent=consent)
    except ConsentRequired as exc:
        staging = await service.pending_installs.put(instance, data)
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
    """`POST /apps/install/{staging}/accept`: the consent given; install the staged package."""
    require(await principal_of(request), "POST", APPS_DOCTYPE, refusal=MANAGE_REFUSED)
    instance = instance_of(request)
    staging = request.path_params["staging"]
    service = _apps(request)
    pending = service.pending_installs
    pending.check_token(staging)
    form = is_form(request)
    if form:
        await read_owner_form(request)
    staged = await pending.get(instance, staging)
    try:
        package = await service.read(staged.data)
        app = await service.install(instance, package, consent=True)
    finally:
        await pending.discard(instance, staging)
    if form:
        return await apps_page(request, message=f"{app.doc['name']} is installed.")
    return JSONResponse(app.to_json(), status_code=201)


async def uninstall(request: Request) -> Response:
    """`DELETE /apps/{slug}`, or the page's form: revoke and remove an app."""
    principal = await _may_manage(request, "DELETE")
    if request.method == "POST":
        await read_owner_form(request)
    slug = request.path_params["slug"]
    service = _apps(request)
    app = await service.get(instance_of(request), slug)
    require(principal, "DELETE", APPS_DOCTYPE, app_target(app.doc), refusal=MANAGE_REFUSED)
    await service.uninstall(instance_of(request), slug)
    if request.method == "POST":
        return RedirectResponse("/apps", status_code=303)
    return JSONResponse({"ok": True, "slug": slug})


# -- accounts and runs ------------------------------------------------------
async def create_account(request: Request) -> Response:
    """`POST /apps/{slug}/accounts`: store a connector's credentials (configuring it: PUT)."""
    principal = await _may_manage(request, "PUT")
    slug = request.path_params["slug"]
    service = _apps(request)
    instance = instance_of(request)
    app = await service.get(instance, slug)
    require(principal, "PUT", APPS_DOCTYPE, app_target(app.doc), refusal=MANAGE_REFUSED)
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


async def _may_run(request: Request, principal: Principal, slug: str) -> bool:
    """The app itself, or POST on its document (installing needs the whole doctype)."""
    if is_the_app_itself(principal, slug):
        return True
    app = await _apps(request).get_or_none(instance_of(request), slug)
    if app is None:  # the run answers 404 to whoever may run some app
        return allows(principal, "POST", APPS_DOCTYPE, SOME_DOCUMENTS)
    return allows(principal, "POST", APPS_DOCTYPE, app_target(app.doc))


async def run(request: Request) -> Response:
    """`POST /apps/{slug}/run`: run the app with a JSON input; 200 or 422 with its result."""
    principal = await principal_of(request)
    slug = request.path_params["slug"]
    if not await _may_run(request, principal, slug):
        raise Forbidden("only the owner or the app itself may run it")
    # No body means no input; any body (chunked too) must be JSON within the limit.
    has_body = request.headers.get("content-length") not in (None, "0") or (
        "transfer-encoding" in request.headers
    )
    body = await read_json(request) if has_body else {}
    result = await services_of(request).app_runs.run(instance_of(request), slug, body)
    return JSONResponse(describe_run(result), status_code=200 if result.ok else 422)


ROUTES: list[BaseRoute] = [
    Route("/apps", apps_page, methods=["GET"]),
    Route("/apps/", list_apps, methods=["GET"]),
    Route("/apps/install", install, methods=["POST"]),
    Route("/apps/install/{staging}/accept", accept, methods=["POST"]),
    Route("/apps/{slug}", get_app, methods=["GET"]),
    Route("/apps/{slug}", uninstall, methods=["DELETE"]),
    Route("/apps/{slug}/uninstall", uninstall, methods=["POST"]),
    Route("/apps/{slug}/accounts", create_account, methods=["POST"]),
    Route("/apps/{slug}/run", run, methods=["POST"]),
]
