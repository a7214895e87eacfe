"""Who may do what to which file, for the `/files` handlers of one request.

Every question goes to the one decision, `roost.permissions.decide` (surface "stack"), with
the `FileTarget` the VFS builds (ancestors included, so a grant on a folder covers its
subtree). Its answers: allow; hide — a file the principal may not read answers 404 exactly
like a missing one; deny — 403, for a file it may read but not change, or when no rule of
the principal grants the verb on files at all (nothing to hide there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from starlette.requests import Request

from roost.instances import Instance
from roost.permissions import (
    FILES_DOCTYPE,
    Decision,
    FileTarget,
    Outcome,
    PermissionDenied,
    decide,
)
from roost.principals import Principal
from roost.services import Services
from roost.vfs import VFS, FileDoc, FileNotFound, FileTargets
from roost.web.context import instance_of, principal_of, services_of

# A file no rule names: only a grant on the whole doctype covers it. Asking about it tells
# whether a principal holds any rule for a verb, when the file asked for does not exist.
_NOWHERE: Final = FileTarget(id="", dir_id=None, type="file", name="")


def missing() -> FileNotFound:
    """The one answer for "absent" and "not yours to see" (no detail that could leak)."""
    return FileNotFound("missing")


@dataclass
class FileAccess:
    services: Services
    instance: Instance
    principal: Principal
    targets: FileTargets

    @classmethod
    async def of(cls, request: Request) -> FileAccess:
        services = services_of(request)
        instance = instance_of(request)
        principal = await principal_of(request)
        return cls(services, instance, principal, services.vfs.targets(instance))

    @property
    def vfs(self) -> VFS:
        return self.services.vfs

    @property
    def app_slug(self) -> str | None:
        return self.principal.app_slug

    def decide(
        self, verb: str, target: FileTarget, *, visible: FileTarget | None = None
    ) -> Decision:
        return decide(
            self.principal.permissions,
            verb,
            FILES_DOCTYPE,
            target,
            now=datetime.now(UTC),
            surface="stack",
            visible=visible,
        )

    def can_read(self, target: FileTarget) -> bool:
        return self.decide("GET", target).allowed

    def require(self, verb: str, target: FileTarget, *, visible: FileTarget | None = None) -> None:
        """`verb` on `target`, or Hidden (404) when `visible` (default: `target`; for a new
        file, its parent) may not be read either, or PermissionDenied (403)."""
        self.decide(verb, target, visible=visible).enforce()

    def refuse_if_denied(self, verb: str, target: FileTarget) -> None:
        """PermissionDenied (403) only when the decision denies; a hidden target passes (the
        caller then shows only what may be read)."""
        decision = self.decide(verb, target)
        if decision.outcome is Outcome.DENY:
            decision.enforce()

    def require_openly(self, verb: str, target: FileTarget) -> None:
        """Like `require`, for a target whose existence is no secret (the fixed trash
        directory): a refusal is a 403, never a 404."""
        decision = self.decide(verb, target)
        if decision.hidden:
            reason = f"no {decision.verb} permission on this {FILES_DOCTYPE} document"
            raise PermissionDenied(decision.verb, FILES_DOCTYPE, reason)
        decision.enforce()

    def holds_some(self, verb: str) -> bool:
        """Whether any rule of the principal grants `verb` on some file."""
        return self.decide(verb, _NOWHERE, visible=_NOWHERE).outcome is not Outcome.DENY

    def require_some(self, verb: str) -> None:
        """PermissionDenied (403) when no rule of the principal grants `verb` on any file."""
        decision = self.decide(verb, _NOWHERE, visible=_NOWHERE)
        if decision.outcome is Outcome.DENY:
            decision.enforce()

    def absent(self, verb: str) -> FileNotFound:
        """The answer for a file that does not exist: 404, unless no rule of the principal
        grants `verb` on files at all (403: there is nothing to hide)."""
        self.require_some(verb)
        return missing()

    async def target(self, doc: FileDoc) -> FileTarget:
        return await self.targets.for_doc(doc)

    async def load(self, file_id: str, verb: str = "GET") -> tuple[FileDoc, FileTarget]:
        """An existing file or directory the principal may `verb`, with its target."""
        doc = await self.vfs.get_or_none(self.instance, file_id)
        if doc is None:
            raise self.absent(verb)
        target = await self.target(doc)
        self.require(verb, target)
        return doc, target

    async def load_path(self, path: str, verb: str = "GET") -> tuple[FileDoc, FileTarget]:
        doc = await self.vfs.lookup_or_none(self.instance, path, targets=self.targets)
        if doc is None:
            raise self.absent(verb)
        target = await self.target(doc)
        self.require(verb, target)
        return doc, target
