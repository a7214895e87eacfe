"""Running the installed apps of an instance.

One run: the app must be installed, ready and compiled on this server; its grant is read
from its permission document (so a revoked app stops at once), a connector's input gets
its account's plain credentials, and the budget is the grant's (or the manifest's) within
the operator's limits. The guest's host calls reach the instance through the adapters of
:mod:`roost.appstore.adapters` (data, files, egress, notifications, the outbox, the access
log). :class:`AppRunner` is also the ``app`` job worker, and keeps a connector's runs as
Collect shows them (outcome in plain words, the data it brought).

What is installed, and installing it, is :class:`roost.appstore.service.AppService`'s.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from roost.access_log import AccessLog
from roost.apps.budget import effective_budget
from roost.apps.egress import EgressFetcher, EgressPolicy
from roost.apps.runner import RunResult
from roost.apps.services import Services as AppServices
from roost.appstore.adapters import (
    CouchDataService,
    InstanceAccessLog,
    InstanceNotifier,
    InstanceOutbox,
    VfsFileService,
)
from roost.appstore.outcomes import outcome_for, outcome_of_run
from roost.appstore.run_data import data_brought
from roost.appstore.runs import guest_value, job_result, safe_text
from roost.appstore.service import APP_WORKER, AppService, InstalledApp
from roost.documents import DocumentService
from roost.errors import BadRequest, Forbidden, RoostError
from roost.instances import Instance
from roost.jobs import JobService
from roost.jobs.runner import FinalFailure
from roost.notifications import Notifications
from roost.outbox import Outbox
from roost.types import JSONDoc
from roost.vfs import VFS

__all__ = ["AppRunner", "job_input"]


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


class AppRunner:
    def __init__(
        self,
        apps: AppService,
        documents: DocumentService,
        vfs: VFS,
        access_log: AccessLog,
        notifications: Notifications,
    ) -> None:
        self.apps = apps
        self.documents = documents
        self.vfs = vfs
        self.access_log = access_log
        # Apps' `notify` goes through the one notifications service (e-mail included).
        self.notifications = notifications
        self.jobs: JobService | None = None
        #: The person's outbox, where apps of world 0.2.0 propose egress (set by Services).
        self.outbox: Outbox | None = None
        config = apps.config
        self.egress = EgressFetcher(
            EgressPolicy(
                allow_private_hosts=frozenset(h.lower() for h in config.egress_allow_private)
            )
        )

    def attach_jobs(self, jobs: JobService) -> None:
        """Register the ``app`` worker with the job service (called when the stack starts)."""
        self.jobs = jobs
        config = self.apps.config
        jobs.register_worker(
            APP_WORKER,
            self.run_job,
            concurrency=max(1, config.apps_concurrency),
            timeout_seconds=config.apps_max_wall_seconds + 30,
            max_attempts=3,
            per_instance=self.apps.per_instance_concurrency,
        )

    async def tell_proposer(self, instance: Instance, proposal: JSONDoc) -> None:
        """Queue a run of the app whose outbox proposal was decided: its input is
        ``{"outbox": {"id", "state"}}``, and the app reads the answer with ``outbox.get``."""
        slug = str(proposal.get("app", ""))
        if self.jobs is None or await self.apps.get_or_none(instance, slug) is None:
            return
        message = {
            "slug": slug,
            "input": {"outbox": {"id": proposal["_id"], "state": proposal.get("state")}},
        }
        await self.jobs.enqueue(instance, APP_WORKER, message)

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
        apps = self.apps
        app = await apps.get(instance, slug)
        if app.doc.get("state") != "ready":
            raise Forbidden(f"{slug} is not ready to run")
        grant = await apps.grant(instance, app)
        if app.type == "konnector":
            if input_value is None:
                input_value = {}
            if not isinstance(input_value, dict):
                raise BadRequest("a connector's input is a JSON object")
            account_id = account_id or input_value.pop("account", None)
            if account_id is None:
                accounts = await apps.accounts.list(instance, slug)
                account_id = accounts[0]["_id"] if accounts else None
            if account_id is not None:
                input_value["credentials"] = await apps.accounts.credentials(
                    instance, str(account_id), slug
                )
        requested = grant.budget if grant.budget is not None else app.manifest.budget
        budget = effective_budget(
            requested, apps.limits, python_guest=bool(app.doc.get("uses_wasi", True))
        )
        runtime = apps.runtime
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
        app = await self.apps.get_or_none(instance, slug)
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
        connector_runs = self.apps.connector_runs
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
            last = await connector_runs.recent(instance, app.slug, 1)
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
            await connector_runs.record(instance, outcome=outcome, message=exc.reason, **run_facts)
            raise FinalFailure(f"{outcome.code}: {exc.reason}") from None
        outcome = outcome_of_run(result)
        data = data_brought(result.host_calls)
        reported = guest_value(result.error)
        said = reported.get("message") if isinstance(reported, dict) else reported
        await self._log_run(instance, job, result)
        await connector_runs.record(
            instance, outcome=outcome, message=str(said or ""), data=data, **run_facts
        )
        if not result.ok and outcome.final and not result.hit_budget:
            raise FinalFailure(safe_text(f"{outcome.code}: {said or result.reason}")[:2000])
        answer = job_result(app.slug, result)
        answer.update(outcome=outcome.to_json(), data=data)
        return answer
