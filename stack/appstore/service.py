"""Install, upgrade and uninstall the apps of an instance, and read what is installed.

Installed state lives in the instance's databases, so several stack processes on one CouchDB
share it: the app document (``io.cozy.apps/{slug}`` in ``io.cozy.apps``, or
``io.cozy.konnectors/{slug}`` in ``io.cozy.konnectors``), its permission document
(``io.cozy.permissions``, kind ``app``/``konnector``, ``source_id`` = the app document id) and
its triggers. Bytes live on disk, shared by content: ``$ROOST_DATA/apps/wasm/{sha256}.wasm``
and ``$ROOST_DATA/apps/ui/{sha256}/...``; compiled artifacts in ``$ROOST_DATA/cache/apps``.

Consent: a first install, and an upgrade whose grant is not a subset of the installed one,
raise :class:`ConsentRequired` unless ``consent=True`` (the person accepted the consent page
or passed ``--yes``). Uninstall deletes the permission document (revoking every token of
the app), the triggers, the accounts of a connector and the app document.

Running an installed app is :class:`roost.appstore.app_runs.AppRunner`'s.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from roost.apps.budget import FUEL_PER_CPU_SECOND, OperatorLimits, effective_budget
from roost.apps.compiler import CompilerFailed
from roost.apps.manifest import AppManifest, ManifestError, parse_manifest
from roost.apps.package import AppPackage, PackageError, read_package
from roost.apps.runtime import AppRuntime, PreparedApp
from roost.appstore.accounts import AccountVault
from roost.appstore.connector_runs import ConnectorRuns
from roost.appstore.installer import AppInstaller
from roost.appstore.pending_installs import PendingInstalls
from roost.config import Config
from roost.couch import CouchClient
from roost.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable
from roost.instances import Instance
from roost.jobs import JobService
from roost.notifications import Notifications
from roost.permission_docs import PermissionDocs
from roost.permissions import PermissionSet
from roost.tokens import TokenService
from roost.types import JSONDoc

log = logging.getLogger(__name__)

__all__ = ["APP_WORKER", "AppService", "ConsentRequired", "InstalledApp"]

APPS_DOCTYPE = "io.cozy.apps"
KONNECTORS_DOCTYPE = "io.cozy.konnectors"
#: The job worker of installed apps: their triggers name it, `AppRunner` registers it.
APP_WORKER = "app"
UI_TOKEN_TTL = timedelta(hours=12)


class ConsentRequired(Forbidden):
    """Installing (or this upgrade) needs the person's consent to these permissions."""

    error = "consent_required"

    def __init__(self, manifest: AppManifest, lines: list[str], *, upgrade: bool) -> None:
        what = "This upgrade asks for more than" if upgrade else "Installing needs consent to"
        super().__init__(f"{what} the permissions of {manifest.slug}: " + "; ".join(lines))
        self.manifest = manifest
        self.lines = lines
        self.upgrade = upgrade


@dataclass(frozen=True)
class InstalledApp:
    doc: JSONDoc

    @property
    def slug(self) -> str:
        return str(self.doc["slug"])

    @property
    def type(self) -> str:
        return str(self.doc["type"])

    @property
    def version(self) -> str:
        return str(self.doc["version"])

    @property
    def wasm_sha256(self) -> str:
        return str(self.doc["wasm_sha256"])

    @property
    def permission_id(self) -> str:
        return str(self.doc["permissions_id"])

    @property
    def manifest(self) -> AppManifest:
        return parse_manifest(self.doc["manifest"])

    @property
    def doctype(self) -> str:
        return KONNECTORS_DOCTYPE if self.type == "konnector" else APPS_DOCTYPE

    def to_json(self) -> dict[str, Any]:
        keys = (
            "slug",
            "name",
            "version",
            "type",
            "state",
            "installed_at",
            "updated_at",
            "wasm_sha256",
            "permissions_id",
            "budget",
            "has_ui",
        )
        out = {k: self.doc.get(k) for k in keys}
        out["id"] = self.doc["_id"]
        out["description"] = self.doc.get("manifest", {}).get("description", [])
        out["permissions"] = self.doc.get("manifest", {}).get("permissions", {})
        out["egress"] = self.doc.get("manifest", {}).get("egress", [])
        out["triggers"] = self.doc.get("manifest", {}).get("triggers", [])
        return out


def app_doc_id(manifest_type: str, slug: str) -> str:
    doctype = KONNECTORS_DOCTYPE if manifest_type == "konnector" else APPS_DOCTYPE
    return f"{doctype}/{slug}"


class AppService:
    def __init__(
        self,
        config: Config,
        couch: CouchClient,
        permission_docs: PermissionDocs,
        tokens: TokenService,
    ) -> None:
        self.config = config
        self.couch = couch
        self.permission_docs = permission_docs
        self.tokens = tokens
        self.accounts = AccountVault(couch)
        self.connector_runs = ConnectorRuns(couch)
        #: Where installed apps' triggers live (set by Services; the ``app`` worker that
        #: runs them is :class:`roost.appstore.app_runs.AppRunner`).
        self.jobs: JobService | None = None
        self._runtime: AppRuntime | None = None
        self.root = config.data_dir / "apps"
        #: Packages sent to `/apps/install` waiting for consent, and the Store's.
        self.pending_installs = PendingInstalls(self.root / "staging")
        self.pending_store_installs = PendingInstalls(self.root / "store-staging")
        self.limits = OperatorLimits(
            max_fuel=config.apps_max_fuel,
            max_memory_mib=config.apps_max_memory_mib,
            max_wall_seconds=config.apps_max_wall_seconds,
            default_fuel=min(OperatorLimits().default_fuel, config.apps_max_fuel),
            default_memory_mib=min(OperatorLimits().default_memory_mib, config.apps_max_memory_mib),
            default_wall_seconds=min(
                OperatorLimits().default_wall_seconds, config.apps_max_wall_seconds
            ),
            max_host_calls=config.apps_max_host_calls,
            max_host_bytes=config.apps_max_host_bytes,
            default_host_calls=min(OperatorLimits().default_host_calls, config.apps_max_host_calls),
            default_host_bytes=min(OperatorLimits().default_host_bytes, config.apps_max_host_bytes),
            max_output_bytes=config.apps_max_output_bytes,
        )

    # -- plumbing ------------------------------------------------------
    @property
    def runtime(self) -> AppRuntime:
        """Created on first use: a process that never runs apps pays nothing."""
        if self._runtime is None:
            self._runtime = AppRuntime(
                self.config.cache_dir / "apps",
                limits=self.limits,
                max_concurrency=max(1, self.config.apps_concurrency),
                per_tenant_concurrency=self.per_instance_concurrency,
                release_after_seconds=self.config.apps_release_after_seconds,
                compile_memory_bytes=self.config.apps_compile_memory_mib * 1024 * 1024,
            )
        return self._runtime

    @property
    def per_instance_concurrency(self) -> int:
        """Slots one instance's apps may hold: never all of them when there are several."""
        total = max(1, self.config.apps_concurrency)
        asked = self.config.apps_per_instance_concurrency
        return max(1, min(asked, total) if asked > 0 else total - 1)

    def wasm_path(self, sha256: str) -> Path:
        return self.root / "wasm" / f"{sha256}.wasm"

    def ui_dir(self, sha256: str) -> Path:
        return self.root / "ui" / sha256

    def attach_jobs(self, jobs: JobService) -> None:
        """Installed apps' triggers are written to ``jobs`` (called when the stack starts)."""
        self.jobs = jobs

    def attach_notifications(self, notifications: Notifications) -> None:
        """A connector's failing runs are told to the person through ``notifications``
        (the one service, e-mail included)."""
        self.connector_runs.notifications = notifications

    async def ensure_compiled(self) -> int:
        """At start-up: (re)compile every stored wasm whose artifact is missing or stale."""
        count = 0
        for path in sorted((self.root / "wasm").glob("*.wasm")):
            data = await asyncio.to_thread(path.read_bytes)
            compiled = await self.runtime.ensure_compiled(data)
            count += 0 if compiled.cached else 1
        return count

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()

    # -- reading ------------------------------------------------------
    async def get_or_none(self, instance: Instance, slug: str) -> InstalledApp | None:
        for doctype in (APPS_DOCTYPE, KONNECTORS_DOCTYPE):
            doc = await self.couch.get_doc_or_none(instance.db(doctype), f"{doctype}/{slug}")
            if doc is not None:
                return InstalledApp(doc)
        return None

    async def get(self, instance: Instance, slug: str) -> InstalledApp:
        app = await self.get_or_none(instance, slug)
        if app is None:
            raise NotFound(f"no app {slug!r} is installed")
        return app

    async def list_installed(self, instance: Instance) -> list[InstalledApp]:
        out: list[InstalledApp] = []
        for doctype in (APPS_DOCTYPE, KONNECTORS_DOCTYPE):
            result = await self.couch.all_docs(instance.db(doctype), params={"include_docs": True})
            out += [
                InstalledApp(row["doc"])
                for row in result.get("rows", [])
                if row.get("doc") and not str(row["id"]).startswith("_design/")
            ]
        return sorted(out, key=lambda a: a.slug)

    async def grant(self, instance: Instance, app: InstalledApp) -> PermissionSet:
        grant = await self.permission_docs.load_set(instance, app.permission_id)
        if grant is None:
            raise Forbidden(f"the permissions of {app.slug} have been revoked")
        return grant

    async def current_grant(self, instance: Instance, slug: str) -> PermissionSet | None:
        """The grant of installed app `slug`, or None (not installed, or revoked)."""
        app = await self.get_or_none(instance, slug)
        if app is None:
            return None
        return await self.permission_docs.load_set(instance, app.permission_id)

    # -- install ------------------------------------------------------
    async def read(self, source: str | os.PathLike[str] | bytes) -> AppPackage:
        """The package, its manifest checked whole (triggers with the jobs grammar), so a
        package that could never install is refused before the consent page."""
        try:
            package = await asyncio.to_thread(read_package, source)
        except (PackageError, ManifestError) as exc:
            raise BadRequest(str(exc)) from None
        AppInstaller.check_manifest(package.manifest)
        return package

    async def prepare(self, package: AppPackage) -> PreparedApp:
        """Validate and compile (seconds for a Python app; once per wasm and engine)."""
        try:
            return await self.runtime.prepare(package)
        except ValueError as exc:  # CompileError, BudgetError, InvalidRule
            raise BadRequest(str(exc)) from None
        except CompilerFailed as exc:  # the server's trouble (memory), not the package's
            log.error("compiling %s failed: %s", package.manifest.slug, exc)
            raise ServiceUnavailable(
                "the server could not compile the app now; try again later"
            ) from None

    async def consent_lines(self, manifest: AppManifest) -> list[str]:
        return manifest.describe()

    def consent_limits(self, manifest: AppManifest) -> dict[str, Any]:
        """What a consent page shows beside the permissions: the hosts the app may reach,
        its triggers, and the budget one of its runs gets on this server."""
        budget = effective_budget(manifest.budget, self.limits, python_guest=True)
        return {
            "egress": list(manifest.egress),
            "triggers": [str(t) for t in manifest.triggers],
            "budget": {
                "cpu_seconds": round(budget.fuel / FUEL_PER_CPU_SECOND, 2),
                "memory_mib": int(budget.memory_mib),
                "wall_seconds": budget.wall_seconds,
            },
        }

    async def install(
        self, instance: Instance, package: AppPackage, *, consent: bool
    ) -> InstalledApp:
        """Install or upgrade, all or nothing (`roost.appstore.installer`). Without
        ``consent``, refuses anything needing it."""
        return await AppInstaller(self).install(instance, package, consent=consent)

    async def _delete_triggers(self, instance: Instance, slug: str) -> None:
        if self.jobs is None:
            return
        for trigger in await self.jobs.list_triggers(instance, worker=APP_WORKER):
            message = getattr(trigger, "message", None) or {}
            if message.get("slug") == slug:
                await self.jobs.delete_trigger(instance, trigger.id)

    async def uninstall(self, instance: Instance, slug: str) -> None:
        app = await self.get(instance, slug)
        await self._delete_triggers(instance, slug)
        try:
            await self.permission_docs.delete(instance, app.permission_id)
        except NotFound:
            pass
        for perm in await self.permission_docs.find_by_source(instance, app.doc["_id"]):
            try:
                await self.permission_docs.delete(instance, perm["_id"])
            except NotFound:
                pass
        if app.type == "konnector":
            await self.accounts.delete_all(instance, slug)
            await self.connector_runs.delete_all(instance, slug)
        await self.couch.delete_doc(instance.db(app.doctype), app.doc["_id"], app.doc["_rev"])

    # -- tokens for app UIs ------------------------------------------------------
    def ui_token(self, instance: Instance, app: InstalledApp) -> str:
        audience = "konn" if app.type == "konnector" else "app"
        return self.tokens.sign(
            instance,
            audience=audience,
            subject=app.slug,
            permission_id=app.permission_id,
            ttl=UI_TOKEN_TTL,
        )
