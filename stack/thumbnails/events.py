"""Every write of the VFS reaches the `@event` triggers of `io.cozy.files`.

Uploads through `/files`, WebDAV, copies and the apps' host calls all write through the
VFS, which calls its listeners after each document it stores; this listener passes them
to `JobService.notify_change`, as the data API and replication do for their writes. That
is how a picture arriving by any path gets its `thumbnail` job, and how an app's
`@event io.cozy.files:…` trigger sees files too.

Before the first picture or video of an instance is announced by this process, the
instance's thumbnail trigger is made sure of, so that first event is never lost.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping
from typing import Any

from roost.errors import RoostError
from roost.instances import Instance
from roost.jobs import JobService
from roost.thumbnails.service import ThumbnailService
from roost.vfs import FILES_DOCTYPE

log = logging.getLogger("roost.thumbnails")

_WATCHED_CLASSES = frozenset({"image", "video"})


class FileEvents:
    """A VFS listener: `vfs.listeners.append(FileEvents(jobs, thumbnails))`."""

    def __init__(self, jobs: JobService, thumbnails: ThumbnailService) -> None:
        self.jobs = jobs
        self.thumbnails = thumbnails
        self._pending: set[asyncio.Task[None]] = set()

    def __call__(self, instance: Instance, verb: str, doc: Mapping[str, Any]) -> None:
        if self.thumbnails.trigger_ready(instance) or doc.get("class") not in _WATCHED_CLASSES:
            self.jobs.notify_change(instance, FILES_DOCTYPE, verb, doc)
            return
        snapshot = copy.deepcopy(dict(doc))
        task = asyncio.get_running_loop().create_task(self._first(instance, verb, snapshot))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _first(self, instance: Instance, verb: str, doc: Mapping[str, Any]) -> None:
        try:
            await self.thumbnails.ensure_trigger(instance)
        except RoostError as error:
            log.warning(
                "thumbnail trigger not made",
                extra={"fields": {"domain": instance.domain, "error": error.reason}},
            )
        self.jobs.notify_change(instance, FILES_DOCTYPE, verb, doc)

    async def flush(self) -> None:
        """Wait for the announcements started so far (tests)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
