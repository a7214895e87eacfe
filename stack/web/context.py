"""What a handler needs from a request: its instance, its principal, its JSON body."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from roost.bounded_read import read_at_most
from roost.errors import BadRequest, PayloadTooLarge, Unauthorized, UnsupportedMediaType
from roost.instances import Instance
from roost.principals import Principal
from roost.services import Services
from roost.sessions import COOKIE_NAME

# Re-exported: handlers parse bodies with it (the app store uses roost.strict_json directly).
from roost.strict_json import MAX_JSON_DEPTH as MAX_JSON_DEPTH
from roost.strict_json import parse_json as parse_json


def services_of(request: Request) -> Services:
    """The services of this process (built once by `create_app`)."""
    services: Services = request.app.state.services
    return services


def instance_of(request: Request) -> Instance:
    """The instance the request is addressed to (401 if none)."""
    instance: Instance | None = request.scope.get("state", {}).get("instance")
    if instance is None:
        raise Unauthorized("this request is not addressed to an instance")
    return instance


async def optional_principal(request: Request) -> Principal | None:
    """Who is asking, authenticated once per request; None if anonymous."""
    state = request.scope.setdefault("state", {})
    if "principal" in state:
        cached: Principal | None = state["principal"]
        return cached
    services = services_of(request)
    principal = await services.authenticator.authenticate(
        instance_of(request),
        authorization=request.headers.get("authorization"),
        session_cookie=request.cookies.get(COOKIE_NAME),
    )
    state["principal"] = principal
    return principal


async def principal_of(request: Request) -> Principal:
    """Who is asking; 401 if the request carries no credentials."""
    principal = await optional_principal(request)
    if principal is None:
        raise Unauthorized("authentication required: a session, a Bearer token or an app password")
    return principal


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed `max_bytes`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise PayloadTooLarge(f"the body exceeds the {max_bytes}-byte limit")
        except ValueError:
            raise BadRequest("invalid Content-Length") from None
    body = await read_at_most(request.stream(), max_bytes)
    if body is None:
        raise PayloadTooLarge(f"the body exceeds the {max_bytes}-byte limit")
    return body


async def read_json(request: Request, *, max_bytes: int | None = None) -> Any:
    """The body as strict JSON within the size limit (415: another media type; 400: empty)."""
    limit = max_bytes or services_of(request).config.max_body_bytes
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type and content_type not in (
        "application/json",
        "text/plain",
        "application/vnd.api+json",
    ):
        raise UnsupportedMediaType(f"expected application/json, got {content_type}")
    body = await read_body(request, limit)
    if not body.strip():
        raise BadRequest("the body is empty; a JSON document was expected")
    return parse_json(body)
