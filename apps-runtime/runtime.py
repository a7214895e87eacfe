"""``AppRuntime``: the one object the stack holds - engine, module cache, linker, limits, pool.

Typical use by the stack::

    runtime = AppRuntime(cache_dir=data_dir / "apps-cache", limits=OperatorLimits(...))
    prepared = await runtime.prepare(read_package(path))      # install: compiles (seconds)
    ...
    result = await runtime.run(prepared.wasm_sha256, input_json, app=slug, grant=grant,
                               services=services, budget=prepared.budget)  # never compiles
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import ctypes.util
import gc
import os
import threading
from dataclasses import dataclass

from roost.apps.budget import BudgetLike, OperatorLimits, RunBudget, effective_budget
from roost.apps.compiler import CompiledApp, ComponentCache
from roost.apps.engine import AppEngine, get_engine
from roost.apps.host import build_linker
from roost.apps.manifest import AppManifest
from roost.apps.package import AppPackage
from roost.apps.runner import RunResult, run_app
from roost.apps.services import Services
from roost.apps.slots import RunSlots
from roost.permissions import PermissionSet

__all__ = ["AppRuntime", "PreparedApp"]


@dataclass(frozen=True)
class PreparedApp:
    """A validated, compiled package, ready to be recorded as installed."""

    manifest: AppManifest
    compiled: CompiledApp
    budget: RunBudget
    grant: PermissionSet

    @property
    def wasm_sha256(self) -> str:
        return self.compiled.wasm_sha256


class AppRuntime:
    def __init__(
        self,
        cache_dir: str | os.PathLike[str],
        *,
        limits: OperatorLimits | None = None,
        engine: AppEngine | None = None,
        max_concurrency: int = 4,
        per_tenant_concurrency: int | None = None,
        max_abandoned: int = 32,
        release_after_seconds: float = 60.0,
        compile_memory_bytes: int = 2 * 1024**3,
    ) -> None:
        self.engine = engine or get_engine()
        self.engine.start()
        self.limits = limits or OperatorLimits()
        self.cache = ComponentCache(
            cache_dir, self.engine, compile_memory_bytes=compile_memory_bytes
        )
        self.linker = build_linker(self.engine)
        # Kept for compatibility; runs have their own threads (see runner.py).
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="roost-app"
        )
        self.slots = RunSlots(max_concurrency, per_tenant_concurrency)
        #: Runs left blocked past their deadline, by (tenant, app): while one is still
        #: blocked, that app may not start another (so a sleeping app parks one thread, not
        #: one per trigger tick), and at most ``max_abandoned`` are parked in all.
        self.abandoned: dict[tuple[str, str], asyncio.Future[RunResult]] = {}
        self.max_abandoned = max_abandoned
        self._compile_executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="roost-app-compile"
        )
        #: Components no run loaded for this long leave memory (0 keeps them).
        self.release_after_seconds = release_after_seconds
        self._closed = threading.Event()
        if release_after_seconds > 0:
            threading.Thread(
                target=self._release_idle_components, name="roost-apps-release", daemon=True
            ).start()

    def budget_for(self, requested: BudgetLike | None, compiled: CompiledApp) -> RunBudget:
        return effective_budget(requested, self.limits, python_guest=compiled.uses_wasi)

    def prepare_sync(self, package: AppPackage) -> PreparedApp:
        """Validate and compile (or reuse the ``.cwasm``). Blocking: seconds for Python apps."""
        compiled = self.cache.ensure(package.wasm)
        grant = package.manifest.grant()
        budget = self.budget_for(package.manifest.budget, compiled)
        return PreparedApp(package.manifest, compiled, budget, grant)

    async def prepare(self, package: AppPackage) -> PreparedApp:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._compile_executor, self.prepare_sync, package)

    async def ensure_compiled(self, wasm: bytes) -> CompiledApp:
        """At start-up: recompile an installed app whose artifact is missing or stale."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._compile_executor, self.cache.ensure, wasm)

    async def run(
        self,
        wasm_sha256: str,
        input_text: str,
        *,
        app: str,
        grant: PermissionSet,
        services: Services,
        budget: RunBudget | None = None,
        job_id: str | None = None,
        tenant: str = "",
    ) -> RunResult:
        """Run an installed app in a slot of ``tenant`` (the instance).

        Loads the ``.cwasm`` (raises ``NotCompiled``, never compiles).
        """
        comp = self.cache.load(wasm_sha256)
        if budget is None:
            budget = effective_budget(grant.budget, self.limits, python_guest=True)
        key = (tenant, app)
        self._forget_finished()
        if key in self.abandoned or len(self.abandoned) >= self.max_abandoned:
            return RunResult(
                ok=False,
                output=None,
                error="a previous run of this app is still blocked past its time limit",
                reason="time limit",
                fuel_used=0,
                wall_seconds=0.0,
            )

        def on_abandon(future: asyncio.Future[RunResult]) -> None:
            self.abandoned[key] = future

        async with self.slots.hold(tenant):
            return await run_app(
                comp,
                input_text,
                app=app,
                grant=grant,
                budget=budget,
                services=services,
                linker=self.linker,
                engine=self.engine,
                job_id=job_id,
                host_call_timeout=self.limits.max_host_call_seconds,
                on_abandon=on_abandon,
            )

    def _forget_finished(self) -> None:
        for key, future in list(self.abandoned.items()):
            if future.done():
                del self.abandoned[key]

    def _release_idle_components(self) -> None:
        period = min(15.0, self.release_after_seconds / 2)
        while not self._closed.wait(period):
            if self.cache.release_idle(self.release_after_seconds):
                # A component may also be held by garbage in a reference cycle (a run's
                # frames kept by an exception); at rest nothing allocates, so Python's
                # collector would not run by itself and the component would stay mapped.
                gc.collect()
                _return_free_heap()

    def close(self) -> None:
        self._closed.set()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self._compile_executor.shutdown(wait=False, cancel_futures=True)


def _return_free_heap() -> None:
    """Give the C heap's free pages back to the system (glibc keeps them otherwise).

    wasmtime frees a released component's tables with ``free``; without a trim the process
    stays as large as its busiest moment. A no-op where the C library has no ``malloc_trim``.
    """
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    if trim is not None:
        trim(0)
