"""`/settings`: the person's settings page (in the shell) and its JSON API.

The page: app passwords made from plain-word choices, devices (OAuth clients), the access
log in sentences, passphrase change, open sessions, export, language (`POST
/settings/language`, in `roost.web.pages.language`). Its words live in
`roost.web.settings_words`.

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
from roost.errors import BadRequest, Forbidden, NotFound, RoostError
from roost.instances import Instance
from roost.permissions import FILES_DOCTYPE, ROOT_DIR_ID, TRASH_DIR_ID, InvalidRule, PermissionSet
from roost.portability.exports import ExportJobs
from roost.principals import Principal
from roost.tokens import parse_duration
from roost.vfs.filedoc import TRASH_DIR_PATH
from roost.web.context import instance_of, principal_of, read_json, services_of
from roost.web.error_table import answer_for
from roost.web.forms import is_form, owner_session, read_owner_form
from roost.web.i18n import PageLanguage, language_of
from roost.web.pages.shell import owner_or_login, render
from roost.web.settings_words import (
    describe_access,
    expiry_of,
    group_accesses,
    password_permissions,
)
from roost.web.share_links import share_link_views, visitor_names
from roost.web.stack_actions import APP_PASSWORDS_DOCTYPE, CLIENTS_DOCTYPE, EXPORTS_DOCTYPE, require

MAX_LABEL = 100
PASSWORDS_REFUSED = "only the owner, signed in, manages app passwords"
EXPORTS_REFUSED = "only the owner, signed in, exports the instance"
DEVICES_REFUSED = "only the owner, signed in, revokes devices"
CHANGE_REFUSED = "only the owner, signed in, changes the passphrase"
SESSIONS_REFUSED = "only the owner, signed in, signs out sessions"
MAX_FOLDERS = 2000
ACCESS_LOG_PAGE = 500


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


async def _folders(request: Request, instance: Instance) -> list[dict[str, str]]:
    """The folders an app password may be limited to (not the trash), by path."""
    result = await services_of(request).couch.find(
        instance.db(FILES_DOCTYPE),
        {
            "selector": {"type": "directory"},
            "fields": ["_id", "path"],
            "limit": MAX_FOLDERS,
        },
    )
    folders = []
    for doc in result.get("docs", []):
        path = doc.get("path")
        if not isinstance(path, str) or doc["_id"] in (ROOT_DIR_ID, TRASH_DIR_ID):
            continue
        if path == TRASH_DIR_PATH or path.startswith(TRASH_DIR_PATH + "/"):
            continue
        folders.append({"id": doc["_id"], "path": path})
    return sorted(folders, key=lambda f: f["path"].casefold())


async def settings_page(request: Request, *, status_code: int = 200, **extra: Any) -> Response:
    """The owner's settings page, in the shell; anyone else is sent to the sign-in page."""
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    services, instance = owner.services, owner.instance
    folders = await _folders(request, instance)
    paths = {f["id"]: f["path"] for f in folders}
    names: dict[str, str] = {}
    passwords = []
    for password in await services.app_passwords.list(instance):
        names[password.id] = password.label
        permissions = await services.permission_docs.load_set(instance, password.permission_id)
        lines = describe_access(permissions, paths) if permissions else []
        passwords.append({**_password_json(password), "lines": lines})
    devices = []
    for client in await services.oauth.list_clients(instance):
        names[client.id] = client.client_name
        devices.append(
            {
                "id": client.id,
                "name": client.client_name,
                "created_at": client.created_at,
                "authorized_at": client.authorized_at,
            }
        )
    share_links = await share_link_views(services, instance)
    language = PageLanguage(language_of(request))
    for link_id, name in (await visitor_names(services, instance)).items():
        names[link_id] = language.gettext("The link to %(name)s", name=name)
    entries = await services.access_log.query(instance, limit=ACCESS_LOG_PAGE)
    exports = [state.to_json() for state in await export_jobs(request).states(instance)]
    sessions = await services.sessions.list_open(instance, owner.session_id)
    context = {
        "passwords": passwords,
        "folders": folders,
        "devices": devices,
        "share_links": share_links,
        "accesses": group_accesses(entries, names),
        "sessions": sessions,
        "exports": exports,
        "new_secret": None,
        "new_label": None,
        "error": None,
        "notice": None,
        **extra,
    }
    return await render(
        request, owner, "settings.html", context, space="settings", status_code=status_code
    )


async def create_password_form(request: Request) -> Response:
    """The page's form: create a password and show the page with its secret, once.

    The page sends plain-word choices (`folder`, `access`, `expiry`); a form with an
    inline `scope` (the older page, scripts) is still understood.
    """
    principal = await _may_manage_passwords(request, "POST")
    fields = await read_owner_form(request)
    try:
        if "access" in fields:
            _, secret = await _create_from_choices(request, principal, fields)
        else:
            _, secret = await _create(request, instance_of(request), principal, fields)
    except RoostError as error:
        return await settings_page(
            request, status_code=answer_for(error).status, error=error.reason
        )
    return await settings_page(request, new_secret=secret, new_label=fields.get("label"))


async def _create_from_choices(
    request: Request, principal: Principal, fields: dict[str, str]
) -> tuple[str, str]:
    label = fields.get("label", "").strip()
    if not label or len(label) > MAX_LABEL:
        raise BadRequest(f"the name must be 1 to {MAX_LABEL} characters long")
    instance = instance_of(request)
    folder_id = fields.get("folder", "")
    if folder_id and folder_id not in {f["id"] for f in await _folders(request, instance)}:
        raise BadRequest("that folder does not exist")
    permissions = password_permissions(fields.get("access", ""), folder_id)
    ttl = expiry_of(fields.get("expiry") or "never")
    if not permissions.is_subset_of(principal.permissions):
        raise Forbidden("an app password cannot grant more than its creator holds")
    password, secret = await services_of(request).app_passwords.create(
        instance, label, permissions, ttl=ttl
    )
    return password.id, secret


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


async def _owner_session_id(request: Request, refusal: str) -> str:
    """The signed-in owner's session: anonymous callers get a 401, tokens a 403."""
    await principal_of(request)
    principal = await owner_session(request)
    if principal is None or principal.session_id is None:
        raise Forbidden(refusal)
    return principal.session_id


async def change_passphrase(request: Request) -> Response:
    """`POST /settings/passphrase`: current passphrase, new one twice; other sessions end."""
    session_id = await _owner_session_id(request, CHANGE_REFUSED)
    fields = await read_owner_form(request)
    new = fields.get("new_passphrase", "")
    if new != fields.get("confirm_passphrase", ""):
        return await settings_page(
            request, status_code=400, error="The two new passphrases are not the same."
        )
    services = services_of(request)
    try:
        instance = await services.instances.change_passphrase(
            instance_of(request), fields.get("current_passphrase", ""), new
        )
    except RoostError as error:
        return await settings_page(
            request, status_code=answer_for(error).status, error=error.reason
        )
    request.state.instance = instance
    closed = await services.sessions.keep_only(instance, session_id)
    return await settings_page(request, notice="passphrase", closed=closed)


async def sign_out_others(request: Request) -> Response:
    """`POST /settings/sessions/sign-out-others`: every session but this one ends."""
    session_id = await _owner_session_id(request, SESSIONS_REFUSED)
    await read_owner_form(request)
    closed = await services_of(request).sessions.keep_only(instance_of(request), session_id)
    return await settings_page(request, notice="sessions", closed=closed)


async def revoke_device(request: Request) -> Response:
    """`POST /settings/devices/{id}/revoke`: the device's tokens stop working."""
    require(await principal_of(request), "DELETE", CLIENTS_DOCTYPE, refusal=DEVICES_REFUSED)
    await read_owner_form(request)
    try:
        await services_of(request).oauth.revoke_client(
            instance_of(request), request.path_params["client_id"]
        )
    except NotFound:
        pass  # Already gone: the page shows the same thing either way.
    return RedirectResponse("/settings", status_code=303)


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
    Route("/settings/passphrase", change_passphrase, methods=["POST"]),
    Route("/settings/sessions/sign-out-others", sign_out_others, methods=["POST"]),
    Route("/settings/devices/{client_id}/revoke", revoke_device, methods=["POST"]),
    Route("/settings/exports", list_exports, methods=["GET"]),
    Route("/settings/exports", start_export, methods=["POST"]),
    Route("/settings/exports/{export_id}", download_export, methods=["GET"]),
]
