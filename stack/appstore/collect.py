"""Collect: what the person sees of each connector, and what they do with it.

The view of a connector gathers, for one instance: what it may read, write and reach in
plain words (from its grant), its accounts and their form (``account_form``), its
schedule (``schedules``), its last runs with their outcome (``outcomes``) and the data each
brought, with links to where that data is shown. Actions: save or delete an account, and
"run now", which queues an ``app`` job exactly as a trigger does.

"Available" connectors come from a :class:`Catalogue`. Today the stack has none (no
registry yet), so :data:`NO_CATALOGUE` answers an empty list; the Store's registries fill
this seam by passing their own catalogue to :class:`Collect`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from roost.appstore.account_form import FormField, form_fields, read_account_form
from roost.appstore.connector_runs import ConnectorRun
from roost.appstore.outcomes import Outcome
from roost.appstore.schedules import Phrase, describe_schedule, event_folder_ids
from roost.appstore.service import APP_WORKER, AppService, InstalledApp
from roost.errors import BadRequest, NotFound
from roost.instances import Instance
from roost.jobs import QUEUED, RUNNING, JobDoc
from roost.permissions import FILES_DOCTYPE, PermissionSet
from roost.permissions.describe import plain_noun, plain_verbs
from roost.vfs import VFS

__all__ = [
    "NO_CATALOGUE",
    "Access",
    "AccountView",
    "Catalogue",
    "CatalogueEntry",
    "Collect",
    "ConnectorSummary",
    "ConnectorView",
    "DataLine",
    "RunView",
    "RunsSection",
    "access_of",
]

#: How each kind of data a run brought is counted in words, and where it is shown.
DATA_WORDS: Final[Mapping[str, tuple[str, str]]] = {
    "io.cozy.bank.operations": ("%(count)s bank operation", "%(count)s bank operations"),
    "io.cozy.bank.accounts": ("%(count)s bank account", "%(count)s bank accounts"),
    "io.cozy.bills": ("%(count)s bill", "%(count)s bills"),
    "io.cozy.contacts": ("%(count)s contact", "%(count)s contacts"),
    "io.cozy.calendar.events": ("%(count)s calendar event", "%(count)s calendar events"),
    FILES_DOCTYPE: ("%(count)s file", "%(count)s files"),
}
DATA_LINKS: Final[Mapping[str, str]] = {
    "io.cozy.bank.operations": "/banks",
    "io.cozy.bank.accounts": "/banks",
    "io.cozy.bills": "/banks",
    FILES_DOCTYPE: "/drive",
}
RUNS_SHOWN: Final = 10
#: An importer's account field naming the folder it keeps to; the manifest's field may give
#: a ``default`` (the folder used when no account names one).
FOLDER_FIELD: Final = "folder"


# -- the catalogue seam ------------------------------------------------------------------
@dataclass(frozen=True)
class CatalogueEntry:
    """A connector one may install: what the Store shows of it."""

    slug: str
    name: str
    description: tuple[str, ...] = ()
    link: str = "/store"


class Catalogue(Protocol):
    async def connectors(self, instance: Instance) -> Sequence[CatalogueEntry]:
        """The connectors available to install (installed ones may be listed too)."""
        ...


class _NoCatalogue:
    async def connectors(self, instance: Instance) -> Sequence[CatalogueEntry]:
        return ()


NO_CATALOGUE: Final[Catalogue] = _NoCatalogue()


# -- plain words for a grant -------------------------------------------------------------
@dataclass(frozen=True)
class Access:
    reads: tuple[str, ...]
    writes: tuple[Phrase, ...]
    reaches: tuple[str, ...]


def _host(pattern: str) -> str:
    host = pattern.split("://", 1)[-1].rstrip("/")
    if host.startswith("*."):
        return f"any address under {host[2:]}"
    return host


def access_of(grant: PermissionSet) -> Access:
    """What the connector may read, write (create, change, delete) and reach."""
    reads: list[str] = []
    writes: list[Phrase] = []
    for rule in grant.rules:
        noun = plain_noun(rule.type)
        words = plain_verbs(rule.verbs)
        if "read" in words and noun not in reads:
            reads.append(noun)
        changes = [w for w in words if w != "read"]
        if changes:
            verbs = ", ".join(changes[:-1]) + (" and " if len(changes) > 1 else "") + changes[-1]
            phrase = Phrase("%(verbs)s %(what)s", {"verbs": verbs.capitalize(), "what": noun})
            if phrase not in writes:
                writes.append(phrase)
    return Access(tuple(reads), tuple(writes), tuple(_host(p) for p in grant.egress))


# -- views -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DataLine:
    doctype: str
    count: int
    singular: str
    plural: str
    link: str | None
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunView:
    run: ConnectorRun
    data: tuple[DataLine, ...]

    @property
    def outcome(self) -> Outcome:
        return self.run.outcome


@dataclass(frozen=True)
class AccountView:
    id: str
    label: str
    #: The stored values shown back in the edit form: never a password.
    shown: Mapping[str, str]


@dataclass(frozen=True)
class ConnectorSummary:
    slug: str
    name: str
    accounts: int
    last_run: ConnectorRun | None
    schedule: tuple[Phrase, ...]


@dataclass(frozen=True)
class RunsSection:
    """The last runs alone (what the page asks again while a run is pending)."""

    runs: tuple[RunView, ...]
    pending: tuple[JobDoc, ...]

    @property
    def running(self) -> bool:
        return bool(self.pending)


@dataclass(frozen=True)
class ConnectorView:
    slug: str
    name: str
    version: str
    description: tuple[str, ...]
    access: Access
    schedule: tuple[Phrase, ...]
    fields: tuple[FormField, ...]
    accounts: tuple[AccountView, ...]
    runs: tuple[RunView, ...]
    pending: tuple[JobDoc, ...]
    #: An importer's folders (empty for a connector that signs in somewhere).
    watched: tuple[str, ...] = ()

    @property
    def running(self) -> bool:
        return bool(self.pending)


class Collect:
    def __init__(self, apps: AppService, vfs: VFS, catalogue: Catalogue = NO_CATALOGUE) -> None:
        self.apps = apps
        self.vfs = vfs
        self.catalogue = catalogue

    @property
    def _jobs(self) -> Any:
        if self.apps.jobs is None:
            raise NotFound("connectors do not run in this process")
        return self.apps.jobs

    async def connector(self, instance: Instance, slug: str) -> InstalledApp:
        """The installed connector ``slug`` (NotFound for an app or nothing)."""
        app = await self.apps.get_or_none(instance, slug)
        if app is None or app.type != "konnector":
            raise NotFound(f"no connector {slug!r} is installed")
        return app

    async def _watched(self, instance: Instance, app: InstalledApp) -> tuple[str, ...]:
        """The folders an importer keeps to: each account's ``folder``, and the manifest's
        default when an account names none (or there is no account: a run without one
        uses the default)."""
        spec = next((f for f in app.manifest.fields if f.name == FOLDER_FIELD), None)
        if spec is None:
            return ()
        default = spec.default
        folders: list[str] = []
        accounts = await self.apps.accounts.list(instance, app.slug)
        uses_default = not accounts
        for account in accounts:
            try:
                stored = await self.apps.accounts.credentials(instance, account["_id"], app.slug)
            except (NotFound, BadRequest):
                stored = {}
            chosen = stored.get(FOLDER_FIELD)
            if isinstance(chosen, str) and chosen.strip("/ "):
                folders.append("/" + chosen.strip().strip("/"))
            else:
                uses_default = True
        if uses_default and isinstance(default, str) and default.strip("/ "):
            folders.insert(0, "/" + default.strip().strip("/"))
        return tuple(dict.fromkeys(folders))

    async def _schedule(
        self, instance: Instance, app: InstalledApp, watched: tuple[str, ...] | None = None
    ) -> tuple[Phrase, ...]:
        slug = app.slug
        triggers = [
            t
            for t in await self._jobs.list_triggers(instance, worker=APP_WORKER)
            if isinstance(t.message, Mapping) and t.message.get("slug") == slug
        ]
        folders: dict[str, str] = {}
        for trigger in triggers:
            if trigger.type == "@event":
                for folder_id in event_folder_ids(trigger.arguments):
                    doc = await self.vfs.get_or_none(instance, folder_id)
                    if doc is not None and doc.path:
                        folders[folder_id] = doc.path
        if watched is None:
            watched = await self._watched(instance, app)
        return tuple(describe_schedule([(t.type, t.arguments) for t in triggers], folders, watched))

    async def installed(self, instance: Instance) -> list[ConnectorSummary]:
        apps = [a for a in await self.apps.list_installed(instance) if a.type == "konnector"]
        last = await self.apps.connector_runs.last_of_each(instance) if apps else {}
        return [
            ConnectorSummary(
                slug=app.slug,
                name=str(app.doc.get("name") or app.slug),
                accounts=len(await self.apps.accounts.list(instance, app.slug)),
                last_run=last.get(app.slug),
                schedule=await self._schedule(instance, app),
            )
            for app in apps
        ]

    async def available(self, instance: Instance) -> list[CatalogueEntry]:
        installed = {a.slug for a in await self.apps.list_installed(instance)}
        return [e for e in await self.catalogue.connectors(instance) if e.slug not in installed]

    async def pending(self, instance: Instance, slug: str) -> tuple[JobDoc, ...]:
        """The connector's jobs that are queued or running."""
        found: list[JobDoc] = []
        for state in (QUEUED, RUNNING):
            found += [
                job
                for job in await self._jobs.list_jobs(instance, worker=APP_WORKER, state=state)
                if job.message.get("slug") == slug
            ]
        return tuple(found)

    async def _data_lines(self, instance: Instance, run: ConnectorRun) -> tuple[DataLine, ...]:
        lines: list[DataLine] = []
        for doctype, counts in sorted(run.data.items()):
            count = int(counts.get("created", 0)) + int(counts.get("updated", 0))
            if count <= 0:
                continue
            link = DATA_LINKS.get(doctype)
            if doctype == FILES_DOCTYPE:
                ids = counts.get("ids") or []
                doc = await self.vfs.get_or_none(instance, str(ids[0])) if ids else None
                if doc is not None and doc.dir_id:
                    link = f"/drive/{doc.dir_id}"
            singular, plural = DATA_WORDS.get(
                doctype, ("%(count)s item of %(what)s", "%(count)s items of %(what)s")
            )
            lines.append(
                DataLine(doctype, count, singular, plural, link, {"what": plain_noun(doctype)})
            )
        return tuple(lines)

    async def runs(self, instance: Instance, slug: str) -> RunsSection:
        await self.connector(instance, slug)
        # Pending first: a run is on record before its job finishes, so a job that is no
        # longer pending here has its run in what is read next. Read the other way round, a
        # run that finished in between would be neither pending nor shown, and the page
        # would stop asking with the previous run on top.
        pending = await self.pending(instance, slug)
        runs = await self.apps.connector_runs.recent(instance, slug, RUNS_SHOWN)
        return RunsSection(
            runs=tuple([RunView(r, await self._data_lines(instance, r)) for r in runs]),
            pending=pending,
        )

    async def view(self, instance: Instance, slug: str) -> ConnectorView:
        app = await self.connector(instance, slug)
        manifest = app.manifest
        grant = await self.apps.grant(instance, app)
        accounts = []
        for account in await self.apps.accounts.list(instance, slug):
            shown: dict[str, str] = {}
            try:
                stored = await self.apps.accounts.credentials(instance, account["_id"], slug)
            except (NotFound, BadRequest):
                stored = {}
            for f in form_fields(manifest):
                if not f.secret and isinstance(stored.get(f.name), str):
                    shown[f.name] = stored[f.name]
            accounts.append(
                AccountView(str(account["_id"]), str(account.get("label") or app.slug), shown)
            )
        section = await self.runs(instance, slug)
        watched = await self._watched(instance, app)
        return ConnectorView(
            slug=slug,
            name=str(app.doc.get("name") or slug),
            version=app.version,
            description=tuple(manifest.description),
            access=access_of(grant),
            schedule=await self._schedule(instance, app, watched),
            fields=tuple(form_fields(manifest)),
            accounts=tuple(accounts),
            runs=section.runs,
            pending=section.pending,
            watched=watched,
        )

    # -- actions ----------------------------------------------------------------------
    async def save_account(
        self, instance: Instance, slug: str, form: Mapping[str, str], account_id: str | None
    ) -> dict[str, Any]:
        """Create (no ``account_id``) or edit an account from the posted form."""
        app = await self.connector(instance, slug)
        if account_id is None:
            read = read_account_form(app.manifest, form)
            return await self.apps.accounts.create(
                instance, slug, read.credentials, label=read.label
            )
        stored = await self.apps.accounts.credentials(instance, account_id, slug)
        read = read_account_form(app.manifest, form, stored=stored)
        return await self.apps.accounts.update(
            instance, slug, account_id, read.credentials, label=read.label
        )

    async def delete_account(self, instance: Instance, slug: str, account_id: str) -> None:
        await self.connector(instance, slug)
        await self.apps.accounts.delete(instance, slug, account_id)

    async def run_now(self, instance: Instance, slug: str, account_id: str | None) -> JobDoc:
        """Queue a run (of one account, or of the first when none is named)."""
        await self.connector(instance, slug)
        message: dict[str, Any] = {"slug": slug, "input": {}}
        if account_id:
            await self.apps.accounts.get(instance, slug, account_id)
            message["account"] = account_id
        job: JobDoc = await self._jobs.enqueue(instance, APP_WORKER, message)
        return job
