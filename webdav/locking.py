"""LOCK and UNLOCK (RFC 4918 §9.10-9.11).

Exclusion holds under concurrency, across stack processes too: the store adds a lock
atomically with the other locks of its own path (`LockStore.add`), and a lock that
conflicts with one on an ancestor or a member is caught by reading every lock again after
adding it — of two such racing locks at most one survives.
"""

from __future__ import annotations

from typing import TypeVar

from starlette.responses import Response

from . import davxml
from .access import allow, allow_new
from .call import Call
from .conditions import check_if, check_locks
from .errors import XML, BadRequest, DavError, Forbidden
from .ifheader import submitted_tokens
from .locks import Lock, parse_timeout
from .ports import LockConflict, NameTaken
from .properties import activelock

I = TypeVar("I")  # noqa: E741

_CONFLICT = "no-conflicting-lock"


async def lock(call: Call[I]) -> Response:
    body = await call.read_xml()
    root = davxml.parse_body(body)
    timeout = parse_timeout(call.request.headers.get("timeout"))
    path = call.path
    if root is None:
        return await _refresh(call, timeout)
    request = davxml.parse_lockinfo(root)
    depth = call.header("depth", "infinity").strip().lower()
    if depth not in ("0", "infinity"):
        raise BadRequest("a LOCK's Depth is 0 or infinity")
    if path.segments and path.segments[0] in call.tree.hidden_names:
        raise Forbidden(f"{path.segments[0]} is reserved")
    entry = await call.resolve(path)
    parent = None
    if entry is None:
        if path.is_root:
            raise DavError(404, "not found")
        parent = await call.resolve(path.parent)
        if parent is None or not parent.is_dir:
            raise DavError(409, "the parent collection does not exist")
        await allow_new(call, "POST", parent, path.name, is_dir=False)
    else:
        await allow(call, "PUT", entry)
        if not entry.is_dir:
            depth = "0"
    wanted = Lock.new(
        path=path.vfs_path,
        depth=depth,
        scope=request.scope,
        owner=request.owner,
        principal=call.caller.label,
        seconds=timeout,
    )
    _refuse_conflicts(wanted, await call.all_locks())
    await check_if(call)
    status = 200
    if entry is None:
        assert parent is not None
        await check_locks(call, [path.parent])
        try:
            await call.tree.create_empty_file(call.instance, parent, path.name)
            status = 201
        except NameTaken:
            pass  # created meanwhile: lock what is there
    try:
        taken = await call.lock_store.add(call.instance, wanted)
    except LockConflict:
        raise DavError(423, "the resource is already locked", condition=_CONFLICT) from None
    # A lock on an ancestor or a member taken at the same moment is not in the same
    # store document: look again, and give up this one if such a lock now exists.
    others = [
        other for other in await call.lock_store.all(call.instance) if other.token != taken.token
    ]
    try:
        _refuse_conflicts(taken, others)
    except DavError:
        await call.lock_store.remove(call.instance, taken)
        raise
    return _lock_response(taken, status)


def _refuse_conflicts(wanted: Lock, locks: list[Lock]) -> None:
    conflicting = [other for other in locks if wanted.overlaps(other)]
    if wanted.scope == "exclusive" and conflicting:
        raise DavError(423, "the resource is already locked", condition=_CONFLICT)
    if any(other.scope == "exclusive" for other in conflicting):
        raise DavError(423, "the resource is locked exclusively", condition=_CONFLICT)


async def _refresh(call: Call[I], seconds: int) -> Response:
    lists = call.if_lists()
    if not lists:
        raise BadRequest("a LOCK without a body refreshes a lock: send its token in If")
    tokens = submitted_tokens(lists)
    locks = await call.all_locks()
    matching = [
        lock
        for lock in locks
        if lock.token in tokens
        and lock.covers(call.path.vfs_path)
        and lock.principal == call.caller.label
    ]
    if not matching:
        raise DavError(412, "no lock of yours matches", condition="lock-token-matches-request-uri")
    refreshed = await call.lock_store.refresh(call.instance, matching[0], seconds)
    for other in matching[1:]:
        await call.lock_store.refresh(call.instance, other, seconds)
    return _lock_response(refreshed, 200)


async def unlock(call: Call[I]) -> Response:
    header = call.header("lock-token").strip()
    if not header:
        raise BadRequest("UNLOCK needs a Lock-Token header")
    token = header[1:-1] if header.startswith("<") and header.endswith(">") else header
    entry = await call.resolve(call.path)
    if entry is None:
        raise DavError(404, "not found")
    await allow(call, "PUT", entry)
    locks = await call.all_locks()
    found = next((item for item in locks if item.token == token), None)
    if found is None or not found.covers(call.path.vfs_path):
        raise DavError(
            409,
            "that token does not lock this resource",
            condition="lock-token-matches-request-uri",
        )
    if found.principal != call.caller.label:
        raise Forbidden("that lock belongs to someone else")
    await call.lock_store.remove(call.instance, found)
    return Response(status_code=204)


def _lock_response(lock: Lock, status: int) -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<D:prop xmlns:D="DAV:"><D:lockdiscovery>{activelock(lock)}</D:lockdiscovery></D:prop>'
    )
    return Response(
        body, status_code=status, media_type=XML, headers={"Lock-Token": f"<{lock.token}>"}
    )
