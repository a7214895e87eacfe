"""What a handler needs from a request: its instance, its principal, its JSON body."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from starlette.requests import Request

from roost.errors import BadRequest, PayloadTooLarge, Unauthorized, UnsupportedMediaType
from roost.instances import Instance
from roost.principals import Principal
from roost.services import Services
from roost.sessions import COOKIE_NAME

# Deeper documents are refused: Python's JSON codec, JSON Schema validation and the store
# client all recurse (a few hundred levels crash them), and no real document comes close.
MAX_JSON_DEPTH = 100
_SURROGATE = re.compile("[\ud800-\udfff]")


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
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"the body exceeds the {max_bytes}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


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


def parse_json(raw: bytes | str) -> Any:
    """Strict JSON (RFC 8259) or BadRequest.

    Python's `json` accepts more than JSON, and what it lets through breaks later, after a
    write: `NaN`, `Infinity` and `1e999` (a float overflow) make the JSON answer fail, as
    does a lone surrogate (`"\\ud800"`), which UTF-8 cannot encode; 100 000 nested
    brackets raise RecursionError. Bodies are UTF-8 (a BOM is tolerated).
    """
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_no_constant, parse_float=_float, parse_int=_int)
    except RecursionError:
        raise BadRequest(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the body is not valid JSON: {error}") from None
    _check_value(value)
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _int(text: str) -> int:
    value = int(text)
    # Past a double's range the store (JavaScript, or CouchDB's) would turn it into Infinity.
    if abs(value) > sys.float_info.max:
        raise ValueError(f"the number {text[:20]}… is out of range")
    return value


def _check_value(value: Any) -> None:
    """Depth and lone surrogates, walked without recursion."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise BadRequest("the JSON holds a lone UTF-16 surrogate (\\ud800-\\udfff)")
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise BadRequest(f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
