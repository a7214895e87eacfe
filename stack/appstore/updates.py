"""The daily look for updates: the ``store-updates`` worker and its trigger.

Each instance has one trigger (``@every 24h``, id ``store-updates``), made for every instance
at start-up and for a new one when its Store is first opened or an app is installed from it.
The job compares the installed apps with the trusted registries and raises one notification
(category ``update``, linking to the app's page in the Store) per new version; which versions
were announced is kept in the instance's ``io.roost.store`` database (document ``updates``), so
a version is announced once.
Installing is left to the person: an update that asks for more needs their consent.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Any, Final

from roost.appstore.catalogue import Catalogue, catalogue_for
from roost.errors import Conflict, NotFound, RoostError
from roost.instances import Instance
from roost.jobs import JobDoc, JobService
from roost.notifications import Words

if TYPE_CHECKING:
    from roost.appstore.service import AppService
    from roost.services import Services

__all__ = ["STORE_DOCTYPE", "TRIGGER_ID", "WORKER", "StoreUpdates", "store_updates"]

log = logging.getLogger("roost.appstore")

WORKER: Final = "store-updates"
TRIGGER_ID: Final = "store-updates"
EVERY: Final = "24h"
STORE_DOCTYPE: Final = "io.roost.store"
STATE_ID: Final = "updates"


class StoreUpdates:
    def __init__(self, services: Services, catalogue: Catalogue | None = None) -> None:
        self.services = services
        self._catalogue = catalogue
        self.jobs: JobService | None = None
        self._ready: set[str] = set()
        self._lock = asyncio.Lock()

    def attach(self, jobs: JobService) -> None:
        """Run the worker in this job service (a process without one makes no trigger)."""
        self.jobs = jobs
        jobs.register_worker(
            WORKER, self.run_job, concurrency=1, timeout_seconds=300, max_attempts=2
        )

    async def ensure_trigger(self, instance: Instance) -> None:
        """Make sure the instance has its daily trigger (checked once per process)."""
        if instance.domain in self._ready:
            return
        jobs = self.jobs
        if jobs is None:
            return  # a process that runs no jobs (the CLI) makes no trigger
        async with self._lock:
            try:
                await jobs.get_trigger(instance, TRIGGER_ID)
            except NotFound:
                try:
                    await jobs.create_trigger(
                        instance, "@every", EVERY, WORKER, trigger_id=TRIGGER_ID
                    )
                except Conflict:
                    pass  # another process made it first
            self._ready.add(instance.domain)

    async def ensure_all(self) -> int:
        """At start-up: give every instance its trigger, so updates are looked for even where
        the Store was never opened. An instance that cannot be reached now is left for its
        next visit to the Store."""
        if self.jobs is None:
            return 0
        try:
            instances = await self.services.instances.list()
        except RoostError as error:
            log.warning("cannot list instances", extra={"fields": {"error": error.reason}})
            return 0
        limit = asyncio.Semaphore(8)

        async def ensure(instance: Instance) -> bool:
            async with limit:
                try:
                    await self.ensure_trigger(instance)
                except RoostError as error:
                    log.warning(
                        "no update trigger",
                        extra={"fields": {"instance": instance.domain, "error": error.reason}},
                    )
                    return False
                return True

        return sum(await asyncio.gather(*(ensure(i) for i in instances)))

    async def run_job(self, instance: Instance, job: JobDoc) -> dict[str, Any]:
        return {"announced": await self.check(instance)}

    async def check(self, instance: Instance) -> list[dict[str, str]]:
        """Announce each update not announced yet; returns what was announced."""
        catalogue = self._catalogue or catalogue_for(self.services.apps)
        couch = self.services.couch
        db = instance.db(STORE_DOCTYPE)
        state = await couch.get_doc_or_none(db, STATE_ID) or {"_id": STATE_ID, "announced": {}}
        held = state.get("announced")
        # Kept by the stack, but a store's document may have been edited: start over then.
        announced: dict[str, str] = dict(held) if isinstance(held, dict) else {}
        out: list[dict[str, str]] = []
        for item in await catalogue.updates(instance):
            if announced.get(item.slug) == item.entry.version:
                continue
            assert item.installed is not None
            await self.services.notifications.create(
                instance,
                source="stack",
                category="update",
                title=Words(
                    "%(name)s %(version)s is available",
                    {"name": item.manifest.name, "version": item.entry.version},
                ),
                message=Words(
                    "You have version %(version)s. Open the Store to see what changes and to "
                    "update.",
                    {"version": item.installed.version},
                ),
                link=item.path,
            )
            announced[item.slug] = item.entry.version
            out.append({"slug": item.slug, "version": item.entry.version, "link": item.path})
        if out:
            state["announced"] = announced
            await couch.put_doc(db, state)
        return out


# Keyed by the AppService (Services, a dataclass, is not hashable): one per process's services.
_updates: weakref.WeakKeyDictionary[AppService, StoreUpdates] = weakref.WeakKeyDictionary()


def store_updates(services: Services) -> StoreUpdates:
    """The process's StoreUpdates (it remembers which triggers exist)."""
    held = _updates.get(services.apps)
    if held is None:
        held = _updates[services.apps] = StoreUpdates(services)
    return held
