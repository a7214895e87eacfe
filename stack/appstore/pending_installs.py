"""Packages waiting for the person's consent.

When an install needs consent, the package's bytes (and, from the Store, what was verified
about them) wait here under a random token until the consent page is accepted; the page
then names only the token. One folder per instance; anything older than an hour is swept
whenever the folder is used. Packages are up to 128 MiB, so every disk access leaves the
event loop.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from roost.errors import NotFound
from roost.instances import Instance

__all__ = ["MAX_AGE_SECONDS", "PendingInstall", "PendingInstalls"]

MAX_AGE_SECONDS: Final = 3600


@dataclass(frozen=True)
class PendingInstall:
    data: bytes
    #: What the stager recorded beside the bytes (empty when it recorded nothing).
    record: Mapping[str, Any] = field(default_factory=dict)


class PendingInstalls:
    def __init__(self, root: Path, *, max_age_seconds: float = MAX_AGE_SECONDS) -> None:
        self.root = root
        self.max_age_seconds = max_age_seconds

    async def put(
        self, instance: Instance, data: bytes, record: Mapping[str, Any] | None = None
    ) -> str:
        """Keep `data` (and `record`) for `instance`; the token that names them."""
        token = secrets.token_hex(16)
        await asyncio.to_thread(self._write, instance, token, data, record)
        return token

    async def get(
        self, instance: Instance, token: str, *, recorded: bool = False
    ) -> PendingInstall:
        """The package `token` names; `NotFound` when there is none (a bad token, accepted
        already, or swept). With `recorded`, its record must be there too."""
        return await asyncio.to_thread(self._read, instance, token, recorded)

    async def discard(self, instance: Instance, token: str) -> None:
        await asyncio.to_thread(self._remove, instance, token)

    def _folder(self, instance: Instance) -> Path:
        folder = self.root / instance.domain
        folder.mkdir(parents=True, exist_ok=True)
        now = time.time()
        for old in folder.iterdir():
            try:
                if now - old.stat().st_mtime > self.max_age_seconds:
                    old.unlink()
            except OSError:
                pass  # swept meanwhile by another request or process
        return folder

    @staticmethod
    def check_token(token: str) -> None:
        """`NotFound` unless `token` could name a pending install (what `put` hands out)."""
        if not token.isalnum() or len(token) > 64:
            raise NotFound("no such pending install")

    def _write(
        self, instance: Instance, token: str, data: bytes, record: Mapping[str, Any] | None
    ) -> None:
        folder = self._folder(instance)
        (folder / f"{token}.tar.gz").write_bytes(data)
        if record is not None:
            (folder / f"{token}.json").write_text(json.dumps(dict(record)))

    def _read(self, instance: Instance, token: str, recorded: bool) -> PendingInstall:
        self.check_token(token)
        folder = self._folder(instance)
        gone = NotFound("no such pending install (it may have been accepted already)")
        try:
            record_path = folder / f"{token}.json"
            record: Any = {}
            if recorded or record_path.exists():
                record = json.loads(record_path.read_text())
            data = (folder / f"{token}.tar.gz").read_bytes()
        except (OSError, ValueError):
            raise gone from None
        if not isinstance(record, dict):
            raise gone
        return PendingInstall(data, record)

    def _remove(self, instance: Instance, token: str) -> None:
        self.check_token(token)
        folder = self._folder(instance)
        for suffix in (".tar.gz", ".json"):
            (folder / f"{token}{suffix}").unlink(missing_ok=True)
