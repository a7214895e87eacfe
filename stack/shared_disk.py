"""Stacks that share a CouchDB must share the file bytes too: a start-up check.

With `blob_store = "local"`, a file's bytes are on the disk of the stack that received
them. Two stacks on one CouchDB with separate data directories list each other's files
(the documents are shared) but answer 404 for their bytes. Nothing can make that work
short of a shared disk or `blob_store = "s3"`, so each stack says so at start-up:

- every files directory carries a random identity (`.roost-disk-id`, made once), the
  same for every stack that mounts the same disk;
- each stack records its disk's identity, host and path in the `roost-stacks` database
  when it starts, and reads the others': a different disk seen within `RECENT` gives a
  warning naming it.

With `blob_store = "s3"` the check is skipped: every stack reads the same object store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from roost.config import Config
from roost.couch import CouchClient
from roost.errors import Conflict, RoostError

log = logging.getLogger("roost.fleet")

MARKER: Final = ".roost-disk-id"
DATABASE: Final = "roost-stacks"
#: A disk last seen longer ago than this is taken for one that left the fleet.
RECENT: Final = timedelta(days=2)
_ATTEMPTS: Final = 3


def disk_identity(files_dir: Path) -> str:
    """The identity of the disk holding `files_dir` (made on first use, then kept)."""
    files_dir.mkdir(parents=True, exist_ok=True)
    marker = files_dir / MARKER
    candidate = secrets.token_hex(8)
    with contextlib.suppress(FileExistsError):
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w") as out:
            out.write(candidate)
    return marker.read_text().strip() or candidate


async def separate_disks(config: Config, couch: CouchClient, *, now: datetime) -> list[str]:
    """Record this stack's disk and describe the other disks in use, one line each."""
    if config.blob_store != "local":
        return []
    identity = disk_identity(config.files_dir)
    database = f"{config.db_prefix}{DATABASE}"
    await couch.ensure_db(database)
    record = {
        "host": socket.gethostname(),
        "files_dir": str(config.files_dir),
        "last_seen": now.isoformat(),
    }
    for _ in range(_ATTEMPTS):
        previous = await couch.get_doc_or_none(database, f"disk-{identity}")
        doc = {"_id": f"disk-{identity}", **record}
        if previous is not None:
            doc["_rev"] = previous["_rev"]
        try:
            await couch.put_doc(database, doc)
            break
        except Conflict:
            continue  # another stack on the same disk recorded it at the same moment
    listed = await couch.all_docs(database, params={"include_docs": True})
    others = []
    for row in listed["rows"]:
        other = row.get("doc") or {}
        if other.get("_id") == f"disk-{identity}" or not str(other.get("_id")).startswith("disk-"):
            continue
        try:
            seen = datetime.fromisoformat(str(other.get("last_seen")))
        except ValueError:
            continue
        if now - seen > RECENT:
            continue
        others.append(
            f"another stack keeps file bytes on a separate disk ({other.get('host')}:"
            f"{other.get('files_dir')}, seen {seen.astimezone(UTC):%Y-%m-%d %H:%M} UTC): "
            'with blob_store = "local" each serves only the files it received; '
            'share the files directory or use blob_store = "s3" (docs/scaling.md)'
        )
    return others


async def warn_about_separate_disks(config: Config, couch: CouchClient) -> list[str]:
    """`separate_disks`, logged as warnings; a store that does not answer skips the check."""
    try:
        warnings = await separate_disks(config, couch, now=datetime.now(UTC))
    except (RoostError, OSError) as error:
        log.warning("could not check which disks the other stacks use: %s", error)
        return []
    for warning in warnings:
        log.warning("%s", warning)
    return warnings
