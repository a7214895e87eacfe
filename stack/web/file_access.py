"""Who may do what to which file, for the `/files` handlers of one request.

Every decision goes through `roost.permissions.check` with the `FileTarget` the VFS builds
(ancestors included, so a grant on a folder covers its subtree). One rule hides what one
may not see: a file the principal may not read answers 404 exactly like a missing one; a
file it may read but not change answers 403; a principal with no rule at all for the verb
on `io.cozy.files` gets 403 at once (nothing to hide there).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from roost.instances import Instance
from roost.permissions import FILES_DOCTYPE, FileTarget, PermissionDenied, check
from roost.principals import Principal
from roost.services import Services
from roost.vfs import VFS, FileDoc, FileNotFound, FileTargets
from roost.web.context import instance_of, principal_of, services_of


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

    def may_touch(self, verb: str) -> None:
        """403 when no rule of the principal grants `verb` on any file at all."""
        if not self.principal.permissions.allows_some(verb, FILES_DOCTYPE):
            raise PermissionDenied(verb, FILES_DOCTYPE, f"no {verb} permission on {FILES_DOCTYPE}")

    def can_read(self, target: FileTarget) -> bool:
        return self.principal.permissions.allows("GET", FILES_DOCTYPE, target)

    def require(self, verb: str, target: FileTarget, *, visible: FileTarget | None = None) -> None:
        """`check` `verb` on `target`; a refusal is a 404 when `visible` (default: `target`,
        for a new file its parent) may not be read either."""
        try:
            check(self.principal.permissions, verb, FILES_DOCTYPE, target)
        except PermissionDenied:
            if not self.can_read(visible or target):
                raise missing() from None
            raise

    async def target(self, doc: FileDoc) -> FileTarget:
        return await self.targets.for_doc(doc)

    async def load(self, file_id: str, verb: str = "GET") -> tuple[FileDoc, FileTarget]:
        """An existing file or directory the principal may `verb`, with its target."""
        self.may_touch(verb)
        doc = await self.vfs.get_or_none(self.instance, file_id)
        if doc is None:
            raise missing()
        target = await self.target(doc)
        self.require(verb, target)
        return doc, target

    async def load_path(self, path: str, verb: str = "GET") -> tuple[FileDoc, FileTarget]:
        self.may_touch(verb)
        doc = await self.vfs.lookup_or_none(self.instance, path, targets=self.targets)
        if doc is None:
            raise missing()
        target = await self.target(doc)
        self.require(verb, target)
        return doc, target
