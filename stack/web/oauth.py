"""`/auth/register`, `/auth/authorize`, `/auth/access_token`, `/auth/revoke`, `/auth/clients`:
OAuth 2 for devices (see docs/api/oauth.md).

Machine-facing routes answer RFC 6749 errors, `{"error", "error_description"}`; the
authorization page is for the owner, signed in, and protected against CSRF and framing:
consenting to a device mints a token, so it is the person's act, never a token's. Listing
and revoking clients are rules on `io.cozy.oauth.clients` (see `roost.web.stack_actions`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from roost.errors import BadRequest, NotFound, Unauthorized
from roost.instances import Instance
from roost.oauth import AuthorizationError, AuthorizationRequest, OAuthError, OAuthService
from roost.web.context import instance_of, principal_of, read_json, services_of
from roost.web.forms import (
    content_type_of,
    owner_session,
    read_form,
    session_csrf_token,
    verify_csrf,
)
from roost.web.stack_actions import CLIENTS_DOCTYPE, require
from roost.web.templating import templates

FORM_MAX_BYTES = 64 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# The consent page may not be framed (clickjacking). No `form-action`: browsers apply it to
# the redirect to the client's own URI after the form is posted.
_CONSENT_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "Referrer-Policy": "no-referrer",
    **_NO_STORE,
}


def _oauth(request: Request) -> OAuthService:
    return services_of(request).oauth


def _error(error: OAuthError) -> JSONResponse:
    headers = dict(_NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="roost"'
    return JSONResponse(
        {"error": error.error, "error_description": error.reason},
        status_code=error.status,
        headers=headers,
    )


async def _form(request: Request) -> dict[str, str]:
    """A form-urlencoded body (RFC 6749 §4.1.3), or a JSON object of strings."""
    if content_type_of(request) == "application/json":
        body = await read_json(request, max_bytes=FORM_MAX_BYTES)
        if not isinstance(body, dict):
            raise OAuthError("invalid_request", "the body must be a JSON object")
        return {k: v for k, v in body.items() if isinstance(v, str)}
    try:
        return await read_form(request, max_bytes=FORM_MAX_BYTES)
    except BadRequest as error:
        # RFC 6749 §5.2: a malformed request is `invalid_request`, in OAuth's own shape.
        raise OAuthError("invalid_request", error.reason) from None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


# -- registration -------------------------------------------------------------------------


async def register(request: Request) -> Response:
    """`POST /auth/register`: dynamic client registration (RFC 7591), open to anyone."""
    try:
        body = await read_json(request, max_bytes=FORM_MAX_BYTES)
        answer = await _oauth(request).register(instance_of(request), body)
    except OAuthError as error:
        return _error(error)
    return JSONResponse(answer, status_code=201, headers=_NO_STORE)


async def registered_client(request: Request) -> Response:
    """RFC 7592: read (GET) or delete (DELETE) a client with its registration token."""
    service = _oauth(request)
    instance = instance_of(request)
    client_id = request.path_params["client_id"]
    try:
        client = await service.managed_client(instance, client_id, _bearer(request))
    except OAuthError as error:
        return _error(error)
    if request.method == "DELETE":
        await service.revoke_client(instance, client.id)
        return Response(status_code=204)
    return JSONResponse(client.public_view(), headers=_NO_STORE)


# -- authorization ------------------------------------------------------------------------


def _error_page(request: Request, instance: Instance, error: OAuthError) -> Response:
    # Never an automatic redirect on error: registration is open, so anyone could register
    # a client and use its redirect URI to bounce visitors off this site (RFC 9700 §4.11).
    # Errors the client should hear of get a link back to it instead.
    back = error.location if isinstance(error, AuthorizationError) else None
    return templates.TemplateResponse(
        request,
        "oauth_error.html",
        {"domain": instance.domain, "error": error.error, "reason": error.reason, "back": back},
        status_code=error.status,
        headers=_CONSENT_HEADERS,
    )


async def _checked(request: Request, params: dict[str, str]) -> AuthorizationRequest | Response:
    instance = instance_of(request)
    try:
        return await _oauth(request).check_authorization(instance, params)
    except OAuthError as error:
        return _error_page(request, instance, error)


async def authorize_page(request: Request) -> Response:
    """`GET /auth/authorize`: the consent page for a device (the owner's session only)."""
    instance = instance_of(request)
    params = dict(request.query_params)
    checked = await _checked(request, params)
    if isinstance(checked, Response):
        return checked
    principal = await owner_session(request)
    if principal is None:
        here = request.url.path + "?" + request.url.query
        return RedirectResponse(f"/auth/login?redirect={quote(here, safe='')}", status_code=303)
    client = checked.client
    return templates.TemplateResponse(
        request,
        "oauth_authorize.html",
        {
            "domain": instance.domain,
            "client_name": client.client_name,
            "client_uri": client.metadata.get("client_uri"),
            "software_id": client.metadata.get("software_id"),
            "redirect_uri": checked.redirect_uri,
            "lines": checked.consent_lines(),
            "scope": checked.scope,
            "fields": checked.fields(),
            "csrf_token": session_csrf_token(request, principal),
        },
        headers=_CONSENT_HEADERS,
    )


async def authorize(request: Request) -> Response:
    """`POST /auth/authorize`: the consent form's answer, CSRF-checked; redirects to the client."""
    instance = instance_of(request)
    principal = await owner_session(request)
    if principal is None:
        raise Unauthorized("only the owner, signed in, can authorize a device")
    fields = await _form(request)
    verify_csrf(session_csrf_token(request, principal), fields)
    checked = await _checked(request, fields)
    if isinstance(checked, Response):
        return checked
    service = _oauth(request)
    if fields.get("decision") != "allow":
        return RedirectResponse(service.deny(checked), status_code=303)
    location = await service.approve(instance, checked)
    return RedirectResponse(location, status_code=303, headers=_NO_STORE)


# -- tokens -------------------------------------------------------------------------------


async def access_token(request: Request) -> Response:
    """`POST /auth/access_token`: exchange a code or a refresh token (RFC 6749 §4.1.3, §6)."""
    try:
        fields = await _form(request)
        answer = await _oauth(request).token(
            instance_of(request), fields, request.headers.get("authorization")
        )
    except OAuthError as error:
        return _error(error)
    return JSONResponse(answer, headers=_NO_STORE)


async def revoke_token(request: Request) -> Response:
    """`POST /auth/revoke`: revoke a token (RFC 7009)."""
    try:
        fields = await _form(request)
        await _oauth(request).revoke_token(
            instance_of(request), fields, request.headers.get("authorization")
        )
    except OAuthError as error:
        return _error(error)
    return Response(status_code=200, headers=_NO_STORE)


# -- the owner's list of devices ----------------------------------------------------------


def _client_summary(client: Any) -> dict[str, Any]:
    return {
        "client_id": client.id,
        "client_name": client.client_name,
        "software_id": client.metadata.get("software_id"),
        "created_at": client.created_at,
        "authorized_at": client.authorized_at,
        "scope": client.scope,
    }


async def clients_page(request: Request) -> Response:
    """`GET /auth/clients`: the owner's page of devices, or their JSON list (a rule)."""
    instance = instance_of(request)
    if "text/html" not in request.headers.get("accept", ""):
        require(
            await principal_of(request),
            "GET",
            CLIENTS_DOCTYPE,
            refusal="only the owner, signed in, lists OAuth clients",
        )
        clients = await _oauth(request).list_clients(instance)
        return JSONResponse([_client_summary(c) for c in clients])
    principal = await owner_session(request)
    if principal is None:
        return RedirectResponse("/auth/login?redirect=/auth/clients", status_code=303)
    clients = await _oauth(request).list_clients(instance)
    return templates.TemplateResponse(
        request,
        "oauth_clients.html",
        {
            "domain": instance.domain,
            "clients": [_client_summary(c) for c in clients],
            "csrf_token": session_csrf_token(request, principal),
        },
        headers={"X-Frame-Options": "DENY"},
    )


async def revoke_client(request: Request) -> Response:
    """The owner revokes a device: a form post (CSRF-checked) or `DELETE` with the session."""
    instance = instance_of(request)
    require(
        await principal_of(request),
        "DELETE",
        CLIENTS_DOCTYPE,
        refusal="only the owner, signed in, revokes OAuth clients",
    )
    if request.method == "POST":
        fields = await _form(request)
        owner = await owner_session(request)
        verify_csrf(session_csrf_token(request, owner) if owner else "", fields)
    try:
        await _oauth(request).revoke_client(instance, request.path_params["client_id"])
    except NotFound:
        if request.method == "DELETE":
            raise
    if request.method == "POST":
        return RedirectResponse("/auth/clients", status_code=303)
    return Response(status_code=204)


ROUTES = [
    Route("/auth/register", register, methods=["POST"]),
    Route("/auth/register/{client_id}", registered_client, methods=["GET", "DELETE"]),
    Route("/auth/authorize", authorize_page, methods=["GET"]),
    Route("/auth/authorize", authorize, methods=["POST"]),
    Route("/auth/access_token", access_token, methods=["POST"]),
    Route("/auth/revoke", revoke_token, methods=["POST"]),
    Route("/auth/clients", clients_page, methods=["GET"]),
    Route("/auth/clients/{client_id}/revoke", revoke_client, methods=["POST"]),
    Route("/auth/clients/{client_id}", revoke_client, methods=["DELETE"]),
]
