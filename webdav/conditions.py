"""Conditions on a request: the `If` header, the locks it must hold, HTTP preconditions."""

from __future__ import annotations

from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TypeVar

from starlette.requests import Request

from .call import Call
from .dates import updated_datetime
from .errors import DavError
from .ifheader import Condition, IfList, etags_match, submitted_tokens
from .locks import Lock
from .paths import DavPath
from .ports import Entry

I = TypeVar("I")  # noqa: E741


async def check_locks(
    call: Call[I], paths: list[DavPath], *, subtree: DavPath | None = None
) -> None:
    """423 unless the request submits a token of every lock protecting what it changes.

    `paths` are the resources changed (a created or removed member also changes its
    parent collection); `subtree` is a collection removed or moved with its members.
    """
    # The If header first: a false condition is 412 even on a locked resource
    # (RFC 4918 §10.4.1); only a request whose conditions hold can be refused with 423.
    await check_if(call)
    locks = await call.all_locks() if subtree is not None else await call.locks_on(paths)
    if not locks:
        return
    lists = call.if_lists()
    held = submitted_tokens(lists) if lists else set()
    mine = {lock.token for lock in locks if lock.principal == call.caller.label}
    held &= mine
    for path in paths:
        covering = [lock for lock in locks if lock.covers(path.vfs_path)]
        if covering and not any(lock.token in held for lock in covering):
            raise DavError(423, "the resource is locked", condition="lock-token-submitted")
    if subtree is not None:
        for lock in locks:
            if lock.is_below(subtree.vfs_path) and lock.token not in held:
                raise DavError(
                    423, "a member of the collection is locked", condition="lock-token-submitted"
                )


async def check_if(call: Call[I]) -> None:
    """412 unless the `If:` header (when present) holds for the resources it names."""
    if call.if_checked:
        return
    call.if_checked = True
    lists = call.if_lists()
    if not lists:
        return
    named: list[tuple[DavPath, IfList]] = []
    for if_list in lists:
        path = call.path
        if if_list.resource is not None:
            try:
                path = call.destination(if_list.resource)
            except DavError:
                continue
        named.append((path, if_list))
    # A token holds only with a lock covering its resource: those are all it can match.
    locks = await call.locks_on([path for path, _ in named]) if named else []
    for path, if_list in named:
        entry = await call.resolve(path)
        if all(_condition_holds(cond, path, entry, locks) for cond in if_list.conditions):
            return
    raise DavError(412, "the If header does not match the resource's state")


def _condition_holds(
    condition: Condition, path: DavPath, entry: Entry | None, locks: list[Lock]
) -> bool:
    if condition.token is not None:
        result = any(lock.token == condition.token and lock.covers(path.vfs_path) for lock in locks)
    else:
        result = etags_match(condition.etag or "", entry.etag if entry is not None else None)
    return result != condition.negated


def read_precondition(request: Request, entry: Entry) -> int | None:
    """304/412 from If-None-Match, If-Match, If-Modified-Since; None to go on."""
    if_match = request.headers.get("if-match")
    if (
        if_match
        and if_match.strip() != "*"
        and not any(etags_match(tag, entry.etag) for tag in if_match.split(","))
    ):
        raise DavError(412, "If-Match does not match")
    if_none_match = request.headers.get("if-none-match")
    if if_none_match:
        if if_none_match.strip() == "*" or any(
            etags_match(tag, entry.etag) for tag in if_none_match.split(",")
        ):
            return 304
        return None
    since = request.headers.get("if-modified-since")
    if since:
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        if updated_datetime(entry).replace(microsecond=0) <= moment:
            return 304
    return None


def check_write_preconditions(request: Request, entry: Entry | None) -> None:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and if_none_match.strip() == "*" and entry is not None:
        raise DavError(412, "the resource exists (If-None-Match: *)")
    if_match = request.headers.get("if-match")
    if if_match:
        if entry is None:
            raise DavError(412, "the resource does not exist (If-Match)")
        if if_match.strip() != "*" and not any(
            etags_match(tag, entry.etag) for tag in if_match.split(",")
        ):
            raise DavError(412, "If-Match does not match")
