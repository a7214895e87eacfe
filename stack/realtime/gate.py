"""Which events a subscriber may receive: every event passes `roost.permissions.decide`.

A subscription is allowed when the principal holds some GET rule on the doctype (the
reserved-doctype table applies, as on `/data`); each event is then checked against the
subscriber's permissions at the moment it is sent:

- generic doctypes are decided on surface "data" with the document as target (selector and
  id grants see only their documents);
- `io.cozy.files` is decided on surface "stack" with a `FileTarget` carrying the file's
  ancestry, so a grant on a folder covers its subtree and nothing else;
- a document that *left* the subscriber's view (its new revision is not readable but its
  previous one was: a file moved out of the granted folder or trashed, a contact whose
  selector field changed) is sent as DELETED with a bare tombstone, never its new content;
- a DELETED event is sent to whole-doctype readers, and to others when the previous revision
  (still in the store until compaction) was theirs to read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Final

from roost.errors import RoostError
from roost.permissions import (
    DocumentTarget,
    FileTarget,
    Outcome,
    PermissionSet,
    Surface,
    Target,
    decide,
)
from roost.realtime.events import Event
from roost.types import JSONDoc
from roost.vfs import FileDoc, FileTargets

__all__ = ["FILES_DOCTYPE", "EventView", "may_subscribe", "surface_of"]

FILES_DOCTYPE: Final = "io.cozy.files"

# Stands for "some document of the doctype" when asking whether any rule exists at all.
_NO_DOCUMENT = DocumentTarget({"_id": ""})
_NO_FILE = FileTarget(id="", dir_id=None, type="file", name="")


def surface_of(doctype: str) -> Surface:
    return "stack" if doctype == FILES_DOCTYPE else "data"


def may_subscribe(permissions: PermissionSet, doctype: str, *, now: datetime) -> tuple[bool, str]:
    """Whether `permissions` may watch `doctype` at all, and the refusal reason if not.

    ALLOW (the whole doctype) or HIDE (some rule, not on this placeholder) both mean some
    documents are readable; DENY (no rule, a reserved doctype, expired) refuses.
    """
    placeholder: Target = _NO_FILE if doctype == FILES_DOCTYPE else _NO_DOCUMENT
    decision = decide(
        permissions, "GET", doctype, placeholder, now=now, surface=surface_of(doctype)
    )
    if decision.outcome is Outcome.DENY:
        return False, decision.reason or f"no GET permission on {doctype}"
    return True, ""


PreviousFetcher = Callable[[], Awaitable[JSONDoc | None]]


class EventView:
    """One event and what permission checks need of it, computed at most once and shared
    by every subscriber of the process: the target of the new revision, the previous
    revision and its target."""

    def __init__(
        self,
        event: Event,
        *,
        fetch_previous: PreviousFetcher,
        file_targets: FileTargets | None,
    ) -> None:
        self.event = event
        self._fetch_previous = fetch_previous
        self._file_targets = file_targets
        self._current: Target | None = None
        self._current_done = False
        self._previous_doc: JSONDoc | None = None
        self._previous_done = False
        self._previous: Target | None = None
        self._previous_target_done = False
        self._frame: str | None = None

    async def current_target(self) -> Target | None:
        if not self._current_done:
            self._current_done = True
            if not self.event.deleted:
                self._current = await self._target(self.event.doc)
        return self._current

    async def previous_doc(self) -> JSONDoc | None:
        if not self._previous_done:
            self._previous_done = True
            if not self.event.rev.startswith("1-"):
                self._previous_doc = await self._fetch_previous()
        return self._previous_doc

    async def previous_target(self) -> Target | None:
        if not self._previous_target_done:
            self._previous_target_done = True
            previous = await self.previous_doc()
            if previous is not None:
                self._previous = await self._target(previous)
        return self._previous

    async def _target(self, doc: JSONDoc) -> Target | None:
        if self.event.doctype != FILES_DOCTYPE:
            return DocumentTarget(doc)
        if self._file_targets is None or doc.get("type") not in ("file", "directory"):
            return None
        try:
            return await self._file_targets.for_doc(FileDoc(doc))
        except RoostError:
            # A parent directory already gone: only whole-doctype readers see this one.
            return None

    async def parent_ids(self) -> set[str]:
        """The folders this file event concerns (new and previous parent), for a
        subscription to one directory."""
        parents: set[str] = set()
        for doc in (self.event.doc, await self.previous_doc() if self.event.deleted else None):
            if doc is not None and isinstance(doc.get("dir_id"), str):
                parents.add(doc["dir_id"])
        return parents

    def _whole_frame(self) -> str:
        # Serialised once for every subscriber that may see the whole event.
        if self._frame is None:
            self._frame = self.event.message()
        return self._frame

    async def frame_for(self, permissions: PermissionSet, *, now: datetime) -> str | None:
        """The frame this subscriber may receive for this event, or None."""
        event = self.event
        surface = surface_of(event.doctype)

        def allowed(target: Target | None) -> bool:
            decision = decide(permissions, "GET", event.doctype, target, now=now, surface=surface)
            return decision.allowed

        if allowed(None):
            return self._whole_frame()
        if not event.deleted:
            current = await self.current_target()
            if current is not None and allowed(current):
                return self._whole_frame()
        previous = await self.previous_target()
        if previous is not None and allowed(previous):
            tombstone = {"_id": event.doc_id, "_rev": event.rev, "_deleted": True}
            return Event("DELETED", event.doctype, event.doc_id, event.rev, tombstone).message()
        return None
