"""Who is calling, and what they may do: every check asks `roost.permissions.decide`.

    GET/HEAD/PROPFIND           GET on the resource (one they may not read is a 404)
    PUT/PROPPATCH/LOCK (exists) PUT on it;   PUT/MKCOL/LOCK creating   POST on the new target
    DELETE                      DELETE on it
    COPY                        GET on the source, POST on the destination
    MOVE                        PUT on the source and on the destination
    overwritten destination     DELETE on it as well

A refused resource the caller may not read is answered as missing (`Hidden` → 404), so
WebDAV is no oracle for what exists outside a grant.
"""

from __future__ import annotations

from typing import TypeVar

from starlette.requests import Request

from roost.permissions import FILES_DOCTYPE, decide

from .call import Call
from .errors import DavError
from .ports import Authenticator, Caller, Entry, Unauthenticated

I = TypeVar("I")  # noqa: E741


async def authenticate(request: Request, instance: I, authenticator: Authenticator[I]) -> Caller:
    # Session cookies are deliberately not accepted: WebDAV is for clients holding an
    # app password or a token, and a cookie would make cross-site writes possible.
    caller = await authenticator.authenticate(instance, request.headers.get("authorization"))
    if caller is None:
        raise Unauthenticated("authentication required: an app password or a token")
    # Where the access-log middleware finds who made the request.
    request.scope.setdefault("state", {})["principal"] = caller
    return caller


async def allow(call: Call[I], verb: str, entry: Entry) -> None:
    """`verb` on an existing entry, or `Hidden` / `PermissionDenied`."""
    target = await call.targets.for_entry(entry)
    decide(
        call.caller.permissions, verb, FILES_DOCTYPE, target, now=call.now, surface="stack"
    ).enforce()


async def allow_read(call: Call[I], entry: Entry) -> None:
    """GET permission, or 404: what one may not read does not exist for them."""
    target = await call.targets.for_entry(entry)
    decision = decide(
        call.caller.permissions, "GET", FILES_DOCTYPE, target, now=call.now, surface="stack"
    )
    if not decision.allowed:
        raise DavError(404, "not found")


async def allow_new(
    call: Call[I], verb: str, parent: Entry, name: str, *, is_dir: bool, mime: str = ""
) -> None:
    """`verb` on something about to appear in `parent` (hidden if `parent` is unreadable)."""
    target = await call.targets.for_new(parent, name, is_dir=is_dir, mime=mime)
    decide(
        call.caller.permissions,
        verb,
        FILES_DOCTYPE,
        target,
        now=call.now,
        surface="stack",
        visible=await call.targets.for_entry(parent),
    ).enforce()


async def readable_children(call: Call[I], directory: Entry) -> list[Entry]:
    children = await call.tree.list_dir(call.instance, directory)
    permissions = call.caller.permissions
    whole = decide(permissions, "GET", FILES_DOCTYPE, now=call.now, surface="stack")
    if whole.allowed:
        return children  # every entry is readable: no per-entry target to build
    readable: list[Entry] = []
    for child in children:
        target = await call.targets.for_child(directory, child)
        if decide(permissions, "GET", FILES_DOCTYPE, target, now=call.now, surface="stack").allowed:
            readable.append(child)
    return readable
