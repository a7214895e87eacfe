"""Install, upgrade, uninstall and run the apps of an instance.

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
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from roost.access_log import AccessLog
from roost.apps.budget import OperatorLimits, effective_budget
from roost.apps.egress import EgressFetcher, EgressPolicy
from roost.apps.manifest import AppManifest, ManifestError, parse_manifest
from roost.apps.package import AppPackage, PackageError, read_package
from roost.apps.runner import RunResult
from roost.apps.runtime import AppRuntime, PreparedApp
from roost.apps.services import Services as AppServices
from roost.appstore.accounts import AccountVault
from roost.appstore.adapters import (
    CouchDataService,
    InstanceAccessLog,
    InstanceNotifier,
    InstanceOutbox,
    VfsFileService,
)
from roost.appstore.connector_runs import ConnectorRuns
from roost.appstore.installer import AppInstaller
from roost.appstore.outcomes import outcome_for, outcome_of_run
from roost.appstore.run_data import data_brought
from roost.appstore.runs import describe_run, guest_value, job_result, safe_text
from roost.config import Config
from roost.couch import CouchClient
from roost.documents import DocumentService
from roost.errors import BadRequest, Forbidden, NotFound, RoostError
from roost.instances import Instance
from roost.jobs import JobService
from roost.jobs.runner import FinalFailure
from roost.notifications import Notifications
from roost.outbox import Outbox
from roost.permission_docs import PermissionDocs
from roost.permissions import PermissionSet
from roost.tokens import TokenService
from roost.types import JSONDoc
from roost.vfs import VFS

__all__ = ["APP_WORKER", "AppService", "ConsentRequired", "InstalledApp", "describe_run"]

APPS_DOCTYPE = "io.cozy.apps"
KONNECTORS_DOCTYPE = "io.cozy.konnectors"
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


def job_input(message: Mapping[str, Any]) -> Any:
    """A copy of a job's input; an `@event` run is also told which document changed (an
    importer reads that file): ``{..., "event": {"doctype", "verb", "doc"}}``."""
    given = message.get("input", {})
    event = message.get("event")
    if isinstance(given, Mapping):
        copy = dict(given)
        if isinstance(event, Mapping):
            copy["event"] = dict(event)
        return copy
    return given


def app_doc_id(manifest_type: str, slug: str) -> str:
    doctype = KONNECTORS_DOCTYPE if manifest_type == "konnector" else APPS_DOCTYPE
    return f"{doctype}/{slug}"


class AppService:
    def __init__(
        self,
        config: Config,
        couch: CouchClient,
        documents: DocumentService,
        vfs: VFS,
        permission_docs: PermissionDocs,
        tokens: TokenService,
        access_log: AccessLog,
    ) -> None:
        self.config = config
        self.couch = couch
        self.documents = documents
        self.vfs = vfs
        self.permission_docs = permission_docs
        self.tokens = tokens
        self.access_log = access_log
        self.accounts = AccountVault(couch)
        self.connector_runs = ConnectorRuns(couch)
        self.jobs: JobService | None = None
        #: The person's outbox, where apps of world 0.2.0 propose egress (set by Services).
        self.outbox: Outbox | None = None
        # Apps' `notify` goes through the one notifications service (e-mail included).
        self.notifications = Notifications(couch)
        self._runtime: AppRuntime | None = None
        self.root = config.data_dir / "apps"
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
        self.egress = EgressFetcher(
            EgressPolicy(
                allow_private_hosts=frozenset(h.lower() for h in config.egress_allow_private)
            )
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
        """Register the ``app`` worker with the job service (called when the stack starts)."""
        self.jobs = jobs
        jobs.register_worker(
            APP_WORKER,
            self.run_job,
            concurrency=max(1, self.config.apps_concurrency),
            timeout_seconds=self.config.apps_max_wall_seconds + 30,
            max_attempts=3,
            per_instance=self.per_instance_concurrency,
        )

    def attach_notifications(self, notifications: Notifications) -> None:
        """Apps' ``notify`` and a connector's failing runs are told to the person through
        ``notifications`` (the one service, e-mail included)."""
        self.notifications = notifications
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

    async def tell_proposer(self, instance: Instance, proposal: JSONDoc) -> None:
        """Queue a run of the app whose outbox proposal was decided: its input is
        ``{"outbox": {"id", "state"}}``, and the app reads the answer with ``outbox.get``."""
        slug = str(proposal.get("app", ""))
        if self.jobs is None or await self.get_or_none(instance, slug) is None:
            return
        message = {
            "slug": slug,
            "input": {"outbox": {"id": proposal["_id"], "state": proposal.get("state")}},
        }
        await self.jobs.enqueue(instance, APP_WORKER, message)

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

    async def consent_lines(self, manifest: AppManifest) -> list[str]:
        return manifest.describe()

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

    # -- running ------------------------------------------------------
    def services_for(self, instance: Instance) -> AppServices:
        on_change: Callable[[Instance, str, str, JSONDoc], Awaitable[None]] | None = None
        jobs = self.jobs
        if jobs is not None:

            async def on_change(inst: Instance, doctype: str, verb: str, doc: JSONDoc) -> None:
                assert jobs is not None
                jobs.notify_change(inst, doctype, verb, doc)  # queues in the background

        return AppServices(
            data=CouchDataService(self.documents, instance, on_change),
            files=VfsFileService(self.vfs, instance),
            http=self.egress,
            notifier=InstanceNotifier(self.notifications, instance),
            outbox=InstanceOutbox(self.outbox, instance) if self.outbox is not None else None,
            access_log=InstanceAccessLog(self.access_log, instance),
        )

    async def run(
        self,
        instance: Instance,
        slug: str,
        input_value: Any,
        *,
        job_id: str | None = None,
        account_id: str | None = None,
    ) -> RunResult:
        """Run an installed app. ``input_value`` is any JSON value (an object for connectors)."""
        app = await self.get(instance, slug)
        if app.doc.get("state") != "ready":
            raise Forbidden(f"{slug} is not ready to run")
        grant = await self.grant(instance, app)
        if app.type == "konnector":
            if input_value is None:
                input_value = {}
            if not isinstance(input_value, dict):
                raise BadRequest("a connector's input is a JSON object")
            account_id = account_id or input_value.pop("account", None)
            if account_id is None:
                accounts = await self.accounts.list(instance, slug)
                account_id = accounts[0]["_id"] if accounts else None
            if account_id is not None:
                input_value["credentials"] = await self.accounts.credentials(
                    instance, str(account_id), slug
                )
        requested = grant.budget if grant.budget is not None else app.manifest.budget
        budget = effective_budget(
            requested, self.limits, python_guest=bool(app.doc.get("uses_wasi", True))
        )
        runtime = self.runtime
        if not runtime.cache.has(app.wasm_sha256):
            # Installed by another process, or the engine changed: compile off the request path
            # is the start-up hook's job; here we refuse rather than compile mid-request.
            raise Forbidden(f"{slug} is not compiled on this server yet: restart or reinstall")
        return await runtime.run(
            app.wasm_sha256,
            json.dumps(input_value),
            app=slug,
            grant=grant,
            services=self.services_for(instance),
            budget=budget,
            job_id=job_id,
            tenant=instance.domain,
        )

    async def run_job(self, instance: Instance, job: Any) -> dict[str, Any]:
        """The ``app`` worker: message ``{"slug", "input", "account"?, "event"?}``."""
        message: Mapping[str, Any] = getattr(job, "message", None) or {}
        slug = str(message.get("slug", ""))
        app = await self.get_or_none(instance, slug)
        if app is not None and app.type == "konnector":
            return await self._connector_job(instance, app, job, message)
        result = await self.run(
            instance,
            slug,
            job_input(message),
            job_id=getattr(job, "id", None),
            account_id=message.get("account"),
        )
        await self._log_run(instance, job, result)
        return job_result(slug, result)

    async def _log_run(self, instance: Instance, job: Any, result: RunResult) -> None:
        if self.jobs is not None and getattr(job, "id", None):
            lines = [f"[{line.level}] {line.message}" for line in result.log]
            lines.append(
                f"[run] {'ok' if result.ok else result.reason}: fuel {result.fuel_used}, "
                f"{result.wall_seconds * 1000:.1f} ms"
                + (f"; budget hit: {', '.join(result.marks)}" if result.marks else "")
            )
            await self.jobs.append_log(instance, job.id, [safe_text(line) for line in lines])

    async def _connector_job(
        self, instance: Instance, app: InstalledApp, job: Any, message: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A connector's run as a job, kept for Collect (outcome in plain words, the data it
        brought) - a failure another attempt would repeat is not retried."""
        account = message.get("account")
        run_facts: dict[str, Any] = {
            "slug": app.slug,
            "name": str(app.doc.get("name") or app.slug),
            "started_at": datetime.now(UTC).isoformat(),
            "account_id": account if isinstance(account, str) else None,
            "job_id": getattr(job, "id", None),
            "attempt": int(getattr(job, "attempts", 1) or 1),
            "manual": getattr(job, "trigger_id", None) is None,
        }
        if not run_facts["manual"]:
            last = await self.connector_runs.recent(instance, app.slug, 1)
            if last and last[0].outcome.waits_for_person:
                why = f"not run: waiting for the person ({last[0].outcome.english()})"
                if self.jobs is not None and run_facts["job_id"]:
                    await self.jobs.append_log(instance, run_facts["job_id"], [why])
                return {"slug": app.slug, "skipped": why}
        try:
            result = await self.run(
                instance,
                app.slug,
                # A copy: the run adds the account's plain credentials to its input.
                job_input(message),
                job_id=run_facts["job_id"],
                account_id=run_facts["account_id"],
            )
        except RoostError as exc:
            outcome = outcome_for("CANNOT_START")
            await self.connector_runs.record(
                instance, outcome=outcome, message=exc.reason, **run_facts
            )
            raise FinalFailure(f"{outcome.code}: {exc.reason}") from None
        outcome = outcome_of_run(result)
        data = data_brought(result.host_calls)
        reported = guest_value(result.error)
        said = reported.get("message") if isinstance(reported, dict) else reported
        await self._log_run(instance, job, result)
        await self.connector_runs.record(
            instance, outcome=outcome, message=str(said or ""), data=data, **run_facts
        )
        if not result.ok and outcome.final and not result.hit_budget:
            raise FinalFailure(safe_text(f"{outcome.code}: {said or result.reason}")[:2000])
        answer = job_result(app.slug, result)
        answer.update(outcome=outcome.to_json(), data=data)
        return answer
