"""Who hears about VFS writes: a list of callables told after each stored document.

The VFS calls them after every write of a file or directory document, whatever the path
(`/files`, WebDAV, copies, the apps' host calls), with the verb (`CREATED`, `UPDATED`,
`DELETED`) and the document as written. `roost.thumbnails.events` passes them on to the
`@event` triggers. A listener must return at once (queue work, never do it) and must not
fail the write that already happened: its errors are logged and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from roost.instances import Instance

log = logging.getLogger("roost.vfs")

FileListener = Callable[[Instance, str, Mapping[str, Any]], None]


class FileListeners(list[FileListener]):
    def announce(self, instance: Instance, verb: str, doc: Mapping[str, Any]) -> None:
        for listener in self:
            try:
                listener(instance, verb, doc)
            except Exception:
                log.exception("a file listener failed")

    def announce_written(self, instance: Instance, doc: Mapping[str, Any], created: bool) -> None:
        if doc.get("_deleted"):
            self.announce(instance, "DELETED", doc)
        else:
            self.announce(instance, "CREATED" if created else "UPDATED", doc)
