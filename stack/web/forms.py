"""HTML form posts, written once: the urlencoded body, the CSRF token, the owner's session.

Every page of the person posts `application/x-www-form-urlencoded` forms carrying a
`csrf_token` field. For signed-in pages that token is derived from the session
(`roost.sessions.csrf_token`), so a form can only be posted by the owner's session; the
login form, which has no session yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl

from starlette.requests import Request

from roost.errors import BadRequest, Forbidden
from roost.principals import Principal
from roost.sessions import csrf_token
from roost.web.context import instance_of, optional_principal, read_body

FORM_TYPE = "application/x-www-form-urlencoded"
FORM_MAX_BYTES = 16 * 1024
FORM_MAX_FIELDS = 100
CSRF_FIELD = "csrf_token"
CSRF_REFUSED = "CSRF check failed: reload the page and try again"


def content_type_of(request: Request) -> str:
    """The request's media type, without parameters, lower-cased."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def is_form(request: Request) -> bool:
    """Whether the body is an urlencoded form (what the person's pages post)."""
    return content_type_of(request) == FORM_TYPE


def parse_form(raw: bytes, *, max_fields: int = FORM_MAX_FIELDS) -> dict[str, str]:
    """A urlencoded body as a dict, or BadRequest.

    Strict: the bytes and the percent-escapes must be UTF-8 (a replacement character would
    silently change a passphrase or a scope), a field may appear only once (which of two
    `scope`s counts would otherwise depend on the parser), and at most `max_fields` fields.
    """
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            max_num_fields=max_fields,
            encoding="utf-8",
            errors="strict",
        )
    except UnicodeDecodeError:
        raise BadRequest("the form is not UTF-8") from None
    except ValueError:
        raise BadRequest(f"the form has more than {max_fields} fields") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise BadRequest(f"{key} is given more than once")
        fields[key] = value
    return fields


async def read_form(request: Request, *, max_bytes: int = FORM_MAX_BYTES) -> dict[str, str]:
    """The request's urlencoded body, at most `max_bytes` (413 past it), parsed strictly."""
    return parse_form(await read_body(request, max_bytes))


def same_token(expected: str, given: str) -> bool:
    """Constant-time comparison that also accepts non-ASCII input (hmac refuses such str)."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def verify_csrf(expected: str, fields: dict[str, str], *, refusal: str = CSRF_REFUSED) -> None:
    """Forbidden unless the form's `csrf_token` is `expected` (and `expected` is not empty)."""
    if not expected or not same_token(expected, fields.get(CSRF_FIELD, "")):
        raise Forbidden(refusal)


async def owner_session(request: Request) -> Principal | None:
    """The owner's signed-in session behind this request, or None.

    An identity check, not a permission: pages and forms are the person's own, and their
    CSRF token is bound to the session, which no token or app password has.
    """
    principal = await optional_principal(request)
    if principal is None or not principal.is_owner or principal.session_id is None:
        return None
    return principal


def session_csrf_token(request: Request, principal: Principal) -> str:
    """The CSRF token a page of this session embeds in its forms."""
    return csrf_token(instance_of(request), principal.session_id or "")


async def read_owner_form(
    request: Request, *, max_bytes: int = FORM_MAX_BYTES, refusal: str = CSRF_REFUSED
) -> dict[str, str]:
    """The form posted by a page of the owner's session, its CSRF token verified.

    Without a session there is no token to compare with: refused like a forged token.
    """
    fields = await read_form(request, max_bytes=max_bytes)
    principal = await owner_session(request)
    if principal is None:
        raise Forbidden(refusal)
    verify_csrf(session_csrf_token(request, principal), fields, refusal=refusal)
    return fields
