"""Install or upgrade an app all or nothing.

Everything that can be judged before writing is judged first: the manifest's triggers (with
the jobs grammar, `roost.jobs.trigger_problem`, the one the jobs API uses), the app type,
consent, and the compilation of the wasm. Then the installed state changes in four writes:

1. the permission document (created, or its grant replaced),
2. the app document (created, or replaced),
3. the app's old triggers deleted,
4. its new triggers created.

When one fails, the writes already done are undone in reverse order, so the previous state is
back: what was created is deleted, what was replaced or deleted is written back with its
former content under its own id (a trigger keeps its id, schedule and webhook URL). CouchDB
cannot take a revision back, so restored documents carry a new `_rev`; their content is the
former one. The wasm and UI bytes written before step 1 are content-addressed files that no
document refers to until step 2; a failed install leaves at most such an unreferenced file.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from roost.apps.atomic_files import write_atomic
from roost.apps.manifest import AppManifest, ManifestError, check_triggers
from roost.apps.package import AppPackage
from roost.apps.runtime import PreparedApp
from roost.errors import BadRequest
from roost.instances import Instance
from roost.jobs import TriggerDoc, trigger_problem
from roost.permissions import PermissionSet
from roost.types import JSONDoc

if TYPE_CHECKING:
    from roost.appstore.service import AppService, InstalledApp

__all__ = ["AppInstaller"]

Undo = Callable[[], Awaitable[None]]


@dataclass
class _Plan:
    """What an install is about to write, all of it validated."""

    instance: Instance
    package: AppPackage
    manifest: AppManifest
    grant: PermissionSet
    prepared: PreparedApp
    existing: InstalledApp | None
    undo: list[Undo] = field(default_factory=list)


class AppInstaller:
    """The install and upgrade steps of `AppService`; each step a method, so that a test can
    make one fail (a subclass) and see everything come back."""

    def __init__(self, apps: AppService) -> None:
        self.apps = apps

    async def install(
        self, instance: Instance, package: AppPackage, *, consent: bool
    ) -> InstalledApp:
        from roost.appstore.service import ConsentRequired

        manifest = package.manifest
        self.check_manifest(manifest)
        existing = await self.apps.get_or_none(instance, manifest.slug)
        if existing is not None and existing.type != manifest.type:
            raise BadRequest(f"{manifest.slug} is installed as a {existing.type}")
        grant = manifest.grant()
        if not consent:
            if existing is None:
                raise ConsentRequired(manifest, manifest.describe(), upgrade=False)
            old_grant = await self.apps.permission_docs.load_set(instance, existing.permission_id)
            if old_grant is None or not grant.is_subset_of(old_grant):
                raise ConsentRequired(manifest, manifest.describe(), upgrade=True)
        prepared = await self.apps.prepare(package)
        await self.store_bytes(package, prepared)
        plan = _Plan(instance, package, manifest, grant, prepared, existing)
        try:
            permission_id = await self.write_permissions(plan)
            app = await self.write_app_doc(plan, permission_id)
            await self.delete_old_triggers(plan)
            await self.create_triggers(plan, app)
        except BaseException:
            await self._undo(plan)
            raise
        return app

    @staticmethod
    def check_manifest(manifest: AppManifest) -> None:
        """What parsing alone leaves to the stack: triggers, judged by the jobs grammar."""
        problems = check_triggers(manifest.triggers, trigger_problem)
        if problems:
            raise BadRequest(str(ManifestError(problems)))

    async def store_bytes(self, package: AppPackage, prepared: PreparedApp) -> None:
        sha = prepared.wasm_sha256
        if not self.apps.wasm_path(sha).is_file():
            await asyncio.to_thread(write_atomic, self.apps.wasm_path(sha), package.wasm)
        for rel, data in package.ui.items():
            target = self.apps.ui_dir(sha) / rel
            if not target.is_file():
                await asyncio.to_thread(write_atomic, target, data)

    # -- the four writes, each registering its undo ------------------------------------

    async def write_permissions(self, plan: _Plan) -> str:
        from roost.appstore.service import app_doc_id

        docs = self.apps.permission_docs
        instance, existing = plan.instance, plan.existing
        previous = (
            await docs.get(instance, existing.permission_id) if existing is not None else None
        )
        if previous is not None:
            former = dict(previous)
            updated = {
                **former,
                "permissions": plan.grant.to_json(),
                "updated_at": datetime.now(UTC).isoformat(),
            }
            await docs.update(instance, updated)

            async def restore_grant() -> None:
                await docs.update(instance, {**former, "_rev": updated["_rev"]})

            plan.undo.append(restore_grant)
            return str(updated["_id"])
        kind = "konnector" if plan.manifest.is_konnector else "app"
        source_id = app_doc_id(plan.manifest.type, plan.manifest.slug)
        created = await docs.create(instance, kind, plan.grant, source_id=source_id)

        async def delete_grant() -> None:
            await docs.delete(instance, created["_id"])

        plan.undo.append(delete_grant)
        return str(created["_id"])

    async def write_app_doc(self, plan: _Plan, permission_id: str) -> InstalledApp:
        from roost.appstore.service import InstalledApp, app_doc_id

        manifest, prepared, existing = plan.manifest, plan.prepared, plan.existing
        now = datetime.now(UTC).isoformat()
        former: JSONDoc | None = dict(existing.doc) if existing is not None else None
        doc: JSONDoc = dict(former) if former is not None else {}
        doc.update(
            _id=app_doc_id(manifest.type, manifest.slug),
            slug=manifest.slug,
            name=manifest.name,
            version=manifest.version,
            type=manifest.type,
            state="ready",
            manifest=manifest.to_json(),
            wasm_sha256=prepared.wasm_sha256,
            permissions_id=permission_id,
            budget={
                "fuel": prepared.budget.fuel,
                "memory_mib": prepared.budget.memory_mib,
                "wall_seconds": prepared.budget.wall_seconds,
            },
            uses_wasi=prepared.compiled.uses_wasi,
            has_ui=bool(plan.package.ui),
            updated_at=now,
        )
        doc.setdefault("installed_at", now)
        couch, db = self.apps.couch, plan.instance.db(manifest.doctype)
        await couch.put_doc(db, doc)

        async def restore_app_doc() -> None:
            if former is None:
                await couch.delete_doc(db, doc["_id"], doc["_rev"])
            else:
                await couch.put_doc(db, {**former, "_rev": doc["_rev"]})

        plan.undo.append(restore_app_doc)
        return InstalledApp(doc)

    async def delete_old_triggers(self, plan: _Plan) -> None:
        jobs = self.apps.jobs
        if jobs is None:
            return
        for trigger in await self.apps_triggers(plan.instance, plan.manifest.slug):
            await jobs.delete_trigger(plan.instance, trigger.id)

            async def restore(trigger: TriggerDoc = trigger) -> None:
                assert jobs is not None
                await jobs.restore_trigger(plan.instance, trigger)

            plan.undo.append(restore)

    async def create_triggers(self, plan: _Plan, app: InstalledApp) -> None:
        from roost.appstore.service import APP_WORKER

        jobs = self.apps.jobs
        if jobs is None:
            return
        for spec in plan.manifest.triggers:
            created = await jobs.create_trigger(
                plan.instance,
                type=spec.type,
                arguments=spec.arguments,
                worker=APP_WORKER,
                message={"slug": app.slug, "input": {}},
                debounce=spec.debounce,
            )

            async def delete(trigger_id: str = created.id) -> None:
                assert jobs is not None
                await jobs.delete_trigger(plan.instance, trigger_id)

            plan.undo.append(delete)

    async def apps_triggers(self, instance: Instance, slug: str) -> list[TriggerDoc]:
        """The triggers an install of `slug` created."""
        from roost.appstore.service import APP_WORKER

        jobs = self.apps.jobs
        if jobs is None:
            return []
        triggers = await jobs.list_triggers(instance, worker=APP_WORKER)
        return [t for t in triggers if _message_slug(t.message) == slug]

    async def _undo(self, plan: _Plan) -> None:
        # Best effort in reverse order: one undo failing (the store went away) must not
        # keep the others from running; the original error is what the caller sees.
        for undo in reversed(plan.undo):
            with contextlib.suppress(Exception):
                await undo()
        plan.undo.clear()


def _message_slug(message: Any) -> str | None:
    return message.get("slug") if isinstance(message, dict) else None
