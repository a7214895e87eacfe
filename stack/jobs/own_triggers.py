"""Triggers the stack keeps on every instance for its own workers (thumbnails, Banks…).

Each has a fixed id, so two processes creating it at once make one (the second gets
Conflict); each process checks an instance once, then remembers it. A trigger an older Roost
made with other arguments (or debounce) is made again with this one's.
"""

from __future__ import annotations

import asyncio

from roost.errors import Conflict, NotFound
from roost.instances import Instance
from roost.jobs.service import JobService


class OwnTrigger:
    def __init__(
        self,
        jobs: JobService,
        trigger_id: str,
        type: str,
        arguments: str,
        worker: str,
        *,
        debounce: str | None = None,
    ) -> None:
        self.jobs = jobs
        self.trigger_id = trigger_id
        self.type = type
        self.arguments = arguments
        self.worker = worker
        self.debounce = debounce
        self._ready: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    def ready(self, instance: Instance) -> bool:
        """Whether this process already made sure `instance` has the trigger."""
        return instance.domain in self._ready

    async def ensure(self, instance: Instance) -> None:
        """Make sure the instance has the trigger (checked once per process)."""
        if instance.domain in self._ready:
            return
        lock = self._locks.setdefault(instance.domain, asyncio.Lock())
        async with lock:
            if instance.domain in self._ready:
                return
            try:
                found = await self.jobs.get_trigger(instance, self.trigger_id)
            except NotFound:
                found = None
            if found is not None and (found.arguments, found.debounce) != (
                self.arguments,
                self.debounce,
            ):
                try:
                    await self.jobs.delete_trigger(instance, self.trigger_id)
                except NotFound:
                    pass  # another process replaced it first
                found = None
            if found is None:
                try:
                    await self.jobs.create_trigger(
                        instance,
                        self.type,
                        self.arguments,
                        self.worker,
                        trigger_id=self.trigger_id,
                        debounce=self.debounce,
                    )
                except Conflict:
                    pass  # another process made it first
            self._ready.add(instance.domain)
