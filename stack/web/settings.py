"""`/settings`: the owner's page of app passwords, exports and recent accesses, and its JSON API.

Managing app passwords (`io.roost.app_passwords`) and exports (`io.cozy.exports`) are
permission rules (see `roost.web.stack_actions`): the owner's session holds them, a token
only if granted them. A new app password never grants more than its creator holds. The
page and its forms are the owner's session's alone (their CSRF token is bound to it).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from roost.app_passwords import AppPassword
from roost.errors import BadRequest, Forbidden, RoostError
from roost.instances import Instance
from roost.permissions import InvalidRule, PermissionSet
from roost.portability.exports import ExportJobs
from roost.principals import Principal
from roost.tokens import parse_duration
from roost.web.context import instance_of, principal_of, read_json, services_of
from roost.web.forms import is_form, owner_session, read_owner_form, session_csrf_token
from roost.web.stack_actions import APP_PASSWORDS_DOCTYPE, EXPORTS_DOCTYPE, require
from roost.web.templating import templates

MAX_LABEL = 100
PASSWORDS_REFUSED = "only the owner, signed in, manages app passwords"
EXPORTS_REFUSED = "only the owner, signed in, exports the instance"


async def _may_manage_passwords(request: Request, verb: str) -> Principal:
    principal = await principal_of(request)
    require(principal, verb, APP_PASSWORDS_DOCTYPE, refusal=PASSWORDS_REFUSED)
    return principal


def _password_json(password: AppPassword) -> dict[str, Any]:
    return {
        "id": password.id,
        "label": password.label,
        "scope": password.scope,
        "created_at": password.created_at,
        "expires_at": password.expires_at,
        "last_used_at": password.last_used_at,
    }


async def _create(
    request: Request, instance: Instance, principal: Principal, fields: dict[str, Any]
) -> tuple[str, str]:
    label = fields.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
        raise BadRequest(f"label must be a non-empty string of at most {MAX_LABEL} characters")
    scope = fields.get("scope") or "io.cozy.files"
    if not isinstance(scope, str):
        raise BadRequest("scope must be a string of inline rules")
    try:
        permissions = PermissionSet.from_inline(scope)
    except InvalidRule as error:
        raise BadRequest(f"invalid scope: {error}") from None
    if not permissions.rules:
        raise BadRequest("the scope grants nothing")
    if not permissions.is_subset_of(principal.permissions):
        # A token allowed to mint passwords must not mint one stronger than itself.
        raise Forbidden("an app password cannot grant more than its creator holds")
    ttl_text = fields.get("ttl") or None
    try:
        ttl = parse_duration(ttl_text) if ttl_text else None
    except (ValueError, TypeError) as error:
        raise BadRequest(str(error)) from None
    password, secret = await services_of(request).app_passwords.create(
        instance, label.strip(), permissions, ttl=ttl
    )
    return password.id, secret


async def list_passwords(request: Request) -> Response:
    """`GET /settings/app-passwords`: the instance's app passwords (never their secrets)."""
    await _may_manage_passwords(request, "GET")
    passwords = await services_of(request).app_passwords.list(instance_of(request))
    return JSONResponse([_password_json(p) for p in passwords])


async def create_password(request: Request) -> Response:
    """`POST /settings/app-passwords` (JSON): a new password; its secret is shown once."""
    principal = await _may_manage_passwords(request, "POST")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    password_id, secret = await _create(request, instance_of(request), principal, body)
    return JSONResponse({"id": password_id, "secret": secret}, status_code=201)


async def revoke_password(request: Request) -> Response:
    """`DELETE /settings/app-passwords/{id}`: revoke a password."""
    await _may_manage_passwords(request, "DELETE")
    await services_of(request).app_passwords.revoke(
        instance_of(request), request.path_params["password_id"]
    )
    return JSONResponse({"ok": True})


async def settings_page(request: Request, **extra: Any) -> Response:
    """The owner's settings page; anyone else is sent to the login page."""
    principal = await owner_session(request)
    if principal is None:
        return RedirectResponse("/auth/login?redirect=/settings", status_code=303)
    services = services_of(request)
    instance = instance_of(request)
    passwords = []
    for password in await services.app_passwords.list(instance):
        permissions = await services.permission_docs.load_set(instance, password.permission_id)
        passwords.append(
            {**_password_json(password), "describe": permissions.describe() if permissions else []}
        )
    entries = await services.access_log.query(instance, limit=50)
    exports = [state.to_json() for state in await export_jobs(request).states(instance)]
    return templates.TemplateResponse(
        request,
        "settings.html",
        {
            "domain": instance.domain,
            "csrf_token": session_csrf_token(request, principal),
            "passwords": passwords,
            "entries": entries,
            "exports": exports,
            "new_secret": None,
            "new_label": None,
            "error": None,
            **extra,
        },
    )


async def create_password_form(request: Request) -> Response:
    """The page's form: create a password and show the page with its secret, once."""
    principal = await _may_manage_passwords(request, "POST")
    fields = await read_owner_form(request)
    try:
        _, secret = await _create(request, instance_of(request), principal, fields)
    except RoostError as error:
        return await settings_page(request, error=error.reason)
    return await settings_page(request, new_secret=secret, new_label=fields.get("label"))


async def revoke_password_form(request: Request) -> Response:
    """The page's revoke button (`POST …/{id}/revoke`)."""
    await _may_manage_passwords(request, "DELETE")
    await read_owner_form(request)
    await services_of(request).app_passwords.revoke(
        instance_of(request), request.path_params["password_id"]
    )
    return RedirectResponse("/settings", status_code=303)


async def settings(request: Request) -> Response:
    """`GET /settings`."""
    return await settings_page(request)


async def create_password_any(request: Request) -> Response:
    """The page's form posts here; so do JSON clients."""
    if is_form(request):
        return await create_password_form(request)
    return await create_password(request)


# -- exports -------------------------------------------------------------------------------


def export_jobs(request: Request) -> ExportJobs:
    """One per application (its running exports live in this process)."""
    jobs: ExportJobs | None = getattr(request.app.state, "export_jobs", None)
    if jobs is None:
        services = services_of(request)
        jobs = ExportJobs(services.couch, services.vfs, services.config.data_dir / "exports")
        request.app.state.export_jobs = jobs
    return jobs


async def _may_export(request: Request, verb: str) -> Principal:
    principal = await principal_of(request)
    require(principal, verb, EXPORTS_DOCTYPE, refusal=EXPORTS_REFUSED)
    return principal


async def list_exports(request: Request) -> Response:
    """`GET /settings/exports`: the instance's exports and their states."""
    await _may_export(request, "GET")
    states = await export_jobs(request).states(instance_of(request))
    return JSONResponse([state.to_json() for state in states])


async def start_export(request: Request) -> Response:
    """`POST /settings/exports`: start an export (the page's form, or JSON: 202)."""
    await _may_export(request, "POST")
    if is_form(request):
        await read_owner_form(request)
        try:
            await export_jobs(request).start(instance_of(request))
        except RoostError as error:
            return await settings_page(request, error=error.reason)
        return RedirectResponse("/settings", status_code=303)
    state = await export_jobs(request).start(instance_of(request))
    return JSONResponse(state.to_json(), status_code=202)


async def download_export(request: Request) -> Response:
    """`GET /settings/exports/{id}`: the finished archive."""
    await _may_export(request, "GET")
    instance = instance_of(request)
    export_id = request.path_params["export_id"]
    path = export_jobs(request).path_of(instance, export_id)
    return FileResponse(
        path,
        media_type="application/gzip",
        filename=f"{instance.domain}-{export_id}.tar.gz",
    )


ROUTES = [
    Route("/settings", settings, methods=["GET"]),
    Route("/settings/app-passwords", list_passwords, methods=["GET"]),
    Route("/settings/app-passwords", create_password_any, methods=["POST"]),
    Route("/settings/app-passwords/{password_id}/revoke", revoke_password_form, methods=["POST"]),
    Route("/settings/app-passwords/{password_id}", revoke_password, methods=["DELETE"]),
    Route("/settings/exports", list_exports, methods=["GET"]),
    Route("/settings/exports", start_export, methods=["POST"]),
    Route("/settings/exports/{export_id}", download_export, methods=["GET"]),
]
