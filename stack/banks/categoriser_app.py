"""The categoriser: a sandboxed service app every instance has (`categorise-operations`).

The model (examples/apps/sdk/roost_categoriser.py) runs in WebAssembly, holding only its
grant (read operations, write their automatic category, its own progress document), like
any app; the stack's part is to make sure each instance has it installed — the person never
installs it. It is installed from the built example (`examples/apps/categorise-operations`,
made by `examples/apps/build.sh`), and installed again when that build changes. Without a
build, Roost says so once in its log and operations stay uncategorised until there is one.

The install runs in the background (compiling the component may take a while, and a page
that asked for it must not wait), and is followed by one run of the app, which catches up
with the operations that arrived before its trigger existed.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Final, Protocol

from roost.apps.compiler import sha256_hex
from roost.apps.package import AppPackage, PackageError, read_package
from roost.appstore.service import APP_WORKER
from roost.instances import Instance

log = logging.getLogger("roost.banks")

SLUG: Final = "categorise-operations"


def default_package_dir() -> Path:
    """The built app in the source tree this Roost runs from."""
    return Path(__file__).resolve().parents[2] / "examples" / "apps" / SLUG


class AppInstalls(Protocol):
    """What the categoriser needs of `roost.appstore.AppService`."""

    async def get_or_none(self, instance: Instance, slug: str) -> Any: ...

    async def install(self, instance: Instance, package: AppPackage, *, consent: bool) -> Any: ...


class JobQueue(Protocol):
    """What the categoriser needs of `roost.jobs.JobService`."""

    async def enqueue(
        self, instance: Instance, worker: str, message: dict[str, Any] | None = None
    ) -> Any: ...


class CategoriserApp:
    def __init__(
        self, apps: AppInstalls, jobs: JobQueue | None = None, package_dir: Path | None = None
    ) -> None:
        self.apps = apps
        self.jobs = jobs
        self.package_dir = package_dir or default_package_dir()
        #: The built wasm's digest: the package itself (18 MB of wasm) is read again when an
        #: instance needs the install, never kept in memory between installs.
        self._digest: str | None = None
        self._missing_told = False
        self._ready: set[str] = set()
        self._installs: dict[str, asyncio.Task[None]] = {}

    def _read(self) -> AppPackage | None:
        try:
            package = read_package(self.package_dir)
        except (PackageError, OSError) as error:
            if not self._missing_told:
                self._missing_told = True
                log.warning(
                    "the categoriser app is not built: operations stay uncategorised "
                    "(run examples/apps/build.sh)",
                    extra={"fields": {"error": str(error)[:200]}},
                )
            return None
        self._digest = sha256_hex(package.wasm)
        return package

    def _built_digest(self) -> str | None:
        if self._digest is None:
            self._read()
        return self._digest

    async def ensure(self, instance: Instance) -> None:
        """Make sure `instance` has the categoriser (checked once per process); returns at
        once, the install going on in the background (`settle` waits for it)."""
        if instance.domain in self._ready:
            return
        running = self._installs.get(instance.domain)
        if running is not None and not running.done():
            return
        task = asyncio.get_running_loop().create_task(self._install(instance))
        self._installs[instance.domain] = task

    async def _install(self, instance: Instance) -> None:
        try:
            digest = await asyncio.to_thread(self._built_digest)  # reads some MB of wasm once
            if digest is None:
                return
            installed = await self.apps.get_or_none(instance, SLUG)
            if installed is None or installed.wasm_sha256 != digest:
                package = await asyncio.to_thread(self._read)
                if package is None:
                    return
                # The stack's own app with a grant the person's data needs for Banks to
                # categorise: consented for them, as the Banks trigger is made for them.
                await self.apps.install(instance, package, consent=True)
                if self.jobs is not None:
                    # Operations that arrived before its trigger: one run catches up.
                    await self.jobs.enqueue(instance, APP_WORKER, {"slug": SLUG, "input": {}})
            self._ready.add(instance.domain)
        except Exception:  # tried again at the next `ensure`
            log.exception("the categoriser app was not installed", extra={"fields": {}})

    async def settle(self) -> None:
        """Wait for the installs started so far (tests, shutdown)."""
        while any(not task.done() for task in self._installs.values()):
            await asyncio.gather(*self._installs.values(), return_exceptions=True)

    async def aclose(self) -> None:
        for task in self._installs.values():
            task.cancel()
        await asyncio.gather(*self._installs.values(), return_exceptions=True)
