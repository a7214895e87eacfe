"""The one permission decision every path asks: allow, hide, or deny.

The data API, files, WebDAV, replication, jobs, realtime and every app host call ask
`decide` and act on its answer; nothing combines `allows`, `allows_some`, `is_expired` and the
reserved-doctype table by hand any more. The current time is a required argument so expiry is
never forgotten.

- ``ALLOW``: go on.
- ``HIDE``: answer exactly as if the document or file did not exist (404 "missing" over HTTP,
  ``not_found`` "missing" to a guest). The caller could read *something* of this doctype but
  not this one: telling "forbidden" from "missing" would be an existence oracle.
- ``DENY``: refuse openly (403 over HTTP) with `reason`, a sentence safe to show.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final, Literal

from .doctypes import check_readable, check_writable, validate_doctype
from .errors import InvalidRule, PermissionDenied
from .sets import PermissionSet
from .targets import Target
from .verbs import ALL_VERBS, request_verb

__all__ = ["SOME_DOCUMENTS", "Decision", "Hidden", "Outcome", "SomeDocuments", "Surface", "decide"]

Surface = Literal["data", "stack"]
"""Through which door the request comes.

``"data"``: the generic doors (``/data``, replication, the apps' ``data`` host calls,
realtime subscriptions) where cozy-stack's reserved-doctype table applies: some stack-managed
doctypes are invisible there, others read-only. ``"stack"``: a dedicated API of the stack
(``/files``, WebDAV, ``/jobs``, settings) that manages its own doctype.
"""


class SomeDocuments(enum.Enum):
    """The target of a request-level decision: "at least some documents of the doctype".

    Routes that touch many documents, or one not fetched yet (`_changes`, `_bulk_get`, a read
    by id), first ask whether the set grants the verb on the doctype at all (DENY, 403,
    otherwise: nothing leaks, the doctype is no secret), then decide each document on its own.
    """

    SOME = "some"


SOME_DOCUMENTS: Final = SomeDocuments.SOME


class Outcome(enum.Enum):
    ALLOW = "allow"
    HIDE = "hide"
    DENY = "deny"


class Hidden(Exception):
    """Raised by `Decision.enforce` for ``HIDE``: the edge answers as for a missing item.

    Deliberately not a `PermissionDenied`, so no handler can turn it into a 403 by accident.
    """

    def __init__(self, verb: str, doctype: str) -> None:
        super().__init__("missing")
        self.verb = verb
        self.doctype = doctype


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    verb: str
    doctype: str
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    @property
    def hidden(self) -> bool:
        return self.outcome is Outcome.HIDE

    def enforce(self) -> None:
        """Return on ``ALLOW``; raise `Hidden` on ``HIDE``, `PermissionDenied` on ``DENY``."""
        if self.outcome is Outcome.ALLOW:
            return
        if self.outcome is Outcome.HIDE:
            raise Hidden(self.verb, self.doctype)
        raise PermissionDenied(self.verb, self.doctype, self.reason)

    def enforce_openly(self) -> None:
        """Like `enforce`, but ``HIDE`` is refused openly too (`PermissionDenied`).

        For an item whose existence is no secret because the caller names it into being: a
        new document with an id of its choice, a job for a named worker. Hiding it would
        protect nothing and answer 404 to a creation.
        """
        if self.outcome is Outcome.HIDE:
            raise PermissionDenied(
                self.verb,
                self.doctype,
                f"no {self.verb} permission on this {self.doctype} document",
            )
        self.enforce()


def _deny(verb: str, doctype: str, reason: str) -> Decision:
    return Decision(Outcome.DENY, verb, doctype, reason)


# What depends on the verb, the doctype and the surface only: the same for every document
# of a feed, a listing or an app's `find`, so it is worked out once per (verb, doctype,
# surface) and not once per document (a decision went from about 10 to 7 µs).
@lru_cache(maxsize=2048)
def _doctype_verdict(verb: str, doctype: str, surface: Surface) -> tuple[str, str | None]:
    """The verb to grant, and why the doctype itself refuses it (None: it does not)."""
    v = request_verb(verb)
    if v == "OPTIONS":
        return v, None
    if v not in ALL_VERBS:
        return verb, f"{verb} is not a method a permission can grant"
    try:
        validate_doctype(doctype)
    except InvalidRule as exc:
        return v, str(exc)
    if surface == "data":
        try:
            if v == "GET":
                check_readable(doctype, verb=v)
            else:
                check_writable(doctype, verb=v)
        except PermissionDenied as exc:
            return v, exc.reason
    return v, None


def decide(
    permissions: PermissionSet,
    verb: str,
    doctype: str,
    target: Target | SomeDocuments | None = None,
    *,
    now: datetime,
    surface: Surface = "data",
    visible: Target | None = None,
) -> Decision:
    """May `permissions` do `verb` on `doctype` (on `target`, or on the whole doctype)?

    In order: OPTIONS is always allowed and HEAD needs GET; an unknown verb or a malformed
    doctype is denied; on the ``"data"`` surface the reserved-doctype table is applied; an
    expired set is denied; a set with no rule for this verb and doctype at all is denied
    (the caller knows the doctype exists, nothing leaks); `SOME_DOCUMENTS` is then allowed;
    with no `target` the whole doctype must be granted. A target the set does not allow is
    hidden when the caller may not read `visible` (default: `target` itself; for a new file,
    pass its parent) and denied when it may, since then the item's existence is no secret.
    """
    if isinstance(verb, str) and isinstance(doctype, str):
        v, refusal = _doctype_verdict(verb, doctype, surface)
    else:  # not cacheable (perhaps not even hashable); validation says what is wrong
        v, refusal = _doctype_verdict.__wrapped__(verb, doctype, surface)
    if v == "OPTIONS":
        return Decision(Outcome.ALLOW, v, doctype)
    if refusal is not None:
        return _deny(v, doctype, refusal)
    if permissions.is_expired(now):
        return _deny(v, doctype, "this permission has expired")
    if not permissions.allows_some(v, doctype):
        return _deny(v, doctype, f"no {v} permission on {doctype}")
    if target is SOME_DOCUMENTS:
        return Decision(Outcome.ALLOW, v, doctype)
    if target is None:
        if permissions.allows(v, doctype, None):
            return Decision(Outcome.ALLOW, v, doctype)
        return _deny(
            v, doctype, f"{v} on every {doctype} document needs a permission on the whole doctype"
        )
    assert not isinstance(target, SomeDocuments)
    if permissions.allows(v, doctype, target):
        return Decision(Outcome.ALLOW, v, doctype)
    if not permissions.allows("GET", doctype, visible if visible is not None else target):
        return Decision(Outcome.HIDE, v, doctype)
    return _deny(v, doctype, f"no {v} permission on this {doctype} document")
